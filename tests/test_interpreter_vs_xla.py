"""The interpreter against XLA (through jax, when installed) on edge values of every dtype.

The conformance files cover typical values; this sweeps the edges (zeros of both signs, NaN,
infinities, extremes, out-of-range shifts and conversions) where implementations differ.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from xltune.interpreter import evaluate_instruction
from xltune.ir import Computation, tensor
from xltune.ir import dtypes as D

jax = pytest.importorskip("jax")
pytestmark = pytest.mark.slow
lax = jax.lax
jnp = jax.numpy



@pytest.fixture(autouse=True, scope="module")
def _x64():
    """64-bit types need jax's x64 mode; restore it so other tests in this worker see jax's default."""
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", old)


INT_TYPES = ["i8", "i16", "i32", "i64", "ui8", "ui16", "ui32", "ui64"]
FLOAT_TYPES = ["f16", "bf16", "f32", "f64"]


def _edge_values(dt: D.DType) -> np.ndarray:
    if dt.is_int:
        info = np.iinfo(dt.np_dtype)
        vals = {0, 1, 2, 3, 7, info.max, info.max - 1, info.min, info.min + 1, info.max // 2, dt.bits - 1, dt.bits,
                dt.bits + 1}
        if dt.is_signed:
            vals |= {-1, -2, -3, -7, -dt.bits}
        return np.array(sorted(int(v) for v in vals if info.min <= v <= info.max), dtype=dt.np_dtype)
    # no subnormals: XLA on CPU flushes them to zero (FTZ/DAZ), StableHLO and xltune keep them
    vals = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 1e-3, -7.25, np.inf, -np.inf, np.nan, 65504.0, 1e30, -1e30]
    with np.errstate(all="ignore"):
        return np.array(vals, np.float64).astype(dt.np_dtype)


def _pairs(dt):
    v = _edge_values(dt)
    a, b = zip(*itertools.product(v, v))
    return np.array(a, dt.np_dtype), np.array(b, dt.np_dtype)


def _run(opcode, args, dts, attrs=None, type=None):
    c = Computation("main")
    ps = [c.add_parameter(tensor(np.shape(a), dt)) for a, dt in zip(args, dts)]
    inst = c.add(opcode, ps, attrs=attrs or {}, type=type)
    return evaluate_instruction(inst, list(args))


def _same(ours, theirs, dt: D.DType):
    theirs = np.asarray(theirs)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    if dt.is_float:
        o, t = ours.astype(np.float64), theirs.astype(np.float64)
        same = (o == t) | (np.isnan(o) & np.isnan(t))
        same &= (np.signbit(o) == np.signbit(t)) | np.isnan(o)
        return same
    return ours == theirs


BINARY_INT = {
    "add": lax.add, "subtract": lax.sub, "multiply": lax.mul, "divide": lax.div, "remainder": lax.rem,
    "maximum": lax.max, "minimum": lax.min, "and": lax.bitwise_and, "or": lax.bitwise_or, "xor": lax.bitwise_xor,
    "shift_left": lax.shift_left, "shift_right_arithmetic": lax.shift_right_arithmetic,
    "shift_right_logical": lax.shift_right_logical,
}


@pytest.mark.parametrize("dtn", INT_TYPES)
@pytest.mark.parametrize("opcode", sorted(BINARY_INT))
def test_integer_binary_ops_match_xla(opcode, dtn):
    dt = D.dtype(dtn)
    a, b = _pairs(dt)
    ours = _run(opcode, [a, b], [dt, dt])
    theirs = np.asarray(jax.jit(BINARY_INT[opcode])(a, b))
    bad = ~_same(ours, theirs, dt)
    assert not bad.any(), list(zip(a[bad][:5], b[bad][:5], ours[bad][:5], theirs[bad][:5]))


BINARY_FLOAT = {"add": lax.add, "subtract": lax.sub, "multiply": lax.mul, "divide": lax.div, "remainder": lax.rem,
                "maximum": lax.max, "minimum": lax.min, "next_after": lax.nextafter}


@pytest.mark.parametrize("dtn", FLOAT_TYPES)
@pytest.mark.parametrize("opcode", sorted(BINARY_FLOAT))
def test_float_binary_ops_match_xla_bit_for_bit(opcode, dtn):
    dt = D.dtype(dtn)
    a, b = _pairs(dt)
    ours = _run(opcode, [a, b], [dt, dt])
    theirs = np.asarray(jax.jit(BINARY_FLOAT[opcode])(a, b))
    bad = ~_same(ours, theirs, dt)
    assert not bad.any(), list(zip(a[bad][:5], b[bad][:5], ours[bad][:5], theirs[bad][:5]))


UNARY_INT = {"negate": lax.neg, "abs": lax.abs, "not": lax.bitwise_not, "popcnt": lax.population_count,
             "count_leading_zeros": lax.clz, "sign": lax.sign}


@pytest.mark.parametrize("dtn", INT_TYPES)
@pytest.mark.parametrize("opcode", sorted(UNARY_INT))
def test_integer_unary_ops_match_xla(opcode, dtn):
    dt = D.dtype(dtn)
    if opcode in ("abs", "negate", "sign") and dt.is_unsigned:
        pytest.skip("jax rejects it for unsigned types")
    x = _edge_values(dt)
    ours = _run(opcode, [x], [dt])
    theirs = np.asarray(jax.jit(UNARY_INT[opcode])(x))
    assert (ours == theirs).all(), list(zip(x, ours, theirs))


UNARY_FLOAT_EXACT = {"negate": lax.neg, "abs": lax.abs, "sign": lax.sign, "floor": lax.floor, "ceil": lax.ceil,
                     "round_nearest_even": lambda x: lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN),
                     "round_nearest_afz": lambda x: lax.round(x, lax.RoundingMethod.AWAY_FROM_ZERO),
                     "sqrt": lax.sqrt, "is_finite": lax.is_finite}


@pytest.mark.parametrize("dtn", FLOAT_TYPES)
@pytest.mark.parametrize("opcode", sorted(UNARY_FLOAT_EXACT))
def test_float_unary_exact_ops_match_xla(opcode, dtn):
    dt = D.dtype(dtn)
    x = _edge_values(dt)
    ours = _run(opcode, [x], [dt])
    theirs = np.asarray(jax.jit(UNARY_FLOAT_EXACT[opcode])(x))
    rdt = D.from_numpy(theirs.dtype)
    bad = ~_same(ours, theirs, rdt)
    assert not bad.any(), list(zip(x[bad], ours[bad], theirs[bad]))


@pytest.mark.parametrize("src", INT_TYPES + FLOAT_TYPES + ["i1"])
@pytest.mark.parametrize("dst", INT_TYPES + FLOAT_TYPES + ["i1"])
def test_convert_matches_xla(src, dst):
    s, d = D.dtype(src), D.dtype(dst)
    x = _edge_values(s) if not s.is_pred else np.array([True, False])
    ours = _run("convert", [x], [s], type=tensor(x.shape, d))
    theirs = np.asarray(jax.jit(lambda v: lax.convert_element_type(v, d.np_dtype))(x))
    bad = ~_same(ours, theirs, d)
    assert not bad.any(), list(zip(x[bad], ours[bad], theirs[bad]))


def _to(prim):
    return lambda a, b: prim.bind(a, b)


@pytest.mark.parametrize("dtn", FLOAT_TYPES)
@pytest.mark.parametrize("direction", ["EQ", "NE", "LT", "LE", "GT", "GE"])
@pytest.mark.parametrize("ctype", ["FLOAT", "TOTALORDER"])
def test_compare_matches_xla(dtn, direction, ctype):
    dt = D.dtype(dtn)
    a, b = _pairs(dt)
    ours = _run("compare", [a, b], [dt, dt], attrs={"comparison_direction": direction, "compare_type": ctype})
    fn = {"EQ": lax.eq, "NE": lax.ne, "LT": lax.lt, "LE": lax.le, "GT": lax.gt, "GE": lax.ge}[direction]
    if ctype == "TOTALORDER":
        fn = {"EQ": getattr(lax, "eq_to_p", None) and _to(lax.eq_to_p), "LT": getattr(lax, "lt_to_p", None)
              and _to(lax.lt_to_p), "LE": getattr(lax, "le_to_p", None) and _to(lax.le_to_p)}.get(direction)
        if not fn:
            pytest.skip("this jax has no total-order comparison for it")
    theirs = np.asarray(jax.jit(fn)(a, b))
    assert (ours == theirs).all()
