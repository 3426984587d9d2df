"""Facts about instructions that several passes need: purity, splat values, reducer kinds, cost.

Everything here reads the op table (`xltune.ir.ops`); no pass keeps its own list of opcodes for
what the table already says (category, side_effect, commutative).
"""
from __future__ import annotations

import numpy as np

from ..ir import ops as _ops
from ..ir.module import Computation, Instruction
from ..ir.types import TensorType

# Ops whose result is random: never merged by CSE, never folded.
NONDETERMINISTIC = frozenset({"rng"})

# Top-level instructions that are no kernel of their own (they name or bundle values).
TRIVIAL = frozenset({"parameter", "constant", "get_tuple_element", "tuple"})

# Elementwise ops that cost far more than an add (transcendentals, division): recomputing them
# per use is what XLA's `IsExpensive` guards against.
EXPENSIVE_ELEMENTWISE = frozenset({
    "exponential", "exponential_minus_one", "log", "log_plus_one", "logistic", "tanh", "sine",
    "cosine", "tan", "atan2", "power", "sqrt", "rsqrt", "cbrt", "divide", "remainder", "erf",
    "erf_inv", "erfc", "lgamma", "digamma", "polygamma", "zeta", "bessel_i1e", "acos", "acosh",
    "asin", "asinh", "atan", "atanh", "cosh", "sinh", "next_after",
})


def opdef(inst: Instruction):
    """The OpDef of inst, or None for an opcode the table does not know."""
    return _ops.OPS.get(inst.opcode)


def category(inst: Instruction) -> str:
    d = opdef(inst)
    return d.category if d is not None else _ops.OTHER


def has_side_effect(inst: Instruction) -> bool:
    """True when removing, merging or evaluating inst early could change what the program does:
    side-effecting ops (custom calls, checks, I/O) and ops whose regions hold one."""
    d = opdef(inst)
    if d is None or d.side_effect or inst.opcode == "custom_call":
        return True
    return any(has_side_effect(i) for r in inst.regions for i in r.instructions)


def is_pure(inst: Instruction) -> bool:
    """Same operands, same result, no effect: may be merged (CSE) or dropped when unused."""
    return not has_side_effect(inst) and inst.opcode not in NONDETERMINISTIC






# ---- constants and splats -----------------------------------------------------------------------
def constant_value(inst: Instruction):
    """The ndarray of a `constant`, else None."""
    if inst.opcode == "constant" and isinstance(inst.attrs.get("value"), np.ndarray):
        return inst.attrs["value"]
    return None


def _splat_of_array(v: np.ndarray):
    if v.size == 0:
        return None
    flat = np.ascontiguousarray(v).reshape(-1)
    first = flat[:1]
    if flat.size > 1 and flat.tobytes() != first.tobytes() * flat.size:
        return None
    return first.reshape(())


def splat_value(inst: Instruction):
    """The scalar (0-d ndarray) every element of inst equals, when that is known at compile time:
    a splat constant, or a broadcast/reshape/convert-free chain down to one. Else None."""
    seen = 0
    while seen < 8:
        v = constant_value(inst)
        if v is not None:
            return _splat_of_array(v)
        if inst.opcode in ("broadcast_in_dim", "broadcast", "reshape") and inst.operands:
            inst = inst.operands[0]
            seen += 1
            continue
        return None
    return None


def is_splat(inst: Instruction, value) -> bool:
    """True when every element of inst is known to equal `value` (compared in inst's dtype)."""
    s = splat_value(inst)
    if s is None:
        return False
    try:
        with np.errstate(all="ignore"):
            return bool(s == np.asarray(value).astype(s.dtype))
    except (TypeError, ValueError, OverflowError):
        return False


def is_scalar_constant(inst: Instruction) -> bool:
    v = constant_value(inst)
    return v is not None and v.size == 1 and isinstance(inst.type, TensorType)


# ---- reductions ---------------------------------------------------------------------------------
_REDUCERS = {"add", "multiply", "maximum", "minimum", "and", "or", "xor"}


def reducer_kind(region: Computation) -> str | None:
    """'add', 'maximum', ... when a reduce body is `return op(acc, x)` (either order), else None."""
    if len(region.params) != 2 or len(region.outputs) != 1:
        return None
    body = [i for i in region.instructions if i.opcode != "parameter"]
    if len(body) != 1:
        return None
    op = body[0]
    if op.opcode not in _REDUCERS or region.outputs[0] is not op:
        return None
    if set(op.operands) != set(region.params) or len(op.operands) != 2:
        return None
    return op.opcode


def identity_of(kind: str, dtype) -> object | None:
    """The identity element of a reducer kind in a dtype (as a Python/numpy scalar)."""
    npd = dtype.np_dtype
    if kind in ("add", "or", "xor"):
        return np.zeros((), npd)
    if kind == "multiply":
        return np.ones((), npd)
    if kind == "and":
        return np.ones((), npd) if dtype.is_pred else np.array(-1).astype(npd)
    if kind in ("maximum", "minimum"):
        sign = -1 if kind == "maximum" else 1
        if dtype.is_float:
            return np.array(sign * np.inf).astype(npd)
        if dtype.is_pred:
            return np.array(kind == "minimum", npd)
        info = np.iinfo(npd)
        return np.array(info.min if kind == "maximum" else info.max, npd)
    return None


def simple_reduce(inst: Instruction) -> bool:
    """A single-input `reduce` of a tensor (the kind fusion can take as a hero)."""
    return (inst.opcode == "reduce" and not inst.multi and len(inst.operands) == 2
            and isinstance(inst.type, TensorType) and len(inst.regions) == 1
            and isinstance(inst.operands[0].type, TensorType))


def reduce_dims(inst: Instruction) -> tuple[int, ...]:
    return tuple(sorted(int(d) for d in inst.attrs.get("dimensions", ())))


# ---- cost ---------------------------------------------------------------------------------------
def is_expensive(inst: Instruction) -> bool:
    """Too costly to recompute per use (XLA's IsExpensive, roughly)."""
    if inst.opcode in EXPENSIVE_ELEMENTWISE:
        return True
    cat = category(inst)
    return cat not in (_ops.ELEMENTWISE, _ops.DATA_MOVEMENT, _ops.CONSTANT, _ops.PARAMETER)


def count_kernels(comp: Computation) -> int:
    """Top-level instructions that run code: fusions and every unfused op that is not trivial."""
    return sum(1 for i in comp.instructions if i.opcode not in TRIVIAL)




def top_level_user(u: Instruction, comp: Computation) -> Instruction | None:
    """The instruction of comp that contains u (u itself, or the op whose region holds u)."""
    while u is not None and u.parent is not comp:
        owner = u.parent.owner if u.parent is not None else None
        u = owner
    return u


def region_output_readers(comp: Computation) -> dict[Instruction, list[Instruction]]:
    """Values of comp returned by regions nested in its instructions (a region may return an
    enclosing value without any instruction using it), each with the instructions of comp that
    own those regions. Such a return is a read that `users` does not show."""
    out: dict[Instruction, list[Instruction]] = {}

    def visit(r: Computation, owner: Instruction):
        for o in r.outputs:
            if o.parent is comp and owner not in out.setdefault(o, []):
                out[o].append(owner)
        for i in r.instructions:
            for rr in i.regions:
                visit(rr, owner)

    for inst in comp.instructions:
        for r in inst.regions:
            visit(r, inst)
    return out
