"""Fusion planning: which top-level instructions of the entry computation run as one kernel.

The planner does not change the module. It starts with one group per fusible instruction and
merges a producer's group into a consumer's group, consumers first (as XLA's instruction fusion
does), until nothing more merges; then it merges siblings that read the same input. Every
candidate edge (producer -> consumer) gets a Decision with a reason; the last one per edge is
the fusion log.

A merge is *legal* when the merged group is one of the kinds of docs/passes.md (`classify`);
it is *wanted* according to the policies (Knobs, `Policy`) and a cost heuristic for contested
edges, which per-edge knobs `fusion.edge.<producer>.<consumer>` override. Legality never
depends on a knob, so every knob value gives a correct program.

Ways a producer group joins a consumer group:
  merge         every reader of the producer's values is in the consumer's group;
  duplicate     the producer is cheap (no transcendentals, no reductions): the consumer gets its
                own copy and the original still serves its other readers;
  multi-output  the producer joins and its values read elsewhere become extra outputs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..config import Config, ConfigError, Knob
from ..ir import ops as _ops
from ..ir.module import Computation, Instruction
from ..ir.types import TensorType
from .analysis import (category, is_expensive, is_scalar_constant, reduce_dims, region_output_readers,
                       simple_reduce, top_level_user)

LIBRARY_OPS = frozenset({"dot_general", "dot", "convolution"})
# Data movement a kernel computes by index arithmetic. dynamic_update_slice stays out: it runs
# in place on its operand's buffer (see buffers.py), which fusing it would defeat.
FUSIBLE_MOVEMENT = frozenset({"broadcast_in_dim", "broadcast", "reshape", "transpose", "slice", "pad",
                              "concatenate", "reverse", "iota", "dynamic_slice"})
MAX_INPUTS = 64          # kernel parameters + outputs beyond this make a fusion refuse to grow
MAX_EDGE_KNOBS = 24      # per-candidate overrides offered for the largest contested edges


# ---- policies (the global fusion knobs) -----------------------------------------------------------------
def global_knobs() -> list[Knob]:
    o = "fusion"
    return [
        Knob("fusion.row_fusion", (False, True), True, "fuse reductions over trailing dimensions with the "
             "consumers that broadcast them back (softmax, layernorm) into one row-by-row kernel", o),
        Knob("fusion.fuse_into_reduction", (False, True), True, "fuse a reduction's elementwise/data-"
             "movement producers into its kernel (input fusion)", o),
        Knob("fusion.reduction_epilogue", (False, True), True, "fuse elementwise consumers of a reduction "
             "result (on the reduced shape) into the reduction's kernel", o),
        Knob("fusion.duplicate_cheap_producers", (False, True), True, "give each consumer its own copy of a "
             "cheap producer (broadcast, add, ...) that has several consumers", o),
        Knob("fusion.multi_output", (False, True), True, "let a producer whose value is also needed "
             "elsewhere join its consumer's kernel as an extra output", o),
        Knob("fusion.sibling", (False, True), True, "merge kernels that read the same input and have the "
             "same iteration space (multi-output sibling fusion)", o),
        Knob("fusion.max_ops_per_kernel", (8, 16, 32, 64, 128, 256), 64, "most instructions in one fused "
             "kernel (a code-size limit)", o),
        Knob("fusion.dot_epilogue", (False, True), True, "fuse the elementwise epilogue of a dot into the "
             "library/GEMM kernel", o),
    ]


@dataclass(frozen=True)
class Policy:
    row_fusion: bool = True
    fuse_into_reduction: bool = True
    reduction_epilogue: bool = True
    duplicate_cheap_producers: bool = True
    multi_output: bool = True
    sibling: bool = True
    max_ops_per_kernel: int = 64
    dot_epilogue: bool = True

    @classmethod
    def from_config(cls, config: Config) -> "Policy":
        vals = {k.name.split(".", 1)[1]: config.value(k) for k in global_knobs()}
        return cls(**vals)


def edge_knob_name(producer: Instruction, consumer: Instruction) -> str:
    return f"fusion.edge.{producer.name}.{consumer.name}"


# ---- what may be fused ------------------------------------------------------------------------------------
def fusible(inst: Instruction) -> bool:
    """Can inst be (part of) a fused kernel? Tensors only, one result, no side effects."""
    if inst.multi or not isinstance(inst.type, TensorType):
        return False
    if any(not isinstance(o.type, TensorType) for o in inst.operands):
        return False
    if inst.opcode in LIBRARY_OPS:
        return True
    if simple_reduce(inst):
        return inst.operands[1].type.shape == ()
    cat = category(inst)
    if cat == _ops.ELEMENTWISE:
        return not inst.regions
    return cat == _ops.DATA_MOVEMENT and inst.opcode in FUSIBLE_MOVEMENT


def _row_shape(shape, outer) -> bool:
    """shape is the outer dimensions followed only by 1s (one value per row)."""
    n = len(outer)
    return tuple(shape[:n]) == tuple(outer) and all(d == 1 for d in shape[n:])


def _squeezed(shape) -> tuple:
    return tuple(d for d in shape if d != 1)


def _is_unit_reshape(inst: Instruction) -> bool:
    """Moves no element: a reshape or broadcast that only adds/removes size-1 dimensions."""
    x = inst.operands[0] if inst.operands else None
    if x is None or inst.type.size != x.type.size:
        return False
    if inst.opcode == "reshape":
        return _squeezed(inst.type.shape) == _squeezed(x.type.shape)
    if inst.opcode == "broadcast_in_dim":
        dims = tuple(inst.attrs.get("broadcast_dimensions", ()))
        return list(dims) == sorted(dims)
    return False


# ---- plan records -------------------------------------------------------------------------------------------
class Group:
    __slots__ = ("gid", "bit", "members", "home", "kind")

    def __init__(self, gid: int, inst: Instruction, kind: str, bit: int):
        self.gid = gid
        self.bit = bit          # its node in the kernel graph's reachability bitsets
        self.members: set[Instruction] = {inst}   # what the kernel computes
        self.home: set[Instruction] = {inst}      # members whose value this kernel provides
        self.kind = kind

    def __repr__(self):
        return f"Group({self.gid}, {self.kind}, {sorted(m.name for m in self.members)})"


@dataclass
class Decision:
    producer: Instruction
    consumer: Instruction
    fused: bool
    how: str            # merge / duplicate / multi-output / sibling / "" (not fused)
    kind: str           # kind of the resulting kernel ("" when not fused)
    reason: str
    knob: str | None = None     # the per-edge knob deciding this edge (contested edges only)
    default: bool | None = None  # what the heuristic chose for it


@dataclass
class Plan:
    groups: list[Group]
    decisions: list[Decision]
    policy: Policy
    edge_knobs: list[Knob] = field(default_factory=list)


# ---- the planner --------------------------------------------------------------------------------------------
class Planner:
    def __init__(self, comp: Computation, config: Config):
        self.comp = comp
        self.config = config
        self.policy = Policy.from_config(config)
        self.order = list(comp.instructions)
        self.pos = {inst: i for i, inst in enumerate(self.order)}
        self.entry_outputs = set(comp.outputs)
        self.group_of: dict[Instruction, Group] = {}        # home group
        self.holders: dict[Instruction, set[Group]] = {}    # every group computing the instruction
        self.groups: list[Group] = []
        self.decisions: dict[tuple, Decision] = {}
        # top-level readers of every top-level value (a use inside a region counts for its owner)
        self.readers: dict[Instruction, list[Instruction]] = {}
        returned = region_output_readers(comp)
        for inst in self.order:
            rs = list(returned.get(inst, ()))
            for u in inst.users:
                t = top_level_user(u, comp)
                if t is not None and t not in rs:
                    rs.append(t)
            self.readers[inst] = sorted(rs, key=self.pos.__getitem__)
        for inst in self.order:
            if fusible(inst):
                kind = "library" if inst.opcode in LIBRARY_OPS else "input" if inst.opcode == "reduce" else "loop"
                g = Group(len(self.groups), inst, kind, self.pos[inst])
                self.groups.append(g)
                self.group_of[inst] = g
                self.holders[inst] = {g}
        self._init_reachability()

    def sorted(self, insts) -> list[Instruction]:
        return sorted(insts, key=self.pos.__getitem__)

    # -- queries --
    def live_groups(self) -> list[Group]:
        return [g for g in self.groups if g.home]

    def inputs(self, members) -> list[Instruction]:
        seen, out = set(), []
        for m in self.sorted(members):
            for o in m.operands:
                if o not in members and o not in seen and not is_scalar_constant(o):
                    seen.add(o)
                    out.append(o)
        return out

    def external_readers(self, m: Instruction, members, merging) -> list[Instruction]:
        """Readers of m that need it from outside the (tentative) group `members`, which replaces
        the groups `merging`: unfused readers, and groups computing a reader but not m."""
        out = []
        for u in self.readers[m]:
            hs = self.holders.get(u)
            if not hs:
                if u not in members:
                    out.append(u)
                continue
            if any(k not in merging and m not in k.members for k in hs):
                out.append(u)
        return out

    def outputs(self, members, home, merging) -> list[Instruction]:
        return self.sorted(m for m in home
                           if m in self.entry_outputs or self.external_readers(m, members, merging))

    # -- legality --
    def classify(self, members: set, home: set, merging) -> tuple[str | None, str]:
        """The kernel kind `members` form, or (None, why they cannot be one kernel)."""
        p = self.policy
        if len(members) > p.max_ops_per_kernel:
            return None, f"would exceed fusion.max_ops_per_kernel ({len(members)} > {p.max_ops_per_kernel} ops)"
        ordered = self.sorted(members)
        outs = self.outputs(members, home, merging)
        if len(self.inputs(members)) + len(outs) > MAX_INPUTS:
            return None, f"would need more than {MAX_INPUTS} kernel parameters and outputs"
        libs = [m for m in ordered if m.opcode in LIBRARY_OPS]
        reds = [m for m in ordered if m.opcode == "reduce"]
        if libs:
            return self._classify_library(ordered, members, libs, reds, outs)
        if reds:
            return self._classify_reduction(ordered, members, reds, outs)
        shapes = {m.type.shape for m in outs}
        if len(shapes) > 1:
            return None, ("outputs would have different shapes (" + ", ".join(
                f"{m.ref}: {m.type}" for m in outs) + "): a loop kernel has one iteration space")
        return "loop", ""

    def _classify_library(self, ordered, members, libs, reds, outs):
        if len(libs) > 1:
            return None, f"two library calls ({libs[0].ref}, {libs[1].ref}) cannot share a kernel"
        lib = libs[0]
        if len(members) == 1:
            return "library", ""
        if not self.policy.dot_epilogue:
            return None, f"{lib.ref} is a library call and dot epilogue fusion is off (fusion.dot_epilogue)"
        if reds:
            return None, f"a reduction ({reds[0].ref}) cannot join the epilogue of {lib.ref}"
        if lib in outs:
            return None, f"the result of {lib.ref} is also needed outside its epilogue"
        for m in ordered:
            if m is lib:
                continue
            if m.type.shape != lib.type.shape:
                return None, f"epilogue op {m.ref} has type {m.type}, not the {lib.opcode} result's shape {lib.type}"
            if category(m) != _ops.ELEMENTWISE and any(o in members for o in m.operands):
                return None, f"{m.ref} ({m.opcode}) moves elements of the {lib.opcode} result"
        return "library", ""

    def _classify_reduction(self, ordered, members, reds, outs):
        shape, dims = reds[0].operands[0].type.shape, reduce_dims(reds[0])
        for r in reds[1:]:
            if r.operands[0].type.shape != shape or reduce_dims(r) != dims:
                return None, (f"reductions over different shapes or dimensions ({reds[0].ref} reduces "
                              f"{list(dims)} of {reds[0].operands[0].type}, {r.ref} reduces "
                              f"{list(reduce_dims(r))} of {r.operands[0].type})")
        for r in reds:
            if r.operands[1] in members:
                return None, f"the init value of {r.ref} would be computed inside the kernel"
        reduced = tuple(d for i, d in enumerate(shape) if i not in dims)
        after = set()   # members computed from a reduction result (inside the group)
        for m in ordered:
            if any(o in members and (o.opcode == "reduce" or o in after) for o in m.operands):
                after.add(m)
        chain = [r for r in reds if r in after]
        full = [m for m in ordered if m in after and not _per_row(m.type.shape, reduced)]
        if not chain and not full:
            for m in ordered:
                if m in after and category(m) == _ops.DATA_MOVEMENT and not _is_unit_reshape(m):
                    return None, f"{m.ref} ({m.opcode}) moves reduced values around inside the kernel"
            for m in outs:
                if m not in after and m.opcode != "reduce" and m.type.shape != shape:
                    return None, (f"output {m.ref} ({m.type}) is neither a reduction result nor of the "
                                  f"reduced input's shape {TensorType(shape, m.dtype)}")
            return "input", ""
        # A reduction reads another's result, or a reduced value is broadcast back to the full shape:
        # only a row kernel (one row of the input at a time) does that.
        what = (f"no reduce-into-reduce in an input fusion ({chain[0].ref} reduces a value computed from "
                f"another reduction)" if chain else
                f"{full[0].ref} broadcasts a reduced value back to the full shape")
        if not self.policy.row_fusion:
            return None, what + "; that needs a row kernel and fusion.row_fusion is off"
        rank, k = len(shape), len(dims)
        if k == 0 or k == rank or dims != tuple(range(rank - k, rank)):
            return None, (what + f"; a row kernel needs the reduced dimensions {list(dims)} to be trailing "
                          f"dimensions of {reds[0].operands[0].type}, with at least one dimension left")
        outer = shape[:rank - k]
        for m in ordered:
            if m.type.shape != shape and not _row_shape(m.type.shape, outer):
                return None, (what + f"; {m.ref} ({m.type}) has neither the rows' shape nor one value per "
                              f"row, so a row kernel cannot hold it")
            if category(m) == _ops.DATA_MOVEMENT and any(o in members for o in m.operands):
                if not _row_preserving(m, outer):
                    return None, what + f"; {m.ref} ({m.opcode}) moves elements across rows"
        return "row", ""

    # -- the kernel graph must stay acyclic --
    # Nodes: the groups and the unfused instructions, each named by a bit (a group: the position
    # of the instruction it started from; an unfused instruction: its position). anc[bit] and
    # desc[bit] are bitsets of the nodes it (transitively) reads from / is read by. Merges update
    # them; a duplication only adds edges, and removed edges are not retracted, so the sets may
    # over-approximate, which can only make the planner refuse a merge, never allow a cycle.
    def _init_reachability(self):
        n = len(self.order)
        self.node_of_bit: dict[int, object] = {}
        anc = [0] * n
        for inst in self.order:
            i = self.pos[inst]
            self.node_of_bit[i] = self.group_of.get(inst, inst)
            for u in self.readers[inst]:
                j = self.pos[u]
                anc[j] |= anc[i] | (1 << i)
        desc = [0] * n
        for inst in reversed(self.order):
            i = self.pos[inst]
            for u in self.readers[inst]:
                j = self.pos[u]
                desc[i] |= desc[j] | (1 << j)
        self.anc, self.desc = anc, desc

    @staticmethod
    def _bits(mask: int):
        while mask:
            low = mask & -mask
            yield low.bit_length() - 1
            mask ^= low

    def _cycle_via(self, a: Group, b: Group):
        """A node on a path between a and b through other nodes (merging them would make a cycle)."""
        between = (self.desc[a.bit] & self.anc[b.bit]) | (self.desc[b.bit] & self.anc[a.bit])
        if not between:
            return None
        return self.node_of_bit[next(self._bits(between))]

    def _merge_nodes(self, keep: Group, gone: Group):
        """Reachability after `gone` is merged into `keep`."""
        k, g = keep.bit, gone.bit
        both = (1 << k) | (1 << g)
        anc = (self.anc[k] | self.anc[g]) & ~both
        desc = (self.desc[k] | self.desc[g]) & ~both
        self.anc[k], self.desc[k] = anc, desc
        self.anc[g] = self.desc[g] = 0
        for x in self._bits(anc):
            self.desc[x] = (self.desc[x] & ~both) | (1 << k) | desc
        for x in self._bits(desc):
            self.anc[x] = (self.anc[x] & ~both) | (1 << k) | anc
        del self.node_of_bit[g]

    def _add_reads(self, g: Group, src: Group):
        """g now also reads what src reads (it computes a copy of src)."""
        new = self.anc[src.bit] & ~self.anc[g.bit]
        if not new:
            return
        self.anc[g.bit] |= new
        down = self.desc[g.bit] | (1 << g.bit)
        for x in self._bits(new):
            self.desc[x] |= down
        for x in self._bits(self.desc[g.bit]):
            self.anc[x] |= new

    @staticmethod
    def _reuses(consumer: Instruction, producer: Instruction) -> bool:
        """Does consumer read each element of producer several times (a broadcast that expands)?"""
        return consumer.opcode in ("broadcast_in_dim", "broadcast") and consumer.type.size > producer.type.size

    @staticmethod
    def _cheap(members) -> bool:
        return len(members) <= 8 and all(not is_expensive(m) for m in members)

    def _feeds_reduction(self, producer: Instruction, g: Group) -> bool:
        """Does producer reach a reduction's input through g's members?"""
        upstream = set()
        for m in sorted(g.members, key=self.pos.__getitem__, reverse=True):
            if m.opcode == "reduce" or any(u in upstream for u in self.readers[m]):
                upstream.add(m)
        return any(u in upstream for u in self.readers[producer] if u in g.members)

    def _edge_override(self, knob: str) -> bool | None:
        if knob not in self.config:
            return None
        v = self.config[knob]
        if not isinstance(v, bool):
            raise ConfigError(f"config sets {knob}={v!r}, but the knob allows [False, True]")
        return v

    # -- one candidate edge --
    def decide(self, producer: Instruction, g: Group, merges_only: bool = False) -> Decision | None:
        """The decision for the edge producer -> g (None: undecided yet, when only plain merges
        are being made and this would be another way of joining)."""
        pg = self.group_of[producer]
        consumers = [u for u in self.readers[producer] if u in g.members]
        consumer = consumers[0]
        p = self.policy

        def no(reason, knob=None, default=None):
            return Decision(producer, consumer, False, "", "", reason, knob, default)

        if consumer.opcode in LIBRARY_OPS:
            return no(f"{consumer.ref} is a library call ({consumer.opcode}): its operands are not fused into it")
        if not p.fuse_into_reduction and self._feeds_reduction(producer, g):
            return no(f"{consumer.ref} feeds a reduction and fusion.fuse_into_reduction is off")
        if (not p.reduction_epilogue and any(m.opcode == "reduce" for m in pg.members)
                and not any(m.opcode == "reduce" for m in g.members)):
            return no(f"{producer.ref} is computed from a reduction and fusion.reduction_epilogue is off")
        knob = edge_knob_name(producer, consumer)
        forced = self._edge_override(knob)

        # How the producer's kernel would join, and whether the policies want that.
        union = g.members | pg.members
        merging = (g, pg)
        others = [u for m in self.sorted(pg.home) for u in self.external_readers(m, union, merging)]
        others += [m for m in self.sorted(pg.home) if m in self.entry_outputs]
        cheap = self._cheap(pg.members)
        contested, wanted, reason = False, True, ""
        if others and merges_only:
            return None
        if not others:
            how = "merge"
        elif cheap and p.duplicate_cheap_producers:
            how = "duplicate"
        elif p.multi_output:
            how = "multi-output"
            contested = True
            reason = f"{producer.ref} is also read by {_refs(others)}: it joins as an extra output"
        else:
            how = "duplicate" if cheap else "multi-output"
            contested, wanted = True, False
            reason = (f"{producer.ref} is also read by {_refs(others)}, and "
                      + ("duplicating cheap producers is off (fusion.duplicate_cheap_producers)" if cheap else
                         "it is too expensive to compute twice and multi-output fusion is off (fusion.multi_output)"))

        # Legality: never up to a knob.
        if how == "multi-output":
            via = self._cycle_via(g, pg)
            if via is not None:
                return no(f"{producer.ref} is also read by {_refs(others)}; fusing would create a cycle "
                          f"through {_node_ref(via)}")
            home = g.home | pg.home
        else:
            home = g.home | pg.home if how == "merge" else set(g.home)
        kind, why = self.classify(union, home, merging if how != "duplicate" else (g,))
        if kind is None:
            return no(why)

        # Cost: recomputing an expensive producer for every element a broadcast makes of it. A row
        # kernel computes a per-row value once per row, so it is exempt.
        expensive = [m for m in self.sorted(pg.members) if is_expensive(m)]
        if wanted and kind != "row" and expensive and any(self._reuses(c, producer) for c in consumers):
            contested, wanted = True, False
            reason = (f"would recompute expensive {expensive[0].ref} ({expensive[0].opcode}) for every "
                      f"element {consumer.ref} broadcasts it to")

        fused = wanted if forced is None else forced
        if not fused:
            why_not = reason if forced is None else f"disabled by {knob}"
            return no(why_not, knob if contested else None, wanted if contested else None)
        if not reason:
            reason = (f"every reader of {producer.ref} is in this kernel" if how == "merge" else
                      f"{producer.ref} is cheap: this kernel computes its own copy (it is also read by "
                      f"{_refs(others)})")
        if forced is not None and not wanted:
            reason = f"forced by {knob} ({reason})"
        return Decision(producer, consumer, True, how, kind, reason, knob if contested else None,
                        wanted if contested else None)

    def apply(self, d: Decision, g: Group):
        pg = self.group_of[d.producer]
        for m in pg.members:
            self.holders[m].add(g)
        g.members |= pg.members
        if d.how == "duplicate":
            self._add_reads(g, pg)
        else:
            self._merge_nodes(g, pg)
            g.home |= pg.home
            for m in pg.home:
                self.group_of[m] = g
            for m in pg.members:
                self.holders[m].discard(pg)
            pg.home, pg.members = set(), set()
        g.kind = d.kind

    def _absorb(self, a: Group, b: Group, kind: str):
        self._merge_nodes(a, b)
        for m in b.members:
            self.holders[m].discard(b)
            self.holders[m].add(a)
        a.members |= b.members
        a.home |= b.home
        for m in b.home:
            self.group_of[m] = a
        b.home, b.members = set(), set()
        a.kind = kind

    def record(self, d: Decision):
        self.decisions[(d.producer, d.consumer)] = d

    # -- the two phases --
    def run(self) -> Plan:
        self._producer_consumer()
        if self.policy.sibling:
            self._siblings()
        for key, d in self.decisions.items():
            if not d.fused and any(d.producer in k.members for k in self.holders.get(d.consumer, ())):
                self.decisions[key] = Decision(d.producer, d.consumer, True, "merge", self.group_of[d.consumer].kind,
                                               f"joined this kernel through another consumer (earlier: {d.reason})")
        live = []
        for g in self.live_groups():
            kind, why = self.classify(g.members, g.home, (g,))
            if kind is None:  # every merge was classified, so this is a planner bug
                raise AssertionError(f"fusion planner built an illegal group {g}: {why}")
            g.kind = kind
            if self.outputs(g.members, g.home, (g,)):
                live.append(g)
        return Plan(live, list(self.decisions.values()), self.policy, self.edge_knobs())

    def _producer_consumer(self):
        # Plain merges first, to a fixed point: a producer whose readers will all end up in one
        # kernel is merged, not duplicated or made an extra output on the way there.
        for merges_only in (True, False):
            changed = True
            while changed:
                changed = False
                for g in sorted(self.live_groups(), key=lambda g: -max(self.pos[m] for m in g.members)):
                    progress = bool(g.home)
                    while progress:
                        progress = False
                        cands = [o for o in self.inputs(g.members) if o in self.group_of]
                        for prod in reversed(self.sorted(cands)):
                            d = self.decide(prod, g, merges_only)
                            if d is None:
                                continue
                            self.record(d)
                            if d.fused:
                                self.apply(d, g)
                                changed = progress = True
                                break

    def _siblings(self):
        """Merge kernels of one kind and iteration space that read a common (non-scalar) input."""
        changed = True
        while changed:
            changed = False
            readers_of: dict[Instruction, list[Group]] = {}
            for g in sorted(self.live_groups(), key=lambda g: min(self.pos[m] for m in g.members)):
                for o in self.inputs(g.members):
                    if isinstance(o.type, TensorType) and o.type.size > 1:
                        readers_of.setdefault(o, []).append(g)
            for shared in self.sorted(readers_of):
                gs = readers_of[shared]
                for i, a in enumerate(gs):
                    for b in gs[i + 1:]:
                        if not a.home or not b.home:
                            continue
                        d = self._decide_sibling(shared, a, b)
                        if d is None:
                            continue
                        self.record(d)
                        if d.fused:
                            self._absorb(a, b, d.kind)
                            changed = True
                if changed:
                    break

    def _decide_sibling(self, shared, a: Group, b: Group) -> Decision | None:
        if a.kind not in ("loop", "input") or b.kind != a.kind:
            return None
        ra = next(u for u in self.readers[shared] if u in a.members)
        rb = next(u for u in self.readers[shared] if u in b.members)
        union = a.members | b.members
        if a.kind == "loop":
            sa = {m.type.shape for m in self.outputs(a.members, a.home, (a,))}
            sb = {m.type.shape for m in self.outputs(b.members, b.home, (b,))}
            if sa != sb:
                return None
        via = self._cycle_via(a, b)
        if via is not None:
            return Decision(shared, rb, False, "", "", f"siblings {ra.ref} and {rb.ref} both read {shared.ref}, "
                            f"but one depends on the other through {_node_ref(via)}")
        kind, why = self.classify(union, a.home | b.home, (a, b))
        if kind is None or kind != a.kind:
            return Decision(shared, rb, False, "", "", f"siblings {ra.ref} and {rb.ref} both read {shared.ref}, "
                            f"but {why or 'together they would be a ' + str(kind) + ' kernel'}")
        return Decision(shared, rb, True, "sibling", kind, f"siblings {ra.ref} and {rb.ref} both read "
                        f"{shared.ref}: one {kind} kernel reads it once")

    # -- contested edges become knobs --
    def edge_knobs(self) -> list[Knob]:
        found = [d for d in self.decisions.values() if d.knob is not None]
        found.sort(key=lambda d: (-d.producer.type.nbytes, self.pos[d.producer], self.pos[d.consumer]))
        return [Knob(d.knob, (False, True), bool(d.default),
                     f"fuse {d.producer.ref} ({d.producer.opcode}) into the kernel of {d.consumer.ref} "
                     f"({d.consumer.opcode})", "fusion")
                for d in found[:MAX_EDGE_KNOBS]]


def _per_row(shape, reduced) -> bool:
    """One value per reduced element: the reduced shape, give or take size-1 dimensions."""
    return math.prod(shape) == math.prod(reduced) and _squeezed(shape) == _squeezed(reduced)


def _row_preserving(m: Instruction, outer) -> bool:
    """A reshape/broadcast of a per-row value that keeps each row's value in its row."""
    x = m.operands[0]
    n = len(outer)
    if m.opcode == "reshape":
        return _row_shape(x.type.shape, outer) and _row_shape(m.type.shape, outer)
    if m.opcode == "broadcast_in_dim":
        dims = tuple(m.attrs.get("broadcast_dimensions", ()))
        return _row_shape(x.type.shape, outer) and len(dims) >= n and dims[:n] == tuple(range(n))
    return False


def _node_ref(node) -> str:
    if isinstance(node, Group):
        return next(iter(sorted(node.home, key=lambda m: m.name))).ref if node.home else f"group {node.gid}"
    return node.ref


def _refs(insts) -> str:
    names = [i.ref for i in insts[:3]]
    more = f" and {len(insts) - 3} more" if len(insts) > 3 else ""
    return ", ".join(names) + more

