"""xltune.numpy: a tracing front end with numpy / jax.numpy names and semantics.

    import xltune
    import xltune.numpy as xnp
    from xltune.numpy import f32

    def layer(x: f32[64, 256], w: f32[256, 128], b: f32[128]):
        return xnp.nn.relu(x @ w + b)

    module = xltune.trace(layer)             # a Module (prints as StableHLO)
    exe = xltune.compile(layer, backend="cpu")

Calls build StableHLO while a function is traced (xltune.trace / compile / @xltune.jit);
values are `Array`s with static shapes and dtypes. Broadcasting, keepdims and negative axes
follow numpy; type promotion follows jax.numpy (Python scalars are weak, default float f32,
default int i32). Shape and dtype errors are TraceErrors pointing at the user's line.
docs/numpy.md lists everything supported.
"""
from __future__ import annotations

import math as _math

import ml_dtypes as _ml_dtypes
import numpy as _np

from . import _tree as tree_util  # noqa: F401  (flatten/unflatten, as jax.tree_util)
from ._control import cond, fori_loop, switch, while_loop
from ._core import Array, asarray as _asarray, convert as _convert, is_tracing  # noqa: F401
from ._creation import (arange, array, asarray, empty, empty_like, eye, full, full_like, identity, linspace,
                        ones, ones_like, tri, zeros, zeros_like)
from ._dispatch import UnsupportedFunctionError
from ._dtypes import SCALAR_TYPES, ScalarType, TensorSpec, promote as _promote, to_dtype as _to_dtype
from ._elementwise import (abs, absolute, add, arccos, arccosh, arcsin, arcsinh, arctan, arctan2, arctanh,
                           around, bitwise_and, bitwise_not, bitwise_or, bitwise_xor, cbrt, ceil, clip, conj,
                           conjugate, cos, cosh, divide, equal, erf, erfc, exp, exp2, expm1, fix, floor,
                           floor_divide, fmod, greater, greater_equal, heaviside, imag, invert, isfinite, isinf,
                           isnan, left_shift, less, less_equal, log, log1p, log2, log10, logical_and,
                           logical_not, logical_or, logical_xor, maximum, minimum, mod, multiply, nan_to_num,
                           negative, not_equal, positive, power, real, reciprocal, remainder, right_shift, rint,
                           round, rsqrt, select, sign, sin, sinh, sqrt, square, subtract, tan, tanh,
                           true_divide, trunc, where)
from ._indexing import dynamic_slice, dynamic_update_slice, getitem as _getitem, take, take_along_axis
from ._linalg import dot, einsum, inner, matmul, outer, tensordot, trace, vdot
from ._reductions import (all, amax, amin, any, argmax, argmin, count_nonzero, cummax, cummin, cumprod,
                          cumsum, cumulative_prod, cumulative_sum, max, mean, min, prod, std, sum, var)
from ._shape import (array_split, atleast_1d, atleast_2d, broadcast_arrays, broadcast_to, concat, concatenate,
                     expand_dims, flip, fliplr, flipud, hstack, matrix_transpose, moveaxis, pad, permute_dims,
                     ravel, repeat, reshape, roll, split, squeeze, stack, swapaxes, tile, transpose, tril, triu,
                     vstack)
from ._sorting import argsort, sort
from . import nn, linalg  # noqa: E402

ndarray = Array

# ---- element types: f32[...] specs, numpy-style names -------------------------------------------------
bool_ = SCALAR_TYPES["bool_"]
i8, i16, i32, i64 = (SCALAR_TYPES[n] for n in ("i8", "i16", "i32", "i64"))
u8, u16, u32, u64 = (SCALAR_TYPES[n] for n in ("u8", "u16", "u32", "u64"))
f16, bf16, f32, f64 = (SCALAR_TYPES[n] for n in ("f16", "bf16", "f32", "f64"))
c64, c128 = SCALAR_TYPES["c64"], SCALAR_TYPES["c128"]
int8, int16, int32, int64 = i8, i16, i32, i64
uint8, uint16, uint32, uint64 = u8, u16, u32, u64
float16, bfloat16, float32, float64 = f16, bf16, f32, f64
complex64, complex128 = c64, c128
bool = bool_  # noqa: A001  (jax.numpy has it too)

dtype = _np.dtype
finfo = _ml_dtypes.finfo
iinfo = _ml_dtypes.iinfo
newaxis = None
pi, e, inf, nan, euler_gamma = _math.pi, _math.e, _math.inf, _math.nan, 0.5772156649015329


def result_type(*args):
    """The dtype jax.numpy promotion gives for these arrays, scalars and dtypes."""
    from ._core import typeof
    typed = []
    for a in args:
        if isinstance(a, (ScalarType, _np.dtype, str, type)) and not isinstance(a, (Array,)):
            typed.append((_to_dtype(a), False))
        else:
            typed.append(typeof(a))
    return _promote(*typed)[0].np_dtype


def promote_types(a, b):
    return _promote((_to_dtype(a), False), (_to_dtype(b), False))[0].np_dtype


def issubdtype(arg1, arg2):
    return _np.issubdtype(_np.dtype(arg1) if isinstance(arg1, ScalarType) else arg1,
                          _np.dtype(arg2) if isinstance(arg2, ScalarType) else arg2)


def shape(a):
    return tuple(a.shape) if hasattr(a, "shape") else _np.shape(a)


def ndim(a):
    return len(shape(a))


def size(a, axis=None):
    s = shape(a)
    return _math.prod(s) if axis is None else s[axis]


def astype(x, dtype, copy=False):
    return _convert(_asarray(x), _to_dtype(dtype), weak=False)


def stop_gradient(x):
    return _asarray(x)


# ---- Array methods and operators (numpy's and jax.Array's) -------------------------------------------------
def _swap(f):
    return lambda self, other: f(other, self)


def _reshape_method(self, *shape, order="C"):
    if len(shape) == 1 and not isinstance(shape[0], int):
        shape = shape[0]
    return reshape(self, shape, order)


def _transpose_method(self, *axes):
    if not axes:
        return transpose(self)
    if len(axes) == 1 and not isinstance(axes[0], int):
        axes = axes[0]
    return transpose(self, axes)


def _item(self, *args):
    self._concrete("item()")


_METHODS = {
    "__add__": add, "__radd__": _swap(add), "__sub__": subtract, "__rsub__": _swap(subtract),
    "__mul__": multiply, "__rmul__": _swap(multiply), "__truediv__": divide, "__rtruediv__": _swap(divide),
    "__floordiv__": floor_divide, "__rfloordiv__": _swap(floor_divide), "__mod__": remainder,
    "__rmod__": _swap(remainder), "__pow__": power, "__rpow__": _swap(power), "__matmul__": matmul,
    "__rmatmul__": _swap(matmul), "__and__": bitwise_and, "__rand__": _swap(bitwise_and),
    "__or__": bitwise_or, "__ror__": _swap(bitwise_or), "__xor__": bitwise_xor, "__rxor__": _swap(bitwise_xor),
    "__lshift__": left_shift, "__rlshift__": _swap(left_shift), "__rshift__": right_shift,
    "__rrshift__": _swap(right_shift), "__neg__": negative, "__pos__": positive, "__abs__": abs,
    "__invert__": bitwise_not, "__eq__": equal, "__ne__": not_equal, "__lt__": less, "__le__": less_equal,
    "__gt__": greater, "__ge__": greater_equal, "__getitem__": _getitem,
    "__divmod__": lambda a, b: (floor_divide(a, b), remainder(a, b)),
    "astype": astype, "reshape": _reshape_method, "transpose": _transpose_method, "sum": sum, "mean": mean,
    "max": max, "min": min, "prod": prod, "argmax": argmax, "argmin": argmin, "var": var, "std": std,
    "cumsum": cumsum, "cumprod": cumprod, "all": all, "any": any, "clip": clip, "dot": dot,
    "squeeze": squeeze, "swapaxes": swapaxes, "ravel": ravel, "flatten": ravel, "sort": sort,
    "argsort": argsort, "round": round, "conj": conj, "conjugate": conjugate, "take": take,
    "repeat": repeat, "item": _item, "tolist": _item,
}
for _name, _fn in _METHODS.items():
    setattr(Array, _name, _fn)
Array.T = property(lambda self: transpose(self))
Array.mT = property(lambda self: matrix_transpose(self))
Array.real = property(lambda self: real(self))
Array.imag = property(lambda self: imag(self))
Array.at = property(lambda self: _at(self))


def _at(x):
    from ._update import At
    return At(x)


__all__ = sorted(n for n in dir() if not n.startswith("_") and n not in ("annotations", "tree_util", "SCALAR_TYPES"))


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    from ._core import user_loc
    in_numpy = hasattr(_np, name)
    raise UnsupportedFunctionError(f"xnp.{name}", user_loc(),
                                   "it has no traced equivalent yet (docs/numpy.md lists what is supported)"
                                   if in_numpy else "numpy has no such function either")
