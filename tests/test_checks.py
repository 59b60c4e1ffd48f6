"""trimix.checks: every check passes the notebooks' solutions, fails their student stubs, and names the mistakes
students really make (planted below, written the way a student would write them)."""
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn.functional as F

import trimix
from trimix import checks
from trimix.assignments.conventions import check_name, exercise_map
from trimix.checks import CHECKS, CheckFailed
from trimix.checks.ablations import TABLE_VI_VARIANTS

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
EXERCISES = exercise_map(NOTEBOOKS)  # every exercise of every notebook -> its notebook


def exercise_functions(path: Path) -> dict:
    """Run the exercise cells of a notebook (nothing else) and return the ``my_*`` functions they define."""
    namespace = {"torch": torch, "trimix": trimix}
    for cell in nbformat.read(path, as_version=4).cells:
        if "exercise" in cell.metadata.get("tags", []):
            exec(compile(cell.source, str(path), "exec"), namespace)
    return namespace


def failure(name: str, fn) -> str:
    with pytest.raises(CheckFailed) as info:
        CHECKS[name](fn)
    return str(info.value)


@pytest.fixture(scope="module")
def solutions() -> dict:
    notebooks = sorted({EXERCISES[name] for name in CHECKS})
    return {k: v for nb in notebooks for k, v in exercise_functions(NOTEBOOKS / nb).items()}


@pytest.fixture(scope="module")
def stubs() -> dict:
    out = {}
    for nb in sorted({EXERCISES[name] for name in CHECKS}):
        out.update(exercise_functions(NOTEBOOKS / "student" / nb))
    return out


def test_every_check_in_the_kit_is_the_one_its_exercise_calls():
    """An exercise whose CHECK cell imports from trimix.checks calls check_<name>(my_<name>), which exists; and
    every check in trimix.checks belongs to such an exercise (none left behind when an exercise is renamed)."""
    called = {}
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            name = check_name(cell)
            if name and "trimix.checks" in cell.source:
                assert f"check_{name}(my_{name})" in cell.source, (path.name, cell.source)
                called[name] = path.name
    assert len(called) >= 8
    assert list(CHECKS) == list(called)  # same exercises, and in the order the notebooks ask for them
    assert all(EXERCISES[name] == notebook for name, notebook in called.items())
    assert issubclass(CheckFailed, AssertionError)  # nbgrader and pytest count a failed check as a failure


@pytest.mark.parametrize("name", list(CHECKS))
def test_check_passes_on_the_instructor_solution(name, solutions):
    assert CHECKS[name](solutions["my_" + name]) is None


@pytest.mark.parametrize("name", list(CHECKS))
def test_check_fails_on_the_student_stub(name, stubs):
    message = failure(name, stubs["my_" + name])
    assert f"my_{name} is not implemented yet" in message and "NotImplementedError" in message


# ---- the mistakes students make: (exercise, a wrong answer, words the message must contain) ----------------
def s(z):  # a correct batch standardisation, to build the other wrong answers on
    return (z - z.mean(0)) / z.std(0)


def fs(v):
    return (v - v.mean(1, keepdim=True)) / v.std(1, keepdim=True)


def off(c):
    return c[~torch.eye(len(c), dtype=torch.bool)]


def gt(b, lam):
    return lam * torch.eye(b) + (1 - lam) * torch.eye(b).flip(1)


def pm(z, zv, tau):
    return torch.softmax(s(z) @ fs(s(zv)).T / z.shape[1] / tau, dim=1)


def mix(x, lam):
    return lam * x + (1 - lam) * x.flip(0)


def scl(z, zv, lam):
    return (mix(s(z), lam) - fs(s(zv))).abs().mean()


def in_place(z):
    z -= z.mean(0)
    return z / z.std(0)


def no_return(z):
    (z - z.mean(0)) / z.std(0)


PLANTED = [
    ("batch_standardize", lambda z: (z - z.mean(0)) / z.std(0, unbiased=False), "biased std"),
    ("batch_standardize", lambda z: (z - z.mean(1, keepdim=True)) / z.std(1, keepdim=True), "dim 0, the batch"),
    ("batch_standardize", lambda z: (z - z.mean()) / z.std(), "whole tensor"),
    ("batch_standardize", lambda z: z / z.std(0), "not centred"),
    ("batch_standardize", lambda z: (z - z.mean(0)) / z.var(0), "divides by the variance"),
    ("batch_standardize", in_place, "changed its argument z in place"),
    ("batch_standardize", no_return, "forget the `return`"),
    ("batch_standardize", lambda z: trimix.batch_standardize(z), "the kit's own answer"),
    ("batch_standardize", lambda z: (z - z.mean(1)) / z.std(1), "raised RuntimeError"),
    ("cross_correlation", lambda a, b: s(a) @ s(b).T / len(a), "it is B x B"),
    ("cross_correlation", lambda a, b: s(b).T @ s(a) / len(a), "off by a transpose"),
    ("cross_correlation", lambda a, b: s(a).T @ s(b), "not divided by the batch size"),
    ("cross_correlation", lambda a, b: s(a).T @ s(b) / (len(a) - 1), "divided by B - 1"),
    ("cross_correlation", lambda a, b: a.T @ b / len(a), "not standardised"),
    ("cross_correlation", lambda a, b: trimix.losses.cross_correlation(a, b), "the kit's own answer"),
    ("off_diagonal_sum", lambda c: c.pow(2).sum(), "includes the diagonal"),
    ("off_diagonal_sum", lambda c: off(c).sum(), "not squared"),
    ("off_diagonal_sum", lambda c: off(c).pow(2).mean(), "not a mean"),
    ("off_diagonal_sum", lambda c: (c - torch.diag(torch.diagonal(c))).pow(2).mean(), "not a mean"),
    ("off_diagonal_sum", lambda c: torch.triu(c, diagonal=1).pow(2).sum(), "one triangle"),
    ("off_diagonal_sum", lambda c: off(c).pow(2).sum().item(), "Python number"),
    ("off_diagonal_sum", lambda c: off(c).pow(2).detach().sum(), "cut off from its inputs"),
    ("off_diagonal_sum", lambda c: (c * (1 - torch.eye(len(c)))).pow(2).sum(dim=1), "single number"),
    ("off_diagonal_sum", lambda c: trimix.off_diagonal(c).pow(2).sum(), "the kit's own answer"),
    ("barlow_twins_loss", lambda a, b, alpha=5e-3: (1 - trimix.cross_correlation(a, b).diagonal()).pow(2).mean()
     + alpha * off(trimix.cross_correlation(a, b)).pow(2).mean(), "not means"),
    ("barlow_twins_loss", lambda a, b, alpha=5e-3: alpha * (1 - trimix.cross_correlation(a, b).diagonal()).pow(2).sum()
     + off(trimix.cross_correlation(a, b)).pow(2).sum(), "alpha weighs the off-diagonal"),
    ("barlow_twins_loss", lambda a, b, alpha=5e-3: (1 - trimix.cross_correlation(a, b).diagonal()).pow(2).sum()
     + 5e-3 * off(trimix.cross_correlation(a, b)).pow(2).sum(), "ignores its alpha argument"),
    ("barlow_twins_loss", lambda a, b, alpha=5e-3: (1 - trimix.cross_correlation(a, b).diagonal()).pow(2).sum()
     + alpha * trimix.cross_correlation(a, b).pow(2).sum(), "includes the diagonal"),
    ("barlow_twins_loss", lambda a, b, alpha=5e-3: (1 - trimix.cross_correlation(a, b).diagonal()).sum()
     + alpha * off(trimix.cross_correlation(a, b)).pow(2).sum(), "not squared"),
    ("mix_batch", lambda x, lam: (1 - lam) * x + lam * x.flip(0), "swapped"),
    ("mix_batch", lambda x, lam: lam * x + (1 - lam) * x.flip(-1), "wrong dimension"),
    ("mix_batch", lambda x, lam: lam * x + (1 - lam) * x.flip(1), "wrong dimension"),
    ("mix_batch", lambda x, lam: lam * x + (1 - lam) * torch.roll(x, 1, dims=0), "torch.roll"),
    ("mix_batch", lambda x, lam: lam * x + (1 - lam) * x, "not with itself"),
    ("mix_batch", lambda x, lam: trimix.mix_batch(x, lam), "the kit's own answer"),
    ("estimate_lambda", lambda x, xv: 1 - float(((xv - x.flip(0)).flatten() @ (x - x.flip(0)).flatten())
                                               / (x - x.flip(0)).flatten().pow(2).sum()), "1 - lam"),
    ("estimate_lambda", lambda x, xv: float(xv.flatten() @ x.flatten() / (x.flatten() @ x.flatten())),
     "ignores the reversed batch"),
    ("estimate_lambda", lambda x, xv: ((xv - x.flip(0)) / (x - x.flip(0))).mean().item(), "middle sample"),
    ("estimate_lambda", lambda x, xv: ((xv - x.flip(0)) * (x - x.flip(0))).flatten(1).sum(1)
     / (x - x.flip(0)).flatten(1).pow(2).sum(1), "single number"),
    ("ground_truth_matrix", lambda b, lam: (1 - lam) * torch.eye(b) + lam * torch.rot90(torch.eye(b)), "swapped"),
    ("ground_truth_matrix", lambda b, lam: lam * torch.eye(b), "anti-diagonal is missing"),
    ("ground_truth_matrix", lambda b, lam: torch.tensor(gt(b, lam).tolist(), dtype=torch.float64), "float64"),
    ("ground_truth_matrix", lambda b, lam: gt(b, lam)[:, :1], "expected (4, 4): B x B"),
    ("predicted_matrix", lambda z, zv, tau=2.0: torch.softmax(s(z) @ fs(s(zv)).T / z.shape[1] / tau, dim=0),
     "dim 1"),
    ("predicted_matrix", lambda z, zv, tau=2.0: torch.softmax(fs(s(zv)) @ s(z).T / z.shape[1] / tau, dim=1),
     "off by a transpose"),
    ("predicted_matrix", lambda z, zv, tau=2.0: torch.softmax(s(z) @ s(zv).T / z.shape[1] / tau, dim=1),
     "feature_standardize"),
    ("predicted_matrix", lambda z, zv, tau=2.0: torch.softmax(s(z) @ fs(s(zv)).T / tau, dim=1), "not divided by D"),
    ("predicted_matrix", lambda z, zv, tau=2.0: torch.softmax(s(z) @ fs(s(zv)).T / z.shape[1], dim=1),
     "not divided by tau"),
    ("predicted_matrix", lambda z, zv, tau=2.0: s(z) @ fs(s(zv)).T / z.shape[1] / tau, "no softmax"),
    ("predicted_matrix", lambda z, zv, tau=2.0: torch.softmax(F.normalize(z, dim=1) @ F.normalize(zv, dim=1).T / tau,
                                                              dim=1), "cosine"),
    ("predicted_matrix", lambda z, zv, tau=2.0: torch.softmax(z @ zv.T / tau, dim=0), "columns sum to 1"),
    ("virtual_embedding_loss", lambda z, zv, lam, tau=2.0: (pm(z, zv, tau) - gt(len(z), lam)).abs().sum(),
     "takes the mean"),
    ("virtual_embedding_loss", lambda z, zv, lam, tau=2.0: ((pm(z, zv, tau) - gt(len(z), lam)) ** 2).mean(),
     "squares the differences"),
    ("virtual_embedding_loss", lambda z, zv, lam, tau=2.0: (pm(z, zv, tau) - gt(len(z), lam)).mean(),
     "absolute value is missing"),
    ("virtual_embedding_loss", lambda z, zv, lam, tau=2.0: (pm(z, zv, tau) - gt(len(z), 1 - lam)).abs().mean(),
     "swapped in GT"),
    ("virtual_embedding_loss", lambda z, zv, lam, tau=2.0: (pm(z, zv, 2.0) - gt(len(z), lam)).abs().mean(),
     "ignores tau"),
    ("virtual_embedding_loss", lambda z, zv, lam, tau=2.0: (pm(zv, z, tau) - gt(len(z), lam)).abs().mean(),
     "z and z_vrt are swapped"),
    ("virtual_embedding_loss", lambda z, zv, lam, tau=2.0: (pm(z, zv, tau) - gt(len(z), lam)).abs().mean(1),
     "single number"),
    ("mixed_embeddings", lambda z, lam: mix(z, lam), "not standardised"),
    ("mixed_embeddings", lambda z, lam: s(mix(z, lam)), "after mixing"),
    ("mixed_embeddings", lambda z, lam: mix(s(z), 1 - lam), "swapped"),
    ("mixed_embeddings", lambda z, lam: lam * s(z) + (1 - lam) * s(z).flip(1), "wrong dimension"),
    ("self_consistency_loss", lambda z, zv, lam: (mix(s(z), lam) - s(zv)).abs().mean(), "feature_standardize"),
    ("self_consistency_loss", lambda z, zv, lam: (mix(s(z), lam) - fs(s(zv))).abs().sum(), "takes the mean"),
    ("self_consistency_loss", lambda z, zv, lam: (mix(s(z), lam) - fs(s(zv))).pow(2).mean(), "squares"),
    ("self_consistency_loss", lambda z, zv, lam: (mix(s(z), lam) - fs(s(zv))).mean(), "absolute value"),
    ("self_consistency_loss", lambda z, zv, lam: (mix(s(zv), lam) - fs(s(z))).abs().mean(),
     "z and z_vrt are swapped"),
    ("self_consistency_loss", lambda z, zv, lam: (mix(z, lam) - fs(s(zv))).abs().mean(), "before mixing"),
    ("self_consistency_loss", lambda z, zv, lam: torch.tensor((mix(s(z), lam) - fs(s(zv))).abs().mean().item()),
     "cut off from its inputs"),
]


def bt(z1, z2, alpha):
    return trimix.barlow_twins_loss(z1, z2, alpha)


def vrt(z, zv, lam, tau):
    return trimix.virtual_embedding_loss(z, zv, lam, tau)


def total_loss(parts_fn, total_fn):
    def my_trimix_loss(z1, z2, z_vrt, lam, alpha=5e-3, beta=1000.0, gamma=200.0, tau=2.0):
        parts = parts_fn(z1, z2, z_vrt, lam, alpha, beta, gamma, tau)
        return total_fn(parts, beta, gamma), parts
    return my_trimix_loss


def right_parts(z1, z2, zv, lam, alpha, beta, gamma, tau):
    return {"bt": bt(z1, z2, alpha), "vrt": vrt(z1, zv, lam, tau), "con": scl(z1, zv, lam)}


def eq11(p, beta, gamma):
    return p["bt"] + beta * p["vrt"] + gamma * p["con"]


PLANTED += [
    ("trimix_loss", total_loss(right_parts, lambda p, beta, gamma: p["bt"] + gamma * p["vrt"] + beta * p["con"]),
     "beta and gamma are swapped"),
    ("trimix_loss", total_loss(right_parts, lambda p, beta, gamma: p["bt"] + p["vrt"] + p["con"]), "not weighted"),
    ("trimix_loss", total_loss(right_parts, lambda p, beta, gamma: p["bt"] + 1000 * p["vrt"] + 200 * p["con"]),
     "ignores the beta and gamma"),
    ("trimix_loss", total_loss(lambda z1, z2, zv, lam, alpha, beta, gamma, tau: {
        "bt": bt(z1, z2, alpha), "vrt": beta * vrt(z1, zv, lam, tau), "con": gamma * scl(z1, zv, lam)},
        lambda p, beta, gamma: p["bt"] + p["vrt"] + p["con"]), "is weighted"),
    ("trimix_loss", total_loss(lambda z1, z2, zv, lam, alpha, beta, gamma, tau: {
        "bt": bt(z1, z2, alpha), "vrt": vrt(z2, zv, lam, tau), "con": scl(z2, zv, lam)}, eq11), "computed from z2"),
    ("trimix_loss", total_loss(lambda z1, z2, zv, lam, alpha, beta, gamma, tau: {
        "bt": bt(z1, z2, alpha), "vrt": vrt(z1, zv, lam, 2.0), "con": scl(z1, zv, lam)}, eq11),
     "ignores its argument tau"),
    ("trimix_loss", lambda z1, z2, zv, lam, alpha=5e-3, beta=1000.0, gamma=200.0, tau=2.0:
        eq11(right_parts(z1, z2, zv, lam, alpha, beta, gamma, tau), beta, gamma), "return a pair (total, parts)"),
    ("trimix_loss", total_loss(lambda *a: dict(zip(["L_bt", "L_vrt", "L_con"], right_parts(*a).values())),
                               lambda p, beta, gamma: sum(p.values())), "keys 'bt', 'vrt' and 'con'"),
    ("trimix_loss", lambda *a: trimix.trimix_loss(*a), "the kit's own answer"),
]


def as_floats(parts_fn):
    return lambda *a: {k: v.item() for k, v in parts_fn(*a).items()}


def per_sample(x, xv):
    d, r = (x - x.flip(0)).flatten(1), (xv - x.flip(0)).flatten(1)
    return (r * d).sum(1) / d.pow(2).sum(1)


def lsq(x, xv):
    d = (x - x.flip(0)).flatten()
    return (xv - x.flip(0)).flatten() @ d / (d @ d)


def bt_c(a, b):
    return trimix.cross_correlation(a, b)


# mistakes that passed, were misdiagnosed or got a generic message before (issue 15), one per class
PLANTED += [
    ("estimate_lambda", lambda x, xv: lsq(x, xv), "not a Python float"),  # a 0-d tensor passed
    ("estimate_lambda", lambda x, xv: float(per_sample(x, xv).nanmean()), "one estimate per sample"),  # passed
    ("estimate_lambda", lambda x, xv: float(per_sample(x, xv).nanmedian()), "one estimate per sample"),
    ("estimate_lambda", lambda x, xv: float(per_sample(x, xv)[0]), "first sample only"),
    ("trimix_loss", total_loss(as_floats(right_parts), eq11), "is a float, not a torch.Tensor"),  # "ignores alpha"
    ("trimix_loss", total_loss(right_parts, lambda p, beta, gamma: eq11(p, beta, gamma).item()),
     "the total is a float"),
    ("trimix_loss", total_loss(lambda z1, z2, zv, lam, alpha, beta, gamma, tau: {
        "bt": bt(z1, z2, 5e-3), "vrt": vrt(z1, zv, lam, tau), "con": scl(z1, zv, lam)}, eq11),
     "ignores its argument alpha"),
    ("trimix_loss", total_loss(lambda z1, z2, zv, lam, alpha, beta, gamma, tau: {
        "bt": bt(z1, z1, alpha), "vrt": vrt(z1, zv, lam, tau), "con": scl(z1, zv, lam)}, eq11), "with itself"),
    ("trimix_loss", total_loss(lambda z1, z2, zv, lam, alpha, beta, gamma, tau: {
        "bt": bt(z1, z2, alpha), "vrt": vrt(z1, zv, 1 - lam, tau), "con": scl(z1, zv, lam)}, eq11),
     "parts['vrt'] swaps lam"),
    ("trimix_loss", total_loss(right_parts, lambda p, beta, gamma: p["bt"] + beta * p["vrt"]), "leaves out gamma"),
    ("trimix_loss", total_loss(right_parts, lambda p, beta, gamma: eq11(p, beta, gamma) / 3), "averaged"),
    ("batch_standardize", lambda z: F.normalize(z, dim=0), "its norm"),
    ("batch_standardize", lambda z: (z - z.mean(0)) / z.std(0).mean(), "one std for the whole tensor"),
    ("cross_correlation", lambda a, b: s(a).T @ s(b) / a.shape[1], "divides by D"),
    ("cross_correlation", lambda a, b: s(a).T @ s(a) / len(a), "uses z1 twice"),
    ("cross_correlation", lambda a, b: F.normalize(a, dim=0).T @ F.normalize(b, dim=0), "cosine of the columns"),
    ("off_diagonal_sum", lambda c: c.pow(2).sum() - c.diagonal().sum(), "without squaring it"),
    ("off_diagonal_sum", lambda c: off(c).sum() ** 2, "squares the sum"),
    ("off_diagonal_sum", lambda c: (c - torch.eye(len(c))).pow(2).sum(), "subtracts the identity"),
    ("barlow_twins_loss", lambda a, b, alpha=5e-3: (1 - bt_c(a, b).diagonal().pow(2)).sum()
     + alpha * off(bt_c(a, b)).pow(2).sum(), "squares C_ii inside"),
    ("barlow_twins_loss", lambda a, b, alpha=5e-3: (1 - bt_c(a, b).diagonal()).pow(2).sum()
     + alpha * off(bt_c(a, b)).sum(), "off-diagonal entries are not squared"),
    ("mix_batch", lambda x, lam: lam * x + lam * x.flip(0), "both parts get the weight lam"),
    ("mix_batch", lambda x, lam: (x + x.flip(0)) / 2, "ignores lam"),
    ("mix_batch", lambda x, lam: lam * x + (1 - lam) * torch.cat([x[1:], x[:1]]), "torch.roll"),
    ("ground_truth_matrix", lambda b, lam: lam * torch.eye(b) + (1 - lam) * torch.eye(b).T, "identity again"),
    ("ground_truth_matrix", lambda b, lam: lam * torch.eye(b) + (1 - lam) * torch.eye(b).roll(1, 0),
     "next to the diagonal"),
    ("predicted_matrix", lambda z, zv, tau=2.0: pm(z, zv, tau).T, "transpose of M"),
    ("predicted_matrix", lambda z, zv, tau=2.0: torch.softmax(s(z) @ fs(s(zv)).T / len(z) / tau, dim=1),
     "divided by B"),
    ("predicted_matrix", lambda z, zv, tau=2.0: torch.softmax(fs(s(z)) @ fs(s(zv)).T / z.shape[1] / tau, dim=1),
     "z is also standardised along the features"),
    ("predicted_matrix", lambda z, zv, tau=2.0: torch.log_softmax(s(z) @ fs(s(zv)).T / z.shape[1] / tau, dim=1),
     "log-softmax"),
    ("virtual_embedding_loss", lambda z, zv, lam, tau=2.0: (pm(z, zv, tau) - gt(len(z), lam)).abs().sum(1).mean(),
     "sums each row"),
    ("virtual_embedding_loss", lambda z, zv, lam, tau=2.0: (pm(z, zv, tau) - torch.eye(len(z))).abs().mean(),
     "target is the identity"),
    ("mixed_embeddings", lambda z, lam: mix(fs(z), lam), "instead of the batch"),
    ("mixed_embeddings", lambda z, lam: mix((z - z.mean(0)) / z.std(0, unbiased=False), lam), "biased std"),
    ("self_consistency_loss", lambda z, zv, lam: (mix(s(z), lam) - fs(s(zv))).abs().sum(1).mean(),
     "sums over the features"),
    ("self_consistency_loss", lambda z, zv, lam: (mix(s(z), lam) - s(fs(zv))).abs().mean(), "wrong order"),
]


# ---- notebooks 05-08: a run's time and loss parts, the kNN vote, MedMNIST's layout, Table VI ----------------
def mean(xs):
    return sum(xs) / len(xs)


def last_parts(h, beta, gamma, at=-1):
    return {"bt": h["bt"][at], "vrt": beta * h["vrt"][at], "con": gamma * h["con"][at]}


def knn(tr, y, te, c, k=200, temperature=0.1, norm=True, weight=None, pick="argmax", clip=True):
    if norm:
        tr, te = F.normalize(tr, dim=1), F.normalize(te, dim=1)
    sim, idx = (te @ tr.T).topk(min(k, len(tr)) if clip else k, dim=1)
    votes = torch.zeros(len(te), c).scatter_add_(1, y[idx], weight(sim) if weight else (sim / temperature).exp())
    return getattr(votes, pick)(1)


VI = {"Barlow Twins": {"method": "barlow_twins"}, "TriMix: virtual embeddings loss only": {"gamma": 0.0},
      "TriMix: self-consistency loss only": {"beta": 0.0}, "TriMix: both losses, no feature norms":
      {"feature_norm": False}, "TriMix: both losses + feature norms": {}}

PLANTED += [
    ("projected_seconds", lambda t, w, n: mean(t) * n, "counts the warm-up steps"),
    ("projected_seconds", lambda t, w, n: sum(t[w:]) / len(t) * n, "number of timed steps"),
    ("projected_seconds", lambda t, w, n: mean(t[w:]), "multiply by total_steps"),
    ("projected_seconds", lambda t, w, n: mean(t[w:]) * n / 60, "in seconds"),
    ("projected_seconds", lambda t, w, n: sorted(t[w:])[len(t[w:]) // 2] * n, "median"),
    ("projected_seconds", lambda t, w, n: None, "forget the `return`"),
    ("weighted_parts", lambda h, beta, gamma: {k: h[k][-1] for k in ("bt", "vrt", "con")}, "not weighted"),
    ("weighted_parts", lambda h, beta, gamma: {"bt": h["total"][-1], "vrt": 0, "con": 0}, "holds the logged total"),
    ("weighted_parts", lambda h, beta, gamma: last_parts(h, gamma, beta), "swapped"),
    ("weighted_parts", lambda h, beta, gamma: last_parts(h, beta, gamma, at=0), "first logged point"),
    ("weighted_parts", lambda h, beta, gamma: {k: mean(h[k]) * w for k, w in zip(("bt", "vrt", "con"),
                                                                           (1, beta, gamma))}, "averages"),
    ("weighted_parts", lambda h, beta, gamma: {"bt": h["bt"], "vrt": beta, "con": gamma}, "history['bt'][-1]"),
    ("weighted_parts", lambda h, beta, gamma: [h["bt"][-1], beta * h["vrt"][-1], gamma * h["con"][-1]],
     "keys 'bt', 'vrt' and 'con'"),
    ("knn_predict", lambda tr, y, te, c, k=200, temperature=0.1: knn(tr, y, te, c, k, temperature, norm=False),
     "not normalised"),
    ("knn_predict", lambda tr, y, te, c, k=200, temperature=0.1: knn(tr, y, te, c, k, weight=torch.ones_like),
     "one vote"),
    ("knn_predict", lambda tr, y, te, c, k=200, temperature=0.1: knn(tr, y, te, c, k, weight=lambda s: (s * temperature).exp()),
     "multiplied by the temperature"),
    ("knn_predict", lambda tr, y, te, c, k=200, temperature=0.1: knn(tr, y, te, c, k, temperature, pick="argmin"),
     "fewest votes"),
    ("knn_predict", lambda tr, y, te, c, k=200, temperature=0.1: knn(tr, y, te, c, k, temperature).float(),
     "floating-point"),
    ("knn_predict", lambda tr, y, te, c, k=200, temperature=0.1: knn(tr, y, te, c, k, temperature, clip=False),
     "min(k, len(train_features))"),
    ("knn_predict", lambda tr, y, te, c, k=200, temperature=0.1: trimix.evaluate.knn_predict(tr, y, te, c, k, temperature),
     "the kit's own answer"),
    ("channels_first_rgb", lambda x: x[:, None].expand(-1, 3, -1, -1).float() if x.dim() == 3 else x.permute(0, 3, 1, 2),
     "keep the pixels uint8"),
    ("channels_first_rgb", lambda x: x[:, None] if x.dim() == 3 else x.permute(0, 3, 1, 2), "one channel"),
    ("channels_first_rgb", lambda x: x[..., None].expand(-1, -1, -1, 3) if x.dim() == 3 else x, "channels last"),
    ("channels_first_rgb", lambda x: x[:, None].repeat(1, 3, 1, 1) if x.dim() == 3 else x.reshape(len(x), 3, 5, -1),
     "reshaped, not permuted"),
    ("channels_first_rgb", lambda x: x[:, None].repeat(1, 3, 1, 1) if x.dim() == 3 else x.permute(0, 3, 2, 1),
     "height and width are swapped"),
    ("table_vi", lambda: {**VI, "TriMix: virtual embeddings loss only": {"beta": 0.0},
                          "TriMix: self-consistency loss only": {"gamma": 0.0}}, "beta and gamma are mixed up"),
    ("table_vi", lambda: {**VI, "Barlow Twins": {"beta": 0.0, "gamma": 0.0}}, "third forward pass"),
    ("table_vi", lambda: {**VI, "TriMix: both losses, no feature norms": {"feature_norms": False}},
     "a field Config does not have"),
    ("table_vi", lambda: {**VI, "TriMix: both losses, no feature norms": {}}, "feature_norm=True (should be False)"),
    ("table_vi", lambda: {k: v for k, v in VI.items() if k != "Barlow Twins"}, "missing ['Barlow Twins']"),
    ("table_vi", lambda: {**VI, "TriMix: both losses + feature norms": {"tau": 0.1}}, "tau=0.1 (should be 2.0)"),
    ("table_vi", lambda: dict(TABLE_VI_VARIANTS), "the kit's own"),
]


@pytest.mark.parametrize("name, wrong, words", PLANTED, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(PLANTED)])
def test_check_names_the_planted_mistake(name, wrong, words):
    message = failure(name, wrong)
    assert words in message, message
    assert message.startswith(f"my_{name}")


def test_every_exercise_has_at_least_two_planted_mistakes_besides_the_generic_ones():
    counts = {name: sum(n == name for n, _, _ in PLANTED) for name in CHECKS}
    assert min(counts.values()) >= 2, counts


def test_messages_name_the_input_and_never_just_assertion_failed():
    message = failure("cross_correlation", lambda a, b: s(a).T @ s(b))
    assert "z1, z2 of shape (8, 5)" in message
    message = failure("predicted_matrix", lambda z, zv, tau: torch.zeros(len(z), len(z)) + 1.0 / len(z))
    assert "values differ" in message and "softmax" in message  # the generic message still says what to compute


def test_either_rotation_of_the_identity_is_the_anti_diagonal():
    """rot90(I) turns either way into the same anti-diagonal, so a clockwise rotation is no mistake in eq 8."""
    assert checks.check_ground_truth_matrix(
        lambda b, lam: lam * torch.eye(b) + (1 - lam) * torch.rot90(torch.eye(b), -1, dims=(0, 1))) is None


def test_a_check_leaves_the_profiler_as_it_was():
    import sys
    before = sys.getprofile()
    with pytest.raises(CheckFailed):
        checks.check_mix_batch(lambda x, lam: trimix.mix_batch(x, lam))
    assert sys.getprofile() is before


def test_passing_something_else_than_a_function_is_explained():
    with pytest.raises(CheckFailed, match="pass the function itself"):
        checks.check_mix_batch(torch.zeros(3))


def _profile_off_then_kit(x, lam):
    import sys
    sys.setprofile(None)  # turned off the profiler an older check relied on
    return trimix.mix_batch(x, lam)


def _kit_in_a_thread(x, lam):
    import threading
    out = []
    thread = threading.Thread(target=lambda: out.append(trimix.mix_batch(x, lam)))
    thread.start()
    thread.join()
    return out[0] if out else lam * x + (1 - lam) * x.flip(0)


def _kit_then_swallow(x, lam):
    try:
        return trimix.mixing.mix_batch(x, lam)
    except BaseException:
        return lam * x + (1 - lam) * x.flip(0)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the tripwire, in a thread
@pytest.mark.parametrize("wrong", [_profile_off_then_kit, _kit_in_a_thread, _kit_then_swallow])
def test_calling_the_kit_is_seen_by_any_route(wrong):
    """The kit's answer is swapped for a tripwire while the student's function runs: no profiler to turn off,
    and a call from another thread or inside a try block is seen too."""
    assert "the kit's own answer" in failure("mix_batch", wrong)
    x = torch.randn(4, 3)
    assert torch.equal(trimix.mix_batch(x, 0.3), 0.3 * x + 0.7 * x.flip(0))  # the kit works again afterwards
