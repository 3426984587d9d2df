"""State shared by everything that emits into one LLVM module: intrinsics, libm declarations,
helper functions (vmath), and the emission options that knobs set.

Target independent: a CPU or GPU backend creates one `CodegenContext` per `ir.Module` and may
override `libm_name` (e.g. `__nv_expf` on NVPTX).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from llvmlite import ir

from .lltypes import F32, F64


@dataclass(frozen=True)
class EmitOptions:
    """Per-kernel emission choices (set from knobs by the backend)."""
    math: str = "approx"        # "approx": xltune's branch-free polynomials; "libm": accurate calls


class CodegenContext:
    def __init__(self, module: ir.Module):
        self.module = module
        self._decls: dict[str, ir.Function] = {}
        self._helpers: dict[str, ir.Function] = {}

    # ---- hints for the backend's compile --------------------------------------------------------
    GLUE_METADATA = "xltune.glue"

    def mark_glue(self, fn: ir.Function) -> None:
        """fn loops but does no work of its own (it calls a library routine per batch element, say):
        a backend may compile it as glue, without the vectorizing pipeline. Recorded in the module
        as named metadata `!xltune.glue`, one string per function."""
        self.module.add_named_metadata(self.GLUE_METADATA, [ir.MetaDataString(self.module, fn.name)])

    # ---- declarations ----------------------------------------------------------------------------
    def declare(self, name: str, ret: ir.Type, args: list[ir.Type]) -> ir.Function:
        f = self._decls.get(name)
        if f is None:
            f = self.module.globals.get(name)
            if f is None:
                f = ir.Function(self.module, ir.FunctionType(ret, args), name=name)
            self._decls[name] = f
        return f

    def intrinsic(self, b: ir.IRBuilder, name: str, args: list, ret: ir.Type | None = None):
        """Call an LLVM intrinsic, e.g. intrinsic(b, "llvm.fabs.f32", [x])."""
        ret = args[0].type if ret is None else ret
        return b.call(self.declare(name, ret, [a.type for a in args]), args)

    def libm_name(self, base: str, t: ir.Type) -> str:
        """C library name of a math function for a float type: exp -> expf / exp."""
        return base + "f" if t == F32 else base

    # math functions LLVM has intrinsics for (its code generator calls the C library for them)
    INTRINSIC_MATH = frozenset({"exp", "log", "sin", "cos", "pow", "tan"})

    def math_call(self, b: ir.IRBuilder, name: str, args: list):
        """An accurate math function (exp, log1p, atan2, hypot, lgamma, nextafter...) on f32/f64.
        The one place a backend overrides to use another library (e.g. libdevice on NVPTX)."""
        if name in self.INTRINSIC_MATH:
            sfx = "f32" if args[0].type == F32 else "f64"
            return self.intrinsic(b, f"llvm.{name}.{sfx}", args)
        return self.libm(b, name, args)

    def libm(self, b: ir.IRBuilder, base: str, args: list):
        t = args[0].type
        if t not in (F32, F64):
            raise TypeError(f"libm call on {t}")
        return b.call(self.declare(self.libm_name(base, t), t, [a.type for a in args]), args)

    # ---- helpers (vmath bodies and similar): one internal function each, always inlined ----------
    def helper(self, name: str, ret: ir.Type, args: list[ir.Type],
               body: Callable[[ir.IRBuilder, list], ir.Value]) -> ir.Function:
        f = self._helpers.get(name)
        if f is None:
            f = ir.Function(self.module, ir.FunctionType(ret, args), name=name)
            f.linkage = "internal"
            f.attributes.add("alwaysinline")
            f.attributes.add("nounwind")
            b = ir.IRBuilder(f.append_basic_block("entry"))
            b.ret(body(b, list(f.args)))
            self._helpers[name] = f
        return f

    def call_helper(self, b: ir.IRBuilder, name: str, args: list, body, ret: ir.Type | None = None):
        ret = args[0].type if ret is None else ret
        return b.call(self.helper(name, ret, [a.type for a in args], body), args)
