# ---
# jupyter:
#   trimix:
#     student_copy: true
# ---

# %% [markdown]
# # 08 · Ablations: which parts of TriMix matter?
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/trimix-kit/trimix/blob/main/notebooks/08_ablations.ipynb)
#
# The paper takes TriMix apart to see what each piece contributes (section IV-C): the two extra loss
# terms and the feature normalisation (Table VI), which features the terms act on (Table VII), and the
# batch size and projector size (Fig. 4). Every ablation is a small change of the configuration, so the
# same code runs at any scale: a minute per variant on a CPU here, 200 epochs on a GPU in the paper.
#
# **Learning goals.** After this notebook you can
#
# - express each ablation of Tables VI-VII and Fig. 4 as a change of `trimix.Config`;
# - pretrain and score a set of variants with one call, and read the table and bar chart;
# - judge how much a short, small run can say about the paper's ordering.
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

import trimix
from trimix import experiments
from trimix.data import load_dataset


# %% [markdown]
# ## 1. The variants
#
# Table VI switches the parts of eq 11 on and off. In the configuration: Barlow Twins is
# `method="barlow_twins"`; "virtual embeddings loss only" sets gamma = 0 (no self-consistency);
# "self-consistency loss only" sets beta = 0; "both, no feature norms" keeps both terms but drops the
# row standardisation of the virtual embeddings (`feature_norm=False`); full TriMix changes nothing.
#
# ### Exercise `table_vi`
# Write the five changes yourself; the CHECK cell compares them with the kit's `experiments.TABLE_VI_VARIANTS`,
# which the cell after it prints.

# %% nbgrader={"grade": false, "grade_id": "my_table_vi", "locked": false, "schema_version": 3, "solution": true, "task": false} tags=["exercise"] hint="one dict of trimix.Config changes per row; the full TriMix row changes nothing"
def my_table_vi() -> dict:
    """Variant name -> dict of Config changes, for the five rows of Table VI."""
    ### BEGIN SOLUTION
    return {
        "Barlow Twins": {"method": "barlow_twins"},
        "TriMix: virtual embeddings loss only": {"gamma": 0.0},
        "TriMix: self-consistency loss only": {"beta": 0.0},
        "TriMix: both losses, no feature norms": {"feature_norm": False},
        "TriMix: both losses + feature norms": {},
    }
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_table_vi", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false} tags=["check"]
# CHECK: table_vi
from trimix.checks import check_table_vi

check_table_vi(my_table_vi)  # if my_table_vi is wrong, this says what to fix
print("table_vi: correct")

# %% [markdown]
# Table VII keeps both terms but computes them on the backbone features Y instead of the embeddings Z
# (`vrt_on`, `con_on`); Fig. 4 varies the batch size B and the projector size D.

# %%
for name, changes in {**experiments.TABLE_VI_VARIANTS, **experiments.TABLE_VII_VARIANTS}.items():
    print(f"{name:<40} {changes}")

# %% [markdown]
# ## 2. The scale of this run
#
# The paper trains each variant for 200 epochs on CIFAR-10 and reports the linear probe: about 8 GPU
# hours per row, 100 models for Fig. 4. Here quick mode gives each variant **100 steps** of the main
# job's network (a ResNet-18 of width 8) on 2000 shapes, about half a minute each; on a GPU the notebook gives each 1000 steps (about 5 epochs) of the full
# network on CIFAR-10, 16 runs in all: check the estimate below, and lower `max_steps` if it is more
# than your session allows. When the runs would take over an hour here the cell stops first and says
# how long: set `GO = True` to start them. Finished variants are reloaded from `out_dir` (in Colab, on
# your Google Drive) when you run the notebook again, and an interrupted one resumes from its last
# checkpoint, so an interrupted session loses a few minutes at most.

# %%
GO = False  # True: start the runs even when they are projected to take over an hour
if config.quick:
    base = config.replace(max_steps=100, out_dir="runs/notebook08-quick")
else:
    base = config.replace(max_steps=1000, download=True, out_dir="runs/notebook08")
limit = 2000 if config.quick else None
train = experiments.subset(load_dataset(base.dataset, "train", root=base.root, download=base.download), limit)
test = experiments.subset(load_dataset(base.dataset, "test", root=base.root, download=base.download),
                          500 if config.quick else None)
estimate = experiments.estimate_pretrain_time(base, train, steps=2, warmup=1)
print(train, test, sep="\n")
print("each variant:", experiments.describe_estimate(estimate))
experiments.confirm_long_run(estimate, GO, runs=12, shorter="lower max_steps in base")

# %% [markdown]
# ## 3. Table VI: the parts of the objective
#
# `run_variants` pretrains each variant, then scores its backbone with kNN and a 100-epoch linear
# probe. The first row is the untrained network (the floor); the last column is the paper's linear
# accuracy on CIFAR-10 for comparison of the *ordering* only.

# %%
rows_vi = experiments.run_variants(base, experiments.TABLE_VI_VARIANTS, train, test, linear_epochs=100,
                                   reference=experiments.PAPER_TABLE_VI, random_baseline=True)
print()
print(experiments.format_table(rows_vi, ["variant", "changes", "steps", "knn", "linear", "paper"]))

# %% [markdown]
# What to look at: first, every trained row above the random one (by a wide margin in kNN). Then: do the
# extra terms beat Barlow Twins, and does the full objective beat each term alone, as in the paper
# (86.29 < 87.16, 87.32 < 87.74 < 88.39)? The paper's differences are one or two points after 200
# epochs; a run of a hundred steps is far noisier than that, so one seed per row cannot say. The next
# section measures the noise and trains three of the rows on three seeds each.

# %%
# the paragraph above, checked on this run: every trained row far above the untrained network
floor = rows_vi[0]["knn"]
assert all(row["knn"] > floor + 15 for row in rows_vi[1:]), [(row["variant"], row["knn"]) for row in rows_vi]

# %%
experiments.plot_variants(rows_vi, title="Table VI at this run's scale", chance=100 / train.num_classes)

# %% [markdown]
# ### How big is the noise?
#
# Train three rows again with two other seeds (the seed changes the initial weights, the views and
# every lambda): Barlow Twins, the virtual embeddings loss alone, and full TriMix. The spread between
# the seeds of one row is the noise any difference between rows has to beat. The paper reports one run
# per row.

# %%
import statistics

compare = {name: experiments.TABLE_VI_VARIANTS[name] for name in (
    "Barlow Twins", "TriMix: virtual embeddings loss only", "TriMix: both losses + feature norms")}
seeds = (0, 1, 2)  # seed 0: the runs above, reloaded
rows_seeds = experiments.run_variants(
    base, {f"{name}, seed {seed}": {**changes, "seed": seed} for name, changes in compare.items() for seed in seeds},
    train, test, linear_epochs=100)
knn = {name: [row["knn"] for row in rows_seeds if row["variant"].startswith(name + ",")] for name in compare}
print()
for name, scores in knn.items():
    print(f"{name:<37} kNN {statistics.mean(scores):5.1f} +- {statistics.stdev(scores):3.1f} %   "
          f"(seeds {seeds}: {', '.join(f'{s:.1f}' for s in scores)})")
bt, vrt, full = knn.values()
print("per seed, TriMix - Barlow Twins:", ", ".join(f"{a - b:+.1f}" for a, b in zip(full, bt)),
      "| L_vrt only - Barlow Twins:", ", ".join(f"{a - b:+.1f}" for a, b in zip(vrt, bt)))

# %% [markdown]
# Compare the spread of each row (the `+-`, a standard deviation over seeds) with the differences
# between rows: a difference smaller than the spread says nothing about the variants. Runs with the
# same seed share their initial weights, views and lambdas, so the per-seed differences are the sharper
# comparison.
#
# - **Full TriMix against Barlow Twins**: in our quick runs TriMix was ahead on every seed, by several kNN
#   points: the paper's direction, and the one difference of Table VI this scale resolves.
# - **The virtual embeddings loss alone against Barlow Twins**: no reliable difference. In our runs it
#   changed sign from seed to seed, and a single quick run can show "L_vrt only" several points ahead of
#   Barlow Twins or several points behind (we saw both, with seed 0 on two machines). That is what
#   notebooks 03-04 lead us to expect: at tau = 2 the predicted matrix is nearly uniform and the
#   gradient of L_vrt is small, so adding it changes a run only a little. A little is enough to send a
#   100-step run down another path, so the score moves by a few points either way, as with another
#   seed, without a gain on average. (Control: TriMix with beta = gamma = 0, Barlow Twins' gradient with
#   TriMix's third forward pass, scored within a point of Barlow Twins on each seed we tried, so the
#   extra pass through the network is not what moves the score.) In our runs the self-consistency term
#   alone was ahead of Barlow Twins on each of three seeds: most of TriMix's lead at this scale comes
#   from L_con.
#
# In the paper, after 200 epochs, L_vrt alone adds 0.87 points to Barlow Twins (86.29 -> 87.16): a
# difference this scale could not resolve even if the term pulled harder.

# %%
paired = [v - b for v, b in zip(vrt, bt)]
if config.quick:  # the two points above, checked on this run's seeds (in quick mode, where we measured them)
    assert all(f > b for f, b in zip(full, bt)), "full TriMix should be ahead of Barlow Twins on every seed"
    assert abs(statistics.mean(paired)) < max(statistics.stdev(bt), statistics.stdev(vrt)), \
        "L_vrt alone should stay within the spread between seeds of Barlow Twins"

# %% [markdown]
# ## 4. Table VII: Z or Y?
#
# The full TriMix row is shared with Table VI (same changes, same folder), so only two new runs start.

# %%
rows_vii = experiments.run_variants(base, experiments.TABLE_VII_VARIANTS, train, test, linear_epochs=100,
                                    reference=experiments.PAPER_TABLE_VII)
print()
print(experiments.format_table(rows_vii, ["variant", "changes", "knn", "linear", "paper"]))
experiments.plot_variants(rows_vii, title="Table VII at this run's scale", chance=100 / train.num_classes)

# %% [markdown]
# The paper finds Z for both terms best (88.39 %) and the mixed choice worst (85.37 %): the two terms
# then pull on different features. At this run's scale the order can come out otherwise: one seed of
# 100 steps cannot settle differences of a few points (compare them with the spread between seeds
# measured above). Note that the Y variants here act on features of width 64 (8 x the width), the
# paper's on 512.
#
# ## 5. Fig. 4: batch size and projector size
#
# The paper trains every batch size in {32, ..., 512} with every projector size in {128, ..., 2048}:
# 25 runs per dataset. This notebook runs a 2 x 2 corner of such a grid (one corner is the base
# configuration, already trained above). Note that we fix the number of **steps**, while the paper
# fixes the number of epochs: a bigger batch here also sees more images.

# %%
grid = experiments.batch_dim_grid((32, 64), (32, 128)) if config.quick else experiments.batch_dim_grid((128, 256), (256, 1024))
rows_fig4 = experiments.run_variants(base, grid, train, test)
experiments.plot_batch_dim(rows_fig4, title="Fig. 4 at this run's scale (kNN)")

# %% [markdown]
# The paper reads two trends in Fig. 4: a bigger projector helps at a fixed batch size (up to about
# 1024), and small batches prefer small projectors. Do the lines here rise with D? With a handful of
# steps, do not read much into it.
#
# ## 6. At the paper's scale
#
# The same calls reproduce the tables on a GPU: remove `max_steps` (200 epochs each), keep
# `linear_epochs=100`, and give every variant the time. Each row is a separate run that can be resumed,
# so it can be spread over sessions:
#
# ```python
# base = trimix.paper_config(download=True, out_dir="runs/table6")      # CIFAR-10, 200 epochs
# train, test = load_dataset("cifar10", "train"), load_dataset("cifar10", "test")
# rows = experiments.run_variants(base, experiments.TABLE_VI_VARIANTS, train, test, linear_epochs=100,
#                                 reference=experiments.PAPER_TABLE_VI)
# print(experiments.format_table(rows))
# # Table VII: experiments.TABLE_VII_VARIANTS; Fig. 4: experiments.batch_dim_grid()
# ```
#
# Single variants also run from a terminal, e.g. "virtual embeddings loss only":
# `python -m trimix pretrain --gamma 0 --download --out-dir runs/table6/gamma-0`.
#
# ## Summary
#
# - Each ablation is a change of the configuration: `method`, `beta`, `gamma`, `feature_norm` (Table VI),
#   `vrt_on`/`con_on` (Table VII), `batch_size` and the projector size (Fig. 4).
# - `experiments.run_variants` pretrains and scores a dict of variants and returns rows for
#   `format_table` and `plot_variants`; finished variants are reloaded, not retrained.
# - Tiny runs show the machinery, not the paper's ordering: the spread between seeds of the same
#   variant is the yardstick, and differences of a point or two need long runs and several seeds. At
#   100 steps, full TriMix's lead over Barlow Twins shows on every seed; L_vrt alone does not.
