"""Where served rows are profiled: in this process, or in a low-priority process of their own.

whylogs profiles about 20-30 thousand rows a second per core for a model input of 25 columns,
in Python code that holds the GIL. In a serving worker's thread that time is taken from requests;
so a served bento profiles in a child process (:class:`ProcessProfiler`, ``python -m
twelve.serving.profiler``) at a lower CPU priority: it uses the cores requests leave idle, and the
worker only hands it the buffered columns (a pickle through a pipe, microseconds per column).

Both kinds answer ``write(job) -> path`` and fail loudly; the caller (the monitor) keeps the rows
of a failed write for its next attempt. The child ignores SIGINT and SIGTERM (the worker decides
when to stop, after its last profile) and exits when its stdin closes: when the worker exits,
however it exits.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

# The lowest priority: profiling uses only the CPU requests leave idle, so it never slows them
# down; under a sustained load above what it can profile, the monitor's bound drops (and counts)
# the rows it could not keep.
NICENESS = 19
WRITE_TIMEOUT_S = 600.0


@dataclass
class ProfileJob:
    """One profile to write: the rows (as columns) and where, with the sidecar's facts."""

    root: str
    model_version: str
    version: str
    columns: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)


def write_profile(job: ProfileJob) -> str:
    """Profile the job's rows with whylogs and store the profile; the path written."""
    from twelve.monitoring.profiling import ProfileStore, profile_frame
    from twelve.serving.columns import frame_of

    view = profile_frame(frame_of(job.columns))
    stored = ProfileStore(job.root).write(job.model_version, job.version, view, extra=job.extra)
    return str(stored.path)


class InProcessProfiler:
    """Profiles in the calling thread (unit tests, and the fallback when no child can start)."""

    def write(self, job: ProfileJob) -> str:
        """:func:`write_profile`."""
        return write_profile(job)

    def close(self) -> None:
        """Nothing to release."""


class ProcessProfiler:
    """Profiles in a child process at a lower CPU priority, started on first use.

    A child that dies or answers nothing within the timeout is killed and replaced at the next
    write; the failed write raises (its rows stay with the caller).
    """

    def __init__(self, timeout: float = WRITE_TIMEOUT_S) -> None:
        self.timeout = timeout
        self._child: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def _start(self) -> subprocess.Popen:
        env = dict(os.environ)
        # The child imports twelve from wherever this process does (a bento's src folder).
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        return subprocess.Popen(
            [sys.executable, "-m", "twelve.serving.profiler"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )

    def write(self, job: ProfileJob) -> str:
        """Hand the job to the child and wait for the path it wrote.

        A child found dead (it crashed, or was killed, since the last job) is replaced and the
        job sent once more.

        Raises:
            RuntimeError: the child failed, died twice or timed out (the message says which).
        """
        with self._lock:
            answer = self._attempt(job)
            if answer.get("died"):
                answer = self._attempt(job)
            if "path" not in answer:
                reason = answer.get("error") or f"no answer within {self.timeout:.0f} s"
                raise RuntimeError(f"the profiler process failed: {reason}")
            return answer["path"]

    def _attempt(self, job: ProfileJob) -> dict[str, Any]:
        if self._child is None or self._child.poll() is not None:
            self._child = self._start()
        answer: dict[str, Any] = {}
        reader = threading.Thread(target=self._exchange, args=(self._child, job, answer))
        reader.start()
        reader.join(self.timeout)
        if reader.is_alive() or "path" not in answer:
            self._kill()  # hung, failed or dead: the next attempt starts a fresh one
            reader.join(5)
        return answer

    @staticmethod
    def _exchange(child: subprocess.Popen, job: ProfileJob, answer: dict[str, Any]) -> None:
        assert child.stdin is not None  # both are pipes
        assert child.stdout is not None
        try:
            _send(job, child.stdin)
            answer.update(pickle.load(child.stdout))
        except (OSError, EOFError, pickle.UnpicklingError) as error:
            answer["error"] = f"{type(error).__name__}: {error} (exit {child.poll()})"
            answer["died"] = True

    def _kill(self) -> None:
        if self._child is not None:
            if self._child.poll() is None:
                self._child.kill()
            self._child.wait(timeout=10)
            self._child = None

    def close(self) -> None:
        """End the child: it exits when its stdin closes."""
        with self._lock:
            if self._child is None:
                return
            child, self._child = self._child, None
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=10)


def _send(job: ProfileJob, stream) -> None:
    """Send the job, one column per pickle.

    Pickling holds the GIL, and a whole buffer at once would stall the worker's requests for as
    long (tens of milliseconds for 100,000 rows).
    """
    names = dict.fromkeys(job.columns)
    header = ProfileJob(job.root, job.model_version, job.version, names, job.extra)
    pickle.dump(header, stream, protocol=pickle.HIGHEST_PROTOCOL)
    for values in job.columns.values():
        pickle.dump(values, stream, protocol=pickle.HIGHEST_PROTOCOL)
    stream.flush()


def _receive(stream) -> ProfileJob:
    job = pickle.load(stream)
    job.columns = {name: pickle.load(stream) for name in job.columns}
    return job


def _serve(requests, answers) -> None:
    while True:
        try:
            job = _receive(requests)
        except EOFError:
            return
        try:
            answer = {"path": write_profile(job)}
        except Exception as error:  # sent back: the worker logs it and keeps the rows
            log.exception("profiling failed")
            answer = {"error": f"{type(error).__name__}: {error}"}
        pickle.dump(answer, answers, protocol=pickle.HIGHEST_PROTOCOL)
        answers.flush()


def main() -> None:
    """The child: jobs in on stdin, answers out on (the original) stdout, until stdin closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.nice(NICENESS)
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed by a library goes to stderr, never into the answers
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    _serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
