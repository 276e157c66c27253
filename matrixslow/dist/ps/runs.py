"""Which run of a job a shard serves: its worker processes, when each was last heard, how the run ended.

A worker process is known by its *session*, a random number its ``ParameterServerClient`` draws
once. A run begins with an Init when the shard has no live run, or when the Init comes from a new
process at an index the run already has: that worker restarted, so the old run cannot finish.
Every run starts clean (steps from 0 again); within one run a step is still pushed once.

With a ``deadline`` the shard also notices silence: a worker of the live run not heard from for
that long ends the run. The shard logs it once per worker, and every live worker's next call is
refused with the same words, so the survivors learn who is gone instead of waiting out their own
deadline. A run every worker has left (``leave``) is finished.

A member whose variables disagree with the run's (another graph) ends the run the same way
(``fail``): it is refused with the mismatch, and every other worker's waiting or next call with
the same words, within a long-poll instead of a deadline.

Session 0 means "the caller does not say" (raw stubs, older clients): it is taken for whichever
process the run has at that index and never ends a run, so callers that all send 0 see one run
that goes on for ever, as before runs existed.
"""

import logging
import time

LOG = logging.getLogger("matrixslow.dist.ps")

WAITING, LIVE, OVER, FINISHED = "waiting", "live", "over", "finished"


class Runs:
    """The current run of one shard; not thread-safe, ``ParameterState`` calls it under its lock.

    Parameters
    ----------
    num_workers : int
    deadline : float, optional
        Seconds a worker of the live run may stay silent; None: never checked.
    clock : callable
        Seconds, monotonic (tests pass a fake one).
    """

    def __init__(self, num_workers, deadline=None, clock=time.monotonic):
        if deadline is not None and deadline <= 0:
            raise ValueError(f"deadline={deadline} must be positive seconds")
        self.num_workers = num_workers
        self.deadline = deadline
        self.clock = clock
        self.number = 0  # runs begun so far: the current run's number
        self.sessions = {}  # worker -> session of the process that joined the current run
        self.heard = {}  # worker -> when last heard; a worker yet to join counts from the run's start
        self.last_step = {}  # worker -> last step it pushed in this run
        self.left = set()
        self.ended = None  # why the current run cannot finish; None while live
        self.begun_by = None  # the worker whose Init began the current run
        self.idle_since = clock()  # when the shard last had no live run

    # ----- state -------------------------------------------------------------------------------

    @property
    def phase(self):
        if self.number == 0:
            return WAITING
        if self.ended is not None:
            return OVER
        return FINISHED if len(self.left) == self.num_workers else LIVE

    def idle_seconds(self):
        """Seconds since the shard last had a live run; 0 while one is live."""
        return 0.0 if self.phase == LIVE else self.clock() - self.idle_since

    # ----- Init ------------------------------------------------------------------------------

    def joins(self, worker, session):
        """True when an Init from ``worker``'s process would join the live run (not begin one)."""
        held = self.sessions.get(worker)
        return self.phase == LIVE and (held is None or _same_process(held, session))

    def on_init(self, worker, session, join_only=False):
        """Admit an Init; True when it begins a new run (the caller then resets the shard).

        Raises
        ------
        RunRefusal
            ``join_only`` and the Init cannot join the current run.
        """
        if self.joins(worker, session):
            self.sessions.setdefault(worker, session)
            self.hear(worker)
            return False
        if self.phase == LIVE:
            self._end(f"worker {worker} started again (a new process)")
        if join_only:
            raise RunRefusal(self._waiting_for_a_new_run(worker))
        self._begin(worker)
        self.sessions[worker] = session
        return True

    def join_refusal(self, worker, session):
        """Why ``worker``'s process may not join (or read) the current run, or None when it may."""
        if self.phase == WAITING or session == 0:
            return None  # no variables yet (ParameterState says so), or a caller that does not say who it is
        held = self.sessions.get(worker)
        if self.phase == LIVE:
            if held is None or _same_process(held, session):
                self.hear(worker)  # about to join, or a member: not silent
                return None
            self._end(f"worker {worker} started again (a new process)")
        if held is not None and _same_process(held, session):
            return self.refusal(worker, session)
        return self._waiting_for_a_new_run(worker)

    # ----- Push, Pull, Leave -----------------------------------------------------------------

    def refusal(self, worker, session):
        """Why a Push or Pull from ``worker``'s process is refused, or None; pure, no bookkeeping."""
        held = self.sessions.get(worker)
        if session != 0 and (held is None or not _same_process(held, session)):
            whose = "which has no Init from it" if held is None else "which holds another process of that worker"
            return f"worker {worker}: this process is not part of run {self.number}, {whose}; its own run is over"
        if self.ended is not None:
            return f"run {self.number} is over: {self.ended}"
        if worker in self.left:
            return f"worker {worker} already left run {self.number}"
        return None

    def hear(self, worker, step=None):
        """``worker`` called (pushing ``step``): it is not silent."""
        self.heard[worker] = self.clock()
        if step is not None:
            self.last_step[worker] = step

    def leave(self, worker, session):
        """``worker``'s process is done with the run; True when that finishes the run."""
        if self.refusal(worker, session) is not None:
            return False
        self.left.add(worker)
        if self.phase != FINISHED:
            return False
        self.idle_since = self.clock()
        LOG.info("run %d finished: every worker left, the last after step %s", self.number, self._last_step())
        return True

    def fail(self, reason):
        """End the live run for ``reason`` (a member's graph disagrees with the run's); every member is then refused."""
        if self.phase == LIVE:
            self._end(reason)

    def check_silence(self):
        """End the live run if a worker has been silent for the deadline, logging each such worker; True if so.

        Only a live run is looked at: once it is over, its survivors stop too, and their silence
        says nothing new.
        """
        if self.deadline is None or self.phase != LIVE:
            return False
        now = self.clock()
        found = []
        for worker in range(self.num_workers):
            silent_for = now - self.heard[worker]
            if worker not in self.left and silent_for >= self.deadline:
                found.append(f"worker {worker} silent for {silent_for:.1f} s ({self._describe_last_step(worker)})")
                LOG.warning("run %d: %s", self.number, found[-1])
        if found:
            self._end("; ".join(found), log=False)  # each silent worker has its own line already
        return bool(found)

    # ----- helpers ---------------------------------------------------------------------------

    def _begin(self, worker):
        before = f" (run {self.number} {self.phase})" if self.number else ""
        self.number += 1
        self.begun_by = worker  # whose Init set the run's variables: the graph every other worker must match
        now = self.clock()
        self.sessions = {}
        self.heard = dict.fromkeys(range(self.num_workers), now)
        self.last_step, self.left, self.ended = {}, set(), None
        LOG.info("run %d begins with an Init from worker %d%s", self.number, worker, before)

    def _end(self, reason, log=True):
        self.ended = reason
        self.idle_since = self.clock()
        if log:
            LOG.warning("run %d is over: %s", self.number, reason)

    def _waiting_for_a_new_run(self, worker):
        if self.phase == WAITING:
            return f"worker {worker} waits for a run: no Init has begun one yet"
        why = "finished" if self.phase == FINISHED else f"is over ({self.ended})"
        return f"worker {worker} waits for a new run to begin: run {self.number} {why}"

    def _describe_last_step(self, worker):
        if worker not in self.sessions:
            return "never joined"
        step = self.last_step.get(worker)
        return "no step pushed" if step is None else f"last step {step}"

    def _last_step(self):
        return max(self.last_step.values(), default="none")


class RunRefusal(Exception):
    """An Init, Push or Pull that the shard's run does not admit; ``ParameterState`` re-raises it as NotReadyError."""


def _same_process(held, session):
    return held == session or 0 in (held, session)
