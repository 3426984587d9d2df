"""Helpers shared by the op families' shape rules and numpy evaluations.

Shape rules raise ValueError/TypeError with a readable message (OpDef.infer_type turns it into a
VerificationError naming the op). Evaluations receive operand values as numpy arrays of exactly
the operand's dtype (0-d arrays for scalars) and must return arrays of exactly the result type.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..types import TensorType, TokenType, TupleType


# ---- shape-rule helpers ------------------------------------------------------------------------
class ResultTypeRequired(ValueError):
    """The op's result type does not follow from its operands and attributes."""


def needs_type(ts, attrs, regions):
    """Shape rule of ops whose result type must be given (convert, reshape, iota, custom_call...)."""
    raise ResultTypeRequired("the result type cannot be inferred from the operands and attributes; "
                             "give it explicitly (type=...)")


def tensor_arg(t, what: str = "operand") -> TensorType:
    if not isinstance(t, TensorType):
        raise TypeError(f"{what} must be a tensor, got {t}")
    return t


def tensors(types, what: str = "operand") -> list[TensorType]:
    return [tensor_arg(t, f"{what} #{i}") for i, t in enumerate(types)]


def count(types, n: int, what: str = "operands"):
    if len(types) != n:
        raise ValueError(f"expects {n} {what}, got {len(types)}")


def dims_attr(attrs: dict, name: str, default=None) -> tuple[int, ...]:
    v = attrs.get(name, default)
    if v is None:
        raise KeyError(f"missing attribute '{name}'")
    if isinstance(v, np.ndarray):
        v = v.reshape(-1).tolist()
    if isinstance(v, (int, np.integer)):
        return (int(v),)
    return tuple(int(x) for x in v)


def pairs_attr(attrs: dict, name: str, rank: int) -> tuple[tuple[int, int], ...]:
    v = attrs.get(name)
    if v is None:
        return tuple((0, 0) for _ in range(rank))
    if isinstance(v, np.ndarray):
        v = v.reshape(-1, 2).tolist()
    out = tuple((int(a), int(b)) for a, b in v)
    if len(out) != rank:
        raise ValueError(f"'{name}' has {len(out)} pairs, expected {rank}")
    return out


def check_dims(dims, rank: int, what: str, unique: bool = True):
    for d in dims:
        if not 0 <= d < rank:
            raise ValueError(f"{what} {list(dims)} out of range for rank {rank}")
    if unique and len(set(dims)) != len(dims):
        raise ValueError(f"{what} {list(dims)} has duplicates")


def same_shape(types, what: str = "operands") -> tuple[int, ...]:
    shapes = {t.shape for t in types}
    if len(shapes) > 1:
        raise ValueError(f"{what} must have the same shape, got " + ", ".join(str(t) for t in types))
    return types[0].shape


def same_dtype(types, what: str = "operands"):
    dts = {t.dtype for t in types}
    if len(dts) > 1:
        raise TypeError(f"{what} must have the same element type, got " + ", ".join(str(t) for t in types))
    return types[0].dtype


def region_output_types(region, what: str = "region") -> tuple:
    return tuple(o.type for o in region.outputs)


def pack(types):
    """The type of an op with these results: the plain type for one, else a TupleType."""
    types = tuple(types)
    return types[0] if len(types) == 1 else TupleType(types)


def window_output_dim(size: int, window: int, stride: int, pad: tuple[int, int], base_dil: int,
                      win_dil: int) -> int:
    dilated = 0 if size == 0 else (size - 1) * base_dil + 1
    padded = pad[0] + dilated + pad[1]
    dwin = 0 if window == 0 else (window - 1) * win_dil + 1
    if padded <= 0 or dwin > padded:
        return 0
    return (padded - dwin) // stride + 1


def complex_of(dt: D.DType) -> D.DType:
    if dt == D.F32:
        return D.C64
    if dt == D.F64:
        return D.C128
    raise TypeError(f"no complex type with {dt} parts")


# ---- evaluation helpers -----------------------------------------------------------------------
def np_dtype(t) -> np.dtype:
    return t.dtype.np_dtype


def result_tensor(inst, i: int | None = None) -> TensorType:
    t = inst.type
    if i is not None:
        t = t.elements[i] if isinstance(t, TupleType) else t
    return t


def leaf_types(inst) -> list:
    """One type per MLIR result of inst."""
    return list(inst.result_types)


def is_token(t) -> bool:
    return isinstance(t, TokenType)


def as_array(x, dt: D.DType) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype != dt.np_dtype:
        a = a.astype(dt.np_dtype)
    return a
