# ---
# jupyter:
#   trimix:
#     student_copy: true
# ---

# %% [markdown]
# # 02 · Mixup views: virtual images from a batch and its reverse
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/trimix-kit/trimix/blob/main/notebooks/02_mixup_views.ipynb)
#
# TriMix adds new data points to Barlow Twins: **virtual images**, each a blend of two real images of
# the batch (paper section III-B, eq 5, and lines 20-25 of Algorithm 1). This notebook builds them and
# looks at them the way the paper's Fig. 5 does: the batch along the top, the virtual images down the
# left, and the ground-truth matrix that says what went into each.
#
# **Learning goals.** After this notebook you can
#
# - build the virtual batch `X_vrt = lam * X + (1 - lam) * flip(X)` (eq 5) and say which two images each virtual image mixes;
# - explain why mixing with the *reversed* batch never mixes an image with itself (and the one exception);
# - read the top row and left column of Fig. 5 and move lambda with a widget;
# - recover lambda from a mixture: the decomposition task TriMix gives the network, solved here in pixel space.
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
from trimix import viz, widgets
from trimix.augment import augment_batch
from trimix.data import load_dataset

torch.manual_seed(config.seed)
gen = torch.Generator().manual_seed(config.seed)

# %% [markdown]
# ## 1. One view of a batch
#
# Mixing happens on **one** arm of the siamese network only: the first view `X` (section III-B).
# We take a batch of B = 8 images and one augmented view of it (notebook 01 made two).

# %%
data = load_dataset("shapes", "train")
batch = data.images[:8]                  # uint8 (8, 3, 32, 32)
x = augment_batch(batch, generator=gen)  # one augmented view, normalised floats
viz.show_images(x, titles=[data.classes[k] for k in data.labels[:8]], suptitle="X: one view of the batch")

# %% [markdown]
# ## 2. The reversed batch
#
# `flip` reverses the **order of the batch** (dim 0), not the pixels: `X^r = flip(X)` holds image
# B-1 first and image 0 last. Look down each column: image `m` on top sits above image `B-1-m`.

# %%
viz.show_images(torch.cat([x, trimix.flip(x)]), ncols=8, suptitle="top: X, bottom: X^r = flip(X)")


# %% [markdown]
# ## 3. Virtual images (eq 5)
#
# $$X^{vrt} = \lambda X + (1 - \lambda) X^r \qquad (5)$$
#
# One scalar `lambda` is drawn from U(0, 1) per training step (`trimix.sample_lambda`), and every
# virtual image uses it: virtual image `m` is `lam * x_m + (1 - lam) * x_{B-1-m}`. Because the
# partner of `m` is `B-1-m`, no image is mixed with itself, except, when B is odd, the middle one.
#
# ### Exercise `mix_batch`
# Write `my_mix_batch(x, lam)` for a batch of any shape `(B, ...)` (images or embeddings).

# %% nbgrader={"grade": false, "grade_id": "my_mix_batch", "locked": false, "schema_version": 3, "solution": true, "task": false} tags=["exercise"] hint="torch.flip(x, dims=(0,)) reverses the batch order"
def my_mix_batch(x: torch.Tensor, lam: float) -> torch.Tensor:
    """(B, ...) -> (B, ...): lam * x + (1 - lam) * x reversed along the batch (eq 5)."""
    ### BEGIN SOLUTION
    return lam * x + (1 - lam) * torch.flip(x, dims=(0,))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_mix_batch", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false} tags=["check"]
# CHECK: mix_batch
from trimix.checks import check_mix_batch

check_mix_batch(my_mix_batch)  # if my_mix_batch is wrong, this says what to fix
print("mix_batch: correct")

# %% [markdown]
# The three rows below are `X`, `X^r` and `X^vrt` for `lam = 0.7`: each virtual image is mostly the
# image above it, with a ghost of its partner from the other end of the batch.

# %%
lam = 0.7
x_vrt = trimix.mix_batch(x, lam)
viz.show_images(torch.cat([x, trimix.flip(x), x_vrt]), ncols=8,
                suptitle=f"rows: X, X^r, X^vrt = {lam} X + {1 - lam:.1f} X^r")

# %% [markdown]
# ## 4. Reading Fig. 5
#
# The paper's Fig. 5 lays this out around a matrix: the batch along the top, the virtual images down
# the left. The **red** virtual image (row 1) is made of the two **green** images of the top row,
# columns 1 and B-2, in proportions `lam` and `1 - lam`; the matrix in between writes exactly these
# proportions in row 1. That matrix is the *ground truth* `GT` of eq 8, which notebook 03 builds.

# %%
viz.plot_mixing_grid(x, x_vrt, lam, highlight=1)

# %% [markdown]
# With an odd batch the middle image's partner is itself, so its virtual image is the image
# unchanged (and its row of GT holds a single 1):

# %%
x7 = x[:7]
print("B = 7: virtual image 3 equals image 3:", torch.allclose(trimix.mix_batch(x7, 0.3)[3], x7[3]))

# %% [markdown]
# ### The lambda widget
# Move the slider and watch the virtual images and GT change together. What do you see at
# `lam = 0.5`? (Virtual images `m` and `B-1-m` become identical, and GT symmetric about both diagonals.)
# At `lam = 1` and `lam = 0`? (If the slider does not appear, e.g. in a plain Python run, call
# `widgets.lambda_view(x, 0.5)` instead: the widget is a thin wrapper around it.)

# %%
widgets.lambda_widget(x, lam=0.5)

# %% [markdown]
# During training `lam` is drawn afresh every step:

# %%
lams = torch.tensor([trimix.sample_lambda(gen) for _ in range(2000)])
print(f"2000 draws of lam: min {lams.min():.3f}, mean {lams.mean():.3f}, max {lams.max():.3f} (uniform on [0, 1])")


# %% [markdown]
# ## 5. Undoing the mix: recover lambda
#
# TriMix's *virtual embeddings* task (notebook 03) asks the network to **decompose** a virtual image
# into its two parts and their proportions. In pixel space that is a line of algebra: from eq 5,
# `X^vrt - X^r = lam * (X - X^r)`, so the least-squares estimate over all pixels is
#
# $$\hat\lambda = \frac{\langle X^{vrt} - X^r,\; X - X^r \rangle}{\| X - X^r \|^2}.$$
#
# ### Exercise `estimate_lambda`
# Write `my_estimate_lambda(x, x_vrt)` returning a Python float.

# %% nbgrader={"grade": false, "grade_id": "my_estimate_lambda", "locked": false, "schema_version": 3, "solution": true, "task": false} tags=["exercise"] hint="least squares: project X^vrt - X^r onto X - X^r, over all entries at once"
def my_estimate_lambda(x: torch.Tensor, x_vrt: torch.Tensor) -> float:
    """Given a batch (B, ...) and its virtual batch, the lam that mixed them (least squares over all entries)."""
    ### BEGIN SOLUTION
    xr = torch.flip(x, dims=(0,))
    d = (x - xr).flatten()
    return float((x_vrt - xr).flatten() @ d / (d @ d))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_estimate_lambda", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false} tags=["check"]
# CHECK: estimate_lambda
from trimix.checks import check_estimate_lambda

check_estimate_lambda(my_estimate_lambda)  # if my_estimate_lambda is wrong, this says what to fix
print("estimate_lambda: correct")


# %% [markdown]
# On our augmented batch the estimate is exact. To see *how well* a mix explains the virtual batch,
# also measure what the best mix leaves over: the share of the spread of `X^vrt` that
# `mix_batch(X, lam_hat)` does not explain (0 = a perfect mix).

# %%
def unexplained(a, a_vrt, lam_hat):
    """Share of a_vrt's spread left over by the best mix of a and flip(a): 0 = a perfect mix."""
    rest = a_vrt - trimix.mix_batch(a, min(max(lam_hat, 0.0), 1.0))
    return (rest.norm() / (a_vrt - a_vrt.mean(0)).norm()).item()

lam_hat = my_estimate_lambda(x, x_vrt)
print(f"pixels:     lam = {lam}, estimated {lam_hat:.3f}, unexplained {unexplained(x, x_vrt, lam_hat):.0%}")

# %% [markdown]
# Now the same on the **embeddings** of a random network, `z = net(X)` and `z_vrt = net(X_vrt)`. The
# estimate of lam may still come out roughly right, but look at what is left over: a network is not
# linear, so the embedding of a mix is far from the mix of the embeddings. TriMix's two extra losses
# work on exactly this gap: `L_vrt` asks the network to recognise the two ingredients and their
# proportions from the embeddings (notebook 03), and `L_con` asks the embedding of a mix to *be* the
# mix of the embeddings (notebook 04).

# %%
net = trimix.SSLNet(32, width=8, proj_hidden=64, proj_dim=64)
with torch.no_grad():
    z, z_vrt = net(x)[1], net(x_vrt)[1]
lam_hat = my_estimate_lambda(z, z_vrt)
print(f"embeddings: lam = {lam}, estimated {lam_hat:.3f}, unexplained {unexplained(z, z_vrt, lam_hat):.0%}")

# %% [markdown]
# ## Summary
#
# - TriMix mixes one view of the batch with its own reverse: `X_vrt = lam X + (1 - lam) flip(X)` (eq 5),
#   one `lam ~ U(0, 1)` per step. Image `m` is paired with image `B-1-m`, so nothing is mixed with
#   itself (except the middle image of an odd batch).
# - Fig. 5 reads as: batch on top, virtual images on the left, and in between the matrix of the
#   proportions, the ground truth `GT` of eq 8.
# - In pixel space the mix can be undone exactly; in embedding space a network has to *learn* to.
# - In the kit: `trimix.flip`, `trimix.mix_batch`, `trimix.sample_lambda`, `viz.plot_mixing_grid`,
#   `widgets.lambda_widget`.
#
# Next, notebook 03: the ground-truth matrix and the matrix the network predicts (eqs 6-8).
