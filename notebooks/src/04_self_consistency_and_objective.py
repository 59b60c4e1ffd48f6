# ---
# jupyter:
#   trimix:
#     student_copy: true
# ---

# %% [markdown]
# # 04 · Self-consistency and the full TriMix objective
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/trimix-kit/trimix/blob/main/notebooks/04_self_consistency_and_objective.ipynb)
#
# TriMix's second addition is **self-consistency**: the embedding of a mixed image should equal the same
# mix of the embeddings (paper section III-D, eqs 9-10). Then all the pieces come together in the
# full objective (section III-E, eq 11, Algorithm 1 lines 37-42), which we train for a few steps.
#
# **Learning goals.** After this notebook you can
#
# - compute the mixed-up embeddings `Z~ = lam Z + (1 - lam) flip(Z)` (eq 9) on standardised embeddings;
# - compute the self-consistency loss `L_con = mean |Z~ - v|` (eq 10) with the virtual embeddings normalised as in Algorithm 1;
# - assemble the full objective `L = L_BT + beta L_vrt + gamma L_con` (eq 11) and compare the sizes of its parts;
# - train TriMix for a few Adam steps and watch every part move.
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
gen = torch.Generator().manual_seed(config.seed)
data = load_dataset("shapes", "train")
x1, x2 = two_views(data.images[:32], generator=gen)   # two views of a batch of B = 32
net = trimix.SSLNet(32, width=8, proj_hidden=64, proj_dim=64)


# %% [markdown]
# ## 1. Mixed-up embeddings (eq 9)
#
# A network is non-linear: the embedding of a mixed image, `z_vrt = net(lam x_m + (1 - lam) x_{B-1-m})`,
# is in general **not** `lam z_m + (1 - lam) z_{B-1-m}` (notebook 02 measured the gap). The paper
# defines the mix of the embeddings, with the same `lam` as eq 5:
#
# $$\tilde{Z} = \lambda Z + (1 - \lambda) Z^r, \qquad Z^r = \mathrm{flip}(Z) \qquad (9)$$
#
# In Algorithm 1 `z` has already been standardised along the batch (line 12) when it is mixed
# (line 26), so the kit mixes `s(Z)`.
#
# ### Exercise `mixed_embeddings`
# Write `my_mixed_embeddings(z, lam)`: standardise along the batch, then mix with the reversed batch.
# (`trimix.batch_standardize` and `trimix.mix_batch` are yours to use: you wrote both already.)

# %% nbgrader={"grade": false, "grade_id": "my_mixed_embeddings", "locked": false, "schema_version": 3, "solution": true, "task": false} tags=["exercise"] hint="batch-standardise z first, then mix it with its reverse"
def my_mixed_embeddings(z: torch.Tensor, lam: float) -> torch.Tensor:
    """(B, D) -> (B, D): lam * s(z) + (1 - lam) * flip(s(z)) (eq 9)."""
    ### BEGIN SOLUTION
    s = trimix.batch_standardize(z)
    return lam * s + (1 - lam) * torch.flip(s, dims=(0,))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_mixed_embeddings", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false} tags=["check"]
# CHECK: mixed_embeddings
from trimix.checks import check_mixed_embeddings

check_mixed_embeddings(my_mixed_embeddings)  # if my_mixed_embeddings is wrong, this says what to fix
print("mixed_embeddings: correct")


# %% [markdown]
# ## 2. The self-consistency loss (eq 10)
#
# $$\mathcal{L}_{con} = \| \tilde{Z} - Z^{vrt} \| \qquad (10)$$
#
# an L1 distance with **mean** reduction over all B x D entries (Algorithm 1 line 38). The virtual
# embeddings enter normalised as for eq 6 (lines 29-30): `v` = `z_vrt` standardised along the batch,
# then each row along the features. So the loss compares `Z~` with `v`.
#
# ### Exercise `self_consistency_loss`
# Write `my_self_consistency_loss(z, z_vrt, lam)`.

# %% nbgrader={"grade": false, "grade_id": "my_self_consistency_loss", "locked": false, "schema_version": 3, "solution": true, "task": false} tags=["exercise"] hint="Z~ from my_mixed_embeddings; v = z_vrt standardised along the batch, then the features"
def my_self_consistency_loss(z: torch.Tensor, z_vrt: torch.Tensor, lam: float) -> torch.Tensor:
    """scalar: mean |Z~ - v| over the B x D entries (eq 10)."""
    ### BEGIN SOLUTION
    v = trimix.feature_standardize(trimix.batch_standardize(z_vrt))
    return (my_mixed_embeddings(z, lam) - v).abs().mean()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_self_consistency_loss", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false} tags=["check"]
# CHECK: self_consistency_loss
from trimix.checks import check_self_consistency_loss

check_self_consistency_loss(my_self_consistency_loss)  # if my_self_consistency_loss is wrong, this says what to fix
print("self_consistency_loss: correct")

# %% [markdown]
# On the random network: the heatmaps show the first 16 features of the first 16 samples of `Z~`
# and of `v`, and their absolute difference. Where the network is already close to linear on these
# images, the first two panels match and the third is dark. Notice too that `Z~` looks paler than `v`:
# averaging two standardised embeddings shrinks their spread, while `v` is standardised afresh.

# %%
lam = 0.7
with torch.no_grad():
    z = net(x1)[1]
    z_vrt = net(trimix.mix_batch(x1, lam))[1]
z_mix = trimix.mixed_embeddings(z, lam)
v = trimix.feature_standardize(trimix.batch_standardize(z_vrt))
print(f"L_con = {trimix.self_consistency_loss(z, z_vrt, lam):.4f}")
viz.plot_matrices([z_mix[:16, :16], v[:16, :16], (z_mix - v).abs()[:16, :16]],
                  ["Z~ (eq 9)", "v (normalised z_vrt)", "|Z~ - v|"], vmin=[-3, -3, 0], vmax=[3, 3, 3],
                  cmaps=["coolwarm", "coolwarm", "magma"], annot=False)


# %% [markdown]
# ## 3. The full objective (eq 11)
#
# $$\mathcal{L} = \mathcal{L}_{BT} + \beta\, \mathcal{L}_{vrt} + \gamma\, \mathcal{L}_{con} \qquad (11)$$
#
# with the paper's `alpha = 5e-3` inside `L_BT`, `beta = 1000`, `gamma = 200` and `tau = 2`
# (section IV-A). One training step embeds three batches: the two views `x1, x2` and the virtual batch
# `mix_batch(x1, lam)`. No stop-gradient anywhere: every term trains the whole network.
#
# ### Exercise `trimix_loss`
# Write `my_trimix_loss(z1, z2, z_vrt, lam, ...)` returning `(total, parts)` with
# `parts = {"bt": ..., "vrt": ..., "con": ...}` the **unweighted** terms. Use
# `trimix.barlow_twins_loss` and `trimix.virtual_embedding_loss` (notebooks 01 and 03) and your
# `my_self_consistency_loss`.

# %% nbgrader={"grade": false, "grade_id": "my_trimix_loss", "locked": false, "schema_version": 3, "solution": true, "task": false} tags=["exercise"] hint="parts = the three unweighted losses; total = bt + beta * vrt + gamma * con"
def my_trimix_loss(z1, z2, z_vrt, lam, alpha=5e-3, beta=1000.0, gamma=200.0, tau=2.0):
    """(total, {"bt", "vrt", "con"}): eq 11 on raw embeddings z1, z2 (the views) and z_vrt (the virtual batch)."""
    ### BEGIN SOLUTION
    parts = {
        "bt": trimix.barlow_twins_loss(z1, z2, alpha),
        "vrt": trimix.virtual_embedding_loss(z1, z_vrt, lam, tau),
        "con": my_self_consistency_loss(z1, z_vrt, lam),
    }
    total = parts["bt"] + beta * parts["vrt"] + gamma * parts["con"]
    return total, parts
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_trimix_loss", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false} tags=["check"]
# CHECK: trimix_loss
from trimix.checks import check_trimix_loss

check_trimix_loss(my_trimix_loss)  # if my_trimix_loss is wrong, this says what to fix
print("trimix_loss: correct")

# %% [markdown]
# `trimix.TriMix` wraps a network like `trimix.BarlowTwins` did: `loss(x1, x2)` draws `lam`, builds the
# virtual batch, runs the network three times and returns eq 11 and its parts (plus the `lam` it drew).
# Below, the three parts for the random network, raw and weighted. Look at the scales: `L_vrt` is a
# tiny number near `2/B` (notebook 03 explained why) and `L_con` is of order 1; the weights beta and
# gamma bring them to the size of `L_BT`.

# %%
method = trimix.TriMix(net, alpha=5e-3, beta=1000.0, gamma=200.0, tau=2.0, generator=gen)
total_before, parts_before = method.loss(x1, x2, lam=lam)
print(f"total = {total_before.item():.2f} = {parts_before['bt'].item():.2f} "
      f"+ 1000 * {parts_before['vrt'].item():.4f} + 200 * {parts_before['con'].item():.4f}")
viz.plot_loss_parts(parts_before, {"vrt": method.beta, "con": method.gamma})

# %% [markdown]
# How hard does each weighted term pull on the network? The size of its gradient with respect to all
# parameters tells us (one backward pass per term):

# %%
params = [p for p in method.parameters() if p.requires_grad]
weights = {"bt": 1.0, "vrt": method.beta, "con": method.gamma}
for key in ("bt", "vrt", "con"):
    grads = torch.autograd.grad(weights[key] * parts_before[key], params, retain_graph=True, allow_unused=True)
    norm = torch.sqrt(sum((g ** 2).sum() for g in grads if g is not None))
    print(f"{key:>3}: weight {weights[key]:6g}, gradient norm {norm:.3f}")

# %% [markdown]
# Even multiplied by 1000, `L_vrt` pulls much less than the other two terms: at tau = 2 the softmax is
# nearly flat, and so is its gradient (notebook 03's numerical note, seen from the optimiser's side).

# %% [markdown]
# ## 4. A few steps of Adam
#
# Thirty steps on fresh views of random batches of 32 images, recording each part every step
# (the pretraining loop of notebook 05 does the same with logging, checkpoints and a GPU).

# %%
opt = torch.optim.Adam(method.parameters(), lr=1e-3, weight_decay=1e-6)
history = {"step": [], "total": [], "bt": [], "vrt": [], "con": []}
for step in range(1, 31):
    idx = torch.randint(len(data), (32,), generator=gen)
    v1, v2 = two_views(data.images[idx], generator=gen)
    total, parts = method.loss(v1, v2)            # a new lam every step
    opt.zero_grad()
    total.backward()
    opt.step()
    history["step"].append(step)
    history["total"].append(total.item())
    for key in ("bt", "vrt", "con"):
        history[key].append(parts[key].item())

# %% [markdown]
# One panel per part, as in the paper's Fig. 2. The curves are noisy: each step has a new batch,
# new augmentations and a **new lam**, and `L_con` in particular depends a lot on lam (the paper, too,
# notes oscillations in the consistency loss). Look at the vertical scale of `L_vrt`: it only changes
# in its third or fourth digit, pinned near `2/B` (notebook 03).

# %%
viz.plot_history(history)

# %% [markdown]
# To see the trend without the noise, evaluate the loss before and after training on the **same**
# batch with the **same** lam as in section 3. Every part has moved:

# %%
with torch.no_grad():
    total_after, parts_after = method.loss(x1, x2, lam=lam)
before = {"total": total_before.item(), **{k: parts_before[k].item() for k in ("bt", "vrt", "con")}}
after = {"total": total_after.item(), **{k: parts_after[k].item() for k in ("bt", "vrt", "con")}}
for k in before:
    print(f"{k:>5}: before {before[k]:9.4f}   after 30 steps {after[k]:9.4f}")

# %% [markdown]
# *Try it:* retrain from a fresh network with `gamma=0` (no self-consistency), then with `beta=0`
# (no virtual embeddings loss): which curves change? The paper's Table VI measures what each term adds
# to the accuracy (notebook 08).
#
# ## Summary
#
# - Self-consistency asks the embedding of a mix to equal the mix of the embeddings:
#   `Z~ = lam s(Z) + (1 - lam) flip(s(Z))` (eq 9), `L_con = mean |Z~ - v|` (eq 10), with `v` the virtual
#   embeddings standardised along the batch and then along the features.
# - The full objective is `L = L_BT + beta L_vrt + gamma L_con` (eq 11) with alpha = 5e-3, beta = 1000,
#   gamma = 200, tau = 2; the weights bring terms of very different sizes to a common scale.
# - A training step embeds three batches (two views and the virtual batch) and backpropagates through
#   all of them, with no stop-gradient.
# - In the kit: `trimix.mixed_embeddings`, `trimix.self_consistency_loss`, `trimix.trimix_loss`,
#   `trimix.TriMix`, `viz.plot_loss_parts`, `viz.plot_history`.
#
# Next, notebook 05: pretraining TriMix for real (quick on a CPU, the paper's configuration on a GPU).
