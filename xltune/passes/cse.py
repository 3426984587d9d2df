"""Common subexpression elimination: an instruction equal to an earlier one of the same
computation (opcode, operands, type, attributes, regions) is replaced by it.

Commutative ops match with their operands in either order. Side-effecting and random ops are
never merged. Regions are compared structurally, so two reduces with equal bodies merge.
"""
from __future__ import annotations

from ..ir.attrs import attr_key
from ..ir.module import Computation
from .analysis import is_pure, opdef
from .pipeline import ComputationPass, register


def _region_key(comp: Computation) -> tuple:
    local = {inst: i for i, inst in enumerate(comp.instructions)}

    def ref(o):
        return ("l", local[o]) if o in local else ("x", id(o))

    body = tuple((inst.opcode, str(inst.type), inst.multi, tuple(ref(o) for o in inst.operands),
                  _attrs_key(inst.attrs), tuple(_region_key(r) for r in inst.regions))
                 for inst in comp.instructions)
    return body, tuple(ref(o) for o in comp.outputs)


def _attrs_key(attrs: dict) -> tuple:
    return tuple(sorted((k, attr_key(v)) for k, v in attrs.items()))


def instruction_key(inst) -> tuple:
    ids = [id(o) for o in inst.operands]
    d = opdef(inst)
    if d is not None and d.commutative and len(ids) == 2:
        ids.sort()
    return (inst.opcode, inst.type, inst.multi, tuple(ids), _attrs_key(inst.attrs),
            tuple(_region_key(r) for r in inst.regions))


def eliminate_common(comp: Computation) -> int:
    merged = 0
    for inst in comp.instructions:
        for r in inst.regions:
            merged += eliminate_common(r)
    seen: dict[tuple, object] = {}
    for inst in comp:
        if inst.opcode == "parameter" or not is_pure(inst):
            continue
        try:
            key = instruction_key(inst)
            hash(key)
        except TypeError:  # an attribute value that cannot be hashed: leave the instruction alone
            continue
        first = seen.get(key)
        if first is None:
            seen[key] = inst
            continue
        inst.replace_all_uses_with(first)
        comp.remove(inst)
        merged += 1
    return merged


@register
class CommonSubexpressionElimination(ComputationPass):
    name = "cse"

    def rewrite(self, comp) -> int:
        return eliminate_common(comp)
