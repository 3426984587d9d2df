"""Elementwise functions: arithmetic, comparisons, logic, and the math library.

Each one promotes its operands (jax.numpy lattice; Python scalars are weak), broadcasts them
with broadcast_in_dim, and emits one StableHLO op (or the short sequence jax emits).
"""
from __future__ import annotations

import builtins
import math

import numpy as np

from ..ir import dtypes as D
from ..ir.types import TensorType
from ._core import (Array, api, asarray, broadcast_shapes, broadcast_to, compare, constant, convert, emit,
                    error, is_python_scalar, promote_args, typeof, wrap)


# ---- building blocks ------------------------------------------------------------------------------
def _bcast(arrays) -> list[Array]:
    shape = broadcast_shapes(*(a.shape for a in arrays))
    return [broadcast_to(a, shape) for a in arrays]


def binary(opcode: str, a, b, *, inexact: bool = False, allow=None) -> Array:
    (x, y), dt, weak = promote_args(a, b, inexact=inexact)
    if allow is not None and not allow(dt):
        raise error(f"not defined for {dt} operands")
    x, y = _bcast([x, y])
    return wrap(emit(opcode, [x, y]), weak)


def unary(opcode: str, x, *, inexact: bool = False, allow=None) -> Array:
    (a,), dt, weak = promote_args(x, inexact=inexact)
    if allow is not None and not allow(dt):
        raise error(f"not defined for {dt} operands")
    return wrap(emit(opcode, [a]), weak)


def _cmp(direction: str, a, b) -> Array:
    (x, y), dt, _ = promote_args(a, b)
    x, y = _bcast([x, y])
    return compare(x, y, direction)


def _splat(value, like: Array) -> Array:
    return broadcast_to(constant(value, like.xdtype), like.shape)


def _integral(dt):
    return dt.is_integral


def _not_complex(dt):
    return not dt.is_complex


# ---- arithmetic -------------------------------------------------------------------------------------
@api
def add(x, y):
    return binary("add", x, y)


@api
def subtract(x, y):
    return binary("subtract", x, y)


@api
def multiply(x, y):
    return binary("multiply", x, y)


@api
def divide(x, y):
    return binary("divide", x, y, inexact=True)


true_divide = divide


@api
def floor_divide(x, y):
    (a, b), dt, weak = promote_args(x, y)
    a, b = _bcast([a, b])
    if dt.is_float:
        q = wrap(emit("divide", [a, b]), weak)
        return wrap(emit("floor", [q]), weak)
    if dt.is_complex or dt.is_pred:
        raise error(f"not defined for {dt} operands")
    q = wrap(emit("divide", [a, b]), weak)
    if dt.is_unsigned:
        return q
    # C division truncates; floor division steps down when the signs differ and it is inexact.
    r = wrap(emit("remainder", [a, b]))
    zero = _splat(0, a)
    fix = logical_and(compare(r, zero, "NE"),
                      compare(compare(r, zero, "LT"), compare(b, zero, "LT"), "NE"))
    qm1 = wrap(emit("subtract", [q, _splat(1, q)]))
    return wrap(emit("select", [fix, qm1, q]), weak)


@api
def remainder(x, y):
    """Python-style modulo: the result has the sign of the divisor."""
    (a, b), dt, weak = promote_args(x, y)
    if dt.is_complex or dt.is_pred:
        raise error(f"not defined for {dt} operands")
    a, b = _bcast([a, b])
    r = wrap(emit("remainder", [a, b]), weak)
    if dt.is_unsigned:
        return r
    zero = _splat(0, a)
    fix = logical_and(compare(r, zero, "NE"),
                      compare(compare(r, zero, "LT"), compare(b, zero, "LT"), "NE"))
    rb = wrap(emit("add", [r, b]))
    return wrap(emit("select", [fix, rb, r]), weak)


mod = remainder


@api
def fmod(x, y):
    return binary("remainder", x, y, allow=_not_complex)


def _integer_pow(x: Array, n: int) -> Array:
    """x ** n for a static int n by square-and-multiply (jax's integer_pow)."""
    if n == 0:
        return _splat(1, x)
    if n < 0 and x.xdtype.is_integral:
        raise error("integers cannot be raised to negative powers")
    acc, base, k = None, x, builtins.abs(n)
    while k:
        if k & 1:
            acc = base if acc is None else wrap(emit("multiply", [acc, base]), x.weak)
        k >>= 1
        if k:
            base = wrap(emit("multiply", [base, base]), x.weak)
    if n < 0:
        acc = wrap(emit("divide", [_splat(1, acc), acc]), x.weak)
    return acc


@api
def power(x, y):
    if is_python_scalar(y) and isinstance(y, int) and not isinstance(y, bool) and not is_python_scalar(x):
        return _integer_pow(asarray(x), y)
    return binary("power", x, y)


@api
def square(x):
    return _integer_pow(asarray(x), 2)


@api
def reciprocal(x):
    return divide(1, x) if not typeof(x)[0].is_integral else binary("divide", 1, x)


@api
def negative(x):
    a = asarray(x)
    if a.xdtype.is_pred:
        raise error("negative is not defined for bool; use xnp.logical_not")
    return wrap(emit("negate", [a]), a.weak)


@api
def positive(x):
    return asarray(x)


@api
def maximum(x, y):
    return binary("maximum", x, y)


@api
def minimum(x, y):
    return binary("minimum", x, y)


@api
def clip(x, min=None, max=None, *, a_min=None, a_max=None):
    """jax.numpy.clip: maximum with min, then minimum with max (either may be None)."""
    lo = min if min is not None else a_min
    hi = max if max is not None else a_max
    out = asarray(x)
    if lo is not None:
        out = maximum(out, lo)
    if hi is not None:
        out = minimum(out, hi)
    return out


@api
def where(condition, x=None, y=None):
    if x is None or y is None:
        raise error("the one-argument form (nonzero) has a data-dependent shape; give both x and y")
    c = asarray(condition)
    if not c.xdtype.is_pred:
        c = convert(c, D.I1)
    (a, b), dt, weak = promote_args(x, y)
    shape = broadcast_shapes(c.shape, a.shape, b.shape)
    c, a, b = broadcast_to(c, shape), broadcast_to(a, shape), broadcast_to(b, shape)
    return wrap(emit("select", [c, a, b]), weak)


@api
def select(condlist, choicelist, default=0):
    out = asarray(default)
    for c, v in reversed(list(zip(condlist, choicelist))):
        out = where(c, v, out)
    return out


# ---- comparisons and logic ----------------------------------------------------------------------------
@api
def equal(x, y):
    return _cmp("EQ", x, y)


@api
def not_equal(x, y):
    return _cmp("NE", x, y)


@api
def less(x, y):
    return _cmp("LT", x, y)


@api
def less_equal(x, y):
    return _cmp("LE", x, y)


@api
def greater(x, y):
    return _cmp("GT", x, y)


@api
def greater_equal(x, y):
    return _cmp("GE", x, y)


def _as_bool(x) -> Array:
    a = asarray(x)
    return a if a.xdtype.is_pred else convert(a, D.I1)


@api
def logical_and(x, y):
    a, b = _bcast([_as_bool(x), _as_bool(y)])
    return wrap(emit("and", [a, b]))


@api
def logical_or(x, y):
    a, b = _bcast([_as_bool(x), _as_bool(y)])
    return wrap(emit("or", [a, b]))


@api
def logical_xor(x, y):
    a, b = _bcast([_as_bool(x), _as_bool(y)])
    return wrap(emit("xor", [a, b]))


@api
def logical_not(x):
    a = _as_bool(x)
    return wrap(emit("not", [a]))


@api
def bitwise_and(x, y):
    return binary("and", x, y, allow=_integral)


@api
def bitwise_or(x, y):
    return binary("or", x, y, allow=_integral)


@api
def bitwise_xor(x, y):
    return binary("xor", x, y, allow=_integral)


@api
def bitwise_not(x):
    return unary("not", x, allow=_integral)


invert = bitwise_not


@api
def left_shift(x, y):
    return binary("shift_left", x, y, allow=lambda d: d.is_int)


@api
def right_shift(x, y):
    dt = promote_args(x, y)[1]
    return binary("shift_right_logical" if dt.is_unsigned else "shift_right_arithmetic", x, y,
                  allow=lambda d: d.is_int)


@api
def isnan(x):
    a = asarray(x)
    if not (a.xdtype.is_float or a.xdtype.is_complex):
        return full_bool(a, False)
    return compare(a, a, "NE")


@api
def isfinite(x):
    a = asarray(x)
    if not a.xdtype.is_float:
        return full_bool(a, True)
    return wrap(emit("is_finite", [a]))


@api
def isinf(x):
    a = asarray(x)
    if not a.xdtype.is_float:
        return full_bool(a, False)
    mag = wrap(emit("abs", [a]))
    return compare(mag, _splat(np.inf, a), "EQ")


def full_bool(like: Array, value: bool) -> Array:
    return broadcast_to(constant(value, D.I1), like.shape)


# ---- math library -----------------------------------------------------------------------------------
def _float_unary(opcode, doc=""):
    def f(x):
        return unary(opcode, x, inexact=True)
    f.__doc__ = doc
    return f


def _named(name, fn):
    fn.__name__ = fn.__qualname__ = name
    fn.__module__ = __name__
    return api(fn)


exp = _named("exp", _float_unary("exponential"))
log = _named("log", _float_unary("log"))
log1p = _named("log1p", _float_unary("log_plus_one"))
expm1 = _named("expm1", _float_unary("exponential_minus_one"))
tanh = _named("tanh", _float_unary("tanh"))
sqrt = _named("sqrt", _float_unary("sqrt"))
rsqrt = _named("rsqrt", _float_unary("rsqrt"))
cbrt = _named("cbrt", _float_unary("cbrt"))
sin = _named("sin", _float_unary("sine"))
cos = _named("cos", _float_unary("cosine"))
tan = _named("tan", _float_unary("tan"))
erf = _named("erf", _float_unary("erf"))
erfc = _named("erfc", _float_unary("erfc"))
sinh = _named("sinh", _float_unary("sinh"))
cosh = _named("cosh", _float_unary("cosh"))
arcsin = _named("arcsin", _float_unary("asin"))
arccos = _named("arccos", _float_unary("acos"))
arctan = _named("arctan", _float_unary("atan"))
arcsinh = _named("arcsinh", _float_unary("asinh"))
arccosh = _named("arccosh", _float_unary("acosh"))
arctanh = _named("arctanh", _float_unary("atanh"))
sigmoid = _named("sigmoid", _float_unary("logistic"))


@api
def exp2(x):
    return exp(multiply(x, math.log(2.0)))


@api
def log2(x):
    return divide(log(x), math.log(2.0))


@api
def log10(x):
    return divide(log(x), math.log(10.0))


@api
def arctan2(x, y):
    return binary("atan2", x, y, inexact=True)


@api
def abs(x):
    a = asarray(x)
    if a.xdtype.is_pred or a.xdtype.is_unsigned:
        return a
    return wrap(emit("abs", [a]), a.weak)


absolute = abs


@api
def sign(x):
    a = asarray(x)
    if a.xdtype.is_pred:
        return a
    if a.xdtype.is_unsigned:
        zero = _splat(0, a)
        return convert(compare(a, zero, "NE"), a.xdtype)
    return wrap(emit("sign", [a]), a.weak)


def _rounding(opcode):
    def f(x):
        a = asarray(x)
        if a.xdtype.is_integral:
            return a
        return wrap(emit(opcode, [a]), a.weak)
    return f


floor = _named("floor", _rounding("floor"))
ceil = _named("ceil", _rounding("ceil"))
rint = _named("rint", _rounding("round_nearest_even"))


@api
def round(x, decimals=0):
    a = asarray(x)
    if a.xdtype.is_integral:
        return a
    if decimals == 0:
        return rint(a)
    f = 10.0 ** decimals
    return divide(rint(multiply(a, f)), f)


around = round


@api
def trunc(x):
    a = asarray(x)
    if a.xdtype.is_integral:
        return a
    return where(less(a, 0), ceil(a), floor(a))


fix = trunc


@api
def real(x):
    a = asarray(x)
    if not a.xdtype.is_complex:
        return a
    return wrap(emit("real", [a]), a.weak)


@api
def imag(x):
    a = asarray(x)
    if not a.xdtype.is_complex:
        return broadcast_to(constant(0, a.xdtype), a.shape)
    return wrap(emit("imag", [a]), a.weak)


@api
def conjugate(x):
    a = asarray(x)
    if not a.xdtype.is_complex:
        return a
    re, im = real(a), imag(a)
    return wrap(emit("complex", [re, negative(im)]), a.weak)


conj = conjugate


@api
def heaviside(x1, x2):
    a = asarray(x1)
    return where(less(a, 0), 0, where(greater(a, 0), 1, x2)).astype(promote_args(x1, x2)[1])


@api
def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    a = asarray(x)
    if not a.xdtype.is_float:
        return a
    info = np.finfo(a.dtype)
    out = where(isnan(a), nan, a)
    out = where(logical_and(isinf(out), greater(out, 0)), info.max if posinf is None else posinf, out)
    return where(logical_and(isinf(out), less(out, 0)), info.min if neginf is None else neginf, out)
