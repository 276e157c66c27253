"""What one parameter-server shard holds: the variables, the pending step sums, the averaged results.

Pure Python and NumPy, no gRPC: ``server.py`` turns the exceptions below into gRPC status codes.

Synchronous mode
    Every worker pushes the gradient *sums* of its step together with the number of samples behind
    them (the optimizer's ``acc_no``). When the last of ``num_workers`` pushes for step ``s`` arrives,
    the mean ``sum of sums / sum of counts`` is fixed, so every worker pulls the same, exact,
    sample-weighted mean. A result is dropped once every worker has pulled it.
Asynchronous mode
    Each push is applied on arrival (``value -= learning_rate * sums / count``) and bumps the server
    step. A push carries the server step the worker computed against; a push more than
    ``max_staleness`` steps behind is *rejected* (not made to wait: waiting would let one slow worker
    hold a server thread), and the worker pulls fresh values and tries again.
Runs
    A job started again against the same shard begins a new run, which starts clean (see ``runs``);
    with a ``deadline`` a silent worker ends its run and every live worker is told who it was.
    A worker whose variables or gradients disagree with the run's (another graph) ends it at once,
    and every worker is told the variable, the shapes and who registered them.
"""

import threading
import time

import numpy as np

from .dtypes import dtype_name
from .runs import RunRefusal, Runs

SYNC = "sync"
ASYNC = "async"


class ParameterServerError(Exception):
    """Base class of the errors a shard reports back to a worker."""


class VariableMismatchError(ParameterServerError, ValueError):
    """A worker's variable names, shapes or dtypes disagree with the server's."""


class NotReadyError(ParameterServerError):
    """The request needs a state the server is not in (no Init yet, wrong mode, step already dropped)."""


def describe(array):
    """``"(2, 3) float64"``: how errors show a shape and dtype."""
    return f"{tuple(array.shape)} {array.dtype.name}"


class ParameterState:
    """Variables and step bookkeeping of one shard; every method is thread-safe.

    Parameters
    ----------
    num_workers : int
        Workers that push every step (synchronous mode waits for all of them).
    mode : {"sync", "async"}
    learning_rate : float, optional
        Synchronous mode: if given, the server also applies plain SGD with the mean, so VALUES pulls
        follow training. Asynchronous mode: required, it is how pushes are applied.
    max_staleness : int, optional
        Asynchronous mode only: reject pushes computed more than this many server steps ago.
    deadline : float, optional
        Seconds a worker of the live run may stay silent before the run is over (``check_deadline``).
    clock : callable
        Monotonic seconds, for the deadline.
    """

    def __init__(
        self, num_workers, mode=SYNC, learning_rate=None, max_staleness=None, deadline=None, clock=time.monotonic
    ):
        if num_workers < 1:
            raise ValueError(f"num_workers={num_workers} must be at least 1")
        if mode not in (SYNC, ASYNC):
            raise ValueError(f"mode={mode!r} must be {SYNC!r} or {ASYNC!r}")
        if mode == ASYNC and learning_rate is None:
            raise ValueError("asynchronous mode applies pushes on arrival and needs a learning_rate")
        if max_staleness is not None and (mode != ASYNC or max_staleness < 0):
            raise ValueError(f"max_staleness={max_staleness} needs mode='async' and a value >= 0")
        self.num_workers = num_workers
        self.mode = mode
        self.learning_rate = learning_rate
        self.max_staleness = max_staleness
        self.runs = Runs(num_workers, deadline, clock)
        self._changed = threading.Condition()
        self._start_run(None)

    def _start_run(self, variables):
        """Take ``variables`` as the values (None: none yet) and forget every step: a new run starts clean."""
        self._values = (
            None if variables is None else {name: np.array(value, copy=True) for name, value in variables.items()}
        )
        self._add_locks = {name: threading.Lock() for name in self._values or ()}  # held while adding into pending sums
        self._step = 0  # updates applied so far (the server version)
        self._last_pushed = {}  # worker -> last step it pushed (synchronous mode)
        # step -> {"sums", "unwritten" (names no push has written yet), "count", "workers", and the "locks",
        # "dtypes" and "run" number the step was opened with}
        self._pending = {}
        self._done = {}  # step -> {"mean", "count", "pulled"}
        self._last_completed = -1

    # ----- Init -------------------------------------------------------------------------------

    def init(self, worker, variables, session=0, join_only=False):
        """Register ``variables``; the Init that begins a run sets them, later ones get the server's copies.

        Parameters
        ----------
        worker : int
        variables : dict of name -> numpy.ndarray
        session : int
            The worker process's number (see ``runs``); 0 when the caller does not say.
        join_only : bool
            Join the live run only; refuse rather than begin a new one with these values.

        Returns
        -------
        (dict of name -> numpy.ndarray, int)
            The values every worker starts from and the server step.
        """
        self._check_worker(worker)
        with self._changed:
            if self._values is not None and self.runs.joins(worker, session):
                self._check_matches_or_fail_run(worker, variables, what="variables")
            try:
                begins = self.runs.on_init(worker, session, join_only)
            except RunRefusal as refusal:
                raise NotReadyError(str(refusal)) from None
            finally:
                self._changed.notify_all()  # the Init may have ended the run: its waiting pulls are refused
            if begins:
                self._start_run(variables)
            return self._copy_values(None), self._step

    # ----- Push -------------------------------------------------------------------------------

    def push(self, worker, step, gradients, sample_count, session=0):
        """Add one worker's gradient sums over ``sample_count`` samples.

        Returns
        -------
        (bool, int, str)
            Accepted?, the server step afterwards, and the reason when not accepted.
        """
        self._check_worker(worker)
        if sample_count < 1:
            raise VariableMismatchError(f"worker {worker}, step {step}: sample_count={sample_count} must be >= 1")
        with self._changed:
            self._require_init()
            self._require_run(worker, session)
            self._check_matches_or_fail_run(worker, gradients, what="gradients")
            self.runs.hear(worker, step)
            if self.mode == ASYNC:
                return self._apply_async(worker, step, gradients, sample_count)
            entry = self._open_sync_step(worker, step)
        self._add_sync(entry, gradients)
        with self._changed:
            if entry["run"] != self.runs.number:
                raise NotReadyError(f"worker {worker}, step {step}: run {entry['run']} ended while this push was added")
            self._require_run(worker, session)  # the run may be over by now
            entry["count"] += sample_count
            entry["workers"].add(worker)
            complete = len(entry["workers"]) == self.num_workers
        if complete:
            self._finish_sync_step(step, entry)
        with self._changed:
            return True, self._step, ""

    def _apply_async(self, worker, step, gradients, sample_count):
        staleness = self._step - step
        if self.max_staleness is not None and staleness > self.max_staleness:
            reason = (
                f"worker {worker}: push computed at step {step} is {staleness} steps behind server step "
                f"{self._step} (max_staleness={self.max_staleness}); pull the values and recompute"
            )
            return False, self._step, reason
        self._apply_mean({name: np.asarray(grad, dtype=np.float64) / sample_count for name, grad in gradients.items()})
        self._changed.notify_all()
        return True, self._step, ""

    def _open_sync_step(self, worker, step):
        """The pending sums of ``step``, created by its first push; call with the lock held."""
        last = self._last_pushed.get(worker)
        if last is not None and step <= last:
            raise NotReadyError(f"worker {worker} already pushed step {last}; steps must increase, got {step}")
        self._last_pushed[worker] = step
        if step not in self._pending:
            # float64 sums: the mean is then exact to one rounding whatever the variables' dtype.
            sums = {name: np.empty(value.shape) for name, value in self._values.items()}
            self._pending[step] = {
                "sums": sums, "unwritten": set(sums), "count": 0, "workers": set(),
                "locks": self._add_locks, "dtypes": {name: value.dtype for name, value in self._values.items()},
                "run": self.runs.number,
            }  # fmt: skip
        return self._pending[step]

    def _add_sync(self, entry, gradients):
        # The additions run outside the state's lock, each variable under its own: two workers' pushes
        # add at once (NumPy lets go of the GIL), and pulls and other steps' pushes never wait for them.
        # The entry keeps its run's locks and dtypes: a new run may replace the state's meanwhile.
        for name, grad in gradients.items():
            with entry["locks"][name]:
                if name in entry["unwritten"]:
                    # The step's first gradient is copied in rather than added to zeros: one pass fewer.
                    np.copyto(entry["sums"][name], grad)
                    entry["unwritten"].discard(name)
                else:
                    np.add(entry["sums"][name], grad, out=entry["sums"][name])

    def _finish_sync_step(self, step, entry):
        """Turn the complete sums of ``step`` into its mean (outside the lock), then publish it."""
        count = entry["count"]
        # Divide straight into the variable's dtype: one pass over the sums, still one rounding.
        mean = {
            name: np.divide(total, count, out=np.empty(total.shape, entry["dtypes"][name]), casting="unsafe")
            for name, total in entry["sums"].items()
        }
        for array in mean.values():
            array.flags.writeable = False  # handed to every puller without a copy
        with self._changed:
            if entry["run"] != self.runs.number:
                return  # a new run began meanwhile and starts clean: this step is nobody's now
            if self.learning_rate is not None:
                self._apply_mean({name: total / count for name, total in entry["sums"].items()})
            del self._pending[step]
            self._done[step] = {"mean": mean, "count": count, "pulled": set()}
            self._last_completed = max(self._last_completed, step)
            self._changed.notify_all()

    def _apply_mean(self, mean):
        for name, value in self._values.items():
            self._values[name] = (value - self.learning_rate * mean[name]).astype(value.dtype)
        self._step += 1

    # ----- Pull -------------------------------------------------------------------------------

    def pull_mean(self, worker, step, names, timeout, session=0):
        """The averaged gradients of ``step``, waiting at most ``timeout`` seconds for the last pushes.

        Returns
        -------
        (bool, dict of name -> numpy.ndarray, int, list of int)
            Ready?, the means, the total sample count, and (when not ready) the workers still missing.
            The means are read-only and shared by every worker: do not change the dict or its arrays.
        """
        self._check_worker(worker)
        with self._changed:
            self._require_init()
            if self.mode != SYNC:
                raise NotReadyError("asynchronous mode has no per-step mean: pull VALUES")
            self._require_run(worker, session)
            self.runs.hear(worker)
            self._changed.wait_for(
                lambda: step in self._done or self.runs.refusal(worker, session) is not None, timeout=timeout
            )
            self._require_run(worker, session)  # a silent worker ended the run while this pull waited
            result = self._done.get(step)
            if result is None:
                if step <= self._last_completed and step not in self._pending:
                    raise NotReadyError(f"worker {worker}: step {step} was never pushed or was already dropped")
                pushed = self._pending.get(step, {"workers": set()})["workers"]
                return False, {}, 0, sorted(set(range(self.num_workers)) - pushed)
            # Every variable: the step's own dict, the same object for every worker (see server.SharedReplies).
            means = self._select(result["mean"], names, copy=False) if names else result["mean"]
            result["pulled"].add(worker)
            if len(result["pulled"]) == self.num_workers:
                del self._done[step]
            return True, means, result["count"], []

    def push_pull_mean(self, worker, step, gradients, sample_count, timeout, session=0):
        """``push``, then ``pull_mean`` of every variable: a synchronous step in one call.

        Asynchronous mode is refused before anything is pushed (it has no per-step mean).
        Returns what ``pull_mean`` returns; when not ready, the push still stands.
        """
        if self.mode != SYNC:
            raise NotReadyError(f"worker {worker}: asynchronous mode has no per-step mean: push, then pull VALUES")
        self.push(worker, step, gradients, sample_count, session)
        return self.pull_mean(worker, step, [], timeout, session)

    def values(self, names, worker=None, session=0):
        """The current values and the server step; with ``worker``, only for a process of the live run.

        A process that may not join the live run is refused: a restarted worker waits so for the
        Init that begins its own run, instead of reading the values of the run it left.
        """
        with self._changed:
            self._require_init()
            if worker is not None:
                self._check_worker(worker)
                refusal = self.runs.join_refusal(worker, session)
                self._changed.notify_all()  # the request may have shown a restart, which ends the run
                if refusal is not None:
                    raise NotReadyError(refusal)
            return self._select(self._values, names), self._step

    # ----- the run ----------------------------------------------------------------------------

    def leave(self, worker, session=0):
        """``worker`` is done with its run; the run is finished once every worker has left."""
        self._check_worker(worker)
        with self._changed:
            self.runs.leave(worker, session)

    def check_deadline(self):
        """End the live run if a worker has been silent for the deadline (logging who); call it now and then."""
        with self._changed:
            if self.runs.check_silence():
                self._changed.notify_all()

    def lifecycle(self):
        """``(phase, idle seconds, why the run is over)``: what a shard's process decides its exit on."""
        with self._changed:
            return self.runs.phase, self.runs.idle_seconds(), self.runs.ended

    # ----- checks -----------------------------------------------------------------------------

    def _check_worker(self, worker):
        if not 0 <= worker < self.num_workers:
            raise VariableMismatchError(f"worker {worker} is outside 0 .. {self.num_workers - 1}")

    def _require_init(self):
        if self._values is None:
            raise NotReadyError("no variables yet: a worker must call Init first")

    def _require_run(self, worker, session):
        refusal = self.runs.refusal(worker, session)
        if refusal is not None:
            raise NotReadyError(refusal)

    def _check_matches_or_fail_run(self, worker, arrays, what):
        """Refuse ``arrays`` unless they match the run's variables; a mismatch ends the run for every worker.

        Call with the lock held, for a member of the live run only. The other workers could never
        finish a step with this one, so they are woken and refused now rather than left to their deadline.
        """
        try:
            self._check_matches(worker, arrays, what)
        except VariableMismatchError as mismatch:
            self.runs.fail(str(mismatch))
            self._changed.notify_all()
            raise

    def _check_matches(self, worker, arrays, what):
        # "graphs disagree", as ring workers say it: the words every worker of the job finds in its error.
        missing = sorted(set(self._values) - set(arrays))
        unexpected = sorted(set(arrays) - set(self._values))
        if missing or unexpected:
            raise VariableMismatchError(
                f"the workers' graphs disagree: worker {worker}: {what} do not match the server's variables: "
                f"missing {missing}, unexpected {unexpected} ({self._whose()})"
            )
        for name, array in arrays.items():
            held = self._values[name]
            if array.shape != held.shape or dtype_name(array.dtype) != dtype_name(held.dtype):
                raise VariableMismatchError(
                    f"the workers' graphs disagree: variable {name!r}: worker {worker} sends {describe(array)} "
                    f"in its {what}, but the server holds {describe(held)} ({self._whose()})"
                )

    def _whose(self):
        return f"run {self.runs.number}'s, registered by worker {self.runs.begun_by}"

    def _select(self, arrays, names, copy=True):
        unknown = sorted(set(names) - set(arrays))
        if unknown:
            raise VariableMismatchError(f"unknown variables {unknown}; the server holds {sorted(arrays)}")
        return {name: arrays[name].copy() if copy else arrays[name] for name in (names or arrays)}

    def _copy_values(self, names):
        return self._select(self._values, names or [])
