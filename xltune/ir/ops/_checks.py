"""The check dialect's comparisons (stablehlo/tests/CheckOps.cpp), vectorized.

Each function returns None when the check passes, else a short message naming the first
mismatching index. The interpreter raises CheckFailure with it; the conformance runner calls the
same functions on a compiled backend's outputs.
"""
from __future__ import annotations

import numpy as np

from ...errors import ExecutionError
from .. import dtypes as D
from . import _num as N

# Defaults of the check ops, and what `stablehlo-translate --interpret` uses for the custom_call
# spellings found in the testdata files (StablehloTranslateMain.cpp).
EXPECT_CLOSE_MAX_ULP = 1
EXPECT_CLOSE_MIN_ULP = 0
EXPECT_ALMOST_EQ_TOLERANCE = 1e-4
CUSTOM_CALL_CLOSE_MAX_ULP = 3
CUSTOM_CALL_ALMOST_EQ_TOLERANCE = 1e-3


class CheckFailure(ExecutionError):
    """A check.* assertion did not hold."""


def _first_bad(bad: np.ndarray, actual, expected) -> str:
    pos = np.argwhere(bad)
    n = int(bad.sum())
    if pos.size == 0 and bad.ndim == 0:
        idx = ()
    else:
        idx = tuple(int(i) for i in pos[0])
    a = np.asarray(actual)[idx] if np.asarray(actual).ndim else np.asarray(actual)
    e = np.asarray(expected)[idx] if np.asarray(expected).ndim else np.asarray(expected)
    return f"{n} of {bad.size} element(s) differ; first at index {list(idx)}: {a!r} (actual) vs {e!r} (expected)"


def _shape_check(actual, expected):
    a, e = np.asarray(actual), np.asarray(expected)
    if a.shape != e.shape:
        return f"shape {a.shape} (actual) differs from {e.shape} (expected)"
    if a.dtype != e.dtype:
        return f"element type {a.dtype} (actual) differs from {e.dtype} (expected)"
    return None


def expect_eq(actual, expected, dt: D.DType) -> str | None:
    """Exact equality; floats compare by value with NaN == NaN (and -0 == +0)."""
    msg = _shape_check(actual, expected)
    if msg:
        return msg
    a, e = np.asarray(actual), np.asarray(expected)
    if dt.is_float or dt.is_complex:
        ac, ec = N.to_compute(a, dt), N.to_compute(e, dt)
        if dt.is_complex:
            bad = ~(_feq(ac.real, ec.real) & _feq(ac.imag, ec.imag))
        else:
            bad = ~_feq(ac, ec)
    else:
        bad = a != e
    return _first_bad(bad, a, e) if bad.any() else None


def _feq(a, b):
    return (a == b) | (np.isnan(a) & np.isnan(b))


def ulp_difference(actual, expected, dt: D.DType) -> np.ndarray:
    """ULP distance per element (uint64; max for finite vs non-finite), as CheckOps.cpp."""
    with np.errstate(all="ignore"):
        return _ulp_difference(actual, expected, dt)


def _ulp_difference(actual, expected, dt: D.DType) -> np.ndarray:
    if dt.is_complex:
        comp = dt.component
        return np.maximum(_ulp_difference(np.ascontiguousarray(actual.real), np.ascontiguousarray(expected.real), comp),
                          _ulp_difference(np.ascontiguousarray(actual.imag), np.ascontiguousarray(expected.imag), comp))
    bits = dt.bits
    ut = {8: np.uint8, 16: np.uint16, 32: np.uint32, 64: np.uint64}[bits]
    a = np.ascontiguousarray(actual)
    e = np.ascontiguousarray(expected)
    ab = a.view(ut).astype(np.uint64)
    eb = e.view(ut).astype(np.uint64)
    sign = np.uint64(1) << np.uint64(bits - 1)
    amag, emag = ab & ~sign, eb & ~sign
    af, ef = N.to_compute(a, dt), N.to_compute(e, dt)
    both_finite = np.isfinite(af) & np.isfinite(ef)
    same_sign = (ab & sign) == (eb & sign)
    diff = np.where(same_sign, np.where(amag > emag, amag - emag, emag - amag), amag + emag)
    big = np.uint64(np.iinfo(np.uint64).max)
    out = np.where(both_finite, diff, big)
    out = np.where(np.isnan(af) & np.isnan(ef), np.uint64(0), out)
    out = np.where(ab == eb, np.uint64(0), out)
    return out.astype(np.uint64)


def expect_close(actual, expected, dt: D.DType, min_ulp: int = EXPECT_CLOSE_MIN_ULP,
                 max_ulp: int = EXPECT_CLOSE_MAX_ULP) -> str | None:
    msg = _shape_check(actual, expected)
    if msg:
        return msg
    if not (dt.is_float or dt.is_complex):
        return expect_eq(actual, expected, dt)
    d = ulp_difference(np.asarray(actual), np.asarray(expected), dt)
    bad = (d > np.uint64(max_ulp)) | (d < np.uint64(min_ulp))
    if bad.any():
        return f"ULP difference outside [{min_ulp}, {max_ulp}]: " + _first_bad(bad, actual, expected)
    return None


def _almost(f: np.ndarray, g: np.ndarray, tol: float) -> np.ndarray:
    with np.errstate(all="ignore"):
        return _almost_unguarded(f, g, tol)


def _almost_unguarded(f: np.ndarray, g: np.ndarray, tol: float) -> np.ndarray:
    eq = f == g
    unordered = np.isnan(f) | np.isnan(g)
    both_nan = np.isnan(f) & np.isnan(g)
    finite = np.isfinite(f) & np.isfinite(g)
    close = np.abs(f - g) <= tol
    return eq | (unordered & both_nan) | (~unordered & finite & close)


def expect_almost_eq(actual, expected, dt: D.DType, tolerance: float = EXPECT_ALMOST_EQ_TOLERANCE) -> str | None:
    msg = _shape_check(actual, expected)
    if msg:
        return msg
    if not (dt.is_float or dt.is_complex):
        return expect_eq(actual, expected, dt)
    a, e = N.to_compute(np.asarray(actual), dt), N.to_compute(np.asarray(expected), dt)
    if dt.is_complex:
        ok = _almost(a.real, e.real, tolerance) & _almost(a.imag, e.imag, tolerance)
    else:
        ok = _almost(a, e, tolerance)
    if not ok.all():
        return f"values differ by more than {tolerance}: " + _first_bad(~ok, actual, expected)
    return None


def run_check(kind: str, actual, expected, dt: D.DType, attrs: dict | None = None,
              custom_call: bool = False) -> str | None:
    """kind: 'expect_eq' | 'expect_close' | 'expect_almost_eq' (the _const forms map onto these)."""
    attrs = attrs or {}
    if kind == "expect_eq":
        return expect_eq(actual, expected, dt)
    if kind == "expect_close":
        if custom_call:
            return expect_close(actual, expected, dt, 0, CUSTOM_CALL_CLOSE_MAX_ULP)
        return expect_close(actual, expected, dt, int(attrs.get("min_ulp_difference", EXPECT_CLOSE_MIN_ULP)),
                            int(attrs.get("max_ulp_difference", EXPECT_CLOSE_MAX_ULP)))
    if kind == "expect_almost_eq":
        tol = CUSTOM_CALL_ALMOST_EQ_TOLERANCE if custom_call else float(attrs.get("tolerance", EXPECT_ALMOST_EQ_TOLERANCE))
        return expect_almost_eq(actual, expected, dt, tol)
    raise ValueError(f"unknown check {kind!r}")
