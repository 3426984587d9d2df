"""Every benchmark workload (the shared suite and the package's own examples) compiles for the
CPU without a single interpreter fallback and agrees with the interpreter on the bench inputs."""
from __future__ import annotations

import numpy as np
import pytest

import xltune
from xltune.bench import load_suite
from xltune.bench.suite import max_rel_error


def _check(w):
    args = w.inputs()
    exe = xltune.compile(w.text, backend="cpu", config={})
    assert exe.stats["fallback_ops"] == 0, exe.stages.get("schedule")
    assert exe.stats["kernels"] >= 1
    want = xltune.compile(w.text, backend="interpreter")(*args)
    got = exe(*args)
    # float32 programs: reassociated sums and polynomial math stay well inside this
    assert max_rel_error(got, want) < 2e-3, w.key


@pytest.mark.parametrize("w", load_suite(None, size=None), ids=lambda w: w.key)
def test_example_workloads_run_natively(w):
    _check(w)


def test_shared_cpu_workloads_run_natively(workloads_dir):
    suite = load_suite(workloads_dir, size="cpu")
    assert {w.name for w in suite} >= {"gelu", "softmax", "layernorm", "mlp", "sumsq", "transpose_add",
                                       "attention", "matmul", "tiny_add"}
    for w in suite:
        _check(w)


def test_example_manifest_matches_the_programs():
    for w in load_suite(None, size=None):
        m = xltune.parse(w.text)
        params = m.entry.params
        assert [tuple(p.type.shape) for p in params] == [s for s, _ in w.args], w.key
        assert all(np.dtype(d) == p.type.dtype.np_dtype for p, (_, d) in zip(params, w.args))
        out_bytes = sum(o.type.nbytes for o in m.entry.outputs)
        in_bytes = sum(p.type.nbytes for p in params)
        assert w.min_bytes == in_bytes + out_bytes, w.key
