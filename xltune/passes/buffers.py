"""Buffer assignment: liveness over the entry computation's schedule, then one arena for the
temporaries with reuse, views and in-place updates (docs/passes.md, "Buffer plan").

Every top-level value gets a Slot, keyed (instruction, result index):
  param     the caller's argument `index`
  constant  the constant's own data
  output    entry output `index`: the caller allocates it per call and the value is computed
            straight into it
  temp      `offset` into the arena (reused once the value is dead)
  alias     the storage of `target` (another slot key): a get_tuple_element, a reshape (a view:
            no element moves), or an in-place update (`reason` "in-place": the value overwrites
            an operand that dies here, elementwise at the same index, or the operand of a
            dynamic_update_slice/scatter)
  opaque    a tuple or token value the backend keeps as an object (no bytes in the plan)
`output_sources[p]` is the root slot key holding entry output p; when that root is not the
`output` slot with index p (a returned parameter, constant, or a value returned twice) the
backend copies it into output p after the run.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..config import Config
from ..ir import ops as _ops
from ..ir.module import Computation, Instruction, Module
from ..ir.types import TensorType
from .analysis import category, region_output_readers
from .pipeline import Pass, PassContext, register

ALIGN = 64
SlotKey = tuple  # (Instruction, result index)


@dataclass
class Slot:
    kind: str
    size: int
    index: int | None = None     # param / output index
    offset: int | None = None    # temp: byte offset in the arena
    target: SlotKey | None = None  # alias: whose storage
    reason: str = ""             # alias: "element", "view", "in-place"
    start: int = 0               # schedule position where the value is made
    end: int = 0                 # last schedule position that reads it (its storage: all aliases)


def _key_ref(key: SlotKey) -> str:
    inst, i = key
    return inst.ref if not inst.multi else f"{inst.ref}#{i}"


def value_keys(inst: Instruction) -> list[SlotKey]:
    if inst.multi:
        return [(inst, i) for i in range(len(inst.type.elements))]
    return [(inst, 0)]


def value_type(key: SlotKey):
    inst, i = key
    return inst.type.elements[i] if inst.multi else inst.type


def naive_bytes(comp: Computation) -> int:
    """Bytes if every top-level value had its own buffer (get_tuple_element/tuple read others)."""
    total = 0
    for inst in comp.instructions:
        if inst.opcode in ("get_tuple_element", "tuple"):
            continue
        for k in value_keys(inst):
            t = value_type(k)
            total += t.nbytes if isinstance(t, TensorType) else 0
    return total


class BufferPlan:
    def __init__(self, comp: Computation):
        self.comp = comp
        self.schedule: list[Instruction] = list(comp.instructions)
        self.slots: dict[SlotKey, Slot] = {}
        self.output_sources: list[SlotKey] = []
        self.arena_bytes = 0
        self.naive_bytes = naive_bytes(comp)
        self.peak_bytes = 0

    def slot(self, inst: Instruction, index: int = 0) -> Slot:
        return self.slots[(inst, index)]

    def root(self, key: SlotKey) -> SlotKey:
        """The key whose storage `key` uses (itself unless it is an alias)."""
        seen = 0
        while self.slots[key].kind == "alias":
            key = self.slots[key].target
            seen += 1
            if seen > len(self.slots):
                raise AssertionError("alias cycle in buffer plan")
        return key

    def to_dict(self) -> dict:
        return {"arena_bytes": self.arena_bytes, "peak_bytes": self.peak_bytes, "naive_bytes": self.naive_bytes}

    def __str__(self) -> str:
        lines = [f"# buffer plan for @{self.comp.name}: {len(self.schedule)} instructions, "
                 f"{len(self.slots)} values",
                 f"# arena {_mib(self.arena_bytes)}, peak {_mib(self.peak_bytes)} "
                 f"(params + constants + outputs + arena), naive {_mib(self.naive_bytes)} (one buffer per value)"]
        rows = []
        for key, s in self.slots.items():
            t = value_type(key)
            where = {"param": f"param {s.index}", "output": f"output {s.index}", "constant": "constant",
                     "temp": f"temp @{s.offset}", "opaque": "opaque"}.get(s.kind)
            if s.kind == "alias":
                where = f"alias of {_key_ref(s.target)} ({s.reason})"
            rows.append((_key_ref(key), where, str(t), _mib(s.size) if s.size else "-", f"[{s.start}, {s.end}]"))
        widths = [max(len(r[i]) for r in rows) if rows else 0 for i in range(5)]
        for r in rows:
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        for p, src in enumerate(self.output_sources):
            s = self.slots[src]
            if not (s.kind == "output" and s.index == p):
                lines.append(f"  output {p} is copied from {_key_ref(src)} ({s.kind})")
        return "\n".join(lines) + "\n"


def _mib(n: int) -> str:
    if n >= 1 << 20:
        return f"{n / (1 << 20):.2f} MiB"
    if n >= 1 << 10:
        return f"{n / (1 << 10):.1f} KiB"
    return f"{n} B"


def _elementwise_path(param: Instruction, region: Computation) -> bool:
    """Everything computed from param inside region is elementwise (same index in, same index out)."""
    stack, seen = [param], set()
    while stack:
        x = stack.pop()
        for u in x.users:
            if u in seen:
                continue
            seen.add(u)
            if category(u) != _ops.ELEMENTWISE or u.regions:
                return False
            stack.append(u)
    return True


def _in_place_operand(inst: Instruction) -> list[int]:
    """Operand positions inst may overwrite (if that operand dies at inst)."""
    if inst.multi or not isinstance(inst.type, TensorType):
        return []
    if inst.opcode in ("dynamic_update_slice", "scatter"):
        return [0]
    same = [i for i, o in enumerate(inst.operands)
            if isinstance(o.type, TensorType) and o.type.shape == inst.type.shape
            and o.type.dtype.itemsize == inst.type.dtype.itemsize]
    if inst.opcode == "fusion":
        if inst.attrs.get("kind") != "loop":
            return []
        region = inst.regions[0]
        return [i for i in same if _elementwise_path(region.params[i], region)]
    if category(inst) == _ops.ELEMENTWISE:
        return same
    return []


def plan_buffers(comp: Computation) -> BufferPlan:
    plan = BufferPlan(comp)
    pos = {inst: t for t, inst in enumerate(plan.schedule)}
    end_of_schedule = len(plan.schedule)
    slots = plan.slots

    # 1. Structure: parameters, constants, opaque values, views and tuple elements.
    for t, inst in enumerate(plan.schedule):
        for key in value_keys(inst):
            ty = value_type(key)
            size = ty.nbytes if isinstance(ty, TensorType) else 0
            s = Slot("", size, start=t, end=t)
            if not isinstance(ty, TensorType):
                s.kind = "opaque"
            elif inst.opcode == "parameter":
                s.kind, s.index = "param", int(inst.attrs.get("index", 0))
            elif inst.opcode == "constant":
                s.kind = "constant"
            elif inst.opcode == "get_tuple_element":
                src = inst.operands[0]
                i = int(inst.attrs.get("index", 0))
                if src.multi and src in pos:
                    s.kind, s.target, s.reason = "alias", (src, i), "element"
                elif src.opcode == "tuple" and src in pos and (src.operands[i], 0) in slots:
                    s.kind, s.target, s.reason = "alias", (src.operands[i], 0), "element"
            elif inst.opcode == "reshape" and (inst.operands[0], 0) in slots and \
                    isinstance(inst.operands[0].type, TensorType):
                s.kind, s.target, s.reason = "alias", (inst.operands[0], 0), "view"
            slots[key] = s

    # 2. Liveness of every value: until its last reader (a read inside a region counts for the op
    #    owning the region); entry outputs until the end.
    def reader_position(u: Instruction) -> int | None:
        while u is not None and u.parent is not comp:
            u = u.parent.owner if u.parent is not None else None
        return pos.get(u) if u is not None else None

    returned = region_output_readers(comp)
    for inst in plan.schedule:
        last = max([pos[inst]] + [pos[o] for o in returned.get(inst, ())])
        for u in inst.users:
            p = reader_position(u)
            if p is not None:
                last = max(last, p)
        for key in value_keys(inst):
            slots[key].end = last
    for o in comp.outputs:
        for key in value_keys(o):
            slots[key].end = end_of_schedule

    # 3. Entry outputs claim their root storage.
    for p, o in enumerate(comp.outputs):
        r = plan.root(value_keys(o)[0]) if not o.multi else (o, 0)
        s = slots[r]
        if s.kind == "":
            s.kind, s.index = "output", p
        plan.output_sources.append(r)

    # Storage lifetime: a root lives as long as any value stored in it.
    ends: dict[SlotKey, int] = {}
    for k, sl in slots.items():
        r = plan.root(k)
        ends[r] = max(ends.get(r, 0), sl.end)

    # 4. In place: overwrite an operand whose storage dies here.
    for inst in plan.schedule:
        key = (inst, 0)
        if inst.multi or slots[key].kind != "":
            continue
        for i in _in_place_operand(inst):
            o = inst.operands[i]
            if o.multi or (o, 0) not in slots:
                continue
            r = plan.root((o, 0))
            if slots[r].kind not in ("", "temp") or ends[r] != pos[inst]:
                continue
            if any(plan.root((x, 0)) == r for j, x in enumerate(inst.operands)
                   if j != i and not x.multi and (x, 0) in slots):
                continue  # the same storage is read through another operand too
            if value_type(r).nbytes != value_type(key).nbytes:
                continue
            sl = slots[key]
            sl.kind, sl.target, sl.reason = "alias", r, "in-place"
            slots[r].kind = "temp"
            ends[r] = max(ends[r], ends.pop(key, sl.end))
            break

    # 5. Temporaries: every remaining root, first fit into one arena over its live range.
    temps = []
    for key, s in slots.items():
        if s.kind in ("", "temp"):
            s.kind = "temp"
            temps.append(key)
    spans = {k: (slots[k].start, ends[k]) for k in temps}
    placed: list[tuple[int, int, int, int]] = []  # (start, end, offset, size)
    for k in sorted(temps, key=lambda k: (spans[k][0], -slots[k].size)):
        start, end = spans[k]
        size = _align(slots[k].size)
        busy = sorted((o, o + sz) for (s0, e0, o, sz) in placed if not (e0 < start or end < s0))
        offset = 0
        for lo, hi in busy:
            if offset + size <= lo:
                break
            offset = max(offset, _align(hi))
        slots[k].offset = offset
        placed.append((start, end, offset, size))
        plan.arena_bytes = max(plan.arena_bytes, offset + size)

    fixed = sum(s.size for s in slots.values() if s.kind in ("param", "constant", "output"))
    plan.peak_bytes = fixed + plan.arena_bytes
    return plan


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


@register
class BufferAssignment(Pass):
    name = "buffers"
    records_stage = False  # the module does not change; the plan is the stage

    def run(self, module: Module, config: Config, ctx: PassContext) -> bool:
        plan = plan_buffers(module.entry)
        module.buffer_plan = plan
        ctx.stats.update(arena_bytes=plan.arena_bytes, peak_bytes=plan.peak_bytes, naive_bytes=plan.naive_bytes)
        ctx.add_stage("buffers", lambda: str(plan))
        return False
