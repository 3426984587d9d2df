"""Array creation: zeros, ones, full, arange, linspace, eye, array/asarray, *_like.

Splats are a scalar constant plus broadcast_in_dim and ranges are iota plus arithmetic, as jax
emits them, so no large constant lands in the module. Default dtypes: f32 and i32.
"""
from __future__ import annotations

import math

import numpy as np

from ..ir import dtypes as D
from ..ir.types import TensorType
from ._core import (Array, api, asarray as _asarray, broadcast_to, compare, constant, convert, emit, error,
                    is_python_scalar, static_shape, typeof, wrap)
from ._dtypes import DEFAULT_FLOAT, DEFAULT_INT, python_scalar_dtype, to_dtype


def _dt(dtype, default=DEFAULT_FLOAT) -> D.DType:
    return default if dtype is None else to_dtype(dtype)


@api
def full(shape, fill_value, dtype=None):
    shape = static_shape(shape)
    if isinstance(fill_value, Array) or not (is_python_scalar(fill_value) or np.ndim(fill_value) == 0):
        v = _asarray(fill_value)
        v = convert(v, to_dtype(dtype)) if dtype is not None else convert(v, v.xdtype, weak=False)
        from ._shape import broadcast_to as _bt
        return _bt(v, shape)
    if dtype is None:
        dt = python_scalar_dtype(fill_value) if is_python_scalar(fill_value) else typeof(fill_value)[0]
    else:
        dt = to_dtype(dtype)
    return broadcast_to(constant(fill_value, dt), shape)


@api
def zeros(shape, dtype=None):
    return full(shape, 0, _dt(dtype))


@api
def ones(shape, dtype=None):
    return full(shape, 1, _dt(dtype))


@api
def empty(shape, dtype=None):
    return zeros(shape, dtype)


def _like(a, dtype, shape):
    x = _asarray(a)
    return (x.shape if shape is None else static_shape(shape)), (x.xdtype if dtype is None else to_dtype(dtype))


@api
def zeros_like(a, dtype=None, shape=None):
    s, dt = _like(a, dtype, shape)
    return full(s, 0, dt)


@api
def ones_like(a, dtype=None, shape=None):
    s, dt = _like(a, dtype, shape)
    return full(s, 1, dt)


@api
def empty_like(a, dtype=None, shape=None):
    return zeros_like(a, dtype, shape)


@api
def full_like(a, fill_value, dtype=None, shape=None):
    s, dt = _like(a, dtype, shape)
    return full(s, fill_value, dt)


@api
def array(object, dtype=None, copy=True, ndmin=0):
    x = _asarray(object, dtype)
    if ndmin > x.ndim:
        from ._core import reshape_to
        x = reshape_to(x, (1,) * (ndmin - x.ndim) + x.shape)
    return x


@api
def asarray(a, dtype=None):
    return _asarray(a, dtype)


def _static_number(v, what):
    if isinstance(v, Array):
        raise error(f"{what} must be a static Python number, not a traced value (shapes are static)")
    if not (is_python_scalar(v) or isinstance(v, np.generic)):
        raise error(f"{what} must be a number, got {v!r}")
    return v.item() if isinstance(v, np.generic) else v


def iota(dt: D.DType, n: int) -> Array:
    return wrap(emit("iota", [], {"iota_dimension": 0}, type=TensorType((n,), dt)))


@api
def arange(start, stop=None, step=None, dtype=None):
    start = _static_number(start, "start")
    if stop is None:
        start, stop = 0, start
    stop = _static_number(stop, "stop")
    step = 1 if step is None else _static_number(step, "step")
    if step == 0:
        raise error("step must not be zero")
    if dtype is None:
        dt = DEFAULT_FLOAT if any(isinstance(v, float) for v in (start, stop, step)) else DEFAULT_INT
    else:
        dt = to_dtype(dtype)
    n = max(0, int(math.ceil((stop - start) / step)))
    out = iota(dt, n)
    if step != 1:
        out = wrap(emit("multiply", [out, broadcast_to(constant(step, dt), (n,))]))
    if start != 0:
        out = wrap(emit("add", [out, broadcast_to(constant(start, dt), (n,))]))
    return out


@api
def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    start = _static_number(start, "start")
    stop = _static_number(stop, "stop")
    num = int(_static_number(num, "num"))
    if num < 0:
        raise error(f"num must be non-negative, got {num}")
    if axis != 0:
        raise error("only axis=0 is supported")
    dt = _dt(dtype)
    ct = dt if dt.is_float or dt.is_complex else DEFAULT_FLOAT
    div = (num - 1) if endpoint else num
    step = (stop - start) / div if div > 0 else float("nan")
    if num == 0:
        out = full((0,), 0, ct)
    elif num == 1:
        out = full((1,), start, ct)
    else:
        i = iota(ct, num)
        out = wrap(emit("multiply", [i, broadcast_to(constant(step, ct), (num,))]))
        out = wrap(emit("add", [out, broadcast_to(constant(start, ct), (num,))]))
        if endpoint:
            # the last element is exactly stop, as numpy guarantees
            last = compare(iota(DEFAULT_INT, num), broadcast_to(constant(num - 1, DEFAULT_INT), (num,)), "EQ")
            out = wrap(emit("select", [last, broadcast_to(constant(stop, ct), (num,)), out]))
    out = convert(out, dt)
    return (out, step) if retstep else out


@api
def eye(N, M=None, k=0, dtype=None):
    n = int(_static_number(N, "N"))
    m = n if M is None else int(_static_number(M, "M"))
    k = int(_static_number(k, "k"))
    dt = _dt(dtype)
    rows = wrap(emit("iota", [], {"iota_dimension": 0}, type=TensorType((n, m), DEFAULT_INT)))
    cols = wrap(emit("iota", [], {"iota_dimension": 1}, type=TensorType((n, m), DEFAULT_INT)))
    if k:
        rows = wrap(emit("add", [rows, broadcast_to(constant(k, DEFAULT_INT), (n, m))]))
    return convert(compare(rows, cols, "EQ"), dt)


@api
def identity(n, dtype=None):
    return eye(n, dtype=dtype)


@api
def tri(N, M=None, k=0, dtype=None):
    from ._shape import tril
    return tril(ones((N, N if M is None else M), dtype), k)
