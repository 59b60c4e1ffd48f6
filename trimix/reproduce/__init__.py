"""Reproduce the paper's Tables I-VII and Fig. 4 (``python -m trimix reproduce``).

Modules: ``paper_tables`` (the paper's own numbers).
"""
