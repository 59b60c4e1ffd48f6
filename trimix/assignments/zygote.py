"""A clean interpreter that has imported the kit once and forks a fresh process for each exercise to score.

``python -m trimix.assignments.zygote`` reads jobs from stdin and answers each on stdout, one JSON document
per line. For each job it forks a child (a new process group) that runs ``isolate.score`` and writes its
result to a pipe; past the job's ``timeout`` the whole group is killed. Everything is JSON, never pickle, so
that what a student's code writes cannot run code here. Started from the grader with
:class:`Zygote`; where ``os.fork`` is missing (Windows), each job gets a zygote of its own instead.

Not ``multiprocessing``'s forkserver: that one imports the caller's ``__main__`` again in every child.
"""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time

LIMIT = 1 << 20  # bytes of result read from a child
PRELOAD = ["trimix.checks", "trimix.assignments.guard", "trimix.assignments.isolate"]  # imported once, here


def _child(job: dict, write: int) -> None:
    from trimix.assignments import isolate

    os.setpgid(0, 0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # the zygote's job pipe is not the student's to read
    try:
        result = isolate.score(job)
    except BaseException as error:  # the grader's own failure: say so rather than hang
        result = {"passed": False, "message": f"the grader failed: {type(error).__name__}: {error}",
                  "violations": [], "tampered": [], "kit_answer": []}
    os.write(write, json.dumps(result).encode())
    os._exit(0)  # at once: threads the student's code left running must not keep the process alive


def _collect(pid: int, read: int, timeout: float) -> dict:
    data, deadline = b"", time.monotonic() + timeout
    while len(data) < LIMIT:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([read], [], [], left)[0]:
            break
        chunk = os.read(read, 65536)
        if not chunk:
            break
        data += chunk
    timed_out = time.monotonic() >= deadline
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    _, status = os.waitpid(pid, 0)
    os.close(read)
    try:
        return json.loads(data.decode())
    except ValueError:
        return {"error": "timeout" if timed_out else "no result", "exitcode": os.waitstatus_to_exitcode(status)}


def serve(jobs=sys.stdin, answers=sys.stdout) -> None:
    """Answer each job line with a result line, until stdin closes."""
    for line in jobs:
        job = json.loads(line)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            _child(job, write)
        os.close(write)
        answers.write(json.dumps(_collect(pid, read, job["timeout"])) + "\n")
        answers.flush()


def serve_once(jobs=sys.stdin, answers=sys.stdout) -> None:
    """Without ``os.fork``: run the one job in this process (a fresh one, started for it)."""
    from trimix.assignments import isolate

    job = json.loads(jobs.readline())
    answers.write(json.dumps(isolate.score(job)) + "\n")
    answers.flush()


class Zygote:
    """The grader's end: a zygote process, started on first use, that scores jobs one at a time."""

    def __init__(self, env: dict | None = None):
        self.env, self.process = env, None

    def start(self) -> None:
        args = [sys.executable, "-m", "trimix.assignments.zygote"] + ([] if hasattr(os, "fork") else ["--once"])
        self.process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, env=self.env, text=True)

    def run(self, job: dict) -> dict:
        if self.process is None or self.process.poll() is not None or not hasattr(os, "fork"):
            self.start()
        try:
            self.process.stdin.write(json.dumps(job) + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        except OSError:
            line = ""
        if not line:
            self.close()
            return {"error": "the scoring process stopped", "exitcode": None}
        return json.loads(line)

    def close(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


def main() -> None:
    for module in PRELOAD:
        __import__(module)
    for sig in (signal.SIGINT,):
        signal.signal(sig, signal.SIG_IGN)  # Ctrl-C in the grader's terminal stops the grader, which stops us
    (serve_once if "--once" in sys.argv else serve)()


if __name__ == "__main__":
    main()
