"""Figures (trimix.viz) and the lambda / tau widgets (trimix.widgets): pure functions and their wiring."""
import sys
import types

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from trimix import SSLNet, ground_truth_matrix, mix_batch, predicted_matrix, virtual_embedding_loss  # noqa: E402
import trimix  # noqa: E402
from trimix import viz, widgets  # noqa: E402


def images_uint8(b=6, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (b, 3, size, size), dtype=torch.uint8, generator=g)


def n_images(fig: Figure) -> int:
    return sum(len(ax.get_images()) for ax in fig.axes)


def test_show_images_uint8_and_normalised_float():
    x = images_uint8(5)
    fig = viz.show_images(x, titles=list("abcde"))
    assert isinstance(fig, Figure) and len(fig.axes) == 5 and n_images(fig) == 5
    assert [ax.get_title() for ax in fig.axes] == list("abcde")
    fig = viz.show_images(torch.randn(7, 3, 8, 8), ncols=4)  # normalised floats, 2 rows, one empty slot removed
    assert len(fig.axes) == 7
    shown = fig.axes[0].get_images()[0].get_array()
    assert shown.min() >= 0 and shown.max() <= 1


def test_to_displayable_uint8_range_and_layout():
    x = images_uint8(2)
    out = viz.to_displayable(x)
    assert out.shape == (2, 16, 16, 3)
    np.testing.assert_allclose(out[1, 3, 4], x[1, :, 3, 4].numpy() / 255.0, rtol=1e-6)
    assert viz.to_displayable(torch.zeros(2, 1, 4, 4)).shape == (2, 4, 4, 3)  # grayscale shown as RGB
    with pytest.raises(ValueError):
        viz.to_displayable(torch.zeros(2, 5, 4, 4))


def test_matrices_and_cross_correlation():
    fig = viz.plot_matrix(torch.eye(4), "I")
    assert len(fig.axes) == 2 and fig.axes[0].get_title() == "I"  # heatmap + colour bar
    assert len(fig.axes[0].texts) == 16  # small matrices are annotated
    fig = viz.plot_matrices([torch.eye(3), np.ones((3, 3))], ["a", "b"])
    assert len(fig.axes) == 4
    fig = viz.plot_cross_correlation(torch.eye(20))
    assert len(fig.axes) == 2 and "mean C_ii = 1.00" in fig.axes[0].get_title()
    fig = viz.plot_cross_correlation([torch.eye(5), torch.zeros(5, 5)], ["before", "after"])
    assert len(fig.axes) == 4 and fig.axes[0].get_title().startswith("before")
    fig = viz.plot_correlation_entries([torch.eye(5), 0.5 * torch.ones(5, 5)], ["a", "b"])
    assert len(fig.axes) == 2 and len(fig.axes[0].patches) == 2 * 40  # two histograms of 40 bins
    with pytest.raises(ValueError):
        viz.plot_matrix(torch.zeros(3))


def test_ground_truth_vs_predicted_titles_the_loss_it_is_given():
    b, lam = 8, 0.3
    z, z_vrt = torch.randn(b, 10), torch.randn(b, 10)
    gt, m = ground_truth_matrix(b, lam), predicted_matrix(z, z_vrt)
    fig = viz.plot_ground_truth_vs_predicted(gt, torch.randn(b, b), m)
    assert len(fig.axes) == 6 and fig._suptitle is None  # three heatmaps, three colour bars; no loss, no title
    fig = viz.plot_ground_truth_vs_predicted(gt, torch.randn(b, b), m, "random", l_vrt=0.16789, uniform_l_vrt=0.1875)
    assert fig._suptitle.get_text() == "random: L_vrt = mean |M - GT| = 0.1679  (a uniform M gives 0.1875)"
    assert fig.axes[2].get_title().endswith(f"max {float(m.max()):.3f}, 1/B = 0.125")  # panel (C)


def test_mixing_grid_has_batch_row_and_virtual_column():
    x = torch.randn(5, 3, 8, 8)
    fig = viz.plot_mixing_grid(x, mix_batch(x, 0.6), 0.6, highlight=1)
    assert n_images(fig) == 10  # 5 on top, 5 down the left, plus the GT heatmap (a mesh, not an image)
    colours = [matplotlib.colors.to_hex(ax.spines["top"].get_edgecolor()) for ax in fig.axes if ax.get_images()]
    assert colours.count("#ff0000") == 1 and colours.count("#32cd32") == 2  # red virtual image, green parents


def test_history_one_panel_per_part():
    hist = {"step": [5, 10, 15], "total": [3.0, 2.0, 1.0], "bt": [1.0, 0.9, 0.8], "vrt": [0.2] * 3,
            "con": [0.5, 0.4, 0.3], "lam": [0.1, 0.5, 0.9]}
    fig = viz.plot_history(hist)
    assert len(fig.axes) == 4
    rows = [{"step": s, "bt": v} for s, v in zip(hist["step"], hist["bt"])]
    assert len(viz.plot_history(rows).axes) == 1
    assert "1000" in viz.plot_history(hist, keys=["vrt"], weights={"vrt": 1000}).axes[0].get_title()


def test_loss_parts_and_embedding_scatter():
    fig = viz.plot_loss_parts({"bt": 40.0, "vrt": 0.2, "con": 0.8})
    assert len(fig.axes) == 2
    pts, labels = np.random.default_rng(0).normal(size=(30, 2)), np.arange(30) % 3
    fig = viz.plot_embedding_2d(pts, labels, ["a", "b", "c"], "demo")
    assert len(fig.axes) == 1 and len(fig.axes[0].collections) == 3


def test_umap_2d_calls_umap_with_the_seed(monkeypatch):
    # A stand-in for umap-learn: the real one spends ~15 s compiling with numba (notebook 06 runs it).
    calls = {}

    class FakeUMAP:
        def __init__(self, **kwargs):
            calls.update(kwargs)

        def fit_transform(self, a):
            calls["shape"] = a.shape
            return a[:, :2]

    monkeypatch.setitem(sys.modules, "umap", types.SimpleNamespace(UMAP=FakeUMAP))
    out = viz.umap_2d(torch.randn(12, 8), seed=3, n_neighbors=50)
    assert out.shape == (12, 2) and calls["shape"] == (12, 8)
    assert calls["random_state"] == 3 and calls["n_components"] == 2 and calls["n_neighbors"] == 11


def test_no_figures_left_in_pyplot():
    before = len(plt.get_fignums())
    viz.show_images(images_uint8(3))
    widgets.lambda_view(images_uint8(4), 0.4)
    assert len(plt.get_fignums()) == before


# ---- widgets: the pure functions ----

def test_lambda_view_returns_gt_for_that_lambda():
    fig, gt = widgets.lambda_view(images_uint8(6), 0.25)
    assert isinstance(fig, Figure)
    torch.testing.assert_close(gt, ground_truth_matrix(6, 0.25))
    with pytest.raises(ValueError):
        widgets.lambda_view(images_uint8(6), 1.5)


def test_tau_view_and_values_match_the_loss():
    z, z_vrt, lam = torch.randn(8, 16), torch.randn(8, 16), 0.7
    fig, l_vrt = widgets.tau_view(z, z_vrt, lam, 0.5)
    assert isinstance(fig, Figure) and len(fig.axes) == 6
    assert l_vrt == pytest.approx(float(virtual_embedding_loss(z, z_vrt, lam, tau=0.5)), abs=1e-6)
    v = widgets.tau_values(z, z_vrt, lam, 2.0)
    torch.testing.assert_close(v["predicted"].sum(1), torch.ones(8))
    with pytest.raises(ValueError):
        widgets.tau_values(z, z_vrt, lam, 0.0)


def test_uniform_l_vrt_is_about_two_over_b():
    assert widgets.uniform_l_vrt(16, 0.3) == pytest.approx(2 / 16 - 4 / 16**2)
    assert widgets.uniform_l_vrt(256, 0.5) == pytest.approx(2 / 256, rel=0.02)
    b, lam = 7, 0.6  # odd B: the middle row of GT is a single 1
    gt = ground_truth_matrix(b, lam)
    assert widgets.uniform_l_vrt(b, lam) == pytest.approx(float((gt - 1 / b).abs().mean()))


def structured_pair(b=8, d=16, lam=0.7):
    """z and a z_vrt that really is close to mix_batch(z, lam), so that a small tau gives a sharp M."""
    g = torch.Generator().manual_seed(0)
    z = torch.randn(b, d, generator=g)
    return z, mix_batch(z, lam) + 0.3 * torch.randn(b, d, generator=g)


def test_tau_report_speaks_of_the_tau_it_shows():
    z, z_vrt = structured_pair()
    flat = widgets.tau_report(widgets.tau_values(z, z_vrt, 0.7, 2.0))
    assert "Why is M so flat at tau = 2?" in flat and "Move tau down" in flat
    for tau in (0.5, 0.1):
        sharp = widgets.tau_report(widgets.tau_values(z, z_vrt, 0.7, tau))
        assert "flat at" not in sharp and f"At tau = {tau:g} M is no longer flat" in sharp, sharp
    values = widgets.tau_values(z, z_vrt, 0.7, 0.1)
    assert f"its largest entry is {values['max_entry'] * 8:.1f} times 1/B" in widgets.tau_report(values)


def test_tau_report_numbers_are_true_for_a_small_batch():
    """B = 8: a uniform M gives 0.1875, which is 2/B - 4/B^2, not 'about 2/B' (0.25)."""
    z, z_vrt = structured_pair(b=8)
    values = widgets.tau_values(z, z_vrt, 0.7, 2.0)
    report = widgets.tau_report(values)
    assert "a uniform M gives 0.1875; 2/B = 0.2500 for B = 8" in report and "about 2/B" not in report
    assert f"L_vrt = {float(virtual_embedding_loss(z, z_vrt, 0.7, 2.0)):.4f}" in report
    panel_c = widgets.tau_view(z, z_vrt, 0.7, 2.0)[0].axes[2].get_title()
    assert "1/B = 0.125" in panel_c and "(1/B = 0.125)" in report  # the figure and the text agree


def test_embed_pair_leaves_running_stats_alone():
    net = SSLNet(16, width=4, proj_hidden=16, proj_dim=8)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    z, z_vrt = widgets.embed_pair(net, images_uint8(6), 0.4)
    assert z.shape == z_vrt.shape == (6, 8)
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v, before[k])


# ---- widgets: the ipywidgets wiring ----

def test_lambda_widget_slider_redraws_gt():
    w = widgets.lambda_widget(images_uint8(6), lam=0.5)
    torch.testing.assert_close(w.result, ground_truth_matrix(6, 0.5))
    slider = w.children[0]
    assert (slider.min, slider.max, slider.step) == (0.0, 1.0, 0.01)
    slider.value = 0.2
    torch.testing.assert_close(w.result, ground_truth_matrix(6, 0.2))
    assert w.result[0, 0] == pytest.approx(0.2) and w.result[0, -1] == pytest.approx(0.8)
    assert len(plt.get_fignums()) == 0


def test_tau_widget_sharpens_m_as_tau_falls():
    torch.manual_seed(0)
    net = SSLNet(16, width=4, proj_hidden=16, proj_dim=16)  # a random encoder
    w = widgets.tau_widget(net, images_uint8(8), lam=0.7, tau=2.0)
    slider = w.children[0]
    assert slider.min <= -2 and slider.max >= 1  # log10 range 0.01..10
    first = w.result
    assert first["l_vrt"] == pytest.approx(first["uniform_l_vrt"], abs=0.03)  # tau = 2: M nearly uniform
    peaks = [first["max_entry"]]
    for tau in (0.5, 0.1, 0.02):
        slider.value = tau
        assert w.result["tau"] == pytest.approx(tau, rel=1e-6)
        peaks.append(w.result["max_entry"])
    assert all(a < b for a, b in zip(peaks, peaks[1:])), peaks
    assert w.result["l_vrt"] != pytest.approx(first["l_vrt"])


def test_tau_widget_takes_precomputed_embeddings():
    z, z_vrt = torch.randn(6, 12), torch.randn(6, 12)
    w = widgets.tau_widget((z, z_vrt), lam=0.4, tau=1.0)
    assert w.result["l_vrt"] == pytest.approx(float(virtual_embedding_loss(z, z_vrt, 0.4, tau=1.0)), abs=1e-6)
    assert widgets.tau_widget((z, z_vrt)).result["tau"] == trimix.Config().tau  # starts at the paper's tau


def test_tau_widget_prints_the_report_of_each_tau(capsys):
    z, z_vrt = structured_pair()
    w = widgets.tau_widget((z, z_vrt), lam=0.7, tau=2.0)
    assert "flat at tau = 2?" in capsys.readouterr().out
    w.children[0].value = 0.1
    assert capsys.readouterr().out.strip().endswith(widgets.tau_report(w.result).strip())
    with pytest.raises(ValueError):
        widgets.tau_widget(SSLNet(16, width=4, proj_hidden=16, proj_dim=8))
