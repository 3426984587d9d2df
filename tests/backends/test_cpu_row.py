"""Row kernels on the CPU (`row` fusions: reduction phases, then element-wise passes that use the
reduced values, per row) against the interpreter, through the whole pipeline and built by hand,
for every knob value."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xltune
from cpu_testlib import build_cpu, fuse_all, reference
from xltune.backends import get_backend


def softmax_text(shape, dt="f32", axes=None) -> str:
    rank = len(shape)
    axes = axes or [rank - 1]
    t = f"tensor<{'x'.join(map(str, shape))}x{dt}>"
    kept = [n for d, n in enumerate(shape) if d not in axes]
    r = f"tensor<{'x'.join(map(str, kept))}x{dt}>" if kept else f"tensor<{dt}>"
    keep_dims = [d for d in range(rank) if d not in axes]
    ninf = {"f32": "0xFF800000", "f16": "0xFC00", "bf16": "0xFF80", "f64": "0xFFF0000000000000"}[dt]
    return f"""
func.func @main(%x: {t}) -> ({t}, {r}) {{
  %ninf = stablehlo.constant dense<{ninf}> : tensor<{dt}>
  %zero = stablehlo.constant dense<0.0> : tensor<{dt}>
  %m = stablehlo.reduce(%x init: %ninf) applies stablehlo.maximum across dimensions = {axes} : ({t}, tensor<{dt}>) -> {r}
  %mb = stablehlo.broadcast_in_dim %m, dims = {keep_dims} : ({r}) -> {t}
  %d = stablehlo.subtract %x, %mb : {t}
  %e = stablehlo.exponential %d : {t}
  %s = stablehlo.reduce(%e init: %zero) applies stablehlo.add across dimensions = {axes} : ({t}, tensor<{dt}>) -> {r}
  %sb = stablehlo.broadcast_in_dim %s, dims = {keep_dims} : ({r}) -> {t}
  %y = stablehlo.divide %e, %sb : {t}
  %l = stablehlo.log %s : {r}
  %lse = stablehlo.add %l, %m : {r}
  return %y, %lse : {t}, {r}
}}
"""


def layernorm_text(rows, n) -> str:
    t = f"tensor<{rows}x{n}xf32>"
    return f"""
func.func @main(%x: {t}, %g: tensor<{n}xf32>, %b: tensor<{n}xf32>) -> {t} {{
  %z = stablehlo.constant dense<0.0> : tensor<f32>
  %s = stablehlo.reduce(%x init: %z) applies stablehlo.add across dimensions = [1] : ({t}, tensor<f32>) -> tensor<{rows}xf32>
  %nn = stablehlo.constant dense<{float(n)}> : tensor<{rows}xf32>
  %mean = stablehlo.divide %s, %nn : tensor<{rows}xf32>
  %mb = stablehlo.broadcast_in_dim %mean, dims = [0] : (tensor<{rows}xf32>) -> {t}
  %c = stablehlo.subtract %x, %mb : {t}
  %c2 = stablehlo.multiply %c, %c : {t}
  %v = stablehlo.reduce(%c2 init: %z) applies stablehlo.add across dimensions = [1] : ({t}, tensor<f32>) -> tensor<{rows}xf32>
  %var = stablehlo.divide %v, %nn : tensor<{rows}xf32>
  %eps = stablehlo.constant dense<1.0e-5> : tensor<{rows}xf32>
  %ve = stablehlo.add %var, %eps : tensor<{rows}xf32>
  %r = stablehlo.rsqrt %ve : tensor<{rows}xf32>
  %rb = stablehlo.broadcast_in_dim %r, dims = [0] : (tensor<{rows}xf32>) -> {t}
  %gb = stablehlo.broadcast_in_dim %g, dims = [1] : (tensor<{n}xf32>) -> {t}
  %bb = stablehlo.broadcast_in_dim %b, dims = [1] : (tensor<{n}xf32>) -> {t}
  %xn = stablehlo.multiply %c, %rb : {t}
  %y0 = stablehlo.multiply %xn, %gb : {t}
  %y = stablehlo.add %y0, %bb : {t}
  return %y : {t}
}}
"""


def _close(got, want, rtol=2e-5, atol=2e-6):
    got = [got] if not isinstance(got, (list, tuple)) else list(got)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g, np.float64), np.asarray(w, np.float64), rtol=rtol, atol=atol)


def _args(text, seed=0):
    m = xltune.parse(text)
    rng = np.random.default_rng(seed)
    return m, [(rng.standard_normal(p.type.shape) * 3).astype(p.type.dtype.np_dtype) for p in m.entry.params]


@pytest.mark.parametrize("shape,axes", [((4, 1024), None), ((7, 33), None), ((3, 5, 17), None),
                                        ((2, 3, 4, 5), [2, 3]), ((1, 300), None), ((64, 1), None)],
                         ids=str)
def test_softmax_and_logsumexp_one_row_kernel(shape, axes):
    text = softmax_text(shape, axes=axes)
    m, args = _args(text)
    exe = xltune.compile(text, backend="cpu")
    assert exe.stats["fallback_ops"] == 0, exe.stats.get("fallbacks")
    if shape[-1] > 1:      # (a reduce over unit dims is simplified into a reshape)
        assert exe.stats["fusion_kinds"].get("row") == 1, exe.stats["fusion_kinds"]
    _close(exe(*args), reference(m, *args))


@pytest.mark.parametrize("dt,rtol", [("f16", 2e-3), ("bf16", 2e-2), ("f64", 1e-12)])
def test_softmax_other_float_types(dt, rtol):
    text = softmax_text((6, 200), dt=dt)
    m, args = _args(text)
    exe = xltune.compile(text, backend="cpu")
    assert exe.stats["fallback_ops"] == 0, exe.stats.get("fallbacks")
    _close(exe(*args), reference(m, *args), rtol=rtol, atol=rtol / 10)


@pytest.mark.parametrize("rows,n", [(16, 512), (5, 77), (300, 8)])
def test_layernorm_one_row_kernel(rows, n):
    text = layernorm_text(rows, n)
    m, args = _args(text, seed=rows)
    exe = xltune.compile(text, backend="cpu")
    assert exe.stats["fallback_ops"] == 0 and exe.stats["native_kernels"] == 1, exe.stats.get("fallbacks")
    _close(exe(*args), reference(m, *args), rtol=5e-5, atol=5e-5)


@pytest.mark.parametrize("policy", [{"fusion.row_fusion": False},
                                    {"fusion.row_fusion": False, "fusion.multi_output": False}], ids=str)
def test_input_and_loop_fusions_instead_of_rows(policy):
    for text in (softmax_text((9, 130)), layernorm_text(9, 130)):
        m, args = _args(text)
        exe = xltune.compile(text, backend="cpu", config=policy)
        assert exe.stats["fallback_ops"] == 0, exe.stats.get("fallbacks")
        assert "row" not in exe.stats["fusion_kinds"], exe.stats["fusion_kinds"]
        _close(exe(*args), reference(m, *args), rtol=5e-5, atol=5e-5)


def test_row_fusion_built_by_hand_stores_full_and_per_row_outputs_in_one_pass():
    m = fuse_all(xltune.parse(softmax_text((13, 100))), kind="row")
    _, args = _args(softmax_text((13, 100)))
    exe = build_cpu(m)
    assert exe.stats["fallback_ops"] == 0, exe.stats.get("fallbacks")
    _close(exe(*args), reference(m, *args))


def test_value_of_the_row_read_back_is_not_allowed_across_rows():
    # a reduce result moved between rows (a reverse) is not one value per row: the kernel falls
    # back instead of reading another row's value
    text = """
func.func @main(%x: tensor<6x40xf32>) -> tensor<6x40xf32> {
  %z = stablehlo.constant dense<0.0> : tensor<f32>
  %s = stablehlo.reduce(%x init: %z) applies stablehlo.add across dimensions = [1] : (tensor<6x40xf32>, tensor<f32>) -> tensor<6xf32>
  %r = stablehlo.reverse %s, dims = [0] : tensor<6xf32>
  %b = stablehlo.broadcast_in_dim %r, dims = [0] : (tensor<6xf32>) -> tensor<6x40xf32>
  %y = stablehlo.subtract %x, %b : tensor<6x40xf32>
  return %y : tensor<6x40xf32>
}
"""
    m = fuse_all(xltune.parse(text), kind="row")
    x = np.random.default_rng(1).standard_normal((6, 40)).astype(np.float32)
    exe = build_cpu(m)
    assert exe.stats["fallback_ops"] == 1 and "moves values computed from a reduce" in exe.stats["fallbacks"][0]
    _close(exe(x), reference(m, x))


# ---- knobs ------------------------------------------------------------------------------------------------
CASES = [softmax_text((37, 300)), layernorm_text(37, 300), softmax_text((600, 64)), softmax_text((2, 3000))]


def _knobs(module):
    return [k for k in get_backend("cpu").knobs(module) if k.name.startswith("cpu.")]


def _fused(text):
    return fuse_all(xltune.parse(text), kind="row")


def test_row_knobs_declared():
    names = {k.name.rsplit(".", 1)[1] for k in _knobs(_fused(CASES[0]))}
    assert {"vector_width", "accumulators", "row_block", "unroll", "reassociate", "math", "stash"} <= names, names
    names = {k.name.rsplit(".", 1)[1] for k in _knobs(_fused(CASES[1]))}
    assert "stash" not in names            # layernorm recomputes nothing expensive


@pytest.mark.parametrize("case", range(len(CASES)))
def test_every_knob_value_alone(case):
    m = _fused(CASES[case])
    _, args = _args(CASES[case], seed=case)
    want = reference(m, *args)
    for k in _knobs(m):
        for v in k.choices:
            exe = build_cpu(m, {k.name: v})
            assert exe.stats["fallback_ops"] == 0
            _close(exe(*args), want, rtol=5e-5, atol=5e-5)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.integers(0, len(CASES) - 1), data=st.data())
def test_random_configs(case, data):
    m = _fused(CASES[case])
    config = {k.name: data.draw(st.sampled_from(k.choices), label=k.name) for k in _knobs(m)}
    _, args = _args(CASES[case], seed=case)
    _close(build_cpu(m, config)(*args), reference(m, *args), rtol=5e-5, atol=5e-5)


def test_threads_split_rows_with_identical_results():
    m = _fused(CASES[2])
    _, args = _args(CASES[2])
    single = build_cpu(m, {"cpu.fusion.all.threads": 1})(*args)
    for threads in (2, 4, 8):
        got = build_cpu(m, {"cpu.fusion.all.threads": threads})(*args)
        for g, s in zip(got, single):
            np.testing.assert_array_equal(g, s)
