"""Every elementwise op x every dtype on the CPU backend against the interpreter.

Integer, pred and correctly rounded float ops must match bit for bit (NaN matches NaN);
transcendentals within a few ulps (the vectorizable polynomials; see xltune/codegen/vmath.py).
Inputs mix edge values (NaN, inf, -0, denormals, INT_MIN, zero divisors, shift amounts >= the bit
width) with random ones; a hypothesis test draws more.
"""
from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cpu_testlib import (assert_bitwise, build_cpu, edge_values, one_op, random_values, reference,
                         tensor, ulp_error)
from xltune.codegen.scalar import unsupported_reason
from xltune.errors import XltuneError
from xltune.ir import dtypes as D
from xltune.ir.ops import ELEMENTWISE, OPS

DTYPES = [D.I1, D.I4, D.I8, D.I16, D.I32, D.I64, D.UI4, D.UI8, D.UI16, D.UI32, D.UI64,
          D.F16, D.BF16, D.F32, D.F64, D.C64, D.C128]

# Float results that are not correctly rounded by construction: (op) -> max ulps for f32/f64
# (f16/bf16 compute in f32 and round, so they may differ by one ulp of their own).
APPROX_ULPS = {
    "exponential": 4, "exponential_minus_one": 6, "log": 4, "log_plus_one": 6, "logistic": 6,
    "tanh": 8, "sine": 4, "cosine": 4, "tan": 4, "erf": 8, "erf_inv": 16, "erfc": 8, "cbrt": 2,
    "power": 4, "atan2": 4, "acos": 4, "acosh": 4, "asin": 4, "asinh": 4, "atan": 4, "atanh": 4,
    "cosh": 4, "sinh": 4, "lgamma": 64, "rsqrt": 2, "next_after": 0,
}
# The C library and scipy disagree this much on some f64 functions (far tails).
F64_LIBM_ULPS = {"erfc": 512, "lgamma": 512, "erf": 8}
# Complex results go through textbook formulas: compare with a relative tolerance.
COMPLEX_RTOL = 1e-5

N_RANDOM = 64
UNARY = sorted(n for n, d in OPS.items() if d.category == ELEMENTWISE and d.arity == 1
               and n not in ("convert", "reduce_precision"))
BINARY = sorted(n for n, d in OPS.items() if d.category == ELEMENTWISE and d.arity == 2
                and n != "compare")


def _valid(opcode, types, attrs=None):
    try:
        OPS[opcode].infer_type(types, attrs or {}, [])
        return True
    except XltuneError:
        return False


def _cases(ops, arity):
    for op in ops:
        for dt in DTYPES:
            t = tensor((N_RANDOM,), dt)
            if _valid(op, [t] * arity):
                yield pytest.param(op, dt, id=f"{op}-{dt.name}")


def _inputs(dt, arity, rng):
    e = edge_values(dt)
    if arity == 1:
        return [np.concatenate([e, random_values(dt, N_RANDOM, rng)])]
    pairs = np.array(list(itertools.product(range(len(e)), repeat=2)))
    a = np.concatenate([e[pairs[:, 0]], random_values(dt, N_RANDOM, rng)])
    b = np.concatenate([e[pairs[:, 1]], random_values(dt, N_RANDOM, rng)])
    return [a, b]


def _check(module, args, opcode, dt_out):
    exe = build_cpu(module)
    assert exe.stats["fallback_ops"] == 0, exe.stages["schedule"]
    got = exe(*args)
    want = reference(module, *args)[0]
    in_complex = any(a.dtype.kind == "c" for a in args)
    _compare(got, want, opcode, dt_out, in_complex)
    return exe


_COMPLEX_EXACT = ("add", "subtract", "negate", "conj", "real", "imag", "complex", "select", "compare",
                  "convert")


def _compare(got, want, opcode, dt_out, in_complex=False):
    if (dt_out.is_complex or in_complex) and opcode not in _COMPLEX_EXACT:
        _assert_close_complex(got, want, opcode)
        return
    if dt_out.is_float and opcode in APPROX_ULPS:
        limit = APPROX_ULPS[opcode] if dt_out.name in ("f32", "f64") else 1
        if dt_out.name == "f64":
            limit = max(limit, F64_LIBM_ULPS.get(opcode, 0))
        err = ulp_error(got, want, dt_out)
        assert err <= limit, f"{opcode} on {dt_out}: {err} ulps > {limit}"
        return
    assert_bitwise(got, want, f"{opcode} on {dt_out}")


def _assert_close_complex(got, want, what):
    g, w = got.astype(np.complex128), want.astype(np.complex128)
    fin = np.isfinite(w)
    assert (np.isfinite(g) == fin).all(), f"{what}: finiteness differs: {g[np.isfinite(g) != fin]} vs {w[np.isfinite(g) != fin]}"
    err = np.abs(g[fin] - w[fin])
    bad = err > COMPLEX_RTOL * np.abs(w[fin]) + 1e-37
    assert not bad.any(), f"{what}: {g[fin][bad][:4]} vs {w[fin][bad][:4]}"


def _natively(module) -> bool:
    inst = module.entry.outputs[0]
    return unsupported_reason(inst) is None


def _oracle_domain(opcode, dt, x):
    """Drop inputs where the oracle itself is known to be off (not what is under test)."""
    if dt.is_complex:
        # extreme magnitudes: numpy's complex128 special-casing differs from textbook formulas
        c = x.astype(np.complex128)
        ok = np.ones(x.shape, bool)
        for part in (np.abs(c), np.abs(c.real), np.abs(c.imag)):
            ok &= (part == 0) | ((part > 1e-30) & (part < 1e30))
        return x[ok]
    if opcode == "erfc" and dt.name == "f64":
        # scipy's erfc flushes results below 2**-1022 to zero; the C library keeps denormals
        return x[~(x.astype(np.float64) > 26.5)]
    if opcode == "lgamma" and dt.is_float:
        # scipy's gammaln(denormal) is inf; the C library's answer is right
        return x[~((x != 0) & (np.abs(x.astype(np.float64)) < float(np.finfo(np.float64).tiny)))]
    return x


@pytest.mark.parametrize("opcode,dt", list(_cases(UNARY, 1)))
def test_unary(opcode, dt):
    rng = np.random.default_rng(zlib.crc32(f"{opcode}-{dt.name}".encode()))
    args = [_oracle_domain(opcode, dt, _inputs(dt, 1, rng)[0])]
    m = one_op(opcode, [tensor(args[0].shape, dt)])
    if not _natively(m):
        pytest.skip(f"no native lowering: {unsupported_reason(m.entry.outputs[0])}")
    _check(m, args, opcode, m.entry.outputs[0].dtype)


@pytest.mark.parametrize("opcode,dt", list(_cases(BINARY, 2)))
def test_binary(opcode, dt):
    rng = np.random.default_rng(zlib.crc32(f"{opcode}-{dt.name}".encode()))
    args = _inputs(dt, 2, rng)
    if dt.is_complex:
        keep = np.isin(args[0], _oracle_domain(opcode, dt, args[0])) & \
            np.isin(args[1], _oracle_domain(opcode, dt, args[1]))
        args = [a[keep] for a in args]
    if opcode in ("shift_left", "shift_right_logical", "shift_right_arithmetic") or opcode == "power" and dt.is_int:
        # amounts / exponents: small values matter most; keep some huge ones from the edges
        args[1] = np.where(np.arange(args[1].size) % 3 == 0, args[1],
                           (np.abs(args[1].astype(np.int64)) % (dt.bits + 3)).astype(dt.np_dtype))
    m = one_op(opcode, [tensor(args[0].shape, dt)] * 2)
    if not _natively(m):
        pytest.skip(f"no native lowering: {unsupported_reason(m.entry.outputs[0])}")
    _check(m, args, opcode, m.entry.outputs[0].dtype)


@pytest.mark.parametrize("direction", ["EQ", "NE", "LT", "LE", "GT", "GE"])
@pytest.mark.parametrize("dt", DTYPES, ids=lambda d: d.name)
def test_compare(direction, dt):
    rng = np.random.default_rng(7)
    args = _inputs(dt, 2, rng)
    for ct in ([None, "TOTALORDER"] if dt.is_float else [None]):
        attrs = {"comparison_direction": direction}
        if ct:
            attrs["compare_type"] = ct
        m = one_op("compare", [tensor(args[0].shape, dt)] * 2, attrs)
        assert _natively(m)
        _check(m, args, "compare", D.I1)


@pytest.mark.parametrize("src", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("dst", DTYPES, ids=lambda d: d.name)
def test_convert(src, dst):
    rng = np.random.default_rng(3)
    x = np.concatenate([edge_values(src), random_values(src, N_RANDOM, rng)])
    if src.is_float or src.is_complex:
        # values around the integer limits of the destination
        if dst.is_int:
            lim = float(2 ** (dst.bits - 1 if dst.is_signed else dst.bits))
            extra = np.array([lim, lim - 1, -lim, -lim - 1, lim * 0.75, -0.9, 0.9, 255.5, -128.5])
            with np.errstate(over="ignore", invalid="ignore"):
                x = np.concatenate([x, extra.astype(src.np_dtype)])
    m = one_op("convert", [tensor(x.shape, src)], result_type=tensor(x.shape, dst))
    assert _natively(m)
    _check(m, [x], "convert", dst)


@pytest.mark.parametrize("dt", [D.F16, D.BF16, D.F32, D.F64], ids=lambda d: d.name)
@pytest.mark.parametrize("ebits,mbits", [(5, 10), (8, 7), (4, 3), (5, 2), (8, 23), (11, 52), (2, 0)])
def test_reduce_precision(dt, ebits, mbits):
    rng = np.random.default_rng(5)
    x = np.concatenate([edge_values(dt), random_values(dt, N_RANDOM, rng)])
    m = one_op("reduce_precision", [tensor(x.shape, dt)], {"exponent_bits": ebits, "mantissa_bits": mbits})
    _check(m, [x], "reduce_precision", dt)


@pytest.mark.parametrize("dt", DTYPES, ids=lambda d: d.name)
def test_select_and_clamp(dt):
    rng = np.random.default_rng(11)
    n = 97
    p = rng.integers(0, 2, n).astype(bool)
    a, b = random_values(dt, n, rng), random_values(dt, n, rng)
    e = edge_values(dt)
    a[:len(e[:n])] = e[:n]
    m = one_op("select", [tensor((n,), D.I1), tensor((n,), dt), tensor((n,), dt)])
    _check(m, [p, a, b], "select", dt)
    # scalar predicate
    m = one_op("select", [tensor((), D.I1), tensor((n,), dt), tensor((n,), dt)])
    _check(m, [np.array(True), a, b], "select", dt)
    lo, hi = np.minimum(a, b).astype(dt.np_dtype), np.maximum(a, b).astype(dt.np_dtype)
    x = random_values(dt, n, rng)
    m = one_op("clamp", [tensor((n,), dt)] * 3)
    _check(m, [lo, x, hi], "clamp", dt)
    m = one_op("clamp", [tensor((), dt), tensor((n,), dt), tensor((), dt)])
    _check(m, [np.array(e[0]), x, np.array(e[-1])], "clamp", dt)


@pytest.mark.parametrize("src,dst", [(D.F32, D.I32), (D.I32, D.F32), (D.F64, D.UI64), (D.I16, D.F16),
                                     (D.BF16, D.I16), (D.UI8, D.I8), (D.F16, D.UI16), (D.I4, D.UI4)],
                         ids=lambda d: d.name)
def test_bitcast_convert(src, dst):
    rng = np.random.default_rng(13)
    x = np.concatenate([edge_values(src), random_values(src, N_RANDOM, rng)])
    if src.is_pred:
        x = x.astype(bool)
    m = one_op("bitcast_convert", [tensor(x.shape, src)], result_type=tensor(x.shape, dst))
    exe = build_cpu(m)
    if dst.is_float:
        # NaN payloads must survive: compare the bits
        got, want = exe(x), reference(m, x)[0]
        assert got.tobytes() == want.tobytes()
    else:
        _check(m, [x], "bitcast_convert", dst)


# ---- random draws ------------------------------------------------------------------------------------------
_HYPO_OPS = [(op, dt) for op in BINARY + UNARY for dt in DTYPES
             if _valid(op, [tensor((3,), dt)] * OPS[op].arity)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_ops_and_values(data):
    op, dt = data.draw(st.sampled_from(_HYPO_OPS))
    arity = OPS[op].arity
    shape = tuple(data.draw(st.lists(st.integers(1, 5), min_size=0, max_size=3)))
    n = int(np.prod(shape))
    e = edge_values(dt)
    args = []
    for _ in range(arity):
        picks = data.draw(st.lists(st.integers(0, len(e) - 1), min_size=n, max_size=n))
        args.append(e[np.array(picks, dtype=np.int64)].reshape(shape))
    m = one_op(op, [tensor(shape, dt)] * arity)
    if not _natively(m):
        return
    _check(m, args, op, m.entry.outputs[0].dtype)
