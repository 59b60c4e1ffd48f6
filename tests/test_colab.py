"""The notebooks' set-up cell in Colab (trimix.notebook.use_drive), with a fake ``google.colab`` module.

Colab is imitated by putting modules named ``google`` and ``google.colab`` into ``sys.modules`` whose
``drive.mount`` makes the folder Colab would mount. monkeypatch puts back sys.modules and the working folder.
"""
import sys
import types
from pathlib import Path

import pytest

from trimix import notebook


@pytest.fixture
def fake_colab(monkeypatch, tmp_path):
    """A fake Colab: ``mounts`` lists every mount point asked for; ``refuse`` makes the mount fail."""
    state = {"mounts": [], "refuse": False}

    def mount(mount_point: str) -> None:
        if state["refuse"]:
            raise ValueError("mount failed")
        state["mounts"].append(mount_point)
        (Path(mount_point) / "MyDrive").mkdir(parents=True, exist_ok=True)

    drive = types.ModuleType("google.colab.drive")
    drive.mount = mount
    colab = types.ModuleType("google.colab")
    colab.drive = drive
    google = types.ModuleType("google")
    google.colab = colab
    for name, module in {"google": google, "google.colab": colab, "google.colab.drive": drive}.items():
        monkeypatch.setitem(sys.modules, name, module)
    content = tmp_path / "content"  # the runtime's own folder, where Colab starts
    content.mkdir()
    monkeypatch.chdir(content)
    return state


def test_outside_colab_nothing_is_done_or_printed(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "google.colab", None)  # None in sys.modules: the import fails
    monkeypatch.chdir(tmp_path)
    assert not notebook.in_colab()
    assert notebook.use_drive(True) is None
    assert Path.cwd() == tmp_path and capsys.readouterr().out == ""


def test_in_colab_drive_is_mounted_and_becomes_the_working_folder(fake_colab, tmp_path, capsys):
    mount_point = tmp_path / "drive"
    work = notebook.use_drive(True, mount_point=str(mount_point))
    assert fake_colab["mounts"] == [str(mount_point)]
    assert work == mount_point / "MyDrive" / notebook.DRIVE_FOLDER and work.is_dir()
    assert Path.cwd() == work  # so data/ and runs/ (relative paths of every Config) land on Drive
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and f"on Google Drive in {work}" in out
    notebook.use_drive(True, mount_point=str(mount_point))  # a second run of the cell: same folder
    assert Path.cwd() == work


def test_a_checkpoint_written_in_one_runtime_is_found_by_the_next(fake_colab, tmp_path, monkeypatch):
    """Notebook 05 in one runtime writes runs/...; notebook 06 in a fresh one (a new /content) finds it."""
    from trimix.runs import RUN_DIRS

    mount_point = str(tmp_path / "drive")
    notebook.use_drive(True, mount_point=mount_point)
    Path(RUN_DIRS["full"]).mkdir(parents=True)
    (Path(RUN_DIRS["full"]) / "checkpoint.pt").write_bytes(b"05's run")
    fresh = tmp_path / "content2"
    fresh.mkdir()
    monkeypatch.chdir(fresh)  # the next notebook's runtime starts in its own empty /content
    notebook.use_drive(True, mount_point=mount_point)
    assert (Path(RUN_DIRS["full"]) / "checkpoint.pt").read_bytes() == b"05's run"


def test_use_drive_false_keeps_the_runtime_folder_and_says_it_will_not_last(fake_colab, tmp_path, capsys):
    before = Path.cwd()
    assert notebook.use_drive(False, mount_point=str(tmp_path / "drive")) == before
    assert fake_colab["mounts"] == [] and Path.cwd() == before
    assert "lost when this Colab runtime is recycled" in capsys.readouterr().out


def test_a_refused_mount_goes_on_without_drive_and_says_so(fake_colab, tmp_path, capsys):
    fake_colab["refuse"] = True
    before = Path.cwd()
    assert notebook.use_drive(True, mount_point=str(tmp_path / "drive")) == before
    out = capsys.readouterr().out
    assert "was not mounted (ValueError: mount failed)" in out and out.count("\n") == 1


def test_a_kit_figure_is_found_from_any_notebook_folder_else_read_from_the_repository(tmp_path):
    figure = tmp_path / "docs" / "figures" / "f.png"
    figure.parent.mkdir(parents=True)
    figure.write_bytes(b"png")
    student = tmp_path / "notebooks" / "student"
    student.mkdir(parents=True)
    assert notebook.kit_figure_source("docs/figures/f.png", student) == str(figure)
    assert notebook.kit_figure_source("docs/figures/g.png", student) == f"{notebook.REPOSITORY_RAW}/docs/figures/g.png"


def test_the_committed_learning_curve_is_found_from_the_notebooks():
    notebooks = Path(__file__).resolve().parents[1] / "notebooks" / "student"
    assert Path(notebook.kit_figure_source("docs/figures/curve_small.png", notebooks)).is_file()
