"""Reproduce the paper's Tables I-VII and Fig. 4 with one command (``python -m trimix reproduce``).

    from trimix.reproduce import reproduce
    reproduce("table1", "quick")        # -> results/table1/quick/{table.md, table.csv, runs.md, runs.jsonl}

Modules: ``paper_tables`` (the paper's own numbers), ``scales`` (quick / small / paper), ``plan`` (the runs
of each experiment), ``runner`` (run or reuse one run), ``report`` (the files written), ``cli``.
"""
from trimix.reproduce.cli import register, reproduce

__all__ = ["register", "reproduce"]
