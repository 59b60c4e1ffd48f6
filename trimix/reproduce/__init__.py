"""Reproduce the paper's Tables I-VII and Fig. 4: one engine, driven by one record per table.

    python -m trimix reproduce table1 --scale quick          # -> results/quick/table1/{table.md, table.png, ...}
    from trimix.reproduce.engine import run_experiments      # the same from Python (notebooks 07-08)

Modules, in the order data flows: ``records`` (each table or figure as an ``Experiment``), ``paper_tables``
(the paper's own numbers), ``scales`` (quick / small / paper: base configuration, datasets, protocols),
``plan`` (records -> the distinct runs to pretrain and what each table scores them with), ``runner`` (run or
reuse one run, cache its scores), ``engine`` (a whole plan), ``report`` and ``plots`` (the files written),
``cli`` (the command).
"""
from trimix.reproduce.cli import register, reproduce

__all__ = ["register", "reproduce"]
