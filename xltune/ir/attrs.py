"""Structured attribute values.

Attribute values in `Instruction.attrs` are plain Python wherever possible:
  int / float / bool / str            scalars and enum names ("LT", "FLOAT", "DEFAULT", "FFT")
  tuple[int, ...]                     dimension lists (array<i64: ...>, dense<[...]> used as dims)
  tuple[tuple[int, int], ...]         padding pairs (convolution, reduce_window `padding`)
  numpy.ndarray                       dense element data (constants, expected values)
  the frozen dataclasses below        dimension numbers
  RawAttr                             anything xltune does not interpret; printed back verbatim
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


@dataclass(frozen=True)
class DotDimensionNumbers:
    lhs_batching_dimensions: tuple[int, ...] = ()
    rhs_batching_dimensions: tuple[int, ...] = ()
    lhs_contracting_dimensions: tuple[int, ...] = ()
    rhs_contracting_dimensions: tuple[int, ...] = ()


@dataclass(frozen=True)
class GatherDimensionNumbers:
    offset_dims: tuple[int, ...] = ()
    collapsed_slice_dims: tuple[int, ...] = ()
    operand_batching_dims: tuple[int, ...] = ()
    start_indices_batching_dims: tuple[int, ...] = ()
    start_index_map: tuple[int, ...] = ()
    index_vector_dim: int = 0


@dataclass(frozen=True)
class ScatterDimensionNumbers:
    update_window_dims: tuple[int, ...] = ()
    inserted_window_dims: tuple[int, ...] = ()
    input_batching_dims: tuple[int, ...] = ()
    scatter_indices_batching_dims: tuple[int, ...] = ()
    scatter_dims_to_operand_dims: tuple[int, ...] = ()
    index_vector_dim: int = 0


@dataclass(frozen=True)
class ConvDimensionNumbers:
    """Parsed from the `[b, 0, 1, f]x[0, 1, i, o]->[b, 0, 1, f]` form."""
    input_batch_dimension: int
    input_feature_dimension: int
    input_spatial_dimensions: tuple[int, ...]
    kernel_input_feature_dimension: int
    kernel_output_feature_dimension: int
    kernel_spatial_dimensions: tuple[int, ...]
    output_batch_dimension: int
    output_feature_dimension: int
    output_spatial_dimensions: tuple[int, ...]


@dataclass(frozen=True)
class RawAttr:
    """An attribute kept as its source text (e.g. backend_config, frontend attributes)."""
    text: str

    def __str__(self) -> str:
        return self.text


STRUCTURED = (DotDimensionNumbers, GatherDimensionNumbers, ScatterDimensionNumbers, ConvDimensionNumbers)


def attr_equal(a, b) -> bool:
    """Equality that treats numpy arrays by dtype, shape and bits (so NaN == NaN)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        return a.tobytes() == b.tobytes()
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(attr_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (a != a and b != b)
    return type(a) is type(b) and a == b


def attr_key(v):
    """A hashable stand-in for an attribute value (for CSE and hashing)."""
    if isinstance(v, np.ndarray):
        return ("ndarray", str(v.dtype), v.shape, v.tobytes())
    if isinstance(v, (tuple, list)):
        return tuple(attr_key(x) for x in v)
    if isinstance(v, float) and v != v:
        return ("nan",)
    if isinstance(v, STRUCTURED):
        return (type(v).__name__,) + tuple(attr_key(getattr(v, f.name)) for f in fields(v))
    return (type(v).__name__, v)
