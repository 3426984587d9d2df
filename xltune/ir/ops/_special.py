"""Special functions (the chlo ops) and bit-level float helpers.

Functions here take and return f64/c128 arrays unless they say otherwise; the caller rounds.
"""
from __future__ import annotations

import numpy as np


def _sc():
    # scipy.special costs ~0.25 s to import; only programs using special functions pay it
    import scipy.special
    return scipy.special

from .. import dtypes as D
from . import _num as N

# numpy's complex inverse trig/hyperbolic functions use the principal branches the spec names
complex_acos = np.arccos
complex_acosh = np.arccosh
complex_asin = np.arcsin
complex_asinh = np.arcsinh
complex_atanh = np.arctanh


# ---- chlo ops whose decomposition's rounding the conformance files' expected values carry ---------
def _work(dt: D.DType):
    """The type the chlo decompositions compute in: f64 for f64, else f32 (they upcast f16/bf16)."""
    w = np.float64 if dt.bits == 64 else np.float32
    return lambda v: np.asarray(v).astype(w).astype(np.float64)


def cosh_chlo(x, dt: D.DType):
    """cosh(x) = e^(x + log(1/2)) + e^(-x + log(1/2)), rounded like the decomposition."""
    r = _work(dt)
    x = r(x)
    lh = r(np.log(0.5))
    return r(r(np.exp(r(x + lh))) + r(np.exp(r(lh - x))))


def sinh_chlo(x, dt: D.DType):
    """sinh as chlo decomposes it: expm1-based for |x| < 1, exp-based otherwise."""
    r = _work(dt)
    x = r(x)
    lh = r(np.log(0.5))
    large = r(r(np.exp(r(x + lh))) - r(np.exp(r(lh - x))))
    em1 = r(np.expm1(x))
    small = r(0.5 * r(em1 + r(em1 / r(em1 + 1.0))))
    return np.where(np.abs(x) < 1.0, small, large)


def erf(x):
    return _sc().erf(x)


def erfc(x):
    return _sc().erfc(x)


def erf_inv(x):
    return _sc().erfinv(x)


def lgamma(x):
    # log|Gamma(x)|; poles (non-positive integers) give +inf. scipy computes it through Gamma,
    # which overflows for subnormal x although lgamma(x) = -log|x| there is finite (~744).
    y = _sc().gammaln(x)
    tiny = (np.abs(x) < np.finfo(np.float64).tiny) & (x != 0)
    if np.any(tiny):
        with np.errstate(divide="ignore"):
            y = np.where(tiny, -np.log(np.abs(x)), y)
    return y


def digamma(x):
    y = _sc().psi(x)
    # XLA: digamma at non-positive integers is NaN
    pole = (x <= 0) & (x == np.floor(x))
    return np.where(pole, np.nan, y)


def bessel_i1e(x):
    return _sc().i1e(x)


def polygamma(n, x):
    n_int = (n == np.floor(n)) & (n >= 0)
    safe_n = np.where(n_int, n, 0)
    y = np.where(safe_n == 0, digamma(x), _sc().polygamma(safe_n.astype(np.int64), x))
    return np.where(n_int, y, np.nan)


def zeta(x, q):
    return _sc().zeta(x, q)


def next_after(x: np.ndarray, y: np.ndarray, dt: D.DType) -> np.ndarray:
    """nextafter in the type dt itself (bit stepping), NaN if either is NaN."""
    x, y = np.broadcast_arrays(np.asarray(x), np.asarray(y))
    it = {8: np.uint8, 16: np.uint16, 32: np.uint32, 64: np.uint64}[dt.bits]
    xb = np.ascontiguousarray(x).view(it).astype(np.uint64)
    xf, yf = N.to_compute(x, dt), N.to_compute(y, dt)
    sign_bit = np.uint64(1) << np.uint64(dt.bits - 1)
    mag = xb & (sign_bit - np.uint64(1))
    # away from zero when |x| grows: x < y and x > 0, or x > y and x < 0
    up = (yf > xf) == (xf > 0)
    step = np.where(up, xb + np.uint64(1), xb - np.uint64(1))
    tiny = np.where(yf < 0, sign_bit | np.uint64(1), np.uint64(1))
    out = np.where(mag == 0, tiny, step).astype(it).view(dt.np_dtype)
    out = np.where(xf == yf, y, out)
    nan = np.isnan(xf) | np.isnan(yf)
    return np.where(nan, np.array(np.nan).astype(dt.np_dtype), out).astype(dt.np_dtype)


_MANTISSA = {"f16": 10, "bf16": 7, "f32": 23, "f64": 52, "f8E5M2": 2, "f8E4M3FN": 3, "f8E4M3": 3,
             "f8E5M2FNUZ": 2, "f8E4M3FNUZ": 3, "f8E4M3B11FNUZ": 3, "f8E3M4": 4}


def reduce_precision(x: np.ndarray, dt: D.DType, exponent_bits: int, mantissa_bits: int) -> np.ndarray:
    """Bit-exact port of the reference interpreter's reducePrecision."""
    if dt.name not in _MANTISSA:
        raise TypeError(f"reduce_precision of {dt} is not supported")
    bits = dt.bits
    ut = {8: np.uint8, 16: np.uint16, 32: np.uint32, 64: np.uint64}[bits]
    x = np.ascontiguousarray(x)
    v = x.view(ut).astype(np.uint64)
    one = np.uint64(1)
    src_m = _MANTISSA[dt.name]
    if mantissa_bits < src_m:
        last = one << np.uint64(src_m - mantissa_bits)
        base_bias = (last >> one) - one
        x_last = (v & last) >> np.uint64(src_m - mantissa_bits)
        v = (v + x_last + base_bias) & ~(last - one)
    src_e = bits - src_m - 1
    if exponent_bits < src_e:
        sign_mask = one << np.uint64(bits - 1)
        exp_mask = ((one << np.uint64(src_e)) - one) << np.uint64(src_m)
        bias = (1 << (src_e - 1)) - 1
        rbias = (1 << (exponent_bits - 1)) - 1
        rmax = np.uint64(bias + rbias)
        rmin = np.uint64(bias - rbias)
        xe = v & exp_mask
        over = xe > (rmax << np.uint64(src_m))
        under = xe <= (rmin << np.uint64(src_m))
        szero = v & sign_mask
        sinf = szero | exp_mask
        v = np.where(over, sinf, v)
        v = np.where(under, szero, v)
    mask = np.uint64((1 << bits) - 1) if bits < 64 else np.uint64(0xFFFFFFFFFFFFFFFF)
    out = (v & mask).astype(ut).view(dt.np_dtype)
    nan = np.isnan(N.to_compute(x, dt))
    if mantissa_bits > 0:
        out = np.where(nan, x, out)
    else:
        out = np.where(nan, np.array(np.inf).astype(dt.np_dtype), out)  # the reference: +inf
    return out.astype(dt.np_dtype)
