"""The paper's defaults (section IV-A) in one dataclass, and the quick mode that runs on a CPU in seconds.

Quick mode is on when asked for, or when the environment variable ``TRIMIX_QUICK=1`` is set: a narrow
ResNet-18, a small projector, the built-in dataset and short runs.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

# The paper's hyperparameters, defined once: the defaults of Config and of the loss and method signatures.
# TriMix (section IV-A): alpha as in Barlow Twins, beta and gamma found by grid search, tau "widely adopted".
ALPHA = 5e-3
BETA = 1000.0
GAMMA = 200.0
TAU = 2.0
# The baselines' own settings (docs/design.md, the baselines). Everything else (encoder, projector, views, Adam,
# lr, weight decay, batch) is TriMix's, so that a table compares objectives only.
SIMCLR_TEMPERATURE = 0.2  # solo-learn, scripts/pretrain/cifar/simclr.yaml (temperature: 0.2)
BYOL_MOMENTUM = 0.99  # solo-learn, scripts/pretrain/cifar/byol.yaml (base_tau 0.99 -> final_tau 1.0)
BYOL_PREDICTOR_HIDDEN = 4096  # BYOL paper section 3.3 (predictor MLP, hidden 4096); solo-learn pred_hidden_dim
VICREG_SIM_COEFF = 25.0  # VICReg paper section 4.1: lambda = mu = 25, nu = 1 (and solo-learn's cifar vicreg.yaml)
VICREG_STD_COEFF = 25.0
VICREG_COV_COEFF = 1.0


def option(default, help: str, *, must_match: bool = False, cli: bool = True, type: type | None = None):
    """A field of ``Config``: its default, the help of its command-line option (``--name-with-dashes``, made
    by ``trimix.__main__`` from these fields), and whether a checkpoint made with another value may be
    resumed (``must_match``: it may not, the value changes what the run computes; ``must_match_fields``)."""
    return dataclasses.field(default=default,
                             metadata={"help": help, "must_match": must_match, "cli": cli, "type": type})


@dataclass
class Config:
    """Everything a pretraining run depends on, with the paper's values as defaults (section IV-A).

    This is the one list of the settings: the CLI's options, the resume check and the commands the reports
    print are all made from these fields and their metadata (``option``).
    """
    # what to train on
    method: str = option("trimix", "self-supervised method: {methods}", must_match=True)
    dataset: str = option("cifar10", "dataset: {datasets}, or folder:PATH", must_match=True)
    root: str = option("data", "folder where datasets are stored / downloaded")
    download: bool = option(False, "download the dataset into --root if it is missing")
    # network (ResNet-18, 512-d features; projector 3 x 1024)
    width: int = option(64, "channels of ResNet-18's first stage (64 = the real ResNet-18)", must_match=True)
    proj_hidden: int = option(1024, "projector hidden size (paper: 1024)", must_match=True)
    proj_dim: int = option(1024, "projector output size D (paper: 1024)", must_match=True)
    proj_layers: int = option(3, "projector linear layers (paper: 3)", must_match=True)
    # optimisation (Adam, lr 1e-3, wd 1e-6, batch 256, 200 epochs)
    epochs: int = option(200, "pretraining epochs (paper: 200)")
    batch_size: int = option(256, "images per step, over all processes (paper: 256)", must_match=True)
    lr: float = option(1e-3, "Adam learning rate (paper: 1e-3)", must_match=True)
    weight_decay: float = option(1e-6, "Adam weight decay (paper: 1e-6)", must_match=True)
    max_steps: int | None = option(None, "stop after this many steps (quick tries); schedules still span --epochs",
                                   type=int)
    # objective (alpha, beta, gamma, tau)
    alpha: float = option(ALPHA, "weight of the redundancy term in Barlow Twins (paper: 5e-3)", must_match=True)
    beta: float = option(BETA, "weight of the virtual embeddings loss (paper: 1000)", must_match=True)
    gamma: float = option(GAMMA, "weight of the self-consistency loss (paper: 200)", must_match=True)
    tau: float = option(TAU, "softmax temperature of the predicted matrix (paper: 2)", must_match=True)
    feature_norm: bool = option(True, "standardise the virtual embeddings along the features too (Table VI)",
                                must_match=True)
    vrt_on: str = option("z", "L_vrt on the embeddings z (paper) or the backbone features y (Table VII)",
                         must_match=True)
    con_on: str = option("z", "L_con on the embeddings z (paper) or the backbone features y (Table VII)",
                         must_match=True)
    # the baselines' own settings (sources beside the constants above)
    simclr_temperature: float = option(SIMCLR_TEMPERATURE, "SimCLR: NT-Xent temperature (solo-learn CIFAR: 0.2)",
                                       must_match=True)
    byol_momentum: float = option(BYOL_MOMENTUM, "BYOL: starting momentum of the target, raised to 1 by a cosine "
                                  "schedule (0.99)", must_match=True)
    byol_predictor_hidden: int = option(BYOL_PREDICTOR_HIDDEN, "BYOL: hidden size of the predictor MLP (BYOL paper: "
                                        "4096; smaller networks want a smaller one)", must_match=True)
    vicreg_sim_coeff: float = option(VICREG_SIM_COEFF, "VICReg: weight of the invariance (MSE) term (VICReg paper: 25)",
                                     must_match=True)
    vicreg_std_coeff: float = option(VICREG_STD_COEFF, "VICReg: weight of the variance term (25)", must_match=True)
    vicreg_cov_coeff: float = option(VICREG_COV_COEFF, "VICReg: weight of the covariance term (1)", must_match=True)
    # speed and scale (trimix.train, trimix.device, trimix.distributed)
    compile: bool = option(False, "compile the network with torch.compile (off until measured to help: "
                           "python -m trimix bench train --compile)")
    precision: str = option("auto", "auto, bf16, fp16 or fp32; auto: bf16 on GPUs of compute capability 8.0+, fp16 "
                            "with a gradient scaler below (Colab's T4), fp32 on the CPU")
    deterministic: bool = option(False, "bit-identical GPU runs and resumes: deterministic kernels, no cuDNN "
                                 "autotuning (slower)")
    gather: bool = option(False, "under torchrun: the loss sees the global batch, not each process's shard "
                          "(trimix.distributed)", must_match=True)
    sync_bn: bool = option(False, "under torchrun: BatchNorm uses the global batch's statistics [the CLI turns it "
                           "on with --gather]", must_match=True)
    # bookkeeping
    seed: int = option(0, "random seed (CPU runs repeat exactly; GPU runs with --deterministic)", must_match=True)
    device: str = option("auto", "auto (cuda when available, else cpu), cpu, cuda or cuda:N")
    log_every: int = option(10, "record the loss parts every N steps")
    checkpoint_every: int = option(10, "write a checkpoint every N epochs")
    checkpoint_minutes: float = option(5.0, "also write one every M minutes, so a lost session loses little (0: off)")
    out_dir: str = option("runs/default", "where the checkpoint and results.json go")
    quick: bool = option(False, "quick mode's configuration (trimix.config.quick_config)", cli=False)

    def replace(self, **changes) -> "Config":
        """A copy with some fields changed; unknown names are refused."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown config field(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def must_match_fields() -> tuple[str, ...]:
    """The fields a checkpoint must share with the run that resumes it (``option(must_match=True)``)."""
    return tuple(f.name for f in dataclasses.fields(Config) if f.metadata["must_match"])


def command_options(config: Config, base: Config, always: tuple[str, ...] = ()) -> list[str]:
    """The command-line options (``--name value``, ``--flag`` / ``--no-flag``) that turn ``base`` into
    ``config``: every CLI field that differs, and the fields in ``always``."""
    args = []
    for f in dataclasses.fields(Config):
        value = getattr(config, f.name)
        if not f.metadata["cli"] or (value == getattr(base, f.name) and f.name not in always):
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            args.append(flag if value else "--no-" + flag[2:])
        else:
            args += [flag, str(value)]
    return args


# What quick mode changes: the rest keeps the paper's values.
QUICK_OVERRIDES = dict(
    dataset="shapes",
    width=8,
    proj_hidden=128,
    proj_dim=128,
    epochs=4,
    # 300 steps (~3.8 epochs of the built-in data at batch 64) at the paper's lr 1e-3: the trained encoder
    # beats the random one by 10+ points on every seed tried (docs/results.md), in about 1.5 minutes.
    max_steps=300,
    batch_size=64,
    log_every=5,
    checkpoint_every=1,
    out_dir="runs/quick",
    quick=True,
)


def quick_requested() -> bool:
    """True when the environment asks for quick mode (``TRIMIX_QUICK=1``)."""
    return os.environ.get("TRIMIX_QUICK", "").strip().lower() in ("1", "true", "yes", "on")


def paper_config(**changes) -> Config:
    """The paper's configuration, with optional changes."""
    return Config().replace(**changes)


def quick_config(**changes) -> Config:
    """The quick mode: a narrow network, 300 steps on the built-in shapes, about 1.5 minutes on 2 CPU cores."""
    return Config().replace(**{**QUICK_OVERRIDES, **changes})


def default_config(quick: bool | None = None, **changes) -> Config:
    """Quick mode when ``quick`` is True, or when it is None and ``TRIMIX_QUICK=1`` is set; else the paper's."""
    quick = quick_requested() if quick is None else quick
    return quick_config(**changes) if quick else paper_config(**changes)


def auto_config(**changes) -> Config:
    """What notebooks use: quick mode when ``TRIMIX_QUICK=1`` is set or no GPU is present, else the paper's.

    Also sets torch's CPU threads to ``default_threads()`` (1 on a 2-core machine).
    """
    import torch

    use_default_threads()
    quick = quick_requested() or not torch.cuda.is_available()
    return default_config(quick=quick, **changes)


SMALL_CPU_CORES = 2  # at most this many usable cores: one torch thread (bench/threads.py measures why)


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, e.g. a container's share), else all of them."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def default_threads() -> int | None:
    """torch's CPU threads for the CLI and notebooks: 1 on a machine with at most 2 usable cores, None
    (torch's own default, one per core) on larger ones, and None when OMP_NUM_THREADS is set (the user chose).

    Why 1 on 2 cores: torch's OpenMP threads (libgomp) spin at a barrier after every parallel op before
    they sleep, so two threads on two cores collapse as soon as anything else wants a core. Measured with
    ``python bench/threads.py --rounds 2`` on this project's 2-core machine (docs/results.md): with one
    busy process beside it, two threads ran a quick training step at 0.35x and the augmentation at 0.27x
    the speed of one thread; on an otherwise idle machine two threads were 1.6-1.7x faster. One thread
    gives up that 1.6x to avoid the 3-4x collapse (a second notebook, a browser, a data-loader worker are
    enough); set OMP_NUM_THREADS=2 when the machine is yours alone. OMP_WAIT_POLICY=PASSIVE (no spinning)
    removes both the collapse and the gain (0.7-1.0x), and only works when set before torch is loaded.
    """
    if os.environ.get("OMP_NUM_THREADS"):
        return None
    return 1 if usable_cores() <= SMALL_CPU_CORES else None


def use_default_threads() -> int:
    """Apply ``default_threads()`` with ``torch.set_num_threads``; returns the number of threads in use."""
    import torch

    threads = default_threads()
    if threads is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def describe_environment(config: Config | None = None) -> str:
    """A few lines for the top of a notebook: versions, GPU or not (and how to turn one on), the mode."""
    import torch

    config = auto_config() if config is None else config
    lines = [f"torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s) of {usable_cores()} core(s)"]
    if torch.cuda.is_available():
        lines.append(f"GPU: {torch.cuda.get_device_name(0)}")
    else:
        lines.append(
            "GPU: none. In Colab: Runtime > Change runtime type > T4 GPU, then run the notebook again. "
            "Everything still runs on the CPU in quick mode."
        )
    from trimix.device import describe, resolve_device

    lines.append(describe(resolve_device(config.device), config.precision, config.deterministic).capitalize())
    if config.quick:
        why = "TRIMIX_QUICK=1 is set" if quick_requested() else "no GPU was found"
        lines.append(
            f"Mode: QUICK ({why}): built-in '{config.dataset}' dataset, ResNet-18 of width {config.width}, "
            f"at most {config.max_steps} steps. Numbers are illustrations, not the paper's."
        )
    else:
        lines.append(f"Mode: FULL (paper configuration): {config.dataset}, batch {config.batch_size}, {config.epochs} epochs.")
    return "\n".join(lines)
