"""Constant folding: an instruction whose operands are all constants becomes a constant, computed
by the interpreter (`xltune.interpreter.evaluate_instruction`, the oracle itself).

Bounded by size: results over MAX_RESULT_ELEMENTS elements are not folded (they would bloat the
module and its printed stages), nor instructions reading operands over MAX_OPERAND_ELEMENTS.
Broadcasts and iotas are never folded: they would only turn a cheap op into a big constant.
Never folded: side-effecting ops (custom calls, checks), random ops, control flow, collectives,
fusions, tuples, and anything whose result is not a single tensor.
"""
from __future__ import annotations

import numpy as np

from ..errors import XltuneError
from ..ir import ops as _ops
from ..ir.module import Computation
from ..ir.types import TensorType
from .analysis import constant_value, is_pure, opdef
from .pipeline import ComputationPass, register

MAX_RESULT_ELEMENTS = 4096
MAX_OPERAND_ELEMENTS = 1 << 20
NEVER_FOLD = frozenset({"broadcast_in_dim", "broadcast", "iota", "dynamic_iota", "parameter", "constant",
                        "fusion", "get_tuple_element", "tuple", "optimization_barrier", "rng",
                        "rng_bit_generator", "composite"})
NEVER_FOLD_CATEGORIES = frozenset({_ops.CONTROL, _ops.COLLECTIVE, _ops.SIDE_EFFECT, _ops.FUSION})


def foldable(inst, max_elements: int = MAX_RESULT_ELEMENTS) -> bool:
    d = opdef(inst)
    if d is None or inst.opcode in NEVER_FOLD or d.category in NEVER_FOLD_CATEGORIES:
        return False
    if inst.multi or not isinstance(inst.type, TensorType) or inst.type.size > max_elements:
        return False
    if not is_pure(inst) or not inst.operands:
        return False
    for o in inst.operands:
        v = constant_value(o)
        if v is None or v.size > MAX_OPERAND_ELEMENTS:
            return False
    return True


def _evaluate(inst):
    from ..interpreter import evaluate_instruction
    return evaluate_instruction(inst, [constant_value(o) for o in inst.operands])


def fold_constants(comp: Computation, max_elements: int = MAX_RESULT_ELEMENTS) -> int:
    folded = 0
    for inst in comp.instructions:
        for r in inst.regions:
            folded += fold_constants(r, max_elements)
    for inst in comp:
        if not foldable(inst, max_elements):
            continue
        try:
            with np.errstate(all="ignore"):
                value = _evaluate(inst)
        except (XltuneError, ArithmeticError, ValueError, TypeError, NotImplementedError):
            continue  # the interpreter cannot evaluate it now: it will fail (or not) at run time
        t = inst.type
        if not isinstance(value, np.ndarray):
            value = np.asarray(value)
        if value.shape != t.shape or value.dtype != t.dtype.np_dtype:
            continue
        c = comp.add("constant", (), t, {"value": np.array(value, copy=True)}, name=inst.name,
                     loc=inst.loc, before=inst)
        inst.replace_all_uses_with(c)
        comp.remove(inst)
        folded += 1
    return folded


@register
class ConstantFolding(ComputationPass):
    name = "constant-folding"
    max_elements = MAX_RESULT_ELEMENTS

    def rewrite(self, comp) -> int:
        return fold_constants(comp, self.max_elements)
