"""Value types: ranked static tensors, tuples and tokens."""
from __future__ import annotations

import math
from dataclasses import dataclass

from .dtypes import DType, dtype as _dtype


@dataclass(frozen=True)
class TensorType:
    shape: tuple[int, ...]
    dtype: DType

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        object.__setattr__(self, "dtype", _dtype(self.dtype))

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def with_shape(self, shape) -> "TensorType":
        return TensorType(tuple(shape), self.dtype)

    def with_dtype(self, dt) -> "TensorType":
        return TensorType(self.shape, _dtype(dt))

    def __str__(self) -> str:
        dims = "".join(f"{d}x" for d in self.shape)
        return f"tensor<{dims}{self.dtype.name}>"

    __repr__ = __str__

    @property
    def hlo(self) -> str:
        return f"{self.dtype.hlo_name}[{','.join(map(str, self.shape))}]"


@dataclass(frozen=True)
class TupleType:
    elements: tuple  # of Type

    def __post_init__(self):
        object.__setattr__(self, "elements", tuple(self.elements))

    @property
    def nbytes(self) -> int:
        return sum(getattr(e, "nbytes", 0) for e in self.elements)

    def __len__(self) -> int:
        return len(self.elements)

    def __str__(self) -> str:
        return f"tuple<{', '.join(str(e) for e in self.elements)}>"

    __repr__ = __str__

    @property
    def hlo(self) -> str:
        return "(" + ", ".join(e.hlo for e in self.elements) + ")"


@dataclass(frozen=True)
class TokenType:
    nbytes = 0

    def __str__(self) -> str:
        return "!stablehlo.token"

    __repr__ = __str__

    @property
    def hlo(self) -> str:
        return "token[]"


Type = TensorType | TupleType | TokenType
TOKEN = TokenType()


def tensor(shape, dt) -> TensorType:
    return TensorType(tuple(shape), _dtype(dt))


def flatten(t) -> list:
    """The leaf (non-tuple) types of t, depth first."""
    if isinstance(t, TupleType):
        out = []
        for e in t.elements:
            out.extend(flatten(e))
        return out
    return [t]
