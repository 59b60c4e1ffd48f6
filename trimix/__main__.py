"""Command line: ``python -m trimix pretrain ...``, ``evaluate``, ``bench train`` and ``assignments``.

Every option defaults to the paper's value (section IV-A); ``--quick`` (or ``TRIMIX_QUICK=1``) switches to
the CPU-sized quick mode on the built-in dataset. Results are printed as a small table and written as JSON
next to the checkpoint. ``torchrun --nproc_per_node=N -m trimix pretrain ...`` trains with N processes
(``trimix.distributed``); rank 0 alone prints, saves and evaluates.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from trimix import protocols
from trimix.config import QUICK_OVERRIDES, Config, default_config, quick_requested, use_default_threads
from trimix.data import DATASETS, load_dataset, pretrain_split
from trimix.methods import METHODS

def _config_from_args(args: argparse.Namespace) -> Config:
    quick = args.quick or quick_requested()
    given = {f.name: getattr(args, f.name) for f in _cli_fields() if getattr(args, f.name) is not None}
    if "sync_bn" not in given:  # --sync-bn follows --gather: with both, N processes compute what one does at batch B
        given["sync_bn"] = bool(given.get("gather"))
    return default_config(quick=quick, **given)


def _cli_fields() -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(Config) if f.metadata["cli"]]


def _add_pretrain_options(p: argparse.ArgumentParser) -> None:
    """One option per field of ``Config`` (its help and defaults come from there), and ``--quick``."""
    defaults, names = Config(), {"methods": ", ".join(sorted(METHODS)), "datasets": ", ".join(DATASETS)}
    for f in _cli_fields():
        default = getattr(defaults, f.name)
        quick = f", quick: {QUICK_OVERRIDES[f.name]}" if f.name in QUICK_OVERRIDES else ""
        help_text = f"{f.metadata['help'].format(**names)} [default: {default}{quick}]"
        if isinstance(default, bool):  # --flag / --no-flag
            p.add_argument("--" + f.name.replace("_", "-"), action=argparse.BooleanOptionalAction, default=None,
                           help=help_text)
        else:
            p.add_argument("--" + f.name.replace("_", "-"), type=f.metadata["type"] or type(default), default=None,
                           help=help_text)
    p.add_argument("--quick", action="store_true", help="CPU-sized run on the built-in dataset (also TRIMIX_QUICK=1)")


def _print_table(title: str, rows: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in rows)
    print(f"\n{title}\n" + "-" * (width + 12))
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


def _write_json(path: Path, results: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {path}")


RAW_PIXELS_MAX = 2**28  # pixels of a training set scored as raw pixels (float32 features: 1 GiB at most)


def _fit_epochs_to_max_steps(config: Config, num_images: int, epochs_given: bool) -> Config:
    """``--max-steps`` wins over a default ``epochs`` that would stop the run earlier (quick mode's, say);
    when both were given and ``epochs`` stops first, say so rather than stop silently."""
    per_epoch = num_images // config.batch_size
    if config.max_steps is None or per_epoch == 0 or config.max_steps <= per_epoch * config.epochs:
        return config
    if epochs_given:
        print(f"note: {config.epochs} epochs of {per_epoch} steps end the run at step {per_epoch * config.epochs}, "
              f"before --max-steps {config.max_steps}; raise --epochs to run longer")
        return config
    epochs = -(-config.max_steps // per_epoch)  # ceil
    print(f"note: --max-steps {config.max_steps} needs {epochs} epochs of {per_epoch} steps; "
          f"running {epochs} epochs instead of {config.epochs}")
    return config.replace(epochs=epochs)


def _confirm_long_run(config: Config, train, args: argparse.Namespace) -> None:
    """Time a few steps; when the run left is longer than an hour, say so and ask (y/N) on a terminal, or
    stop (``RunNotStarted``) without one, unless ``--yes``. The caller skips it in quick mode and under
    torchrun, where every process would time steps on the shared GPUs, only rank 0 could ask, and the
    machine was chosen on purpose."""
    from trimix import runs

    estimate = runs.project_run(config, train, done_steps=0 if args.no_resume else runs.steps_done(config))
    print(f"projected: {runs.describe_estimate(estimate)} ({estimate['device']})")
    if estimate["remaining_seconds"] <= runs.LONG_RUN_SECONDS or args.yes:
        return
    message = runs.long_run_message(config, estimate)
    if sys.stdin is not None and sys.stdin.isatty():
        print(message)
        if input("Start it anyway? [y/N] ").strip().lower() in ("y", "yes"):
            return
        raise RunNotStarted("not started")
    raise RunNotStarted(f"{message}\nNot started: add --yes to start it anyway.")


class RunNotStarted(Exception):
    """The run would be long and was not confirmed; the message says why and what else to do."""


def cmd_pretrain(args: argparse.Namespace) -> int:
    from trimix import distributed
    from trimix.evaluate import RawPixels, score_encoder
    from trimix.device import describe as describe_device
    from trimix.device import resolve_device
    from trimix.train import build_method, pretrain

    config = _config_from_args(args)
    procs = distributed.setup(resolve_device(config.device))  # under torchrun: join before loading the data
    try:
        with distributed.main_first(procs):  # rank 0 downloads; the others then read what it wrote
            train = load_dataset(config.dataset, pretrain_split(config.dataset), root=config.root,
                                 download=config.download and procs.is_main)  # decoded once
        config = _fit_epochs_to_max_steps(config, len(train), epochs_given=args.epochs is not None)
        if procs.is_main:
            print(f"{config.method} on {config.dataset}: "
                  f"{describe_device(procs.device, config.precision, config.deterministic)}")
        if not config.quick and not distributed.launched_by_torchrun():
            _confirm_long_run(config, train, args)
        result = pretrain(config, data=train, resume=not args.no_resume, progress=not args.no_progress)
    finally:
        distributed.shutdown()  # under torchrun; rank 0 goes on alone from here
    if not distributed.is_main_process():
        return 0
    results = {"config": config.to_dict(), "steps": result.steps, "seconds": round(result.seconds, 1),
               "final_loss": {k: v[-1] for k, v in result.history.items() if k not in ("step", "epoch")}}
    rows = [("steps", str(result.steps)), ("seconds", f"{result.seconds:.1f}"),
            ("final loss", f"{results['final_loss'].get('total', float('nan')):.4g}")]
    if not args.no_eval:
        test = load_dataset(config.dataset, "test", root=config.root)
        if pretrain_split(config.dataset) != "train":  # STL-10: scored with its labelled training images
            train = load_dataset(config.dataset, "train", root=config.root)
        device = distributed.process_device(resolve_device(config.device))
        # Two yardsticks: the same network untrained (same initialisation), and the pixels themselves
        # (flattened, centred): a gap over both is learning, not an easy dataset.
        encoders = {"trained": ("trained encoder", result.method.net),
                    "random": ("random encoder", build_method(config, train.image_size).net)}
        if train.images.numel() <= RAW_PIXELS_MAX:  # CIFAR-10's 50,000 x 3,072 pixels fit; Tiny ImageNet's not
            encoders["raw_pixels"] = ("raw pixels", RawPixels(train.images))
        for key, (name, net) in encoders.items():
            acc = score_encoder(net, train, test, ("knn",), knn=protocols.from_options(args, "knn"),
                                device=device)["knn"]
            results[f"knn_{key}"] = acc
            rows.append((f"kNN accuracy, {name}", f"{acc:.2f} %"))
    _print_table(f"{config.method} on {config.dataset}", rows)
    _write_json(result.checkpoint.parent / "results.json", results)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from trimix.device import resolve_device
    from trimix.evaluate import FROZEN_PROTOCOLS, score_encoder
    from trimix.finetune import finetune, transfer
    from trimix.train import build_method, method_from_checkpoint

    device = resolve_device(args.device)
    method, config, state = method_from_checkpoint(args.checkpoint, map_location=device)
    dataset, root = args.dataset or config.dataset, args.root or config.root
    train = load_dataset(dataset, "train", root=root, download=args.download)
    test = load_dataset(dataset, "test", root=root, download=args.download)
    knn, linear, tune = (protocols.from_options(args, name) for name in ("knn", "linear", "finetune"))
    encoders = {"trained": method.net.backbone}
    if args.random_baseline:
        encoders["random"] = build_method(config, state["image_size"]).net.backbone
    results: dict = {"checkpoint": str(args.checkpoint), "dataset": dataset,
                     "protocols": {p: protocols.key(v) for p, v in (("knn", knn), ("linear", linear), ("finetune", tune))}}
    rows = []
    frozen = [p for p in args.protocols if p in FROZEN_PROTOCOLS]  # kNN and linear share one feature extraction
    described = {"knn": protocols.describe(knn), "linear": protocols.describe(linear)}
    for name, backbone in encoders.items():
        backbone = backbone.to(device)
        for protocol, acc in score_encoder(backbone, train, test, frozen, knn, linear, device=device).items():
            results[f"{name}/{protocol}"] = acc
            rows.append((f"{name}: {described[protocol]}", f"{acc:.2f} %"))
        if "finetune" in args.protocols:
            for fraction in args.fractions:
                out = finetune(backbone, train, test, fraction, **dataclasses.asdict(tune), device=device)
                results[f"{name}/finetune_{fraction:g}"] = out["accuracy"]
                rows.append((f"{name}: fine-tuned on {fraction:.0%} of the labels", f"{out['accuracy']:.2f} %"))
        for target in args.transfer:
            t_train = load_dataset(target, "train", root=root, download=args.download)
            t_test = load_dataset(target, "test", root=root, download=args.download)
            out = transfer(backbone, state["image_size"], t_train, t_test, **dataclasses.asdict(linear), device=device)
            results[f"{name}/transfer_{target}"] = out["accuracy"]
            rows.append((f"{name}: transfer to {target}", f"{out['accuracy']:.2f} %"))
    _print_table(f"evaluation of {args.checkpoint} on {dataset}", rows)
    folder = Path(args.checkpoint) if Path(args.checkpoint).is_dir() else Path(args.checkpoint).parent
    _write_json(folder / "evaluation.json", results)
    return 0


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m trimix", description="TriMix teaching kit: pretrain and evaluate.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("pretrain", help="pretrain an encoder, then score it with kNN beside a random encoder")
    _add_pretrain_options(p)
    p.add_argument("--no-resume", action="store_true", help="ignore an existing checkpoint in --out-dir")
    p.add_argument("--yes", action="store_true",
                   help="start a run projected to take over an hour without asking (not quick mode: steps are timed first)")
    p.add_argument("--no-eval", action="store_true", help="skip the kNN evaluation after pretraining")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    protocols.add_options(p, "knn")  # the kNN evaluation after pretraining
    p.set_defaults(func=cmd_pretrain)

    e = sub.add_parser("evaluate", help="evaluate a pretrained checkpoint (kNN, linear, semi-supervised, transfer)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    e.add_argument("checkpoint", help="a checkpoint.pt written by pretrain, or its folder")
    e.add_argument("--protocols", nargs="+", default=["knn", "linear"], choices=["knn", "linear", "finetune"],
                   help="which protocols to run (finetune: Tables II, IV; transfer is --transfer)")
    e.add_argument("--dataset", default=None, help="dataset to evaluate on [default: the pretraining dataset]")
    e.add_argument("--root", default=None, help="dataset folder [default: the pretraining one]")
    e.add_argument("--download", action="store_true", help="download missing datasets")
    e.add_argument("--fractions", type=float, nargs="+", default=[0.01, 0.1, 1.0],
                   help="labelled fractions for finetune")
    for name in protocols.PROTOCOLS:  # --knn-k, --linear-epochs, --finetune-epochs, ...: trimix.protocols
        protocols.add_options(e, name)
    e.add_argument("--transfer", nargs="*", default=[], help="datasets to transfer to with a linear probe (Table V)")
    e.add_argument("--random-baseline", action="store_true", help="also score a random encoder of the same shape")
    e.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    e.set_defaults(func=cmd_evaluate)

    from trimix import assignments  # build student copies / grade submissions (docs/instructors.md)

    assignments.register(sub)
    from trimix import reproduce  # rerun the paper's tables and Fig. 4 (docs/results.md)

    reproduce.register(sub)
    from trimix import benchmark  # python -m trimix bench train

    benchmark.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from trimix.data import DatasetCorruptError, DatasetNotFoundError
    from trimix.train import CheckpointError, NonFiniteLossError

    args = make_parser().parse_args(argv)
    use_default_threads()  # 1 thread on a 2-core machine unless OMP_NUM_THREADS says otherwise (config.py)
    try:
        return args.func(args)
    except (ValueError, DatasetNotFoundError, DatasetCorruptError, CheckpointError, NonFiniteLossError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except RunNotStarted as e:
        print(e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
