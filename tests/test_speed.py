"""Speed tooling: the default thread count, the training benchmark and bench/gpu_check.sh, run tiny on the CPU."""
import pytest
import torch

from trimix import config as config_module
from trimix.__main__ import _config_from_args, make_parser


@pytest.mark.parametrize("cores, env, want", [(1, None, 1), (2, None, 1), (4, None, None), (64, None, None),
                                              (2, "2", None)])
def test_default_threads_is_one_on_a_two_core_machine_unless_the_user_chose(monkeypatch, cores, env, want):
    monkeypatch.setattr(config_module, "usable_cores", lambda: cores)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    if env is not None:
        monkeypatch.setenv("OMP_NUM_THREADS", env)
    assert config_module.default_threads() == want


def test_use_default_threads_sets_torch_threads(monkeypatch):
    saved = torch.get_num_threads()
    monkeypatch.setattr(config_module, "usable_cores", lambda: 2)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    try:
        torch.set_num_threads(2)
        assert config_module.use_default_threads() == 1 == torch.get_num_threads()
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
        torch.set_num_threads(2)
        assert config_module.use_default_threads() == 2  # the user's choice is kept
    finally:
        torch.set_num_threads(saved)


def test_pretrain_flags_reach_the_config():
    config = _config_from_args(make_parser().parse_args(["pretrain", "--quick", "--compile", "--gather"]))
    assert config.compile and config.gather
    config = _config_from_args(make_parser().parse_args(["pretrain", "--quick"]))
    assert not config.compile and not config.gather
