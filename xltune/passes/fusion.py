"""The fusion pass: plan (fusion_plan.py), then outline every planned group of the entry
computation into a `fusion` instruction (docs/passes.md, "The fused module").

Stages: `fusion_log` (every candidate edge, fused or not and why, then the kernels) and
`fused` (the module afterwards). Knobs: the global policies and the per-candidate overrides of
the contested edges (fusion_plan.global_knobs, Planner.edge_knobs).
"""
from __future__ import annotations

import heapq

from ..config import Config, Knob
from ..ir.module import Computation, Instruction, Module
from ..ir.types import TupleType
from .analysis import is_scalar_constant
from .dce import remove_dead
from .fusion_plan import Group, Plan, Planner, global_knobs
from .pipeline import Pass, PassContext, register


def kernel_name(root: Instruction) -> str:
    """A fusion's stable name: from its root (last output), so it survives other fusion choices."""
    return f"fusion.{root.name}"


def _group_order(planner: Planner, groups: list[Group]) -> list[Group]:
    """Groups in an order where every group comes after the groups whose outputs it reads."""
    provider = {m: g for g in groups for m in g.home}
    deps = {g: {provider[o] for o in planner.inputs(g.members) if o in provider} - {g} for g in groups}
    users: dict[Group, list[Group]] = {g: [] for g in groups}
    for g, ds in deps.items():
        for d in ds:
            users[d].append(g)
    first = {g: min(planner.pos[m] for m in g.home) for g in groups}
    ready = [(first[g], g.gid, g) for g in groups if not deps[g]]
    heapq.heapify(ready)
    out = []
    missing = {g: len(ds) for g, ds in deps.items()}
    while ready:
        _, _, g = heapq.heappop(ready)
        out.append(g)
        for u in users[g]:
            missing[u] -= 1
            if missing[u] == 0:
                heapq.heappush(ready, (first[u], u.gid, u))
    if len(out) != len(groups):
        raise AssertionError("fusion planner produced a cyclic kernel graph")
    return out


def outline(comp: Computation, plan: Plan, planner: Planner) -> dict[Group, Instruction]:
    """Replace the planned groups of comp by fusion instructions; return them by group."""
    value: dict[Instruction, Instruction] = {}   # fused member -> the fusion output carrying it
    fusions: dict[Group, Instruction] = {}
    new: list[Instruction] = []                  # fusions and their get_tuple_elements, in order
    for g in _group_order(planner, plan.groups):
        members = planner.sorted(g.members)
        outs = planner.outputs(g.members, g.home, (g,))
        inputs = planner.inputs(g.members)
        name = kernel_name(outs[-1])
        region = Computation(name)
        vmap: dict[Instruction, Instruction] = {}
        for o in inputs:
            vmap[o] = region.add_parameter(o.type, name=o.name)
        for m in members:
            for o in m.operands:
                if o not in vmap and is_scalar_constant(o):
                    vmap[o] = region.add("constant", (), o.type, {"value": o.attrs["value"]}, name=o.name, loc=o.loc)
            c = Instruction(m.opcode, [vmap[o] for o in m.operands], m.type, dict(m.attrs),
                            [r.clone() for r in m.regions], loc=m.loc, multi=m.multi)
            vmap[m] = region.insert(c, name=m.name)
        region.set_outputs(vmap[m] for m in outs)
        multi = len(outs) > 1
        ftype = TupleType(tuple(m.type for m in outs)) if multi else outs[0].type
        f = Instruction("fusion", [value.get(o, o) for o in inputs], ftype, {"kind": g.kind, "name": name},
                        [region], multi=multi)
        f.name = name
        fusions[g] = f
        new.append(f)
        if multi:
            for i, m in enumerate(outs):
                gte = Instruction("get_tuple_element", (f,), m.type, {"index": i})
                gte.name = m.name
                value[m] = gte
                new.append(gte)
        else:
            value[outs[0]] = f
    # Rewire readers while the fusions are still detached (the rewiring looks into the regions of
    # the computation's instructions, and the new kernels' regions need no looking into).
    for m, v in value.items():
        m.replace_all_uses_with(v)
    for inst in new:
        comp.insert(inst, name=inst.name)
    for inst in reversed(planner.order):
        if inst in planner.group_of:
            comp.remove(inst)
    comp.instructions = comp.post_order()
    remove_dead(comp)
    return fusions


def format_log(plan: Plan, planner: Planner, fusions: dict[Group, Instruction]) -> str:
    pol = plan.policy
    lines = ["# fusion decisions: every candidate edge producer -> consumer, its outcome and why",
             "# policy: " + " ".join(f"fusion.{k}={getattr(pol, k)}" for k in pol.__dataclass_fields__)]
    ds = sorted(plan.decisions, key=lambda d: (planner.pos[d.producer], planner.pos[d.consumer]))
    width = max([len(f"{d.producer.ref} -> {d.consumer.ref}") for d in ds] + [10])
    verdicts = []
    for d in ds:
        if not d.fused:
            verdicts.append("not fused")
            continue
        f = fusions.get(planner.group_of.get(d.consumer))
        where = f"{f.attrs['name']} ({f.attrs['kind']})" if f is not None else "copies in other kernels"
        verdicts.append(f"fused ({d.how}) into {where}")
    vwidth = max([len(v) for v in verdicts] + [10])
    for d, verdict in zip(ds, verdicts):
        edge = f"{d.producer.ref} -> {d.consumer.ref}"
        knob = f"  [knob {d.knob}, default {d.default}]" if d.knob else ""
        lines.append(f"{edge:<{width}}  {verdict:<{vwidth}}  {d.reason}{knob}")
    lines.append("")
    lines.append(f"# kernels: {len(fusions)} fusions")
    for f in fusions.values():
        body = f.attrs["name"], f.attrs["kind"]
        region = f.regions[0]
        n = sum(1 for i in region.instructions if i.opcode not in ("parameter", "constant"))
        ins = ", ".join(o.ref for o in f.operands)
        outs = ", ".join(o.ref for o in region.outputs)
        lines.append(f"{body[0]} ({body[1]}): {n} ops; reads {ins or 'nothing'}; computes {outs}")
    return "\n".join(lines) + "\n"


@register
class Fusion(Pass):
    name = "fusion"
    records_stage = False  # records `fusion_log` and `fused` itself

    def knobs(self, module: Module, config: Config | None = None) -> list[Knob]:
        planner = Planner(module.entry, config if config is not None else Config())
        return global_knobs() + planner.run().edge_knobs

    def run(self, module: Module, config: Config, ctx: PassContext) -> bool:
        comp = module.entry
        planner = Planner(comp, config)
        plan = planner.run()
        fusions = outline(comp, plan, planner)
        kinds: dict[str, int] = {}
        for f in fusions.values():
            kinds[f.attrs["kind"]] = kinds.get(f.attrs["kind"], 0) + 1
        ctx.stats["fusion_kinds"] = kinds
        ctx.stats["fusion_decisions"] = {"fused": sum(d.fused for d in plan.decisions),
                                         "not fused": sum(not d.fused for d in plan.decisions)}
        ctx.add_stage("fusion_log", lambda: format_log(plan, planner, fusions))
        ctx.add_stage("fused", lambda: str(module))
        return bool(fusions)
