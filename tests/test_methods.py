"""The methods as trainable modules: gradients reach everything, a few steps lower the loss, BYOL's target."""
import math

import pytest
import torch

from trimix import BYOL, METHODS, BarlowTwins, SimCLR, SSLNet, TriMix, VICReg, method_class
from trimix.config import quick_config
from trimix.losses import barlow_twins_loss, self_consistency_loss, virtual_embedding_loss
from trimix.methods import cosine_momentum
from trimix.mixing import mix_batch


def small_net(seed=0):
    torch.manual_seed(seed)
    return SSLNet(32, width=4, proj_hidden=32, proj_dim=32)


def batch(seed=0, b=16):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, 3, 32, 32, generator=g)
    return x, x + 0.3 * torch.randn(b, 3, 32, 32, generator=g)


@pytest.mark.parametrize("term", ["bt", "vrt", "con"])
def test_gradients_reach_every_parameter_through_each_term(term):
    net = small_net()
    x1, x2 = batch()
    _, parts = TriMix(net).loss(x1, x2, lam=0.3)
    parts[term].backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reaches {name} through {term}"


def test_trimix_loss_is_eq11_of_its_three_forward_passes():
    net = small_net()
    net.eval()  # fixed BN statistics, so separate forward passes give the same numbers
    x1, x2 = batch()
    method = TriMix(net, beta=10.0, gamma=2.0)
    total, parts = method.loss(x1, x2, lam=0.4)
    _, z1 = net(x1)
    _, z2 = net(x2)
    _, zv = net(mix_batch(x1, 0.4))
    expected = barlow_twins_loss(z1, z2) + 10 * virtual_embedding_loss(z1, zv, 0.4) + 2 * self_consistency_loss(z1, zv, 0.4)
    torch.testing.assert_close(total, expected)  # float32 default: the same passes and ops, rounding only
    assert set(parts) == {"bt", "vrt", "con"} and method.last_lambda == pytest.approx(0.4)


@pytest.mark.parametrize("vrt_on, con_on", [("y", "y"), ("z", "y"), ("y", "z")])
def test_table_vii_variants_put_the_extra_terms_on_the_chosen_embeddings(vrt_on, con_on):
    net = small_net()
    net.eval()
    x1, x2 = batch()
    total, parts = TriMix(net, beta=10.0, gamma=2.0, vrt_on=vrt_on, con_on=con_on).loss(x1, x2, lam=0.7)
    y1, z1 = net(x1)
    _, z2 = net(x2)
    y_vrt, z_vrt = net(mix_batch(x1, 0.7))
    pick = {"y": (y1, y_vrt), "z": (z1, z_vrt)}
    vrt = virtual_embedding_loss(*pick[vrt_on], 0.7)
    con = self_consistency_loss(*pick[con_on], 0.7)
    torch.testing.assert_close(parts["vrt"], vrt)
    torch.testing.assert_close(parts["con"], con)
    torch.testing.assert_close(total, barlow_twins_loss(z1, z2) + 10 * vrt + 2 * con)


def test_lambda_is_drawn_from_the_methods_generator():
    x1, x2 = batch()
    lams = []
    for _ in range(2):
        method = TriMix(small_net(), generator=torch.Generator().manual_seed(3))
        method.loss(x1, x2)
        lams.append(method.last_lambda)
    assert lams[0] == lams[1] and 0 <= lams[0] <= 1


@pytest.mark.parametrize("make", [
    lambda n: TriMix(n), lambda n: BarlowTwins(n), lambda n: TriMix(n, vrt_on="y", con_on="y"),
    lambda n: SimCLR(n), lambda n: BYOL(n, predictor_hidden=32), lambda n: VICReg(n),
])
def test_a_few_adam_steps_lower_the_loss(make):
    method = make(small_net())
    opt = torch.optim.Adam(method.parameters(), lr=1e-3)
    x1, x2 = batch(b=32)
    losses = []
    for step in range(8):
        total, _ = method.loss(x1, x2, lam=0.3) if isinstance(method, TriMix) else method.loss(x1, x2)
        opt.zero_grad()
        total.backward()
        opt.step()
        method.after_step(step / 8)
        losses.append(total.item())
    assert losses[-1] < losses[0], losses


# ---- BYOL's target network ----
def test_byol_target_starts_as_the_online_network_and_gets_no_gradient():
    method = BYOL(small_net(), predictor_hidden=16)
    for (name, t), o in zip(method.target.named_parameters(), method.net.parameters()):
        assert torch.equal(t, o) and not t.requires_grad, name
    total, _ = method.loss(*batch())
    total.backward()
    assert all(p.grad is None for p in method.target.parameters())
    assert all(p.grad is not None for p in [*method.net.parameters(), *method.predictor.parameters()])
    assert any(k.startswith("target.") for k in method.state_dict())  # saved in checkpoints


@pytest.mark.parametrize("progress", [0.0, 0.25, 0.5, 1.0])
def test_byol_ema_update_follows_the_formula(progress):
    method = BYOL(small_net(), predictor_hidden=16, momentum=0.9)
    with torch.no_grad():  # make online and target differ
        for p in method.net.parameters():
            p.add_(torch.randn_like(p))
    before = [p.clone() for p in method.target.parameters()]
    method.after_step(progress)
    m = 1 - (1 - 0.9) * (math.cos(math.pi * progress) + 1) / 2
    for old, new, online in zip(before, method.target.parameters(), method.net.parameters()):
        # float32 default (1.3e-6 relative): an EMA written as a lerp rounds differently by a few ulps at most
        torch.testing.assert_close(new, m * old + (1 - m) * online)


def test_byol_momentum_schedule():
    assert cosine_momentum(0.99, 0.0) == pytest.approx(0.99)
    assert cosine_momentum(0.99, 0.5) == pytest.approx(0.995)
    assert cosine_momentum(0.99, 1.0) == 1.0
    values = [cosine_momentum(0.99, k / 10) for k in range(11)]
    assert values == sorted(values)
    with pytest.raises(ValueError, match="progress"):
        cosine_momentum(0.99, 1.5)
    with pytest.raises(ValueError, match="momentum"):
        BYOL(small_net(), momentum=1.5)


def test_every_method_is_built_from_the_registry_with_its_config_fields():
    config = quick_config(alpha=0.01, simclr_temperature=0.3, byol_momentum=0.95, byol_predictor_hidden=24,
                          vicreg_sim_coeff=5.0, vicreg_std_coeff=6.0, vicreg_cov_coeff=7.0, tau=0.5)
    built = {name: cls.from_config(small_net(), config) for name, cls in METHODS.items()}
    assert {name: type(m) for name, m in built.items()} == {
        "trimix": TriMix, "barlow_twins": BarlowTwins, "simclr": SimCLR, "byol": BYOL, "vicreg": VICReg}
    assert built["trimix"].tau == 0.5 and built["barlow_twins"].alpha == 0.01
    assert built["simclr"].temperature == 0.3
    assert built["byol"].momentum == 0.95 and built["byol"].predictor[0].out_features == 24
    assert (built["vicreg"].sim_coeff, built["vicreg"].std_coeff, built["vicreg"].cov_coeff) == (5.0, 6.0, 7.0)
    parts = {name: set(m.loss(*batch(b=8))[1]) for name, m in built.items()}
    assert parts == {"trimix": {"bt", "vrt", "con"}, "barlow_twins": {"bt"}, "simclr": {"simclr"}, "byol": {"byol"},
                     "vicreg": {"vicreg"}}


def test_method_class_and_bad_options():
    assert isinstance(method_class("Barlow-Twins")(small_net()), BarlowTwins)
    with pytest.raises(ValueError, match="known methods"):
        method_class("moco")
    with pytest.raises(ValueError, match="vrt_on"):
        TriMix(small_net(), vrt_on="x")
    with pytest.raises(ValueError, match="tau"):
        TriMix(small_net(), tau=0)
