"""trimix.assignments.review: code aimed at the grader is flagged for a human; honest work never is."""
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

import trimix.checks  # noqa: F401  (the kit's functions the review compares bodies with)
from trimix.assignments.conventions import check_name, exercise_map
from trimix.assignments.review import looks_outside, review

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
EXERCISES = set(exercise_map(NOTEBOOKS))


def findings(*cells: str) -> list[str]:
    return review(new_notebook(cells=[new_code_cell(c) for c in cells]), EXERCISES,
                  skip=lambda c: check_name(c) is not None)


CHEATS = [  # (cells, words one finding must contain)
    (["import trimix.checks\nfor n in dir(trimix.checks):\n    setattr(trimix.checks, n, lambda f: None)"],
     "setattr on trimix.checks"),
    (["from trimix import checks\nchecks.check_mix_batch = print"], "changes trimix.checks.check_mix_batch"),
    (["from trimix.checks import _core\n_core.close = lambda a, b: True"], "trimix.checks._core"),
    (["import sys, types\nsys.modules['trimix.checks'] = types.ModuleType('x')"], "sys.modules"),
    (["from sys import modules as m\nm.pop('trimix.checks')"], "sys.modules"),
    (["ip = get_ipython()\nip.input_transformers_cleanup.append(lambda lines: [])"], "IPython's shell"),
    (["get_ipython().set_custom_exc((Exception,), lambda *a: None)"], "IPython's shell"),
    (["get_ipython().events.register('post_run_cell', print)"], "IPython's shell"),
    (["import sys\nsys.setprofile(None)"], "sys.setprofile"),
    (["import sys as s\ns.settrace(None)"], "sys.settrace"),
    (["import threading\nthreading.setprofile(None)"], "threading.setprofile"),
    (["import gc\ngc.get_objects()"], "uses gc"),
    (["import trimix\nprint(trimix.__file__)"], "__file__"),
    (["def my_mix_batch(x, lam):\n    return my_mix_batch.__globals__['x']"], "__globals__"),
    (["exec(open('solution.py').read())"], "calls exec"),
    (["x = eval('1 + 1')"], "calls eval"),
    (["import importlib\nm = importlib.import_module('trimix.checks')"], "importlib.import_module"),
    (["import glob\nfor p in glob.glob('../*/02_mixup_views.ipynb'):\n    open(p, 'w').write('{}')"], "outside"),
    (["open('/home/alice/answers.ipynb').read()"], "outside"),
    (["from pathlib import Path\nPath.cwd().parent.joinpath('bob')"], "folder above"),
    (["!cat ../bob/02_mixup_views.ipynb"], "outside"),
    (["%run ~/solutions.ipynb"], "outside"),
    (["import os\nos.chdir('data')"], "os.chdir"),
    (["import subprocess\nsubprocess.run(['ls'])"], "subprocess"),
    (["import os\nos._exit(0)"], "os._exit"),
    (["import trimix\ndef my_mix_batch(x, lam):\n    return trimix.mix_batch(x, lam)"], "the kit's own answer"),
    (["from trimix.mixing import mix_batch as mb\ndef my_mix_batch(x, lam):\n    return mb(x, lam)"],
     "the kit's own answer"),
    (["import trimix\nf = trimix.mix_batch\ndef my_mix_batch(x, lam):\n    return f(x, lam)"],
     "the kit's own answer"),
    (["import trimix\nmy_mix_batch = trimix.mix_batch"], "binds my_mix_batch to the kit's"),
    (["from trimix.mixing import check_lambda, flip\n"
      "def my_mix_batch(x, lam):\n    lam = check_lambda(lam)\n    if x.dim() < 1 or x.shape[0] < 2:\n"
      "        raise ValueError(f'x must be a batch of at least 2 samples along dim 0, got shape {tuple(x.shape)}')\n"
      "    return lam * x + (1.0 - lam) * flip(x)"], "copies the kit's trimix.mixing.mix_batch"),
    (["import trimix\ntrimix.mix_batch = lambda x, lam: x"], "changes trimix.mix_batch"),
    (["import torch\ntorch.allclose = lambda *a, **k: True"], "changes torch.allclose"),
]


@pytest.mark.parametrize("cells, words", CHEATS, ids=[w + f"-{i}" for i, (_, w) in enumerate(CHEATS)])
def test_each_kind_of_cheat_is_flagged_with_its_cell(cells, words):
    found = findings("import torch", *cells)
    assert any(words in f and f.startswith("cell 1:") for f in found), found


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")) + sorted((NOTEBOOKS / "student").glob("*.ipynb")),
                         ids=lambda p: p.parent.name + "/" + p.name)
def test_the_notebooks_themselves_are_never_flagged(path):
    assert review(nbformat.read(path, as_version=4), EXERCISES, skip=lambda c: check_name(c) is not None) == []


HONEST = [  # ways students really write the exercises and the cells around them
    "import torch\nimport torch.nn.functional as F\nfrom IPython.display import display, Markdown\n%matplotlib inline",
    "def my_mix_batch(x, lam):\n    '''(B, ...) -> (B, ...): eq 5, see ./notes.md'''\n    rev = torch.flip(x, dims=(0,))"
    "\n    return lam * x + (1 - lam) * rev",
    "def my_mix_batch(x: torch.Tensor, lam: float) -> torch.Tensor:\n    return lam * x + (1 - lam) * x[range(len(x) - 1,"
    " -1, -1)]",
    "def my_batch_standardize(z):\n    mu, sd = z.mean(dim=0), z.std(dim=0)\n    return (z - mu) / sd",
    "def my_predicted_matrix(z, z_vrt, tau=2.0):\n    v = trimix.feature_standardize(trimix.batch_standardize(z_vrt))"
    "\n    return torch.softmax(trimix.batch_standardize(z) @ v.T / z.shape[1] / tau, dim=1)",
    "def my_trimix_loss(z1, z2, z_vrt, lam, alpha=5e-3, beta=1000.0, gamma=200.0, tau=2.0):\n"
    "    parts = {'bt': trimix.barlow_twins_loss(z1, z2, alpha), 'vrt': trimix.virtual_embedding_loss(z1, z_vrt, lam, "
    "tau), 'con': my_self_consistency_loss(z1, z_vrt, lam)}\n    return parts['bt'] + beta * parts['vrt'] + gamma * "
    "parts['con'], parts",
    "from trimix.checks import check_mix_batch\ncheck_mix_batch(my_mix_batch)  # run the check again",
    "import os\nos.makedirs('figures', exist_ok=True)\nplt.savefig('figures/lambda.png')\nprint(f'{lam} / {1 - lam}')",
    "from pathlib import Path\nout = Path('runs') / 'quick'\nprint(out.resolve().name, 'a/b', '1/2', ' / ')",
    "import time\nstart = time.time()\nfor step in range(3):\n    pass\nprint(f'{time.time() - start:.1f} s')",
    "%%time\nx = torch.randn(8, 3)\nassert torch.allclose(my_mix_batch(x, 1.0), x)",
    "!ls\n%pip install -q seaborn",
    "try:\n    import trimix\nexcept ImportError:\n    %pip install -q 'trimix @ git+https://github.com/trimix-kit/trimix'",
    "import sys\nprint(sys.version, file=sys.stderr)",
    "import numpy as np\nfrom torch import nn\nlayer = nn.Linear(3, 3)\nlayer.weight.data.fill_(0.0)",
]


@pytest.mark.parametrize("cell", HONEST, ids=range(len(HONEST)))
def test_honest_work_is_never_flagged(cell):
    assert findings("import torch\nimport trimix\nimport matplotlib.pyplot as plt", cell) == []


def test_paths_outside_the_folder():
    assert [looks_outside(s) for s in ("../x", "/etc/passwd", "~/a", "C:\\\\Users", "a/../../b")] == [True] * 5
    assert [looks_outside(s) for s in ("runs/quick", "/", " / ", "https://x.org/a", "1/2", "(B, ...)")] == [False] * 6
