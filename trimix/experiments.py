"""Experiment helpers for notebooks 05-08, importable from one place (``from trimix import experiments``).

    method, history = experiments.load_or_pretrain(config)            # notebook 05's run, reused by 06-08
    print(experiments.describe_estimate(experiments.estimate_pretrain_time(config, data)))
    rows = experiments.run_variants(config, experiments.TABLE_VI_VARIANTS, train, test)   # paper Table VI
    print(experiments.format_table(rows))

Each job lives in its own module; this one only gathers their names:

- ``trimix.runs``: reuse a finished run, estimate a run's time, ask before a long one.
- ``trimix.ablations``: the paper's ablations (Tables VI, VII, Fig. 4) as Config changes, run and scored.
- ``trimix.plots_experiments``: their figures.
- ``trimix.stand_in``: an offline stand-in for a MedMNIST target, balanced subsets, a hue (nuisance) label.
"""
from trimix.ablations import (
    FIG4_BATCH_SIZES,
    FIG4_DIMS,
    PAPER_TABLE_VI,
    PAPER_TABLE_VII,
    TABLE_VI_VARIANTS,
    TABLE_VII_VARIANTS,
    batch_dim_grid,
    format_table,
    run_variants,
)
from trimix.plots_experiments import plot_batch_dim, plot_variants
from trimix.runs import (
    QUICK_PRETRAIN_STEPS,
    ChooseRun,
    confirm_long_run,
    describe_estimate,
    estimate_pretrain_time,
    format_duration,
    load_or_pretrain,
    pretrain_run_config,
    steps_done,
    total_steps,
)
from trimix.stand_in import (
    STAND_IN_CLASSES,
    STAND_IN_SPLITS,
    hue_labels,
    load_target_or_stand_in,
    shapes_stand_in,
    subset,
)

__all__ = [
    "FIG4_BATCH_SIZES", "FIG4_DIMS", "PAPER_TABLE_VI", "PAPER_TABLE_VII", "TABLE_VI_VARIANTS", "TABLE_VII_VARIANTS",
    "batch_dim_grid", "format_table", "run_variants", "plot_batch_dim", "plot_variants", "QUICK_PRETRAIN_STEPS",
    "describe_estimate", "estimate_pretrain_time", "format_duration", "load_or_pretrain", "pretrain_run_config",
    "total_steps", "ChooseRun", "confirm_long_run", "steps_done", "STAND_IN_CLASSES", "STAND_IN_SPLITS", "hue_labels", "load_target_or_stand_in",
    "shapes_stand_in", "subset",
]
