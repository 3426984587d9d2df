"""From a (fused) module to a CPU program: which instructions become native kernels, which fall
back to the interpreter, where every value lives, and the LLVM module that runs it.

Run-time storage is one pointer table, filled per call:

    table = [param 0 .. P-1 | output 0 .. O-1 | constant 0 .. C-1 | arena]

Params are the caller's arrays (zero-copy), outputs are allocated per call, constants are
numpy arrays owned by the runner, temps live at fixed offsets in one arena (reused between
calls). Every native segment is `void @xltune.seg<k>(ptr %table)`: it calls the kernels of its
steps in schedule order with pointers computed from the table. A program without fallbacks is
one segment: one native call, no Python between kernels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from llvmlite import ir

from ...codegen import lltypes as T
from ...codegen.context import CodegenContext
from ...codegen.elemental import unsupported_in_region, unsupported_instruction
from ...config import Config, Knob
from ...ir.module import Computation, Instruction
from ...ir.ops import DATA_MOVEMENT, ELEMENTWISE
from ...ir.types import TensorType, TupleType, flatten
from .kernels import emit_loop_kernel, loop_kernel_knobs, read_loop_knobs

ALIGN = 64


@dataclass(frozen=True)
class Buf:
    """Where one tensor lives at run time."""
    kind: str          # "param" | "output" | "const" | "temp"
    index: int         # param / output / constant number, or byte offset in the arena
    type: TensorType

    @property
    def nbytes(self) -> int:
        return self.type.nbytes

    def __str__(self):
        where = f"arena+{self.index}" if self.kind == "temp" else f"{self.kind}{self.index}"
        return f"{where}:{self.type}"


@dataclass
class KernelStep:
    inst: Instruction
    name: str                  # the kernel's name (knob prefix), stable across fusion changes
    region: Computation        # what it computes (a fused computation or a one-op wrapper)
    inputs: list[Buf]
    outputs: list[Buf]
    fname: str = ""


@dataclass
class CopyStep:
    src: Buf
    dst: Buf


@dataclass
class FallbackStep:
    inst: Instruction
    reason: str
    inputs: list               # Bufs for operands, then for captured outer values
    captured: list             # the captured Instructions (in the order of inputs after operands)
    outputs: list[Buf]


@dataclass
class Plan:
    params: list[TensorType]
    outputs: list[TensorType]
    constants: list[np.ndarray]
    arena_bytes: int
    steps: list
    output_bufs: list[Buf] = field(default_factory=list)

    @property
    def kernels(self) -> list[KernelStep]:
        return [s for s in self.steps if isinstance(s, KernelStep)]

    @property
    def fallbacks(self) -> list[FallbackStep]:
        return [s for s in self.steps if isinstance(s, FallbackStep)]

    def segments(self) -> list:
        """Steps grouped into native runs (lists) separated by fallback steps."""
        segs, cur = [], []
        for s in self.steps:
            if isinstance(s, FallbackStep):
                if cur:
                    segs.append(cur)
                    cur = []
                segs.append(s)
            else:
                cur.append(s)
        if cur:
            segs.append(cur)
        return segs

    def text(self) -> str:
        lines = [f"arena: {self.arena_bytes} bytes; {len(self.constants)} constant(s); "
                 f"{len(self.kernels)} kernel(s); {len(self.fallbacks)} fallback(s)"]
        for k, seg in enumerate(self.segments()):
            if isinstance(seg, FallbackStep):
                lines.append(f"fallback {seg.inst.ref} ({seg.inst.opcode}): {seg.reason}")
                lines.append(f"    in: {', '.join(map(str, seg.inputs))}  out: {', '.join(map(str, seg.outputs))}")
                continue
            lines.append(f"native segment:")
            for s in seg:
                if isinstance(s, CopyStep):
                    lines.append(f"    copy {s.src} -> {s.dst}")
                else:
                    lines.append(f"    kernel {s.name} [{s.inst.opcode}] ({', '.join(map(str, s.inputs))})"
                                 f" -> ({', '.join(map(str, s.outputs))})")
        return "\n".join(lines)


# ---- classification ------------------------------------------------------------------------------------
_ALIAS_OPS = {"get_tuple_element", "tuple", "optimization_barrier"}


def kernel_name(inst: Instruction) -> str:
    if inst.opcode == "fusion":
        return str(inst.attrs.get("name") or f"fusion.{inst.name}")
    return str(inst.name)


def native_region(inst: Instruction) -> tuple[Computation | None, str]:
    """The computation a native loop kernel would run for inst, or (None, why not)."""
    if inst.opcode == "fusion":
        if not inst.regions:
            return None, "fusion without a region"
        comp = inst.regions[0]
        reason = unsupported_in_region(comp)
        if reason:
            return None, reason
        if _captures(comp):
            return None, "fused computation reads values of the enclosing computation"
        return comp, ""
    try:
        cat = inst.opdef.category
    except Exception as e:  # unknown op: the interpreter will say so
        return None, str(e)
    if cat not in (ELEMENTWISE, DATA_MOVEMENT) and inst.opcode not in ("bitcast_convert", "map"):
        return None, f"no native kernel for '{inst.opcode}' yet"
    if inst.multi or not isinstance(inst.type, TensorType):
        return None, f"'{inst.opcode}' with several results"
    reason = unsupported_instruction(inst)
    if reason:
        return None, reason
    if inst.regions and any(_captures(r) for r in inst.regions):
        return None, "region reads values of the enclosing computation"
    return _wrap_one(inst), ""


def _captures(comp: Computation) -> list[Instruction]:
    """Values of enclosing computations that comp (or its nested regions) reads."""
    inside = set()
    for i in comp.walk():
        inside.add(i)
    out = []
    seen = set()
    for i in comp.walk():
        for o in i.operands:
            if o not in inside and o not in seen:
                seen.add(o)
                out.append(o)
    for o in comp.outputs:
        if o not in inside and o not in seen:
            seen.add(o)
            out.append(o)
    return out


def _wrap_one(inst: Instruction) -> Computation:
    """A computation whose parameters are inst's operands and whose output is a copy of inst."""
    comp = Computation(f"{inst.name}.kernel")
    params = [comp.add_parameter(o.type, name=f"p{k}") for k, o in enumerate(inst.operands)]
    regions = [r.clone() for r in inst.regions]
    clone = Instruction(inst.opcode, params, inst.type, dict(inst.attrs), regions, loc=inst.loc,
                        multi=inst.multi)
    comp.insert(clone, name=inst.name)
    comp.set_outputs([clone])
    return comp


def kernel_knobs(module) -> list[Knob]:
    knobs = []
    for inst in module.entry.post_order():
        if inst.opcode in ("parameter", "constant") or inst.opcode in _ALIAS_OPS:
            continue
        comp, _ = native_region(inst)
        if comp is not None:
            knobs.extend(loop_kernel_knobs(kernel_name(inst), comp))
    return knobs


# ---- planning --------------------------------------------------------------------------------------------
def _leaves(inst: Instruction) -> int:
    return len(flatten(inst.type)) if isinstance(inst.type, TupleType) else 1


class _Arena:
    """First-fit allocation of temps with reuse after a value's last use."""

    def __init__(self):
        self.free: list[tuple[int, int]] = []   # (offset, size)
        self.top = 0

    def alloc(self, nbytes: int) -> int:
        size = max(ALIGN, -(-nbytes // ALIGN) * ALIGN)
        for k, (off, sz) in enumerate(self.free):
            if sz >= size:
                if sz == size:
                    self.free.pop(k)
                else:
                    self.free[k] = (off + size, sz - size)
                return off
        off = self.top
        self.top += size
        return off

    def release(self, off: int, nbytes: int):
        size = max(ALIGN, -(-nbytes // ALIGN) * ALIGN)
        self.free.append((off, size))
        self.free.sort()
        merged = []
        for o, s in self.free:
            if merged and merged[-1][0] + merged[-1][1] == o:
                merged[-1] = (merged[-1][0], merged[-1][1] + s)
            else:
                merged.append((o, s))
        self.free = merged
        if merged and merged[-1][0] + merged[-1][1] == self.top:
            self.top = merged[-1][0]
            merged.pop()


def plan_program(module, config: Config) -> Plan:
    entry = module.entry
    order = entry.post_order()
    params = [p.type for p in entry.params]
    where: dict[tuple[Instruction, int], Buf] = {}
    constants: list[np.ndarray] = []
    steps: list = []

    # Entry outputs, flattened; the first output naming a computed value is written in place.
    out_leaves: list[tuple[Instruction, int]] = []
    for o in entry.outputs:
        for i in range(_leaves(o)):
            out_leaves.append((o, i))
    out_types = [flatten(o.type)[i] if isinstance(o.type, TupleType) else o.type for o, i in out_leaves]

    # Resolve aliases (gte / tuple / optimization_barrier) to the leaf that holds the data.
    def resolve(inst: Instruction, i: int) -> tuple[Instruction, int]:
        while inst.opcode in _ALIAS_OPS:
            if inst.opcode == "get_tuple_element":
                src = inst.operands[0]
                k = int(inst.attrs["index"])
                # leaves before element k of the source tuple
                elems = src.type.elements if isinstance(src.type, TupleType) else (src.type,)
                i = sum(len(flatten(e)) for e in elems[:k]) + i
                inst = src
            elif inst.opcode == "tuple" or (inst.opcode == "optimization_barrier"):
                acc = 0
                for o in inst.operands:
                    n = _leaves(o)
                    if i < acc + n:
                        inst, i = o, i - acc
                        break
                    acc += n
                else:
                    break
        return inst, i

    out_slot: dict[tuple[Instruction, int], int] = {}
    for k, (o, i) in enumerate(out_leaves):
        leaf = resolve(o, i)
        if leaf[0].opcode not in ("parameter", "constant") and leaf not in out_slot:
            out_slot[leaf] = k

    # Last use of every leaf (for arena reuse): position in the schedule.
    pos = {inst: n for n, inst in enumerate(order)}
    last_use: dict[tuple[Instruction, int], int] = {}
    for inst in order:
        if inst.opcode in _ALIAS_OPS:
            continue
        for src in _inputs_of(inst):
            for i in range(_leaves(src)):
                last_use[resolve(src, i)] = pos[inst]
    for o, i in out_leaves:
        last_use[resolve(o, i)] = len(order)   # outputs and copies at the end

    arena = _Arena()
    live_temps: dict[tuple[Instruction, int], Buf] = {}

    def result_buf(inst, i, t):
        leaf = (inst, i)
        if leaf in out_slot:
            return Buf("output", out_slot[leaf], t)
        b = Buf("temp", arena.alloc(t.nbytes), t)
        live_temps[leaf] = b
        return b

    def buf_of(inst, i=0) -> Buf:
        return where[resolve(inst, i)]

    for n, inst in enumerate(order):
        op = inst.opcode
        if op == "parameter":
            where[(inst, 0)] = Buf("param", inst.attrs["index"], inst.type)
            continue
        if op == "constant":
            where[(inst, 0)] = Buf("const", len(constants), inst.type)
            constants.append(np.ascontiguousarray(inst.attrs["value"]))
            continue
        if op in _ALIAS_OPS:
            continue
        inputs_i = _inputs_of(inst)
        in_bufs = []
        ok_inputs = True
        for src in inputs_i:
            for i in range(_leaves(src)):
                leaf = resolve(src, i)
                if leaf not in where:
                    ok_inputs = False
                else:
                    in_bufs.append(where[leaf])
        comp, reason = native_region(inst) if ok_inputs else (None, "inputs are not tensors")
        result_types = flatten(inst.type) if isinstance(inst.type, TupleType) else [inst.type]
        if any(not isinstance(t, TensorType) for t in result_types):
            comp, reason = None, reason or "results are not tensors"
        outs = [result_buf(inst, i, t) if isinstance(t, TensorType) else None
                for i, t in enumerate(result_types)]
        for i, b in enumerate(outs):
            if b is not None:
                where[(inst, i)] = b
        if comp is not None:
            steps.append(KernelStep(inst, kernel_name(inst), comp,
                                    [buf_of(o) for o in inst.operands], outs))
        else:
            captured = [c for r in inst.regions for c in _captures(r) if c not in inst.operands]
            captured = list(dict.fromkeys(captured))
            op_bufs = [_value_spec(o, buf_of) for o in list(inst.operands) + captured]
            steps.append(FallbackStep(inst, reason or "not supported natively", op_bufs, captured,
                                      [b for b in outs]))
        # release temps whose last use was this step (after this step's outputs were placed)
        for leaf, b in list(live_temps.items()):
            if last_use.get(leaf, -1) <= n and leaf[0] is not inst:
                arena.release(b.index, b.nbytes)
                del live_temps[leaf]
            elif leaf[0] is inst and last_use.get(leaf, -1) < n:
                arena.release(b.index, b.nbytes)   # a result nobody reads
                del live_temps[leaf]

    output_bufs = []
    for k, (o, i) in enumerate(out_leaves):
        leaf = resolve(o, i)
        src = where.get(leaf)
        dst = Buf("output", k, out_types[k])
        if src is None:
            raise ValueError(f"entry output {o.ref} has no storage")
        if src != dst:
            steps.append(CopyStep(src, dst))
        output_bufs.append(dst)
    arena_bytes = max(arena.top, max((b.index + b.nbytes for s in steps if isinstance(s, KernelStep)
                                      for b in s.outputs if b.kind == "temp"), default=0))
    arena_bytes = max(arena_bytes, max((b.index + b.nbytes for s in steps if isinstance(s, FallbackStep)
                                        for b in s.outputs if b is not None and b.kind == "temp"),
                                       default=0))
    return Plan(params, out_types, constants, arena_bytes, steps, output_bufs)


def _value_spec(o: Instruction, buf_of, base: int = 0):
    """How to rebuild the value of o for the interpreter: a Buf, ("tuple", [specs]) or ("token",)."""
    return _spec_for_type(o, o.type, buf_of, [0])


def _spec_for_type(o, t, buf_of, counter):
    if isinstance(t, TensorType):
        b = buf_of(o, counter[0])
        counter[0] += 1
        return b
    if isinstance(t, TupleType):
        return ("tuple", [_spec_for_type(o, e, buf_of, counter) for e in t.elements])
    counter[0] += 1
    return ("token",)


def _inputs_of(inst: Instruction) -> list[Instruction]:
    srcs = list(inst.operands)
    for r in inst.regions:
        for c in _captures(r):
            if c not in srcs:
                srcs.append(c)
    return srcs


# ---- LLVM ----------------------------------------------------------------------------------------------------
def build_llvm(plan: Plan, config: Config) -> tuple[ir.Module, list[str]]:
    """The LLVM module for the plan and the names of its segment functions (in order; one per
    native segment)."""
    module = ir.Module(name="xltune")
    cx = CodegenContext(module)
    nparams, nouts, nconsts = len(plan.params), len(plan.outputs), len(plan.constants)
    arena_slot = nparams + nouts + nconsts
    seg_names = []
    kcount = 0
    for seg in plan.segments():
        if isinstance(seg, FallbackStep):
            continue
        sname = f"xltune.seg{len(seg_names)}"
        seg_names.append(sname)
        fn = ir.Function(module, ir.FunctionType(T.VOID, [T.PTR]), name=sname)
        fn.attributes.add("nounwind")
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        table = fn.args[0]
        slot_cache: dict = {}

        def slot(k):
            if k not in slot_cache:
                p = b.gep(table, [ir.Constant(T.I64, k)], inbounds=True, source_etype=T.PTR)
                slot_cache[k] = b.load(p, typ=T.PTR)
            return slot_cache[k]

        def ptr(buf: Buf):
            if buf.kind == "param":
                return slot(buf.index)
            if buf.kind == "output":
                return slot(nparams + buf.index)
            if buf.kind == "const":
                return slot(nparams + nouts + buf.index)
            base = slot(arena_slot)
            return b.gep(base, [ir.Constant(T.I64, buf.index)], inbounds=True, source_etype=T.I8)

        for s in seg:
            if isinstance(s, CopyStep):
                n = s.dst.nbytes
                if n:
                    cx.intrinsic(b, "llvm.memcpy.p0.p0.i64",
                                 [ptr(s.dst), ptr(s.src), ir.Constant(T.I64, n), ir.Constant(T.I1, 0)],
                                 ret=T.VOID)
                continue
            s.fname = f"k{kcount}.{s.name}"
            kcount += 1
            bufs = s.inputs + s.outputs
            noalias = [_no_overlap(bufs, k) for k in range(len(bufs))]
            knobs = read_loop_knobs(s.name, s.region, config)
            kfn = emit_loop_kernel(cx, s.fname, s.region, knobs, noalias)
            b.call(kfn, [ptr(x) for x in bufs])
        b.ret_void()
    return module, seg_names


def _no_overlap(bufs: list[Buf], k: int) -> bool:
    """noalias is safe for a pointer unless another written/read argument shares its storage
    with one of the outputs."""
    me = bufs[k]
    for j, other in enumerate(bufs):
        if j != k and _overlaps(me, other):
            return False
    return True


def _overlaps(a: Buf, b: Buf) -> bool:
    if a.kind != b.kind:
        return False
    if a.kind != "temp":
        return a.index == b.index
    return a.index < b.index + max(b.nbytes, 1) and b.index < a.index + max(a.nbytes, 1)
