"""The tracer's core: the trace state, the traced Array, and emitting instructions.

While a function is traced, every xnp call appends instructions to the innermost open
computation (the entry function, or a loop body / branch region being traced). An Array wraps
the Instruction that computes it plus jax's "weak type" bit (set for values that came from
Python scalars, so `x * 2.0` keeps x's dtype).

Errors are TraceErrors whose `loc` is the user's line: the first stack frame outside
xltune.numpy and xltune.frontend.
"""
from __future__ import annotations

import functools
import itertools
import linecache
import os
import sys
import threading

import numpy as np

from ..errors import SourceLoc, TraceError, VerificationError
from ..ir import dtypes as D
from ..ir.module import Computation, Instruction, Module
from ..ir.ops import op_def
from ..ir.types import TensorType, TupleType
from ._dtypes import canonicalize, promote, python_scalar_dtype, short_name, to_dtype

_HERE = os.path.dirname(os.path.abspath(__file__))
_SKIP_DIRS = (_HERE + os.sep, os.path.join(os.path.dirname(_HERE), "frontend") + os.sep)


# ---- where the user is ----------------------------------------------------------------------
def user_frame():
    f = sys._getframe(1)
    while f is not None and f.f_code.co_filename.startswith(_SKIP_DIRS):
        f = f.f_back
    return f


def user_loc() -> SourceLoc | None:
    """file:line:col of the innermost call made from user code."""
    f = user_frame()
    if f is None:
        return None
    line, col = f.f_lineno, 1
    try:
        pos = next(itertools.islice(f.f_code.co_positions(), f.f_lasti // 2, None))
        if pos[0] is not None:
            line = pos[0]
        if pos[2] is not None:
            col = pos[2] + 1
    except (StopIteration, AttributeError, ValueError):
        pass
    return SourceLoc(line, col, f.f_code.co_filename)


def _api_stack() -> list:
    s = getattr(_TLS, "api", None)
    if s is None:
        s = _TLS.api = []
    return s


def api(fn):
    """Mark a public xnp function: errors raised under it are prefixed with its name when the
    user called it directly (not when another xnp function did)."""
    qual = f"xnp.{fn.__name__}" if fn.__module__.startswith("xltune.numpy") else fn.__qualname__
    if fn.__module__.endswith(".nn"):
        qual = f"xnp.nn.{fn.__name__}"

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        caller = sys._getframe(1).f_code.co_filename
        if caller.startswith(_SKIP_DIRS):
            return fn(*args, **kwargs)
        stack = _api_stack()
        stack.append(qual)
        try:
            return fn(*args, **kwargs)
        finally:
            stack.pop()

    wrapper.xnp_name = qual
    return wrapper


def error(message: str, loc: SourceLoc | None = None) -> TraceError:
    """A TraceError at the user's line (quoting it), prefixed with the xnp function called there."""
    loc = loc or user_loc()
    stack = _api_stack()
    if stack and not message.startswith(stack[-1] + ":"):
        message = f"{stack[-1]}: {message}"
    if loc is not None:
        text = linecache.getline(loc.source, loc.line).strip()
        if text:
            message = f"{message}\n    {text}"
    return TraceError(message, loc)


# ---- trace state ------------------------------------------------------------------------------
class _Trace:
    """One trace in progress: the module and the stack of computations open for emission."""

    def __init__(self, module: Module, entry: Computation):
        self.module = module
        self.stack: list[Computation] = [entry]
        self.region_counter = itertools.count()

    @property
    def comp(self) -> Computation:
        return self.stack[-1]


_TLS = threading.local()


def _traces() -> list[_Trace]:
    t = getattr(_TLS, "traces", None)
    if t is None:
        t = _TLS.traces = []
    return t


def current(what: str = "this call") -> _Trace:
    t = _traces()
    if not t:
        raise error(f"{what} needs a trace: xltune.numpy functions build graphs, so call them from a "
                    f"function given to xltune.trace / xltune.compile or decorated with @xltune.jit")
    return t[-1]


def is_tracing() -> bool:
    return bool(_traces())


class tracing:
    """Context manager: a new trace of `entry` (a Computation of `module`)."""

    def __init__(self, module: Module, entry: Computation):
        self.trace = _Trace(module, entry)

    def __enter__(self) -> _Trace:
        _traces().append(self.trace)
        return self.trace

    def __exit__(self, *exc):
        _traces().pop()
        return False


class in_region:
    """Context manager: emit into `comp` (a region being built) until exit."""

    def __init__(self, comp: Computation):
        self.comp = comp

    def __enter__(self):
        current().stack.append(self.comp)
        return self.comp

    def __exit__(self, *exc):
        current().stack.pop()
        return False


def new_region(kind: str) -> Computation:
    return Computation(f"{kind}{next(current().region_counter)}")


# ---- the traced array -----------------------------------------------------------------------
class Array:
    """A traced value: static shape and dtype, no data. Mirrors the jax.Array interface."""

    __slots__ = ("inst", "weak")
    __array_priority__ = 1000

    def __init__(self, inst: Instruction, weak: bool = False):
        self.inst = inst
        self.weak = weak

    @property
    def type(self) -> TensorType:
        return self.inst.type

    @property
    def shape(self) -> tuple[int, ...]:
        return self.inst.type.shape

    @property
    def xdtype(self) -> D.DType:
        return self.inst.type.dtype

    @property
    def dtype(self) -> np.dtype:
        return self.inst.type.dtype.np_dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return self.inst.type.size

    def __len__(self):
        if not self.shape:
            raise error("len() of a 0-d traced array")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise error("iteration over a 0-d traced array")
        return (self[i] for i in range(self.shape[0]))

    def _concrete(self, what):
        raise error(f"{what} of a traced array: its value is unknown while tracing; use xnp.where, "
                    f"xnp.cond or xnp.while_loop for data-dependent choices")

    def __bool__(self):
        self._concrete("bool()")

    def __int__(self):
        self._concrete("int()")

    def __float__(self):
        self._concrete("float()")

    def __complex__(self):
        self._concrete("complex()")

    def __index__(self):
        self._concrete("using as an index/int")

    def __array__(self, *a, **k):
        self._concrete("converting to a numpy array")

    __hash__ = None  # like jax arrays (== builds a graph)

    def __repr__(self):
        w = ", weak" if self.weak else ""
        return f"Traced<{short_name(self.xdtype)}[{', '.join(map(str, self.shape))}]{w}>"

    # numpy interop: np.exp(traced) and np.sum(traced) go to the xnp functions of that name.
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from . import _dispatch
        return _dispatch.ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        from . import _dispatch
        return _dispatch.function(func, args, kwargs)


def check_live(a: Array) -> Array:
    t = current()
    if a.inst.parent not in t.stack:
        raise error(f"{a!r} was computed in another trace or in a loop body / branch that has ended; "
                    f"values leave a region only through its return value")
    return a


# ---- emitting ------------------------------------------------------------------------------------
def emit(opcode: str, operands=(), attrs: dict | None = None, *, type=None,
         regions=(), loc: SourceLoc | None = None) -> Instruction:
    """Append an instruction to the open computation; a shape-rule error becomes a TraceError.

    `type` is only for ops whose result type the operands cannot determine (broadcast_in_dim,
    reshape, convert, iota); otherwise the op table's shape rule (the one owner of shape
    rules) gives it.
    """
    t = current()
    loc = loc or user_loc()
    ops = [o.inst if isinstance(o, Array) else o for o in operands]
    multi = None
    if type is not None:
        multi = op_def(opcode, loc).variadic_results and isinstance(type, TupleType)
    try:
        return t.comp.add(opcode, ops, type=type, attrs=attrs, regions=regions, loc=loc, multi=multi)
    except VerificationError as e:
        raise error(f"{opcode}: {e.message}", loc) from None


def results(inst: Instruction) -> list[Instruction]:
    """The results of an instruction, as get_tuple_element reads when it has several."""
    if not inst.multi:
        return [inst]
    return [emit("get_tuple_element", [inst], {"index": i})
            for i, t in enumerate(inst.type.elements)]


def wrap(inst: Instruction, weak: bool = False) -> Array:
    return Array(inst, weak)


# ---- values from Python ---------------------------------------------------------------------------
PY_SCALARS = (bool, int, float, complex)


def is_python_scalar(v) -> bool:
    return isinstance(v, PY_SCALARS) and not isinstance(v, np.generic)


def constant(value, dt: D.DType, weak: bool = False) -> Array:
    """A constant of dtype dt (value is converted; Python ints that do not fit are an error)."""
    try:
        with np.errstate(all="ignore"):  # 1e6 in f16 is inf, as in jax
            arr = np.array(value, dtype=dt.np_dtype)
        if is_python_scalar(value) and isinstance(value, int) and not isinstance(value, bool) \
                and dt.is_int and int(arr) != value:
            raise OverflowError
    except OverflowError:
        raise error(f"Python int {value} does not fit in {short_name(dt)}") from None
    except (TypeError, ValueError) as e:
        raise error(f"cannot make a {short_name(dt)} constant from {value!r}: {e}") from None
    return wrap(emit("constant", [], {"value": arr}), weak)


def scalar_const(value, dt: D.DType) -> Instruction:
    return constant(value, dt).inst


def asarray(v, dtype=None) -> Array:
    """A traced Array from an Array, a Python scalar (weak), a numpy value or a nested list."""
    dt = to_dtype(dtype) if dtype is not None else None
    if isinstance(v, Array):
        check_live(v)
        return convert(v, dt) if dt is not None else v
    if is_python_scalar(v):
        return constant(v, dt or python_scalar_dtype(v), weak=dt is None and not isinstance(v, bool))
    if isinstance(v, (list, tuple)) and any(isinstance(e, Array) for e in _leaves(v)):
        from ._shape import stack
        return stack([asarray(e, dtype) for e in v])
    try:
        arr = np.asarray(v)
    except Exception:
        raise error(f"cannot use a {type(v).__name__} as an array") from None
    if arr.dtype == object:
        raise error(f"cannot use a {type(v).__name__} holding Python objects as an array")
    if dt is None:
        dt = canonicalize(D.from_numpy(arr.dtype)) if arr.dtype.kind != "U" else None
        if dt is None:
            raise error(f"cannot use strings ({arr.dtype}) as an array")
    return constant(arr, dt)


def _leaves(v):
    for e in v:
        if isinstance(e, (list, tuple)):
            yield from _leaves(e)
        else:
            yield e


def typeof(v) -> tuple[D.DType, bool]:
    """(dtype, weak) of anything asarray takes, without emitting."""
    if isinstance(v, Array):
        return v.xdtype, v.weak
    if is_python_scalar(v):
        return python_scalar_dtype(v), not isinstance(v, bool)
    if isinstance(v, (list, tuple)) and any(isinstance(e, Array) for e in _leaves(v)):
        return promote(*(typeof(e) for e in _leaves(v)))[0], False
    arr = np.asarray(v)
    return canonicalize(D.from_numpy(arr.dtype)), False


def promote_args(*args, inexact: bool = False) -> tuple[list[Array], D.DType, bool]:
    """Arrays of one common dtype (jax.numpy promotion), plus that dtype and the weak bit."""
    typed = [typeof(a) for a in args]
    dt, weak = promote(*typed)
    if inexact and not (dt.is_float or dt.is_complex):
        dt = D.F32
    out = []
    for a in args:
        if is_python_scalar(a):
            out.append(constant(a, dt, weak=weak))
        else:
            out.append(convert(asarray(a), dt, weak=weak))
    return out, dt, weak


# ---- shape helpers ------------------------------------------------------------------------------
def broadcast_shapes(*shapes, what: str = "operands") -> tuple[int, ...]:
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(rank):
        dims = {s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0}
        dims.discard(1)
        if len(dims) > 1:
            raise error(f"{what} could not be broadcast together with shapes "
                        f"{' '.join(str(tuple(s)) for s in shapes)}")
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def broadcast_to(a: Array, shape) -> Array:
    """broadcast_in_dim of a (numpy broadcasting, trailing dims aligned) to shape."""
    shape = tuple(shape)
    if a.shape == shape:
        return a
    lead = len(shape) - a.ndim
    if lead < 0 or any(d not in (1, shape[lead + i]) for i, d in enumerate(a.shape)):
        raise error(f"cannot broadcast shape {a.shape} to {shape}")
    dims = tuple(range(lead, len(shape)))
    return wrap(emit("broadcast_in_dim", [a], {"broadcast_dimensions": dims},
                     type=TensorType(shape, a.xdtype)), a.weak)


def broadcast_in_dim(a: Array, shape, dims) -> Array:
    return wrap(emit("broadcast_in_dim", [a], {"broadcast_dimensions": tuple(dims)},
                     type=TensorType(tuple(shape), a.xdtype)), a.weak)


def reshape_to(a: Array, shape) -> Array:
    shape = tuple(shape)
    if a.shape == shape:
        return a
    return wrap(emit("reshape", [a], type=TensorType(shape, a.xdtype)), a.weak)


def compare_type(dt: D.DType) -> str:
    if dt.is_float or dt.is_complex:
        return "FLOAT"
    if dt.is_signed:
        return "SIGNED"
    return "UNSIGNED"


def compare(a: Array, b: Array, direction: str) -> Array:
    """stablehlo.compare of two arrays of one dtype and shape."""
    return wrap(emit("compare", [a, b], {"comparison_direction": direction,
                                         "compare_type": compare_type(a.xdtype)}))


def convert(a: Array, dt: D.DType | None, weak: bool | None = None) -> Array:
    if dt is None or dt is a.xdtype:
        if weak is not None and weak != a.weak:
            return Array(a.inst, weak)
        return a
    weak = False if weak is None else weak
    if dt is D.I1:
        # bool(x) is x != 0, as jax emits it
        zero = broadcast_to(constant(0, a.xdtype), a.shape)
        return Array(compare(a, zero, "NE").inst, weak)
    src = a
    if a.xdtype.is_complex and not dt.is_complex:
        src = wrap(emit("real", [a]))
        if src.xdtype is dt:
            return Array(src.inst, weak)
    return wrap(emit("convert", [src], type=TensorType(a.shape, dt)), weak)


def full_like_shape(value, dt: D.DType, shape) -> Array:
    """A splat: scalar constant then broadcast_in_dim (what jax emits)."""
    return broadcast_to(constant(value, dt), tuple(shape))


def normalize_axis(axis: int, ndim: int, what: str = "axis") -> int:
    if isinstance(axis, Array) or not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise error(f"{what} must be a static int, got {axis!r}")
    a = int(axis)
    if not -ndim <= a < ndim:
        raise error(f"{what} {axis} is out of bounds for an array of rank {ndim}")
    return a % ndim if ndim else 0


def normalize_axes(axis, ndim: int, what: str = "axis") -> tuple[int, ...]:
    """None -> all axes; int or sequence -> sorted unique non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (list, tuple)):
        axes = [normalize_axis(a, ndim, what) for a in axis]
        if len(set(axes)) != len(axes):
            raise error(f"repeated {what} in {tuple(axis)}")
        return tuple(sorted(axes))
    return (normalize_axis(axis, ndim, what),)


def static_int(v, what: str) -> int:
    if isinstance(v, Array):
        raise error(f"{what} must be a static (Python) int, not a traced value")
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return int(v)
    try:
        return int(v.__index__())
    except Exception:
        raise error(f"{what} must be an int, got {v!r}") from None


def static_shape(shape, what: str = "shape") -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    if isinstance(shape, Array):
        raise error(f"{what} must be static (Python ints), not a traced value")
    try:
        dims = tuple(static_int(d, what) for d in shape)
    except TypeError:
        raise error(f"{what} must be an int or a sequence of ints, got {shape!r}") from None
    return dims
