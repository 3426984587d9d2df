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

from dataclasses import dataclass, field

import numpy as np
from llvmlite import ir

from ...codegen import lltypes as T
from ...codegen.context import CodegenContext
from ...codegen.elemental import unsupported_in_region, unsupported_instruction
from ...codegen.lltypes import NotLowerable
from ...config import Config, Knob
from ...errors import CompileError
from ...ir.module import Computation, Instruction
from ...ir.ops import DATA_MOVEMENT, ELEMENTWISE
from ...ir.types import TensorType, TupleType
from .kernels import KernelFamily, emit_loop_kernel, loop_kernel_knobs, read_loop_knobs, wrap_one
from .dot import FAMILY as DOT
from .reductions import FAMILY as REDUCTIONS

ALIGN = 64


def _emit_loop(cx, fname, name, comp, config, nargs, param_arg, output_arg):
    return emit_loop_kernel(cx, fname, comp, read_loop_knobs(name, comp, config), nargs, param_arg, output_arg)


LOOP = KernelFamily("loop", lambda inst: native_region(inst), loop_kernel_knobs, _emit_loop)
# Families asked before the loop kernels, in order (the first claim wins).
FAMILIES: list[KernelFamily] = [DOT, REDUCTIONS]


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
    family: str = "loop"       # the KernelFamily that emits it


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
            lines.append("native segment:")
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


def native_kernel(inst: Instruction) -> tuple[KernelFamily, Computation | None, str]:
    """The family that takes inst and the computation its kernel runs, or (family, None, why not)."""
    for fam in FAMILIES:
        claim = fam.claim(inst)
        if claim is not None:
            return fam, claim[0], claim[1]
    comp, reason = native_region(inst)
    return LOOP, comp, reason


def family(name: str) -> KernelFamily:
    return next((f for f in FAMILIES if f.name == name), LOOP)


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
    if cat not in (ELEMENTWISE, DATA_MOVEMENT) and inst.opcode not in ("bitcast_convert", "map", "reduce_window"):
        return None, f"no native kernel for '{inst.opcode}' yet"
    several = inst.multi and inst.opcode == "reduce_window"      # its results: one element each
    if (inst.multi and not several) or not (several or isinstance(inst.type, TensorType)):
        return None, f"'{inst.opcode}' with several results"
    reason = unsupported_instruction(inst)
    if reason:
        return None, reason
    if inst.regions and any(_captures(r) for r in inst.regions):
        return None, "region reads values of the enclosing computation"
    return wrap_one(inst), ""


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


def kernel_knobs(module) -> list[Knob]:
    knobs = []
    for inst in module.entry.post_order():
        if inst.opcode in ("parameter", "constant") or inst.opcode in _ALIAS_OPS:
            continue
        fam, comp, _ = native_kernel(inst)
        if comp is not None:
            knobs.extend(fam.knobs(kernel_name(inst), comp))
    return knobs


# ---- planning --------------------------------------------------------------------------------------------
class _Arena:
    """First-fit allocation of temps with reuse after a value's last use."""

    def __init__(self):
        self.free: list[tuple[int, int]] = []   # (offset, size)
        self.top = 0
        self.peak = 0

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
        self.peak = max(self.peak, self.top)
        return off

    def release(self, off: int, nbytes: int):
        size = max(ALIGN, -(-nbytes // ALIGN) * ALIGN)
        self.free.append((off, size))
        self.free.sort()
        merged = []
        for o, sz in self.free:
            if merged and merged[-1][0] + merged[-1][1] == o:
                merged[-1] = (merged[-1][0], merged[-1][1] + sz)
            else:
                merged.append((o, sz))
        if merged and merged[-1][0] + merged[-1][1] == self.top:
            self.top = merged[-1][0]
            merged.pop()
        self.free = merged


Key = tuple  # (Instruction, result index)


def _keys(inst: Instruction) -> list[Key]:
    if inst.multi:
        return [(inst, i) for i in range(len(inst.type.elements))]
    return [(inst, 0)]


def _key_type(key: Key):
    inst, i = key
    return inst.type.elements[i] if inst.multi else inst.type


def _is_view_reshape(inst: Instruction) -> bool:
    return inst.opcode == "reshape" and isinstance(inst.type, TensorType) and \
        isinstance(inst.operands[0].type, TensorType) and not inst.operands[0].multi


class _OwnStorage:
    """Storage when the module has no buffer plan: outputs in place, temps in an arena with
    reuse after last use, reshapes as views, get_tuple_element/tuple as aliases."""

    def __init__(self, entry: Computation, order: list[Instruction], out_roots: list):
        self.pos = {inst: n for n, inst in enumerate(order)}
        self.alias: dict[Key, Key] = {}
        for inst in order:
            if inst.opcode == "get_tuple_element":
                src, k = inst.operands[0], int(inst.attrs["index"])
                if src.multi:
                    self.alias[(inst, 0)] = (src, k)
                elif src.opcode == "tuple" and isinstance(src.operands[k].type, TensorType):
                    self.alias[(inst, 0)] = (src.operands[k], 0)
            elif inst.opcode == "optimization_barrier":
                for i, o in enumerate(inst.operands):
                    if isinstance(o.type, TensorType) and not o.multi:
                        self.alias[(inst, i)] = (o, 0)
            elif _is_view_reshape(inst):
                self.alias[(inst, 0)] = (inst.operands[0], 0)
        # last reader of each storage root (regions count for the op that owns them)
        self.last: dict[Key, int] = {}
        for inst in order:
            n = self.pos[inst]
            for src in _inputs_of(inst):
                for key in _keys(src):
                    r = self.root(key)
                    self.last[r] = max(self.last.get(r, -1), n)
        end = len(order)
        self.out_slot: dict[Key, int] = {}
        for k, key in enumerate(out_roots):
            r = self.root(key)
            self.last[r] = end
            if r[0].opcode not in ("parameter", "constant") and r not in self.out_slot:
                self.out_slot[r] = k
        self.arena = _Arena()
        self.live: dict[Key, Buf] = {}

    def root(self, key: Key) -> Key:
        while key in self.alias:
            key = self.alias[key]
        return key

    def is_view(self, inst: Instruction) -> bool:
        return (inst, 0) in self.alias

    def result(self, key: Key, t) -> Buf | None:
        if not isinstance(t, TensorType):
            return None
        if key in self.out_slot:
            return Buf("output", self.out_slot[key], t)
        b = Buf("temp", self.arena.alloc(t.nbytes), t)
        self.live[key] = b
        return b

    def step_done(self, n: int):
        for key, b in list(self.live.items()):
            if self.last.get(key, -1) <= n:
                self.arena.release(b.index, b.nbytes)
                del self.live[key]

    @property
    def arena_bytes(self) -> int:
        return self.arena.peak


class _PlannedStorage:
    """Storage from the `buffers` pass (xltune/passes/buffers.py)."""

    def __init__(self, bp, const_index):
        self.bp = bp
        self.const_index = const_index

    def root(self, key: Key) -> Key:
        return self.bp.root(key) if key in self.bp.slots else key

    def is_view(self, inst: Instruction) -> bool:
        s = self.bp.slots.get((inst, 0))
        return s is not None and s.kind == "alias" and s.reason in ("view", "element")

    def result(self, key: Key, t) -> Buf | None:
        if not isinstance(t, TensorType) or key not in self.bp.slots:
            return None
        r = self.bp.root(key)
        s = self.bp.slots[r]
        if s.kind == "param":
            return Buf("param", s.index, t)
        if s.kind == "output":
            return Buf("output", s.index, t)
        if s.kind == "temp":
            return Buf("temp", s.offset, t)
        if s.kind == "constant":
            return Buf("const", self.const_index(r[0]), t)
        return None

    def step_done(self, n: int):
        pass

    @property
    def arena_bytes(self) -> int:
        return self.bp.arena_bytes


def plan_program(module, config: Config) -> Plan:
    entry = module.entry
    params = [p.type for p in entry.params]
    constants: list[np.ndarray] = []
    const_ids: dict[Instruction, int] = {}
    steps: list = []

    def const_index(inst: Instruction) -> int:
        if inst not in const_ids:
            const_ids[inst] = len(constants)
            v = np.asarray(inst.attrs["value"])
            # (np.ascontiguousarray would turn a 0-d constant into shape (1,))
            constants.append(v if v.flags.c_contiguous else np.array(v, order="C"))
        return const_ids[inst]

    # Entry outputs, flattened to tensors.
    out_specs: list = []   # (key, type) per flattened output
    for o in entry.outputs:
        _flatten_output(o, out_specs)
    out_types = [t for _, t in out_specs]

    bp = getattr(module, "buffer_plan", None)
    usable = bp is not None and getattr(bp, "comp", None) is entry and \
        all(isinstance(o.type, TensorType) for o in entry.outputs)
    if usable:
        order = [i for i in bp.schedule]
        store = _PlannedStorage(bp, const_index)
    else:
        order = entry.post_order()
        store = _OwnStorage(entry, order, [k for k, _ in out_specs])

    where: dict[Key, Buf] = {}
    tuples: dict[Instruction, tuple] = {}

    def spec(o: Instruction, i: int = 0):
        """How the value (o, i) is found at run time: a Buf, ("tuple", [...]) or ("token",)."""
        if o in tuples and not o.multi:
            return tuples[o]
        t = _key_type((o, i))
        if isinstance(t, TensorType):
            b = where.get((o, i))
            if b is None:
                r = store.root((o, i))
                b = where.get(r)
                if b is not None and b.type != t:
                    b = Buf(b.kind, b.index, t)
            return b
        if isinstance(t, TupleType) and o.multi is False and o in tuples:
            return tuples[o]
        if isinstance(t, TupleType):
            return ("tuple", [spec(o, j) for j in range(len(t.elements))]) if o.multi else None
        return ("token",)

    for n, inst in enumerate(order):
        op = inst.opcode
        if op == "parameter":
            if isinstance(inst.type, TensorType):
                where[(inst, 0)] = Buf("param", inst.attrs["index"], inst.type)
            continue
        if op == "constant":
            where[(inst, 0)] = Buf("const", const_index(inst), inst.type)
            continue
        if op == "tuple":
            tuples[inst] = ("tuple", [spec(o) if not o.multi else spec(o, 0) for o in inst.operands])
            continue
        if op == "get_tuple_element":
            src, k = inst.operands[0], int(inst.attrs["index"])
            if src.multi:
                v = spec(src, k)
            else:
                tv = spec(src)
                v = tv[1][k] if isinstance(tv, tuple) and tv and tv[0] == "tuple" else None
            if isinstance(v, Buf):
                where[(inst, 0)] = v
            elif v is not None:
                tuples[inst] = v
            continue
        if op == "optimization_barrier":
            for i, o in enumerate(inst.operands):
                v = spec(o)
                if isinstance(v, Buf):
                    where[(inst, i)] = v
            continue
        if _is_view_reshape(inst) and store.is_view(inst):
            src = spec(inst.operands[0])
            if isinstance(src, Buf):
                where[(inst, 0)] = Buf(src.kind, src.index, inst.type)
                continue
        in_specs = [spec(o) for o in inst.operands]
        fam, comp, reason = native_kernel(inst)
        if comp is not None and not all(isinstance(x, Buf) for x in in_specs):
            comp, reason = None, "operands are not all tensors"
        outs = [store.result(key, _key_type(key)) for key in _keys(inst)]
        if comp is not None and any(b is None for b in outs):
            comp, reason = None, "results without storage"
        for key, b in zip(_keys(inst), outs):
            if b is not None:
                where[key] = b
        if comp is not None:
            steps.append(KernelStep(inst, kernel_name(inst), comp, list(in_specs), outs, family=fam.name))
        else:
            # every captured value is bound, also one that is an operand too (a while loop
            # whose body reads the outer value it was started from)
            captured = list(dict.fromkeys(c for r in inst.regions for c in _captures(r)))
            steps.append(FallbackStep(inst, reason or "not supported natively",
                                      in_specs + [spec(c) for c in captured], captured, outs))
        store.step_done(n)

    output_bufs = []
    for k, (key, t) in enumerate(out_specs):
        src = spec(*key)
        dst = Buf("output", k, t)
        if not isinstance(src, Buf):
            raise CompileError(f"entry output {key[0].ref} has no storage", key[0].loc)
        if (src.kind, src.index) != ("output", k):
            steps.append(CopyStep(src, dst))
        output_bufs.append(dst)
    return Plan(params, out_types, constants, store.arena_bytes, steps, output_bufs)


def _flatten_output(o: Instruction, out: list, i: int = 0):
    t = o.type
    if isinstance(t, TensorType):
        out.append(((o, 0), t))
    elif o.multi:
        for j, e in enumerate(t.elements):
            if isinstance(e, TensorType):
                out.append(((o, j), e))
    elif o.opcode == "tuple":
        for x in o.operands:
            _flatten_output(x, out)
    else:
        raise CompileError(f"entry output {o.ref} of type {t} cannot be returned as arrays", o.loc)


def _inputs_of(inst: Instruction) -> list[Instruction]:
    srcs = list(inst.operands)
    for r in inst.regions:
        for c in _captures(r):
            if c not in srcs:
                srcs.append(c)
    return srcs


# ---- LLVM ----------------------------------------------------------------------------------------------------
class KernelNotLowerable(Exception):
    """Emission found something the up-front checks missed; the step runs as a fallback."""

    def __init__(self, step: "KernelStep", reason: str):
        super().__init__(reason)
        self.step = step
        self.reason = reason


def demote(plan: Plan, step: "KernelStep", reason: str) -> None:
    """Turn a kernel step into an interpreter fallback (same buffers)."""
    k = plan.steps.index(step)
    plan.steps[k] = FallbackStep(step.inst, f"native emission failed: {reason}", list(step.inputs), [],
                                 list(step.outputs))


def build_llvm(plan: Plan, config: Config) -> tuple[ir.Module, list[str]]:
    """The LLVM module for the plan and the names of its exported functions: the segment functions
    in order (one per native segment), then `ENTRY` when the whole program is one native call."""
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
            # One pointer argument per distinct storage: an in-place output shares the argument
            # of the operand it overwrites, so LLVM sees the same pointer (no runtime alias
            # checks) and every argument can be noalias.
            args: list[Buf] = []
            arg_of: dict[tuple, int] = {}
            mapping = []
            for x in s.inputs + s.outputs:
                k = (x.kind, x.index)
                if k not in arg_of:
                    arg_of[k] = len(args)
                    args.append(x)
                mapping.append(arg_of[k])
            try:
                kfn = family(s.family).emit(cx, s.fname, s.name, s.region, config, len(args),
                                            mapping[:len(s.inputs)], mapping[len(s.inputs):])
            except NotLowerable as e:
                raise KernelNotLowerable(s, str(e)) from None
            b.call(kfn, [ptr(x) for x in args])
        b.ret_void()
    if len(seg_names) == 1 and not plan.fallbacks and all(isinstance(t, TensorType) for t in plan.params):
        _emit_entry(module, seg_names[0], nparams, nouts, nconsts)
        seg_names.append(ENTRY)
    return module, seg_names


ENTRY = "xltune.entry"
# CPython (non-debug, GIL build) + NumPy: PyArrayObject_fields.data and .flags offsets. The runtime
# checks them once against ndarray.ctypes before it uses the fast entry (else: the table path).
ARRAY_DATA_OFFSET = 16
ARRAY_FLAGS_OFFSET = 64
C_CONTIGUOUS = 0x1


def _emit_entry(module: ir.Module, seg: str, nparams: int, nouts: int, nconsts: int):
    """`i32 @xltune.entry(ptr %fixed, ptr %array0, ...)`: the one native call of a program without
    fallbacks. Takes the numpy arrays themselves (params then outputs), reads their data pointers,
    builds the pointer table on its stack (constants and arena copied from %fixed) and runs the
    segment. Returns 1 (and does nothing) if an array is not C-contiguous."""
    n = nparams + nouts
    fn = ir.Function(module, ir.FunctionType(T.I32, [T.PTR] * (n + 1)), name=ENTRY)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    fixed = fn.args[0]
    size = n + nconsts + 1
    table = b.alloca(T.PTR, size=ir.Constant(T.I64, size))
    bad = b.append_basic_block("not_contiguous")
    for k in range(n):
        obj = fn.args[k + 1]
        flags = b.load(b.gep(obj, [ir.Constant(T.I64, ARRAY_FLAGS_OFFSET)], source_etype=T.I8), typ=T.I32)
        ok = b.icmp_unsigned("!=", b.and_(flags, ir.Constant(T.I32, C_CONTIGUOUS)), ir.Constant(T.I32, 0))
        nxt = b.append_basic_block(f"arg{k}")
        b.cbranch(ok, nxt, bad)
        b.position_at_end(nxt)
        data = b.load(b.gep(obj, [ir.Constant(T.I64, ARRAY_DATA_OFFSET)], source_etype=T.I8), typ=T.PTR)
        b.store(data, b.gep(table, [ir.Constant(T.I64, k)], source_etype=T.PTR))
    for k in range(nconsts + 1):
        v = b.load(b.gep(fixed, [ir.Constant(T.I64, k)], source_etype=T.PTR), typ=T.PTR)
        b.store(v, b.gep(table, [ir.Constant(T.I64, n + k)], source_etype=T.PTR))
    b.call(module.globals[seg], [table])
    b.ret(ir.Constant(T.I32, 0))
    b.position_at_end(bad)
    b.ret(ir.Constant(T.I32, 1))
