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
# The baselines' own settings (DESIGN.md section 9). Everything else (encoder, projector, views, Adam,
# lr, weight decay, batch) is TriMix's, so that a table compares objectives only.
SIMCLR_TEMPERATURE = 0.2  # solo-learn, scripts/pretrain/cifar/simclr.yaml (temperature: 0.2)
BYOL_MOMENTUM = 0.99  # solo-learn, scripts/pretrain/cifar/byol.yaml (base_tau 0.99 -> final_tau 1.0)
BYOL_PREDICTOR_HIDDEN = 4096  # BYOL paper section 3.3 (predictor MLP, hidden 4096); solo-learn pred_hidden_dim
VICREG_SIM_COEFF = 25.0  # VICReg paper section 4.1: lambda = mu = 25, nu = 1 (and solo-learn's cifar vicreg.yaml)
VICREG_STD_COEFF = 25.0
VICREG_COV_COEFF = 1.0


@dataclass
class Config:
    # what to train on
    method: str = "trimix"
    dataset: str = "cifar10"
    root: str = "data"
    download: bool = False
    # network (ResNet-18, 512-d features; projector 3 x 1024)
    width: int = 64
    proj_hidden: int = 1024
    proj_dim: int = 1024
    proj_layers: int = 3
    # optimisation (Adam, lr 1e-3, wd 1e-6, batch 256, 200 epochs)
    epochs: int = 200
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-6
    max_steps: int | None = None  # stop early after this many steps (quick runs, benchmarks)
    # objective (alpha, beta, gamma, tau)
    alpha: float = ALPHA
    beta: float = BETA
    gamma: float = GAMMA
    tau: float = TAU
    feature_norm: bool = True
    vrt_on: str = "z"
    con_on: str = "z"
    # the baselines' own settings (sources beside the constants above)
    simclr_temperature: float = SIMCLR_TEMPERATURE
    byol_momentum: float = BYOL_MOMENTUM  # the start of the cosine schedule to 1
    byol_predictor_hidden: int = BYOL_PREDICTOR_HIDDEN  # 4096 at paper scale; smaller nets want a smaller one
    vicreg_sim_coeff: float = VICREG_SIM_COEFF
    vicreg_std_coeff: float = VICREG_STD_COEFF
    vicreg_cov_coeff: float = VICREG_COV_COEFF
    # speed and scale (trimix.train, trimix.distributed)
    compile: bool = False  # torch.compile the network; off until measured to help (python -m trimix bench train)
    precision: str = "auto"  # auto, bf16, fp16 or fp32; auto: bf16 on compute capability 8.0+, fp16 below, fp32 on CPU
    deterministic: bool = False  # bit-identical GPU runs (deterministic kernels, no cuDNN autotuning): slower
    gather: bool = False  # several processes: the loss sees the global batch, not each process's shard
    sync_bn: bool = False  # several processes: BatchNorm sees the global batch too (the CLI's --gather turns it on)
    # bookkeeping
    seed: int = 0
    device: str = "auto"  # "auto" = cuda when available, else cpu
    num_workers: int = 2
    log_every: int = 10
    checkpoint_every: int = 10  # epochs
    checkpoint_minutes: float = 5.0  # also write one when this many minutes passed since the last (0: off)
    out_dir: str = "runs/default"
    quick: bool = False

    def replace(self, **changes) -> "Config":
        """A copy with some fields changed; unknown names are refused."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown config field(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# What quick mode changes: the rest keeps the paper's values.
QUICK_OVERRIDES = dict(
    dataset="shapes",
    width=8,
    proj_hidden=128,
    proj_dim=128,
    epochs=4,
    # 300 steps (~3.8 epochs of the built-in data at batch 64) at the paper's lr 1e-3: the trained encoder
    # beats the random one by 10+ points on every seed tried (docs/results.md), in about two minutes.
    max_steps=300,
    batch_size=64,
    log_every=5,
    checkpoint_every=1,
    num_workers=0,
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
