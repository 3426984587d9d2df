"""Helpers for the CPU dot tests: dot_general modules of any layout, inputs, and the comparison
with the interpreter (tolerance from the contraction length)."""
from __future__ import annotations

import math

import ml_dtypes
import numpy as np

from cpu_testlib import module_of, tensor
from xltune.ir import dtypes as D
from xltune.ir.attrs import DotDimensionNumbers
from xltune.ir.types import TensorType


def dot_module(lhs_shape, rhs_shape, lb, rb, lc, rc, lhs_dt="f32", rhs_dt=None, out_dt=None):
    rhs_dt = rhs_dt or lhs_dt
    dn = DotDimensionNumbers(tuple(lb), tuple(rb), tuple(lc), tuple(rc))
    lf = [d for d in range(len(lhs_shape)) if d not in lb and d not in lc]
    rf = [d for d in range(len(rhs_shape)) if d not in rb and d not in rc]
    shape = tuple(lhs_shape[d] for d in lb) + tuple(lhs_shape[d] for d in lf) + tuple(rhs_shape[d] for d in rf)
    out = TensorType(shape, D.dtype(out_dt or lhs_dt))
    return module_of(lambda c, ps: c.add("dot_general", ps, out, {"dot_dimension_numbers": dn}, name="dot"),
                     [tensor(lhs_shape, lhs_dt), tensor(rhs_shape, rhs_dt)], "dot")


def layout(batch, m, n, k, lhs_order, rhs_order):
    """Operand shapes and dimension numbers for logical sizes batch (list), m (list), n (list),
    k (list), with the operands' dims placed in the given orders: lhs_order is a permutation of
    [('b', i)..., ('m', i)..., ('k', i)...], rhs_order of [('b', i)..., ('k', i)..., ('n', i)...]."""
    sizes = {"b": batch, "m": m, "n": n, "k": k}
    lhs_shape = [sizes[g][i] for g, i in lhs_order]
    rhs_shape = [sizes[g][i] for g, i in rhs_order]
    lpos = {d: p for p, d in enumerate(lhs_order)}
    rpos = {d: p for p, d in enumerate(rhs_order)}
    lb = [lpos[("b", i)] for i in range(len(batch))]
    rb = [rpos[("b", i)] for i in range(len(batch))]
    lc = [lpos[("k", i)] for i in range(len(k))]
    rc = [rpos[("k", i)] for i in range(len(k))]
    # free dims appear in the result in operand order: keep the logical m/n order by placing
    # them in increasing index order within the operand (any order is a valid dot)
    return tuple(lhs_shape), tuple(rhs_shape), lb, rb, lc, rc


def values(shape, dt, rng, special=False) -> np.ndarray:
    dt = D.dtype(dt)
    n = math.prod(shape)
    npd = dt.np_dtype
    if dt.is_pred:
        return (rng.integers(0, 2, n) > 0).reshape(shape)
    if dt.is_int:
        lo, hi = (-(1 << (dt.bits - 1)), 1 << (dt.bits - 1)) if dt.is_signed else (0, 1 << dt.bits)
        if dt.bits == 64:
            v = rng.integers(lo, hi, n, dtype=np.int64 if dt.is_signed else np.uint64)
        else:
            v = rng.integers(lo, hi, n)
        return v.astype(npd).reshape(shape)
    if dt.is_complex:
        re = rng.standard_normal(n)
        im = rng.standard_normal(n)
        return (re + 1j * im).astype(npd).reshape(shape)
    v = rng.standard_normal(n)
    if special and n:
        idx = rng.integers(0, n, max(1, n // 50))
        v[idx] = rng.choice([np.inf, -np.inf, np.nan, 0.0, -0.0], len(idx))
    return v.astype(npd).reshape(shape)


def _eps(dt) -> float:
    dt = D.dtype(dt)
    if dt.name == "f64" or dt.name == "complex<f64>" or (dt.is_complex and dt.component.name == "f64"):
        return float(np.finfo(np.float64).eps)
    return float(np.finfo(np.float32).eps)


def _out_ulp(dt, want):
    dt = D.dtype(dt)
    if dt.name in ("f16", "bf16"):
        fi = np.finfo(np.float16) if dt.name == "f16" else ml_dtypes.finfo(ml_dtypes.bfloat16)
        return float(fi.eps) * np.abs(want) + float(fi.smallest_subnormal if dt.name == "f16" else fi.tiny)
    return 0.0


def assert_dot_close(got, want, abs_sum, k: int, out_dt, what=""):
    """got == want for integers and pred; for floats within 2 * K * eps * sum|a||b| (plus one
    unit of the result type for narrow floats); NaN and inf where the interpreter has them."""
    dt = D.dtype(out_dt)
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, f"{what}: {got.shape}/{got.dtype} vs {want.shape}/{want.dtype}"
    if not (dt.is_float or dt.is_complex):
        bad = got != want
        assert not bad.any(), f"{what}: {int(bad.sum())} mismatches, e.g. got {got[bad][:4]} want {want[bad][:4]}"
        return
    g = got.astype(np.complex128 if dt.is_complex else np.float64)
    w = want.astype(np.complex128 if dt.is_complex else np.float64)
    for part in ((lambda x: x.real, lambda x: x.imag) if dt.is_complex else (lambda x: x,)):
        gp, wp = part(g), part(w)
        assert (np.isnan(gp) == np.isnan(wp)).all(), f"{what}: NaN positions differ"
        inf = np.isinf(wp)
        assert (gp[inf] == wp[inf]).all(), f"{what}: infinities differ"
        ok = ~np.isnan(wp) & ~inf
        tol = 2.0 * max(k, 1) * _eps(dt) * np.asarray(abs_sum, np.float64) + _out_ulp(dt, wp) + 1e-300
        err = np.abs(np.where(ok, gp, 0.0) - np.where(ok, wp, 0.0))
        bad = ok & (err > tol)
        assert not bad.any(), (f"{what}: {int(bad.sum())} elements off by more than the bound, e.g. "
                               f"got {gp[bad][:3]} want {wp[bad][:3]} tol {np.broadcast_to(tol, bad.shape)[bad][:3]}")


def abs_product(lhs, rhs, lb, rb, lc, rc):
    """sum_k |a| |b| in float64 (the scale of the rounding error of any summation order)."""
    a = np.abs(np.asarray(lhs).astype(np.complex128 if np.iscomplexobj(lhs) else np.float64))
    b = np.abs(np.asarray(rhs).astype(np.complex128 if np.iscomplexobj(rhs) else np.float64))
    a = np.nan_to_num(a, nan=0.0, posinf=0.0)
    b = np.nan_to_num(b, nan=0.0, posinf=0.0)
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    la = [None] * a.ndim
    rb_ = [None] * b.ndim
    for x, y in zip(lb, rb):
        la[x] = rb_[y] = next(letters)
    for x, y in zip(lc, rc):
        la[x] = rb_[y] = next(letters)
    for i in range(a.ndim):
        if la[i] is None:
            la[i] = next(letters)
    for i in range(b.ndim):
        if rb_[i] is None:
            rb_[i] = next(letters)
    out = [la[d] for d in lb] + [la[d] for d in range(a.ndim) if d not in lb and d not in lc] + \
          [rb_[d] for d in range(b.ndim) if d not in rb and d not in rc]
    return np.einsum(f"{''.join(la)},{''.join(rb_)}->{''.join(out)}", a, b)
