"""notebooks/build.py: the committed notebooks are what their jupytext sources give, and a source that breaks
the exercise conventions is refused with words that say what to fix."""
import importlib.util
import shutil
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def load_build():
    spec = importlib.util.spec_from_file_location("notebooks_build", NOTEBOOKS / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = load_build()

HEADER = "# %% [markdown]\n# # A notebook\n\n"
EXERCISE = ('# %% nbgrader={"grade": false, "grade_id": "my_f", "locked": false, "schema_version": 3, '
            '"solution": true, "task": false} tags=["exercise"] hint="return x"\n'
            "def my_f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n\n\n")
CHECK = ('# %% nbgrader={"grade": true, "grade_id": "check_f", "locked": true, "points": 1, "schema_version": 3, '
         '"solution": false, "task": false} tags=["check"]\n'
         '# CHECK: f\nassert my_f(2) == 2\nprint("f: correct")\n')


def test_committed_notebooks_match_their_sources():
    """Every .ipynb in notebooks/ and notebooks/student/ is what `python notebooks/build.py` writes."""
    assert len(list(build.SOURCES.glob("*.py"))) == 9
    stale = build.stale(build.generated())
    assert not stale, "out of date, run python notebooks/build.py:\n" + "\n".join(stale)
    assert build.main(["--check"]) == 0


def test_every_notebook_opens_with_its_colab_badge_and_the_same_set_up_cell():
    """Each notebook must stand alone in Colab, so each source repeats the set-up cell: it must not drift."""
    notebooks = {path.stem: build.notebook_from_source(path) for path in sorted(build.SOURCES.glob("*.py"))}
    set_up = {name: nb.cells[1].source for name, nb in notebooks.items()}
    assert len(set(set_up.values())) == 1, "the set-up cells differ"
    assert "%pip install" in set_up["00_setup"] and "trimix.auto_config()" in set_up["00_setup"]
    assert "trimix.use_drive(USE_DRIVE)" in set_up["00_setup"]  # in Colab: runs and data on Drive (test_colab.py)
    for name, nb in notebooks.items():
        assert f"/blob/main/notebooks/{name}.ipynb)" in nb.cells[0].source, f"{name}: no Colab badge of its own"


def test_jupyterlab_opens_each_source_as_a_notebook_and_saves_it_unchanged(tmp_path):
    """What jupytext's contents manager does in JupyterLab (Open With > Notebook, then save), with the
    [tool.jupytext] settings of pyproject.toml: the magics come back live, and the file does not change."""
    from jupytext.sync_contentsmanager import TextFileContentsManager

    shutil.copy(NOTEBOOKS.parent / "pyproject.toml", tmp_path)
    shutil.copytree(build.SOURCES, tmp_path / "src")
    manager = TextFileContentsManager(root_dir=str(tmp_path))
    for path in sorted((tmp_path / "src").glob("*.py")):
        before = path.read_text(encoding="utf-8")
        model = manager.get(f"src/{path.name}", type="notebook")
        assert model["content"].cells[2].source.startswith("%matplotlib inline"), path.name
        model["content"].metadata["language_info"] = {"name": "python", "version": "3.11.7"}  # a kernel adds it
        manager.save(model, f"src/{path.name}")
        assert path.read_text(encoding="utf-8") == before, f"saving {path.name} from JupyterLab rewrites it"


def test_a_built_notebook_has_the_source_cells_stable_ids_and_no_outputs(tmp_path):
    source = tmp_path / "01_demo.py"
    source.write_text("# ---\n# jupyter:\n#   trimix:\n#     student_copy: true\n# ---\n\n" + HEADER + EXERCISE + CHECK
                      + "# %%\n# %matplotlib inline\nprint(my_f(3))\n")
    nb = build.notebook_from_source(source)
    assert [c.id for c in nb.cells] == ["cell-00", "cell-01", "cell-02", "cell-03"]
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "code", "code"]
    assert nb.cells[1].metadata["nbgrader"]["grade_id"] == "my_f" and nb.cells[1].metadata["hint"] == "return x"
    assert nb.cells[3].source == "%matplotlib inline\nprint(my_f(3))"  # jupytext uncomments magics
    assert nb.metadata == {**build.METADATA, "trimix": {"student_copy": True}}  # jupytext's own header dropped
    assert all(not c.get("outputs") for c in nb.cells)
    assert nbformat.writes(build.notebook_from_source(source)) == nbformat.writes(nb)  # deterministic


@pytest.mark.parametrize("source, words", [
    (HEADER + EXERCISE, "must be followed by its '# CHECK: f' cell"),
    (HEADER + EXERCISE.replace('tags=["exercise"] ', "") + CHECK, "needs the tag 'exercise'"),
    (HEADER + EXERCISE.replace('"grade_id": "my_f"', '"grade_id": "my_g"') + CHECK, '"grade_id": "my_f"'),
    (HEADER + EXERCISE + CHECK.replace('"points": 1, ', ""), '"points": 1'),
    (HEADER + EXERCISE + CHECK + CHECK, "grade_id 'check_f' is used twice"),
    (HEADER + EXERCISE.replace("def my_f(x):", "def my_f(x):\n    pass\n\n\ndef my_g(x):") + CHECK,
     "defines 2 my_<name> functions"),
])
def test_a_source_that_breaks_the_exercise_conventions_is_refused(tmp_path, source, words):
    path = tmp_path / "bad.py"
    path.write_text(source)
    with pytest.raises(ValueError, match="bad.py") as info:
        build.notebook_from_source(path)
    assert words in str(info.value)


def test_check_reports_a_changed_a_missing_and_an_orphan_notebook(tmp_path, monkeypatch):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "01_demo.py").write_text(HEADER + EXERCISE + CHECK)
    (tmp_path / "student").mkdir()
    (tmp_path / "99_old.ipynb").write_text("{}")
    monkeypatch.setattr(build, "HERE", tmp_path)
    monkeypatch.setattr(build, "STUDENT", tmp_path / "student")
    files = build.generated(tmp_path / "src")
    assert sorted(build.stale(files)) == ["01_demo.ipynb: missing", "99_old.ipynb: no source in notebooks/src/ (delete it)"]
    (tmp_path / "01_demo.ipynb").write_text(files[tmp_path / "01_demo.ipynb"].replace("return x", "return 2 * x"))
    assert "01_demo.ipynb: differs from its source" in build.stale(files)
