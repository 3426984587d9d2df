"""Invariants passes rely on beyond the IR verifier's rules (xltune/ir/verifier.py): user lists in
step with operand lists, and fusions of a known kind whose region reads only its parameters
(docs/passes.md)."""
from __future__ import annotations

from ..errors import VerificationError
from ..ir.module import Instruction, Module

FUSION_KINDS = ("loop", "input", "row", "library", "output")


def check_invariants(module: Module) -> None:
    for f in module.functions.values():
        for comp in f.regions_and_self():
            for inst in comp.instructions:
                _check_links(inst)
                if inst.opcode == "fusion":
                    _check_fusion(inst)


def _check_links(inst: Instruction) -> None:
    for o in inst.operands:
        if inst not in o._users:
            raise VerificationError(f"{o.ref} does not list its user {inst.ref}", inst.loc)
    for u in inst._users:
        if inst not in u.operands:
            raise VerificationError(f"{inst.ref} lists {u.ref} as a user, but {u.ref} does not read it", inst.loc)
        if u.parent is None:
            raise VerificationError(f"{inst.ref} is used by {u.ref}, which was removed", inst.loc)


def _check_fusion(inst: Instruction) -> None:
    kind = inst.attrs.get("kind")
    if kind not in FUSION_KINDS:
        raise VerificationError(f"fusion {inst.ref} has kind {kind!r}; expected one of {FUSION_KINDS}", inst.loc)
    body = inst.regions[0]
    for inner in body.walk():
        for o in list(inner.operands):
            if o.parent is None or not body.is_ancestor_of(o.parent):
                raise VerificationError(f"fusion {inst.ref}: {inner.ref} reads {o.ref} from outside the kernel "
                                        f"(a fusion's region reads only its parameters)", inst.loc)
    for o in body.outputs:
        if o.parent is None or not body.is_ancestor_of(o.parent):
            raise VerificationError(f"fusion {inst.ref} returns {o.ref} from outside the kernel", inst.loc)
