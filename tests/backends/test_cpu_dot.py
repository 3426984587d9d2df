"""CPU dot kernels: every layout, dtype and knob value gives the interpreter's answer; fused
epilogues; BLAS and the emitted GEMM; no fallbacks on the dot workloads."""
from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xltune
from cpu_testlib import build_cpu, reference
from dot_testlib import abs_product, assert_dot_close, dot_module, layout, values
from xltune.backends import get_backend
from xltune.backends.cpu import blas, dot
from xltune.backends.cpu.kernels import host_threads


def _check(module, config=None, rng=None, special=False, what=""):
    rng = rng or np.random.default_rng(0)
    d = module.entry.outputs[0]
    lhs_t, rhs_t = (p.type for p in module.entry.params)
    args = [values(lhs_t.shape, lhs_t.dtype.name, rng, special), values(rhs_t.shape, rhs_t.dtype.name, rng, special)]
    want = reference(module, *args)[0]
    exe = build_cpu(module, config)
    got = exe(*args)
    dn = d.attrs["dot_dimension_numbers"]
    lb, rb, lc, rc = (dn.lhs_batching_dimensions, dn.rhs_batching_dimensions, dn.lhs_contracting_dimensions,
                      dn.rhs_contracting_dimensions)
    k = math.prod(lhs_t.shape[x] for x in lc)
    abs_sum = abs_product(args[0], args[1], lb, rb, lc, rc) if (d.dtype.is_float or d.dtype.is_complex) else None
    assert_dot_close(got, want, abs_sum, k, d.dtype.name, what=f"{what} {config}")
    return exe


# ---- layouts x configs ----------------------------------------------------------------------------------
@st.composite
def dot_case(draw):
    nb, nm, nn, nk = (draw(st.integers(0, 2)) for _ in range(4))
    size = st.integers(1, 9)
    batch = [draw(size) for _ in range(nb)]
    m = [draw(st.integers(1, 30)) for _ in range(nm)]
    n = [draw(st.integers(1, 40)) for _ in range(nn)]
    k = [draw(st.integers(0, 40) if nk == 1 else size) for _ in range(nk)]
    lhs_order = draw(st.permutations([("b", i) for i in range(nb)] + [("m", i) for i in range(nm)]
                                     + [("k", i) for i in range(nk)]))
    rhs_order = draw(st.permutations([("b", i) for i in range(nb)] + [("k", i) for i in range(nk)]
                                     + [("n", i) for i in range(nn)]))
    return layout(batch, m, n, k, lhs_order, rhs_order)


def _draw_config(data, module, extra=None):
    ks = get_backend("cpu").knobs(module)
    cfg = {k.name: data.draw(st.sampled_from(k.choices), label=k.name) for k in ks}
    cfg.update(extra or {})
    return cfg


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=dot_case(), data=st.data())
def test_any_layout_and_config_matches_the_interpreter(case, data, monkeypatch):
    monkeypatch.setattr(dot, "THREADS_KNOB_MIN_FLOPS", 0)       # threads on small problems too (same every draw)
    monkeypatch.setattr(dot, "SHARED_B_MIN_BYTES", 0)           # and row chunks sharing one packing of B
    module = dot_module(*case)
    cfg = _draw_config(data, module)
    _check(module, cfg, np.random.default_rng(1), what=str(case))


@pytest.mark.parametrize("dt", ["f32", "f64"])
def test_every_knob_value_alone(dt, monkeypatch):
    monkeypatch.setattr(dot, "THREADS_KNOB_MIN_FLOPS", 0)
    monkeypatch.setattr(dot, "SHARED_B_MIN_BYTES", 0)
    # ragged sizes: partial micro-tiles, panels and blocks everywhere; K over several k blocks
    module = dot_module((3, 37, 300), (3, 300, 45), [0], [0], [2], [1], dt)
    ks = [k for k in get_backend("cpu").knobs(module) if k.name.startswith("cpu.")]
    names = {k.name.rsplit(".", 1)[1] for k in ks}
    assert {"dot", "threads", "micro", "mc", "kc", "nc"} <= names, names
    for k in ks:
        for v in k.choices:
            _check(module, {k.name: v}, what=f"{k.name}={v}")


def test_blas_and_gemm_on_transposed_operands():
    # A^T B^T (both contracted along their leading dim) and a batch in the middle
    for case in [((50, 33), (21, 50), [], [], [0], [1]),
                 ((7, 4, 19), (19, 4, 5), [1], [1], [2], [0]),
                 ((1, 64), (64, 1), [], [], [1], [0])]:
        module = dot_module(*case)
        for choice in ("gemm", "blas"):
            exe = _check(module, {"cpu.dot.dot": choice}, what=str(case))
            assert exe.stats["fallback_ops"] == 0


# ---- dtypes ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lhs,rhs,out", [
    ("f16", "f16", "f16"), ("bf16", "bf16", "bf16"), ("f64", "f64", "f64"), ("f32", "f32", "f16"),
    ("i8", "i8", "i32"), ("ui8", "ui8", "ui16"), ("i32", "i32", "i32"), ("i64", "i64", "i64"),
    ("ui32", "ui32", "ui32"), ("i16", "i8", "i64"), ("i4", "i4", "i4"), ("pred", "pred", "pred"),
    ("f32", "f32", "i32"), ("complex<f32>", "complex<f32>", "complex<f32>"),
    ("complex<f64>", "complex<f64>", "complex<f64>"), ("bf16", "f32", "f32"),
])
def test_element_types(lhs, rhs, out):
    module = dot_module((2, 13, 70), (2, 70, 21), [0], [0], [2], [1], lhs, rhs, out)
    exe = _check(module, what=f"{lhs} x {rhs} -> {out}")
    assert exe.stats["fallback_ops"] == 0


@pytest.mark.parametrize("dt", ["f32", "f64", "f16"])
def test_infinities_and_nans_propagate(dt):
    module = dot_module((31, 50), (50, 29), [], [], [1], [0], dt)
    for choice in ("gemm", "blas") if dt != "f16" else ("gemm",):
        _check(module, {"cpu.dot.dot": choice}, special=True, what="special values")


@pytest.mark.parametrize("case", [
    ((4, 0), (0, 5), [], [], [1], [0]),          # K = 0: zeros
    ((0, 8), (8, 5), [], [], [1], [0]),          # M = 0
    ((3, 8), (8, 0), [], [], [1], [0]),          # N = 0
    ((0, 3, 8), (0, 8, 2), [0], [0], [2], [1]),  # empty batch
    ((), (), [], [], [], []),                    # scalar x scalar
    ((6,), (6,), [], [], [0], [0]),              # vector . vector
    ((5,), (7,), [], [], [], []),                # outer product
])
def test_degenerate_shapes(case):
    _check(dot_module(*case), what=str(case))


@pytest.mark.parametrize("lhs,rhs", [((7,), (7, 5)), ((4, 7), (7,)), ((4, 7), (7, 3)), ((6,), (6,))])
def test_legacy_dot(lhs, rhs):
    from cpu_testlib import module_of, tensor
    m = module_of(lambda c, ps: c.add("dot", ps, None, {}, name="dot"), [tensor(lhs, "f32"), tensor(rhs, "f32")])
    rng = np.random.default_rng(0)
    args = [rng.standard_normal(lhs).astype(np.float32), rng.standard_normal(rhs).astype(np.float32)]
    for choice in ("gemm", "blas"):
        exe = build_cpu(m, {"cpu.dot.dot": choice})
        assert exe.stats["fallback_ops"] == 0
        np.testing.assert_allclose(exe(*args), reference(m, *args)[0], rtol=1e-5, atol=1e-5)


# ---- through the pipeline: epilogues ----------------------------------------------------------------------
MLP = """
func.func @main(%x: tensor<48x96xf32>, %w: tensor<96x80xf32>, %b: tensor<80xf32>) -> tensor<48x80xf32> {
  %0 = stablehlo.dot_general %x, %w, contracting_dims = [1] x [0] : (tensor<48x96xf32>, tensor<96x80xf32>) -> tensor<48x80xf32>
  %1 = stablehlo.broadcast_in_dim %b, dims = [1] : (tensor<80xf32>) -> tensor<48x80xf32>
  %2 = stablehlo.add %0, %1 : tensor<48x80xf32>
  %c = stablehlo.constant dense<0.5> : tensor<48x80xf32>
  %3 = stablehlo.multiply %2, %c : tensor<48x80xf32>
  %4 = stablehlo.tanh %3 : tensor<48x80xf32>
  %5 = stablehlo.multiply %4, %2 : tensor<48x80xf32>
  return %5 : tensor<48x80xf32>
}
"""

MULTI_OUT = """
func.func @main(%x: tensor<4x20x33xf32>, %w: tensor<4x20x33xf32>, %s: tensor<4x33x33xf32>) -> (tensor<4x33x33xbf16>, tensor<4x33x33xf32>) {
  %0 = stablehlo.dot_general %x, %w, batching_dims = [0] x [0], contracting_dims = [1] x [1] : (tensor<4x20x33xf32>, tensor<4x20x33xf32>) -> tensor<4x33x33xf32>
  %1 = stablehlo.exponential %0 : tensor<4x33x33xf32>
  %t = stablehlo.transpose %s, dims = [0, 2, 1] : (tensor<4x33x33xf32>) -> tensor<4x33x33xf32>
  %2 = stablehlo.add %1, %t : tensor<4x33x33xf32>
  %3 = stablehlo.convert %2 : (tensor<4x33x33xf32>) -> tensor<4x33x33xbf16>
  %4 = stablehlo.maximum %1, %t : tensor<4x33x33xf32>
  return %3, %4 : tensor<4x33x33xbf16>, tensor<4x33x33xf32>
}
"""


BIAS_BF16 = """
func.func @main(%x: tensor<2x30x300xf32>, %w: tensor<2x300x70xf32>, %b: tensor<2x70xf32>) -> tensor<2x30x70xbf16> {
  %0 = stablehlo.dot_general %x, %w, batching_dims = [0] x [0], contracting_dims = [2] x [1] : (tensor<2x30x300xf32>, tensor<2x300x70xf32>) -> tensor<2x30x70xf32>
  %1 = stablehlo.broadcast_in_dim %b, dims = [0, 2] : (tensor<2x70xf32>) -> tensor<2x30x70xf32>
  %2 = stablehlo.add %0, %1 : tensor<2x30x70xf32>
  %3 = stablehlo.convert %2 : (tensor<2x30x70xf32>) -> tensor<2x30x70xbf16>
  return %3 : tensor<2x30x70xbf16>
}
"""


def _inputs(text, seed=0):
    m = xltune.parse(text)
    rng = np.random.default_rng(seed)
    return m, [(rng.standard_normal(p.type.shape) * 0.3).astype(p.type.dtype.np_dtype) for p in m.entry.params]


@pytest.mark.parametrize("text,kernels", [(MLP, 1), (MULTI_OUT, 2), (BIAS_BF16, 1)],
                         ids=["mlp", "multi_out", "bias_bf16"])
def test_fused_epilogue_with_every_dot_choice(text, kernels, monkeypatch):
    monkeypatch.setattr(dot, "THREADS_KNOB_MIN_FLOPS", 0)
    m, args = _inputs(text)
    want = reference(m, *args)
    base = {"fusion.dot_epilogue": True}
    ks = [k for k in xltune.knobs(text, backend="cpu", config=base) if k.name.endswith((".dot", ".kc", ".threads"))]
    assert any(k.name.endswith(".dot") for k in ks)
    configs = [base] + [{**base, k.name: v} for k in ks for v in k.choices]
    for cfg in configs:
        exe = xltune.compile(text, backend="cpu", config=cfg)
        assert exe.stats["fallback_ops"] == 0, exe.stats.get("fallbacks")
        assert exe.stats["native_kernels"] == kernels, exe.stages["schedule"]  # the epilogue is in the dot kernel
        got = exe(*args)
        got = got if isinstance(got, tuple) else (got,)
        for g, w in zip(got, want):
            tol = 1e-2 if g.dtype != np.float32 else 2e-5
            np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64), rtol=tol, atol=tol,
                                       err_msg=str(cfg))


TWO_OUT_LONG_K = """
func.func @main(%x: tensor<3x40x160xf32>, %w: tensor<3x160x72xf32>, %y: tensor<3x40x72xf32>) -> (tensor<3x40x72xf32>, tensor<3x40x72xf32>) {
  %0 = stablehlo.dot_general %x, %w, batching_dims = [0] x [0], contracting_dims = [2] x [1] : (tensor<3x40x160xf32>, tensor<3x160x72xf32>) -> tensor<3x40x72xf32>
  %1 = stablehlo.tanh %0 : tensor<3x40x72xf32>
  %2 = stablehlo.multiply %1, %y : tensor<3x40x72xf32>
  return %1, %2 : tensor<3x40x72xf32>, tensor<3x40x72xf32>
}
"""


def test_runtime_gemm_runs_a_long_sums_epilogue_after_the_product(monkeypatch):
    # K >= 128: the precompiled GEMM writes the product into the first output, then a loop
    # kernel (in the same dot kernel) runs the epilogue over it in place
    monkeypatch.setattr(dot, "THREADS_KNOB_MIN_FLOPS", 0)
    m, args = _inputs(TWO_OUT_LONG_K)
    want = reference(m, *args)
    knobs = {k.name.rsplit(".", 1)[1]: k for k in xltune.knobs(TWO_OUT_LONG_K, backend="cpu")
             if k.name.startswith("cpu.")}
    assert knobs["dot"].default == "runtime"
    configs = [{}] + [{knobs["threads"].name: t, knobs["split"].name: sp} for t in (2, 4) for sp in knobs["split"].choices]
    for cfg in configs:
        exe = xltune.compile(TWO_OUT_LONG_K, backend="cpu", config=cfg)
        assert exe.stats["native_kernels"] == 1 and exe.stats["fallback_ops"] == 0, exe.stages["schedule"]
        assert "xltune_rt_gemm_" in exe.stages["llvm"]
        for g, w in zip(exe(*args), want):
            np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-5, err_msg=str(cfg))


def test_epilogue_off_keeps_a_separate_loop_kernel():
    m, args = _inputs(MLP)
    exe = xltune.compile(MLP, backend="cpu", config={"fusion.dot_epilogue": False})
    assert exe.stats["fallback_ops"] == 0 and exe.stats["native_kernels"] == 2
    np.testing.assert_allclose(exe(*args), reference(m, *args)[0], rtol=2e-5, atol=2e-5)


def test_transposed_operand_is_read_in_place():
    text = """
    func.func @main(%a: tensor<64x40xf32>, %b: tensor<64x24xf32>) -> tensor<40x24xf32> {
      %t = stablehlo.transpose %a, dims = [1, 0] : (tensor<64x40xf32>) -> tensor<40x64xf32>
      %0 = stablehlo.dot_general %t, %b, contracting_dims = [1] x [0] : (tensor<40x64xf32>, tensor<64x24xf32>) -> tensor<40x24xf32>
      return %0 : tensor<40x24xf32>
    }"""
    m, args = _inputs(text)
    for choice in ("gemm", "blas"):
        exe = xltune.compile(text, backend="cpu", config={"cpu.fusion.0.dot": choice})
        assert exe.stats["native_kernels"] == 1 and exe.stats["fallback_ops"] == 0, exe.stages["schedule"]
        np.testing.assert_allclose(exe(*args), reference(m, *args)[0], rtol=1e-5, atol=1e-5)


# ---- code and library ------------------------------------------------------------------------------------
def test_micro_kernel_uses_the_targets_vector_width():
    from xltune.backends.cpu.llvm_target import host
    module = dot_module((64, 64), (64, 64), [], [], [1], [0])
    exe = build_cpu(module, {"cpu.dot.dot": "gemm"})
    lanes = host().vector_bits // 32
    assert f"<{lanes} x float>" in exe.stages["llvm"]
    assert f"llvm.fma.v{lanes}f32" in exe.stages["llvm"]


def test_blas_is_a_private_instance_called_from_native_code():
    if not blas.available():
        pytest.skip(blas.unavailable())
    lib = blas.library()
    assert lib.path != lib.source            # a copy of numpy's library: its settings are ours
    core = blas._host_core()
    if core and "XLTUNE_BLAS_CORETYPE" not in os.environ:
        assert lib.corename.upper() == core  # picked for this CPU, whatever OPENBLAS_CORETYPE says
    module = dot_module((40, 30), (30, 20), [], [], [1], [0])
    exe = build_cpu(module, {"cpu.dot.dot": "blas"})
    assert blas.SGEMM in exe.stages["llvm"]
    assert exe.stats["fallback_ops"] == 0
    # a second compile of the same program loads the cached object and binds the BLAS again
    again = build_cpu(module, {"cpu.dot.dot": "blas"})
    assert again.stats["object_cache"] in ("hit", "off")
    x, y = np.ones((40, 30), np.float32), np.ones((30, 20), np.float32)
    np.testing.assert_array_equal(again(x, y), np.full((40, 20), 30, np.float32))


def test_no_blas_knob_where_blas_cannot_compute_it():
    assert not any(k.name.endswith(".dot") for k in get_backend("cpu").knobs(
        dot_module((5, 6), (6, 7), [], [], [1], [0], "f16")))
    assert not any(k.name.endswith(".dot") for k in get_backend("cpu").knobs(
        dot_module((5, 6), (6, 7), [], [], [1], [0], "i8", "i8", "i32")))
    # an operand whose free dims cannot be one stride (lhs [m0, k, m1])
    module = dot_module((3, 6, 4), (6, 7), [], [], [1], [0])
    assert not any(k.name.endswith(".dot") for k in get_backend("cpu").knobs(module))
    _check(module, what="split free dims")


def test_dot_workloads_run_without_fallbacks(workloads_dir):
    for name in ("matmul", "mlp"):
        text = (workloads_dir / f"{name}.cpu.mlir").read_text()
        exe = xltune.compile(text, backend="cpu")
        assert exe.stats["fallback_ops"] == 0, (name, exe.stats.get("fallbacks"))
    text = (workloads_dir / "attention.cpu.mlir").read_text()
    exe = xltune.compile(text, backend="cpu")
    assert not any("dot_general" in f or "library" in f for f in exe.stats.get("fallbacks", [])), \
        exe.stats.get("fallbacks")


def test_knob_defaults_use_threads_for_big_products_only():
    big = [k for k in get_backend("cpu").knobs(dot_module((256, 256), (256, 256), [], [], [1], [0]))
           if k.name.endswith(".threads")]
    small = [k for k in get_backend("cpu").knobs(dot_module((4, 8), (8, 4), [], [], [1], [0]))
             if k.name.endswith(".threads")]
    assert big and big[0].default == host_threads()
    assert not small
