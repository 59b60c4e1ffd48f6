"""Where submissions run: a private temporary copy for each, and the hand-ins themselves kept safe.

Layout: ``ROOT/<n>/`` is submission ``n``'s private folder (its caches and temporary files go there too) and
``ROOT/<n>/<folder>/`` the copy of the folder it was handed in with, where its notebook runs. So ``..`` from
the notebook holds nothing of anyone else, and the guard (``guard.Policy``) refuses anything outside
``ROOT/<n>/`` that is writing, and reading under the hand-ins, the other copies, the instructor notebooks and
the grades. The hand-ins are read into memory before any of them runs; :meth:`Workspace.check_originals`
puts back any that changed on disk all the same and says so.
"""
from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import tempfile
import threading
from pathlib import Path

import trimix
from trimix.assignments.guard import ENV, Policy

COPY_LIMIT = 50 << 20  # bytes of a submission's folder copied beside its notebook


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".") or "submission"


class Workspace:
    """A grading root with one private folder per submission; the hand-ins' bytes as read at the start."""

    def __init__(self, submissions: Path, hidden: list[Path]):
        self.root = Path(tempfile.mkdtemp(prefix="trimix-grade-")).resolve()
        self.submissions = Path(submissions).resolve()
        self.hidden = [self.root, self.submissions, *(Path(p).resolve() for p in hidden)]
        self.originals: dict[Path, bytes] = {}
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def keep(self, path: Path) -> bytes:
        """Read a hand-in once, before anything runs; later checks compare the file with these bytes."""
        path = Path(path).resolve()
        if path not in self.originals:
            self.originals[path] = path.read_bytes()
        return self.originals[path]

    def private(self, student: str, path: Path) -> tuple[Path, Path]:
        """A fresh private folder for a submission, and in it the copy of its folder (the working folder).
        With one sub-folder per student, the notebook's folder is copied (up to ``COPY_LIMIT`` bytes, data files
        a notebook reads included); a notebook handed in alone is copied alone."""
        path = Path(path).resolve()
        with self._lock:
            private = self.root / str(next(self._numbers))
        folder = path.parent
        work = private / _safe(folder.name if folder != self.submissions else student)
        work.mkdir(parents=True)
        if folder != self.submissions:
            budget = COPY_LIMIT
            for item in sorted(folder.rglob("*")):
                rel = item.relative_to(folder)
                if ".ipynb_checkpoints" in rel.parts or item.is_symlink() or not item.is_file() or item == path:
                    continue
                budget -= item.stat().st_size
                if budget < 0:
                    break
                (work / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(item, work / rel)
        (work / path.name).write_bytes(self.keep(path))
        for sub in (".tmp", ".matplotlib", ".ipython"):
            (private / sub).mkdir(exist_ok=True)
        _copy_font_list(private / ".matplotlib")
        return private, work

    def policy(self, private: Path, scoring: bool = False) -> Policy:
        """What the code of the submission in ``private`` may touch; while scoring, not the kit's source."""
        kit = [str(Path(trimix.__file__).resolve().parent)] if scoring else []
        return Policy(allow=[str(private)], hidden=[str(p) for p in self.hidden], imports_only=kit)

    def kernel_env(self, private: Path) -> dict:
        """The environment of the kernel: the guard's policy, and caches and temporary files kept private."""
        return {ENV: self.policy(private).to_json(), "TMPDIR": str(private / ".tmp"),
                "MPLCONFIGDIR": str(private / ".matplotlib"), "IPYTHONDIR": str(private / ".ipython")}

    def check_originals(self) -> list[Path]:
        """The hand-ins that changed on disk since they were read: each is put back, and returned."""
        changed = []
        for path, data in self.originals.items():
            try:
                same = hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(data).digest()
            except OSError:
                same = False
            if not same:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                changed.append(path)
        return changed

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _copy_font_list(folder: Path) -> None:
    """matplotlib's font list, copied into a private config folder: a kernel need not rebuild it (seconds)."""
    cache = Path(os.environ.get("MPLCONFIGDIR") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                 / "matplotlib")
    for found in cache.glob("fontlist-*.json") if cache.is_dir() else []:
        shutil.copyfile(found, folder / found.name)
