"""pytest set-up for the whole repository (tests/ and the nbval run over notebooks/).

Tests and notebooks run in quick mode on whatever machine runs them, with a non-interactive matplotlib
backend; both are inherited by the notebook kernels nbval starts.
"""
import os

os.environ.setdefault("TRIMIX_QUICK", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
