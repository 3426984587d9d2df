"""xnp.linalg: norms and matrix transposes (decompositions and solvers are not traced yet)."""
from __future__ import annotations

import math

from ._core import api, asarray, convert, error, normalize_axes
from ._dtypes import DEFAULT_FLOAT
from ._shape import matrix_transpose  # noqa: F401


@api
def vector_norm(x, axis=None, keepdims=False, ord=2):
    from ._elementwise import abs as _abs, multiply, power, sqrt
    from ._reductions import max as _max, min as _min, sum as _sum
    a = asarray(x)
    if not (a.xdtype.is_float or a.xdtype.is_complex):
        a = convert(a, DEFAULT_FLOAT)
    m = _abs(a)
    if ord == 2 or ord is None:
        return sqrt(_sum(multiply(m, m), axis, keepdims=keepdims))
    if ord == 1:
        return _sum(m, axis, keepdims=keepdims)
    if ord == math.inf:
        return _max(m, axis, keepdims=keepdims)
    if ord == -math.inf:
        return _min(m, axis, keepdims=keepdims)
    if ord == 0:
        from ._elementwise import not_equal
        return _sum(convert(not_equal(a, 0), a.xdtype), axis, keepdims=keepdims)
    return power(_sum(power(m, float(ord)), axis, keepdims=keepdims), 1.0 / ord)


@api
def norm(x, ord=None, axis=None, keepdims=False):
    """numpy.linalg.norm for vectors (any ord) and matrices (ord None / 'fro')."""
    a = asarray(x)
    if axis is None and a.ndim <= 1 or isinstance(axis, int):
        return vector_norm(a, axis, keepdims, 2 if ord is None else ord)
    axes = normalize_axes(axis, a.ndim)
    if len(axes) == 2 and ord in (None, "fro"):
        return vector_norm(a, axes, keepdims, 2)
    if axis is None and ord in (None, "fro"):
        return vector_norm(a, None, keepdims, 2)
    raise error(f"ord={ord!r} over axes {axes} is not supported (vector norms, or 'fro' for matrices)")


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    from ._dispatch import UnsupportedFunctionError
    from ._core import user_loc
    raise UnsupportedFunctionError(f"xnp.linalg.{name}", user_loc(),
                                   "it has no traced equivalent yet (docs/numpy.md lists what is supported)")
