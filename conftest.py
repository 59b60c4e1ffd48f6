"""pytest set-up for the whole repository (tests/ and the nbval run over notebooks/).

Tests and notebooks run in quick mode with a non-interactive matplotlib backend and one torch thread;
the notebook kernels nbval starts inherit all three. One thread because the quick-mode networks are too
small to gain from two, and on a busy 2-core machine OpenMP threads that wait for each other made a
training step 3-10x slower (measured while other jobs ran).
"""
import os
import sys

os.environ.setdefault("TRIMIX_QUICK", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_NUM_THREADS", "1")
if "torch" in sys.modules:  # imported already by a plugin: the variable alone would come too late
    sys.modules["torch"].set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
