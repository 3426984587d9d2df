"""Reductions (sum, mean, max, argmax, var, ...) and cumulative reductions (cumsum, ...).

Each emits a stablehlo.reduce whose region is the scalar op, as jax does; argmax/argmin are a
variadic reduce over (values, iota) with jax's NaN-aware, lowest-index-wins body; cumulative
reductions are a reduce_window over a window as long as the axis, padded on the low side.
"""
from __future__ import annotations

import builtins

import numpy as np

from ..ir import dtypes as D
from ..ir.types import TensorType
from ._core import (Array, api, asarray, broadcast_to, compare, constant, convert, emit, error, in_region,
                    new_region, normalize_axes, normalize_axis, reshape_to, results, wrap)
from ._dtypes import DEFAULT_FLOAT, DEFAULT_INT, to_dtype


# ---- regions ----------------------------------------------------------------------------------------
def scalar_region(kind: str, dtypes, body):
    """A region with one scalar parameter per dtype; body(*params) returns its outputs."""
    region = new_region(kind)
    params = [Array(region.add_parameter(TensorType((), dt))) for dt in dtypes]
    with in_region(region):
        outs = body(*params)
    region.set_outputs([o.inst for o in outs])
    return region


def _binop_region(opcode: str, dt: D.DType):
    def body(a, b):
        return [wrap(emit(opcode, [a, b]))]
    return scalar_region("reducer", [dt, dt], body)


def reduce(x: Array, axes: tuple[int, ...], opcode: str, init) -> Array:
    """stablehlo.reduce of x over axes with a scalar op and an init value."""
    init_c = constant(init, x.xdtype)
    inst = emit("reduce", [x, init_c], {"dimensions": tuple(axes)},
                regions=[_binop_region(opcode, x.xdtype)])
    return wrap(inst, x.weak)


def _keep(out: Array, x: Array, axes, keepdims: bool) -> Array:
    if not keepdims:
        return out
    return reshape_to(out, tuple(1 if i in axes else d for i, d in enumerate(x.shape)))


def _prepare(x, axis, where, what: str):
    a = asarray(x)
    axes = normalize_axes(axis, a.ndim)
    return a, axes


def _apply_where(a: Array, where, fill) -> Array:
    if where is None:
        return a
    from ._elementwise import where as _where
    return _where(where, a, fill)


def _sum_dtype(dt: D.DType, dtype) -> D.DType:
    """numpy/jax: bools and narrow ints accumulate in the default int (unsigned: u32)."""
    if dtype is not None:
        return to_dtype(dtype)
    if dt.is_pred or (dt.is_signed and dt.bits < 32):
        return DEFAULT_INT
    if dt.is_unsigned and dt.bits < 32:
        return D.UI32
    return dt


def _upcast(dt: D.DType) -> D.DType:
    """f16/bf16 reductions accumulate in f32 (jax's upcast_f16_for_computation)."""
    return D.F32 if dt in (D.F16, D.BF16) else dt


# ---- sum / prod / max / min / all / any ---------------------------------------------------------------
def _arith_reduce(opcode, identity, x, axis, dtype, keepdims, initial, where):
    a, axes = _prepare(x, axis, where, opcode)
    out_dt = _sum_dtype(a.xdtype, dtype)
    a = convert(a, out_dt, weak=a.weak)
    a = _apply_where(a, where, identity)
    acc_dt = _upcast(out_dt)
    r = reduce(convert(a, acc_dt, weak=a.weak), axes, opcode, identity)
    r = convert(r, out_dt, weak=a.weak)
    if initial is not None:
        from ._elementwise import add, multiply
        r = (add if opcode == "add" else multiply)(r, initial)
        r = convert(r, out_dt, weak=a.weak)
    return _keep(r, a, axes, keepdims)


@api
def sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    _no_out(out)
    return _arith_reduce("add", 0, a, axis, dtype, keepdims, initial, where)


@api
def prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    _no_out(out)
    return _arith_reduce("multiply", 1, a, axis, dtype, keepdims, initial, where)


def _lowest(dt: D.DType):
    if dt.is_pred:
        return False
    if dt.is_float:
        return -np.inf
    return np.iinfo(dt.np_dtype).min


def _highest(dt: D.DType):
    if dt.is_pred:
        return True
    if dt.is_float:
        return np.inf
    return np.iinfo(dt.np_dtype).max


def _minmax(is_max: bool, a, axis, keepdims, initial, where):
    x, axes = _prepare(a, axis, where, "max")
    if x.xdtype.is_complex:
        raise error("not defined for complex operands")
    if where is not None and initial is None:
        raise error("where= needs initial= (the value of an empty reduction)")
    if initial is None and builtins.any(x.shape[i] == 0 for i in axes):
        raise error(f"zero-size reduction over axes {axes} of shape {x.shape} has no identity; give initial=")
    ident = _lowest(x.xdtype) if is_max else _highest(x.xdtype)
    x = _apply_where(x, where, ident)
    if x.xdtype.is_pred:
        opcode = "or" if is_max else "and"
    else:
        opcode = "maximum" if is_max else "minimum"
    r = reduce(x, axes, opcode, ident)
    if initial is not None:
        from ._elementwise import maximum, minimum
        r = convert((maximum if is_max else minimum)(r, initial), x.xdtype, weak=x.weak)
    return _keep(r, x, axes, keepdims)


@api
def max(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    _no_out(out)
    return _minmax(True, a, axis, keepdims, initial, where)


@api
def min(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    _no_out(out)
    return _minmax(False, a, axis, keepdims, initial, where)


amax, amin = max, min


def _logical_reduce(opcode, ident, a, axis, keepdims, where):
    x, axes = _prepare(a, axis, where, opcode)
    x = convert(x, D.I1)
    x = _apply_where(x, where, ident)
    return _keep(reduce(x, axes, opcode, ident), x, axes, keepdims)


@api
def all(a, axis=None, out=None, keepdims=False, *, where=None):
    _no_out(out)
    return _logical_reduce("and", True, a, axis, keepdims, where)


@api
def any(a, axis=None, out=None, keepdims=False, *, where=None):
    _no_out(out)
    return _logical_reduce("or", False, a, axis, keepdims, where)


def _no_out(out):
    if out is not None:
        raise error("out= is not supported (traced arrays are immutable); use the return value")


# ---- mean / var / std ------------------------------------------------------------------------------
def _count(x: Array, axes) -> int:
    n = 1
    for i in axes:
        n *= x.shape[i]
    return n


def _inexact_dtype(dt: D.DType, dtype) -> D.DType:
    if dtype is not None:
        return to_dtype(dtype)
    return dt if (dt.is_float or dt.is_complex) else DEFAULT_FLOAT


@api
def mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    _no_out(out)
    from ._elementwise import divide
    x, axes = _prepare(a, axis, where, "mean")
    out_dt = _inexact_dtype(x.xdtype, dtype)
    acc_dt = _upcast(out_dt)
    s = sum(convert(x, acc_dt, weak=x.weak), axes, keepdims=keepdims, where=where)
    if where is None:
        n = _count(x, axes)
        r = divide(s, float(n))
    else:
        cnt = sum(broadcast_to(convert(asarray(where), acc_dt), x.shape), axes, keepdims=keepdims)
        r = divide(s, cnt)
    return convert(r, out_dt, weak=x.weak)


@api
def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, correction=None):
    _no_out(out)
    from ._elementwise import multiply, real, conjugate, divide, subtract
    if correction is not None:
        ddof = correction
    x, axes = _prepare(a, axis, where, "var")
    out_dt = _inexact_dtype(x.xdtype, dtype)
    acc_dt = _upcast(out_dt)
    xc = convert(x, acc_dt, weak=x.weak)
    centered = subtract(xc, mean(xc, axes, keepdims=True, where=where))
    sq = real(multiply(centered, conjugate(centered))) if acc_dt.is_complex else multiply(centered, centered)
    s = sum(sq, axes, keepdims=keepdims, where=where)
    if where is None:
        n = _count(x, axes) - ddof
        r = divide(s, float(n))
    else:
        cnt = sum(broadcast_to(convert(asarray(where), s.xdtype), x.shape), axes, keepdims=keepdims)
        r = divide(s, subtract(cnt, float(ddof)))
    return convert(r, out_dt.component if out_dt.is_complex else out_dt, weak=x.weak)


@api
def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, correction=None):
    from ._elementwise import sqrt
    return sqrt(var(a, axis, dtype, out, ddof, keepdims, where=where, correction=correction))


# ---- argmax / argmin ---------------------------------------------------------------------------------
def _argminmax(is_max: bool, a, axis, keepdims):
    from ._shape import reshape
    x = asarray(a)
    if x.xdtype.is_complex:
        raise error("not defined for complex operands")
    if axis is None:
        flat = reshape(x, (-1,))
        r = _argminmax(is_max, flat, 0, False)
        return reshape_to(r, (1,) * x.ndim) if keepdims else r
    ax = normalize_axis(axis, x.ndim)
    if x.shape[ax] == 0:
        raise error("attempt to get argmax/argmin of an empty sequence")
    idx = wrap(emit("iota", [], {"iota_dimension": ax}, type=TensorType(x.shape, DEFAULT_INT)))
    vdt = x.xdtype
    direction = "GT" if is_max else "LT"

    def body(av, ai, bv, bi):
        pick = compare(av, bv, direction)
        if vdt.is_float:
            pick = wrap(emit("or", [pick, compare(av, av, "NE")]))
        tie = wrap(emit("and", [compare(av, bv, "EQ"), compare(ai, bi, "LT")]))
        pick_i = wrap(emit("or", [pick, tie]))
        return [wrap(emit("select", [pick, av, bv])),
                wrap(emit("select", [pick_i, ai, bi]))]

    region = scalar_region("argreducer", [vdt, DEFAULT_INT, vdt, DEFAULT_INT], body)
    init_v = constant(_lowest(vdt) if is_max else _highest(vdt), vdt)
    init_i = constant(0, DEFAULT_INT)
    inst = emit("reduce", [x, idx, init_v, init_i], {"dimensions": (ax,)}, regions=[region])
    r = wrap(results(inst)[1])
    return _keep(r, x, (ax,), keepdims)


@api
def argmax(a, axis=None, out=None, keepdims=False):
    _no_out(out)
    return _argminmax(True, a, axis, keepdims)


@api
def argmin(a, axis=None, out=None, keepdims=False):
    _no_out(out)
    return _argminmax(False, a, axis, keepdims)


# ---- cumulative -----------------------------------------------------------------------------------
def _cumulative(opcode, ident_fn, a, axis, dtype, promote_ints):
    from ._shape import reshape
    x = asarray(a)
    if axis is None:
        x = reshape(x, (-1,))
        axis = 0
    ax = normalize_axis(axis, x.ndim)
    out_dt = _sum_dtype(x.xdtype, dtype) if promote_ints else (to_dtype(dtype) if dtype else x.xdtype)
    x = convert(x, out_dt, weak=x.weak)
    n = x.shape[ax]
    if n == 0:
        return x
    dims = tuple(n if i == ax else 1 for i in range(x.ndim))
    pad = tuple((n - 1, 0) if i == ax else (0, 0) for i in range(x.ndim))
    init = constant(ident_fn(out_dt), out_dt)
    inst = emit("reduce_window", [x, init],
                {"window_dimensions": dims, "window_strides": (1,) * x.ndim, "padding": pad},
                regions=[_binop_region(opcode, out_dt)])
    return wrap(inst, x.weak)


@api
def cumsum(a, axis=None, dtype=None, out=None):
    _no_out(out)
    return _cumulative("add", lambda dt: 0, a, axis, dtype, True)


@api
def cumprod(a, axis=None, dtype=None, out=None):
    _no_out(out)
    return _cumulative("multiply", lambda dt: 1, a, axis, dtype, True)


@api
def cummax(a, axis=None, dtype=None):
    return _cumulative("maximum", _lowest, a, axis, dtype, False)


@api
def cummin(a, axis=None, dtype=None):
    return _cumulative("minimum", _highest, a, axis, dtype, False)


cumulative_sum = cumsum
cumulative_prod = cumprod


@api
def count_nonzero(a, axis=None, keepdims=False):
    x = asarray(a)
    return sum(convert(x, D.I1), axis, keepdims=keepdims)
