"""Write notebooks 00 and 05-08 from the cell lists below (no outputs): ``python notebooks/_build_later.py``.

Same conventions as ``_build.py`` (whose ``header``, and so whose set-up cell, this reuses): exercise cells
hold the instructor's solution between ``### BEGIN SOLUTION`` and ``### END SOLUTION``, and the cell after
an exercise starts with ``# CHECK: <exercise_name>``; both carry nbgrader's metadata. The checks of these
notebooks' exercises are written inline (their exercises are not in ``trimix.checks``). Package code lives
in ``trimix/``; the notebooks only call it (``trimix.experiments`` holds what 05-08 share).
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _build import build, header  # noqa: E402  (title, badge, goals, set-up cell; notebook assembly)


IMPORTS = """
    %matplotlib inline
    import torch

    import trimix
    from trimix import evaluate, experiments, viz, widgets
    from trimix.data import load_dataset
    from trimix.train import build_model, pretrain
"""

# ========================================================================================== 00 setup

NB00 = header(
    "00_setup.ipynb",
    "00 · Set-up: environment, GPU, data and quick mode",
    """
    This kit teaches **TriMix** (Bdair et al.), a self-supervised method that adds two terms to Barlow
    Twins. Before the method itself (notebooks 01-04) and the experiments of the paper (05-08), this
    notebook checks your environment, shows where the data comes from and explains the kit's
    **quick mode**, which lets every notebook run on a laptop CPU in a few minutes.
    """,
    [
        "check whether a GPU is available, and turn one on in Colab;",
        "name the paper's eight datasets and the kit's built-in one, with their image sizes and classes;",
        "load a dataset, and read the error that tells you how to download one that is missing;",
        "say what quick mode changes, and count the training steps of a run.",
    ],
) + [
    ("code", """
        %matplotlib inline
        import torch

        import trimix
        from trimix import experiments, viz
        from trimix.data import DATASETS, DatasetNotFoundError, load_dataset
    """),
    ("md", """
        ## 1. Environment and GPU

        The cell above printed the versions and the **mode**. The paper trains a ResNet-18 for 200 epochs on
        one GPU (section IV-A: "around 7-8 hours for each approach" on a V100). Without a GPU the kit falls
        back to quick mode on its own.

        **Turning on a GPU in Colab:** *Runtime > Change runtime type > Hardware accelerator: T4 GPU > Save*,
        then *Runtime > Run all*. The set-up cell of every notebook installs the kit when it is missing.
    """),
    ("code", """
        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            print(f"GPU: {props.name}, {props.total_memory / 2**30:.0f} GiB; bf16 supported: {torch.cuda.is_bf16_supported()}")
        else:
            print("No GPU: the notebooks run in quick mode on the CPU.")
        print("CPU threads torch uses:", torch.get_num_threads())
    """),
    ("md", """
        ## 2. Quick mode

        Every notebook starts from `config = trimix.auto_config()`: the paper's configuration (section IV-A)
        on a GPU, **quick mode** when there is no GPU or when the environment variable `TRIMIX_QUICK=1` is set
        (that is how the tests run every notebook). Quick mode keeps the method and its weights alpha, beta,
        gamma, tau; it only shrinks the *scale*. Here is everything it changes:
    """),
    ("code", """
        paper, quick = trimix.paper_config().to_dict(), trimix.quick_config().to_dict()
        print(f"{'field':<17}{'paper':<14}quick")
        for field, value in paper.items():
            if quick[field] != value:
                print(f"{field:<17}{value!s:<14}{quick[field]}")
    """),
    ("md", """
        The numbers a quick run gives are **illustrations of the mechanics**, not the paper's results: a
        narrow network trained for seconds on a small toy dataset. Every notebook says which mode it ran in.

        ## 3. The datasets

        The paper uses eight datasets (section IV-A); the kit knows each by name, plus its own built-in one:

        | name | images (train / test) | size | classes | what |
        | --- | --- | --- | --- | --- |
        | `cifar10` | 50,000 / 10,000 | 32 | 10 | natural images |
        | `cifar100` | 50,000 / 10,000 | 32 | 100 | natural images |
        | `stl10` | 5,000 (+100,000 unlabelled) / 8,000 | 96 | 10 | natural images |
        | `tinyimagenet` | 100,000 / 10,000 | 64 | 200 | natural images |
        | `pathmnist` | 89,996 / 7,180 (+10,004 val) | 28 | 9 | colon pathology |
        | `dermamnist` | 7,007 / 2,005 (+1,003 val) | 28 | 7 | dermatoscopy |
        | `octmnist` | 97,477 / 1,000 (+10,832 val) | 28 | 4 | retinal OCT, grayscale |
        | `bloodmnist` | 11,959 / 3,421 (+1,712 val) | 28 | 8 | blood cell microscopy |
        | `shapes` | 5,000 / 1,000 | 32 | 10 | built in, generated, no download |

        The registry `trimix.data.DATASETS` holds what the code needs about each:
    """),
    ("code", """
        for name, info in DATASETS.items():
            print(f"{name:<13} {info.kind:<8} {info.image_size:>3} px  {info.num_classes:>3} classes  splits: {', '.join(info.splits)}")
    """),
    ("md", """
        ## 4. The built-in dataset

        `shapes` is generated by the kit from a seed: ten kinds of shapes (the class) drawn at random
        positions, sizes and angles, in random colours over striped, shaded, noisy backgrounds (the
        nuisances a good representation should ignore). Quick mode and the tests use it.
    """),
    ("code", """
        shapes = load_dataset("shapes", "train")
        print(shapes)
        print("images per class:", torch.bincount(shapes.labels).tolist())
        viz.show_images(shapes.images[:20], titles=[shapes.classes[k] for k in shapes.labels[:20]], ncols=10)
    """),
    ("md", """
        Look at the grid: position, size, angle, colours and background change from image to image; only
        the outline tells a *star* from a *plus*. Ignoring everything but the outline is what the
        augmentations of notebook 01 (crops, colour jitter, grayscale) push a network towards.

        ## 5. Downloading a dataset

        Named datasets live in `root/<name>` (here `data/cifar10`, ...). The kit never downloads behind your
        back: asked for a dataset that is not on disk, it raises `DatasetNotFoundError` with the folder it
        looked in and the way to download it.
    """),
    ("code", """
        try:
            cifar = load_dataset("cifar10", "train", root=config.root)
            print("found on disk:", cifar)
        except DatasetNotFoundError as error:
            print("DatasetNotFoundError:", error)
    """),
    ("md", """
        To download, pass `download=True` (it needs internet; CIFAR-10 is 170 MB):

        ```python
        train = load_dataset("cifar10", "train", download=True)
        ```

        or add `--download` on the command line: `python -m trimix pretrain --dataset cifar10 --download`.
        MedMNIST sets come through the `medmnist` package the same way, and `load_dataset("folder:PATH")`
        reads your own images from `PATH/train/<class>/` and `PATH/test/<class>/`.

        ## 6. Exercise: how long is a run?

        `pretrain` uses only full batches, so one epoch is `num_images // batch_size` steps; a run is
        `epochs` epochs, unless `max_steps` stops it earlier (quick runs do that).

        ### Exercise `total_steps`
        Write `my_total_steps(num_images, batch_size, epochs, max_steps)`.
    """),
    ("ex", """
        def my_total_steps(num_images: int, batch_size: int, epochs: int, max_steps: int | None = None) -> int:
            \"\"\"Optimisation steps of a run: full batches per epoch x epochs, at most max_steps (None: no cap).\"\"\"
            ### BEGIN SOLUTION
            steps = (num_images // batch_size) * epochs
            return steps if max_steps is None else min(steps, max_steps)
            ### END SOLUTION
    """),
    ("check", """
        # CHECK: total_steps
        for n, b, e, m in [(50_000, 256, 200, None), (5000, 64, 3, None), (5000, 64, 3, 150), (100, 32, 1, 500)]:
            want = experiments.total_steps(trimix.Config(batch_size=b, epochs=e, max_steps=m), n)
            got = my_total_steps(n, b, e, m)
            assert got == want, (f"my_total_steps({n}, {b}, {e}, {m}) = {got}, expected {want}. "
                                 "Did you drop the last partial batch (//) and cap by max_steps?")
        print("total_steps: correct")
    """),
    ("code", """
        print("the paper's run on CIFAR-10:", my_total_steps(50_000, 256, 200), "steps")
        print("a quick-mode epoch on shapes:", my_total_steps(len(shapes), trimix.quick_config().batch_size, 1), "steps")
    """),
    ("md", """
        ## Summary

        - `config = trimix.auto_config()` gives the paper's configuration on a GPU and **quick mode** (built-in
          `shapes` data, narrow ResNet-18, short runs) on a CPU or when `TRIMIX_QUICK=1` is set.
        - `trimix.describe_environment(config)` reports the GPU and the mode; in Colab, turn on a GPU with
          *Runtime > Change runtime type*.
        - `trimix.data.load_dataset(name, split)` loads any of the paper's eight datasets, `shapes`, or
          `folder:PATH`; missing data gives a `DatasetNotFoundError` that says how to download it.
        - A run takes `num_images // batch_size * epochs` steps (at most `max_steps`): 39,000 for the paper's.

        Next, notebook 01: the Barlow Twins loss TriMix builds on.
    """),
]

# ===================================================================================== 05 pretraining

NB05 = header(
    "05_pretraining.ipynb",
    "05 · Pretraining TriMix",
    """
    Notebooks 01-04 built the TriMix objective (eq 11) piece by piece. Here it trains an encoder for real
    with `trimix.train.pretrain`, the loop behind the paper's results (section IV-A): Adam, lr 1e-3,
    weight decay 1e-6, batch 256, 200 epochs of a ResNet-18 on a GPU; in quick mode, a short run of a
    narrow network on the built-in data. Notebooks 06-08 reuse the encoder this notebook trains.
    """,
    [
        "estimate how long a pretraining run will take before starting it;",
        "run `pretrain` and know where its checkpoint goes;",
        "read the curves of the three loss parts during training (paper Fig. 2);",
        "resume an interrupted run from its checkpoint, and reload a finished one.",
    ],
) + [
    ("code", IMPORTS),
    ("md", """
        ## 1. The run

        `experiments.pretrain_run_config(config)` fixes this notebook's run, so that notebooks 06-08 find it
        again: the paper's configuration on a GPU (CIFAR-10, downloaded the first time), a run capped at
        `max_steps` in quick mode. The checkpoint goes to `out_dir`, relative to this notebook's folder
        (`runs/` is ignored by git).
    """),
    ("code", """
        run_config = experiments.pretrain_run_config(config)
        for field in ("method", "dataset", "width", "proj_dim", "batch_size", "epochs", "max_steps", "out_dir"):
            print(f"{field:<11} {getattr(run_config, field)}")
        train = load_dataset(run_config.dataset, "train", root=run_config.root, download=run_config.download)
        print(train)
    """),
    ("md", """
        ## 2. How long will it take?

        Before a long run, time a few steps and multiply. `estimate_pretrain_time` runs 7 steps on a few
        batches (the first 2 warm up and are not counted) and projects the whole run: each step embeds three
        batches (two views and the virtual batch, Algorithm 1) and backpropagates through all of them.
    """),
    ("code", """
        estimate = experiments.estimate_pretrain_time(run_config, train)
        print("projected:", experiments.describe_estimate(estimate))
    """),
    ("md", """
        On a GPU this is hours (the paper: 7-8 h on a V100). Colab may disconnect before the end, which is
        why `pretrain` writes a **checkpoint** every `checkpoint_every` epochs (atomically: a crash mid-write
        keeps the previous one). If the run stops, just **run the next cell again**: it continues from the
        last checkpoint and ends with exactly the weights an uninterrupted run would have.

        ## 3. Pretraining
    """),
    ("code", """
        result = pretrain(run_config, data=train)
        print(f"{result.steps} steps in {result.seconds:.0f} s; checkpoint: {result.checkpoint}")
    """),
    ("md", """
        ## 4. The loss parts during training (paper Fig. 2)

        `result.history` holds the mean of each loss part over every `log_every` steps. The first figure
        shows the parts as the loss functions return them; the second multiplies each extra term by its
        weight (beta = 1000, gamma = 200), which is what the total adds up.

        What to look at: the Barlow Twins part falls fastest; the virtual embeddings loss sits close to
        `2/B` (the numerical note of notebook 03: with tau = 2, M stays nearly uniform) and moves little;
        the self-consistency loss falls with small oscillations, as the paper notes for Fig. 2. Short
        quick-mode curves are noisy: each point averages only a few steps.
    """),
    ("code", """
        viz.plot_history(result.history)
    """),
    ("code", """
        viz.plot_history(result.history, weights={"vrt": run_config.beta, "con": run_config.gamma})
    """),
    ("code", """
        first, last = {k: v[0] for k, v in result.history.items()}, {k: v[-1] for k, v in result.history.items()}
        for part in ("total", "bt", "vrt", "con"):
            print(f"{part:>5}: {first[part]:10.4f} at step {first['step']:.0f} -> {last[part]:10.4f} at step {last['step']:.0f}")
        print(f"2/B = {2 / run_config.batch_size:.4f}; throughput {last['images_per_s']:.0f} images/s")
    """),
    ("md", """
        ### Exercise `weighted_parts`
        Eq 11 adds the three parts with their weights: `L = L_BT + beta L_vrt + gamma L_con`. Write
        `my_weighted_parts(history, beta, gamma)` returning, for the **last** logged point, the dict
        `{"bt": ..., "vrt": ..., "con": ...}` of the parts *as they enter the total*. The check verifies that
        they add up to the logged total.
    """),
    ("ex", """
        def my_weighted_parts(history: dict, beta: float, gamma: float) -> dict:
            \"\"\"The last logged L_BT, beta * L_vrt and gamma * L_con (eq 11), as floats.\"\"\"
            ### BEGIN SOLUTION
            return {"bt": history["bt"][-1], "vrt": beta * history["vrt"][-1], "con": gamma * history["con"][-1]}
            ### END SOLUTION
    """),
    ("check", """
        # CHECK: weighted_parts
        parts = my_weighted_parts(result.history, run_config.beta, run_config.gamma)
        assert set(parts) == {"bt", "vrt", "con"}, f"expected the keys bt, vrt, con, got {sorted(parts)}"
        total = result.history["total"][-1]
        assert abs(sum(parts.values()) - total) <= 1e-3 * abs(total), (
            f"the weighted parts add up to {sum(parts.values()):.4f}, but the logged total is {total:.4f}. "
            "Which parts carry a weight in eq 11, and which weight?")
        print("weighted_parts: correct;", {k: round(v, 3) for k, v in parts.items()})
    """),
    ("md", """
        Which term carries most of the total at the end of the run, once weighted? (With the paper's weights
        the three are brought to comparable sizes; notebook 08 switches them off one at a time.)

        ## 5. Resuming and reloading

        Call `pretrain` again with the same configuration. It finds the checkpoint, sees that every step is
        done, and returns at once with the same weights: no step runs and no file is written.
    """),
    ("code", """
        import time

        start = time.perf_counter()
        again = pretrain(run_config, data=train, progress=False)
        same = all(torch.equal(a, b) for a, b in zip(result.method.state_dict().values(), again.method.state_dict().values()))
        print(f"returned in {time.perf_counter() - start:.2f} s at step {again.steps}; same weights: {same}")
    """),
    ("md", """
        To train **longer**, raise `epochs` (or `max_steps`) and call `pretrain` again: it continues from
        the checkpoint instead of starting over. A checkpoint made with another method, network or batch
        size is refused with a message, rather than mixed in.

        Notebooks 06-08 reload this run with `experiments.load_or_pretrain(pretrain_run_config(config))`:
        the same call as above, which trains only when no finished checkpoint exists. What a checkpoint
        holds, and how to rebuild the network from it alone:
    """),
    ("code", """
        from trimix.train import load_checkpoint, model_from_checkpoint

        state = load_checkpoint(result.checkpoint)
        print("checkpoint holds:", ", ".join(state))
        method, saved_config, _ = model_from_checkpoint(result.checkpoint)
        print(f"rebuilt: {type(method).__name__}, trained {state['step']} steps on {saved_config.dataset}")
    """),
    ("md", """
        ## Summary

        - `pretrain(config)` trains any method on any dataset of the registry: data on the device as uint8,
          batched augmentations, a history of every loss part, and atomic checkpoints in `config.out_dir`.
        - Time a few steps first (`experiments.estimate_pretrain_time`): the paper's run is hours on a GPU.
        - Rerunning `pretrain` resumes an interrupted run exactly and returns at once from a finished one;
          `model_from_checkpoint` rebuilds the trained method from the file alone.
        - Fig. 2 of the paper: all three parts contribute; the weighted curves show how much each adds.
        - The same from a terminal: `python -m trimix pretrain --out-dir runs/notebook05 --download`
          (`--quick` for the CPU version).

        Next, notebook 06: is the trained encoder any good? kNN, linear probe, fine-tuning, UMAP.
    """),
]

# ====================================================================================== 06 evaluation

NB06 = header(
    "06_evaluation.ipynb",
    "06 · Evaluating the learned representations",
    """
    A self-supervised encoder is judged by what it makes easy downstream. The paper uses four protocols
    (section IV-B): a weighted **kNN** classifier and a **linear probe** on frozen features (Tables I, III),
    **semi-supervised fine-tuning** on 1%, 10% or 100% of the labels (Tables II, IV), and pictures: a
    **UMAP** of the test features (Fig. 3) and the **predicted vs ground-truth matrices** on a real batch
    (Fig. 5). Each protocol here compares the encoder of notebook 05 with a **random encoder**: the same
    network with the same initial weights, never trained. The difference is what pretraining bought.
    """,
    [
        "extract frozen backbone features and score them with weighted kNN and a linear probe;",
        "fine-tune an encoder on a 10% class-balanced labelled subset;",
        "draw a UMAP of test features coloured by class, before and after training (Fig. 3);",
        "read the predicted and ground-truth matrices of a trained network on a real batch (Fig. 5).",
    ],
) + [
    ("code", IMPORTS),
    ("md", """
        ## 1. The trained encoder and a random one

        `load_or_pretrain` loads notebook 05's run when it finished, and trains it first otherwise.
        `build_model` with the same configuration gives the same network at its initial weights (the seed
        is part of the configuration): our random baseline.
    """),
    ("code", """
        run_config = experiments.pretrain_run_config(config)
        train = load_dataset(run_config.dataset, "train", root=run_config.root, download=run_config.download)
        test = load_dataset(run_config.dataset, "test", root=run_config.root, download=run_config.download)
        method, history = experiments.load_or_pretrain(run_config, data=train)
        device = next(method.parameters()).device  # the GPU when there is one
        encoders = {"random": build_model(run_config, train.image_size).net.to(device), "trained": method.net}
        print(train, test, sep="\\n")
    """),
    ("md", """
        ## 2. Frozen features, kNN and linear probe (Tables I, III)

        Every protocol starts from the **backbone** features `y` (512 numbers per image for the paper's
        ResNet-18), never from the projector output `z` the losses saw. `evaluate.extract_features` runs the
        frozen backbone over a whole split (in eval mode, so BatchNorm uses its running statistics).

        - **Weighted kNN** (k = 200, T = 0.1): each test image takes its 200 most cosine-similar training
          images; each votes for its class with weight `exp(similarity / T)`.
        - **Linear probe**: one linear layer trained with cross-entropy on the frozen features, the paper's
          recipe (SGD, lr 1e-3, momentum 0.9, weight decay 1e-6, batch 256, 100 epochs).
    """),
    ("code", """
        features, train_features, rows = {}, {}, []
        for name, net in encoders.items():
            f_train, y_train = evaluate.extract_features(net, train)
            f_test, y_test = evaluate.extract_features(net, test)
            train_features[name], features[name] = f_train, f_test
            knn = evaluate.knn_accuracy(f_train, y_train, f_test, y_test, num_classes=train.num_classes)
            linear = evaluate.linear_probe(f_train, y_train, f_test, y_test, epochs=100, num_classes=train.num_classes)
            rows.append({"encoder": name, "kNN (%)": knn, "linear (%)": linear["accuracy"]})
        print(f"features: {tuple(f_train.shape)} train, {tuple(f_test.shape)} test; chance = {100 / train.num_classes:.0f} %")
        print(experiments.format_table(rows))
    """),
    ("md", """
        Compare the two rows: the difference is what pretraining bought. In the paper's configuration (200
        epochs on CIFAR-10) TriMix reaches 86.35 % kNN and 88.39 % linear (Table I). In **quick mode** the
        run lasts about a minute on a toy dataset, so the numbers are far lower and one run cannot pin the
        gap down to a point or two; the protocols are the point here, not these numbers.

        ### Exercise `knn_predict`
        Write the weighted kNN vote yourself: normalise the features to unit length, take for each test
        sample the `k` most similar training samples (cosine similarity = dot product of unit vectors), and
        add `exp(similarity / temperature)` to the score of each neighbour's class. Predict the best class.
    """),
    ("ex", """
        def my_knn_predict(train_features, train_labels, test_features, num_classes, k=200, temperature=0.1):
            \"\"\"(N, F), (N,), (M, F) -> (M,) int64 predicted classes of a weighted kNN vote.\"\"\"
            ### BEGIN SOLUTION
            train = torch.nn.functional.normalize(train_features, dim=1)
            test = torch.nn.functional.normalize(test_features, dim=1)
            sim, idx = (test @ train.T).topk(min(k, len(train)), dim=1)       # (M, k)
            votes = torch.zeros(len(test), num_classes)
            votes.scatter_add_(1, train_labels[idx], (sim / temperature).exp())
            return votes.argmax(1)
            ### END SOLUTION
    """),
    ("check", """
        # CHECK: knn_predict
        gen = torch.Generator().manual_seed(0)
        for n, m, f, c, k in [(50, 20, 8, 3, 5), (300, 40, 16, 10, 200)]:
            tr, te = torch.randn(n, f, generator=gen), torch.randn(m, f, generator=gen)
            labels = torch.randint(c, (n,), generator=gen)
            want = evaluate.knn_predict(tr, labels, te, c, k=k, temperature=0.1)
            got = my_knn_predict(tr, labels, te, c, k=k, temperature=0.1)
            assert torch.equal(got.long(), want), (f"{(got != want).sum()} of {m} predictions differ from "
                "evaluate.knn_predict (k={k}). Normalise both feature sets, vote with exp(sim / T).")
        print("knn_predict: correct")
    """),
    ("md", """
        ## 3. Semi-supervised fine-tuning on 10% of the labels (Tables II, IV)

        Now the whole network is trained, not just a head: a copy of the backbone plus a new linear layer,
        on a class-balanced 10% of the training labels (`evaluate.balanced_subset`), with light crop-and-flip
        augmentation, with the paper's recipe (SGD, lr 1e-3, batch 256). The paper fine-tunes for 100 epochs;
        quick mode does 3 (of 2 steps each on 500 labelled images), which shows the mechanics only: expect
        low numbers for both encoders.
    """),
    ("code", """
        finetune_epochs = 3 if config.quick else 100
        rows = []
        for name, net in encoders.items():
            out = evaluate.finetune(net.backbone, train, test, fraction=0.1, epochs=finetune_epochs)
            rows.append({"encoder": name, "labelled images": out["num_labelled"], "epochs": finetune_epochs,
                         "test accuracy (%)": out["accuracy"]})
        print(experiments.format_table(rows))
    """),
    ("md", """
        In the paper, pretraining pays off most when labels are scarce: with 1% of CIFAR-10's labels TriMix
        fine-tunes to 81.03 %, with 100% to 92.16 % (Table II).

        ## 4. UMAP of the test features (Fig. 3)

        UMAP squeezes the features into two dimensions while keeping neighbours close. Each dot is a test
        image, coloured by its class (1000 images at most, to keep it fast). Look for **clusters of one
        colour**: a representation that separates the classes shows them as separate islands, as TriMix's
        CIFAR-10 features do in the paper's Fig. 3. A random encoder gives a mixed cloud.
    """),
    ("code", """
        from matplotlib.figure import Figure

        keep = evaluate.balanced_subset(test.labels, min(1.0, 1000 / len(test)))
        fig = Figure(figsize=(11, 4.5), layout="constrained")
        for ax, (name, f_test) in zip(fig.subplots(1, 2), features.items()):
            points = viz.umap_2d(f_test[keep], seed=0)
            viz.plot_embedding_2d(points, test.labels[keep], test.classes, title=f"{name} encoder", ax=ax)
        fig
    """),
    ("md", """
        ## 5. Clusters of what?

        Features can group images by something other than their class. A likely candidate is a
        **nuisance**: the overall colour of the image. `experiments.hue_labels` gives each image the hue of its
        mean colour (6 bins). Below: kNN accuracies for predicting the class and the hue from each encoder's
        features, and the same UMAP of the trained encoder coloured by hue instead of class.
    """),
    ("code", """
        hue_train, hue_test = experiments.hue_labels(train.images), experiments.hue_labels(test.images)
        rows = []
        for name in encoders:
            f_train, f_test = train_features[name], features[name]
            rows.append({"encoder": name,
                         "kNN: class (%)": evaluate.knn_accuracy(f_train, train.labels, f_test, test.labels),
                         "kNN: hue (%)": evaluate.knn_accuracy(f_train, hue_train, f_test, hue_test)})
        print(experiments.format_table(rows))
        points = viz.umap_2d(features["trained"][keep], seed=0)
        viz.plot_embedding_2d(points, hue_test[keep], [f"hue bin {k}" for k in range(6)], title="trained encoder, coloured by hue")
    """),
    ("md", """
        If training raised the class column and not the hue column (and the hue colours are mixed in the
        UMAP), the encoder learned the shapes rather than the colours: what we want. The other way round
        would be a **shortcut**: the two views of an image share its colours, so agreeing on colour
        satisfies the loss without looking at the shape. The paper's colour jitter and grayscale
        (notebook 01) are there to make that shortcut costly. A general lesson of self-supervised
        learning: the representation learns whatever the two views have in common, wanted or not.

        ## 6. Predicted vs ground-truth matrices on a real batch (Fig. 5)

        Back to the pretext task. Take 16 test images, mix them with their reverse at `lam = 0.7` (eq 5) and
        ask each network which images every virtual image came from. (A) is the ground truth GT (eq 8),
        (B) the similarity matrix before the softmax (eq 6), (C) the predicted matrix M (eq 7).

        What to look at first are the numbers: the mean of (B) on the **diagonal** (the 70 % ingredient), on
        the **anti-diagonal** (the 30 % partner) and elsewhere. Training raises the first two above the
        rest: the network has learned the pretext task, *which two images* make each virtual image, even
        where it has not learned the classes. In the heatmaps the pattern competes with bright columns
        (virtual images that resemble many others), and (C) stays almost flat at tau = 2 (notebook 03's
        numerical note), so L_vrt moves little.
    """),
    ("code", """
        batch, lam = test.images[:16], 0.7
        pairs = {name: widgets.embed_pair(net, batch, lam) for name, net in encoders.items()}
        gt = trimix.ground_truth_matrix(len(batch), lam)
        for name, (z, z_vrt) in pairs.items():
            sim = trimix.similarity_matrix(z, z_vrt)
            print(f"{name:>8}: diagonal {sim.diagonal().mean():5.2f}   anti-diagonal {sim.fliplr().diagonal().mean():5.2f}"
                  f"   elsewhere {sim[gt == 0].mean():5.2f}   L_vrt {widgets.tau_values(z, z_vrt, lam, run_config.tau)['l_vrt']:.4f}")
    """),
    ("code", """
        fig, _ = widgets.tau_view(*pairs["random"], lam, tau=run_config.tau, name="random encoder")
        fig
    """),
    ("code", """
        fig, _ = widgets.tau_view(*pairs["trained"], lam, tau=run_config.tau, name="trained encoder")
        fig
    """),
    ("md", """
        The tau widget on the trained network: slide tau down to see how much of GT the network has
        recovered once the softmax is sharper (the network runs once; the slider only redoes the softmax).
    """),
    ("code", """
        widgets.tau_widget(pairs["trained"], lam=lam, name="trained encoder")
    """),
    ("md", """
        ## Summary

        - All protocols score the frozen **backbone** features (`evaluate.extract_features`), beside a random
          encoder of the same shape and initialisation.
        - Weighted kNN (`evaluate.knn_accuracy`) and the linear probe (`evaluate.linear_probe`) give the
          columns of Tables I and III; fine-tuning on a balanced labelled subset (`evaluate.finetune`)
          those of Tables II and IV.
        - UMAP (`viz.umap_2d`, `viz.plot_embedding_2d`) shows the class structure as in Fig. 3; scoring a
          nuisance label (`experiments.hue_labels`) tells class structure from shortcut structure.
        - The predicted vs ground-truth matrices (`widgets.tau_view`) show the pretext task as in Fig. 5.
        - From a terminal: `python -m trimix evaluate runs/notebook05 --protocols knn linear semi --random-baseline`.

        Next, notebook 07: medical images, and transferring an encoder to them.
    """),
]

# ============================================================================ 07 medical and transfer

NB07 = header(
    "07_medical_and_transfer.ipynb",
    "07 · Medical images and transfer",
    """
    The paper also tests TriMix on four medical datasets from **MedMNIST** (section IV-B): pretrained on
    the medical images themselves (Tables III, IV), and **transferred**: an encoder pretrained on natural
    images, frozen, with a linear classifier trained on the medical images (Table V). This notebook loads
    the medical data, pretrains on it, and transfers notebook 05's encoder to it.
    """,
    [
        "describe the four MedMNIST datasets of the paper and load them;",
        "serve 28-pixel grayscale images to a network built for 32-pixel colour ones;",
        "pretrain on a medical dataset and score the result with kNN;",
        "transfer a frozen encoder to a new domain with a linear probe (Table V), beside a random encoder.",
    ],
) + [
    ("code", IMPORTS),
    ("md", """
        ## 1. The four MedMNIST datasets

        MedMNIST (Yang et al.) standardises medical images to 28 x 28 pixels. The paper picks four multi-class
        sets: **PathMNIST** (colon pathology, 9 classes), **DermaMNIST** (dermatoscopy, 7), **OCTMNIST**
        (retinal optical coherence tomography, 4, grayscale) and **BloodMNIST** (blood cell microscopy, 8).
        The `medmnist` package knows their sizes and classes without downloading anything:
    """),
    ("code", """
        import medmnist

        MEDICAL = ["pathmnist", "dermamnist", "octmnist", "bloodmnist"]
        for name in MEDICAL:
            info = medmnist.INFO[name]
            sizes = ", ".join(f"{split} {n:,}" for split, n in info["n_samples"].items())
            print(f"{name:<11} {len(info['label'])} classes, {info['n_channels']} channel(s); {sizes}")
        print("\\nOCTMNIST classes:", list(medmnist.INFO["octmnist"]["label"].values()))
    """),
    ("md", """
        Loading one is the same call as any other dataset; `download=True` fetches the `.npz` file into
        `data/<name>/` the first time (OCTMNIST is about 50 MB):

        ```python
        train = load_dataset("octmnist", "train", download=True)
        ```

        Grayscale sets (OCTMNIST) are served as **three equal channels**, so every network of the kit takes
        them unchanged. We follow OCTMNIST, the hardest transfer target of Table V. On a GPU the notebook
        downloads it. **Offline, in quick mode, it uses a stand-in instead** (next cell): the kit's shapes
        redrawn at 28 pixels in grainy grayscale with 4 classes, a target visibly different from the
        training data. The stand-in only demonstrates the mechanics; **its numbers say nothing about medical
        images**.
    """),
    ("code", """
        target_name = "octmnist"
        limit = 2000 if config.quick else None  # quick mode on a CPU: a class-balanced subset of the real data
        target_train, real = experiments.load_target_or_stand_in(
            target_name, "train", root=config.root, download=not config.quick, max_images=limit)
        target_test, _ = experiments.load_target_or_stand_in(
            target_name, "test", root=config.root, download=not config.quick, max_images=limit)
        if real:
            print(f"the real {target_name}:", target_train, target_test, sep="\\n")
        else:
            why = "quick mode does not download" if config.quick else "the download failed"
            print(f"{target_name} is not on disk and {why}: using the OFFLINE STAND-IN.\\n"
                  "It is NOT medical data; the accuracies below only demonstrate the mechanics.")
            print(target_train, target_test, sep="\\n")
        target_label = target_name if real else "stand-in"
    """),
    ("code", """
        viz.show_images(target_train.images[:20], titles=[target_train.classes[k][:12] for k in target_train.labels[:20]],
                        ncols=10, suptitle=f"{target_label}: 28 x 28, grayscale served as 3 channels")
    """),
    ("md", """
        Each image has three identical channels: the network sees colour images whose colour carries no
        information.

        ### Exercise `gray_to_rgb`
        Write `my_gray_to_rgb(images)`: uint8 `(N, H, W)` grayscale images to uint8 `(N, 3, H, W)` with three
        equal channels, the way the kit serves OCTMNIST.
    """),
    ("ex", """
        def my_gray_to_rgb(images: torch.Tensor) -> torch.Tensor:
            \"\"\"(N, H, W) uint8 -> (N, 3, H, W) uint8, the gray value copied into each channel.\"\"\"
            ### BEGIN SOLUTION
            return images[:, None].expand(-1, 3, -1, -1).contiguous()
            ### END SOLUTION
    """),
    ("check", """
        # CHECK: gray_to_rgb
        gray = target_train.images[:8, 0]                                   # (8, 28, 28): one channel back
        rgb = my_gray_to_rgb(gray)
        assert rgb.shape == (8, 3, *gray.shape[1:]) and rgb.dtype == torch.uint8, (
            f"expected shape {(8, 3, *gray.shape[1:])} uint8, got {tuple(rgb.shape)} {rgb.dtype}")
        assert torch.equal(rgb, target_train.images[:8]), "each of the 3 channels must equal the gray image"
        print("gray_to_rgb: correct")
    """),
    ("md", """
        ## 2. Pretraining on the medical images (Tables III, IV)

        Pretraining on the target itself is the same `pretrain` call with the target's data: 200 epochs in
        the paper (TriMix: 72.30 % kNN and 76.60 % linear on OCTMNIST, Table III). The 28-pixel images get the
        CIFAR-style stem (3 x 3 convolution, no max-pool). Quick mode runs 30 steps. On a GPU this cell runs
        the paper's full 200 epochs (see the estimate it prints first); set `max_steps` in `med_config` if you
        only want to try it, or skip to section 3, which does not need it.
    """),
    ("code", """
        med_config = config.replace(dataset=target_label, out_dir=f"runs/notebook07-{target_label}",
                                    max_steps=30 if config.quick else None)
        estimate = experiments.estimate_pretrain_time(med_config, target_train, steps=2, warmup=1)
        print("projected:", experiments.describe_estimate(estimate))
        med = pretrain(med_config, data=target_train, progress=False)
        print(f"{med.steps} steps in {med.seconds:.0f} s")
    """),
    ("code", """
        rows = []
        random_net = build_model(med_config, target_train.image_size).net.to(next(med.method.parameters()).device)
        for name, net in {"random": random_net, "pretrained on target": med.method.net}.items():
            f_train, y_train = evaluate.extract_features(net, target_train)
            f_test, y_test = evaluate.extract_features(net, target_test)
            rows.append({"encoder": name, "kNN (%)": evaluate.knn_accuracy(f_train, y_train, f_test, y_test,
                                                                             num_classes=target_train.num_classes)})
        print(f"{target_label}, chance = {100 / target_train.num_classes:.0f} %")
        print(experiments.format_table(rows))
    """),
    ("md", """
        ## 3. Transfer from natural images (Table V)

        Now the encoder of notebook 05, pretrained on natural images (CIFAR-10 on a GPU, shapes in quick
        mode), is frozen and a linear classifier is trained on its features of the target
        (`evaluate.transfer`). The target's 28-pixel images are first **resized** to the 32 pixels the encoder
        was trained on, so its stem sees what it expects. The random encoder of the same shape is the
        baseline.
    """),
    ("code", """
        run_config = experiments.pretrain_run_config(config)
        source, _ = experiments.load_or_pretrain(run_config)
        source_size = trimix.data.DATASETS[run_config.dataset].image_size  # the size it was trained on
        rows = []
        random_net = build_model(run_config, source_size).net.to(next(source.parameters()).device)
        for name, net in {"random": random_net, f"pretrained on {run_config.dataset}": source.net}.items():
            out = evaluate.transfer(net.backbone, source_size, target_train, target_test, epochs=100)
            rows.append({"encoder": name, "input size": out["image_size"], "linear probe on target (%)": out["accuracy"]})
        print(f"transfer to {target_label}, chance = {100 / target_train.num_classes:.0f} %")
        print(experiments.format_table(rows))
    """),
    ("md", """
        In the paper, transfer from CIFAR-10 to OCTMNIST gives 62.70-67.20 % depending on the method (TriMix:
        67.20 %, Table V), below the 76.60 % of pretraining on OCTMNIST itself (Table III): natural images
        teach features that only partly fit retinal scans. Transfer helps least when the domains are far
        apart; the paper's STL-10 column drops to 40-58 % on OCTMNIST.

        *Try it:* run this notebook with another target, e.g. `target_name = "bloodmnist"` (colour, 8
        classes), after downloading it with `load_dataset("bloodmnist", "train", download=True)`.

        ## Summary

        - MedMNIST's PathMNIST, DermaMNIST, OCTMNIST and BloodMNIST are 28 x 28 images; the kit loads each by
          name (`download=True` the first time) and serves grayscale as three equal channels.
        - Pretraining on a medical set is the same `pretrain` call (Tables III, IV).
        - Transfer (Table V) = frozen encoder + linear probe on the target, with the target resized to the
          encoder's input size: `evaluate.transfer(backbone, source_size, target_train, target_test)`.
        - Offline, `experiments.shapes_stand_in` lets the code run; it is not medical data.
        - From a terminal: `python -m trimix evaluate runs/notebook05 --transfer octmnist --download --random-baseline`.

        Next, notebook 08: which parts of TriMix matter? The ablations of Tables VI-VII and Fig. 4.
    """),
]

# ====================================================================================== 08 ablations

NB08 = header(
    "08_ablations.ipynb",
    "08 · Ablations: which parts of TriMix matter?",
    """
    The paper takes TriMix apart to see what each piece contributes (section IV-C): the two extra loss
    terms and the feature normalisation (Table VI), which features the terms act on (Table VII), and the
    batch size and projector size (Fig. 4). Every ablation is a small change of the configuration, so the
    same code runs at any scale: a minute per variant on a CPU here, 200 epochs on a GPU in the paper.
    """,
    [
        "express each ablation of Tables VI-VII and Fig. 4 as a change of `trimix.Config`;",
        "pretrain and score a set of variants with one call, and read the table and bar chart;",
        "judge how much a short, small run can say about the paper's ordering.",
    ],
) + [
    ("code", IMPORTS),
    ("md", """
        ## 1. The variants

        Table VI switches the parts of eq 11 on and off. In the configuration: Barlow Twins is
        `method="barlow_twins"`; "virtual embeddings loss only" sets gamma = 0 (no self-consistency);
        "self-consistency loss only" sets beta = 0; "both, no feature norms" keeps both terms but drops the
        row standardisation of the virtual embeddings (`feature_norm=False`); full TriMix changes nothing.

        ### Exercise `table_vi`
        Write the five changes yourself, then compare with `experiments.TABLE_VI_VARIANTS`.
    """),
    ("ex", """
        def my_table_vi() -> dict:
            \"\"\"Variant name -> dict of Config changes, for the five rows of Table VI.\"\"\"
            ### BEGIN SOLUTION
            return {
                "Barlow Twins": {"method": "barlow_twins"},
                "TriMix: virtual embeddings loss only": {"gamma": 0.0},
                "TriMix: self-consistency loss only": {"beta": 0.0},
                "TriMix: both losses, no feature norms": {"feature_norm": False},
                "TriMix: both losses + feature norms": {},
            }
            ### END SOLUTION
    """),
    ("check", """
        # CHECK: table_vi
        mine = my_table_vi()
        assert set(mine) == set(experiments.TABLE_VI_VARIANTS), f"expected the names {list(experiments.TABLE_VI_VARIANTS)}"
        for name, changes in experiments.TABLE_VI_VARIANTS.items():
            want, got = trimix.Config().replace(**changes), trimix.Config().replace(**mine[name])
            if name != "Barlow Twins":  # beta, gamma, ... do not matter once the method is Barlow Twins
                assert got == want, f"{name}: your changes give {got}, expected the changes {changes or 'none'}"
            assert got.method == want.method, f"{name}: method should be {want.method!r}"
        print("table_vi: correct")
    """),
    ("md", """
        Table VII keeps both terms but computes them on the backbone features Y instead of the embeddings Z
        (`vrt_on`, `con_on`); Fig. 4 varies the batch size B and the projector size D.
    """),
    ("code", """
        for name, changes in {**experiments.TABLE_VI_VARIANTS, **experiments.TABLE_VII_VARIANTS}.items():
            print(f"{name:<40} {changes}")
    """),
    ("md", """
        ## 2. The scale of this run

        The paper trains each variant for 200 epochs on CIFAR-10 and reports the linear probe: about 8 GPU
        hours per row, 100 models for Fig. 4. Here quick mode gives each variant **30 steps** of a ResNet-18 of
        width 4 on 2000 shapes; on a GPU the notebook gives each 1000 steps (about 5 epochs) of the full
        network on CIFAR-10, 12 runs in all: check the estimate below, and lower `max_steps` if it is more
        than your session allows. Finished variants are reloaded from `out_dir` when you run the notebook
        again, so an interrupted session loses at most one variant.
    """),
    ("code", """
        if config.quick:
            base = config.replace(width=4, proj_hidden=64, proj_dim=64, max_steps=30, out_dir="runs/notebook08-quick")
        else:
            base = config.replace(max_steps=1000, download=True, out_dir="runs/notebook08")
        limit = 2000 if config.quick else None
        train = experiments.subset(load_dataset(base.dataset, "train", root=base.root, download=base.download), limit)
        test = experiments.subset(load_dataset(base.dataset, "test", root=base.root, download=base.download),
                                  500 if config.quick else None)
        estimate = experiments.estimate_pretrain_time(base, train, steps=2, warmup=1)
        print(train, test, sep="\\n")
        print("each variant:", experiments.describe_estimate(estimate))
    """),
    ("md", """
        ## 3. Table VI: the parts of the objective

        `run_variants` pretrains each variant, then scores its backbone with kNN and a 100-epoch linear
        probe. The first row is the untrained network (the floor); the last column is the paper's linear
        accuracy on CIFAR-10 for comparison of the *ordering* only.
    """),
    ("code", """
        rows_vi = experiments.run_variants(base, experiments.TABLE_VI_VARIANTS, train, test, linear_epochs=100,
                                           reference=experiments.PAPER_TABLE_VI, random_baseline=True)
        print()
        print(experiments.format_table(rows_vi, ["variant", "changes", "steps", "knn", "linear", "paper"]))
    """),
    ("md", """
        What to look at: do the extra terms beat Barlow Twins, and does the full objective beat each term
        alone, as in the paper (86.29 < 87.16, 87.32 < 87.74 < 88.39)? At this scale, **not reliably**: the
        paper's differences are about one point after 200 epochs, and a run of a few dozen steps is far
        noisier than that, as the next section measures. Reproducing the ordering takes the full runs of
        section 6.
    """),
    ("code", """
        experiments.plot_variants(rows_vi, title="Table VI at this run's scale", chance=100 / train.num_classes)
    """),
    ("md", """
        ### How big is the noise?

        Train the full TriMix row again with two other seeds (the seed changes the initial weights, the
        views and every lambda): the spread between seeds is the noise any difference between variants has
        to beat. The paper reports one run per row.
    """),
    ("code", """
        seeds = {f"TriMix, seed {seed}": {"seed": seed} for seed in (0, 1, 2)}  # seed 0 is the run above
        rows_seeds = experiments.run_variants(base, seeds, train, test, linear_epochs=100)
        knns = [row["knn"] for row in rows_seeds]
        print(f"\\nthe same variant, three seeds: kNN from {min(knns):.1f} to {max(knns):.1f} % "
              f"(a spread of {max(knns) - min(knns):.1f} points)")
    """),
    ("md", """
        Compare that spread with the differences between the rows of Table VI: a difference smaller than
        the spread between seeds says nothing about the variants. Serious ablations average several seeds.
    """),
    ("md", """
        ## 4. Table VII: Z or Y?

        The full TriMix row is shared with Table VI (same changes, same folder), so only two new runs start.
    """),
    ("code", """
        rows_vii = experiments.run_variants(base, experiments.TABLE_VII_VARIANTS, train, test, linear_epochs=100,
                                            reference=experiments.PAPER_TABLE_VII)
        print()
        print(experiments.format_table(rows_vii, ["variant", "changes", "knn", "linear", "paper"]))
        experiments.plot_variants(rows_vii, title="Table VII at this run's scale", chance=100 / train.num_classes)
    """),
    ("md", """
        The paper finds Z for both terms best (88.39 %) and the mixed choice worst (85.37 %): the two terms
        then pull on different features. Note that the Y variants here act on features of width 32 (8 x the
        width), the paper's on 512.

        ## 5. Fig. 4: batch size and projector size

        The paper trains every batch size in {32, ..., 512} with every projector size in {128, ..., 2048}:
        25 runs per dataset. This notebook runs a 2 x 2 corner of such a grid (one corner is the base
        configuration, already trained above). Note that we fix the number of **steps**, while the paper
        fixes the number of epochs: a bigger batch here also sees more images.
    """),
    ("code", """
        grid = experiments.batch_dim_grid((32, 64), (16, 64)) if config.quick else experiments.batch_dim_grid((128, 256), (256, 1024))
        rows_fig4 = experiments.run_variants(base, grid, train, test)
        experiments.plot_batch_dim(rows_fig4, title="Fig. 4 at this run's scale (kNN)")
    """),
    ("md", """
        The paper reads two trends in Fig. 4: a bigger projector helps at a fixed batch size (up to about
        1024), and small batches prefer small projectors. Do the lines here rise with D? With a handful of
        steps, do not read much into it.

        ## 6. At the paper's scale

        The same calls reproduce the tables on a GPU: remove `max_steps` (200 epochs each), keep
        `linear_epochs=100`, and give every variant the time. Each row is a separate run that can be resumed,
        so it can be spread over sessions:

        ```python
        base = trimix.paper_config(download=True, out_dir="runs/table6")      # CIFAR-10, 200 epochs
        train, test = load_dataset("cifar10", "train"), load_dataset("cifar10", "test")
        rows = experiments.run_variants(base, experiments.TABLE_VI_VARIANTS, train, test, linear_epochs=100,
                                        reference=experiments.PAPER_TABLE_VI)
        print(experiments.format_table(rows))
        # Table VII: experiments.TABLE_VII_VARIANTS; Fig. 4: experiments.batch_dim_grid()
        ```

        Single variants also run from a terminal, e.g. "virtual embeddings loss only":
        `python -m trimix pretrain --gamma 0 --download --out-dir runs/table6/gamma-0`.

        ## Summary

        - Each ablation is a change of the configuration: `method`, `beta`, `gamma`, `feature_norm` (Table VI),
          `vrt_on`/`con_on` (Table VII), `batch_size` and the projector size (Fig. 4).
        - `experiments.run_variants` pretrains and scores a dict of variants and returns rows for
          `format_table` and `plot_variants`; finished variants are reloaded, not retrained.
        - Tiny runs show the machinery, not the paper's ordering: the spread between seeds of the same
          variant is the yardstick, and differences of a point or two need long runs and several seeds.
    """),
]

NOTEBOOKS = {
    "00_setup.ipynb": NB00,
    "05_pretraining.ipynb": NB05,
    "06_evaluation.ipynb": NB06,
    "07_medical_and_transfer.ipynb": NB07,
    "08_ablations.ipynb": NB08,
}

if __name__ == "__main__":
    names = sys.argv[1:] or list(NOTEBOOKS)
    for name in names:
        nbformat.write(build(name, NOTEBOOKS[name]), HERE / name)
        print("wrote", HERE / name)
