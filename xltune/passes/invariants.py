"""Structural invariants every pass must keep (checked between passes when verifying):
operands defined before use (in the same or an enclosing computation), user lists in step with
operand lists, parameters first, and fusions well formed (docs/passes.md)."""
from __future__ import annotations

from ..errors import VerificationError
from ..ir.module import Computation, Instruction, Module
from ..ir.types import TupleType

FUSION_KINDS = ("loop", "input", "row", "library", "output")


def check_invariants(module: Module) -> None:
    for f in module.functions.values():
        _check_comp(f, visible=set())


def _check_comp(comp: Computation, visible: set) -> None:
    seen_nonparam = False
    defined = set(visible)
    for inst in comp.instructions:
        if inst.parent is not comp:
            raise VerificationError(f"{inst.ref} is listed in {comp.name} but its parent is "
                                    f"{getattr(inst.parent, 'name', None)}", inst.loc)
        if inst.opcode == "parameter":
            if seen_nonparam:
                raise VerificationError(f"parameter {inst.ref} comes after other instructions in "
                                        f"{comp.name}", inst.loc)
        else:
            seen_nonparam = True
        for o in inst.operands:
            if o not in defined:
                raise VerificationError(f"{inst.ref} ({inst.opcode}) uses {o.ref}, which is not defined "
                                        f"before it in {comp.name} or an enclosing computation", inst.loc)
            if inst not in o._users:
                raise VerificationError(f"{o.ref} does not list its user {inst.ref}", inst.loc)
        for u in inst._users:
            if inst not in u.operands:
                raise VerificationError(f"{inst.ref} lists {u.ref} as a user, but {u.ref} does not read it",
                                        inst.loc)
            if u.parent is None:
                raise VerificationError(f"{inst.ref} is used by {u.ref}, which was removed", inst.loc)
        for r in inst.regions:
            if r.owner is not inst:
                raise VerificationError(f"a region of {inst.ref} does not name it as owner", inst.loc)
            _check_comp(r, defined if inst.opcode != "fusion" else set())
        if inst.opcode == "fusion":
            _check_fusion(inst)
        defined.add(inst)
    for o in comp.outputs:
        if o not in defined:
            raise VerificationError(f"{comp.name} returns {o.ref}, which is not defined in it")


def _check_fusion(inst: Instruction) -> None:
    kind = inst.attrs.get("kind")
    if kind not in FUSION_KINDS:
        raise VerificationError(f"fusion {inst.ref} has kind {kind!r}; expected one of {FUSION_KINDS}", inst.loc)
    if len(inst.regions) != 1:
        raise VerificationError(f"fusion {inst.ref} has {len(inst.regions)} regions; expected 1", inst.loc)
    body = inst.regions[0]
    if len(body.params) != len(inst.operands):
        raise VerificationError(f"fusion {inst.ref} has {len(inst.operands)} operands but its region "
                                f"has {len(body.params)} parameters", inst.loc)
    for i, (p, o) in enumerate(zip(body.params, inst.operands)):
        if p.type != o.type:
            raise VerificationError(f"fusion {inst.ref}: parameter {i} has type {p.type}, operand "
                                    f"{o.ref} has {o.type}", inst.loc)
    outs = tuple(o.type for o in body.outputs)
    want = inst.type.elements if inst.multi else (inst.type,)
    if inst.multi and not isinstance(inst.type, TupleType):
        raise VerificationError(f"multi-result fusion {inst.ref} must have a tuple type", inst.loc)
    if outs != tuple(want):
        raise VerificationError(f"fusion {inst.ref}: region returns ({', '.join(map(str, outs))}) but the "
                                f"fusion's type is {inst.type}", inst.loc)
