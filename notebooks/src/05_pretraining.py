# ---
# jupyter:
#   trimix:
#     student_copy: true
# ---

# %% [markdown]
# # 05 · Pretraining TriMix
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/trimix-kit/trimix/blob/main/notebooks/05_pretraining.ipynb)
#
# Notebooks 01-04 built the TriMix objective (eq 11) piece by piece. Here it trains an encoder for real
# with `trimix.train.pretrain`, the loop behind the paper's results (section IV-A): Adam, lr 1e-3,
# weight decay 1e-6, batch 256, 200 epochs of a ResNet-18 on a GPU; in quick mode, a short run of a
# narrow network on the built-in data. Notebooks 06-08 reuse the encoder this notebook trains.
#
# **Learning goals.** After this notebook you can
#
# - estimate how long a pretraining run will take before starting it;
# - run `pretrain` and know where its checkpoint goes;
# - read the curves of the three loss parts during training (paper Fig. 2);
# - resume an interrupted run from its checkpoint, and reload a finished one.
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
from trimix.data import load_dataset
from trimix.train import pretrain

# %% [markdown]
# ## 1. The run
#
# `runs.pretrain_run_config(config, RUN)` fixes this notebook's run, so that notebooks 06-08 find it
# again: the paper's configuration on a GPU (CIFAR-10, downloaded the first time), a run capped at
# `max_steps` in quick mode. The checkpoint goes to `out_dir`, relative to the working folder: this
# notebook's folder (`runs/` is ignored by git), or in Colab the folder on your Google Drive that the
# set-up cell chose, so the run outlives the runtime.
#
# On a GPU, when no run exists yet and the full run would take more than an hour, the cell stops and
# says so in one sentence, with three choices and their projected times: `RUN = "quick"` (quick mode's
# run), `"short"` (20 epochs of the paper's configuration) or `"full"` (its 200 epochs). Set `RUN` and
# run the cell again. In quick mode it never asks.

# %%
RUN = None  # asked for only when no run exists and the full one would take over an hour: "quick", "short", "full"
run_config = runs.pretrain_run_config(config, RUN)
for field in ("method", "dataset", "width", "proj_dim", "batch_size", "epochs", "max_steps", "out_dir"):
    print(f"{field:<11} {getattr(run_config, field)}")
train = load_dataset(run_config.dataset, "train", root=run_config.root, download=run_config.download)
print(train)

# %% [markdown]
# ## 2. How long will it take?
#
# Before a long run, time a few steps and multiply. `estimate_pretrain_time` runs 7 steps on a few
# batches (the first 2 warm up and are not counted) and projects the whole run: each step embeds three
# batches (two views and the virtual batch, Algorithm 1) and backpropagates through all of them.

# %%
estimate = runs.estimate_pretrain_time(run_config, train)
print("projected:", runs.describe_estimate(estimate))


# %% [markdown]
# ### Exercise `projected_seconds`
# Why leave the first steps out? They pay for things a long run does only once: memory is allocated,
# libraries pick their kernels, caches fill. Write `my_projected_seconds(step_seconds, warmup, total_steps)`:
# given the seconds of each timed step (warm-up steps first), project the whole run as the mean time of
# the steps after the first `warmup` ones, times `total_steps`.

# %% nbgrader={"grade": false, "grade_id": "my_projected_seconds", "locked": false, "schema_version": 3, "solution": true, "task": false} tags=["exercise"] hint="leave out step_seconds[:warmup]; the mean of the rest, times total_steps"
def my_projected_seconds(step_seconds: list[float], warmup: int, total_steps: int) -> float:
    """Seconds of a run of total_steps steps, from the timed steps after the first warmup ones."""
    ### BEGIN SOLUTION
    timed = step_seconds[warmup:]
    return sum(timed) / len(timed) * total_steps
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_projected_seconds", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false} tags=["check"]
# CHECK: projected_seconds
from trimix.checks import check_projected_seconds

check_projected_seconds(my_projected_seconds)  # if my_projected_seconds is wrong, this says what to fix
print("projected_seconds: correct")

# %% [markdown]
# What counting the warm-up would do: suppose the 2 warm-up steps had taken ten times as long as the
# others (the first step on a GPU often does).

# %%
timed = [estimate["seconds_per_step"]] * 5  # the 5 timed steps, at their measured mean
slow_start = [10 * estimate["seconds_per_step"]] * 2
for warmup in (2, 0):
    seconds = my_projected_seconds(slow_start + timed, warmup, estimate["total_steps"])
    print(f"warmup={warmup}: {runs.format_duration(seconds)}")
print(f"the kit's projection: {runs.format_duration(estimate['total_seconds'])}")

# %% [markdown]
# On a GPU this is hours (the paper: 7-8 h on a V100). On Colab's free T4, which trains in fp16 with a
# gradient scaler, `python -m trimix bench train` projects about 3 hours for TriMix's 200 epochs from the
# step's FLOPs (assuming 15 % of the T4's peak; the real figure can be worse: a T4 throttles under load):
# one free Colab session if it is not cut short, two or three if it is. Colab may disconnect before the
# end, which is why `pretrain` writes a **checkpoint** every `checkpoint_every` epochs and every `checkpoint_minutes`
# minutes (5 by default; atomically: a crash mid-write keeps the previous one). If the run stops, just
# **run the notebook again** (in Colab, in a new runtime: the checkpoint is on your Drive): it continues
# from the last checkpoint, even one written in the middle of an epoch, and on the CPU it ends with
# exactly the weights an uninterrupted run would have.
#
# ## 3. Pretraining

# %%
result = pretrain(run_config, data=train)
print(f"{result.steps} steps in {result.seconds:.0f} s; checkpoint: {result.checkpoint}")

# %% [markdown]
# ## 4. The loss parts during training (paper Fig. 2)
#
# `result.history` holds the mean of each loss part over every `log_every` steps. The first figure
# shows the parts as the loss functions return them; the second multiplies each extra term by its
# weight (beta = 1000, gamma = 200), which is what the total adds up.
#
# What to look at: the Barlow Twins part falls fastest. The virtual embeddings loss sits close to `2/B`
# (the numerical note of notebook 03: with tau = 2, M stays nearly uniform) and moves only in its third
# or fourth digit. The self-consistency loss drops during the first few dozen steps; in a run as short
# as quick mode's it then swings up and down without a clear trend: each point averages a few steps,
# each with its own lam, and L_con depends a lot on lam (notebook 04). In the paper's Fig. 2 (200 epochs
# on Tiny ImageNet) it decreases overall, with small oscillations.

# %%
viz.plot_history(result.history)

# %%
viz.plot_history(result.history, weights={"vrt": run_config.beta, "con": run_config.gamma})

# %%
first, last = {k: v[0] for k, v in result.history.items()}, {k: v[-1] for k, v in result.history.items()}
for part in ("total", "bt", "vrt", "con"):
    print(f"{part:>5}: {first[part]:10.4f} at step {first['step']:.0f} -> {last[part]:10.4f} at step {last['step']:.0f}")
print(f"2/B = {2 / run_config.batch_size:.4f}; throughput {last['images_per_s']:.0f} images/s")

# %%
# The sentences above, checked on this run (in quick mode, where we measured them on three seeds).
h, two_over_b = result.history, 2 / run_config.batch_size
half = len(h["con"]) // 2
if config.quick:
    assert h["bt"][-1] < 0.6 * h["bt"][0], "L_BT should fall clearly"
    assert all(abs(v - two_over_b) < 0.1 * two_over_b for v in h["vrt"]), "L_vrt should stay within 10 % of 2/B"
    assert sum(h["con"][:3]) / 3 > sum(h["con"][half:]) / (len(h["con"]) - half), "L_con should drop early on"
print(f"L_vrt between {min(h['vrt']):.4f} and {max(h['vrt']):.4f} (2/B = {two_over_b:.4f}); "
      f"L_con: {sum(h['con'][:3]) / 3:.3f} over the first 3 points, {min(h['con'][half:]):.3f} to "
      f"{max(h['con'][half:]):.3f} in the second half of the run")


# %% [markdown]
# ### Exercise `weighted_parts`
# Eq 11 adds the three parts with their weights: `L = L_BT + beta L_vrt + gamma L_con`. Write
# `my_weighted_parts(history, beta, gamma)` returning, for the **last** logged point, the dict
# `{"bt": ..., "vrt": ..., "con": ...}` of the parts *as they enter the total*, each a number. A history
# holds one list per key (`history["vrt"]` is every logged L_vrt, oldest first).

# %% nbgrader={"grade": false, "grade_id": "my_weighted_parts", "locked": false, "schema_version": 3, "solution": true, "task": false} tags=["exercise"] hint="history[key][-1] is the last logged value; beta weighs vrt, gamma weighs con"
def my_weighted_parts(history: dict, beta: float, gamma: float) -> dict:
    """The last logged L_BT, beta * L_vrt and gamma * L_con (eq 11), as floats."""
    ### BEGIN SOLUTION
    return {"bt": history["bt"][-1], "vrt": beta * history["vrt"][-1], "con": gamma * history["con"][-1]}
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_weighted_parts", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false} tags=["check"]
# CHECK: weighted_parts
from trimix.checks import check_weighted_parts

check_weighted_parts(my_weighted_parts)  # if my_weighted_parts is wrong, this says what to fix
print("weighted_parts: correct")

# %% [markdown]
# Your function on this run: the three weighted parts add up to the logged total.

# %%
parts = my_weighted_parts(result.history, run_config.beta, run_config.gamma)
print({k: round(v, 2) for k, v in parts.items()}, f"sum {sum(parts.values()):.2f}, "
      f"logged total {result.history['total'][-1]:.2f}")

# %% [markdown]
# Weighted, `beta * L_vrt` is a sizeable part of the total (about `beta * 2/B`), but it is almost the
# same number at every step, and a constant adds nothing to the gradient: notebook 04 measured its pull
# on the network far weaker than that of the other two terms. What changes during training, and so
# what the optimiser works on, is mostly `L_BT` and `gamma * L_con`. Notebook 08 switches the terms off
# one at a time to see what each contributes.
#
# ## 5. Resuming and reloading
#
# Call `pretrain` again with the same configuration. It finds the checkpoint, sees that every step is
# done, and returns at once with the same weights: no step runs and no file is written.

# %%
import time

start = time.perf_counter()
again = pretrain(run_config, data=train, progress=False)
same = all(torch.equal(a, b) for a, b in zip(result.method.state_dict().values(), again.method.state_dict().values()))
print(f"returned in {time.perf_counter() - start:.2f} s at step {again.steps}; same weights: {same}")

# %% [markdown]
# To train **longer**, raise `epochs` (or `max_steps`) and call `pretrain` again: it continues from
# the checkpoint instead of starting over. A checkpoint made with another method, network or batch
# size is refused with a message, rather than mixed in.
#
# Notebooks 06-08 reload this run with `runs.load_or_pretrain(pretrain_run_config(config))`:
# the same call as above, which trains only when no finished checkpoint exists. What a checkpoint
# holds, and how to rebuild the network from it alone:

# %%
from trimix.train import load_checkpoint, method_from_checkpoint

state = load_checkpoint(result.checkpoint)
print("checkpoint holds:", ", ".join(state))
method, saved_config, _ = method_from_checkpoint(result.checkpoint)
print(f"rebuilt: {type(method).__name__}, trained {state['step']} steps on {saved_config.dataset}")

# %% [markdown]
# ## 6. Several GPUs
#
# The same loop runs on several GPUs with `torchrun --nproc_per_node=N -m trimix pretrain ...`
# (DistributedDataParallel; `trimix.distributed` explains every detail). Three things to know:
#
# - `--batch-size` stays the **global** batch: each GPU takes `B/N` images of every step, so a run has
#   the same steps and images per step on one GPU or on N.
# - By default each GPU mixes and scores **its own shard**: the paper's objective at batch `B/N`, and
#   DDP averages the N gradients; BatchNorm uses each GPU's own `B/N` images. With `--gather` the
#   embeddings of all GPUs are gathered (with an all-gather that passes gradients back) before the loss,
#   so the cross-correlation and the B x B matrices see the whole batch, and `--gather` turns on
#   `--sync-bn` too: BatchNorm normalises with the statistics of the whole batch. Then N GPUs compute the
#   gradients of one GPU at batch B: a test with two CPU processes finds them equal to float precision
#   for TriMix and Barlow Twins (within 1e-4 of each gradient's size, as close as one process comes to
#   the exact float64 gradient); without `--sync-bn` some gradients are off by more than ten times their
#   own size. The images are still mixed within each GPU.
# - Rank 0 downloads the data while the other processes wait, so they never write the same files at once.
#
# ## Summary
#
# - `pretrain(config)` trains any method on any dataset of the registry: data on the device as uint8,
#   batched augmentations, a history of every loss part, and atomic checkpoints in `config.out_dir`.
# - Time a few steps first (`runs.estimate_pretrain_time`): the paper's run is hours on a GPU.
# - Rerunning `pretrain` resumes an interrupted run exactly and returns at once from a finished one;
#   `method_from_checkpoint` rebuilds the trained method from the file alone.
# - Fig. 2 of the paper, at this scale: L_BT falls, L_con drops early and then oscillates, and L_vrt
#   stays near `2/B`; weighted, it is a near-constant part of the total with little pull on the network.
# - The same from a terminal: `python -m trimix pretrain --out-dir runs/notebook05 --download`
#   (`--quick` for the CPU version); on N GPUs, `torchrun --nproc_per_node=N -m trimix pretrain ...`.
#
# Next, notebook 06: is the trained encoder any good? kNN, linear probe, fine-tuning, UMAP.
