"""Native reductions on the CPU (lone reduces and `input` fusions) against the interpreter.

Exact where the order of the steps cannot matter (integers, pred, min/max with NaN and signed
zeros, bodies run as they are); float sums and products within the bound that holds for *every*
order of the steps, (n - 1) u sum|x| (u: the accumulator's unit roundoff), plus the result's
own rounding. Every layout (row, column, outer+column, generic, full) and every knob value.
"""
from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xltune
from cpu_testlib import assert_bitwise, build_cpu, edge_values, fuse_all, random_values, reference
from xltune.backends import get_backend
from xltune.ir import dtypes as D
from xltune.ir.types import TensorType

INIT = {"add": 0, "multiply": 1, "maximum": "-inf", "minimum": "inf", "and": -1, "or": 0, "xor": 0}


def _init_literal(op, dt) -> str:
    v = INIT[op]
    if dt.is_pred:
        return {"add": "false", "multiply": "true", "maximum": "false", "minimum": "true",
                "and": "true", "or": "false", "xor": "false"}[op]
    if dt.is_int:
        if op == "maximum":
            return str(-(1 << (dt.bits - 1)) if dt.is_signed else 0)
        if op == "minimum":
            return str((1 << (dt.bits - 1)) - 1 if dt.is_signed else (1 << dt.bits) - 1)
        if op == "and":
            return "-1" if dt.is_signed else str((1 << dt.bits) - 1)
        return str(v)
    if dt.is_complex:
        return f"({float(v)}, 0.0)"
    if v == "-inf":
        return "0xFF800000" if dt.name == "f32" else {"f16": "0xFC00", "bf16": "0xFF80",
                                                      "f64": "0xFFF0000000000000"}[dt.name]
    if v == "inf":
        return "0x7F800000" if dt.name == "f32" else {"f16": "0x7C00", "bf16": "0x7F80",
                                                      "f64": "0x7FF0000000000000"}[dt.name]
    return f"{float(v):e}"


def reduce_text(shape, dims, dt, op, init=None) -> str:
    t = TensorType(tuple(shape), dt)
    out = TensorType(tuple(n for d, n in enumerate(shape) if d not in dims), dt)
    s = TensorType((), dt)
    init = _init_literal(op, dt) if init is None else init
    return f"""
func.func @main(%x: {t}) -> {out} {{
  %i = stablehlo.constant dense<{init}> : {s}
  %r = stablehlo.reduce(%x init: %i) applies stablehlo.{op} across dimensions = {list(dims)} : ({t}, {s}) -> {out}
  return %r : {out}
}}
"""


def _values(dt, shape, rng, op):
    n = math.prod(shape)
    if (dt.is_float or dt.is_complex) and op == "multiply":   # near 1: products stay finite
        v = 1 + 0.02 * rng.standard_normal(n)
        if dt.is_complex:
            v = v + 0.02j * rng.standard_normal(n)
        return v.astype(dt.np_dtype).reshape(shape)
    v = random_values(dt, n, rng)
    if op in ("maximum", "minimum") and n >= 8:     # NaN, infinities, signed zeros somewhere
        e = edge_values(dt)
        k = min(len(e), n // 4)
        v[rng.choice(n, k, replace=False)] = rng.choice(e, k)
    return v.reshape(shape)


def _unit_roundoff(dt) -> float:
    if dt.name in ("f16", "bf16", "f32"):
        return 2.0 ** -24        # narrow floats accumulate in f32
    return 2.0 ** -53


def _ulp(dt, v):
    fi = np.finfo(dt.np_dtype) if dt.np_dtype in (np.float16, np.float32, np.float64) else \
        ml_dtypes.finfo(dt.np_dtype)
    a = np.maximum(np.abs(v), float(fi.tiny))
    return np.exp2(np.floor(np.log2(a)) - int(fi.nmant))


def assert_reduced(got, want, x, dims, dt, op, what=""):
    """got == want exactly, or within the any-order bound for float add/multiply."""
    got, want = np.asarray(got), np.asarray(want)
    if not ((dt.is_float or dt.is_complex) and op in ("add", "multiply")):
        assert_bitwise(got, want, what)
        return
    assert got.shape == want.shape and got.dtype == want.dtype, what
    n = math.prod(x.shape[d] for d in dims)
    u = _unit_roundoff(dt.component if dt.is_complex else dt)
    xa = np.abs(x.astype(np.complex128 if dt.is_complex else np.float64))
    if op == "add":
        scale = xa.sum(axis=tuple(dims))
    else:
        scale = np.abs(want.astype(np.complex128 if dt.is_complex else np.float64))
    bound = 1.01 * max(n - 1, 1) * u * scale * (2 if dt.is_complex else 1)
    for part in ((lambda a: a.real), (lambda a: a.imag)) if dt.is_complex else ((lambda a: a),):
        g = part(got.astype(np.complex128 if dt.is_complex else np.float64))
        w = part(want.astype(np.complex128 if dt.is_complex else np.float64))
        tol = bound + _ulp(dt.component if dt.is_complex else dt, w)
        same = (g == w) | (np.isnan(g) & np.isnan(w))
        bad = ~same & ~(np.abs(g - w) <= tol)
        assert not bad.any(), f"{what}: {int(bad.sum())} outside the bound, e.g. got {g[bad][:3]} want {w[bad][:3]}"


def check(text, args, config=None, dims=None, dt=None, op=None, fuse=None, expect_native=True):
    m = xltune.parse(text)
    if fuse:
        m = fuse_all(m, kind=fuse)
    exe = build_cpu(m, config)
    if expect_native:
        assert exe.stats["fallback_ops"] == 0, exe.stats.get("fallbacks")
    got = exe(*args)
    want = reference(m, *args)
    got = [got] if not isinstance(got, (list, tuple)) else list(got)
    for g, w in zip(got, want):
        if op is None:
            assert_bitwise(g, w, text)
        else:
            assert_reduced(g, w, args[0], dims, dt, op, f"{op} {dt} dims {dims} {config}")
    return exe


# ---- every dtype x every body op ---------------------------------------------------------------------
DTYPES = [D.I1, D.I4, D.I8, D.I16, D.I32, D.I64, D.UI8, D.UI16, D.UI32, D.UI64,
          D.F16, D.BF16, D.F32, D.F64, D.C64, D.C128]
OPS = ["add", "multiply", "maximum", "minimum", "and", "or", "xor"]


def _valid(op, dt):
    if op in ("and", "or", "xor"):
        return dt.is_int or dt.is_pred
    if op in ("maximum", "minimum") and dt.is_complex:
        return True
    return True


@pytest.mark.parametrize("dt", DTYPES, ids=str)
@pytest.mark.parametrize("op", OPS)
def test_every_dtype_and_op(dt, op):
    if not _valid(op, dt):
        pytest.skip(f"{op} on {dt}")
    rng = np.random.default_rng(hash((op, dt.name)) % 2**32)
    for shape, dims in (((6, 37), (1,)), ((37, 6), (0,)), ((300,), (0,))):
        x = _values(dt, shape, rng, op)
        check(reduce_text(shape, dims, dt, op), [x], dims=dims, dt=dt, op=op)


# ---- layouts ------------------------------------------------------------------------------------------
LAYOUTS = [
    ((4, 5, 6), (2,)),          # row
    ((4, 5, 6), (1, 2)),        # row, two reduced dims
    ((4, 5, 6), (0,)),          # column
    ((4, 5, 6), (0, 1)),        # column, two reduced dims
    ((4, 5, 6), (1,)),          # outer + column
    ((4, 5, 6), (0, 2)),        # generic
    ((3, 4, 5, 6), (0, 2)),     # generic
    ((4, 5, 6), (0, 1, 2)),     # full
    ((4, 1, 6), (1,)),          # only a unit dim reduced
    ((1, 7, 1), (0, 2)),        # unit dims around
    ((4, 5), ()),               # nothing reduced
    ((0, 5), (0,)),             # empty reduced dim: the init everywhere
    ((5, 0), (0,)),             # empty result
    ((1,), (0,)),
]


@pytest.mark.parametrize("shape,dims", LAYOUTS, ids=[f"{s}-{d}" for s, d in LAYOUTS])
@pytest.mark.parametrize("dt,op", [(D.F32, "add"), (D.I32, "add"), (D.F32, "maximum"), (D.BF16, "add")],
                         ids=["f32add", "i32add", "f32max", "bf16add"])
def test_layouts(shape, dims, dt, op):
    rng = np.random.default_rng(len(shape) * 7 + len(dims))
    x = _values(dt, shape, rng, op)
    check(reduce_text(shape, dims, dt, op), [x], dims=dims, dt=dt, op=op)


def test_nonzero_init_counts_once_when_split_over_threads():
    # a full reduction split into chunks: every chunk starts from the identity, the init is
    # folded in once
    n = 1 << 16
    text = reduce_text((n,), (0,), D.F32, "add", init="1.000000e+03")
    x = np.ones(n, np.float32)
    for threads in (1, 2, 8):
        exe = check(text, [x], {"cpu.r.threads": threads}, dims=(0,), dt=D.F32, op="add")
        assert exe(x) == n + 1000
    text = reduce_text((n,), (0,), D.I32, "multiply", init="3")
    x = np.full(n, -1, np.int32)
    for threads in (1, 2, 8):
        assert check(text, [x], {"cpu.r.threads": threads})(x) == 3


def test_init_from_an_argument():
    text = """
func.func @main(%x: tensor<8x33xf32>, %i: tensor<f32>) -> tensor<8xf32> {
  %r = stablehlo.reduce(%x init: %i) applies stablehlo.maximum across dimensions = [1] : (tensor<8x33xf32>, tensor<f32>) -> tensor<8xf32>
  return %r : tensor<8xf32>
}
"""
    x = np.random.default_rng(0).standard_normal((8, 33)).astype(np.float32)
    for init in (-np.inf, 0.5, 10.0):
        check(text, [x, np.array(init, np.float32)])


# ---- bodies run as they are ---------------------------------------------------------------------------------
ARGMAX = """
func.func @main(%x: tensor<6x40xf32>, %ix: tensor<6x40xi32>) -> (tensor<6xf32>, tensor<6xi32>) {
  %ninf = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %zero = stablehlo.constant dense<0> : tensor<i32>
  %r:2 = stablehlo.reduce(%x init: %ninf), (%ix init: %zero) across dimensions = [DIM] :
      (tensor<6x40xf32>, tensor<6x40xi32>, tensor<f32>, tensor<i32>) -> (tensor<6xf32>, tensor<6xi32>)
    reducer(%a: tensor<f32>, %c: tensor<f32>) (%ai: tensor<i32>, %ci: tensor<i32>) {
      %gt = stablehlo.compare GT, %a, %c : (tensor<f32>, tensor<f32>) -> tensor<i1>
      %eq = stablehlo.compare EQ, %a, %c : (tensor<f32>, tensor<f32>) -> tensor<i1>
      %lt = stablehlo.compare LT, %ai, %ci : (tensor<i32>, tensor<i32>) -> tensor<i1>
      %tie = stablehlo.and %eq, %lt : tensor<i1>
      %take = stablehlo.or %gt, %tie : tensor<i1>
      %v = stablehlo.select %take, %a, %c : tensor<i1>, tensor<f32>
      %i = stablehlo.select %take, %ai, %ci : tensor<i1>, tensor<i32>
      stablehlo.return %v, %i : tensor<f32>, tensor<i32>
    }
  return %r#0, %r#1 : tensor<6xf32>, tensor<6xi32>
}
"""


def test_variadic_argmax_body():
    rng = np.random.default_rng(3)
    x = rng.integers(-3, 4, (6, 40)).astype(np.float32)      # many ties
    ix = np.tile(np.arange(40, dtype=np.int32), (6, 1))
    check(ARGMAX.replace("DIM", "1"), [x, ix])


def test_variadic_over_columns():
    text = ARGMAX.replace("DIM", "1").replace("6x40", "40x6").replace("dimensions = [1]", "dimensions = [0]")
    rng = np.random.default_rng(4)
    x = rng.integers(-3, 4, (40, 6)).astype(np.float32)
    ix = np.tile(np.arange(40, dtype=np.int32)[:, None], (1, 6))
    check(text, [x, ix])


def test_body_of_several_ops_runs_in_order():
    # not a one-op body: run as written, steps in order (an associative body, so any order the
    # interpreter picks agrees within the any-order bound)
    text = """
func.func @main(%x: tensor<5x300xf32>) -> tensor<5xf32> {
  %z = stablehlo.constant dense<0.0> : tensor<f32>
  %r = stablehlo.reduce(%x init: %z) across dimensions = [1] : (tensor<5x300xf32>, tensor<f32>) -> tensor<5xf32>
    reducer(%a: tensor<f32>, %b: tensor<f32>) {
      %one = stablehlo.constant dense<1.0> : tensor<f32>
      %s = stablehlo.add %a, %b : tensor<f32>
      %t = stablehlo.multiply %s, %one : tensor<f32>
      stablehlo.return %t : tensor<f32>
    }
  return %r : tensor<5xf32>
}
"""
    x = np.random.default_rng(5).standard_normal((5, 300)).astype(np.float32)
    exe = check(text, [x], op="add", dims=(1,), dt=D.F32)
    seq = np.zeros(5, np.float32)
    for j in range(300):
        seq = (seq + x[:, j]).astype(np.float32)
    assert_bitwise(exe(x), seq)


# ---- input fusions ------------------------------------------------------------------------------------------
def siblings_text(dim: int) -> str:
    """Two sibling reduces of a product with a transposed operand, an epilogue of each, a loop
    output of the input's shape: one input fusion."""
    out = 64 if dim == 1 else 48
    return f"""
func.func @main(%x: tensor<64x48xf32>, %y: tensor<48x64xf32>) -> (tensor<{out}xf32>, tensor<{out}xf32>, tensor<64x48xf32>, tensor<{out}x1xf32>) {{
  %z = stablehlo.constant dense<0.0> : tensor<f32>
  %ninf = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %t = stablehlo.transpose %y, dims = [1, 0] : (tensor<48x64xf32>) -> tensor<64x48xf32>
  %p = stablehlo.multiply %x, %t : tensor<64x48xf32>
  %s = stablehlo.reduce(%p init: %z) applies stablehlo.add across dimensions = [{dim}] : (tensor<64x48xf32>, tensor<f32>) -> tensor<{out}xf32>
  %m = stablehlo.reduce(%p init: %ninf) applies stablehlo.maximum across dimensions = [{dim}] : (tensor<64x48xf32>, tensor<f32>) -> tensor<{out}xf32>
  %e = stablehlo.exponential %m : tensor<{out}xf32>
  %q = stablehlo.add %p, %x : tensor<64x48xf32>
  %r = stablehlo.reshape %s : (tensor<{out}xf32>) -> tensor<{out}x1xf32>
  %two = stablehlo.constant dense<2.0> : tensor<{out}x1xf32>
  %r2 = stablehlo.multiply %r, %two : tensor<{out}x1xf32>
  return %s, %e, %q, %r2 : tensor<{out}xf32>, tensor<{out}xf32>, tensor<64x48xf32>, tensor<{out}x1xf32>
}}
"""


@pytest.mark.parametrize("dim", [1, 0], ids=["row", "column"])
@pytest.mark.parametrize("strategy", ["column", "strided"])
def test_input_fusion_siblings_producers_epilogue_and_loop_output(dim, strategy):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((64, 48)).astype(np.float32)
    y = rng.standard_normal((48, 64)).astype(np.float32)
    m = fuse_all(xltune.parse(siblings_text(dim)), kind="input")
    exe = build_cpu(m, {"cpu.fusion.all.strategy": strategy})
    assert exe.stats["fallback_ops"] == 0, exe.stats.get("fallbacks")
    got, want = exe(x, y), reference(m, x, y)
    p = x * y.T
    assert_reduced(got[0], want[0], p, (dim,), D.F32, "add")
    np.testing.assert_allclose(got[1], want[1], rtol=4e-6)      # exp of an exact max
    assert_bitwise(got[2], want[2])
    assert_reduced(got[3].reshape(-1) / 2, want[3].reshape(-1) / 2, p, (dim,), D.F32, "add")


def test_sumsq_pipeline_is_one_native_kernel():
    text = """
func.func @main(%x: tensor<100000xf32>) -> tensor<f32> {
  %sq = stablehlo.multiply %x, %x : tensor<100000xf32>
  %z = stablehlo.constant dense<0.0> : tensor<f32>
  %r = stablehlo.reduce(%sq init: %z) applies stablehlo.add across dimensions = [0] : (tensor<100000xf32>, tensor<f32>) -> tensor<f32>
  return %r : tensor<f32>
}
"""
    exe = xltune.compile(text, backend="cpu")
    assert exe.stats["fallback_ops"] == 0 and exe.stats["native_kernels"] == 1
    x = np.random.default_rng(7).standard_normal(100000).astype(np.float32)
    assert_reduced(exe(x), reference(xltune.parse(text), x)[0], x * x, (0,), D.F32, "add")


def test_unsupported_body_falls_back_with_a_reason():
    text = """
func.func @main(%x: tensor<4x8xcomplex<f64>>) -> tensor<4xcomplex<f64>> {
  %z = stablehlo.constant dense<(0.0, 0.0)> : tensor<complex<f64>>
  %r = stablehlo.reduce(%x init: %z) across dimensions = [1] : (tensor<4x8xcomplex<f64>>, tensor<complex<f64>>) -> tensor<4xcomplex<f64>>
    reducer(%a: tensor<complex<f64>>, %b: tensor<complex<f64>>) {
      %s = stablehlo.tanh %b : tensor<complex<f64>>
      %t = stablehlo.add %a, %s : tensor<complex<f64>>
      stablehlo.return %t : tensor<complex<f64>>
    }
  return %r : tensor<4xcomplex<f64>>
}
"""
    rng = np.random.default_rng(8)
    x = (rng.uniform(1, 2, (4, 8)) + 1j * rng.uniform(1, 2, (4, 8))).astype(np.complex128)
    exe = check(text, [x], op="add", dims=(1,), dt=D.C128, expect_native=False)
    assert exe.stats["fallback_ops"] == 1 and "tanh" in exe.stats["fallbacks"][0]


# ---- knobs ------------------------------------------------------------------------------------------------
KNOB_CASES = [
    (reduce_text((7, 300), (1,), D.F32, "add"), (7, 300), (1,), D.F32, "add"),
    (reduce_text((300, 70), (0,), D.F32, "add"), (300, 70), (0,), D.F32, "add"),
    (reduce_text((9, 40, 70), (1,), D.I32, "add"), (9, 40, 70), (1,), D.I32, "add"),
    (reduce_text((9, 40, 70), (0, 2), D.F64, "maximum"), (9, 40, 70), (0, 2), D.F64, "maximum"),
    (reduce_text((1 << 16,), (0,), D.F32, "add"), (1 << 16,), (0,), D.F32, "add"),
    (reduce_text((1 << 15,), (0,), D.BF16, "add"), (1 << 15,), (0,), D.BF16, "add"),
    (reduce_text((64, 600), (1,), D.F16, "multiply"), (64, 600), (1,), D.F16, "multiply"),
]


def _knobs(text):
    return [k for k in get_backend("cpu").knobs(xltune.parse(text)) if k.name.startswith("cpu.")]


def test_knobs_declared():
    names = {k.name.rsplit(".", 1)[1] for k in _knobs(KNOB_CASES[0][0])}
    assert {"vector_width", "accumulators", "row_block", "reassociate"} <= names, names
    assert "threads" not in names          # 2100 elements: not worth a thread
    names = {k.name.rsplit(".", 1)[1] for k in _knobs(KNOB_CASES[4][0])}
    assert "threads" in names, names
    names = {k.name.rsplit(".", 1)[1] for k in _knobs(KNOB_CASES[1][0])}
    assert {"strategy", "column_block", "unroll"} <= names, names
    names = {k.name.rsplit(".", 1)[1] for k in _knobs(KNOB_CASES[2][0])}
    assert "reassociate" not in names      # integer sums give one answer in any order


@pytest.mark.parametrize("case", range(len(KNOB_CASES)))
def test_every_knob_value_alone(case):
    text, shape, dims, dt, op = KNOB_CASES[case]
    x = _values(dt, shape, np.random.default_rng(case), op)
    for k in _knobs(text):
        for v in k.choices:
            check(text, [x], {k.name: v}, dims=dims, dt=dt, op=op)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.integers(0, len(KNOB_CASES) - 1), data=st.data())
def test_random_configs(case, data):
    text, shape, dims, dt, op = KNOB_CASES[case]
    config = {k.name: data.draw(st.sampled_from(k.choices), label=k.name) for k in _knobs(text)}
    x = _values(dt, shape, np.random.default_rng(case), op)
    check(text, [x], config, dims=dims, dt=dt, op=op)


def test_strict_order_is_sequential():
    # reassociate off: each output is accumulated left to right in f32, whatever the other knobs
    text = reduce_text((3, 1000), (1,), D.F32, "add")
    x = np.random.default_rng(9).standard_normal((3, 1000)).astype(np.float32)
    seq = np.zeros(3, np.float32)
    for j in range(1000):
        seq = (seq + x[:, j]).astype(np.float32)
    for vw in (0, 16):
        exe = build_cpu(xltune.parse(text), {"cpu.r.reassociate": False, "cpu.r.vector_width": vw,
                                             "cpu.r.accumulators": 4})
        assert_bitwise(exe(x), seq)


def test_small_reductions_compile_without_llvm_warnings(capfd, monkeypatch):
    # width hints are clipped to short loops: LLVM would otherwise print "loop not vectorized"
    monkeypatch.setenv("XLTUNE_OBJECT_CACHE", "0")      # really run LLVM
    for shape, dims, dt, op in [((2, 3), (1,), D.F32, "add"), ((2, 3), (0,), D.I16, "maximum"),
                                ((3, 5), (0, 1), D.BF16, "add"), ((6, 4), (1,), D.C64, "add")]:
        text = reduce_text(shape, dims, dt, op)
        x = _values(dt, shape, np.random.default_rng(0), op)
        check(text, [x], dims=dims, dt=dt, op=op)
        xltune.compile(text, backend="cpu", use_tuned=False)
    assert "not vectorized" not in capfd.readouterr().err
