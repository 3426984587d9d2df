"""The scalar lowering table: opcode -> LLVM IR for one element, for every elementwise op.

    LOWERINGS[opcode] = Lowering(emit, supports)
    emit(s, inst, args) -> value      s: anything with .b (IRBuilder), .cx (CodegenContext),
                                      .opts (EmitOptions); args: operand compute values
    supports(inst) -> str | None      why this instance cannot be lowered (None: it can)

Values are compute values (see lltypes): i1 for pred, iN for ints, f32 for f16/bf16/f32 (narrow
floats are rounded back after every op), f64, and (re, im) tuples for complex.

Semantics follow StableHLO/XLA where numpy would differ or trap:
- integer x / 0 = -1 (all ones), x % 0 = x, INT_MIN / -1 = INT_MIN, INT_MIN % -1 = 0;
- shifts by >= bit width (amount read as unsigned): left/logical give 0, arithmetic gives the
  sign fill;
- float -> int converts saturate, NaN -> 0 (llvm.fptosi.sat);
- maximum/minimum propagate NaN; pred add/multiply are or/and.

To add an op: write `@lower("opname")` function below (and a `supports` predicate if some
dtypes cannot be done); it is then usable in every kernel, CPU or GPU.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from llvmlite import ir

from . import vmath
from ..ir import dtypes as D
from .lltypes import (F16, F32, F64, I1, I16, I32, NotLowerable, bf16_bits_to_f32, compute_type,
                      f32_to_bf16_bits, is_narrow_float, round_to, supported_dtype)


@dataclass(frozen=True)
class Lowering:
    emit: Callable
    supports: Callable | None = None


LOWERINGS: dict[str, Lowering] = {}


def lower(*names: str, supports: Callable | None = None):
    def deco(fn):
        for n in names:
            if n in LOWERINGS:
                raise RuntimeError(f"lowering for {n} defined twice")
            LOWERINGS[n] = Lowering(fn, supports)
        return fn
    return deco


def unsupported_reason(inst) -> str | None:
    """None when `inst` (an elementwise op) has a native lowering; otherwise why not."""
    low = LOWERINGS.get(inst.opcode)
    if low is None:
        return f"no scalar lowering for '{inst.opcode}'"
    for v in (inst, *inst.operands):
        dt = getattr(v.type, "dtype", None)
        if dt is None:
            return f"'{inst.opcode}' on non-tensor type {v.type}"
        if not supported_dtype(dt):
            return f"element type {dt} has no native lowering"
    if low.supports is not None:
        return low.supports(inst)
    return None


def emit(s, inst, args):
    """Lower one elementwise instruction given its operands' compute values."""
    low = LOWERINGS.get(inst.opcode)
    if low is None:
        raise NotLowerable(f"no scalar lowering for '{inst.opcode}'")
    return low.emit(s, inst, args)


# ---- predicates ---------------------------------------------------------------------------------
def _dt(inst, i=None):
    return inst.dtype if i is None else inst.operands[i].dtype


def _real_float_only(inst):
    dt = _dt(inst, 0)
    if not dt.is_float:
        return f"'{inst.opcode}' on {dt} has no native lowering"
    return None


def _float_or_complex(inst):
    dt = _dt(inst, 0)
    if not (dt.is_float or dt.is_complex):
        return f"'{inst.opcode}' on {dt}"
    return None


def _not_complex(inst):
    if any(o.dtype.is_complex for o in inst.operands):
        return f"'{inst.opcode}' on complex has no native lowering"
    return None


# ---- small helpers --------------------------------------------------------------------------------
def _fsfx(t):
    return "f32" if t == F32 else "f64"


def _fi(s, name, x, *more):
    """Float intrinsic llvm.<name>.<f32|f64>."""
    return s.cx.intrinsic(s.b, f"llvm.{name}.{_fsfx(x.type)}", [x, *more])


def _ii(s, name, x, *more, ret=None):
    return s.cx.intrinsic(s.b, f"llvm.{name}.i{x.type.width}", [x, *more], ret=ret)


def _fc(t, v):
    return ir.Constant(t, float(v))


def _ic(t, v):
    return ir.Constant(t, int(v) & ((1 << t.width) - 1))


def _rnd(s, inst, v, dt=None):
    """Round a float result to the instruction's (narrow) result type."""
    dt = inst.dtype if dt is None else dt
    if dt.is_float and is_narrow_float(dt):
        return round_to(s.b, dt, v)
    return v


def _math(s, name, x, libm_name=None):
    """A transcendental: the vectorizable polynomial when allowed, else the C library."""
    if s.opts.math == "approx" and vmath.has_approx(name, x.type):
        return vmath.approx(s.cx, s.b, name, x)
    return _libm(s, libm_name or name, x)


def _libm(s, name, *args):
    """The accurate library version of a math function (the backend's context decides which
    library: the C library on the CPU)."""
    return s.cx.math_call(s.b, name, list(args))


def _isnan(s, x):
    return s.b.fcmp_unordered("uno", x, x)


# ---- complex helpers -------------------------------------------------------------------------------
def _cmul(b, x, y):
    a, bb = x
    c, d = y
    return (b.fsub(b.fmul(a, c), b.fmul(bb, d)), b.fadd(b.fmul(a, d), b.fmul(bb, c)))


def _cmul_xla(s, x, y):
    """The complex product as XLA's CPU code (and so the interpreter) computes it: complex<f32>
    with fused multiply-adds, re = fma(a, c, -(b*d)), im = fma(b, c, a*d); complex<f64> plainly."""
    b = s.b
    a, bb = x
    c, d = y
    if a.type != F32:
        return _cmul(b, x, y)
    fma = lambda u, v, w: s.cx.intrinsic(b, "llvm.fma.f32", [u, v, w])
    return (fma(a, c, b.fneg(b.fmul(bb, d))), fma(bb, c, b.fmul(a, d)))


def _cdiv(s, x, y):
    """numpy's complex division (Smith's method with a reciprocal scale), so results match the
    reference bit for bit where it computes in the same precision."""
    b = s.b
    a, bb = x
    c, d = y
    t = c.type
    one = _fc(t, 1)
    ac = _fi(s, "fabs", c)
    ad = _fi(s, "fabs", d)
    c_big = b.fcmp_ordered(">=", ac, ad)
    # |c| >= |d|
    r1 = b.fdiv(d, c)
    scl1 = b.fdiv(one, b.fadd(c, b.fmul(d, r1)))
    re1 = b.fmul(b.fadd(a, b.fmul(bb, r1)), scl1)
    im1 = b.fmul(b.fsub(bb, b.fmul(a, r1)), scl1)
    # |d| > |c| (or NaNs)
    r2 = b.fdiv(c, d)
    scl2 = b.fdiv(one, b.fadd(d, b.fmul(c, r2)))
    re2 = b.fmul(b.fadd(b.fmul(a, r2), bb), scl2)
    im2 = b.fmul(b.fsub(b.fmul(bb, r2), a), scl2)
    # divisor 0: a complex inf or nan, as numpy
    zero = b.and_(b.fcmp_ordered("==", c, _fc(t, 0)), b.fcmp_ordered("==", d, _fc(t, 0)))
    re0 = b.fdiv(a, ac)
    im0 = b.fdiv(bb, ac)
    re = b.select(c_big, b.select(zero, re0, re1), re2)
    im = b.select(c_big, b.select(zero, im0, im1), im2)
    return (re, im)


def _cabs(s, x):
    return _libm(s, "hypot", x[0], x[1])


def _widen(s, v):
    """complex<f32> parts -> f64 (the interpreter computes complex64 in complex128)."""
    b = s.b
    if isinstance(v, tuple):
        return tuple(_widen(s, p) for p in v)
    return b.fpext(v, F64) if v.type == F32 else v


def _narrow(s, v, t):
    b = s.b
    if isinstance(v, tuple):
        return tuple(_narrow(s, p, t) for p in v)
    return b.fptrunc(v, t) if (t == F32 and v.type == F64) else v


def wide_complex(fn):
    """Run a complex formula in double for complex<f32> and round the parts once at the end."""
    def run(s, *args):
        t = args[0][0].type if isinstance(args[0], tuple) else args[0].type
        return _narrow(s, fn(s, *[_widen(s, a) for a in args]), t)
    return run


# =====================================================================================================
# arithmetic
# =====================================================================================================
@lower("add")
def _add(s, inst, args):
    b = s.b
    x, y = args
    dt = _dt(inst)
    if dt.is_complex:
        return (b.fadd(x[0], y[0]), b.fadd(x[1], y[1]))
    if dt.is_float:
        return _rnd(s, inst, b.fadd(x, y))
    if dt.is_pred:
        return b.or_(x, y)
    return b.add(x, y)


@lower("subtract")
def _sub(s, inst, args):
    b = s.b
    x, y = args
    dt = _dt(inst)
    if dt.is_complex:
        return (b.fsub(x[0], y[0]), b.fsub(x[1], y[1]))
    if dt.is_float:
        return _rnd(s, inst, b.fsub(x, y))
    if dt.is_pred:
        return b.xor(x, y)
    return b.sub(x, y)


@lower("multiply")
def _mul(s, inst, args):
    b = s.b
    x, y = args
    dt = _dt(inst)
    if dt.is_complex:
        return _cmul_xla(s, x, y)
    if dt.is_float:
        return _rnd(s, inst, b.fmul(x, y))
    if dt.is_pred:
        return b.and_(x, y)
    return b.mul(x, y)


@lower("square")
def _square(s, inst, args):
    return _mul(s, inst, [args[0], args[0]])


def _int_div_parts(s, dt, x, y):
    b = s.b
    t = x.type
    zero = b.icmp_unsigned("==", y, _ic(t, 0))
    if dt.is_signed:
        ovf = b.and_(b.icmp_unsigned("==", x, _ic(t, 1 << (t.width - 1))),
                     b.icmp_unsigned("==", y, _ic(t, -1)))
        safe = b.select(b.or_(zero, ovf), _ic(t, 1), y)
    else:
        ovf = None
        safe = b.select(zero, _ic(t, 1), y)
    return zero, ovf, safe


@lower("divide", supports=lambda i: None if not _dt(i).is_pred else "divide on pred")
def _div(s, inst, args):
    b = s.b
    x, y = args
    dt = _dt(inst)
    if dt.is_complex:
        return wide_complex(_cdiv)(s, x, y)
    if dt.is_float:
        return _rnd(s, inst, b.fdiv(x, y))
    zero, ovf, safe = _int_div_parts(s, dt, x, y)
    if dt.is_signed:
        q = b.sdiv(x, safe)   # INT_MIN / 1 = INT_MIN covers the overflow case
    else:
        q = b.udiv(x, safe)
    return b.select(zero, _ic(x.type, -1), q)


@lower("remainder", supports=lambda i: _not_complex(i) or (None if not _dt(i).is_pred else "remainder on pred"))
def _rem(s, inst, args):
    b = s.b
    x, y = args
    dt = _dt(inst)
    if dt.is_float:
        return _rnd(s, inst, b.frem(x, y))
    zero, ovf, safe = _int_div_parts(s, dt, x, y)
    r = b.srem(x, safe) if dt.is_signed else b.urem(x, safe)   # x % 1 = 0 covers INT_MIN % -1
    return b.select(zero, x, r)


@lower("negate")
def _neg(s, inst, args):
    b = s.b
    (x,) = args
    dt = _dt(inst)
    if dt.is_complex:
        return (b.fneg(x[0]), b.fneg(x[1]))
    if dt.is_float:
        return b.fneg(x)
    if dt.is_pred:
        return x
    return b.sub(_ic(x.type, 0), x)


@lower("abs")
def _abs(s, inst, args):
    b = s.b
    (x,) = args
    dt = _dt(inst, 0)
    if dt.is_complex:
        return wide_complex(_cabs)(s, x)
    if dt.is_float:
        return _fi(s, "fabs", x)
    if dt.is_pred or dt.is_unsigned:
        return x
    return b.select(b.icmp_signed("<", x, _ic(x.type, 0)), b.sub(_ic(x.type, 0), x), x)


@lower("sign")
def _sign(s, inst, args):
    b = s.b
    (x,) = args
    dt = _dt(inst)
    if dt.is_complex:
        return wide_complex(_csign)(s, x)
    if dt.is_float:
        t = x.type
        one = _fi(s, "copysign", _fc(t, 1), x)
        r = b.select(b.fcmp_ordered("==", x, _fc(t, 0)), x, one)
        return b.select(_isnan(s, x), x, r)
    if dt.is_pred:
        return x
    t = x.type
    if dt.is_unsigned:
        return b.zext(b.icmp_unsigned("!=", x, _ic(t, 0)), t) if t.width > 1 else x
    pos = b.zext(b.icmp_signed(">", x, _ic(t, 0)), t)
    neg = b.zext(b.icmp_signed("<", x, _ic(t, 0)), t)
    return b.sub(pos, neg)


def _csign(s, x):
    b = s.b
    a = _cabs(s, x)
    t = a.type
    z = b.fcmp_ordered("==", a, _fc(t, 0))
    safe = b.select(z, _fc(t, 1), a)
    re = b.select(z, _fc(t, 0), b.fdiv(x[0], safe))
    im = b.select(z, _fc(t, 0), b.fdiv(x[1], safe))
    nan = b.or_(_isnan(s, x[0]), _isnan(s, x[1]))
    return (b.select(nan, _fc(t, math.nan), re), b.select(nan, _fc(t, math.nan), im))


def _fmax(s, x, y, is_max):
    return _fi(s, "maximum" if is_max else "minimum", x, y)


def _max_min(s, dt, x, y, is_max):
    b = s.b
    if dt.is_complex:
        # lexicographic on (re, im), as the reference: take x when it is strictly greater/less
        op = ">" if is_max else "<"
        take_x = b.select(b.fcmp_ordered("==", x[0], y[0]), b.fcmp_ordered(op, x[1], y[1]),
                          b.fcmp_ordered(op, x[0], y[0]))
        return (b.select(take_x, x[0], y[0]), b.select(take_x, x[1], y[1]))
    if dt.is_float:
        return _fmax(s, x, y, is_max)
    if dt.is_pred:
        return b.or_(x, y) if is_max else b.and_(x, y)
    name = ("s" if dt.is_signed else "u") + ("max" if is_max else "min")
    return _ii(s, name, x, y)


@lower("maximum")
def _maximum(s, inst, args):
    return _max_min(s, _dt(inst), args[0], args[1], True)


@lower("minimum")
def _minimum(s, inst, args):
    return _max_min(s, _dt(inst), args[0], args[1], False)


@lower("clamp")
def _clamp(s, inst, args):
    lo, x, hi = args
    dt = _dt(inst)
    return _max_min(s, dt, _max_min(s, dt, x, lo, True), hi, False)


@lower("power", supports=_not_complex)
def _power(s, inst, args):
    b = s.b
    x, y = args
    dt = _dt(inst)
    if dt.is_float:
        return _rnd(s, inst, _libm(s, "pow", x, y))
    if dt.is_pred:
        return b.or_(x, b.not_(y))   # x ** y over {0, 1}
    t = x.type
    one = _ic(t, 1)
    neg = b.icmp_signed("<", y, _ic(t, 0)) if dt.is_signed else None
    # Exponentiation by squaring over every bit of the exponent, branch-free.
    acc = one
    base = x
    e = y
    for k in range(t.width):
        bit = b.trunc(b.lshr(e, _ic(t, k)), I1) if t.width > 1 else e
        acc = b.select(bit, b.mul(acc, base), acc)
        if k + 1 < t.width:
            base = b.mul(base, base)
    if neg is None:
        return acc
    # Negative exponents: 1 ** -n = 1, (-1) ** -n = +-1, anything else 0.
    is_one = b.icmp_unsigned("==", x, one)
    is_m1 = b.icmp_unsigned("==", x, _ic(t, -1))
    odd = b.trunc(y, I1) if t.width > 1 else y
    negres = b.select(is_one, one, b.select(is_m1, b.select(odd, _ic(t, -1), one), _ic(t, 0)))
    return b.select(neg, negres, acc)


# =====================================================================================================
# bitwise and integer
# =====================================================================================================
def _int_only(inst):
    dt = _dt(inst, 0)
    if not dt.is_integral:
        return f"'{inst.opcode}' on {dt}"
    return None


@lower("and", supports=_int_only)
def _and(s, inst, args):
    return s.b.and_(args[0], args[1])


@lower("or", supports=_int_only)
def _or(s, inst, args):
    return s.b.or_(args[0], args[1])


@lower("xor", supports=_int_only)
def _xor(s, inst, args):
    return s.b.xor(args[0], args[1])


@lower("not", supports=_int_only)
def _not(s, inst, args):
    return s.b.not_(args[0])


def _shift(s, inst, args, kind):
    b = s.b
    x, y = args
    t = x.type
    big = b.icmp_unsigned(">=", y, _ic(t, t.width))
    safe = b.select(big, _ic(t, 0), y)
    if kind == "shl":
        return b.select(big, _ic(t, 0), b.shl(x, safe))
    if kind == "lshr":
        return b.select(big, _ic(t, 0), b.lshr(x, safe))
    fill = b.ashr(x, _ic(t, t.width - 1))
    return b.select(big, fill, b.ashr(x, safe))


def _int_not_pred(inst):
    dt = _dt(inst, 0)
    if not dt.is_int:
        return f"'{inst.opcode}' on {dt}"
    return None


@lower("shift_left", supports=_int_not_pred)
def _shl(s, inst, args):
    return _shift(s, inst, args, "shl")


@lower("shift_right_logical", supports=_int_not_pred)
def _lshr(s, inst, args):
    return _shift(s, inst, args, "lshr")


@lower("shift_right_arithmetic", supports=_int_not_pred)
def _ashr(s, inst, args):
    return _shift(s, inst, args, "ashr")


@lower("popcnt", supports=_int_not_pred)
def _popcnt(s, inst, args):
    return _ii(s, "ctpop", args[0])


@lower("count_leading_zeros", supports=_int_not_pred)
def _clz(s, inst, args):
    return _ii(s, "ctlz", args[0], ir.Constant(I1, 0))


# =====================================================================================================
# float functions
# =====================================================================================================
def _float_unary(opcode, fn, complex_fn=None):
    def supports(inst):
        dt = _dt(inst, 0)
        if dt.is_float:
            return None
        if dt.is_complex and complex_fn is not None:
            return None
        return f"'{opcode}' on {dt} has no native lowering"

    def body(s, inst, args):
        (x,) = args
        if _dt(inst, 0).is_complex:
            return wide_complex(complex_fn)(s, x)
        return _rnd(s, inst, fn(s, x))

    lower(opcode, supports=supports)(body)


def _cexp(s, x):
    b = s.b
    e = _libm(s, "exp", x[0])
    im = b.fmul(e, _libm(s, "sin", x[1]))
    # exp(a + 0i) = exp(a) + 0i even when exp(a) overflows (inf * 0 would be NaN)
    im = b.select(b.fcmp_ordered("==", x[1], _fc(x[1].type, 0)), x[1], im)
    return (b.fmul(e, _libm(s, "cos", x[1])), im)


def _clog(s, x):
    return (_libm(s, "log", _cabs(s, x)), _libm(s, "atan2", x[1], x[0]))


def _csqrt(s, x):
    b = s.b
    re, im = x
    t = re.type
    a = _cabs(s, x)
    tt = _fi(s, "sqrt", b.fmul(b.fadd(_fi(s, "fabs", re), a), _fc(t, 0.5)))
    two_t = b.fmul(tt, _fc(t, 2))
    pos = b.fcmp_ordered(">=", re, _fc(t, 0))
    r_pos = (tt, b.fdiv(im, two_t))
    r_neg = (b.fdiv(_fi(s, "fabs", im), two_t), _fi(s, "copysign", tt, im))
    zero = b.fcmp_ordered("==", a, _fc(t, 0))
    re_r = b.select(zero, _fc(t, 0), b.select(pos, r_pos[0], r_neg[0]))
    im_r = b.select(zero, im, b.select(pos, r_pos[1], r_neg[1]))
    return (re_r, im_r)


def _crsqrt(s, x):
    t = x[0].type
    return _cdiv(s, (_fc(t, 1), _fc(t, 0)), _csqrt(s, x))


def _csin(s, x):
    b = s.b
    a, c = x
    return (b.fmul(_libm(s, "sin", a), _libm(s, "cosh", c)),
            b.fmul(_libm(s, "cos", a), _libm(s, "sinh", c)))


def _ccos(s, x):
    b = s.b
    a, c = x
    return (b.fmul(_libm(s, "cos", a), _libm(s, "cosh", c)),
            b.fneg(b.fmul(_libm(s, "sin", a), _libm(s, "sinh", c))))


def _rsqrt(s, x):
    return s.b.fdiv(_fc(x.type, 1), _fi(s, "sqrt", x))


_float_unary("exponential", lambda s, x: _math(s, "exp", x), _cexp)
def _cexpm1(s, x):
    """exp(z) - 1, as the reference computes it (in double for complex<f32>)."""
    e = _cexp(s, x)
    return (s.b.fsub(e[0], _fc(e[0].type, 1)), e[1])


def _clog1p(s, x):
    return _clog(s, (s.b.fadd(x[0], _fc(x[0].type, 1)), x[1]))


def _clogistic(s, x):
    e = _cexp(s, (s.b.fneg(x[0]), s.b.fneg(x[1])))
    t = e[0].type
    return _cdiv(s, (_fc(t, 1), _fc(t, 0)), (s.b.fadd(e[0], _fc(t, 1)), e[1]))


_float_unary("exponential_minus_one", lambda s, x: _math(s, "expm1", x), _cexpm1)
_float_unary("log", lambda s, x: _math(s, "log", x), _clog)
_float_unary("log_plus_one", lambda s, x: _math(s, "log1p", x), _clog1p)
_float_unary("tanh", lambda s, x: _math(s, "tanh", x))
_float_unary("sine", lambda s, x: _math(s, "sin", x), _csin)
_float_unary("cosine", lambda s, x: _math(s, "cos", x), _ccos)
_float_unary("erf", lambda s, x: _math(s, "erf", x))
_float_unary("sqrt", lambda s, x: _fi(s, "sqrt", x), _csqrt)
_float_unary("rsqrt", _rsqrt, _crsqrt)
_float_unary("cbrt", lambda s, x: _libm(s, "cbrt", x))
_float_unary("tan", lambda s, x: _libm(s, "tan", x))
_float_unary("floor", lambda s, x: _fi(s, "floor", x))
_float_unary("ceil", lambda s, x: _fi(s, "ceil", x))
_float_unary("round_nearest_even", lambda s, x: _fi(s, "roundeven", x))
_float_unary("round_nearest_afz", lambda s, x: _fi(s, "round", x))
for _name in ("acos", "acosh", "asin", "asinh", "atan", "atanh", "erfc"):
    _float_unary(_name, (lambda n: lambda s, x: _libm(s, n, x))(_name))


def _lgamma(s, x):
    # C says lgamma(-inf) = +inf; the reference (and XLA) give -inf
    b = s.b
    r = _libm(s, "lgamma", x)
    return b.select(b.fcmp_ordered("==", x, _fc(x.type, -math.inf)), x, r)


_float_unary("lgamma", _lgamma)


def _logistic(s, x):
    if s.opts.math == "approx" and vmath.has_approx("logistic", x.type):
        return vmath.approx(s.cx, s.b, "logistic", x)
    b = s.b
    t = x.type
    e = _libm(s, "exp", b.fneg(_fi(s, "fabs", x)))
    r = b.fdiv(b.select(b.fcmp_ordered("<", x, _fc(t, 0)), e, _fc(t, 1)), b.fadd(_fc(t, 1), e))
    return b.select(_isnan(s, x), x, r)


def _cosh(s, x):
    """As chlo decomposes it (and so as the conformance files expect):
    e^(x + log(1/2)) + e^(-x + log(1/2)), in the working type."""
    b = s.b
    lh = _fc(x.type, math.log(0.5))
    return b.fadd(_math(s, "exp", b.fadd(x, lh)), _math(s, "exp", b.fsub(lh, x)))


def _sinh(s, x):
    """chlo's decomposition: expm1 based for |x| < 1, exp based otherwise."""
    b = s.b
    t = x.type
    lh = _fc(t, math.log(0.5))
    large = b.fsub(_math(s, "exp", b.fadd(x, lh)), _math(s, "exp", b.fsub(lh, x)))
    em1 = _math(s, "expm1", x)
    small = b.fmul(_fc(t, 0.5), b.fadd(em1, b.fdiv(em1, b.fadd(em1, _fc(t, 1)))))
    return b.select(b.fcmp_ordered("<", _fi(s, "fabs", x), _fc(t, 1)), small, large)


_float_unary("cosh", _cosh)
_float_unary("sinh", _sinh)


_float_unary("logistic", _logistic, _clogistic)


def _erf_inv_supports(inst):
    dt = _dt(inst, 0)
    if dt.is_float and dt.name != "f64":
        return None
    return f"'erf_inv' on {dt} has no native lowering"


@lower("erf_inv", supports=_erf_inv_supports)
def _erf_inv(s, inst, args):
    return _rnd(s, inst, vmath.approx(s.cx, s.b, "erf_inv", args[0]))


@lower("atan2", supports=_real_float_only)
def _atan2(s, inst, args):
    return _rnd(s, inst, _libm(s, "atan2", *args))


@lower("next_after", supports=_real_float_only)
def _next_after(s, inst, args):
    dt = _dt(inst)
    x, y = args
    if is_narrow_float(dt):
        return _narrow_next_after(s, dt, x, y)
    return _libm(s, "nextafter", x, y)


def _narrow_next_after(s, dt, x, y):
    """nextafter on f16/bf16 bit patterns (the f32 library function would step too finely)."""
    b = s.b
    bits = _narrow_bits(s, dt, x)
    t = bits.type
    sign = _ic(t, 0x8000)
    nan = b.or_(_isnan(s, x), _isnan(s, y))
    eq = b.fcmp_ordered("==", x, y)
    zero = b.fcmp_ordered("==", x, _fc(F32, 0))
    # from zero: the smallest denormal with y's sign
    ybits = _narrow_bits(s, dt, y)
    tiny = b.or_(b.and_(ybits, sign), _ic(t, 1))
    up = b.fcmp_ordered("<", x, y)
    xpos = b.icmp_unsigned("==", b.and_(bits, sign), _ic(t, 0))
    inc = b.icmp_unsigned("==", up, xpos)       # moving away from zero in magnitude
    stepped = b.select(inc, b.add(bits, _ic(t, 1)), b.sub(bits, _ic(t, 1)))
    r = b.select(zero, tiny, stepped)
    r = b.select(eq, _narrow_bits(s, dt, y), r)
    val = _narrow_from_bits(s, dt, r)
    return b.select(nan, _fc(F32, math.nan), val)


def _narrow_bits(s, dt, x):
    b = s.b
    if dt.name == "f16":
        return b.bitcast(b.fptrunc(x, F16), I16)
    return f32_to_bf16_bits(b, x)


def _narrow_from_bits(s, dt, bits):
    b = s.b
    if dt.name == "f16":
        return b.fpext(b.bitcast(bits, F16), F32)
    return bf16_bits_to_f32(b, bits)


@lower("is_finite", supports=_real_float_only)
def _is_finite(s, inst, args):
    x = args[0]
    return s.b.fcmp_ordered("<", _fi(s, "fabs", x), _fc(x.type, math.inf))


@lower("is_inf", supports=_real_float_only)
def _is_inf(s, inst, args):
    x = args[0]
    return s.b.fcmp_ordered("==", _fi(s, "fabs", x), _fc(x.type, math.inf))


@lower("is_pos_inf", supports=_real_float_only)
def _is_pos_inf(s, inst, args):
    x = args[0]
    return s.b.fcmp_ordered("==", x, _fc(x.type, math.inf))


@lower("is_neg_inf", supports=_real_float_only)
def _is_neg_inf(s, inst, args):
    x = args[0]
    return s.b.fcmp_ordered("==", x, _fc(x.type, -math.inf))


# =====================================================================================================
# complex parts
# =====================================================================================================
@lower("real", supports=_float_or_complex)
def _real(s, inst, args):
    x = args[0]
    return x[0] if _dt(inst, 0).is_complex else x


@lower("imag", supports=_float_or_complex)
def _imag(s, inst, args):
    x = args[0]
    if _dt(inst, 0).is_complex:
        return x[1]
    return _fc(x.type, 0)


@lower("complex")
def _complex(s, inst, args):
    return (args[0], args[1])


@lower("conj", supports=_float_or_complex)
def _conj(s, inst, args):
    x = args[0]
    if _dt(inst, 0).is_complex:
        return (x[0], s.b.fneg(x[1]))
    return x


# =====================================================================================================
# compare / select
# =====================================================================================================
_FCMP = {"EQ": "==", "NE": "!=", "LT": "<", "LE": "<=", "GT": ">", "GE": ">="}


def _compare_supports(inst):
    if inst.attrs.get("comparison_direction") not in _FCMP:
        return f"unknown comparison direction {inst.attrs.get('comparison_direction')!r}"
    return None


def _total_order_key(s, x):
    """Map a float to a signed int whose order is IEEE totalOrder (-NaN < -inf < ... < NaN)."""
    b = s.b
    t = ir.IntType(32 if x.type == F32 else 64)
    i = b.bitcast(x, t)
    mask = b.lshr(b.ashr(i, _ic(t, t.width - 1)), _ic(t, 1))
    return b.xor(i, mask)


@lower("compare", supports=_compare_supports)
def _compare(s, inst, args):
    b = s.b
    x, y = args
    d = inst.attrs["comparison_direction"]
    op = _FCMP[d]
    dt = _dt(inst, 0)
    if dt.is_complex:
        if d == "EQ":
            return b.and_(b.fcmp_ordered("==", x[0], y[0]), b.fcmp_ordered("==", x[1], y[1]))
        if d == "NE":
            return b.or_(b.fcmp_unordered("!=", x[0], y[0]), b.fcmp_unordered("!=", x[1], y[1]))
        # ordered directions: lexicographic on (re, im), as the reference
        return b.select(b.fcmp_ordered("==", x[0], y[0]), b.fcmp_ordered(op, x[1], y[1]),
                        b.fcmp_ordered(op, x[0], y[0]))
    if dt.is_float:
        if inst.attrs.get("compare_type") == "TOTALORDER":
            return b.icmp_signed(op, _total_order_key(s, x), _total_order_key(s, y))
        if d == "NE":
            return b.fcmp_unordered("!=", x, y)
        return b.fcmp_ordered(op, x, y)
    if dt.is_signed:
        return b.icmp_signed(op, x, y)
    return b.icmp_unsigned(op, x, y)


@lower("select")
def _select(s, inst, args):
    p, x, y = args
    if isinstance(x, tuple):
        return (s.b.select(p, x[0], y[0]), s.b.select(p, x[1], y[1]))
    return s.b.select(p, x, y)


# =====================================================================================================
# conversions
# =====================================================================================================
def convert_value(s, x, src, dst):
    """Convert a compute value of dtype src to dtype dst (StableHLO convert semantics)."""
    b = s.b
    if src == dst:
        return x
    if src.is_complex:
        if dst.is_complex:
            return (convert_value(s, x[0], src.component, dst.component),
                    convert_value(s, x[1], src.component, dst.component))
        # (complex -> pred reads the real part only, as the StableHLO reference does)
        return convert_value(s, x[0], src.component, dst)
    if dst.is_complex:
        re = convert_value(s, x, src, dst.component)
        return (re, _fc(re.type, 0))
    dt_t = compute_type(dst)
    if dst.is_pred:
        if src.is_float:
            return b.fcmp_unordered("!=", x, _fc(x.type, 0))
        return b.icmp_unsigned("!=", x, _ic(x.type, 0))
    if src.is_pred:
        if dst.is_float:
            return b.uitofp(x, dt_t)
        return b.zext(x, dt_t)
    if src.is_float and dst.is_float:
        if dst.name == "f16" and x.type == F64:
            # one correct rounding: to f32 rounding to odd, then to f16 (no libcall needed)
            return b.fpext(b.fptrunc(_f64_to_f32_round_to_odd(s, x), F16), F32)
        if dst.name == "bf16" and x.type == F64:
            return bf16_bits_to_f32(b, f32_to_bf16_bits(b, _f64_to_f32_round_to_odd(s, x)))
        if x.type == F64 and dt_t == F32:
            v = b.fptrunc(x, F32)
        elif x.type == F32 and dt_t == F64:
            v = b.fpext(x, F64)
        else:
            v = x
        return round_to(b, dst, v) if is_narrow_float(dst) else v
    if src.is_float:   # -> int, saturating, NaN -> 0
        name = "fptosi" if dst.is_signed else "fptoui"
        return s.cx.intrinsic(b, f"llvm.{name}.sat.i{dt_t.width}.{_fsfx(x.type)}", [x], ret=dt_t)
    if dst.is_float:   # int -> float
        conv = b.sitofp if src.is_signed else b.uitofp
        if dst.name == "f16":
            # via f32: exact for every int f16 can hold (larger ones overflow to inf either way)
            return b.fpext(b.fptrunc(conv(x, F32), F16), F32)
        if dst.name == "bf16" and x.type.width <= 32:
            # exact in f64, then one correct rounding to bf16 (no double rounding through f32)
            return convert_value(s, conv(x, F64), D.F64, dst)
        v = conv(x, dt_t)
        return round_to(b, dst, v) if is_narrow_float(dst) else v
    # int -> int
    sw, dw = x.type.width, dt_t.width
    if dw == sw:
        return x
    if dw < sw:
        return b.trunc(x, dt_t)
    return b.sext(x, dt_t) if src.is_signed else b.zext(x, dt_t)


def _f64_to_f32_round_to_odd(s, x):
    """f64 -> f32 rounding to odd: a later rounding to a narrower type is then correct."""
    b = s.b
    r = b.fptrunc(x, F32)
    back = b.fpext(r, F64)
    inexact = b.fcmp_ordered("!=", back, x)
    away = b.fcmp_ordered(">", _fi(s, "fabs", back), _fi(s, "fabs", x))
    bits = b.bitcast(r, I32)
    bits = b.select(b.and_(inexact, away), b.sub(bits, _ic(I32, 1)), bits)
    bits = b.select(inexact, b.or_(bits, _ic(I32, 1)), bits)
    return b.select(_isnan(s, x), r, b.bitcast(bits, F32))


@lower("convert")
def _convert(s, inst, args):
    return convert_value(s, args[0], _dt(inst, 0), _dt(inst))


def _bitcast_supports(inst):
    src, dst = _dt(inst, 0), _dt(inst)
    if src.is_complex or dst.is_complex:
        return "bitcast_convert of complex values"
    if src.bits != dst.bits or inst.operands[0].shape != inst.shape:
        return "bitcast_convert between element types of different widths"
    return None


def _to_bits(s, dt, x):
    b = s.b
    if dt.is_pred:
        return b.zext(x, ir.IntType(8))
    if dt.is_int:
        return x
    if dt.name == "f16":
        return b.bitcast(b.fptrunc(x, F16), I16)
    if dt.name == "bf16":
        return f32_to_bf16_bits(b, x)
    return b.bitcast(x, ir.IntType(dt.bits))


def _from_bits(s, dt, bits):
    b = s.b
    if dt.is_pred:
        return b.icmp_unsigned("!=", bits, _ic(bits.type, 0))
    if dt.is_int:
        return bits
    if dt.name == "f16":
        return b.fpext(b.bitcast(bits, F16), F32)
    if dt.name == "bf16":
        return bf16_bits_to_f32(b, bits)
    return b.bitcast(bits, F32 if dt.bits == 32 else F64)


@lower("bitcast_convert", supports=_bitcast_supports)
def _bitcast(s, inst, args):
    return _from_bits(s, _dt(inst), _to_bits(s, _dt(inst, 0), args[0]))


# =====================================================================================================
# reduce_precision (XLA's algorithm: round mantissa to nearest even, then clamp the exponent)
# =====================================================================================================
@lower("reduce_precision", supports=_real_float_only)
def _reduce_precision(s, inst, args):
    """Bit-exact with the reference interpreter, on the bits of the value's own type."""
    b = s.b
    x = args[0]
    dt = _dt(inst)
    ebits, mbits = int(inst.attrs["exponent_bits"]), int(inst.attrs["mantissa_bits"])
    src_m = {"f16": 10, "bf16": 7, "f32": 23, "f64": 52}[dt.name]
    nbits = dt.bits
    src_e = nbits - src_m - 1
    t = ir.IntType(nbits)
    xi = _to_bits(s, dt, x)
    if mbits < src_m:
        shift = src_m - mbits
        last = 1 << shift
        base_bias = (last >> 1) - 1
        last_bit = b.lshr(b.and_(xi, _ic(t, last)), _ic(t, shift))
        xi = b.and_(b.add(b.add(xi, last_bit), _ic(t, base_bias)), _ic(t, ~(last - 1)))
    if ebits < src_e:
        exp_mask = ((1 << src_e) - 1) << src_m
        bias = (1 << (src_e - 1)) - 1
        rbias = (1 << (ebits - 1)) - 1
        xe = b.and_(xi, _ic(t, exp_mask))
        over = b.icmp_unsigned(">", xe, _ic(t, (bias + rbias) << src_m))
        under = b.icmp_unsigned("<=", xe, _ic(t, (bias - rbias) << src_m))
        szero = b.and_(xi, _ic(t, 1 << (nbits - 1)))
        sinf = b.or_(szero, _ic(t, exp_mask))
        xi = b.select(under, szero, b.select(over, sinf, xi))
    r = _from_bits(s, dt, xi)
    nan_val = x if mbits > 0 else _fc(x.type, math.inf)
    return b.select(_isnan(s, x), nan_val, r)


__all__ = ["LOWERINGS", "Lowering", "lower", "emit", "unsupported_reason", "convert_value",
           "NotLowerable"]
