"""Dead code elimination: drop pure instructions nothing reads, in every computation and region.

Side-effecting ops (custom calls, checks, I/O, and ops whose regions hold one) always stay, and
so do parameters and the values a computation returns.
"""
from __future__ import annotations

from ..ir.module import Computation
from .analysis import has_side_effect, region_output_readers
from .pipeline import ComputationPass, register


def remove_dead(comp: Computation) -> int:
    """Remove dead instructions of comp and of its regions (innermost first); return how many."""
    removed = 0
    for inst in comp.instructions:
        for r in inst.regions:
            removed += remove_dead(r)
    live_outputs = set(comp.outputs) | set(region_output_readers(comp))
    for inst in reversed(comp.instructions):
        if inst.opcode == "parameter" or inst in live_outputs or inst._users:
            continue
        if has_side_effect(inst):
            continue
        comp.remove(inst)
        removed += 1
    return removed


@register
class DeadCodeElimination(ComputationPass):
    name = "dce"

    def rewrite(self, comp) -> int:
        return remove_dead(comp)
