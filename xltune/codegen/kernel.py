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
        stack.extend(o for o in i.operands if hasattr(o.type, "shape") and o.shape == i.shape)
    return True


def param_dim_maps(comp, group: OutputGroup) -> dict:
    """For each parameter, the ways it is read: {param: {(dmap, pure)}} where dmap[i] is the output
    dimension driving the parameter's dimension i (None: not one output dim) and `pure` says the
    parameter's coordinates are exactly those output coordinates (no offsets, strides, reversal).

    Follows dimensions from the outputs to the parameters through elementwise ops, transpose,
    broadcast_in_dim and (impurely) the ops that keep dimensions in place (slice, reverse, pad,
    concatenate, dynamic_slice, dynamic_update_slice); reshape and the rest end the trail."""
    rank = len(group.shape)
    found: dict = {}
    offsets = {"slice", "reverse", "pad", "concatenate", "dynamic_slice", "dynamic_update_slice"}
    stack = [(comp.outputs[k], tuple(range(rank)), True) for k in group.outputs]
    seen = set()
    while stack:
        item = stack.pop()
        if item in seen:
            continue
        seen.add(item)
        inst, dmap, pure = item
        if inst.opcode == "parameter":
            found.setdefault(inst, set()).add((dmap, pure))
            continue
        op = inst.opcode
        if op == "transpose":
            perm = tuple(inst.attrs["permutation"])
            sub = [None] * len(perm)
            for i, p in enumerate(perm):
                sub[p] = dmap[i]
            stack.append((inst.operands[0], tuple(sub), pure))
        elif op in ("broadcast_in_dim", "dynamic_broadcast_in_dim"):
            x = inst.operands[0]
            dims = tuple(inst.attrs["broadcast_dimensions"])
            stack.append((x, tuple(dmap[d] if x.shape[j] != 1 else None for j, d in enumerate(dims)), pure))
        elif op in offsets or (op not in ("reshape", "dynamic_reshape", "iota", "constant")
                               and inst.opdef.category == "elementwise"):
            keep = pure and op not in offsets
            for o in inst.operands:
                if hasattr(o.type, "shape") and len(o.shape) == len(dmap):
                    stack.append((o, dmap, keep and o.shape == inst.shape))
    return found


def _inner_dim(shape) -> int | None:
    return next((i for i in range(len(shape) - 1, -1, -1) if shape[i] != 1), None)


def transpose_partner(comp, group: OutputGroup) -> int | None:
    """The output dimension (other than the last) that walks some parameter's contiguous
    dimension, when one does: a nest over the output then reads that parameter with a large
    stride in its innermost loop, and tiling (this dim, last dim) keeps those reads in cache."""
    rank = len(group.shape)
    if rank < 2:
        return None
    last = rank - 1
    votes: dict[int, int] = {}
    for p, uses in param_dim_maps(comp, group).items():
        inner = _inner_dim(p.shape)
        for dmap, _ in uses:
            if inner is not None and dmap[inner] is not None and dmap[inner] != last:
                nbytes = math.prod(p.shape) * p.dtype.itemsize
                votes[dmap[inner]] = votes.get(dmap[inner], 0) + nbytes
    if not votes:
        return None
    return max(votes, key=votes.get)


@dataclass
class Staged:
    """A parameter read transposed that a tiled kernel copies tile by tile into a scratch
    buffer first (contiguous reads from memory, contiguous reads in the compute loop)."""
    param: object
    dmap: tuple          # output dim driving each parameter dim (None for unit dims)
    inner: int           # the parameter's contiguous dim (driven by the partner dim)
    along_last: int      # the parameter dim driven by the output's last dim


def staged_params(comp, group: OutputGroup, partner: int) -> list[Staged]:
    last = len(group.shape) - 1
    out = []
    for p, uses in param_dim_maps(comp, group).items():
        if len(uses) != 1:
            continue
        (dmap, pure), = uses
        inner = _inner_dim(p.shape)
        if not pure or inner is None or dmap[inner] != partner or last not in dmap:
            continue
        if any(d is None and n != 1 for d, n in zip(dmap, p.shape)):
            continue
        out.append(Staged(p, dmap, inner, dmap.index(last)))
    return out


def emit_element(cx: CodegenContext, b: ir.IRBuilder, opts: EmitOptions, comp, group: OutputGroup,
                 index: Index, args: list, readers: dict | None = None) -> None:
    """Compute every output of `group` at `index` and store it. args: the kernel function's
    pointer arguments (params then outputs). readers: {param: fn(em, param_index) -> value} for
    parameters read some other way (e.g. from a staging buffer)."""
    nparams = len(comp.params)

    def read_param(p, ix):
        if p.parent is not comp:
            raise T.NotLowerable("region reads a value of an enclosing computation")
        if readers and p in readers:
            return readers[p](em, ix)
        dt = p.dtype
        lin = T.I64(0) if math.prod(p.shape) == 1 else em.linear(ix)
        return T.load(b, args[p.attrs["index"]], dt, lin)

    em = ElementalEmitter(cx, b, opts, read_param)
    values = [em.value(comp.outputs[k], index) for k in group.outputs]
    for k, v in zip(group.outputs, values):
        o = comp.outputs[k]
        lin = T.I64(0) if math.prod(o.shape) == 1 else em.linear(index)
        T.store(b, args[nparams + k], o.dtype, lin, v)


__all__ = ["OutputGroup", "output_groups", "is_flat", "emit_element",
           "transpose_partner", "param_dim_maps", "staged_params", "Staged",
           "uses_approx_math", "unsupported_in_region"]
