"""Prometheus metrics of one server, in a registry of its own (served at GET /metrics on the HTTP port).

Histograms: request latency (by protocol: "grpc" and "http" for the v1 API, "grpc_v2" and "http_v2"
for the Open Inference Protocol), time spent queued, samples per batch.
Counters: requests by protocol and status code, errors, requests expired or cancelled before
being computed, requests refused because the queue was full, batches and samples computed,
failed version loads. Gauges: the served version and the queue depth.
"""

from matrixslow.extras import needs_extra

with needs_extra("serving", __name__):
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
    from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)

# The counters ModelStatus reports, by the key it reports them under.
STATUS_COUNTERS = {
    "requests": "serving_requests_total",
    "errors": "serving_errors_total",
    "expired": "serving_requests_expired_total",
    "cancelled": "serving_requests_cancelled_total",
    "rejected_queue_full": "serving_requests_rejected_total",
    "batches": "serving_batches_total",
    "samples_computed": "serving_samples_computed_total",
    "load_failures": "serving_model_load_failures_total",
}


class Metrics:
    """The server's metrics; every method is safe to call from any thread."""

    def __init__(self):
        self.registry = CollectorRegistry()
        registry = self.registry
        self.request_latency = Histogram(
            "serving_request_latency_seconds",
            "Time from receiving a Predict request to answering it.",
            ["protocol"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.queue_time = Histogram(
            "serving_queue_seconds",
            "Time a request waited in the queue before its batch was computed.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.batch_size = Histogram(
            "serving_batch_size", "Samples per computed batch.", buckets=BATCH_SIZE_BUCKETS, registry=registry
        )
        self.requests = Counter(
            "serving_requests", "Predict requests answered, by status code.", ["protocol", "code"], registry=registry
        )
        self.errors = Counter(
            "serving_errors", "Predict requests answered with an error.", ["protocol", "code"], registry=registry
        )
        self.expired = Counter(
            "serving_requests_expired",
            "Requests whose deadline passed before computing; never computed.",
            [],
            registry=registry,
        )
        self.cancelled = Counter(
            "serving_requests_cancelled",
            "Requests the client cancelled before computing; never computed.",
            [],
            registry=registry,
        )
        self.rejected = Counter(
            "serving_requests_rejected", "Requests refused at once because the queue was full.", [], registry=registry
        )
        self.batches = Counter("serving_batches", "Batched forward passes computed.", [], registry=registry)
        self.samples = Counter("serving_samples_computed", "Samples computed.", [], registry=registry)
        self.load_failures = Counter(
            "serving_model_load_failures", "Model versions that failed to load.", [], registry=registry
        )
        self.model_version = Gauge("serving_model_version", "The model version being served.", registry=registry)
        self.queue_depth = Gauge("serving_queue_depth", "Requests queued and not yet computing.", registry=registry)

    def record_request(self, protocol, code_name, seconds):
        self.request_latency.labels(protocol).observe(seconds)
        self.requests.labels(protocol, code_name).inc()
        if code_name != "OK":
            self.errors.labels(protocol, code_name).inc()

    def counters(self):
        """The STATUS_COUNTERS as ints, summed over labels."""
        totals = dict.fromkeys(STATUS_COUNTERS, 0)
        by_sample = {sample: key for key, sample in STATUS_COUNTERS.items()}
        for family in self.registry.collect():
            for sample in family.samples:
                key = by_sample.get(sample.name)
                if key is not None:
                    totals[key] += int(sample.value)
        return totals

    def exposition(self):
        """(body bytes, content type) of the Prometheus text format."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
