"""pytest set-up for the whole repository (tests/ and the nbval run over notebooks/).

Tests and notebooks run in quick mode with a non-interactive matplotlib backend and one torch thread;
the notebook kernels nbval starts inherit all three. One thread because the quick-mode networks are too
small to gain from two, and on a busy 2-core machine OpenMP threads that wait for each other made a
training step 3-10x slower (measured while other jobs ran).
"""
import os
import sys

import pytest

os.environ.setdefault("TRIMIX_QUICK", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_NUM_THREADS", "1")
if "torch" in sys.modules:  # imported already by a plugin: the variable alone would come too late
    sys.modules["torch"].set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


# ---- both cores: pytest-xdist (``-n auto --dist loadgroup`` in pyproject.toml) ----
# Each test file runs whole on one worker, as --dist loadfile would (module fixtures are built once, a
# notebook's cells run in order in one kernel), and notebooks 05-07 share one group: 06 and 07 reuse the run
# notebook 05 trains into notebooks/runs/, so they must run after it, not beside it. 08 trains into a folder
# of its own, and is the longest notebook: it runs beside them.
NOTEBOOKS_IN_ORDER = ("05_", "06_", "07_")
MAX_WORKERS = 4  # each worker holds torch and a notebook kernel in memory


def pytest_xdist_auto_num_workers(config):
    from trimix.config import usable_cores

    return min(MAX_WORKERS, usable_cores())


# tryfirst: xdist's worker turns the marks into groups in a hook of its own, registered after this file, so
# it would run first and see no marks: every item its own group, a notebook's cells spread over two kernels.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        path = item.path
        in_order = path.suffix == ".ipynb" and path.name.startswith(NOTEBOOKS_IN_ORDER)
        group = "notebooks 05-07" if in_order else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))
