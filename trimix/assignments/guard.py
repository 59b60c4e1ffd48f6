"""What graded code may touch, enforced with an audit hook (PEP 578), which nothing in Python can remove.

Both the kernel that runs a submission and the processes that score its exercises install one:

- files are written only under the submission's private folder (its copy, and the caches put beside it);
- files under the *hidden* folders (the hand-ins, the other private copies, the instructor notebooks, the
  grades) are neither read nor listed; a folder given as *imports only* (the kit, while an exercise is scored)
  is read by Python's import machinery alone, so that a function cannot read the kit's source and run it;
- no program is started (a shell command or a new interpreter would run without the hook), and no process is
  forked: a fork refused only at its ``exec`` leaves a second copy of the kernel running in the child while
  the parent waits for it (``%pip`` in a set-up cell did that, and the notebook hung until its time limit).

What is refused raises ``PermissionError`` in the code that tried it, and is written down in ``violations``.
A hook is no sandbox (``ctypes`` can get around it: the review flags ``ctypes``); run the grader in a
container or a throw-away account, as docs/instructors.md says.

Run as a script, this module starts an IPython kernel behind the hook: ``python guard.py -m
ipykernel_launcher -f CONNECTION_FILE``, with the policy as JSON in the environment variable ``TRIMIX_GUARD``.
It imports nothing from ``trimix``, so the kernel starts as plain as any other.
"""
from __future__ import annotations

import json
import os
import sys

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
WRITE_EVENTS = {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.truncate",
                "os.utime", "os.link", "os.symlink", "shutil.rmtree", "shutil.copyfile", "shutil.copymode",
                "shutil.copystat", "shutil.move", "shutil.copytree", "os.removexattr", "os.setxattr"}
BOTH_CHANGED = {"os.rename", "shutil.move", "os.link"}
SECOND_CHANGED = {"shutil.copyfile", "shutil.copymode", "shutil.copystat", "shutil.copytree", "os.symlink"}
LIST_EVENTS = {"os.listdir", "os.scandir", "os.chdir"}  # glob and os.walk go through os.scandir
PROCESS_EVENTS = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.startfile",
                  "pty.spawn", "os.forkpty", "os.fork"}
IMPORT_FILES = ("<frozen importlib._bootstrap_external>", "<frozen zipimport>", "<frozen importlib._bootstrap>")
ENV = "TRIMIX_GUARD"


def _real(path) -> str | None:
    if isinstance(path, int) or path is None:
        return None  # an open file descriptor: checked when it was opened
    try:
        path = os.fsdecode(path)
    except TypeError:
        return None
    return os.path.realpath(os.path.join(os.getcwd(), path))


def _under(path: str, folders: list[str]) -> bool:
    return any(path == f or path.startswith(f.rstrip(os.sep) + os.sep) for f in folders)


class Policy:
    """An audit hook: writes only under ``allow``; nothing under ``hidden`` (except ``allow``); files under
    ``imports_only`` read by the import machinery only; no programs started unless ``processes``."""

    def __init__(self, allow: list[str], hidden: list[str] = (), imports_only: list[str] = (),
                 processes: bool = False):
        self.allow = [os.path.realpath(p) for p in allow]
        self.hidden = [os.path.realpath(p) for p in hidden]
        self.imports_only = [os.path.realpath(p) for p in imports_only]
        self.processes = processes
        self.violations: list[str] = []
        self.active = True

    def to_json(self) -> str:
        return json.dumps({"allow": self.allow, "hidden": self.hidden, "imports_only": self.imports_only,
                           "processes": self.processes})

    @classmethod
    def from_json(cls, text: str) -> Policy:
        return cls(**json.loads(text))

    def install(self) -> Policy:
        sys.addaudithook(self.hook)
        return self

    def refuse(self, what: str) -> None:
        self.violations.append(what)
        raise PermissionError(f"the grader does not let graded code {what}")

    def hidden_from(self, path: str | None) -> bool:
        return path is not None and _under(path, self.hidden) and not _under(path, self.allow)

    def hook(self, event: str, args: tuple) -> None:
        if not self.active:
            return
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None))[:3]
            real = _real(path)
            if real is None or real == os.devnull:
                return
            writing = any(c in (mode or "") for c in "wax+") or bool((flags or 0) & WRITE_FLAGS)
            if writing and not _under(real, self.allow):
                self.refuse(f"write {real} (outside the submission's own folder)")
            if self.hidden_from(real):
                self.refuse(f"read {real}")
            if _under(real, self.imports_only) and sys._getframe(1).f_code.co_filename not in IMPORT_FILES:
                self.refuse(f"read the kit's source {real} while it is graded")
        elif event in WRITE_EVENTS:
            changed = args[:2] if event in BOTH_CHANGED else args[1:2] if event in SECOND_CHANGED else args[:1]
            for path in changed:
                real = _real(path)
                if real is not None and not _under(real, self.allow):
                    self.refuse(f"change {real} (outside the submission's own folder)")
            if event in SECOND_CHANGED and self.hidden_from(_real(args[0])):
                self.refuse(f"read {_real(args[0])}")
        elif event in LIST_EVENTS:
            real = _real(args[0] if args and args[0] is not None else ".")
            if self.hidden_from(real):
                self.refuse(f"look into {real}")
        elif event in PROCESS_EVENTS and not self.processes:
            self.refuse(f"start a program ({event})")


def main() -> None:
    """Install the policy from ``TRIMIX_GUARD``, then run ``-m module args...`` (the kernel) as ``__main__``."""
    import runpy

    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and sys.path[0] and os.path.realpath(sys.path[0]) == os.path.realpath(here):
        del sys.path[0]  # this folder's modules are not the student's to import
    Policy.from_json(os.environ.pop(ENV)).install()
    if sys.argv[1:2] != ["-m"] or len(sys.argv) < 3:
        raise SystemExit("usage: guard.py -m MODULE [ARGS...]")
    module = sys.argv[2]
    sys.argv = [module, *sys.argv[3:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
