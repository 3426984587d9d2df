"""numpy interop: `np.exp(traced)` / `np.sum(traced)` call the xnp function of the same name.

numpy hands traced arrays to `Array.__array_ufunc__` / `__array_function__`; anything xnp
does not implement raises an UnsupportedOpError that names the numpy function.
"""
from __future__ import annotations

from ..errors import UnsupportedOpError, XltuneError
from ._core import error, user_loc


class UnsupportedFunctionError(UnsupportedOpError, AttributeError):
    """A numpy function (or attribute) xltune.numpy does not provide."""

    def __init__(self, name: str, loc=None, detail: str = ""):
        self.op = name
        XltuneError.__init__(self, f"xltune.numpy does not support {name}" + (f": {detail}" if detail else ""),
                             loc)


_UFUNC_ALIASES = {"absolute": "abs", "true_divide": "divide", "conjugate": "conjugate",
                  "bitwise_invert": "bitwise_not", "bitwise_left_shift": "left_shift",
                  "bitwise_right_shift": "right_shift", "fmax": "maximum", "fmin": "minimum",
                  "pow": "power", "acos": "arccos", "asin": "arcsin", "atan": "arctan", "atan2": "arctan2"}


def _unsupported(qualname: str):
    return UnsupportedFunctionError(qualname, user_loc(), "it has no traced equivalent yet "
                                    "(docs/numpy.md lists what is supported)")


def ufunc(uf, method, inputs, kwargs):
    from .. import numpy as xnp
    name = _UFUNC_ALIASES.get(uf.__name__, uf.__name__)
    if method != "__call__":
        raise _unsupported(f"numpy.{uf.__name__}.{method}")
    if kwargs.get("out") is not None:
        raise error(f"numpy.{uf.__name__}: out= is not supported on traced arrays")
    kwargs = {k: v for k, v in kwargs.items() if k != "out"}
    if kwargs:
        raise error(f"numpy.{uf.__name__}: keyword arguments {sorted(kwargs)} are not supported")
    fn = getattr(xnp, name, None) if name in xnp.__all__ else None
    if fn is None:
        raise _unsupported(f"numpy.{uf.__name__}")
    return fn(*inputs)


def function(func, args, kwargs):
    from .. import numpy as xnp
    mod = getattr(func, "__module__", "") or ""
    name = func.__name__
    sub = next((s for s in ("linalg", "fft", "random") if mod.startswith(f"numpy.{s}")), None)
    if mod.startswith("numpy") and sub is None and name in xnp.__all__:
        return getattr(xnp, name)(*args, **kwargs)
    public = f"numpy.{sub}.{name}" if sub else f"numpy.{name}" if mod.startswith("numpy") else f"{mod}.{name}"
    raise _unsupported(public)
