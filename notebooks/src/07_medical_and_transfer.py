# ---
# jupyter:
#   trimix:
#     student_copy: true
# ---

# %% [markdown]
# # 07 · Medical images and transfer
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/trimix-kit/trimix/blob/main/notebooks/07_medical_and_transfer.ipynb)
#
# The paper also tests TriMix on four medical datasets from **MedMNIST** (section IV-B): pretrained on
# the medical images themselves (Tables III, IV), and **transferred**: an encoder pretrained on natural
# images, frozen, with a linear classifier trained on the medical images (Table V). This notebook loads
# the medical data, pretrains on it, and transfers notebook 05's encoder to it.
#
# **Learning goals.** After this notebook you can
#
# - describe the four MedMNIST datasets of the paper and load them;
# - serve 28-pixel grayscale images to a network built for 32-pixel colour ones;
# - pretrain on a medical dataset and score the result with a linear probe;
# - transfer a frozen encoder to a new domain with a linear probe (Table V), beside a random encoder,
#   and compare it with pretraining on the target at the same budget.
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
from trimix import runs, stand_in, viz
from trimix.finetune import transfer
from trimix.train import build_method, pretrain

# %% [markdown]
# ## 1. The four MedMNIST datasets
#
# MedMNIST (Yang et al.) standardises medical images to 28 x 28 pixels. The paper picks four multi-class
# sets: **PathMNIST** (colon pathology, 9 classes), **DermaMNIST** (dermatoscopy, 7), **OCTMNIST**
# (retinal optical coherence tomography, 4, grayscale) and **BloodMNIST** (blood cell microscopy, 8).
# The `medmnist` package knows their sizes and classes without downloading anything:

# %%
import medmnist

MEDICAL = ["pathmnist", "dermamnist", "octmnist", "bloodmnist"]
for name in MEDICAL:
    info = medmnist.INFO[name]
    sizes = ", ".join(f"{split} {n:,}" for split, n in info["n_samples"].items())
    print(f"{name:<11} {len(info['label'])} classes, {info['n_channels']} channel(s); {sizes}")
print("\nOCTMNIST classes:", list(medmnist.INFO["octmnist"]["label"].values()))

# %% [markdown]
# Loading one is the same call as any other dataset; `download=True` fetches the `.npz` file into
# `data/<name>/` the first time (OCTMNIST is about 50 MB):
#
# ```python
# train = load_dataset("octmnist", "train", download=True)
# ```
#
# Grayscale sets (OCTMNIST) are served as **three equal channels**, so every network of the kit takes
# them unchanged. We follow OCTMNIST, the hardest transfer target of Table V. On a GPU the notebook
# downloads it. **Offline, in quick mode, it uses a stand-in instead** (next cell): four of the kit's
# shapes (circle, ring, crescent, star) redrawn at 28 pixels in grainy grayscale. Those four are among
# the ten shapes notebook 05's encoder learned, so for that encoder the stand-in is a **near** target,
# where OCTMNIST's retinal scans are far from CIFAR-10's photos. The stand-in demonstrates the
# mechanics; **its numbers say nothing about medical images**, nor about transfer to a far domain.

# %%
target_name = "octmnist"
limit = 2000 if config.quick else None  # quick mode on a CPU: a stratified subset of the real data
target_train, real = stand_in.load_target_or_stand_in(
    target_name, "train", root=config.root, download=not config.quick, max_images=limit)
target_test, _ = stand_in.load_target_or_stand_in(
    target_name, "test", root=config.root, download=not config.quick, max_images=limit)
if real:
    print(f"the real {target_name}:", target_train, target_test, sep="\n")
else:
    why = "quick mode does not download" if config.quick else "the download failed"
    print(f"{target_name} is not on disk and {why}: using the OFFLINE STAND-IN.\n"
          "It is NOT medical data; the accuracies below only demonstrate the mechanics.")
    print(target_train, target_test, sep="\n")
target_label = target_name if real else "stand-in"

# %%
viz.show_images(target_train.images[:20], titles=[target_train.classes[k][:12] for k in target_train.labels[:20]],
                ncols=10, suptitle=f"{target_label}: 28 x 28, grayscale served as 3 channels")


# %% [markdown]
# Each image has three identical channels: the network sees colour images whose colour carries no
# information.
#
# ### Exercise `channels_first_rgb`
# MedMNIST stores its images as NumPy-style arrays: grayscale sets (OCTMNIST) as uint8 `(N, H, W)`, colour
# sets (PathMNIST, DermaMNIST, BloodMNIST) as uint8 `(N, H, W, 3)`, channels last. The kit serves every
# dataset as uint8 `(N, 3, H, W)`, channels first, the layout torch's convolutions take. Write
# `my_channels_first_rgb(images)` for both cases: copy a gray image into three equal channels, and move a
# colour image's channel axis to the front (without scrambling the pixels).

# %% nbgrader={"grade": false, "grade_id": "my_channels_first_rgb", "locked": false, "schema_version": 3, "solution": true, "task": false} tags=["exercise"] hint="3-D input: images[:, None] then expand or repeat to 3 channels; 4-D input: permute, not reshape"
def my_channels_first_rgb(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W) grayscale or (N, H, W, 3) colour -> uint8 (N, 3, H, W)."""
    ### BEGIN SOLUTION
    if images.dim() == 3:
        return images[:, None].expand(-1, 3, -1, -1)
    return images.permute(0, 3, 1, 2)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_channels_first_rgb", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false} tags=["check"]
# CHECK: channels_first_rgb
from trimix.checks import check_channels_first_rgb

check_channels_first_rgb(my_channels_first_rgb)  # if my_channels_first_rgb is wrong, this says what to fix
print("channels_first_rgb: correct")

# %% [markdown]
# Your function on the target: one channel of its images, served back as three.

# %%
gray = target_train.images[:8, 0]  # (8, 28, 28): one channel back, as the grayscale file stores it
print(tuple(gray.shape), "->", tuple(my_channels_first_rgb(gray).shape),
      "equal to the kit's:", torch.equal(my_channels_first_rgb(gray), target_train.images[:8]))

# %% [markdown]
# ## 2. Pretraining on the medical images (Tables III, IV)
#
# Pretraining on the target itself is the same `pretrain` call with the target's data: 200 epochs in
# the paper (TriMix: 72.30 % kNN and 76.60 % linear on OCTMNIST, Table III). The 28-pixel images get the
# CIFAR-style stem (3 x 3 convolution, no max-pool). So that section 3 compares like with like, the run
# gets the budget of notebook 05's: in quick mode the same number of steps at the same batch size, on a
# GPU the paper's 200 epochs. When that takes over an hour here the cell stops first and says how long
# (set `GO = True` to start it); set `max_steps` in `med_config` if you only want to try it, or skip to
# section 3, which does not need it. A run cut off by a disconnect resumes from its checkpoint.

# %%
GO = False  # True: start the run even when it is projected to take over an hour
if config.quick:  # notebook 05's budget: the same number of steps, at the same batch size
    steps = runs.QUICK_PRETRAIN_STEPS
    budget = {"max_steps": steps, "epochs": -(-steps // (len(target_train) // config.batch_size))}
else:  # the paper's 200 epochs, as notebook 05's run
    budget = {}
med_config = config.replace(dataset=target_label, out_dir=f"runs/notebook07-{target_label}", **budget)
estimate = runs.estimate_pretrain_time(med_config, target_train, steps=2, warmup=1,
                                              done_steps=runs.steps_done(med_config))
print("projected:", runs.describe_estimate(estimate))
runs.confirm_long_run(estimate, GO, shorter="set max_steps in med_config, or skip to section 3")
med = pretrain(med_config, data=target_train, progress=False)
print(f"{med.steps} steps in {med.seconds:.0f} s")

# %% [markdown]
# Each encoder is scored as in section 3: frozen, with a linear probe (100 epochs) trained on the
# target's training images and tested on its test images (`trimix.finetune.transfer`, here at the encoder's
# own input size, 28 pixels).

# %%
rows_target = []
random_net = build_method(med_config, target_train.image_size).net.to(next(med.method.parameters()).device)
for name, net in {"random": random_net, "pretrained on target": med.method.net}.items():
    out = transfer(net.backbone, target_train.image_size, target_train, target_test, epochs=100)
    rows_target.append({"encoder": name, "input size": out["image_size"],
                        "linear probe on target (%)": out["accuracy"]})
print(f"{target_label}, chance = {100 / target_train.num_classes:.0f} %")
print(viz.format_table(rows_target))

# %% [markdown]
# ## 3. Transfer from natural images (Table V)
#
# Now the encoder of notebook 05, pretrained on natural images (CIFAR-10 on a GPU, shapes in quick
# mode), is frozen and a linear classifier is trained on its features of the target
# (`trimix.finetune.transfer`). The target's 28-pixel images are first **resized** to the 32 pixels the encoder
# was trained on, so its stem sees what it expects. The random encoder of the same shape is the
# baseline. As in notebook 06, a missing run of notebook 05 is trained here, and on a GPU, when the full
# run would take over an hour, the cell asks first: set `RUN` to `"quick"`, `"short"` or `"full"`.

# %%
RUN = None  # asked for only when notebook 05's run is missing and the full one takes over an hour
run_config = runs.pretrain_run_config(config, RUN)
source, _ = runs.load_or_pretrain(run_config)
source_size = trimix.data.DATASETS[run_config.dataset].image_size  # the size it was trained on
rows = []
random_net = build_method(run_config, source_size).net.to(next(source.parameters()).device)
for name, net in {"random": random_net, f"pretrained on {run_config.dataset}": source.net}.items():
    out = transfer(net.backbone, source_size, target_train, target_test, epochs=100)
    rows.append({"encoder": name, "input size": out["image_size"], "linear probe on target (%)": out["accuracy"]})
print(f"transfer to {target_label}, chance = {100 / target_train.num_classes:.0f} %")
print(viz.format_table(rows))

# %% [markdown]
# ## 4. Pretrained on the target, or transferred?
#
# Sections 2 and 3 used the same protocol (a 100-epoch linear probe on the frozen backbone, the same
# target images) and the same pretraining budget, so their rows can be compared:

# %%
probe = "linear probe on target (%)"
in_target, transferred = rows_target[1][probe], rows[1][probe]
print(f"{target_label}: pretrained on the target {in_target:.1f} %, transferred from {run_config.dataset} "
      f"{transferred:.1f} %; random encoders {rows_target[0][probe]:.1f} % and {rows[0][probe]:.1f} %")
if not real:  # the next paragraph, checked on this run: both far above the random encoders, transfer ahead
    assert min(in_target, transferred) > max(rows_target[0][probe], rows[0][probe]) + 10
    assert transferred > in_target, (transferred, in_target)

# %% [markdown]
# In the paper, transfer from CIFAR-10 to OCTMNIST gives 62.70-67.20 % depending on the method (TriMix:
# 67.20 %, Table V), below the 76.60 % of pretraining on OCTMNIST itself (Table III): natural images
# teach features that only partly fit retinal scans. Transfer helps least when the domains are far
# apart; the paper's STL-10 column drops to 40-58 % on OCTMNIST.
#
# The stand-in shows the opposite, and that is no contradiction. Both routes beat the random encoders
# by a wide margin, and transfer came out ahead on each of three seeds we tried (by 2 to 15 points).
# The stand-in is a near target: its classes are shapes the source encoder has already learned, from
# 5000 colour images, while pretraining on the target sees 2000 grainy gray ones for the same number
# of steps. Transfer pays when source and target are close; Table V measures a far one. To see the
# paper's comparison, run this notebook on the real OCTMNIST (on a GPU, where it downloads it).
#
# *Try it:* run this notebook with another target, e.g. `target_name = "bloodmnist"` (colour, 8
# classes), after downloading it with `load_dataset("bloodmnist", "train", download=True)`.
#
# ## Summary
#
# - MedMNIST's PathMNIST, DermaMNIST, OCTMNIST and BloodMNIST are 28 x 28 images; the kit loads each by
#   name (`download=True` the first time) and serves grayscale as three equal channels.
# - Pretraining on a medical set is the same `pretrain` call (Tables III, IV).
# - Transfer (Table V) = frozen encoder + linear probe on the target, with the target resized to the
#   encoder's input size: `transfer(backbone, source_size, target_train, target_test)`.
# - Offline, `stand_in.shapes_stand_in` lets the code run; it is not medical data, and it is a near
#   target for the shapes encoder, so it cannot show that in-domain pretraining beats far transfer.
# - From a terminal: `python -m trimix evaluate runs/notebook05 --transfer octmnist --download --random-baseline`.
#
# Next, notebook 08: which parts of TriMix matter? The ablations of Tables VI-VII and Fig. 4.
