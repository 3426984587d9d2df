"""The benchmark workloads after the default pipeline: the kernels docs/passes.md's table shows, and
the interpreter's answer before and after."""
from __future__ import annotations

import numpy as np
import pytest

import xltune
from xltune.interpreter import evaluate
from xltune.passes import run_pipeline

from passes_irbuild import assert_same, kinds

EXPECTED = {
    "gelu": ["loop"],
    "softmax": ["row"],
    "layernorm": ["row"],
    "mlp": ["library"],
    "attention": ["library", "library", "row"],
    "matmul": ["library"],
    "sumsq": ["input"],
    "transpose_add": ["loop"],
    "tiny_add": ["loop"],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_workload_kernels_and_semantics(workloads_dir, name):
    path = workloads_dir / f"{name}.cpu.mlir"
    module = xltune.parse(path.read_text(), source=str(path))
    m = module.clone()
    stages, stats = {}, {}
    run_pipeline(m, "simplify,fusion,buffers", {}, stages, stats, verify=True)
    assert kinds(m) == EXPECTED[name], stages["fusion_log"]
    assert stats["kernels"] == len(EXPECTED[name])
    assert stats["peak_bytes"] <= stats["naive_bytes"] <= stats["naive_bytes_unfused"]
    rng = np.random.default_rng(0)
    args = [rng.standard_normal(p.type.shape).astype(np.float32) for p in module.entry.params]
    assert_same(evaluate(module, *args), evaluate(m, *args), rtol=2e-5, atol=1e-5)
