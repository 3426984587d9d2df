"""Element types as the user spells them, type specs (`f32[1024, 512]`), and type promotion.

`xnp.f32` is a ScalarType: it names an element type (usable wherever a dtype is expected, and
`np.dtype(xnp.f32)` works), converts values (`xnp.f32(x)`), and indexed with a shape gives a
TensorSpec (`xnp.f32[1024, 512]`) for trace signatures and annotations.

Promotion follows jax.numpy's lattice with 64-bit promotion off (jax's default): Python scalars
are *weak* (`x * 2.0` keeps x's dtype), the default float is f32 and the default int i32, and
numpy values that carry no explicit xltune dtype (np.float64 arrays, np.int64 scalars) are
canonicalized to 32 bits, as jax does. An explicit f64/i64 spec or dtype is honoured.
"""
from __future__ import annotations

import numpy as np

from ..ir import dtypes as D
from ..ir.types import TensorType

def _error(message: str):
    from ._core import error  # a TraceError at the user's line
    return error(message)


DEFAULT_FLOAT = D.F32
DEFAULT_INT = D.I32
DEFAULT_COMPLEX = D.C64


class ScalarType:
    """An element type: `xnp.f32`. Index it with a shape to get a TensorSpec."""

    def __init__(self, dt: D.DType, name: str):
        self.xdtype = dt
        self.name = name

    @property
    def dtype(self) -> np.dtype:
        # numpy's np.dtype(obj) reads obj.dtype, so np.dtype(xnp.f32) == np.float32.
        return self.xdtype.np_dtype

    def __getitem__(self, shape) -> "TensorSpec":
        if shape is Ellipsis:
            raise _error(f"{self.name}[...]: give a static shape, e.g. {self.name}[8, 128]")
        if not isinstance(shape, tuple):
            shape = (shape,)
        dims = []
        for d in shape:
            if isinstance(d, (list, tuple)) and not d and len(shape) == 1:
                return TensorSpec((), self.xdtype)
            if not isinstance(d, (int, np.integer)) or isinstance(d, bool) or d < 0:
                raise _error(f"{self.name}[{', '.join(map(repr, shape))}]: dimensions must be "
                                 f"non-negative ints")
            dims.append(int(d))
        return TensorSpec(tuple(dims), self.xdtype)

    def __call__(self, x):
        from . import asarray
        return asarray(x, dtype=self)

    def __eq__(self, other):
        try:
            return self.xdtype is to_dtype(other)
        except Exception:
            return False

    def __hash__(self):
        return hash(self.xdtype.name)

    def __repr__(self):
        return f"xnp.{self.name}"


class TensorSpec:
    """A static tensor type for a trace signature: shape and element type."""

    __slots__ = ("shape", "xdtype")

    def __init__(self, shape, dt):
        self.shape = tuple(int(d) for d in shape)
        self.xdtype = to_dtype(dt)

    @property
    def dtype(self) -> np.dtype:
        return self.xdtype.np_dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def type(self) -> TensorType:
        return TensorType(self.shape, self.xdtype)

    def __eq__(self, other):
        return isinstance(other, TensorSpec) and self.shape == other.shape and self.xdtype is other.xdtype

    def __hash__(self):
        return hash((self.shape, self.xdtype.name))

    def __repr__(self):
        return f"{SHORT_NAMES.get(self.xdtype.name, self.xdtype.name)}[{', '.join(map(str, self.shape))}]"


# Short names (as in the issue: f32, i32, bool_) and numpy-style long names, same objects.
_SHORT = {
    "bool_": D.I1, "i8": D.I8, "i16": D.I16, "i32": D.I32, "i64": D.I64,
    "u8": D.UI8, "u16": D.UI16, "u32": D.UI32, "u64": D.UI64,
    "f16": D.F16, "bf16": D.BF16, "f32": D.F32, "f64": D.F64, "c64": D.C64, "c128": D.C128,
}
_LONG = {
    "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
    "uint8": "u8", "uint16": "u16", "uint32": "u32", "uint64": "u64",
    "float16": "f16", "bfloat16": "bf16", "float32": "f32", "float64": "f64",
    "complex64": "c64", "complex128": "c128",
}
SCALAR_TYPES: dict[str, ScalarType] = {n: ScalarType(dt, n) for n, dt in _SHORT.items()}
for _long, _short in _LONG.items():
    SCALAR_TYPES[_long] = SCALAR_TYPES[_short]
SHORT_NAMES = {dt.name: n for n, dt in _SHORT.items()}


def to_dtype(x) -> D.DType:
    """An xltune DType from anything naming an element type (xnp.f32, np.float32, 'f32', 'float32')."""
    if isinstance(x, D.DType):
        return x
    if isinstance(x, ScalarType):
        return x.xdtype
    if x is bool:
        return D.I1
    if x is int:
        return DEFAULT_INT
    if x is float:
        return DEFAULT_FLOAT
    if x is complex:
        return DEFAULT_COMPLEX
    if isinstance(x, str):
        if x in SCALAR_TYPES:
            return SCALAR_TYPES[x].xdtype
        if D.is_known(x):
            return D.dtype(x)
    try:
        return D.dtype(np.dtype(x))
    except Exception:
        raise _error(f"not an element type: {x!r} (use e.g. xnp.f32, np.float32 or 'float32')") from None


def canonicalize(dt: D.DType) -> D.DType:
    """What jax does to dtypes that come from numpy values without an explicit dtype."""
    return {D.F64: D.F32, D.I64: D.I32, D.UI64: D.UI32, D.C128: D.C64}.get(dt, dt)


def short_name(dt: D.DType) -> str:
    return SHORT_NAMES.get(dt.name, dt.name)


# ---- promotion lattice (jax.numpy, standard mode, x64 off) ---------------------------------------
_WI, _WF, _WC = "int*", "float*", "complex*"   # weak (Python-scalar) nodes
_F8 = tuple(d for d in D.ALL if d.kind == D.FLOAT and d.bits == 8)
_LATTICE: dict = {
    D.I1: [_WI],
    _WI: [D.UI8, D.UI2, D.UI4, D.I8, D.I2, D.I4],
    D.UI2: [], D.UI4: [],
    D.UI8: [D.I16, D.UI16],
    D.UI16: [D.I32, D.UI32],
    D.UI32: [D.I32, D.UI64],  # jax's 32-bit lattice: u32 x i32 -> i32, never a 64-bit type
    D.UI64: [_WF],
    D.I2: [], D.I4: [],
    D.I8: [D.I16],
    D.I16: [D.I32],
    D.I32: [D.I64],
    D.I64: [_WF],
    _WF: [*_F8, D.BF16, D.F16, _WC],
    **{t: [] for t in _F8},
    D.BF16: [D.F32],
    D.F16: [D.F32],
    D.F32: [D.F64, D.C64],
    D.F64: [D.C128],
    _WC: [D.C64],
    D.C64: [D.C128],
    D.C128: [],
}


def _upper_bounds() -> dict:
    ubs = {}
    for n in _LATTICE:
        seen, todo = set(), [n]
        while todo:
            m = todo.pop()
            if m in seen:
                continue
            seen.add(m)
            todo.extend(_LATTICE[m])
        ubs[n] = seen
    return ubs


_UB = _upper_bounds()


def _node(dt: D.DType, weak: bool):
    if not weak:
        return dt
    return {D.SINT: _WI, D.UINT: _WI, D.FLOAT: _WF, D.COMPLEX: _WC}.get(dt.kind, dt)


def promote(*typed) -> tuple[D.DType, bool]:
    """(dtype, weak) pairs -> the result (dtype, weak) of combining them, as jax.numpy does."""
    nodes = {_node(dt, w) for dt, w in typed}
    cub = set.intersection(*(_UB[n] for n in nodes))
    lub = (cub & nodes) or {c for c in cub if cub.issubset(_UB[c])}
    if len(lub) != 1:
        names = ", ".join(sorted(short_name(dt) + (" (weak)" if w else "") for dt, w in typed))
        raise _error(f"no implicit type promotion between {names}; convert explicitly with "
                         f".astype(...)")
    r = lub.pop()
    if r == _WI:
        return DEFAULT_INT, True
    if r == _WF:
        return DEFAULT_FLOAT, True
    if r == _WC:
        return DEFAULT_COMPLEX, True
    return r, False


def python_scalar_dtype(v) -> D.DType:
    if isinstance(v, (bool, np.bool_)):
        return D.I1
    if isinstance(v, int):
        return DEFAULT_INT
    if isinstance(v, float):
        return DEFAULT_FLOAT
    if isinstance(v, complex):
        return DEFAULT_COMPLEX
    raise TypeError(v)


def is_inexact(dt: D.DType) -> bool:
    return dt.is_float or dt.is_complex
