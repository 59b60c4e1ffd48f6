# %% [markdown]
# # 00 · Set-up: environment, GPU, data and quick mode
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/trimix-kit/trimix/blob/main/notebooks/00_setup.ipynb)
#
# This kit teaches **TriMix** (Bdair et al.), a self-supervised method that adds two terms to Barlow
# Twins. Before the method itself (notebooks 01-04) and the experiments of the paper (05-08), this
# notebook checks your environment, shows where the data comes from and explains the kit's
# **quick mode**, which lets every notebook run on a laptop CPU in a few minutes.
#
# **Learning goals.** After this notebook you can
#
# - check whether a GPU is available, and turn one on in Colab;
# - name the paper's eight datasets and the kit's built-in one, with their image sizes and classes;
# - load a dataset, and read the error that tells you how to download one that is missing;
# - say what quick mode changes, and count the training steps of a run.
#
# Exercises are marked **Exercise**: write the body of the function, run the cell, then run the `# CHECK` cell under it, which compares your function with the kit's own on random inputs and, if they differ, tells you what to fix.

# %%
USE_DRIVE = True  # Colab: keep runs and data on your Google Drive, so the next notebook finds them (False: not)
try:
    import trimix
except ImportError:  # Colab: install the kit (and its requirements) from its repository
    # %pip install -q "trimix @ git+https://github.com/trimix-kit/trimix"
    import trimix
trimix.use_drive(USE_DRIVE)  # in Colab: mount Drive and work in a folder there; elsewhere nothing
config = trimix.auto_config()
print(trimix.describe_environment(config))

# %%
# %matplotlib inline
import torch

import trimix
from trimix import runs, viz
from trimix.data import DATASETS, DatasetNotFoundError, load_dataset

# %% [markdown]
# ## 1. Environment and GPU
#
# The cell above printed the versions and the **mode**. The paper trains a ResNet-18 for 200 epochs on
# one GPU (section IV-A: "around 7-8 hours for each approach" on a V100). Without a GPU the kit falls
# back to quick mode on its own.
#
# **Turning on a GPU in Colab:** *Runtime > Change runtime type > Hardware accelerator: T4 GPU > Save*,
# then *Runtime > Run all*. The set-up cell of every notebook installs the kit when it is missing.
#
# **Precision.** On a GPU the kit trains in half precision, picked by what the card does natively
# (`trimix.device.choose_precision`): bf16 on compute capability 8.0 or more (A100, H100, RTX 30xx), fp16
# with a *gradient scaler* below that (Colab's T4 is 7.5, a V100 7.0), fp32 on the CPU. fp16 has a narrow
# range, so the scaler multiplies the loss before the backward pass (and skips the rare step whose
# gradients overflow). Beware `torch.cuda.is_bf16_supported()`: it answers True on a T4 too, because bf16
# can be *emulated* there, slowly. `Config.precision` (`--precision`) overrides the choice.
#
# **Keeping your work in Colab.** Colab wipes a runtime when it is recycled, and each notebook opened
# from its badge gets a runtime of its own. So in Colab the set-up cell mounts your Google Drive (Colab
# asks for permission once per runtime) and works in the folder `trimix-kit` there: the datasets
# (`data/`) and the pretraining runs (`runs/`) outlive the runtime, notebooks 06-08 find notebook 05's
# run, and a run cut off by a disconnect resumes from its last checkpoint (written every few minutes).
# Set `USE_DRIVE = False` in that cell to keep everything in the runtime instead. Outside Colab the cell
# changes nothing: runs go to `runs/` beside the notebook.

# %%
device = trimix.device.resolve_device()
if device.type == "cuda":
    props = torch.cuda.get_device_properties(device)
    print(f"GPU: {props.name}, {props.total_memory / 2**30:.0f} GiB, compute capability {props.major}.{props.minor}")
else:
    print("No GPU: the notebooks run in quick mode on the CPU.")
print("precision:", trimix.device.choose_precision(device).describe())
print("CPU threads torch uses:", torch.get_num_threads())

# %% [markdown]
# ## 2. Quick mode
#
# Every notebook starts from `config = trimix.auto_config()`: the paper's configuration (section IV-A)
# on a GPU, **quick mode** when there is no GPU or when the environment variable `TRIMIX_QUICK=1` is set
# (that is how the tests run every notebook). Quick mode keeps the method and its weights alpha, beta,
# gamma, tau; it only shrinks the *scale*. Here is everything it changes:

# %%
paper, quick = trimix.paper_config().to_dict(), trimix.quick_config().to_dict()
print(f"{'field':<17}{'paper':<14}quick")
for field, value in paper.items():
    if quick[field] != value:
        print(f"{field:<17}{value!s:<14}{quick[field]}")

# %% [markdown]
# The numbers a quick run gives are **illustrations of the mechanics**, not the paper's results: a
# narrow network trained for seconds on a small toy dataset. Every notebook says which mode it ran in.
#
# ## 3. The datasets
#
# The paper uses eight datasets (section IV-A); the kit knows each by name, plus its own built-in one:
#
# | name | images (train / test) | size | classes | what |
# | --- | --- | --- | --- | --- |
# | `cifar10` | 50,000 / 10,000 | 32 | 10 | natural images |
# | `cifar100` | 50,000 / 10,000 | 32 | 100 | natural images |
# | `stl10` | 5,000 (+100,000 unlabelled) / 8,000 | 96 | 10 | natural images |
# | `tinyimagenet` | 100,000 / 10,000 | 64 | 200 | natural images |
# | `pathmnist` | 89,996 / 7,180 (+10,004 val) | 28 | 9 | colon pathology |
# | `dermamnist` | 7,007 / 2,005 (+1,003 val) | 28 | 7 | dermatoscopy |
# | `octmnist` | 97,477 / 1,000 (+10,832 val) | 28 | 4 | retinal OCT, grayscale |
# | `bloodmnist` | 11,959 / 3,421 (+1,712 val) | 28 | 8 | blood cell microscopy |
# | `shapes` | 5,000 / 1,000 | 32 | 10 | built in, generated, no download |
#
# The registry `trimix.data.DATASETS` holds what the code needs about each:

# %%
for name, info in DATASETS.items():
    print(f"{name:<13} {info.kind:<8} {info.image_size:>3} px  {info.num_classes:>3} classes  splits: {', '.join(info.splits)}")

# %% [markdown]
# ## 4. The built-in dataset
#
# `shapes` is generated by the kit from a seed: each image is a pattern of nine small copies of one of
# ten shapes (the class), on a 3 x 3 grid. Quick mode and the tests use it.

# %%
shapes = load_dataset("shapes", "train")
print(shapes)
print("images per class:", torch.bincount(shapes.labels).tolist())
viz.show_images(shapes.images[:20], titles=[shapes.classes[k] for k in shapes.labels[:20]], ncols=10)

# %% [markdown]
# Look at the grid: every copy has its own size, place in its cell and left-right orientation, so no
# two images line up pixel for pixel; only the outline tells a *star* from a *plus*. Why a pattern and
# not one big shape? Self-supervision learns what the two views of an image share (notebook 01). The
# views are random crops (down to 8 % of the image), flips and colour changes, so the class must show in
# every crop, as it does in natural images through texture and parts; and nothing else may be shared:
# an image-wide grey level, colour or angle would survive the augmentations and be learned instead of
# the shapes. So grey levels and noise are the same in every image, and what varies is what the crops
# and flips vary anyway.
#
# ## 5. Downloading a dataset
#
# Named datasets live in `root/<name>` (here `data/cifar10`, ...). The kit never downloads behind your
# back: asked for a dataset that is not on disk, it raises `DatasetNotFoundError` with the folder it
# looked in and the way to download it.

# %%
try:
    cifar = load_dataset("cifar10", "train", root=config.root)
    print("found on disk:", cifar)
except DatasetNotFoundError as error:
    print("DatasetNotFoundError:", error)


# %% [markdown]
# To download, pass `download=True` (it needs internet; CIFAR-10 is 170 MB):
#
# ```python
# train = load_dataset("cifar10", "train", download=True)
# ```
#
# or add `--download` on the command line: `python -m trimix pretrain --dataset cifar10 --download`.
# MedMNIST sets come through the `medmnist` package the same way, and `load_dataset("folder:PATH")`
# reads your own images from `PATH/train/<class>/` and `PATH/test/<class>/`.
#
# ## 6. Exercise: how long is a run?
#
# `pretrain` uses only full batches, so one epoch is `num_images // batch_size` steps; a run is
# `epochs` epochs, unless `max_steps` stops it earlier (quick runs do that).
#
# ### Exercise `total_steps`
# Write `my_total_steps(num_images, batch_size, epochs, max_steps)`.

# %% nbgrader={"grade": false, "grade_id": "my_total_steps", "locked": false, "schema_version": 3, "solution": true, "task": false} tags=["exercise"]
def my_total_steps(num_images: int, batch_size: int, epochs: int, max_steps: int | None = None) -> int:
    """Optimisation steps of a run: full batches per epoch x epochs, at most max_steps (None: no cap)."""
    ### BEGIN SOLUTION
    steps = (num_images // batch_size) * epochs
    return steps if max_steps is None else min(steps, max_steps)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_total_steps", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false} tags=["check"]
# CHECK: total_steps
def check_total_steps():
    for n, b, e, m in [(50_000, 256, 200, None), (5000, 64, 3, None), (5000, 64, 3, 150), (100, 32, 1, 500)]:
        want = runs.total_steps(trimix.Config(batch_size=b, epochs=e, max_steps=m), n)
        got = my_total_steps(n, b, e, m)
        assert got == want, (f"my_total_steps({n}, {b}, {e}, {m}) = {got}, expected {want}. "
                             "Did you drop the last partial batch (//) and cap by max_steps?")
    print("total_steps: correct")


check_total_steps()

# %%
print("the paper's run on CIFAR-10:", my_total_steps(50_000, 256, 200), "steps")
print("a quick-mode epoch on shapes:", my_total_steps(len(shapes), trimix.quick_config().batch_size, 1), "steps")

# %% [markdown]
# ## Summary
#
# - `config = trimix.auto_config()` gives the paper's configuration on a GPU and **quick mode** (built-in
#   `shapes` data, narrow ResNet-18, short runs) on a CPU or when `TRIMIX_QUICK=1` is set.
# - `trimix.describe_environment(config)` reports the GPU and the mode; in Colab, turn on a GPU with
#   *Runtime > Change runtime type*.
# - `trimix.data.load_dataset(name, split)` loads any of the paper's eight datasets, `shapes`, or
#   `folder:PATH`; missing data gives a `DatasetNotFoundError` that says how to download it.
# - A run takes `num_images // batch_size * epochs` steps (at most `max_steps`): 39,000 for the paper's.
#
# Next, notebook 01: the Barlow Twins loss TriMix builds on.
