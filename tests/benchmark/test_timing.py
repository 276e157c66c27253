"""Times measured in worker processes reach pytest-benchmark's statistics unchanged."""

from benchmark.timing import median, record_times


class FakeBenchmark:
    """Just what ``record_times`` uses of pytest-benchmark's fixture: ``_timer`` and ``pedantic``."""

    def __init__(self):
        self._timer = None
        self.rounds = []

    def pedantic(self, function, rounds, iterations, warmup_rounds):
        assert (iterations, warmup_rounds) == (1, 0)
        for _ in range(rounds):  # as pytest-benchmark times a round: timer before and after the call
            start = self._timer()
            function()
            self.rounds.append(self._timer() - start)


def test_each_round_reads_exactly_one_measured_time():
    benchmark = FakeBenchmark()
    record_times(benchmark, [0.5, 0.25, 2.0])
    assert benchmark.rounds == [0.5, 0.25, 2.0]


def test_median_of_odd_and_even_counts():
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
