"""``python -m trimix reproduce EXPERIMENT --scale quick|small|paper``: rerun a table or figure of the paper.

    python -m trimix reproduce table1 --scale quick                   # built-in data, minutes on a CPU
    python -m trimix reproduce table1 --scale small --dataset folder:data/cifar10-jpeg --seeds 1 trimix=3
    python -m trimix reproduce all --scale paper --plan               # the distinct runs and their projected time
    python -m trimix reproduce all --scale paper --download           # the paper's runs: a GPU's job

Outputs go to ``results/<scale>/<experiment>/`` (``trimix.reproduce.report``), the runs they share to
``results/<scale>/runs/``. Heavy imports wait until the command runs, so that ``python -m trimix --help``
stays fast.
"""
from __future__ import annotations

import argparse
import dataclasses
import platform
import sys
from datetime import datetime, timezone

EXPERIMENT_HELP = ("table1 (kNN + linear, natural), table2 (semi-supervised, natural), table3 / table4 (the same "
                   "on MedMNIST), table5 (transfer natural -> medical), table6 (loss-term ablation), table7 "
                   "(terms on Y or Z), fig4 (batch x projector size), all, or curve (beyond the paper: kNN accuracy "
                   "of TriMix, Barlow Twins and SimCLR after 1, 2, 4 and 8 times the scale's budget)")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``reproduce`` subcommand to ``python -m trimix``."""
    p = sub.add_parser("reproduce", help="rerun one of the paper's tables or Fig. 4 (or all) at a chosen scale",
                       description=f"Rerun one of the paper's tables or Fig. 4: {EXPERIMENT_HELP}.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("experiment", metavar="EXPERIMENT", nargs="+", help=EXPERIMENT_HELP)
    p.add_argument("--scale", default="quick", help="quick (built-in data, CPU minutes), small (real data on a "
                   "CPU, see docs/results.md) or paper (the paper's configuration, for a GPU)")
    p.add_argument("--seeds", nargs="+", default=["1"], metavar="N | METHOD=N",
                   help="pretraining seeds per row (mean ± std), and per method where METHOD=N says so, "
                   "e.g. --seeds 1 trimix=3 barlow_twins=3")
    p.add_argument("--dataset", nargs="+", default=None, metavar="NAME",
                   help="replace the scale's pretraining datasets, e.g. folder:data/cifar10-jpeg")
    p.add_argument("--medical", nargs="+", default=None, metavar="NAME",
                   help="replace the scale's MedMNIST sets (Table V's transfer targets; Tables III and IV's "
                   "datasets when --dataset is not given), e.g. --medical bloodmnist")
    p.add_argument("--root", default="data", help="folder where datasets are stored / downloaded")
    p.add_argument("--download", action="store_true", help="download missing datasets into --root")
    p.add_argument("--plan", action="store_true", help="print the distinct pretraining runs and their projected "
                   "time, and train nothing")
    p.add_argument("--yes", action="store_true", help="do not ask before a paper-scale run on a CPU")
    p.add_argument("--results", default="results", help="where results/<scale>/ goes")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--max-steps", type=int, default=None,
                   help="knob for smoke tests: stop every pretraining run after N steps (own results folder)")
    p.add_argument("--eval-epochs", type=int, default=None,
                   help="knob for smoke tests: at most N linear-probe / fine-tuning epochs (own results folder)")
    p.add_argument("--max-images", type=int, default=None,
                   help="knob for smoke tests: a stratified subset of N images per split (own results folder)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_reproduce)


def cmd_reproduce(args: argparse.Namespace) -> int:
    reproduce(args.experiment, args.scale, seeds=args.seeds, datasets=args.dataset, medical=args.medical,
              root=args.root, download=args.download, yes=args.yes, results=args.results, device=args.device,
              max_steps=args.max_steps, eval_epochs=args.eval_epochs, max_images=args.max_images,
              progress=not args.no_progress, plan_only=args.plan)
    return 0


def scale_label(scale: str, max_steps: int | None, eval_epochs: int | None, max_images: int | None) -> str:
    """The results folder of a scale; runs shrunk by a knob get their own (``quick-steps2-eval1-images200``)."""
    knobs = [f"{name}{value}" for name, value in (("steps", max_steps), ("eval", eval_epochs),
                                                  ("images", max_images)) if value is not None]
    return "-".join([scale, *knobs])


def command_line(experiment: str, scale: str, seeds: list[str], datasets, root: str, download: bool,
                 max_steps, eval_epochs, max_images, medical=None) -> str:
    """The ``python -m trimix reproduce`` command that makes one experiment's results again."""
    parts = ["python -m trimix reproduce", experiment, "--scale", scale, "--seeds", *seeds]
    parts += ["--dataset", *datasets] if datasets else []
    parts += ["--medical", *medical] if medical else []
    parts += ["--root", root] if root != "data" else []
    parts += ["--download"] if download else []
    for name, value in (("--max-steps", max_steps), ("--eval-epochs", eval_epochs), ("--max-images", max_images)):
        parts += [name, str(value)] if value is not None else []
    return " ".join(parts)


def reproduce(experiments: list[str] | str, scale: str = "quick", *, seeds=("1",), datasets: list[str] | None = None,
              medical: list[str] | None = None,
              root: str = "data", download: bool = False, yes: bool = False, results: str = "results",
              device: str = "auto", max_steps: int | None = None, eval_epochs: int | None = None,
              max_images: int | None = None, progress: bool = True, plan_only: bool = False) -> dict[str, list[str]]:
    """Run the named experiments (or "all") at ``scale``; returns {experiment: files written}.

    Every distinct pretraining run is trained once and scored by every table that needs it. Every dataset
    is loaded (and checked) before the first run; at the paper scale the projected time is printed first,
    and on a CPU the run starts only with ``yes`` or a "y" typed at a terminal. ``plan_only``: print the plan
    and its projected time, train nothing.
    """
    import torch

    from trimix.device import resolve_device
    from trimix.reproduce.engine import execute_plan
    from trimix.reproduce.plan import make_plan, parse_seeds
    from trimix.reproduce.records import get_experiments
    from trimix.reproduce.report import write_outputs
    from trimix.reproduce.scales import DataCache, get_scale

    names = [experiments] if isinstance(experiments, str) else list(experiments)
    records = list({e.name: e for name in names if name != "curve" for e in get_experiments(name)}.values())
    seeds = [str(s) for s in seeds]
    default_seeds, method_seeds = parse_seeds(seeds)
    chosen = get_scale(scale).capped(eval_epochs)
    label = scale_label(scale, max_steps, eval_epochs, max_images)
    if medical:  # e.g. only the MedMNIST sets a machine without internet has
        chosen = dataclasses.replace(chosen, medical=tuple(medical))
    changes = {"device": device, "root": root, **({"max_steps": max_steps} if max_steps is not None else {})}
    plan = make_plan(records, chosen, seeds=default_seeds, method_seeds=method_seeds, datasets=datasets,
                     results=results, label=label, changes=changes)
    on = resolve_device(device)
    data = DataCache(root, download, max_images)
    written = {}
    if "curve" in names and not plan_only:
        from trimix.reproduce.curve import CURVE_METHODS, POINTS, learning_curve

        if scale == "paper" and on.type != "cuda" and not yes:  # as the tables' paper scale: ask first
            raise ValueError(f"not started: the paper-scale curve trains each method {max(POINTS)} x the paper's "
                             "200 epochs, a GPU's job; pass --yes to run it on this CPU anyway")

        command = command_line("curve", scale, seeds, datasets, root, download, max_steps, eval_epochs, max_images)
        curve_seeds = {m: method_seeds.get(m, default_seeds) for m in CURVE_METHODS}
        written["curve"] = learning_curve(chosen, data, plan.folder / "curve", command, datasets, curve_seeds,
                                          changes, progress)
        print(f"Learning curve: {plan.folder / 'curve' / 'curve.md'}")
    if plan_only:
        print_plan(plan, on)
        return {}
    for run in plan.runs:  # every dataset now: a missing one fails in a second, not after hours of training
        for evaluation in plan.evaluations(run):
            data(evaluation.dataset, "train"), data(evaluation.dataset, "test")
    if scale == "paper":
        _confirm_paper_scale(plan, on, yes)
    machine = (torch.cuda.get_device_name(on) if on.type == "cuda" else
               f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)")
    notes = [f"Run on {machine}, torch {torch.__version__}; last invoked "
             f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.", ""]
    if max_images is not None or max_steps is not None or eval_epochs is not None:
        notes += ["Shrunk by smoke-test knobs (--max-steps / --eval-epochs / --max-images): these are not the "
                  f"{scale} scale's results, and a --max-images subset has no `pretrain` command equivalent.", ""]
    if not plan.tables:
        return written
    print(f"{len(plan.tables)} table(s), {len(plan.runs)} distinct encoder(s) at the {scale} scale into {plan.folder}")
    outcome = execute_plan(plan, data, progress)
    for table in plan.tables:
        command = command_line(table.experiment.name, scale, seeds, datasets, root, download, max_steps,
                               eval_epochs, max_images, medical)
        written[table.experiment.name] = write_outputs(table, chosen, outcome, command, notes)
        print(f"{table.experiment.title}: {table.folder / 'table.md'}")
    return written


def projected_seconds(plan, device) -> tuple[float, dict, str]:
    """Projected seconds of every pretraining step the plan still has to train, per run, and how."""
    from trimix.checkpoint import CHECKPOINT_NAME, load_checkpoint
    from trimix.projection import seconds_per_flop, step_flops
    from trimix.reproduce.runner import planned_steps

    per_flop, how = seconds_per_flop(device)
    per_run = {}
    for run in plan.runs:
        if not run.pretrained:
            continue
        checkpoint = run.folder / CHECKPOINT_NAME
        done = load_checkpoint(checkpoint)["step"] if checkpoint.exists() else 0
        size = _image_size(run.dataset)
        per_run[run.folder] = max(0, planned_steps(run) - done) * step_flops(run.config, size) * per_flop
    return sum(per_run.values()), per_run, how


def _image_size(dataset: str) -> int:
    from trimix.data import DATASETS
    from trimix.reproduce.scales import STAND_IN

    info = DATASETS.get(dataset.lower())
    return info.image_size if info else 28 if dataset == STAND_IN else 32


def print_plan(plan, device) -> None:
    """One line per distinct pretraining run, then ``N pretraining runs, projected T on DEVICE``."""
    from trimix.reproduce.runner import planned_steps
    from trimix.runs import format_duration

    from trimix.projection import ASSUMED_MFU, PROJECTED_CARDS, step_flops

    total, per_run, how = projected_seconds(plan, device)
    flops = sum(planned_steps(r) * step_flops(r.config, _image_size(r.dataset)) for r in plan.runs if r.pretrained)
    for run in plan.runs:
        if run.pretrained:
            print(f"{run.folder.relative_to(plan.folder)}: {planned_steps(run):,} steps, "
                  f"{format_duration(per_run[run.folder])}")
    print(f"({how}; tables: {', '.join(t.experiment.name for t in plan.tables)}; "
          f"{sum(not r.pretrained for r in plan.runs)} untrained encoder(s) are scored too)")
    cards = ", ".join(f"{card} {format_duration(flops / (tflops * 1e12 * ASSUMED_MFU))}" for card, tflops in PROJECTED_CARDS)
    print(f"{flops / 1e18:,.1f} EFLOP in all; on one GPU at {ASSUMED_MFU:.0%} of its peak (trimix.projection): {cards}")
    print(f"{len(per_run)} pretraining runs, projected {format_duration(total)} on {device}")


def _confirm_paper_scale(plan, device, yes: bool) -> None:
    """Print the projected pretraining time; on a CPU go on only with ``yes`` or a typed "y"."""
    from trimix.runs import format_duration

    seconds, per_run, how = projected_seconds(plan, device)
    print(f"The paper scale: {len(per_run)} pretraining runs, projected to take about {format_duration(seconds)} "
          f"of pretraining on {device} ({how}); evaluation comes on top.", flush=True)
    if device.type == "cuda" or yes:
        return
    if not sys.stdin.isatty():
        raise ValueError(f"not started: --scale paper without a GPU would take about {format_duration(seconds)}; "
                         "pass --yes to run it anyway (stdin is not a terminal, so there was no one to ask)")
    if input("No GPU here. Start anyway? [y/N] ").strip().lower() not in ("y", "yes"):
        raise ValueError("not started (answered no)")
