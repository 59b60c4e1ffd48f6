# ---
# jupyter:
#   trimix:
#     student_copy: true
# ---

# %% [markdown]
# # 03 · The ground-truth matrix and the predicted matrix
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/trimix-kit/trimix/blob/main/notebooks/03_ground_truth_and_predicted.ipynb)
#
# TriMix's **virtual embeddings loss** asks the network to recognise, from embeddings alone, which two
# images each virtual image was mixed from and in what proportions (paper section III-C, eqs 6-8,
# Algorithm 1 lines 27-36, Fig. 5). The answer is written as a B x B ground-truth matrix; the network's
# guess is a B x B matrix of softmax probabilities; the loss is the mean absolute difference.
#
# **Learning goals.** After this notebook you can
#
# - build the ground-truth matrix `GT = lam I + (1 - lam) rot90(I)` (eq 8) and see that it *is* the mixing matrix;
# - compute the predicted matrix: similarities (eq 6) and the row softmax with temperature tau (eq 7);
# - compute the virtual embeddings loss L_vrt (eq 8) and explain why it sits near 2/B at tau = 2;
# - compare a random encoder with a briefly trained one, and explore lambda and tau with widgets.
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
from trimix import widgets
from trimix.augment import augment_batch, two_views
from trimix.data import load_dataset

torch.manual_seed(config.seed)
gen = torch.Generator().manual_seed(config.seed)
data = load_dataset("shapes", "train")
x = augment_batch(data.images[:8], generator=gen)   # one view of a batch of B = 8


# %% [markdown]
# ## 1. The ground-truth matrix (eq 8)
#
# $$\mathcal{GT} = \lambda I + (1 - \lambda)(I * R)$$
#
# where `I` is the B x B identity and `R` rotates it by 90 degrees **counter-clockwise**, which turns
# the diagonal into the anti-diagonal. Row `m` of GT therefore holds `lam` at column `m` and `1 - lam`
# at column `B-1-m`: exactly the recipe of virtual image `m` (notebook 02). With an odd B the middle
# row gets `lam + (1 - lam) = 1` at the centre.
#
# ### Exercise `ground_truth_matrix`
# Write `my_ground_truth_matrix(batch_size, lam)`. Hint: `torch.rot90(m, 1, dims=(0, 1))` rotates
# counter-clockwise.

# %% nbgrader={"grade": false, "grade_id": "my_ground_truth_matrix", "locked": false, "schema_version": 3, "solution": true, "task": false} tags=["exercise"] hint="start from torch.eye(batch_size); torch.rot90 turns it into the anti-diagonal"
def my_ground_truth_matrix(batch_size: int, lam: float) -> torch.Tensor:
    """(B, B): lam on the diagonal, 1 - lam on the anti-diagonal (eq 8)."""
    ### BEGIN SOLUTION
    eye = torch.eye(batch_size)
    return lam * eye + (1 - lam) * torch.rot90(eye, 1, dims=(0, 1))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_ground_truth_matrix", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false} tags=["check"]
# CHECK: ground_truth_matrix
from trimix.checks import check_ground_truth_matrix

check_ground_truth_matrix(my_ground_truth_matrix)  # if my_ground_truth_matrix is wrong, this says what to fix
print("ground_truth_matrix: correct")

# %% [markdown]
# GT is more than a target: it is the **mixing matrix** itself. Multiplying the batch (each image
# flattened to a row) by GT gives the virtual batch of eq 5:

# %%
lam = 0.7
gt = trimix.ground_truth_matrix(8, lam)
same = torch.allclose(gt @ x.flatten(1), trimix.mix_batch(x, lam).flatten(1), atol=1e-5)
print("GT @ X == mix_batch(X, lam):", same)

# %% [markdown]
# The lambda widget of notebook 02 again (batch on top, virtual images on the left, GT in between):
# move lambda and watch the weight slide between the diagonal and the anti-diagonal.

# %%
widgets.lambda_widget(x, lam=lam)


# %% [markdown]
# ## 2. The predicted matrix (eqs 6-7)
#
# The network sees the batch and the virtual batch: `z = net(X)`, `z_vrt = net(X_vrt)`, each B x D.
# Eq 6 compares every original sample `m` with every virtual sample `n`:
#
# $$\mathcal{M}_{mn} = \frac{\sum_a z_{a,m}\, z^{vrt}_{a,n}}{\sqrt{\sum_a z_{a,m}^2}\sqrt{\sum_a (z^{vrt}_{a,n})^2}} \quad (6)
# \qquad \mathcal{M}_{m,:} = \mathrm{softmax}(\mathcal{M}_{m,:} / \tau) \quad (7)$$
#
# The kit computes eq 6 the way Algorithm 1 does (lines 12, 29-31):
#
# 1. `s(z)`: standardise `z` along the batch (notebook 01);
# 2. `v`: standardise `z_vrt` along the batch, then each **row** along the features (mean 0, unbiased
#    std 1), i.e. `trimix.feature_standardize(trimix.batch_standardize(z_vrt))`;
# 3. `s(z) @ v.T / D`: a B x B matrix, row `m` = how similar original `m` is to each virtual image;
# 4. softmax of each row divided by `tau` (eq 7; the paper uses tau = 2): every row becomes a
#    probability distribution over the virtual images, comparable to a row of GT.
#
# Note that `M` is B x B (samples against samples), unlike Barlow Twins' D x D matrix.
#
# ### Exercise `predicted_matrix`
# Write `my_predicted_matrix(z, z_vrt, tau)`. You may use `trimix.batch_standardize` and
# `trimix.feature_standardize`.

# %% nbgrader={"grade": false, "grade_id": "my_predicted_matrix", "locked": false, "schema_version": 3, "solution": true, "task": false} tags=["exercise"] hint="standardise z (batch) and z_vrt (batch, then features); similarities / D / tau; a softmax per row"
def my_predicted_matrix(z: torch.Tensor, z_vrt: torch.Tensor, tau: float = 2.0) -> torch.Tensor:
    """(B, D), (B, D) -> (B, B): softmax over each row of s(z) @ v.T / D / tau (eqs 6-7)."""
    ### BEGIN SOLUTION
    d = z.shape[1]
    v = trimix.feature_standardize(trimix.batch_standardize(z_vrt))
    similarity = trimix.batch_standardize(z) @ v.T / d
    return torch.softmax(similarity / tau, dim=1)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_predicted_matrix", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false} tags=["check"]
# CHECK: predicted_matrix
from trimix.checks import check_predicted_matrix

check_predicted_matrix(my_predicted_matrix)  # if my_predicted_matrix is wrong, this says what to fix
print("predicted_matrix: correct")


# %% [markdown]
# ## 3. The virtual embeddings loss (eq 8)
#
# $$\mathcal{L}_{vrt} = \| \mathcal{M} - \mathcal{GT} \|$$
#
# an L1 distance with **mean** reduction over all B x B entries (Algorithm 1 line 36, `L1Loss`).
#
# ### Exercise `virtual_embedding_loss`
# Write `my_virtual_embedding_loss(z, z_vrt, lam, tau)` from your two matrices.

# %% nbgrader={"grade": false, "grade_id": "my_virtual_embedding_loss", "locked": false, "schema_version": 3, "solution": true, "task": false} tags=["exercise"] hint="build M and GT with your two functions, then an L1 distance with mean reduction"
def my_virtual_embedding_loss(z: torch.Tensor, z_vrt: torch.Tensor, lam: float, tau: float = 2.0) -> torch.Tensor:
    """scalar: mean |M - GT| over the B x B entries (eq 8)."""
    ### BEGIN SOLUTION
    m = my_predicted_matrix(z, z_vrt, tau)
    return (m - my_ground_truth_matrix(z.shape[0], lam)).abs().mean()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_virtual_embedding_loss", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false} tags=["check"]
# CHECK: virtual_embedding_loss
from trimix.checks import check_virtual_embedding_loss

check_virtual_embedding_loss(my_virtual_embedding_loss)  # if my_virtual_embedding_loss is wrong, this says what to fix
print("virtual_embedding_loss: correct")

# %% [markdown]
# ## 4. A random encoder
#
# `widgets.embed_pair(net, x, lam)` runs the network on the batch and on its virtual batch (in
# training mode, as the loss sees them), and `widgets.tau_view` draws Fig. 5 A-C: GT, the matrix
# before the softmax, and M after it, with L_vrt in the title.
#
# What to look at: even an untrained network gives a faint **diagonal** in (B), because virtual
# image `m` is 70 % image `m`, and similar inputs give similar outputs. The **anti-diagonal** (the
# 30 % partner) is barely visible. And (C) is almost flat.

# %%
net = trimix.SSLNet(32, width=8, proj_hidden=64, proj_dim=64)
z, z_vrt = widgets.embed_pair(net, x, lam)
fig, l_vrt = widgets.tau_view(z, z_vrt, lam, tau=2.0, name="random encoder")
fig

# %% [markdown]
# ### Why is M almost uniform? A numerical note
#
# Before the softmax, eq 6 divides by D, so the entries of `s(z) @ v.T / D` are correlation-like
# numbers, roughly between -1 and 1 (look at the colour bar of (B)). Divided by `tau = 2`, the
# logits of a row differ by about 1 at most, and the softmax of numbers that close is nearly
# uniform: every entry of M stays near `1/B`. A uniform M has
# `L_vrt = mean|1/B - GT|`, which is `2/B - 4/B^2` for an even B, about `2/B`: that is where L_vrt
# sits at tau = 2, for a random network and, as you will see, for a trained one too. The loss still
# has a gradient (it is *small* differences between entries that it rewards), but a smaller tau
# makes M much sharper. The table shows it for our random encoder:

# %%
print(f"B = {len(z)}: uniform M gives L_vrt = {widgets.uniform_l_vrt(len(z), lam):.4f} (2/B = {2 / len(z):.4f})")
for tau in [10, 2, 1, 0.5, 0.1, 0.02]:
    v = widgets.tau_values(z, z_vrt, lam, tau)
    print(f"tau = {tau:5}: L_vrt = {v['l_vrt']:.4f}, largest entry of M = {v['max_entry']:.3f}")

# %% [markdown]
# ### The tau widget
# The network ran once, above; the slider only redoes the softmax. Slide tau from 10 down to 0.01 and
# watch (C): when does M start to look like a sharp copy of the diagonal in (B)? Does the random
# network ever put weight on the anti-diagonal?

# %%
widgets.tau_widget((z, z_vrt), lam=lam, name="random encoder")

# %% [markdown]
# ## 5. A briefly trained encoder
#
# Now train the same kind of network with the full TriMix objective for 30 steps (batches of 32,
# Adam, the paper's alpha, beta, gamma and tau = 2; a `lam` is drawn each step). Notebook 04 looks at
# the objective as a whole; here we only watch what happens to the matrices.

# %%
torch.manual_seed(config.seed)
net = trimix.SSLNet(32, width=8, proj_hidden=64, proj_dim=64)
method = trimix.TriMix(net, generator=gen)       # alpha=5e-3, beta=1000, gamma=200, tau=2
opt = torch.optim.Adam(method.parameters(), lr=1e-3, weight_decay=1e-6)
for step in range(30):
    idx = torch.randint(len(data), (32,), generator=gen)
    v1, v2 = two_views(data.images[idx], generator=gen)
    loss, parts = method.loss(v1, v2)
    opt.zero_grad()
    loss.backward()
    opt.step()
print("last step:", {k: round(v.item(), 4) for k, v in parts.items()})

# %% [markdown]
# The same batch and the same `lam` through the trained network. First in numbers: the mean of the
# matrix before the softmax (Fig. 5 B) on the diagonal (the 70 % ingredient), on the anti-diagonal
# (the 30 % partner) and everywhere else (images that played no part):

# %%
z_t, z_vrt_t = widgets.embed_pair(method, x, lam)
gt = trimix.ground_truth_matrix(len(x), lam)
for name, (a, b) in {"random": (z, z_vrt), "after 30 steps": (z_t, z_vrt_t)}.items():
    sim = trimix.similarity_matrix(a, b)
    print(f"{name:>14}: diagonal {sim.diagonal().mean():5.2f}   anti-diagonal {sim.fliplr().diagonal().mean():5.2f}"
          f"   elsewhere {sim[gt == 0].mean():5.2f}")

# %%
# What the next paragraph says, checked on this run (the notebook's tests fail if it stops holding).
sims = {name: trimix.similarity_matrix(a, b) for name, (a, b) in {"random": (z, z_vrt), "trained": (z_t, z_vrt_t)}.items()}
lead = {name: (sim.fliplr().diagonal().mean() - sim[gt == 0].mean()).item() for name, sim in sims.items()}
assert sims["trained"].diagonal().mean() > sims["random"].diagonal().mean(), "the diagonal should rise"
assert sims["trained"].diagonal().mean() > sims["trained"].fliplr().diagonal().mean(), "the 70 % image first"
assert lead["trained"] > lead["random"] + 0.1, "the anti-diagonal should stand out more after training"
print(f"anti-diagonal minus elsewhere: random {lead['random']:.2f}, after 30 steps {lead['trained']:.2f}")

# %% [markdown]
# Both ingredients now stand out from the rest: the network has started to see *which two* images
# make each virtual image, and that the first weighs more. Yet at tau = 2, (C) and L_vrt have hardly
# moved (the numerical note). Look at (B) in the figure, then at the second figure, which sharpens
# the softmax with tau = 0.1: M now picks out the diagonal, and for the trained network a trace of the
# anti-diagonal.

# %%
fig, l_vrt_t = widgets.tau_view(z_t, z_vrt_t, lam, tau=2.0, name="after 30 steps")
fig

# %%
l_vrt = {}
for name, (a, b) in {"random": (z, z_vrt), "after 30 steps": (z_t, z_vrt_t)}.items():
    l_vrt[name] = {tau: widgets.tau_values(a, b, lam, tau)["l_vrt"] for tau in (2.0, 0.1)}
    print(f"{name:>14}: L_vrt at tau = 2: {l_vrt[name][2.0]:.4f}, at tau = 0.1: {l_vrt[name][0.1]:.4f}")
print(f"uniform M: {widgets.uniform_l_vrt(len(x), lam):.4f}; M = GT: 0")
# the next paragraph, checked: tau = 2 lowers L_vrt a little; at tau = 0.1 both stay far from 0
assert l_vrt["after 30 steps"][2.0] < l_vrt["random"][2.0]
assert min(v[0.1] for v in l_vrt.values()) > 0.25 * widgets.uniform_l_vrt(len(x), lam)
fig, _ = widgets.tau_view(z_t, z_vrt_t, lam, tau=0.1, name="after 30 steps")
fig

# %% [markdown]
# Does the trained network then come closer to GT? Not by L_vrt. At tau = 2 its L_vrt is a little lower
# (on every seed we tried), but the softmax keeps M nearly uniform. At tau = 0.1 M turns almost every
# row into a single peak on the diagonal, while GT splits the row 70/30 between the diagonal and the
# anti-diagonal, so both networks stay far from GT, and which of the two comes closer changed from seed
# to seed (six seeds). What 30 steps taught the network shows in (B), the similarities before the
# softmax: the right two images come first, the right one first of all. L_vrt rewards that only
# weakly, which is notebook 04's point about its gradient.

# %% [markdown]
# The tau widget on the trained network (it embeds the batch once, here):

# %%
widgets.tau_widget(method, x, lam=lam, name="after 30 steps")

# %% [markdown]
# *Try it:* rebuild the widgets with `lam = 0.5`. What should GT look like, and can any network
# tell virtual image `m` from virtual image `B-1-m` then?
#
# ## Summary
#
# - `GT = lam I + (1 - lam) rot90(I)` (eq 8) records which two images make each virtual image, and in
#   what proportions; it is the mixing matrix of eq 5.
# - The network's guess is `M = softmax(s(z) v^T / D / tau)` (eqs 6-7), a B x B matrix whose rows are
#   distributions over the virtual batch; `L_vrt = mean |M - GT|` (eq 8).
# - Because of the `1/D` scaling, tau = 2 keeps M close to uniform and L_vrt close to `2/B`; the matrix
#   before the softmax (Fig. 5 B) shows what the network learned more clearly.
# - In the kit: `trimix.ground_truth_matrix`, `trimix.similarity_matrix`, `trimix.predicted_matrix`,
#   `trimix.virtual_embedding_loss`; `widgets.tau_view`, `widgets.tau_widget`, `widgets.lambda_widget`.
#
# Next, notebook 04: self-consistency (eqs 9-10) and the full objective (eq 11).
