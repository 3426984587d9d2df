"""CPU loop kernels: a loop nest around the target-independent element computation, and the
kernel knobs that shape it.

Kernel layout: `void @k.<name>(ptr %param0, ..., ptr %out0, ...)`, internal linkage (LLVM may
inline it into the segment function that calls it). Per output group (outputs of one shape):
- flat: one loop over the number of elements, the index being the loop variable (contiguous
  elementwise chains, reshapes, scalar broadcasts);
- nest: one loop per dimension (unit dims skipped), innermost dimension contiguous.
The innermost loop carries the vectorization hints from the knobs as `!llvm.loop` metadata.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from llvmlite import ir

from ...codegen import lltypes as T
from ...codegen.context import CodegenContext, EmitOptions
from ...codegen.indexing import Index, c64
from ...codegen.kernel import emit_element, output_groups, uses_approx_math
from ...codegen.loops import for_range, loop_metadata
from ...config import Config, Knob

VECTOR_WIDTHS = (0, 1, 4, 8, 16)
UNROLLS = (0, 1, 2, 4)
MATH = ("approx", "libm")


@dataclass
class LoopKernelKnobs:
    vector_width: int = 0      # 0: LLVM's cost model decides; 1: no vectorization
    unroll: int = 0            # interleave count of the vectorized loop; 0: LLVM decides
    math: str = "approx"


def loop_kernel_knobs(name: str, comp) -> list[Knob]:
    owner = "cpu.loop"
    ks = [
        Knob(f"cpu.{name}.vector_width", VECTOR_WIDTHS, 0,
             "SIMD lanes of the innermost loop (0: LLVM's choice, 1: scalar)", owner),
        Knob(f"cpu.{name}.unroll", UNROLLS, 0,
             "interleave count of the innermost loop (0: LLVM's choice)", owner),
    ]
    if uses_approx_math(comp):
        ks.append(Knob(f"cpu.{name}.math", MATH, "approx",
                       "transcendentals: xltune's vectorizable polynomials or the C library", owner))
    return ks


def read_loop_knobs(name: str, comp, config: Config) -> LoopKernelKnobs:
    vals = {k.name.rsplit(".", 1)[1]: config.value(k) for k in loop_kernel_knobs(name, comp)}
    return LoopKernelKnobs(**vals)


def emit_loop_kernel(cx: CodegenContext, fname: str, comp, knobs: LoopKernelKnobs, nargs: int,
                     param_arg: list[int], output_arg: list[int]) -> ir.Function:
    """nargs distinct (noalias) pointers; region parameter k reads args[param_arg[k]], output k
    writes args[output_arg[k]] (an in-place output shares its operand's pointer)."""
    fn = ir.Function(cx.module, ir.FunctionType(T.VOID, [T.PTR] * nargs), name=fname)
    fn.linkage = "internal"
    fn.attributes.add("nounwind")
    for a in fn.args:
        a.add_attribute("noalias")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    fargs = list(fn.args)
    ptrs = [fargs[k] for k in param_arg] + [fargs[k] for k in output_arg]
    opts = EmitOptions(math=knobs.math)
    for g in output_groups(comp):
        md = loop_metadata(cx.module, vector_width=knobs.vector_width, interleave=knobs.unroll)
        size = math.prod(g.shape)
        if size == 0:
            continue
        if size == 1:
            emit_element(cx, b, opts, comp, g, Index(g.shape, coords=[c64(0)] * len(g.shape), linear=c64(0)),
                         ptrs)
            continue
        if g.flat:
            with for_range(b, 0, size, name="i", metadata=md) as i:
                emit_element(cx, b, opts, comp, g, Index(g.shape, linear=i), ptrs)
            continue
        _emit_nest(cx, b, opts, comp, g, ptrs, md)
    b.ret_void()
    return fn


def _emit_nest(cx, b, opts, comp, g, args, md):
    dims = [d for d, n in enumerate(g.shape) if n != 1]
    coords = [c64(0)] * len(g.shape)

    def level(k):
        if k == len(dims):
            emit_element(cx, b, opts, comp, g, Index(g.shape, coords=list(coords)), args)
            return
        d = dims[k]
        inner = k == len(dims) - 1
        with for_range(b, 0, g.shape[d], name=f"d{d}", metadata=md if inner else None) as i:
            coords[d] = i
            level(k + 1)

    level(0)
