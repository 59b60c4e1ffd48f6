"""Write notebooks 01-04 from the cell lists below (no outputs): ``python notebooks/_build.py``.

Edit the notebooks here, not in Jupyter, so the committed files stay small, output-free and diffable.
Conventions:

* exercise cells hold the instructor's solution between ``### BEGIN SOLUTION`` and ``### END SOLUTION``
  (nbgrader's markers: its student version replaces that block with ``raise NotImplementedError()``);
* the cell right after an exercise (written by ``build``, not listed below) starts with
  ``# CHECK: <exercise_name>`` and calls ``trimix.checks.check_<exercise_name>``, which compares the
  student's function with the kit's reference implementation and says what is wrong;
* both carry nbgrader's cell metadata (solution cells and autograder test cells worth 1 point), so the
  notebooks go through ``nbgrader generate_assignment`` / ``autograde`` as they are.

Each run also writes the student copies to ``notebooks/student/`` (``trimix.assignments``; a test checks
that they are in sync).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from textwrap import dedent

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from trimix.assignments import make_student_notebook
from trimix.checks import CHECKS

HERE = Path(__file__).resolve().parent
REPO_URL = "https://github.com/trimix-kit/trimix"
COLAB = "https://colab.research.google.com/github/trimix-kit/trimix/blob/main/notebooks/{name}"

SETUP = '''\
try:
    import trimix
except ImportError:  # Colab: install the kit (and its requirements) from its repository
    %pip install -q "trimix @ git+https://github.com/trimix-kit/trimix"
    import trimix
config = trimix.auto_config()
print(trimix.describe_environment(config))'''


def header(name: str, title: str, intro: str, goals: list[str]) -> list:
    badge = f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({COLAB.format(name=name)})"
    text = f"# {title}\n\n{badge}\n\n{dedent(intro).strip()}\n\n**Learning goals.** After this notebook you can\n\n"
    text += "\n".join(f"- {g}" for g in goals)
    text += ("\n\nExercises are marked **Exercise**: write the body of the function, run the cell, then run the "
             "`# CHECK` cell under it, which compares your function with the kit's own on random inputs and, "
             "if they differ, tells you what to fix.")
    return [("md", text), ("code", SETUP)]


def check_cell(name: str):
    """The ``# CHECK: <name>`` cell that follows exercise ``my_<name>``: it calls the kit's check for it."""
    cell = new_code_cell(
        f"# CHECK: {name}\n"
        f"from trimix.checks import check_{name}\n\n"
        f"check_{name}(my_{name})  # if my_{name} is wrong, this says what to fix\n"
        f'print("{name}: correct")'
    )
    cell.metadata["tags"] = ["check"]
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": f"check_{name}", "locked": True, "points": 1,
                                 "schema_version": 3, "solution": False, "task": False}
    return cell


def wrap_check(source: str) -> str:
    """``# CHECK: name`` + body -> the body inside ``def check_name():`` and a call, so that the check's
    variables never overwrite the notebook's own."""
    first, _, body = source.partition("\n")
    name = first[len("# CHECK: "):].strip()
    inner = "\n".join(("    " + line) if line else line for line in body.splitlines())
    return f"{first}\ndef check_{name}():\n{inner}\n\n\ncheck_{name}()"


def build(name: str, cells: list):
    """The notebook ``name`` from its cell list of ("md" | "code" | "ex" | "check", source).

    An ``"ex"`` cell whose exercise has a check in ``trimix.checks`` gets its CHECK cell added here; other
    exercises (notebooks 00, 05-08) are followed by their own inline ``"check"`` cell.
    """
    nb = new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"provenance": []},
    }
    for kind, source in cells:
        source = dedent(source).strip("\n")
        if kind == "md":
            nb.cells.append(new_markdown_cell(source))
            continue
        cell = new_code_cell(source)
        nb.cells.append(cell)
        if kind == "ex":
            exercise = re.search(r"^def my_(\w+)\(", source, re.M).group(1)
            assert "### BEGIN SOLUTION" in source and "### END SOLUTION" in source, source
            cell.metadata["tags"] = ["exercise"]
            cell.metadata["nbgrader"] = {"grade": False, "grade_id": f"my_{exercise}", "locked": False,
                                         "schema_version": 3, "solution": True, "task": False}
            if exercise in CHECKS:
                nb.cells.append(check_cell(exercise))
        elif kind == "check":
            assert source.startswith("# CHECK: "), source
            exercise = source.partition("\n")[0][len("# CHECK: "):].strip()
            cell.source = wrap_check(source)
            cell.metadata["tags"] = ["check"]
            cell.metadata["nbgrader"] = {"grade": True, "grade_id": f"check_{exercise}", "locked": True,
                                         "points": 1, "schema_version": 3, "solution": False, "task": False}
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:02d}"  # stable ids: rebuilding an unchanged notebook changes nothing
    nbformat.validate(nb)
    return nb


# ===================================================================================== 01 Barlow Twins

NB01 = header(
    "01_barlow_twins.ipynb",
    "01 · Barlow Twins: the cross-correlation matrix",
    """
    TriMix (Bdair et al.) is built on top of **Barlow Twins**: two augmented views of the same images go
    through the same network, and the loss asks the embeddings of the two views to agree feature by
    feature while different features stay decorrelated. This notebook takes that loss apart, equation
    by equation (paper section III-A, eqs 1-4, and lines 9-19 of Algorithm 1).
    """,
    [
        "make two augmented views of a batch and embed them with the network `net = projector(backbone(x))`;",
        "standardise embeddings along the batch, as Algorithm 1 does (lines 12-13);",
        "compute the D x D cross-correlation matrix C (eq 4) and read what its diagonal and off-diagonal say;",
        "split the Barlow Twins loss into its invariance term (eq 2) and redundancy term (eq 3), weighted by alpha (eq 1);",
        "watch C move towards the identity matrix during a few steps of training.",
    ],
) + [
    ("code", """
        %matplotlib inline
        import torch

        import trimix
        from trimix import viz
        from trimix.augment import two_views
        from trimix.data import load_dataset

        torch.manual_seed(config.seed)
        gen = torch.Generator().manual_seed(config.seed)  # one generator for every random draw below
    """),
    ("md", """
        ## 1. Data and two views

        In quick mode the kit uses its built-in `shapes` dataset: 32 x 32 images of ten kinds of drawn
        shapes. The *class* is the shape; colour, position, size and background are nuisances a good
        representation should ignore. No download is needed.
    """),
    ("code", """
        data = load_dataset("shapes", "train")
        print(data)
        viz.show_images(data.images[:10], titles=[data.classes[k] for k in data.labels[:10]])
    """),
    ("md", """
        Section III-A of the paper: two transformations `t, t'` drawn from a family of augmentations turn a
        batch `I` into two views `X = t(I)` and `X' = t'(I)` (random crop, flip, colour jitter, grayscale).
        Look at each column below: the same image twice, cropped and coloured differently. Whatever both
        views still share, here the shape, is what Barlow Twins teaches the network to keep.
    """),
    ("code", """
        batch = data.images[:64]                      # uint8 (64, 3, 32, 32)
        x1, x2 = two_views(batch, generator=gen)      # normalised floats, two independent augmentations
        viz.show_images(torch.cat([x1[:8], x2[:8]]), ncols=8, suptitle="top: view X, bottom: view X'")
    """),
    ("md", """
        The network is a backbone `f` (a ResNet-18) followed by a projector `h` (an MLP): `Y = f(X)` are the
        *representations* used after training, `Z = h(Y)` the *embeddings* the losses see. The paper uses a
        full ResNet-18 and a 1024-wide projector; to run in seconds on a CPU we take a narrow one
        (`width=8`, 64-dimensional embeddings). `SSLNet.forward` returns both `(y, z)`.
    """),
    ("code", """
        net = trimix.SSLNet(32, width=8, proj_hidden=64, proj_dim=64)
        with torch.no_grad():
            (y1, z1), (y2, z2) = net(x1), net(x2)
        print("Y:", tuple(y1.shape), " Z:", tuple(z1.shape), "  (B = batch size, D = embedding size)")
    """),
    ("md", """
        ## 2. Standardising along the batch

        Before comparing the views, each embedding dimension is standardised **along the batch**: every
        column of `Z` (B x D) gets mean 0 and standard deviation 1 over the B samples (Algorithm 1,
        lines 12-13: `z = (z - z.mean(0)) / z.std(0)`). `torch.std` is the *unbiased* estimate (divides
        by B - 1), and the kit follows Algorithm 1 there.

        ### Exercise `batch_standardize`
        Write `my_batch_standardize(z)` for a (B, D) tensor.
    """),
    ("ex", """
        def my_batch_standardize(z: torch.Tensor) -> torch.Tensor:
            \"\"\"(B, D) -> (B, D): every column with mean 0 and unbiased std 1 over the batch (Algorithm 1, lines 12-13).\"\"\"
            ### BEGIN SOLUTION
            return (z - z.mean(dim=0)) / z.std(dim=0)
            ### END SOLUTION
    """),
    ("md", """
        ## 3. The cross-correlation matrix (eq 4)

        Eq 4 compares dimension `i` of one view with dimension `j` of the other over the whole batch:

        $$\\mathcal{C}_{ij} = \\frac{\\sum_b z_{b,i}\\, z'_{b,j}}{\\sqrt{\\sum_b z_{b,i}^2}\\sqrt{\\sum_b {z'}_{b,j}^2}}$$

        With standardised columns this is one matrix product, as Algorithm 1 writes it (line 15):
        `C = s(Z).T @ s(Z') / B`, a **D x D** matrix (not B x B!). Its entries lie between -1 and 1.
        (Dividing by B while the std divides by B - 1 makes a perfect match `(B - 1) / B` rather than
        exactly 1: a detail of Algorithm 1 the kit keeps.)

        - **Diagonal** `C_ii`: does feature `i` take the same value on both views of each image? We want 1.
        - **Off-diagonal** `C_ij`: do features `i` and `j` carry the same information? We want 0.

        ### Exercise `cross_correlation`
        Write `my_cross_correlation(z1, z2)` (you may use your `my_batch_standardize`).
    """),
    ("ex", """
        def my_cross_correlation(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
            \"\"\"(B, D), (B, D) -> (D, D): eq 4 as Algorithm 1 computes it, s(z1).T @ s(z2) / B.\"\"\"
            ### BEGIN SOLUTION
            b = z1.shape[0]
            return my_batch_standardize(z1).T @ my_batch_standardize(z2) / b
            ### END SOLUTION
    """),
    ("md", """
        Here is C for our **random, untrained** network on the two views above. Look at the diagonal: it is
        far from 1 (the two views of an image get different features), and the off-diagonal is speckled
        with correlations of both signs (features are redundant).
    """),
    ("code", """
        c_before = trimix.cross_correlation(z1, z2)
        viz.plot_cross_correlation(c_before, "C of a random network")
    """),
    ("md", """
        ## 4. The loss: invariance and redundancy reduction (eqs 1-3)

        $$\\mathcal{L}_{inv} = \\sum_i (1 - \\mathcal{C}_{ii})^2 \\quad (2) \\qquad
        \\mathcal{L}_{rr} = \\sum_i \\sum_{j \\neq i} \\mathcal{C}_{ij}^2 \\quad (3) \\qquad
        \\mathcal{L}_{BT} = \\mathcal{L}_{inv} + \\alpha\\, \\mathcal{L}_{rr} \\quad (1)$$

        Both are **sums** (not means) over the matrix, and `alpha = 5e-3` (paper section IV-A): there are
        D(D - 1) off-diagonal entries but only D diagonal ones, so the redundancy term needs a small weight.

        ### Exercise `off_diagonal_sum`
        Write `my_off_diagonal_sum(c)`, the redundancy term of eq 3: the sum of the **squares** of the
        entries of a square matrix that are off its diagonal (every `i != j`, both triangles). Hint:
        `~torch.eye(d, dtype=torch.bool)` is a mask of the off-diagonal entries, and `c[mask]` picks them.
    """),
    ("ex", """
        def my_off_diagonal_sum(c: torch.Tensor) -> torch.Tensor:
            \"\"\"(D, D) -> scalar: sum over i != j of c[i, j] ** 2 (eq 3).\"\"\"
            ### BEGIN SOLUTION
            off = ~torch.eye(c.shape[0], dtype=torch.bool)
            return c[off].pow(2).sum()
            ### END SOLUTION
    """),
    ("md", """
        ### Exercise `barlow_twins_loss`
        Write `my_barlow_twins_loss(z1, z2, alpha)` from your cross-correlation and your off-diagonal sum.
        Hint: `torch.diagonal(c)` gives the diagonal.
    """),
    ("ex", """
        def my_barlow_twins_loss(z1: torch.Tensor, z2: torch.Tensor, alpha: float = 5e-3) -> torch.Tensor:
            \"\"\"(B, D), (B, D) -> scalar: L_inv + alpha * L_rr (eqs 1-3) on the cross-correlation of eq 4.\"\"\"
            ### BEGIN SOLUTION
            c = my_cross_correlation(z1, z2)
            invariance = (1 - torch.diagonal(c)).pow(2).sum()
            return invariance + alpha * my_off_diagonal_sum(c)
            ### END SOLUTION
    """),
    ("md", """
        The kit splits the same loss into `trimix.invariance_term(c)` and `trimix.redundancy_term(c)`.
        For the random network:
    """),
    ("code", """
        def terms(c, alpha=5e-3):
            inv, rr = trimix.invariance_term(c).item(), trimix.redundancy_term(c).item()
            return f"L_inv = {inv:7.2f}   L_rr = {rr:7.2f}   alpha * L_rr = {alpha * rr:5.2f}   L_BT = {inv + alpha * rr:7.2f}"

        print("random network:", terms(c_before))
    """),
    ("md", """
        ## 5. A few steps of training

        `trimix.BarlowTwins` wraps the network; its `loss(x1, x2)` embeds both views and returns
        `(L_BT, parts)`. We train with Adam (the paper's optimiser, lr 1e-3, weight decay 1e-6) for 30 steps,
        each on fresh views of a random batch of 64 images: a few seconds on a CPU.
    """),
    ("code", """
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
    """),
    ("md", """
        The loss falls, with bumps: every step sees a new batch and new augmentations. Now the same two
        views as before, through the trained network. First the two terms: the invariance term has
        dropped a lot, while the redundancy term has *grown*; weighted by alpha it stays the smaller part
        of the loss.
    """),
    ("code", """
        with torch.no_grad():
            c_after = trimix.cross_correlation(net(x1)[1], net(x2)[1])
        print("random network: ", terms(c_before))
        print("after 30 steps: ", terms(c_after))
    """),
    ("md", """
        In the heatmaps, a single diagonal line of a 64 x 64 matrix is easy to miss, so read the numbers in
        the titles too: the mean of the diagonal has grown. The off-diagonal has changed as well: bands and
        blocks of features that move together. Right after initialisation, the quickest way to make the two
        views agree is for many features to pick up the same easy cue, so they become correlated: exactly
        the redundancy the second term of eq 1 is there to remove, slowly, because alpha is small.
    """),
    ("code", """
        viz.plot_cross_correlation([c_before, c_after], ["C of a random network", "C after 30 steps"])
    """),
    ("md", """
        The same information as histograms: orange are the D diagonal entries (the target is 1), blue the
        D(D - 1) off-diagonal ones (the target is 0). Training moves the orange mass to the right, towards
        1, and spreads the blue mass out: the redundancy we just saw.
    """),
    ("code", """
        viz.plot_correlation_entries([c_before, c_after], ["random network", "after 30 steps"])
    """),
    ("md", """
        *Try it:* run the training cell and the cells after it again: each run adds 30 steps to the same
        network. Watch `L_rr`: after a peak, it starts to fall. Then set `alpha=0` in `trimix.BarlowTwins`,
        train a fresh network, and look at the off-diagonal of C. Without the redundancy term, what stops
        every feature from becoming the same feature?

        ## Summary

        - Two augmented views of each image go through the same network; Barlow Twins compares their
          embeddings **feature by feature** with the D x D cross-correlation matrix C (eq 4), computed on
          embeddings standardised along the batch.
        - The loss (eq 1) pushes the diagonal of C to 1 (**invariance**, eq 2) and the off-diagonal to 0
          (**redundancy reduction**, eq 3, weighted by alpha = 5e-3).
        - In the kit: `trimix.batch_standardize`, `trimix.cross_correlation`, `trimix.invariance_term`,
          `trimix.redundancy_term`, `trimix.barlow_twins_loss`, and the method `trimix.BarlowTwins`.

        Next, notebook 02: TriMix's first addition, mixing a batch with its own reverse (eq 5).
    """),
]


# ===================================================================================== 02 mixup views

NB02 = header(
    "02_mixup_views.ipynb",
    "02 · Mixup views: virtual images from a batch and its reverse",
    """
    TriMix adds new data points to Barlow Twins: **virtual images**, each a blend of two real images of
    the batch (paper section III-B, eq 5, and lines 20-25 of Algorithm 1). This notebook builds them and
    looks at them the way the paper's Fig. 5 does: the batch along the top, the virtual images down the
    left, and the ground-truth matrix that says what went into each.
    """,
    [
        "build the virtual batch `X_vrt = lam * X + (1 - lam) * flip(X)` (eq 5) and say which two images each virtual image mixes;",
        "explain why mixing with the *reversed* batch never mixes an image with itself (and the one exception);",
        "read the top row and left column of Fig. 5 and move lambda with a widget;",
        "recover lambda from a mixture: the decomposition task TriMix gives the network, solved here in pixel space.",
    ],
) + [
    ("code", """
        %matplotlib inline
        import torch

        import trimix
        from trimix import viz, widgets
        from trimix.augment import augment_batch
        from trimix.data import load_dataset

        torch.manual_seed(config.seed)
        gen = torch.Generator().manual_seed(config.seed)
    """),
    ("md", """
        ## 1. One view of a batch

        Mixing happens on **one** arm of the siamese network only: the first view `X` (section III-B).
        We take a batch of B = 8 images and one augmented view of it (notebook 01 made two).
    """),
    ("code", """
        data = load_dataset("shapes", "train")
        batch = data.images[:8]                  # uint8 (8, 3, 32, 32)
        x = augment_batch(batch, generator=gen)  # one augmented view, normalised floats
        viz.show_images(x, titles=[data.classes[k] for k in data.labels[:8]], suptitle="X: one view of the batch")
    """),
    ("md", """
        ## 2. The reversed batch

        `flip` reverses the **order of the batch** (dim 0), not the pixels: `X^r = flip(X)` holds image
        B-1 first and image 0 last. Look down each column: image `m` on top sits above image `B-1-m`.
    """),
    ("code", """
        viz.show_images(torch.cat([x, trimix.flip(x)]), ncols=8, suptitle="top: X, bottom: X^r = flip(X)")
    """),
    ("md", """
        ## 3. Virtual images (eq 5)

        $$X^{vrt} = \\lambda X + (1 - \\lambda) X^r \\qquad (5)$$

        One scalar `lambda` is drawn from U(0, 1) per training step (`trimix.sample_lambda`), and every
        virtual image uses it: virtual image `m` is `lam * x_m + (1 - lam) * x_{B-1-m}`. Because the
        partner of `m` is `B-1-m`, no image is mixed with itself, except, when B is odd, the middle one.

        ### Exercise `mix_batch`
        Write `my_mix_batch(x, lam)` for a batch of any shape `(B, ...)` (images or embeddings).
    """),
    ("ex", """
        def my_mix_batch(x: torch.Tensor, lam: float) -> torch.Tensor:
            \"\"\"(B, ...) -> (B, ...): lam * x + (1 - lam) * x reversed along the batch (eq 5).\"\"\"
            ### BEGIN SOLUTION
            return lam * x + (1 - lam) * torch.flip(x, dims=(0,))
            ### END SOLUTION
    """),
    ("md", """
        The three rows below are `X`, `X^r` and `X^vrt` for `lam = 0.7`: each virtual image is mostly the
        image above it, with a ghost of its partner from the other end of the batch.
    """),
    ("code", """
        lam = 0.7
        x_vrt = trimix.mix_batch(x, lam)
        viz.show_images(torch.cat([x, trimix.flip(x), x_vrt]), ncols=8,
                        suptitle=f"rows: X, X^r, X^vrt = {lam} X + {1 - lam:.1f} X^r")
    """),
    ("md", """
        ## 4. Reading Fig. 5

        The paper's Fig. 5 lays this out around a matrix: the batch along the top, the virtual images down
        the left. The **red** virtual image (row 1) is made of the two **green** images of the top row,
        columns 1 and B-2, in proportions `lam` and `1 - lam`; the matrix in between writes exactly these
        proportions in row 1. That matrix is the *ground truth* `GT` of eq 8, which notebook 03 builds.
    """),
    ("code", """
        viz.plot_mixing_grid(x, x_vrt, lam, highlight=1)
    """),
    ("md", """
        With an odd batch the middle image's partner is itself, so its virtual image is the image
        unchanged (and its row of GT holds a single 1):
    """),
    ("code", """
        x7 = x[:7]
        print("B = 7: virtual image 3 equals image 3:", torch.allclose(trimix.mix_batch(x7, 0.3)[3], x7[3]))
    """),
    ("md", """
        ### The lambda widget
        Move the slider and watch the virtual images and GT change together. What do you see at
        `lam = 0.5`? (Virtual images `m` and `B-1-m` become identical, and GT symmetric about both diagonals.)
        At `lam = 1` and `lam = 0`? (If the slider does not appear, e.g. in a plain Python run, call
        `widgets.lambda_view(x, 0.5)` instead: the widget is a thin wrapper around it.)
    """),
    ("code", """
        widgets.lambda_widget(x, lam=0.5)
    """),
    ("md", """
        During training `lam` is drawn afresh every step:
    """),
    ("code", """
        lams = torch.tensor([trimix.sample_lambda(gen) for _ in range(2000)])
        print(f"2000 draws of lam: min {lams.min():.3f}, mean {lams.mean():.3f}, max {lams.max():.3f} (uniform on [0, 1])")
    """),
    ("md", """
        ## 5. Undoing the mix: recover lambda

        TriMix's *virtual embeddings* task (notebook 03) asks the network to **decompose** a virtual image
        into its two parts and their proportions. In pixel space that is a line of algebra: from eq 5,
        `X^vrt - X^r = lam * (X - X^r)`, so the least-squares estimate over all pixels is

        $$\\hat\\lambda = \\frac{\\langle X^{vrt} - X^r,\\; X - X^r \\rangle}{\\| X - X^r \\|^2}.$$

        ### Exercise `estimate_lambda`
        Write `my_estimate_lambda(x, x_vrt)` returning a Python float.
    """),
    ("ex", """
        def my_estimate_lambda(x: torch.Tensor, x_vrt: torch.Tensor) -> float:
            \"\"\"Given a batch (B, ...) and its virtual batch, the lam that mixed them (least squares over all entries).\"\"\"
            ### BEGIN SOLUTION
            xr = torch.flip(x, dims=(0,))
            d = (x - xr).flatten()
            return float((x_vrt - xr).flatten() @ d / (d @ d))
            ### END SOLUTION
    """),
    ("md", """
        On our augmented batch the estimate is exact. To see *how well* a mix explains the virtual batch,
        also measure what the best mix leaves over: the share of the spread of `X^vrt` that
        `mix_batch(X, lam_hat)` does not explain (0 = a perfect mix).
    """),
    ("code", """
        def unexplained(a, a_vrt, lam_hat):
            \"\"\"Share of a_vrt's spread left over by the best mix of a and flip(a): 0 = a perfect mix.\"\"\"
            rest = a_vrt - trimix.mix_batch(a, min(max(lam_hat, 0.0), 1.0))
            return (rest.norm() / (a_vrt - a_vrt.mean(0)).norm()).item()

        lam_hat = my_estimate_lambda(x, x_vrt)
        print(f"pixels:     lam = {lam}, estimated {lam_hat:.3f}, unexplained {unexplained(x, x_vrt, lam_hat):.0%}")
    """),
    ("md", """
        Now the same on the **embeddings** of a random network, `z = net(X)` and `z_vrt = net(X_vrt)`. The
        estimate of lam may still come out roughly right, but look at what is left over: a network is not
        linear, so the embedding of a mix is far from the mix of the embeddings. TriMix's two extra losses
        work on exactly this gap: `L_vrt` asks the network to recognise the two ingredients and their
        proportions from the embeddings (notebook 03), and `L_con` asks the embedding of a mix to *be* the
        mix of the embeddings (notebook 04).
    """),
    ("code", """
        net = trimix.SSLNet(32, width=8, proj_hidden=64, proj_dim=64)
        with torch.no_grad():
            z, z_vrt = net(x)[1], net(x_vrt)[1]
        lam_hat = my_estimate_lambda(z, z_vrt)
        print(f"embeddings: lam = {lam}, estimated {lam_hat:.3f}, unexplained {unexplained(z, z_vrt, lam_hat):.0%}")
    """),
    ("md", """
        ## Summary

        - TriMix mixes one view of the batch with its own reverse: `X_vrt = lam X + (1 - lam) flip(X)` (eq 5),
          one `lam ~ U(0, 1)` per step. Image `m` is paired with image `B-1-m`, so nothing is mixed with
          itself (except the middle image of an odd batch).
        - Fig. 5 reads as: batch on top, virtual images on the left, and in between the matrix of the
          proportions, the ground truth `GT` of eq 8.
        - In pixel space the mix can be undone exactly; in embedding space a network has to *learn* to.
        - In the kit: `trimix.flip`, `trimix.mix_batch`, `trimix.sample_lambda`, `viz.plot_mixing_grid`,
          `widgets.lambda_widget`.

        Next, notebook 03: the ground-truth matrix and the matrix the network predicts (eqs 6-8).
    """),
]

# =========================================================================== 03 ground truth and predicted

NB03 = header(
    "03_ground_truth_and_predicted.ipynb",
    "03 · The ground-truth matrix and the predicted matrix",
    """
    TriMix's **virtual embeddings loss** asks the network to recognise, from embeddings alone, which two
    images each virtual image was mixed from and in what proportions (paper section III-C, eqs 6-8,
    Algorithm 1 lines 27-36, Fig. 5). The answer is written as a B x B ground-truth matrix; the network's
    guess is a B x B matrix of softmax probabilities; the loss is the mean absolute difference.
    """,
    [
        "build the ground-truth matrix `GT = lam I + (1 - lam) rot90(I)` (eq 8) and see that it *is* the mixing matrix;",
        "compute the predicted matrix: similarities (eq 6) and the row softmax with temperature tau (eq 7);",
        "compute the virtual embeddings loss L_vrt (eq 8) and explain why it sits near 2/B at tau = 2;",
        "compare a random encoder with a briefly trained one, and explore lambda and tau with widgets.",
    ],
) + [
    ("code", """
        %matplotlib inline
        import torch

        import trimix
        from trimix import viz, widgets
        from trimix.augment import augment_batch, two_views
        from trimix.data import load_dataset

        torch.manual_seed(config.seed)
        gen = torch.Generator().manual_seed(config.seed)
        data = load_dataset("shapes", "train")
        x = augment_batch(data.images[:8], generator=gen)   # one view of a batch of B = 8
    """),
    ("md", """
        ## 1. The ground-truth matrix (eq 8)

        $$\\mathcal{GT} = \\lambda I + (1 - \\lambda)(I * R)$$

        where `I` is the B x B identity and `R` rotates it by 90 degrees **counter-clockwise**, which turns
        the diagonal into the anti-diagonal. Row `m` of GT therefore holds `lam` at column `m` and `1 - lam`
        at column `B-1-m`: exactly the recipe of virtual image `m` (notebook 02). With an odd B the middle
        row gets `lam + (1 - lam) = 1` at the centre.

        ### Exercise `ground_truth_matrix`
        Write `my_ground_truth_matrix(batch_size, lam)`. Hint: `torch.rot90(m, 1, dims=(0, 1))` rotates
        counter-clockwise.
    """),
    ("ex", """
        def my_ground_truth_matrix(batch_size: int, lam: float) -> torch.Tensor:
            \"\"\"(B, B): lam on the diagonal, 1 - lam on the anti-diagonal (eq 8).\"\"\"
            ### BEGIN SOLUTION
            eye = torch.eye(batch_size)
            return lam * eye + (1 - lam) * torch.rot90(eye, 1, dims=(0, 1))
            ### END SOLUTION
    """),
    ("md", """
        GT is more than a target: it is the **mixing matrix** itself. Multiplying the batch (each image
        flattened to a row) by GT gives the virtual batch of eq 5:
    """),
    ("code", """
        lam = 0.7
        gt = trimix.ground_truth_matrix(8, lam)
        same = torch.allclose(gt @ x.flatten(1), trimix.mix_batch(x, lam).flatten(1), atol=1e-5)
        print("GT @ X == mix_batch(X, lam):", same)
    """),
    ("md", """
        The lambda widget of notebook 02 again (batch on top, virtual images on the left, GT in between):
        move lambda and watch the weight slide between the diagonal and the anti-diagonal.
    """),
    ("code", """
        widgets.lambda_widget(x, lam=lam)
    """),
    ("md", """
        ## 2. The predicted matrix (eqs 6-7)

        The network sees the batch and the virtual batch: `z = net(X)`, `z_vrt = net(X_vrt)`, each B x D.
        Eq 6 compares every original sample `m` with every virtual sample `n`:

        $$\\mathcal{M}_{mn} = \\frac{\\sum_a z_{a,m}\\, z^{vrt}_{a,n}}{\\sqrt{\\sum_a z_{a,m}^2}\\sqrt{\\sum_a (z^{vrt}_{a,n})^2}} \\quad (6)
        \\qquad \\mathcal{M}_{m,:} = \\mathrm{softmax}(\\mathcal{M}_{m,:} / \\tau) \\quad (7)$$

        The kit computes eq 6 the way Algorithm 1 does (lines 12, 29-31):

        1. `s(z)`: standardise `z` along the batch (notebook 01);
        2. `v`: standardise `z_vrt` along the batch, then each **row** along the features (mean 0, unbiased
           std 1), i.e. `trimix.feature_standardize(trimix.batch_standardize(z_vrt))`;
        3. `s(z) @ v.T / D`: a B x B matrix, row `m` = how similar original `m` is to each virtual image;
        4. softmax of each row divided by `tau` (eq 7; the paper uses tau = 2): every row becomes a
           probability distribution over the virtual images, comparable to a row of GT.

        Note that `M` is B x B (samples against samples), unlike Barlow Twins' D x D matrix.

        ### Exercise `predicted_matrix`
        Write `my_predicted_matrix(z, z_vrt, tau)`. You may use `trimix.batch_standardize` and
        `trimix.feature_standardize`.
    """),
    ("ex", """
        def my_predicted_matrix(z: torch.Tensor, z_vrt: torch.Tensor, tau: float = 2.0) -> torch.Tensor:
            \"\"\"(B, D), (B, D) -> (B, B): softmax over each row of s(z) @ v.T / D / tau (eqs 6-7).\"\"\"
            ### BEGIN SOLUTION
            d = z.shape[1]
            v = trimix.feature_standardize(trimix.batch_standardize(z_vrt))
            similarity = trimix.batch_standardize(z) @ v.T / d
            return torch.softmax(similarity / tau, dim=1)
            ### END SOLUTION
    """),
    ("md", """
        ## 3. The virtual embeddings loss (eq 8)

        $$\\mathcal{L}_{vrt} = \\| \\mathcal{M} - \\mathcal{GT} \\|$$

        an L1 distance with **mean** reduction over all B x B entries (Algorithm 1 line 36, `L1Loss`).

        ### Exercise `virtual_embedding_loss`
        Write `my_virtual_embedding_loss(z, z_vrt, lam, tau)` from your two matrices.
    """),
    ("ex", """
        def my_virtual_embedding_loss(z: torch.Tensor, z_vrt: torch.Tensor, lam: float, tau: float = 2.0) -> torch.Tensor:
            \"\"\"scalar: mean |M - GT| over the B x B entries (eq 8).\"\"\"
            ### BEGIN SOLUTION
            m = my_predicted_matrix(z, z_vrt, tau)
            return (m - my_ground_truth_matrix(z.shape[0], lam)).abs().mean()
            ### END SOLUTION
    """),
    ("md", """
        ## 4. A random encoder

        `widgets.embed_pair(net, x, lam)` runs the network on the batch and on its virtual batch (in
        training mode, as the loss sees them), and `widgets.tau_view` draws Fig. 5 A-C: GT, the matrix
        before the softmax, and M after it, with L_vrt in the title.

        What to look at: even an untrained network gives a faint **diagonal** in (B), because virtual
        image `m` is 70 % image `m`, and similar inputs give similar outputs. The **anti-diagonal** (the
        30 % partner) is barely visible. And (C) is almost flat.
    """),
    ("code", """
        net = trimix.SSLNet(32, width=8, proj_hidden=64, proj_dim=64)
        z, z_vrt = widgets.embed_pair(net, x, lam)
        fig, l_vrt = widgets.tau_view(z, z_vrt, lam, tau=2.0, name="random encoder")
        fig
    """),
    ("md", """
        ### Why is M almost uniform? A numerical note

        Before the softmax, eq 6 divides by D, so the entries of `s(z) @ v.T / D` are correlation-like
        numbers, roughly between -1 and 1 (look at the colour bar of (B)). Divided by `tau = 2`, the
        logits of a row differ by about 1 at most, and the softmax of numbers that close is nearly
        uniform: every entry of M stays near `1/B`. A uniform M has
        `L_vrt = mean|1/B - GT|`, which is `2/B - 4/B^2` for an even B, about `2/B`: that is where L_vrt
        sits at tau = 2, for a random network and, as you will see, for a trained one too. The loss still
        has a gradient (it is *small* differences between entries that it rewards), but a smaller tau
        makes M much sharper. The table shows it for our random encoder:
    """),
    ("code", """
        print(f"B = {len(z)}: uniform M gives L_vrt = {widgets.uniform_l_vrt(len(z), lam):.4f} (2/B = {2 / len(z):.4f})")
        for tau in [10, 2, 1, 0.5, 0.1, 0.02]:
            v = widgets.tau_values(z, z_vrt, lam, tau)
            print(f"tau = {tau:5}: L_vrt = {v['l_vrt']:.4f}, largest entry of M = {v['max_entry']:.3f}")
    """),
    ("md", """
        ### The tau widget
        The network ran once, above; the slider only redoes the softmax. Slide tau from 10 down to 0.01 and
        watch (C): when does M start to look like a sharp copy of the diagonal in (B)? Does the random
        network ever put weight on the anti-diagonal?
    """),
    ("code", """
        widgets.tau_widget((z, z_vrt), lam=lam, name="random encoder")
    """),
    ("md", """
        ## 5. A briefly trained encoder

        Now train the same kind of network with the full TriMix objective for 30 steps (batches of 32,
        Adam, the paper's alpha, beta, gamma and tau = 2; a `lam` is drawn each step). Notebook 04 looks at
        the objective as a whole; here we only watch what happens to the matrices.
    """),
    ("code", """
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
    """),
    ("md", """
        The same batch and the same `lam` through the trained network. First in numbers: the mean of the
        matrix before the softmax (Fig. 5 B) on the diagonal (the 70 % ingredient), on the anti-diagonal
        (the 30 % partner) and everywhere else (images that played no part):
    """),
    ("code", """
        z_t, z_vrt_t = widgets.embed_pair(method, x, lam)
        gt = trimix.ground_truth_matrix(len(x), lam)
        for name, (a, b) in {"random": (z, z_vrt), "after 30 steps": (z_t, z_vrt_t)}.items():
            sim = trimix.similarity_matrix(a, b)
            print(f"{name:>14}: diagonal {sim.diagonal().mean():5.2f}   anti-diagonal {sim.fliplr().diagonal().mean():5.2f}"
                  f"   elsewhere {sim[gt == 0].mean():5.2f}")
    """),
    ("md", """
        Both ingredients now stand out from the rest: the network has started to see *which two* images
        make each virtual image, and that the first weighs more. Yet at tau = 2, (C) and L_vrt have hardly
        moved (the numerical note). Look at (B) in the figure, then at the second figure, which sharpens
        the softmax with tau = 0.1: there the trained network comes much closer to GT than the random one.
    """),
    ("code", """
        fig, l_vrt_t = widgets.tau_view(z_t, z_vrt_t, lam, tau=2.0, name="after 30 steps")
        fig
    """),
    ("code", """
        for name, (a, b) in {"random": (z, z_vrt), "after 30 steps": (z_t, z_vrt_t)}.items():
            print(f"{name:>14}: L_vrt at tau = 2: {widgets.tau_values(a, b, lam, 2.0)['l_vrt']:.4f}, "
                  f"at tau = 0.1: {widgets.tau_values(a, b, lam, 0.1)['l_vrt']:.4f}")
        fig, _ = widgets.tau_view(z_t, z_vrt_t, lam, tau=0.1, name="after 30 steps")
        fig
    """),
    ("md", """
        The tau widget on the trained network (it embeds the batch once, here):
    """),
    ("code", """
        widgets.tau_widget(method, x, lam=lam, name="after 30 steps")
    """),
    ("md", """
        *Try it:* rebuild the widgets with `lam = 0.5`. What should GT look like, and can any network
        tell virtual image `m` from virtual image `B-1-m` then?

        ## Summary

        - `GT = lam I + (1 - lam) rot90(I)` (eq 8) records which two images make each virtual image, and in
          what proportions; it is the mixing matrix of eq 5.
        - The network's guess is `M = softmax(s(z) v^T / D / tau)` (eqs 6-7), a B x B matrix whose rows are
          distributions over the virtual batch; `L_vrt = mean |M - GT|` (eq 8).
        - Because of the `1/D` scaling, tau = 2 keeps M close to uniform and L_vrt close to `2/B`; the matrix
          before the softmax (Fig. 5 B) shows what the network learned more clearly.
        - In the kit: `trimix.ground_truth_matrix`, `trimix.similarity_matrix`, `trimix.predicted_matrix`,
          `trimix.virtual_embedding_loss`; `widgets.tau_view`, `widgets.tau_widget`, `widgets.lambda_widget`.

        Next, notebook 04: self-consistency (eqs 9-10) and the full objective (eq 11).
    """),
]

# ===================================================================== 04 self-consistency and objective

NB04 = header(
    "04_self_consistency_and_objective.ipynb",
    "04 · Self-consistency and the full TriMix objective",
    """
    TriMix's second addition is **self-consistency**: the embedding of a mixed image should equal the same
    mix of the embeddings (paper section III-D, eqs 9-10). Then all the pieces come together in the
    full objective (section III-E, eq 11, Algorithm 1 lines 37-42), which we train for a few steps.
    """,
    [
        "compute the mixed-up embeddings `Z~ = lam Z + (1 - lam) flip(Z)` (eq 9) on standardised embeddings;",
        "compute the self-consistency loss `L_con = mean |Z~ - v|` (eq 10) with the virtual embeddings normalised as in Algorithm 1;",
        "assemble the full objective `L = L_BT + beta L_vrt + gamma L_con` (eq 11) and compare the sizes of its parts;",
        "train TriMix for a few Adam steps and watch every part move.",
    ],
) + [
    ("code", """
        %matplotlib inline
        import torch

        import trimix
        from trimix import viz, widgets
        from trimix.augment import two_views
        from trimix.data import load_dataset

        torch.manual_seed(config.seed)
        gen = torch.Generator().manual_seed(config.seed)
        data = load_dataset("shapes", "train")
        x1, x2 = two_views(data.images[:32], generator=gen)   # two views of a batch of B = 32
        net = trimix.SSLNet(32, width=8, proj_hidden=64, proj_dim=64)
    """),
    ("md", """
        ## 1. Mixed-up embeddings (eq 9)

        A network is non-linear: the embedding of a mixed image, `z_vrt = net(lam x_m + (1 - lam) x_{B-1-m})`,
        is in general **not** `lam z_m + (1 - lam) z_{B-1-m}` (notebook 02 measured the gap). The paper
        defines the mix of the embeddings, with the same `lam` as eq 5:

        $$\\tilde{Z} = \\lambda Z + (1 - \\lambda) Z^r, \\qquad Z^r = \\mathrm{flip}(Z) \\qquad (9)$$

        In Algorithm 1 `z` has already been standardised along the batch (line 12) when it is mixed
        (line 26), so the kit mixes `s(Z)`.

        ### Exercise `mixed_embeddings`
        Write `my_mixed_embeddings(z, lam)`: standardise along the batch, then mix with the reversed batch.
        (`trimix.batch_standardize` and `trimix.mix_batch` are yours to use: you wrote both already.)
    """),
    ("ex", """
        def my_mixed_embeddings(z: torch.Tensor, lam: float) -> torch.Tensor:
            \"\"\"(B, D) -> (B, D): lam * s(z) + (1 - lam) * flip(s(z)) (eq 9).\"\"\"
            ### BEGIN SOLUTION
            s = trimix.batch_standardize(z)
            return lam * s + (1 - lam) * torch.flip(s, dims=(0,))
            ### END SOLUTION
    """),
    ("md", """
        ## 2. The self-consistency loss (eq 10)

        $$\\mathcal{L}_{con} = \\| \\tilde{Z} - Z^{vrt} \\| \\qquad (10)$$

        an L1 distance with **mean** reduction over all B x D entries (Algorithm 1 line 38). The virtual
        embeddings enter normalised as for eq 6 (lines 29-30): `v` = `z_vrt` standardised along the batch,
        then each row along the features. So the loss compares `Z~` with `v`.

        ### Exercise `self_consistency_loss`
        Write `my_self_consistency_loss(z, z_vrt, lam)`.
    """),
    ("ex", """
        def my_self_consistency_loss(z: torch.Tensor, z_vrt: torch.Tensor, lam: float) -> torch.Tensor:
            \"\"\"scalar: mean |Z~ - v| over the B x D entries (eq 10).\"\"\"
            ### BEGIN SOLUTION
            v = trimix.feature_standardize(trimix.batch_standardize(z_vrt))
            return (my_mixed_embeddings(z, lam) - v).abs().mean()
            ### END SOLUTION
    """),
    ("md", """
        On the random network: the heatmaps show the first 16 features of the first 16 samples of `Z~`
        and of `v`, and their absolute difference. Where the network is already close to linear on these
        images, the first two panels match and the third is dark. Notice too that `Z~` looks paler than `v`:
        averaging two standardised embeddings shrinks their spread, while `v` is standardised afresh.
    """),
    ("code", """
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
    """),
    ("md", """
        ## 3. The full objective (eq 11)

        $$\\mathcal{L} = \\mathcal{L}_{BT} + \\beta\\, \\mathcal{L}_{vrt} + \\gamma\\, \\mathcal{L}_{con} \\qquad (11)$$

        with the paper's `alpha = 5e-3` inside `L_BT`, `beta = 1000`, `gamma = 200` and `tau = 2`
        (section IV-A). One training step embeds three batches: the two views `x1, x2` and the virtual batch
        `mix_batch(x1, lam)`. No stop-gradient anywhere: every term trains the whole network.

        ### Exercise `trimix_loss`
        Write `my_trimix_loss(z1, z2, z_vrt, lam, ...)` returning `(total, parts)` with
        `parts = {"bt": ..., "vrt": ..., "con": ...}` the **unweighted** terms. Use
        `trimix.barlow_twins_loss` and `trimix.virtual_embedding_loss` (notebooks 01 and 03) and your
        `my_self_consistency_loss`.
    """),
    ("ex", """
        def my_trimix_loss(z1, z2, z_vrt, lam, alpha=5e-3, beta=1000.0, gamma=200.0, tau=2.0):
            \"\"\"(total, {"bt", "vrt", "con"}): eq 11 on raw embeddings z1, z2 (the views) and z_vrt (the virtual batch).\"\"\"
            ### BEGIN SOLUTION
            parts = {
                "bt": trimix.barlow_twins_loss(z1, z2, alpha),
                "vrt": trimix.virtual_embedding_loss(z1, z_vrt, lam, tau),
                "con": my_self_consistency_loss(z1, z_vrt, lam),
            }
            total = parts["bt"] + beta * parts["vrt"] + gamma * parts["con"]
            return total, parts
            ### END SOLUTION
    """),
    ("md", """
        `trimix.TriMix` wraps a network like `trimix.BarlowTwins` did: `loss(x1, x2)` draws `lam`, builds the
        virtual batch, runs the network three times and returns eq 11 and its parts (plus the `lam` it drew).
        Below, the three parts for the random network, raw and weighted. Look at the scales: `L_vrt` is a
        tiny number near `2/B` (notebook 03 explained why) and `L_con` is of order 1; the weights beta and
        gamma bring them to the size of `L_BT`.
    """),
    ("code", """
        method = trimix.TriMix(net, alpha=5e-3, beta=1000.0, gamma=200.0, tau=2.0, generator=gen)
        total_before, parts_before = method.loss(x1, x2, lam=lam)
        print(f"total = {total_before.item():.2f} = {parts_before['bt'].item():.2f} "
              f"+ 1000 * {parts_before['vrt'].item():.4f} + 200 * {parts_before['con'].item():.4f}")
        viz.plot_loss_parts(parts_before, {"vrt": method.beta, "con": method.gamma})
    """),
    ("md", """
        How hard does each weighted term pull on the network? The size of its gradient with respect to all
        parameters tells us (one backward pass per term):
    """),
    ("code", """
        params = [p for p in method.parameters() if p.requires_grad]
        weights = {"bt": 1.0, "vrt": method.beta, "con": method.gamma}
        for key in ("bt", "vrt", "con"):
            grads = torch.autograd.grad(weights[key] * parts_before[key], params, retain_graph=True, allow_unused=True)
            norm = torch.sqrt(sum((g ** 2).sum() for g in grads if g is not None))
            print(f"{key:>3}: weight {weights[key]:6g}, gradient norm {norm:.3f}")
    """),
    ("md", """
        Even multiplied by 1000, `L_vrt` pulls much less than the other two terms: at tau = 2 the softmax is
        nearly flat, and so is its gradient (notebook 03's numerical note, seen from the optimiser's side).
    """),
    ("md", """
        ## 4. A few steps of Adam

        Thirty steps on fresh views of random batches of 32 images, recording each part every step
        (the pretraining loop of notebook 05 does the same with logging, checkpoints and a GPU).
    """),
    ("code", """
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
    """),
    ("md", """
        One panel per part, as in the paper's Fig. 2. The curves are noisy: each step has a new batch,
        new augmentations and a **new lam**, and `L_con` in particular depends a lot on lam (the paper, too,
        notes oscillations in the consistency loss). Look at the vertical scale of `L_vrt`: it only changes
        in its third or fourth digit, pinned near `2/B` (notebook 03).
    """),
    ("code", """
        viz.plot_history(history)
    """),
    ("md", """
        To see the trend without the noise, evaluate the loss before and after training on the **same**
        batch with the **same** lam as in section 3. Every part has moved:
    """),
    ("code", """
        with torch.no_grad():
            total_after, parts_after = method.loss(x1, x2, lam=lam)
        before = {"total": total_before.item(), **{k: parts_before[k].item() for k in ("bt", "vrt", "con")}}
        after = {"total": total_after.item(), **{k: parts_after[k].item() for k in ("bt", "vrt", "con")}}
        for k in before:
            print(f"{k:>5}: before {before[k]:9.4f}   after 30 steps {after[k]:9.4f}")
    """),
    ("md", """
        *Try it:* retrain from a fresh network with `gamma=0` (no self-consistency), then with `beta=0`
        (no virtual embeddings loss): which curves change? The paper's Table VI measures what each term adds
        to the accuracy (notebook 08).

        ## Summary

        - Self-consistency asks the embedding of a mix to equal the mix of the embeddings:
          `Z~ = lam s(Z) + (1 - lam) flip(s(Z))` (eq 9), `L_con = mean |Z~ - v|` (eq 10), with `v` the virtual
          embeddings standardised along the batch and then along the features.
        - The full objective is `L = L_BT + beta L_vrt + gamma L_con` (eq 11) with alpha = 5e-3, beta = 1000,
          gamma = 200, tau = 2; the weights bring terms of very different sizes to a common scale.
        - A training step embeds three batches (two views and the virtual batch) and backpropagates through
          all of them, with no stop-gradient.
        - In the kit: `trimix.mixed_embeddings`, `trimix.self_consistency_loss`, `trimix.trimix_loss`,
          `trimix.TriMix`, `viz.plot_loss_parts`, `viz.plot_history`.

        Next, notebook 05: pretraining TriMix for real (quick on a CPU, the paper's configuration on a GPU).
    """),
]

NOTEBOOKS = {
    "01_barlow_twins.ipynb": NB01,
    "02_mixup_views.ipynb": NB02,
    "03_ground_truth_and_predicted.ipynb": NB03,
    "04_self_consistency_and_objective.ipynb": NB04,
}

STUDENT = HERE / "student"

if __name__ == "__main__":
    names = sys.argv[1:] or list(NOTEBOOKS)
    STUDENT.mkdir(exist_ok=True)
    for name in names:
        nb = build(name, NOTEBOOKS[name])
        nbformat.write(nb, HERE / name)
        nbformat.write(make_student_notebook(nb), STUDENT / name)
        print("wrote", HERE / name, "and", STUDENT / name)
