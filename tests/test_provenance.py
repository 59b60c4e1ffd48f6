"""trimix.provenance: code versions change with what the code does, not with its comments or docstrings."""
import sys

import pytest

from trimix import provenance


def write_module(tmp_path, monkeypatch, name, text):
    (tmp_path / f"{name}.py").write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop(name, None)
    provenance.module_hash.cache_clear()
    return provenance.module_hash(name)


def test_comments_and_docstrings_keep_the_hash_code_changes_it(tmp_path, monkeypatch):
    base = 'def f(x):\n    """Adds one."""\n    return x + 1\n'
    first = write_module(tmp_path, monkeypatch, "tmx_probe", base)
    assert write_module(tmp_path, monkeypatch, "tmx_probe", "# a comment\n" + base.replace("Adds one", "Plus 1")) == first
    assert write_module(tmp_path, monkeypatch, "tmx_probe", base.replace("x + 1", "x + 2")) != first
    assert write_module(tmp_path, monkeypatch, "tmx_probe", 'def f(x):\n    """Only a docstring."""\n') != first


def test_code_versions_name_the_package_and_differ_by_part():
    training, evaluation = provenance.code_version("training"), provenance.code_version("evaluation")
    assert training.startswith(provenance.package_version() + "+") and len(training.split("+")[1]) == 12
    assert training != evaluation
    with pytest.raises(ValueError, match="training, evaluation"):
        provenance.code_version("plotting")


def test_git_commit_is_a_short_hash_or_none():
    commit = provenance.git_commit()
    assert commit is None or (len(commit.split("-")[0]) == 12 and int(commit.split("-")[0], 16) >= 0)
