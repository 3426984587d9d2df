"""The real path: tune a small softmax-and-gelu-like program on the CPU backend (the passes'
fusion knobs, the backend's kernel knobs, LLVM builds in the worker process)."""
from __future__ import annotations

import json

import numpy as np
import pytest

import xltune
from xltune.autotune import tune

PROGRAM = """
func.func public @main(%x: tensor<64x256xf32>, %b: tensor<256xf32>) -> (tensor<64x256xf32>, tensor<64xf32>) {
  %ninf = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %zero = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %bb = stablehlo.broadcast_in_dim %b, dims = [1] : (tensor<256xf32>) -> tensor<64x256xf32>
  %xb = stablehlo.add %x, %bb : tensor<64x256xf32>
  %t = stablehlo.tanh %xb : tensor<64x256xf32>
  %m = stablehlo.reduce(%t init: %ninf) applies stablehlo.maximum across dimensions = [1] : (tensor<64x256xf32>, tensor<f32>) -> tensor<64xf32>
  %mb = stablehlo.broadcast_in_dim %m, dims = [0] : (tensor<64xf32>) -> tensor<64x256xf32>
  %d = stablehlo.subtract %t, %mb : tensor<64x256xf32>
  %e = stablehlo.exponential %d : tensor<64x256xf32>
  %s = stablehlo.reduce(%e init: %zero) applies stablehlo.add across dimensions = [1] : (tensor<64x256xf32>, tensor<f32>) -> tensor<64xf32>
  %sb = stablehlo.broadcast_in_dim %s, dims = [0] : (tensor<64xf32>) -> tensor<64x256xf32>
  %y = stablehlo.divide %e, %sb : tensor<64x256xf32>
  return %y, %s : tensor<64x256xf32>, tensor<64xf32>
}
"""


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("XLTUNE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("XLTUNE_STORAGE", raising=False)
    monkeypatch.delenv("XLTUNE_NO_TUNED", raising=False)
    return tmp_path


def test_tune_cpu_end_to_end():
    knobs = {k.name: k for k in xltune.knobs(PROGRAM, backend="cpu")}
    assert any(n.startswith("fusion.") for n in knobs)
    res = tune(PROGRAM, backend="cpu", trials=10, budget=0.05, final_budget=0.3, progress=False,
               seed=0, isolate=True)
    df = res.trials.sort_values("number")
    assert len(df) == 10
    # trial 0: every knob at its default
    first = json.loads(df.iloc[0]["config"])
    assert all(knobs[n].default == v for n, v in first.items() if n in knobs)
    assert df.iloc[0]["state"] == "COMPLETE"
    # every Config the search produced gives the interpreter's answer
    assert not (df["status"] == "mismatch").any(), df[["status", "reason"]]
    assert set(df["state"]) <= {"COMPLETE", "PRUNED"}, df[["state", "reason"]]
    assert res.worker_starts == 1
    # stored, and picked up by compile
    exe = xltune.compile(PROGRAM, backend="cpu")
    assert exe.stats["config_source"] == "tuned" and exe.config == res.best_config
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 256), dtype=np.float32)
    b = rng.standard_normal(256, dtype=np.float32)
    ref = xltune.compile(PROGRAM, backend="interpreter")(x, b)
    got = exe(x, b)
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, rtol=2e-3, atol=2e-4)
    assert res.speedup == res.speedup  # measured
    assert res.chosen == "default" or res.best_time.median < res.default_time.median


def test_cpu_trial_segfault_is_contained(monkeypatch):
    monkeypatch.setenv("XLTUNE_TEST_FAULT", "segv:fusion.sibling=False")
    res = tune(PROGRAM, backend="cpu", trials=8, budget=0.05, final_budget=0.3, progress=False,
               seed=1, isolate=True, sampler="random", trial_timeout=60)
    df = res.trials
    crashed = df[df["status"] == "crash"]
    assert len(crashed) >= 1, df[["status", "config"]]
    assert crashed["reason"].str.contains("SIGSEGV").all()
    assert (df["state"] == "COMPLETE").any()
    assert res.worker_starts == 1 + len(crashed)
    assert res.best_config.get("fusion.sibling", True) is not False
