"""xltune's row library: vectorized element-wise and reduction routines over contiguous runs of
floats, compiled once per host (object cache) and loaded once per process.

Why: a row fusion (softmax, layernorm, a sum of squares) emitted as one kernel costs LLVM about
20 ms at O3 with the vectorizers, whatever the fusion's size; most of a cold compile. XLA:CPU
routes the same fusions to YNNPACK, a prebuilt kernel library, and compiles them in ~9 ms. With
these routines a row fusion is a loop calling them (`rowprogram.py`), compiled as glue without the
vectorizing pipeline. Each routine's element computation is the scalar lowering table's, so an
element-wise result has the same bits as the emitted kernel's.

    void NAME_v  (T* out, T* a, i64 n)              out[i] = op(a[i])
    void NAME_vv (T* out, T* a, T* b, i64 n)        out[i] = op(a[i], b[i])
    void NAME_vs (T* out, T* a, T s, i64 n)         out[i] = op(a[i], s)
    void NAME_sv (T* out, T s, T* b, i64 n)         out[i] = op(s, b[i])
    void fill    (T* out, T s, i64 n)               out[i] = s
    T    NAME_red(T* a, i64 n, T start)             op over start, a[0..n): vector accumulators
    T    NAME_seq(T* a, i64 n, T start)             the same, one element after another

NAME is `xltune_rt_row_<dtype>_<opcode>`, with a `_libm` suffix for the transcendentals computed
by the C library (the `math` knob) instead of xltune's polynomials. Pointers are never aliased
(callers give every result its own buffer), which lets LLVM vectorize without overlap checks.
"""
from __future__ import annotations

import re
import sys
import threading
from dataclasses import dataclass
from functools import lru_cache
from types import SimpleNamespace

from llvmlite import ir

from ...codegen import lltypes as T
from ...codegen import scalar
from ...codegen.context import CodegenContext, EmitOptions
from ...codegen.elemental import uses_approx_math
from ...codegen.indexing import c64
from ...codegen.loops import for_range, loop_metadata
from ...codegen.reduction import float_step
from ...ir import dtypes as D
from ...ir.module import Computation
from ...ir.types import TensorType

PREFIX = "xltune_rt_row_"
DTYPES = ("f32", "f64")
UNARY = ("negate", "abs", "exponential", "exponential_minus_one", "log", "log_plus_one", "logistic",
         "tanh", "erf", "sine", "cosine", "sqrt", "rsqrt", "cbrt", "floor", "ceil", "sign", "copy")
BINARY = ("add", "subtract", "multiply", "divide", "maximum", "minimum", "power")
REDUCE = ("add", "multiply", "maximum", "minimum")
# associative float steps whose grouping changes the rounding (`_seq` keeps the order)
REORDERS = ("add", "multiply")
# A reduce of an element-wise op's result is one pass, the op's result stored only if something
# else reads it (sums of squares, softmax's sum of exp): these ops and reduces have such routines.
# f32 only: each routine costs the library's one-time compile ~3 ms. (log's max-reduction does
# not vectorize: its NaN handling hides the reduction from LLVM.)
FUSED_DTYPES = ("f32",)
FUSED_UNARY = ("exponential", "abs", "negate", "tanh", "logistic", "sqrt")
FUSED_BINARY = ("add", "subtract", "multiply", "divide")
FUSED_REDUCE = (("add", "red"), ("add", "seq"), ("maximum", "red"))
# a unary op applied to a binary op's result in the same pass: softmax's exp(x - max) (each
# exp routine costs the one-time compile ~20 ms, so only the chain row fusions have)
CHAINED_UNARY = ("exponential",)
CHAINED_BINARY = (("subtract", "vs"), ("subtract", "vv"))
# ops whose throughput, not memory, bounds a pass: as wide as the polynomials (softmax's divide
# pass at 512 bits: library softmax 14 % -> 5 % behind the emitted kernel on this AVX-512 host)
WIDE_OPS = ("divide", "sqrt", "rsqrt")
ELEMENT_INTERLEAVE = 2
REDUCE_INTERLEAVE = 4            # independent vector accumulators (latency of a vector add)


@dataclass(frozen=True)
class Routine:
    dtype: str
    op: str                      # element-wise op ("copy": none), or the reduce's op for "red"/"seq"
    form: str                    # v vv vs sv fill | red seq
    libm: bool = False
    reduce: tuple | None = None  # (op, red|seq): an element-wise routine that also reduces
    store: bool = True           # ... and stores its element-wise result
    then: str | None = None      # a unary op applied to the binary op's result

    @property
    def name(self) -> str:
        n = f"{PREFIX}{self.dtype}_{self.op}_{self.form}" + ("_libm" if self.libm else "")
        if self.then:
            n += f"_then_{self.then}"
        if self.reduce:
            n += f"_{self.reduce[0]}_{self.reduce[1]}" + ("" if self.store else "_only")
        return n

    def signature(self) -> ir.FunctionType:
        t, P, I = T.compute_type(D.dtype(self.dtype)), T.PTR, T.I64
        if self.form in ("red", "seq"):
            return ir.FunctionType(t, [P, I, t])
        ins = {"v": [P], "vv": [P, P], "vs": [P, t], "sv": [t, P], "fill": [t]}[self.form]
        if self.reduce:
            return ir.FunctionType(t, [P] + ins + [I, t])
        return ir.FunctionType(T.VOID, [P] + ins + [I])


def routines():
    """Every routine of the library."""
    for dtype in DTYPES:
        for op in UNARY:
            for libm in ((False, True) if has_math_variant(op, dtype) else (False,)):
                yield Routine(dtype, op, "v", libm)
                if op in FUSED_UNARY and dtype in FUSED_DTYPES:
                    for r in FUSED_REDUCE:
                        for store in (True, False):
                            yield Routine(dtype, op, "v", libm, r, store)
        for op in BINARY:
            for form in ("vv", "vs", "sv"):
                yield Routine(dtype, op, form)
                if op in FUSED_BINARY and dtype in FUSED_DTYPES:
                    for r in FUSED_REDUCE:
                        for store in (True, False):
                            yield Routine(dtype, op, form, False, r, store)
                    for then in (CHAINED_UNARY if (op, form) in CHAINED_BINARY else ()):
                        yield Routine(dtype, op, form, then=then)
                        for r in FUSED_REDUCE:
                            for store in (True, False):
                                yield Routine(dtype, op, form, False, r, store, then)
        yield Routine(dtype, "copy", "fill")
        for op in REDUCE:
            for form in (("red", "seq") if op in REORDERS else ("red",)):
                yield Routine(dtype, op, form)


def declare(cx: CodegenContext, routine: Routine) -> ir.Function:
    sig = routine.signature()
    return cx.declare(routine.name, sig.return_type, list(sig.args))


@lru_cache(maxsize=None)
def _instruction(op: str, dtype: str, arity: int):
    """A one-op computation over scalars, for the scalar lowering table (which reads the op's
    dtypes and attributes from an instruction)."""
    comp = Computation(f"row.{op}")
    t = TensorType((), D.dtype(dtype))
    params = [comp.add_parameter(t) for _ in range(arity)]
    inst = comp.add(op, params, t)
    comp.set_outputs([inst])
    return comp, inst


@lru_cache(maxsize=None)
def has_math_variant(op: str, dtype: str) -> bool:
    """Does the math knob change this op (polynomial vs C library)?"""
    return op in UNARY and op != "copy" and uses_approx_math(_instruction(op, dtype, 1)[0])


def supported(op: str, dtype: str, arity: int) -> bool:
    if dtype not in DTYPES:
        return False
    return op in (UNARY if arity == 1 else BINARY if arity == 2 else ())


def fusable(op: str, dtype: str, form: str, reduce: tuple | None = None, then: str | None = None) -> bool:
    """Is there a routine computing op in this form (then `then` on its result) and reducing the
    result with reduce ((op, red|seq))?"""
    if dtype not in FUSED_DTYPES or (reduce is not None and reduce not in FUSED_REDUCE):
        return False
    if then is not None:
        return (op, form) in CHAINED_BINARY and then in CHAINED_UNARY
    arity = len(form)
    return op in (FUSED_UNARY if arity == 1 else FUSED_BINARY if arity == 2 else ())


# ---- the library's IR -------------------------------------------------------------------------------------
def _vector_width(dtype: str, vector_bits: int, transcendental: bool) -> int:
    """Lanes: 512-bit vectors only for polynomials and WIDE_OPS (docs/cpu-backend.md: plain
    passes run faster with 256-bit ones on AVX-512 hosts, polynomials faster with 512)."""
    bits = min(vector_bits, 512 if transcendental else 256)
    return max(1, bits // (32 if dtype == "f32" else 64))


def library_ir(triple: str = "", vector_bits: int = 256) -> str:
    module = ir.Module(name="xltune_rt_row")
    module.triple = triple
    cx = CodegenContext(module)
    for r in routines():
        _emit(cx, r, vector_bits)
    return str(module)


def _emit(cx, r: Routine, vector_bits: int):
    fn = ir.Function(cx.module, r.signature(), name=r.name)
    fn.attributes.add("nounwind")
    for a in fn.args:
        if isinstance(a.type, ir.PointerType):
            a.add_attribute("noalias")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    dt = D.dtype(r.dtype)
    s = SimpleNamespace(b=b, cx=cx, opts=EmitOptions(math="libm" if r.libm else "approx"))
    args = list(fn.args)
    if r.form in ("red", "seq"):
        src, n, start = args
        rop, mode = r.op, r.form
    else:
        out, ins = args[0], args[1:-2] if r.reduce else args[1:-1]
        n = args[-2] if r.reduce else args[-1]
        start = args[-1] if r.reduce else None
        rop, mode = r.reduce or (None, None)
    regroup = mode == "red"
    transcendental = (r.form == "v" and has_math_variant(r.op, r.dtype) or
                      r.then is not None and has_math_variant(r.then, r.dtype)) and not r.libm
    transcendental = transcendental or r.op in WIDE_OPS
    if mode == "seq":
        md = loop_metadata(cx.module, vector_width=1, unroll=1)
    else:
        md = loop_metadata(cx.module, vector_width=_vector_width(r.dtype, vector_bits, transcendental),
                           interleave=REDUCE_INTERLEAVE if mode else ELEMENT_INTERLEAVE, unroll=1)
    acc = None
    if mode:
        acc = b.alloca(start.type)
        b.store(start, acc)
    with for_range(b, c64(0), n, name="i", metadata=md) as i:
        if r.form in ("red", "seq"):
            v = T.load(b, src, dt, i)
        elif r.form == "fill":
            v = ins[0]
        elif r.form == "v":
            x = T.load(b, ins[0], dt, i)
            v = x if r.op == "copy" else scalar.emit(s, _instruction(r.op, r.dtype, 1)[1], [x])
        else:
            x = T.load(b, ins[0], dt, i) if r.form != "sv" else ins[0]
            y = T.load(b, ins[1], dt, i) if r.form != "vs" else ins[1]
            v = scalar.emit(s, _instruction(r.op, r.dtype, 2)[1], [x, y])
            if r.then:
                v = scalar.emit(s, _instruction(r.then, r.dtype, 1)[1], [v])
        if r.form not in ("red", "seq") and r.store:
            T.store(b, out, dt, i, v)
        if mode:
            b.store(float_step(cx, b, rop, b.load(acc), v, regroup), acc)
    if mode:
        b.ret(b.load(acc))
    else:
        b.ret_void()


def _source_key() -> str:
    """What the library's code depends on: the sources that write its IR. The object cache keys
    the library by this (not by its IR text), so a process whose cache holds the library never
    builds the IR."""
    import hashlib
    import inspect

    from ...codegen import context, lltypes, loops, vmath
    from ... import __version__
    h = hashlib.sha256(f"xltune {__version__} row library".encode())
    for mod in (sys.modules[__name__], scalar, vmath, lltypes, loops, context):
        h.update(inspect.getsource(mod).encode())
    return h.hexdigest()


# ---- loading (once per process; the object once per host) ----------------------------------------------
SPEED_LEVEL = 3
_lock = threading.Lock()
_loaded: dict = {}
_NAME = re.compile(re.escape(PREFIX) + r"\w+")


def _library():
    with _lock:
        lib = _loaded.get("lib")
        if lib is None:
            from .llvm_target import host
            from .objcache import runtime_object
            target = host()
            symbols = sorted(r.name for r in routines())
            compiled = runtime_object(lambda: library_ir(target.triple, target.vector_bits), SPEED_LEVEL,
                                      key_text=f"{_source_key()} {target.vector_bits}")
            lib = target.load(compiled.object_images, symbols)     # kept for the process
            _loaded["lib"] = lib
            _loaded["symbols"] = frozenset(symbols)
        return lib


def address(symbol: str) -> int:
    lib = _library()
    if symbol not in _loaded["symbols"]:
        raise KeyError(f"the row library has no routine {symbol}")
    return lib[symbol]


def imports_for(ir_text: str) -> dict[str, int]:
    """Addresses of the routines an IR module calls (empty when it calls none)."""
    if PREFIX not in ir_text:
        return {}
    return {s: address(s) for s in set(_NAME.findall(ir_text))}


__all__ = ["PREFIX", "DTYPES", "UNARY", "BINARY", "REDUCE", "REORDERS", "Routine", "routines", "declare",
           "supported", "fusable", "has_math_variant", "library_ir", "address", "imports_for"]
