"""xnp.nn: activations and normalizations, written as jax.nn writes them.

relu gelu silu sigmoid softmax log_softmax logsumexp layer_norm, plus a few more that come for
free (relu6, leaky_relu, elu, softplus, log_sigmoid, one_hot, rms_norm, standardize).
"""
from __future__ import annotations

import math

from ._core import api, asarray, convert, error, normalize_axes
from ._dtypes import DEFAULT_FLOAT, to_dtype
from ._elementwise import (abs as _abs, add, divide, equal, erf, exp, isfinite, log, log1p, maximum, minimum,
                           multiply, negative, rsqrt, sigmoid as _sigmoid, subtract, tanh,
                           where as _where)
from ._reductions import max as _max, mean as _mean, sum as _sum
from ._shape import expand_dims, squeeze


@api
def relu(x):
    return maximum(x, 0)


@api
def relu6(x):
    return minimum(maximum(x, 0), 6.0)


@api
def leaky_relu(x, negative_slope=0.01):
    a = asarray(x)
    return _where(a >= 0, a, multiply(negative_slope, a))


@api
def elu(x, alpha=1.0):
    from ._elementwise import expm1
    a = asarray(x)
    return _where(a > 0, a, multiply(alpha, expm1(_where(a > 0, 0.0, a))))


@api
def sigmoid(x):
    return _sigmoid(x)


@api
def silu(x):
    a = asarray(x)
    return multiply(a, _sigmoid(a))


swish = silu


@api
def gelu(x, approximate=True):
    """jax.nn.gelu: the tanh approximation by default, the erf form with approximate=False."""
    a = asarray(x)
    if approximate:
        inner = multiply(math.sqrt(2 / math.pi), add(a, multiply(0.044715, a * a * a)))
        return multiply(multiply(0.5, a), add(1.0, tanh(inner)))
    return divide(multiply(a, add(erf(multiply(a, 1 / math.sqrt(2))), 1.0)), 2.0)


@api
def softplus(x):
    a = asarray(x)
    return add(log1p(exp(negative(_abs(a)))), maximum(a, 0))


@api
def log_sigmoid(x):
    return negative(softplus(negative(x)))


@api
def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    if b is not None or return_sign:
        raise error("b= and return_sign= are not supported")
    x = asarray(a)
    if not (x.xdtype.is_float or x.xdtype.is_complex):
        x = convert(x, DEFAULT_FLOAT)
    axes = normalize_axes(axis, x.ndim)
    amax = _max(x, axes, keepdims=True)
    amax = _where(isfinite(amax), amax, 0.0)  # all -inf rows give -inf, not nan
    out = add(log(_sum(exp(subtract(x, amax)), axes, keepdims=True)), amax)
    return out if keepdims else squeeze(out, axes)


def _float(x):
    a = asarray(x)
    return a if (a.xdtype.is_float or a.xdtype.is_complex) else convert(a, DEFAULT_FLOAT)


def _shifted(a, axis, where):
    """x - max(x) over axis (masked entries excluded from the max when `where` is given)."""
    if where is None:
        return subtract(a, _max(a, axis, keepdims=True))
    m = _max(a, axis, keepdims=True, where=where, initial=-math.inf)
    return subtract(a, _where(isfinite(m), m, 0.0))


@api
def softmax(x, axis=-1, where=None, initial=None):
    """exp(x - max) / sum(exp(x - max)); with `where`, masked-out entries give 0."""
    a = _float(x)
    unnormalized = exp(_shifted(a, axis, where))
    if where is not None:
        unnormalized = _where(where, unnormalized, 0.0)
    return divide(unnormalized, _sum(unnormalized, axis, keepdims=True))


@api
def log_softmax(x, axis=-1, where=None, initial=None):
    a = _float(x)
    shifted = _shifted(a, axis, where)
    e = exp(shifted)
    if where is not None:
        e = _where(where, e, 0.0)
    out = subtract(shifted, log(_sum(e, axis, keepdims=True)))
    return out if where is None else _where(where, out, -math.inf)


@api
def standardize(x, axis=-1, mean=None, variance=None, epsilon=1e-5):
    a = asarray(x)
    m = _mean(a, axis, keepdims=True) if mean is None else mean
    c = subtract(a, m)
    v = _mean(multiply(c, c), axis, keepdims=True) if variance is None else variance
    return multiply(c, rsqrt(add(v, epsilon)))


@api
def layer_norm(x, weight=None, bias=None, *, axis=-1, eps=1e-5):
    """(x - mean) / sqrt(var + eps) over axis, then * weight + bias (each optional)."""
    from ._elementwise import sqrt
    a = asarray(x)
    m = _mean(a, axis, keepdims=True)
    c = subtract(a, m)
    v = _mean(multiply(c, c), axis, keepdims=True)
    out = divide(c, sqrt(add(v, eps)))
    if weight is not None:
        out = multiply(out, weight)
    if bias is not None:
        out = add(out, bias)
    return out


@api
def rms_norm(x, weight=None, *, axis=-1, eps=1e-6):
    a = asarray(x)
    out = multiply(a, rsqrt(add(_mean(multiply(a, a), axis, keepdims=True), eps)))
    return out if weight is None else multiply(out, weight)


@api
def one_hot(x, num_classes, *, dtype=None, axis=-1):
    from ._creation import arange
    a = asarray(x)
    idx = expand_dims(a, axis)
    classes = arange(int(num_classes))
    shape = [1] * (a.ndim + 1)
    ax = axis % (a.ndim + 1)
    shape[ax] = int(num_classes)
    from ._shape import reshape
    hot = equal(idx, reshape(classes, tuple(shape)))
    return convert(hot, to_dtype(dtype) if dtype is not None else DEFAULT_FLOAT)

