"""Vectorizable math: branch-free polynomial approximations in LLVM IR.

A call to `expf` in a hot loop stops the loop vectorizer (or becomes 16 scalar calls per vector);
XLA:CPU avoids that with its own polynomials and so do we. Every function here is straight-line
code (selects, no branches, no calls) emitted as an always-inlined helper, so after inlining the
loop vectorizer sees plain arithmetic.

f32 only (f16/bf16 are computed in f32): f64 keeps the C library (`math="libm"` is also the knob
value that makes every type use the library). Accuracy, measured by tests/codegen/test_vmath.py
against numpy over wide ranges: exp/log/sin/cos ~1 ulp; tanh/erf/logistic a few ulp;
log1p/expm1 a few ulp; NaN and infinities follow the library.

The algorithms are the classic public ones: Cephes (exp, log), FreeBSD msun (sin/cos kernels
with double precision reduction), Eigen (tanh, erf rationals), Giles (erf_inv).
"""
from __future__ import annotations

import math

from llvmlite import ir

from .lltypes import F32, F64, I32

APPROX_F32 = ("exp", "expm1", "log", "log1p", "tanh", "logistic", "erf", "sin", "cos", "erf_inv")


class _M:
    """Terse float arithmetic on one builder (t: the float type)."""

    def __init__(self, cx, b: ir.IRBuilder, t=F32):
        self.cx, self.b, self.t = cx, b, t

    def c(self, v):
        return ir.Constant(self.t, float(v))

    def add(self, x, y):
        return self.b.fadd(x, y)

    def sub(self, x, y):
        return self.b.fsub(x, y)

    def mul(self, x, y):
        return self.b.fmul(x, y)

    def div(self, x, y):
        return self.b.fdiv(x, y)

    def fma(self, x, y, z):
        """x*y + z, fused where the target has FMA."""
        sfx = "f32" if x.type == F32 else "f64"
        return self.cx.intrinsic(self.b, f"llvm.fmuladd.{sfx}", [x, y, z])

    def un(self, name, x):
        sfx = "f32" if x.type == F32 else "f64"
        return self.cx.intrinsic(self.b, f"llvm.{name}.{sfx}", [x])

    def abs(self, x):
        return self.un("fabs", x)

    def floor(self, x):
        return self.un("floor", x)

    def rint(self, x):
        return self.un("roundeven", x)

    def sqrt(self, x):
        return self.un("sqrt", x)

    def copysign(self, mag, sgn):
        sfx = "f32" if mag.type == F32 else "f64"
        return self.cx.intrinsic(self.b, f"llvm.copysign.{sfx}", [mag, sgn])

    def sel(self, cond, x, y):
        return self.b.select(cond, x, y)

    def lt(self, x, y):
        return self.b.fcmp_ordered("<", x, y)

    def gt(self, x, y):
        return self.b.fcmp_ordered(">", x, y)

    def eq(self, x, y):
        return self.b.fcmp_ordered("==", x, y)

    def isnan(self, x):
        return self.b.fcmp_unordered("uno", x, x)

    def clamp(self, x, lo, hi):
        """min(max(x, lo), hi) for non-NaN x (callers sanitize NaN first)."""
        x = self.sel(self.lt(x, self.c(lo)), self.c(lo), x)
        return self.sel(self.gt(x, self.c(hi)), self.c(hi), x)

    def poly(self, x, coeffs):
        """Horner: coeffs[0]*x^(n-1) + ... + coeffs[-1]."""
        acc = self.c(coeffs[0])
        for k in coeffs[1:]:
            acc = self.fma(acc, x, self.c(k))
        return acc


def _exp_f32(cx, b, args):
    m = _M(cx, b)
    (x,) = args
    nan = m.isnan(x)
    xs = m.sel(nan, m.c(0.0), x)
    xs = m.clamp(xs, -104.0, 88.8)
    fx = m.rint(m.mul(xs, m.c(1.44269504088896341)))
    r = m.fma(fx, m.c(-0.693359375), xs)
    r = m.fma(fx, m.c(2.12194440e-4), r)
    z = m.mul(r, r)
    p = m.poly(r, [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
                   1.6666665459e-1, 5.0000001201e-1])
    y = m.add(m.fma(p, z, r), m.c(1.0))
    # 2^n in two factors so that n in [-150, 128] (denormal results, overflow to inf) works.
    n = b.fptosi(fx, I32)
    n1 = b.ashr(n, ir.Constant(I32, 1))
    n2 = b.sub(n, n1)
    s1 = b.bitcast(b.shl(b.add(n1, ir.Constant(I32, 127)), ir.Constant(I32, 23)), F32)
    s2 = b.bitcast(b.shl(b.add(n2, ir.Constant(I32, 127)), ir.Constant(I32, 23)), F32)
    res = m.mul(m.mul(y, s1), s2)
    return m.sel(nan, x, res)


def _log_f32(cx, b, args):
    m = _M(cx, b)
    (x,) = args
    # Denormals: scale into the normal range first.
    small = m.lt(x, m.c(1.17549435e-38))
    xs = m.sel(small, m.mul(x, m.c(8388608.0)), x)
    bits = b.bitcast(xs, I32)
    e = b.sub(b.and_(b.lshr(bits, ir.Constant(I32, 23)), ir.Constant(I32, 0xFF)), ir.Constant(I32, 126))
    e = b.sub(e, b.select(small, ir.Constant(I32, 23), ir.Constant(I32, 0)))
    mant = b.bitcast(b.or_(b.and_(bits, ir.Constant(I32, 0x007FFFFF)), ir.Constant(I32, 0x3F000000)), F32)
    lo = m.lt(mant, m.c(0.707106781186547524))
    e = b.sub(e, b.zext(lo, I32))
    t = m.sub(m.sel(lo, m.add(mant, mant), mant), m.c(1.0))
    ef = b.sitofp(e, F32)
    z = m.mul(t, t)
    p = m.poly(t, [7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
                   1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1,
                   3.3333331174e-1])
    y = m.mul(m.mul(p, t), z)
    y = m.fma(ef, m.c(-2.12194440e-4), y)
    y = m.fma(z, m.c(-0.5), y)
    r = m.add(t, y)
    r = m.fma(ef, m.c(0.693359375), r)
    # Specials: log(0) = -inf, log(x<0) = NaN, log(inf) = inf, log(NaN) = NaN.
    r = m.sel(m.eq(x, m.c(0.0)), m.c(-math.inf), r)
    r = m.sel(m.eq(x, m.c(math.inf)), x, r)
    r = m.sel(b.fcmp_unordered("<", x, m.c(0.0)), m.c(math.nan), r)
    return r


def _log1p_f32(cx, b, args):
    """log1p(x) = log(u) * x / (u - 1) with u = 1 + x (exact correction; Goldberg)."""
    m = _M(cx, b)
    (x,) = args
    u = m.add(x, m.c(1.0))
    lu = log(cx, b, u)
    d = m.sub(u, m.c(1.0))
    r = m.mul(lu, m.div(x, m.sel(m.eq(d, m.c(0.0)), m.c(1.0), d)))
    r = m.sel(m.eq(u, m.c(1.0)), x, r)
    r = m.sel(m.eq(u, m.c(math.inf)), u, r)
    return r


def _expm1_f32(cx, b, args):
    """expm1(x) = (u - 1) * x / log(u) with u = exp(x) (Kahan)."""
    m = _M(cx, b)
    (x,) = args
    u = exp(cx, b, x)
    d = m.sub(u, m.c(1.0))
    lu = log(cx, b, u)
    r = m.mul(d, m.div(x, m.sel(m.eq(lu, m.c(0.0)), m.c(1.0), lu)))
    r = m.sel(m.eq(u, m.c(1.0)), x, r)
    r = m.sel(m.eq(d, m.c(-1.0)), m.c(-1.0), r)
    r = m.sel(m.eq(u, m.c(math.inf)), u, r)
    # Tiny |x|: the formula loses nothing but keep -0.0 and denormals exact.
    r = m.sel(m.lt(m.abs(x), m.c(1e-10)), x, r)
    return r


def _tanh_f32(cx, b, args):
    m = _M(cx, b)
    (x,) = args
    nan = m.isnan(x)
    # clamp at 9 (as XLA): the rational stays <= 1 there and reaches 1.0 where tanh rounds to 1
    xc = m.clamp(m.sel(nan, m.c(0.0), x), -9.0, 9.0)
    x2 = m.mul(xc, xc)
    p = m.mul(xc, m.poly(x2, [-2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11,
                              5.12229709037114e-08, 1.48572235717979e-05, 6.37261928875436e-04,
                              4.89352455891786e-03]))
    q = m.poly(x2, [1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03,
                    4.89352518554385e-03])
    r = m.clamp(m.div(p, q), -1.0, 1.0)     # f32 rounding may overshoot 1 near the clamp
    r = m.sel(m.lt(m.abs(x), m.c(0.0004)), x, r)
    return m.sel(nan, x, r)


def _logistic_f32(cx, b, args):
    m = _M(cx, b)
    (x,) = args
    # e = exp(-|x|) never overflows; x < 0 gives e / (1 + e), so tiny results keep their digits
    e = exp(cx, b, b.fneg(m.abs(x)))
    den = m.add(m.c(1.0), e)
    r = m.div(m.sel(m.lt(x, m.c(0.0)), e, m.c(1.0)), den)
    return m.sel(m.isnan(x), x, r)


def _erf_f32(cx, b, args):
    m = _M(cx, b)
    (x,) = args
    nan = m.isnan(x)
    xc = m.clamp(m.sel(nan, m.c(0.0), x), -4.0, 4.0)
    x2 = m.mul(xc, xc)
    p = m.mul(xc, m.poly(x2, [-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06,
                              -5.69250639462346e-05, -7.34990630326855e-04, -2.95459980854025e-03,
                              -1.60960333262415e-02]))
    q = m.poly(x2, [-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03,
                    -7.37332916720468e-03, -1.42647390514189e-02])
    r = m.div(p, q)
    r = m.copysign(m.sel(m.gt(m.abs(r), m.c(1.0)), m.c(1.0), m.abs(r)), x)
    # tiny |x| (denormals included): erf(x) = x * 2/sqrt(pi) to within x^2/3
    small = m.fma(x, m.c(0.12837916709551257), x)
    r = m.sel(m.lt(m.abs(x), m.c(2.0 ** -12)), small, r)
    return m.sel(nan, x, r)


def _erf_inv_f32(cx, b, args):
    """Giles' single precision erfinv (the one XLA uses)."""
    m = _M(cx, b)
    (x,) = args
    w = b.fneg(log(cx, b, m.mul(m.sub(m.c(1.0), x), m.add(m.c(1.0), x))))
    lt5 = m.lt(w, m.c(5.0))
    wa = m.sub(w, m.c(2.5))
    pa = m.poly(wa, [2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                     -0.00125372503, -0.00417768164, 0.246640727, 1.50140941])
    wb = m.sub(m.sqrt(m.sel(lt5, m.c(5.0), w)), m.c(3.0))
    pb = m.poly(wb, [-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
                     -0.0076224613, 0.00943887047, 1.00167406, 2.83297682])
    r = m.mul(m.sel(lt5, pa, pb), x)
    ax = m.abs(x)
    r = m.sel(m.eq(ax, m.c(1.0)), m.copysign(m.c(math.inf), x), r)
    r = m.sel(b.fcmp_unordered(">", ax, m.c(1.0)), m.c(math.nan), r)
    return r


# ---- sin / cos: exact reduction and kernels in double precision (FreeBSD msun k_sinf/k_cosf) ------
_S = (-0.166666666416265235595, 0.0083333293858894631756, -0.000198393348360966317347,
      0.0000027183114939898219064)
_C = (-0.499999997251031003120, 0.0416666233237390631894, -0.00138867637746099294692,
      0.0000243904487962774090654)


def _two_over_pi_chunks(n: int = 8) -> list[float]:
    """2/pi as n 24-bit pieces C_k (sum C_k = 2/pi to 24n bits), computed from Machin's formula."""
    def arctan_inv(x, one):
        total = term = one // x
        x2, k, sign = x * x, 1, -1
        while term:
            term //= x2
            total += sign * (term // (2 * k + 1))
            sign, k = -sign, k + 1
        return total
    bits = 24 * n + 64
    one = 1 << bits
    pi = 4 * (4 * arctan_inv(5, one) - arctan_inv(239, one))
    t = (2 << (2 * bits)) // pi           # 2/pi * 2^bits
    return [math.ldexp((t >> (bits - 24 * (k + 1))) & 0xFFFFFF, -24 * (k + 1)) for k in range(n)]


_TWO_OVER_PI = _two_over_pi_chunks()


def _sincos_parts(cx, b, x):
    """(sin(r), cos(r), quadrant, finite) with x = n*pi/2 + r, all in double.

    Reduction for every finite f32: x * C_k is exact in double (24 x 24 bits), so each term can be
    taken mod 4 exactly; their sum is x*2/pi mod 4 to ~2^-48 however large x is (Payne-Hanek
    without a table lookup, branch-free)."""
    m = _M(cx, b)
    d = _M(cx, b, F64)
    finite = m.lt(m.abs(x), m.c(math.inf))
    xs = b.fpext(m.sel(finite, x, m.c(0.0)), F64)
    t = d.c(0.0)
    for ck in reversed(_TWO_OVER_PI):       # small terms first
        y = d.mul(xs, d.c(ck))
        y = d.fma(d.floor(d.mul(y, d.c(0.25))), d.c(-4.0), y)
        t = d.add(t, y)
    fn = d.rint(t)
    r = d.mul(d.sub(t, fn), d.c(math.pi / 2))
    n = b.fptosi(fn, I32)
    z = d.mul(r, r)
    w = d.mul(z, z)
    s = d.mul(z, r)
    sin_r = d.add(d.add(r, d.mul(s, d.add(d.c(_S[0]), d.mul(z, d.c(_S[1]))))),
                  d.mul(d.mul(s, w), d.add(d.c(_S[2]), d.mul(z, d.c(_S[3])))))
    cos_r = d.add(d.add(d.add(d.c(1.0), d.mul(z, d.c(_C[0]))), d.mul(w, d.c(_C[1]))),
                  d.mul(d.mul(w, z), d.add(d.c(_C[2]), d.mul(z, d.c(_C[3])))))
    q = b.and_(n, ir.Constant(I32, 3))
    return sin_r, cos_r, q, finite


def _pick_quadrant(b, q, a0, a1, a2, a3):
    q1 = b.icmp_unsigned("==", q, ir.Constant(I32, 1))
    q2 = b.icmp_unsigned("==", q, ir.Constant(I32, 2))
    q3 = b.icmp_unsigned("==", q, ir.Constant(I32, 3))
    return b.select(q3, a3, b.select(q2, a2, b.select(q1, a1, a0)))


def _sin_f32(cx, b, args):
    (x,) = args
    s, c, q, finite = _sincos_parts(cx, b, x)
    r = _pick_quadrant(b, q, s, c, b.fneg(s), b.fneg(c))
    r = b.fptrunc(r, F32)
    # sin(-0) = -0 and tiny x: sin(x) = x exactly in f32.
    r = b.select(b.fcmp_ordered("<", _M(cx, b).abs(x), ir.Constant(F32, 1e-4)), x, r)
    return b.select(finite, r, ir.Constant(F32, math.nan))


def _cos_f32(cx, b, args):
    (x,) = args
    s, c, q, finite = _sincos_parts(cx, b, x)
    r = _pick_quadrant(b, q, c, b.fneg(s), b.fneg(c), s)
    return b.select(finite, b.fptrunc(r, F32), ir.Constant(F32, math.nan))


_F32_BODIES = {
    "exp": _exp_f32, "log": _log_f32, "log1p": _log1p_f32, "expm1": _expm1_f32, "tanh": _tanh_f32,
    "logistic": _logistic_f32, "erf": _erf_f32, "erf_inv": _erf_inv_f32, "sin": _sin_f32,
    "cos": _cos_f32,
}


def approx(cx, b: ir.IRBuilder, name: str, x):
    """The polynomial version of `name` for an f32 value (an inlined helper call)."""
    body = _F32_BODIES[name]
    return cx.call_helper(b, f"xltune.vmath.{name}.f32", [x], lambda hb, args: body(cx, hb, args))


def has_approx(name: str, t: ir.Type) -> bool:
    return t == F32 and name in _F32_BODIES


# Convenience wrappers used by the bodies above (they compose: log1p uses log, expm1 uses exp).
def exp(cx, b, x):
    return approx(cx, b, "exp", x)


def log(cx, b, x):
    return approx(cx, b, "log", x)


__all__ = ["approx", "has_approx", "APPROX_F32"]
