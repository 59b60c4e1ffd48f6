"""Speed tooling: the default thread count, the training benchmark and bench/gpu_check.sh, run tiny on the CPU."""
import json
import os
import subprocess
from pathlib import Path

import pytest
import torch

from trimix import config as config_module
from trimix.__main__ import _config_from_args, main, make_parser
from trimix.benchmark import report
from trimix.projection import PEAK_TFLOPS

ROOT = Path(__file__).resolve().parent.parent


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


TINY_BENCH = ["--device", "cpu", "--width", "2", "--batch-size", "8", "--proj-hidden", "16", "--proj-dim", "16",
              "--steps", "1", "--warmup", "0", "--rounds", "1", "--images", "32"]


def test_bench_train_runs_end_to_end_and_reports_ratios(tmp_path, capsys):
    out = tmp_path / "bench.json"
    argv = ["bench", "train", *TINY_BENCH, "--workers", "0", "--methods", "trimix", "barlow_twins", "--json", str(out)]
    assert main(argv) == 0
    result = json.loads(out.read_text())
    assert set(result["seconds"]) == {"data/kit", "data/plain", "compute/trimix", "kit/trimix", "plain/trimix",
                                      "compute/barlow_twins", "kit/barlow_twins", "plain/barlow_twins"}
    assert all(s > 0 for s in result["seconds"].values())
    assert result["flops"]["trimix"] > result["flops"]["barlow_twins"] > 0  # a third forward pass
    text = capsys.readouterr().out
    assert "kit path / plain path, images/s, trimix" in text and "step time / Barlow Twins', trimix" in text
    assert "MFU" in text and "200 ep" in text


def test_report_gives_mfu_from_flops_step_time_and_peak():
    sec = {"data/kit": 0.01, "compute/trimix": 0.04, "kit/trimix": 0.05}
    result = {"config": {"batch_size": 256, "width": 64, "proj_layers": 3, "proj_hidden": 1024, "proj_dim": 1024,
                         "compile": False}, "device": "cuda:0", "threads": 16, "rounds": 1, "steps": 10, "workers": 0,
              "flops": {"trimix": 5e12}, "first_call_s": {"trimix": 1.0}, "first_loss": {"trimix": 1.0},
              "seconds": sec, "spread": {k: [v, v] for k, v in sec.items()}, "peak_flops": 1e15, "peak_source": "x"}
    line = next(ln for ln in report(result).splitlines() if ln.startswith("trimix") and " kit " in ln)
    assert "10.0%" in line  # 5 TFLOP in 0.05 s = 100 TFLOP/s of a 1000 TFLOP/s peak
    assert " 32m30 " in line  # 200 epochs x 195 steps x 0.05 s = 1950 s
    assert [k for k, _ in PEAK_TFLOPS].index("H100 NVL") < [k for k, _ in PEAK_TFLOPS].index("H100")
    assert [k for k, _ in PEAK_TFLOPS].index("A100") < [k for k, _ in PEAK_TFLOPS].index("A10")


def test_gpu_check_script_runs_on_the_cpu_with_gpu_parts_skipped(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path), "GPU_CHECK_TINY": "1", "OMP_NUM_THREADS": "1",
           "GPU_CHECK_RUNS": str(tmp_path / "runs"),
           "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    run = subprocess.run(["bash", str(ROOT / "bench" / "gpu_check.sh")], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=600)
    log = (tmp_path / "gpu_check.log").read_text()
    assert run.returncode == 0, run.stdout + run.stderr + log
    for section in ("environment", "CUDA-only tests", "training forced to fp16", "training benchmark", "kNN", "pretraining",
                    "--deterministic", "summary"):
        assert f"=== {section}" in log, section
    assert "SKIPPED (no CUDA)" in log and "FAILED" not in log
    assert "tensors bit-identical after 20 steps" in log and "fp16: " in log
    # only small files come back from a lent GPU (at most 8): the checkpoints stay under GPU_CHECK_RUNS
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [
        "bench_eager.json", "cifar10-trimix.json", "deterministic-a.json", "deterministic-b.json", "fp16.json",
        "gpu_check.log"]
