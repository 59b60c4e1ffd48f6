"""Which code made a checkpoint or a score: the versions the reproduction engine keys its caches by.

``code_version(part)`` is the package version plus a hash of the code of the modules a result depends on
(``TRAINING`` for a pretrained encoder, ``EVALUATION`` for a score). The hash is taken over each module's
syntax tree with its docstrings removed, so a new comment or docstring changes nothing, while any change of
what the code does gives another version and so another cache key. That holds with or without git, and is
finer than a commit (a commit that leaves these modules alone keeps every cached result valid).
``git_commit()`` is recorded beside each result as well, so a table says which commit produced it.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

# What a pretrained encoder depends on: the data it sees, the views, the network, the objectives, the loop.
# Not trimix.config: a run's settings are recorded as values (run.json), so a new field or help text there
# changes no result.
TRAINING = ("trimix.data", "trimix.imagedata", "trimix.shapes", "trimix.augment",
            "trimix.models", "trimix.standardize", "trimix.mixing", "trimix.losses", "trimix.baseline_losses",
            "trimix.methods", "trimix.device", "trimix.distributed", "trimix.sync_batchnorm", "trimix.checkpoint",
            "trimix.train")
# What a score depends on besides the encoder: the protocols, their code, and the evaluation data.
EVALUATION = ("trimix.protocols", "trimix.evaluate", "trimix.finetune", "trimix.imagedata", "trimix.augment",
              "trimix.device", "trimix.data", "trimix.shapes", "trimix.stand_in")
PARTS = {"training": TRAINING, "evaluation": EVALUATION}


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return tree


@functools.lru_cache(maxsize=None)
def module_hash(module: str) -> str:
    """A hash of what ``module`` does: its syntax tree without comments, docstrings or line numbers."""
    path = Path(importlib.util.find_spec(module).origin)
    tree = _without_docstrings(ast.parse(path.read_text()))
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest()


def package_version() -> str:
    try:
        return version("trimix")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unreleased"


@functools.lru_cache(maxsize=None)
def code_version(part: str) -> str:
    """``'<package version>+<12 hex digits>'`` for ``part`` ("training" or "evaluation")."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {', '.join(PARTS)}, got {part!r}")
    digest = hashlib.sha256("".join(module_hash(m) for m in PARTS[part]).encode()).hexdigest()
    return f"{package_version()}+{digest[:12]}"


def git_commit() -> str | None:
    """The checkout's commit (with ``-dirty`` when files differ from it), or None outside a git checkout."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "")
