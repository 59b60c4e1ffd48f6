"""``python -m trimix reproduce EXPERIMENT --scale quick|small|paper``: rerun a table or figure of the paper.

    python -m trimix reproduce table1 --scale quick                   # built-in data, minutes on a CPU
    python -m trimix reproduce table1 --scale small --dataset folder:data/cifar10-jpeg --seeds 1 trimix=3
    python -m trimix reproduce all --scale paper --download           # the paper's runs: a GPU's job

Outputs go to ``results/<experiment>/<scale>/`` (``trimix.reproduce.report``). Heavy imports wait until
the command runs, so that ``python -m trimix --help`` stays fast.
"""
from __future__ import annotations

import argparse
import platform
import sys
from datetime import datetime, timezone

EXPERIMENT_HELP = ("table1 (kNN + linear, natural), table2 (semi-supervised, natural), table3 / table4 (the same "
                   "on MedMNIST), table5 (transfer natural -> medical), table6 (loss-term ablation), table7 "
                   "(terms on Y or Z), fig4 (batch x projector size), or all")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``reproduce`` subcommand to ``python -m trimix``."""
    p = sub.add_parser("reproduce", help="rerun one of the paper's tables or Fig. 4 (or all) at a chosen scale",
                       description=f"Rerun one of the paper's tables or Fig. 4: {EXPERIMENT_HELP}.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("experiment", metavar="EXPERIMENT", help=EXPERIMENT_HELP)
    p.add_argument("--scale", default="quick", help="quick (built-in data, CPU minutes), small (real data on a "
                   "CPU, see docs/results.md) or paper (the paper's configuration, for a GPU)")
    p.add_argument("--seeds", nargs="+", default=["1"], metavar="N | METHOD=N",
                   help="pretraining seeds per row (mean ± std), and per method where METHOD=N says so, "
                   "e.g. --seeds 1 trimix=3 barlow_twins=3")
    p.add_argument("--dataset", nargs="+", default=None, metavar="NAME",
                   help="replace the scale's datasets (for table5: the sources), e.g. folder:data/cifar10-jpeg")
    p.add_argument("--root", default="data", help="folder where datasets are stored / downloaded")
    p.add_argument("--download", action="store_true", help="download missing datasets into --root")
    p.add_argument("--yes", action="store_true", help="do not ask before a paper-scale run on a CPU")
    p.add_argument("--results", default="results", help="where results/<experiment>/<scale>/ goes")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--max-steps", type=int, default=None,
                   help="knob for smoke tests: stop every pretraining run after N steps (own results folder)")
    p.add_argument("--eval-epochs", type=int, default=None,
                   help="knob for smoke tests: at most N linear-probe / fine-tuning epochs (own results folder)")
    p.add_argument("--max-images", type=int, default=None,
                   help="knob for smoke tests: a class-balanced subset of N images per split (own results folder)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_reproduce)


def cmd_reproduce(args: argparse.Namespace) -> int:
    reproduce(args.experiment, args.scale, seeds=args.seeds, datasets=args.dataset, root=args.root,
              download=args.download, yes=args.yes, results=args.results, device=args.device,
              max_steps=args.max_steps, eval_epochs=args.eval_epochs, max_images=args.max_images,
              progress=not args.no_progress)
    return 0


def scale_label(scale: str, max_steps: int | None, eval_epochs: int | None, max_images: int | None) -> str:
    """The results folder of a scale; runs shrunk by a knob get their own (``quick-steps2-eval1-images200``)."""
    knobs = [f"{name}{value}" for name, value in (("steps", max_steps), ("eval", eval_epochs),
                                                  ("images", max_images)) if value is not None]
    return "-".join([scale, *knobs])


def command_line(experiment: str, scale: str, seeds: list[str], datasets, root: str, download: bool, yes: bool,
                 max_steps, eval_epochs, max_images) -> str:
    """The ``python -m trimix reproduce`` command that makes one experiment's results again."""
    parts = ["python -m trimix reproduce", experiment, "--scale", scale, "--seeds", *seeds]
    parts += ["--dataset", *datasets] if datasets else []
    parts += ["--root", root] if root != "data" else []
    parts += ["--download"] if download else []
    parts += ["--yes"] if yes else []
    for name, value in (("--max-steps", max_steps), ("--eval-epochs", eval_epochs), ("--max-images", max_images)):
        parts += [name, str(value)] if value is not None else []
    return " ".join(parts)


def reproduce(experiment: str, scale: str = "quick", *, seeds=("1",), datasets: list[str] | None = None,
              root: str = "data", download: bool = False, yes: bool = False, results: str = "results",
              device: str = "auto", max_steps: int | None = None, eval_epochs: int | None = None,
              max_images: int | None = None, progress: bool = True) -> dict[str, list[str]]:
    """Run ``experiment`` (or "all") at ``scale``; returns {experiment: files written}.

    seeds: as ``--seeds``, e.g. ``["1", "trimix=3"]`` (``plan.parse_seeds``).
    Every dataset is loaded (and checked) before the first run; at the paper scale the projected time is
    printed first, and on a CPU the run starts only with ``yes`` or a "y" typed at a terminal.
    """
    import torch

    from trimix.reproduce.plan import EXPERIMENTS, make_plan, parse_seeds
    from trimix.reproduce.report import write_outputs
    from trimix.reproduce.runner import execute
    from trimix.reproduce.scales import DataCache, dataset_label, get_scale
    from trimix.device import resolve_device

    names = list(EXPERIMENTS) if experiment == "all" else [experiment]
    seeds = [str(s) for s in seeds]
    default_seeds, method_seeds = parse_seeds(seeds)
    chosen = get_scale(scale)
    label = scale_label(scale, max_steps, eval_epochs, max_images)
    changes = {"device": device, "root": root, **({"max_steps": max_steps} if max_steps is not None else {})}
    plans = [make_plan(name, chosen, seeds=default_seeds, method_seeds=method_seeds, datasets=datasets,
                       results=results, label=label, changes=changes, eval_epochs=eval_epochs) for name in names]
    data = DataCache(root, download, max_images)
    for plan in plans:  # every dataset now: a missing one fails in a second, not after hours of training
        for run in plan.runs:
            for name in {run.dataset, *(e.dataset for e in run.evaluations)}:
                data(name, "train"), data(name, "test")
    on = resolve_device(device)
    if scale == "paper":
        _confirm_paper_scale(plans, data, on, yes)
    machine = (f"{torch.cuda.get_device_name(on)}" if on.type == "cuda" else
               f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)")
    when = f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"
    notes = [f"Run on {machine}, torch {torch.__version__}; last invoked {when}.", ""]
    if max_images is not None or max_steps is not None or eval_epochs is not None:
        notes += ["Shrunk by smoke-test knobs (--max-steps / --eval-epochs / --max-images): these are not the "
                  f"{scale} scale's results, and a --max-images subset has no `pretrain` command equivalent.", ""]
    written = {}
    for plan in plans:
        command = command_line(plan.experiment, scale, seeds, datasets, root, download, yes, max_steps,
                               eval_epochs, max_images)
        print(f"\n{EXPERIMENTS[plan.experiment]}: {len(plan.runs)} runs at the {scale} scale into {plan.folder}")
        outcomes = []
        for i, run in enumerate(plan.runs, 1):
            result = execute(run, data, progress=progress)
            outcomes.append(result)
            done = (f"trained {result.trained_steps} steps" if result.trained_steps else
                    "reused the finished run" if not result.evaluated else
                    "the untrained network" if result.steps == 0 else "reused the checkpoint, scored it")
            scores = ", ".join(f"{g} {v:.1f}" for (g, _), v in result.scores.items())
            print(f"[{i}/{len(plan.runs)}] {plan.rows[run.row]} on {dataset_label(run.dataset)}, seed {run.seed}: "
                  f"{done} ({result.steps} steps, {result.train_seconds:.0f} s); {scores}", flush=True)
        written[plan.experiment] = write_outputs(plan, outcomes, command, notes)
        print(f"written: {', '.join(written[plan.experiment])}")
    return written


def _confirm_paper_scale(plans, data, device, yes: bool) -> None:
    """Print the projected pretraining time; on a CPU go on only with ``yes`` or a typed "y"."""
    from trimix.reproduce.runner import projected_seconds
    from trimix.runs import format_duration

    seconds, how = projected_seconds(plans, data)
    runs = sum(r.config.max_steps != 0 for p in plans for r in p.runs)  # the random encoder trains nothing
    print(f"The paper scale: {runs} pretraining runs, projected to take about {format_duration(seconds)} of "
          f"pretraining on {device} ({how}); evaluation comes on top.", flush=True)
    if device.type == "cuda" or yes:
        return
    if not sys.stdin.isatty():
        raise ValueError(f"not started: --scale paper without a GPU would take about {format_duration(seconds)}; "
                         "pass --yes to run it anyway (stdin is not a terminal, so there was no one to ask)")
    if input("No GPU here. Start anyway? [y/N] ").strip().lower() not in ("y", "yes"):
        raise ValueError("not started (answered no)")
