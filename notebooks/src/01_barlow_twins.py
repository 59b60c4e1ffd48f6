# ---
# jupyter:
#   trimix:
#     student_copy: true
# ---

# %% [markdown]
# # 01 · Barlow Twins: the cross-correlation matrix
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/trimix-kit/trimix/blob/main/notebooks/01_barlow_twins.ipynb)
#
# TriMix (Bdair et al.) is built on top of **Barlow Twins**: two augmented views of the same images go
# through the same network, and the loss asks the embeddings of the two views to agree feature by
# feature while different features stay decorrelated. This notebook takes that loss apart, equation
# by equation (paper section III-A, eqs 1-4, and lines 9-19 of Algorithm 1).
#
# **Learning goals.** After this notebook you can
#
# - make two augmented views of a batch and embed them with the network `net = projector(backbone(x))`;
# - standardise embeddings along the batch, as Algorithm 1 does (lines 12-13);
# - compute the D x D cross-correlation matrix C (eq 4) and read what its diagonal and off-diagonal say;
# - split the Barlow Twins loss into its invariance term (eq 2) and redundancy term (eq 3), weighted by alpha (eq 1);
# - watch C move towards the identity matrix during a few steps of training.
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
from trimix import viz
from trimix.augment import two_views
from trimix.data import load_dataset

torch.manual_seed(config.seed)
gen = torch.Generator().manual_seed(config.seed)  # one generator for every random draw below

# %% [markdown]
# ## 1. Data and two views
#
# In quick mode the kit uses its built-in `shapes` dataset: 32 x 32 images of ten kinds of drawn
# shapes. The *class* is the shape; colour, position, size and background are nuisances a good
# representation should ignore. No download is needed.

# %%
data = load_dataset("shapes", "train")
print(data)
viz.show_images(data.images[:10], titles=[data.classes[k] for k in data.labels[:10]])

# %% [markdown]
# Section III-A of the paper: two transformations `t, t'` drawn from a family of augmentations turn a
# batch `I` into two views `X = t(I)` and `X' = t'(I)` (random crop, flip, colour jitter, grayscale).
# Look at each column below: the same image twice, cropped and coloured differently. Whatever both
# views still share, here the shape, is what Barlow Twins teaches the network to keep.

# %%
batch = data.images[:64]                      # uint8 (64, 3, 32, 32)
x1, x2 = two_views(batch, generator=gen)      # normalised floats, two independent augmentations
viz.show_images(torch.cat([x1[:8], x2[:8]]), ncols=8, suptitle="top: view X, bottom: view X'")

# %% [markdown]
# The network is a backbone `f` (a ResNet-18) followed by a projector `h` (an MLP): `Y = f(X)` are the
# *representations* used after training, `Z = h(Y)` the *embeddings* the losses see. The paper uses a
# full ResNet-18 and a 1024-wide projector; to run in seconds on a CPU we take a narrow one
# (`width=8`, 64-dimensional embeddings). `SSLNet.forward` returns both `(y, z)`.

# %%
net = trimix.SSLNet(32, width=8, proj_hidden=64, proj_dim=64)
with torch.no_grad():
    (y1, z1), (y2, z2) = net(x1), net(x2)
print("Y:", tuple(y1.shape), " Z:", tuple(z1.shape), "  (B = batch size, D = embedding size)")


# %% [markdown]
# ## 2. Standardising along the batch
#
# Before comparing the views, each embedding dimension is standardised **along the batch**: every
# column of `Z` (B x D) gets mean 0 and standard deviation 1 over the B samples (Algorithm 1,
# lines 12-13: `z = (z - z.mean(0)) / z.std(0)`). `torch.std` is the *unbiased* estimate (divides
# by B - 1), and the kit follows Algorithm 1 there.
#
# ### Exercise `batch_standardize`
# Write `my_batch_standardize(z)` for a (B, D) tensor.

# %% nbgrader={"grade": false, "grade_id": "my_batch_standardize", "locked": false, "schema_version": 3, "solution": true, "task": false} tags=["exercise"] hint="take the mean and the std of each column, along dim 0 (the batch); torch.std is unbiased"
def my_batch_standardize(z: torch.Tensor) -> torch.Tensor:
    """(B, D) -> (B, D): every column with mean 0 and unbiased std 1 over the batch (Algorithm 1, lines 12-13)."""
    ### BEGIN SOLUTION
    return (z - z.mean(dim=0)) / z.std(dim=0)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_batch_standardize", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false} tags=["check"]
# CHECK: batch_standardize
from trimix.checks import check_batch_standardize

check_batch_standardize(my_batch_standardize)  # if my_batch_standardize is wrong, this says what to fix
print("batch_standardize: correct")


# %% [markdown]
# ## 3. The cross-correlation matrix (eq 4)
#
# Eq 4 compares dimension `i` of one view with dimension `j` of the other over the whole batch:
#
# $$\mathcal{C}_{ij} = \frac{\sum_b z_{b,i}\, z'_{b,j}}{\sqrt{\sum_b z_{b,i}^2}\sqrt{\sum_b {z'}_{b,j}^2}}$$
#
# With standardised columns this is one matrix product, as Algorithm 1 writes it (line 15):
# `C = s(Z).T @ s(Z') / B`, a **D x D** matrix (not B x B!). Its entries lie between -1 and 1.
# (Dividing by B while the std divides by B - 1 makes a perfect match `(B - 1) / B` rather than
# exactly 1: a detail of Algorithm 1 the kit keeps.)
#
# - **Diagonal** `C_ii`: does feature `i` take the same value on both views of each image? We want 1.
# - **Off-diagonal** `C_ij`: do features `i` and `j` carry the same information? We want 0.
#
# ### Exercise `cross_correlation`
# Write `my_cross_correlation(z1, z2)` (you may use your `my_batch_standardize`).

# %% nbgrader={"grade": false, "grade_id": "my_cross_correlation", "locked": false, "schema_version": 3, "solution": true, "task": false} tags=["exercise"] hint="standardise both inputs along the batch, then one matrix product that gives D x D, over B"
def my_cross_correlation(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """(B, D), (B, D) -> (D, D): eq 4 as Algorithm 1 computes it, s(z1).T @ s(z2) / B."""
    ### BEGIN SOLUTION
    b = z1.shape[0]
    return my_batch_standardize(z1).T @ my_batch_standardize(z2) / b
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_cross_correlation", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false} tags=["check"]
# CHECK: cross_correlation
from trimix.checks import check_cross_correlation

check_cross_correlation(my_cross_correlation)  # if my_cross_correlation is wrong, this says what to fix
print("cross_correlation: correct")

# %% [markdown]
# Here is C for our **random, untrained** network on the two views above. Look at the diagonal: it is
# far from 1 (the two views of an image get different features), and the off-diagonal is speckled
# with correlations of both signs (features are redundant).

# %%
c_before = trimix.cross_correlation(z1, z2)
viz.plot_cross_correlation(c_before, "C of a random network")


# %% [markdown]
# ## 4. The loss: invariance and redundancy reduction (eqs 1-3)
#
# $$\mathcal{L}_{inv} = \sum_i (1 - \mathcal{C}_{ii})^2 \quad (2) \qquad
# \mathcal{L}_{rr} = \sum_i \sum_{j \neq i} \mathcal{C}_{ij}^2 \quad (3) \qquad
# \mathcal{L}_{BT} = \mathcal{L}_{inv} + \alpha\, \mathcal{L}_{rr} \quad (1)$$
#
# Both are **sums** (not means) over the matrix, and `alpha = 5e-3` (paper section IV-A): there are
# D(D - 1) off-diagonal entries but only D diagonal ones, so the redundancy term needs a small weight.
#
# ### Exercise `off_diagonal_sum`
# Write `my_off_diagonal_sum(c)`, the redundancy term of eq 3: the sum of the **squares** of the
# entries of a square matrix that are off its diagonal (every `i != j`, both triangles). Hint:
# `~torch.eye(d, dtype=torch.bool)` is a mask of the off-diagonal entries, and `c[mask]` picks them.

# %% nbgrader={"grade": false, "grade_id": "my_off_diagonal_sum", "locked": false, "schema_version": 3, "solution": true, "task": false} tags=["exercise"] hint="square the entries, then add up those with i != j (a mask from torch.eye helps)"
def my_off_diagonal_sum(c: torch.Tensor) -> torch.Tensor:
    """(D, D) -> scalar: sum over i != j of c[i, j] ** 2 (eq 3)."""
    ### BEGIN SOLUTION
    off = ~torch.eye(c.shape[0], dtype=torch.bool)
    return c[off].pow(2).sum()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_off_diagonal_sum", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false} tags=["check"]
# CHECK: off_diagonal_sum
from trimix.checks import check_off_diagonal_sum

check_off_diagonal_sum(my_off_diagonal_sum)  # if my_off_diagonal_sum is wrong, this says what to fix
print("off_diagonal_sum: correct")


# %% [markdown]
# ### Exercise `barlow_twins_loss`
# Write `my_barlow_twins_loss(z1, z2, alpha)` from your cross-correlation and your off-diagonal sum.
# Hint: `torch.diagonal(c)` gives the diagonal.

# %% nbgrader={"grade": false, "grade_id": "my_barlow_twins_loss", "locked": false, "schema_version": 3, "solution": true, "task": false} tags=["exercise"] hint="sum of (1 - C_ii)^2 over the diagonal, plus alpha times your off-diagonal sum"
def my_barlow_twins_loss(z1: torch.Tensor, z2: torch.Tensor, alpha: float = 5e-3) -> torch.Tensor:
    """(B, D), (B, D) -> scalar: L_inv + alpha * L_rr (eqs 1-3) on the cross-correlation of eq 4."""
    ### BEGIN SOLUTION
    c = my_cross_correlation(z1, z2)
    invariance = (1 - torch.diagonal(c)).pow(2).sum()
    return invariance + alpha * my_off_diagonal_sum(c)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_barlow_twins_loss", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false} tags=["check"]
# CHECK: barlow_twins_loss
from trimix.checks import check_barlow_twins_loss

check_barlow_twins_loss(my_barlow_twins_loss)  # if my_barlow_twins_loss is wrong, this says what to fix
print("barlow_twins_loss: correct")


# %% [markdown]
# The kit splits the same loss into `trimix.invariance_term(c)` and `trimix.redundancy_term(c)`.
# For the random network:

# %%
def terms(c, alpha=5e-3):
    inv, rr = trimix.invariance_term(c).item(), trimix.redundancy_term(c).item()
    return f"L_inv = {inv:7.2f}   L_rr = {rr:7.2f}   alpha * L_rr = {alpha * rr:5.2f}   L_BT = {inv + alpha * rr:7.2f}"

print("random network:", terms(c_before))

# %% [markdown]
# ## 5. A few steps of training
#
# `trimix.BarlowTwins` wraps the network; its `loss(x1, x2)` embeds both views and returns
# `(L_BT, parts)`. We train with Adam (the paper's optimiser, lr 1e-3, weight decay 1e-6) for 30 steps,
# each on fresh views of a random batch of 64 images: a few seconds on a CPU.

# %%
method = trimix.BarlowTwins(net, alpha=5e-3)
opt = torch.optim.Adam(method.parameters(), lr=1e-3, weight_decay=1e-6)
history = {"step": [], "bt": []}
for step in range(1, 31):
    idx = torch.randint(len(data), (64,), generator=gen)
    v1, v2 = two_views(data.images[idx], generator=gen)
    loss, parts = method.loss(v1, v2)
    opt.zero_grad()
    loss.backward()
    opt.step()
    history["step"].append(step)
    history["bt"].append(loss.item())
viz.plot_history(history)

# %% [markdown]
# The loss falls, with bumps: every step sees a new batch and new augmentations. Now the same two
# views as before, through the trained network. First the two terms: the invariance term has
# dropped a lot, while the redundancy term has *grown*; weighted by alpha it stays the smaller part
# of the loss.

# %%
with torch.no_grad():
    c_after = trimix.cross_correlation(net(x1)[1], net(x2)[1])
print("random network: ", terms(c_before))
print("after 30 steps: ", terms(c_after))

# %% [markdown]
# In the heatmaps, a single diagonal line of a 64 x 64 matrix is easy to miss, so read the numbers in
# the titles too: the mean of the diagonal has grown. The off-diagonal has changed as well: bands and
# blocks of features that move together. Right after initialisation, the quickest way to make the two
# views agree is for many features to pick up the same easy cue, so they become correlated: exactly
# the redundancy the second term of eq 1 is there to remove, slowly, because alpha is small.

# %%
viz.plot_cross_correlation([c_before, c_after], ["C of a random network", "C after 30 steps"])

# %% [markdown]
# The same information as histograms: orange are the D diagonal entries (the target is 1), blue the
# D(D - 1) off-diagonal ones (the target is 0). Training moves the orange mass to the right, towards
# 1, and spreads the blue mass out: the redundancy we just saw.

# %%
viz.plot_correlation_entries([c_before, c_after], ["random network", "after 30 steps"])

# %% [markdown]
# *Try it:* run the training cell and the cells after it again: each run adds 30 steps to the same
# network. Watch `L_rr`: after a peak, it starts to fall. Then set `alpha=0` in `trimix.BarlowTwins`,
# train a fresh network, and look at the off-diagonal of C. Without the redundancy term, what stops
# every feature from becoming the same feature?
#
# ## Summary
#
# - Two augmented views of each image go through the same network; Barlow Twins compares their
#   embeddings **feature by feature** with the D x D cross-correlation matrix C (eq 4), computed on
#   embeddings standardised along the batch.
# - The loss (eq 1) pushes the diagonal of C to 1 (**invariance**, eq 2) and the off-diagonal to 0
#   (**redundancy reduction**, eq 3, weighted by alpha = 5e-3).
# - In the kit: `trimix.batch_standardize`, `trimix.cross_correlation`, `trimix.invariance_term`,
#   `trimix.redundancy_term`, `trimix.barlow_twins_loss`, and the method `trimix.BarlowTwins`.
#
# Next, notebook 02: TriMix's first addition, mixing a batch with its own reverse (eq 5).
