"""Loop kernels, target independent: what a `loop` fusion computes per element of its output.

A backend turns this into code: the CPU wraps `emit_element` in a loop nest, a GPU backend in a
thread index computation. Everything about *what* is computed lives here; *how the iteration
space is walked* lives in the backend.

Buffer convention for a kernel function: one pointer per region parameter (in parameter order),
then one per region output (in output order).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from llvmlite import ir

from . import lltypes as T
from .context import CodegenContext, EmitOptions
from .elemental import ElementalEmitter, uses_approx_math, unsupported_in_region
from .indexing import Index, coords_needed


@dataclass
class OutputGroup:
    """Outputs of one shape: computed together in one walk over that shape."""
    shape: tuple[int, ...]
    outputs: list[int]          # positions in comp.outputs
    flat: bool                  # every read is at the root's linear offset: a 1-D loop suffices


def output_groups(comp) -> list[OutputGroup]:
    groups: dict[tuple, list[int]] = {}
    for k, o in enumerate(comp.outputs):
        groups.setdefault(tuple(o.shape), []).append(k)
    return [OutputGroup(shape, ks, is_flat(comp, [comp.outputs[k] for k in ks]))
            for shape, ks in groups.items()]


def is_flat(comp, outputs) -> bool:
    """True when no instruction reachable through same-index edges needs coordinates."""
    if all(len(o.shape) <= 1 for o in outputs):
        return True
    seen = set()
    stack = list(outputs)
    while stack:
        i = stack.pop()
        if i in seen:
            continue
        seen.add(i)
        if i.opcode in ("parameter", "constant"):
            continue
        if coords_needed(i):
            return False
        if i.opcode in ("reshape", "dynamic_reshape"):
            # the operand is read at a linear offset too; whatever it needs it delinearizes
            stack.append(i.operands[0])
            continue
        stack.extend(o for o in i.operands if o.shape == i.shape)
    return True


def region_params_read(comp) -> list[bool]:
    used = [False] * len(comp.params)
    for inst in comp.walk():
        for o in inst.operands:
            if o.opcode == "parameter" and o.parent is comp:
                used[o.attrs["index"]] = True
    for o in comp.outputs:
        if o.opcode == "parameter" and o.parent is comp:
            used[o.attrs["index"]] = True
    return used


def emit_element(cx: CodegenContext, b: ir.IRBuilder, opts: EmitOptions, comp, group: OutputGroup,
                 index: Index, args: list) -> None:
    """Compute every output of `group` at `index` and store it. args: the kernel function's
    pointer arguments (params then outputs)."""
    nparams = len(comp.params)

    def read_param(p, ix):
        if p.parent is not comp:
            raise T.NotLowerable("region reads a value of an enclosing computation")
        dt = p.dtype
        lin = T.I64(0) if math.prod(p.shape) == 1 else em.linear(ix)
        return T.load(b, args[p.attrs["index"]], dt, lin)

    em = ElementalEmitter(cx, b, opts, read_param)
    values = [em.value(comp.outputs[k], index) for k in group.outputs]
    for k, v in zip(group.outputs, values):
        o = comp.outputs[k]
        lin = T.I64(0) if math.prod(o.shape) == 1 else em.linear(index)
        T.store(b, args[nparams + k], o.dtype, lin, v)


__all__ = ["OutputGroup", "output_groups", "is_flat", "emit_element", "region_params_read",
           "uses_approx_math", "unsupported_in_region"]
