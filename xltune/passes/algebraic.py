"""Algebraic simplification in the spirit of XLA's AlgebraicSimplifier, as rewrite-rule tables.

Three declarative tables cover the identities (x+0, x*1, x/1, x**1, x|0, x<<0, ...), the
annihilators (x*0, x&0 for integers), and the involutions / idempotent ops (-(-x), ~~x,
abs(abs(x)), max(x, x)); the remaining rules are small functions registered per opcode (or per
op category) with `@rule`. A rule returns the value that replaces the instruction (an existing
one, or new ones it inserts just before it) or None; the result must have the instruction's
exact type, which the driver checks.

Float rules are only those XLA also applies and that hold bit for bit, except two it applies
too and that hold to rounding: x+0 -> x (differs only in the sign of a zero) and
reduce-add of a broadcast -> multiply by the count.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import replace
from typing import Callable

import ml_dtypes
import numpy as np

from ..config import Config
from ..ir import ops as _ops
from ..ir.module import Computation, Instruction, Module
from ..ir.types import TensorType
from .analysis import (category, constant_value, identity_of, is_pure, is_splat, opdef,
                       reduce_dims, reducer_kind, splat_value)
from .pipeline import Pass, PassContext, register


class Rewriter:
    """Builds replacement values just before the instruction being simplified."""

    def __init__(self, comp: Computation, inst: Instruction):
        self.comp = comp
        self.inst = inst

    def add(self, opcode: str, operands, type, attrs: dict | None = None, regions=()) -> Instruction:
        return self.comp.add(opcode, operands, type, attrs, regions, loc=self.inst.loc, before=self.inst)

    def scalar(self, value, dtype) -> Instruction:
        v = np.array(value).astype(dtype.np_dtype).reshape(())
        return self.add("constant", (), TensorType((), dtype), {"value": v})

    def splat(self, value, t: TensorType) -> Instruction:
        c = self.scalar(value, t.dtype)
        return c if t.shape == () else self.broadcast(c, t, ())

    def broadcast(self, x: Instruction, t: TensorType, dims) -> Instruction:
        return self.add("broadcast_in_dim", (x,), t, {"broadcast_dimensions": tuple(int(d) for d in dims)})


RuleFn = Callable[[Instruction, Rewriter], Instruction | None]
RULES: dict[str, list[tuple[str, RuleFn]]] = defaultdict(list)            # by opcode
CATEGORY_RULES: dict[str, list[tuple[str, RuleFn]]] = defaultdict(list)   # by op category


def rule(*opcodes: str, categories: tuple[str, ...] = ()):
    def deco(fn: RuleFn) -> RuleFn:
        for op in opcodes:
            RULES[op].append((fn.__name__, fn))
        for c in categories:
            CATEGORY_RULES[c].append((fn.__name__, fn))
        return fn
    return deco


# ---- declarative tables ----------------------------------------------------------------------------------
# (opcode, operand position holding the identity, identity value): op(..) -> the other operand.
IDENTITIES = [
    ("add", 0, 0), ("add", 1, 0),
    ("subtract", 1, 0),
    ("multiply", 0, 1), ("multiply", 1, 1),
    ("divide", 1, 1),
    ("power", 1, 1),
    ("or", 0, 0), ("or", 1, 0),
    ("xor", 0, 0), ("xor", 1, 0),
    ("and", 0, -1), ("and", 1, -1),          # -1: all bits set (true for i1)
    ("shift_left", 1, 0), ("shift_right_logical", 1, 0), ("shift_right_arithmetic", 1, 0),
]
# (opcode, operand position, value): op(..) -> a splat of the same value. Integers and
# predicates only: for floats x*0 is NaN when x is.
ANNIHILATORS = [
    ("multiply", 0, 0), ("multiply", 1, 0),
    ("and", 0, 0), ("and", 1, 0),
    ("or", 0, -1), ("or", 1, -1),
]
INVOLUTIONS = {"negate", "not"}                                             # f(f(x)) -> x
IDEMPOTENT_UNARY = {"abs", "floor", "ceil", "round_nearest_afz", "round_nearest_even", "sign"}  # f(f(x)) -> f(x)
IDEMPOTENT_BINARY = {"maximum", "minimum", "and", "or"}                     # f(x, x) -> x
SELF_CANCEL_INT = {"subtract", "xor"}                                       # f(x, x) -> 0 (integers)


def _integral(inst: Instruction) -> bool:
    return isinstance(inst.type, TensorType) and inst.dtype.is_integral


def _make_identity_rule(op: str, pos: int, value):
    def fn(inst, rw):
        if len(inst.operands) == 2 and is_splat(inst.operands[pos], value):
            other = inst.operands[1 - pos]
            if other.type == inst.type:
                return other
        return None
    fn.__name__ = f"{op}_identity_{pos}"
    return fn


def _make_annihilator_rule(op: str, pos: int, value):
    def fn(inst, rw):
        if _integral(inst) and len(inst.operands) == 2 and is_splat(inst.operands[pos], value):
            return rw.splat(value, inst.type)
        return None
    fn.__name__ = f"{op}_annihilator_{pos}"
    return fn


for _op, _pos, _v in IDENTITIES:
    RULES[_op].append((f"{_op}_identity", _make_identity_rule(_op, _pos, _v)))
for _op, _pos, _v in ANNIHILATORS:
    RULES[_op].append((f"{_op}_annihilator", _make_annihilator_rule(_op, _pos, _v)))


@rule(*INVOLUTIONS)
def involution(inst, rw):
    x = inst.operands[0]
    if x.opcode == inst.opcode and x.operands[0].type == inst.type:
        return x.operands[0]
    return None


@rule(*IDEMPOTENT_UNARY)
def idempotent_unary(inst, rw):
    x = inst.operands[0]
    return x if x.opcode == inst.opcode and x.type == inst.type else None


@rule(*IDEMPOTENT_BINARY)
def idempotent_binary(inst, rw):
    a, b = inst.operands
    return a if a is b and a.type == inst.type else None


@rule(*SELF_CANCEL_INT)
def self_cancel(inst, rw):
    a, b = inst.operands
    if a is b and _integral(inst):
        return rw.splat(0, inst.type)
    return None


# ---- elementwise ----------------------------------------------------------------------------------------------
@rule("convert")
def convert_noop(inst, rw):
    x = inst.operands[0]
    return x if x.type == inst.type else None


def _widens_exactly(a, b) -> bool:
    """Every value of dtype a is a value of dtype b."""
    if a.is_float and b.is_float:
        fa, fb = ml_dtypes.finfo(a.np_dtype), ml_dtypes.finfo(b.np_dtype)
        return fb.nmant >= fa.nmant and fb.maxexp >= fa.maxexp and fb.minexp <= fa.minexp
    if a.is_int and b.is_int:
        ia, ib = ml_dtypes.iinfo(a.np_dtype), ml_dtypes.iinfo(b.np_dtype)
        return ib.min <= ia.min and ib.max >= ia.max
    return False


@rule("convert")
def convert_round_trip(inst, rw):
    """convert(convert(x: A) : B) : A -> x when B holds every value of A."""
    mid = inst.operands[0]
    if mid.opcode != "convert":
        return None
    x = mid.operands[0]
    if x.type != inst.type:
        return None
    try:
        return x if _widens_exactly(x.dtype, mid.dtype) else None
    except (TypeError, ValueError):
        return None


@rule("divide")
def divide_by_power_of_two(inst, rw):
    """x / 2^k -> x * 2^-k for floats: the reciprocal is exact, so is the product."""
    if not (isinstance(inst.type, TensorType) and inst.dtype.is_float):
        return None
    s = splat_value(inst.operands[1])
    if s is None:
        return None
    c = float(s)
    if c == 0 or not math.isfinite(c):
        return None
    m, _ = math.frexp(abs(c))
    if m != 0.5:
        return None
    recip = np.array(1.0 / c).astype(inst.dtype.np_dtype)
    if float(recip) * c != 1.0 or abs(float(recip)) < float(ml_dtypes.finfo(recip.dtype).tiny):
        return None
    return rw.add("multiply", (inst.operands[0], rw.splat(recip, inst.type)), inst.type)


NEGATED_OPERAND = {"add": "subtract", "subtract": "add"}   # a op (-b) -> a op' b


@rule(*NEGATED_OPERAND)
def negated_operand(inst, rw):
    a, b = inst.operands
    if b.opcode == "negate" and b.operands[0].type == inst.type and a.type == inst.type:
        return rw.add(NEGATED_OPERAND[inst.opcode], (a, b.operands[0]), inst.type)
    return None


@rule("power")
def power_two(inst, rw):
    """x ** 2 -> x * x (floats)."""
    x, e = inst.operands
    if isinstance(inst.type, TensorType) and inst.dtype.is_float and x.type == inst.type and is_splat(e, 2):
        return rw.add("multiply", (x, x), inst.type)
    return None


@rule("select")
def select_constant_predicate(inst, rw):
    p, a, b = inst.operands
    s = splat_value(p)
    if s is None:
        return None
    pick = a if bool(s) else b
    return pick if pick.type == inst.type else None


@rule("select")
def select_same_branches(inst, rw):
    _, a, b = inst.operands
    return a if a is b and a.type == inst.type else None


@rule(categories=(_ops.ELEMENTWISE,))
def elementwise_of_broadcasts(inst, rw):
    """op(bcast(a), bcast(b)) -> bcast(op(a, b)) when every operand is a broadcast of the same
    shape along the same dimensions: the op runs on the small operands only."""
    ops = inst.operands
    if not ops or not isinstance(inst.type, TensorType) or any(o.opcode != "broadcast_in_dim" for o in ops):
        return None
    src = ops[0].operands[0]
    dims = tuple(ops[0].attrs.get("broadcast_dimensions", ()))
    if not isinstance(src.type, TensorType):
        return None
    for o in ops:
        s = o.operands[0]
        if (not isinstance(s.type, TensorType) or s.type.shape != src.type.shape
                or tuple(o.attrs.get("broadcast_dimensions", ())) != dims or o.type.shape != inst.type.shape):
            return None
    if src.type.size >= inst.type.size:
        return None
    small = rw.add(inst.opcode, [o.operands[0] for o in ops], TensorType(src.type.shape, inst.dtype),
                   dict(inst.attrs))
    return rw.broadcast(small, inst.type, dims)


# ---- constants -----------------------------------------------------------------------------------------------------
@rule("constant")
def splat_constant_to_broadcast(inst, rw):
    """A splat constant of many elements -> broadcast of a scalar constant (cheap to fuse, and
    the identity rules see through it)."""
    v = constant_value(inst)
    if v is None or v.size <= 1 or not isinstance(inst.type, TensorType):
        return None
    s = splat_value(inst)
    if s is None:
        return None
    return rw.splat(s, inst.type)


# ---- data movement ----------------------------------------------------------------------------------------------
_MOVEMENT_OF_SPLAT = ("slice", "reshape", "transpose", "reverse", "broadcast_in_dim", "broadcast",
                      "dynamic_slice")


@rule(*_MOVEMENT_OF_SPLAT)
def movement_of_scalar_broadcast(inst, rw):
    """Moving the elements of a scalar broadcast around gives a scalar broadcast."""
    x = inst.operands[0]
    if (x.opcode == "broadcast_in_dim" and x.operands[0].type.shape == ()
            and isinstance(inst.type, TensorType) and inst.type.shape != ()):
        return rw.broadcast(x.operands[0], inst.type, ())
    return None


@rule("reshape")
def reshape_noop(inst, rw):
    x = inst.operands[0]
    return x if x.type == inst.type else None


@rule("reshape")
def reshape_of_reshape(inst, rw):
    x = inst.operands[0]
    if x.opcode == "reshape":
        return rw.add("reshape", (x.operands[0],), inst.type)
    return None


@rule("transpose")
def transpose_noop(inst, rw):
    perm = tuple(inst.attrs.get("permutation", ()))
    x = inst.operands[0]
    return x if perm == tuple(range(len(perm))) and x.type == inst.type else None


@rule("transpose")
def transpose_of_transpose(inst, rw):
    x = inst.operands[0]
    if x.opcode != "transpose":
        return None
    p1, p2 = tuple(x.attrs["permutation"]), tuple(inst.attrs["permutation"])
    perm = tuple(p1[i] for i in p2)
    return rw.add("transpose", (x.operands[0],), inst.type, {"permutation": perm})


@rule("transpose")
def transpose_is_reshape(inst, rw):
    """A transpose that keeps the order of the non-unit dimensions moves no element: a reshape."""
    x = inst.operands[0]
    perm = tuple(inst.attrs["permutation"])
    moved = [p for p in perm if x.type.shape[p] != 1]
    if moved == sorted(moved) and perm != tuple(range(len(perm))):
        return rw.add("reshape", (x,), inst.type)
    return None


@rule("broadcast_in_dim")
def broadcast_noop(inst, rw):
    x = inst.operands[0]
    dims = tuple(inst.attrs.get("broadcast_dimensions", ()))
    return x if x.type == inst.type and dims == tuple(range(len(dims))) else None


@rule("broadcast_in_dim")
def broadcast_of_broadcast(inst, rw):
    x = inst.operands[0]
    if x.opcode != "broadcast_in_dim":
        return None
    d1, d2 = tuple(x.attrs["broadcast_dimensions"]), tuple(inst.attrs["broadcast_dimensions"])
    return rw.broadcast(x.operands[0], inst.type, tuple(d2[d] for d in d1))


@rule("slice")
def slice_noop(inst, rw):
    x = inst.operands[0]
    strides = tuple(inst.attrs.get("strides") or (1,) * len(x.type.shape))
    if x.type == inst.type and all(s == 1 for s in strides):
        return x
    return None


@rule("slice")
def slice_of_slice(inst, rw):
    x = inst.operands[0]
    if x.opcode != "slice":
        return None
    rank = len(inst.type.shape)
    a, p = tuple(x.attrs["start_indices"]), tuple(x.attrs.get("strides") or (1,) * rank)
    b, q = tuple(inst.attrs["start_indices"]), tuple(inst.attrs.get("strides") or (1,) * rank)
    start = tuple(a[i] + b[i] * p[i] for i in range(rank))
    stride = tuple(p[i] * q[i] for i in range(rank))
    n = inst.type.shape
    limit = tuple(start[i] + (n[i] - 1) * stride[i] + 1 if n[i] > 0 else start[i] for i in range(rank))
    return rw.add("slice", (x.operands[0],), inst.type,
                  {"start_indices": start, "limit_indices": limit, "strides": stride})


@rule("dynamic_slice")
def dynamic_slice_constant_start(inst, rw):
    """dynamic_slice at constant (clamped) starts -> slice."""
    x, *starts = inst.operands
    vals = []
    for s in starts:
        v = constant_value(s)
        if v is None or v.size != 1:
            return None
        vals.append(int(v.reshape(())))
    sizes = inst.type.shape
    begin = tuple(min(max(v, 0), d - n) for v, d, n in zip(vals, x.type.shape, sizes))
    return rw.add("slice", (x,), inst.type, {"start_indices": begin,
                                              "limit_indices": tuple(b + n for b, n in zip(begin, sizes)),
                                              "strides": (1,) * len(sizes)})


@rule("dynamic_update_slice")
def dynamic_update_slice_whole(inst, rw):
    """Updating every element (the start is clamped to 0) gives the update."""
    upd = inst.operands[1]
    return upd if upd.type == inst.type else None


@rule("pad")
def pad_noop(inst, rw):
    x = inst.operands[0]
    zero = all(all(int(v) == 0 for v in inst.attrs.get(k, ()))
               for k in ("edge_padding_low", "edge_padding_high", "interior_padding"))
    return x if zero and x.type == inst.type else None


@rule("concatenate")
def concatenate_single(inst, rw):
    if len(inst.operands) == 1 and inst.operands[0].type == inst.type:
        return inst.operands[0]
    return None


@rule("reverse")
def reverse_noop(inst, rw):
    x = inst.operands[0]
    dims = tuple(inst.attrs.get("dimensions", ()))
    if x.type == inst.type and all(x.type.shape[d] == 1 for d in dims):
        return x
    return None


# ---- contractions ----------------------------------------------------------------------------------------------
@rule("dot_general")
def dot_of_transpose(inst, rw):
    """dot_general(transpose(y), z) -> dot_general(y, z) with the dimension numbers mapped through
    the permutation, when the transpose keeps the order of the free (non-batch, non-contracting)
    dimensions, so the result's layout is unchanged. Likewise for the right-hand side."""
    dn = inst.attrs.get("dot_dimension_numbers")
    if dn is None:
        return None
    lhs, rhs = inst.operands
    for side, t in (("lhs", lhs), ("rhs", rhs)):
        if t.opcode != "transpose":
            continue
        perm = tuple(t.attrs["permutation"])
        batch = tuple(getattr(dn, f"{side}_batching_dimensions"))
        contract = tuple(getattr(dn, f"{side}_contracting_dimensions"))
        free = [perm[j] for j in range(len(perm)) if j not in batch and j not in contract]
        if free != sorted(free):
            continue
        new_dn = replace(dn, **{f"{side}_batching_dimensions": tuple(perm[d] for d in batch),
                                f"{side}_contracting_dimensions": tuple(perm[d] for d in contract)})
        y = t.operands[0]
        operands = (y, rhs) if side == "lhs" else (lhs, y)
        attrs = dict(inst.attrs, dot_dimension_numbers=new_dn)
        return rw.add("dot_general", operands, inst.type, attrs)
    return None


# ---- reductions ---------------------------------------------------------------------------------------------------
def _identity_init(inst) -> str | None:
    """The reducer kind of a simple reduce whose init is that reducer's identity, else None."""
    if inst.multi or len(inst.operands) != 2 or len(inst.regions) != 1:
        return None
    kind = reducer_kind(inst.regions[0])
    if kind is None or not isinstance(inst.type, TensorType):
        return None
    ident = identity_of(kind, inst.dtype)
    if ident is None or not is_splat(inst.operands[1], ident):
        return None
    return kind


@rule("reduce")
def reduce_of_unit_dims(inst, rw):
    """Reducing only size-1 (or no) dimensions with the identity as init is a reshape."""
    if _identity_init(inst) is None:
        return None
    x = inst.operands[0]
    if all(x.type.shape[d] == 1 for d in reduce_dims(inst)):
        return x if x.type == inst.type else rw.add("reshape", (x,), inst.type)
    return None


@rule("reduce")
def reduce_of_broadcast(inst, rw):
    """Reducing only the dimensions a broadcast added: max/min/and/or give the broadcast's operand
    (broadcast to the result), add gives it times the number of reduced elements."""
    kind = _identity_init(inst)
    b = inst.operands[0]
    if kind is None or b.opcode != "broadcast_in_dim":
        return None
    x = b.operands[0]
    bdims = tuple(b.attrs["broadcast_dimensions"])
    rdims = reduce_dims(inst)
    if set(rdims) & set(bdims) or kind in ("multiply", "xor"):
        return None
    if kind == "add" and not (inst.dtype.is_float or inst.dtype.is_int):
        return None
    kept = [d for d in range(len(b.type.shape)) if d not in rdims]
    out_dims = tuple(kept.index(d) for d in bdims)
    val = x if (x.type == inst.type and out_dims == tuple(range(len(out_dims)))) else rw.broadcast(x, inst.type, out_dims)
    if kind == "add":
        n = math.prod(b.type.shape[d] for d in rdims)
        if n != 1:
            val = rw.add("multiply", (val, rw.splat(n, inst.type)), inst.type)
    return val


# ---- the pass ---------------------------------------------------------------------------------------------------
def rules_for(inst: Instruction) -> list[tuple[str, RuleFn]]:
    return RULES.get(inst.opcode, []) + CATEGORY_RULES.get(category(inst), [])


def simplify_computation(comp: Computation, counts: dict) -> int:
    n = 0
    for inst in comp.instructions:
        for r in inst.regions:
            n += simplify_computation(r, counts)
    for inst in comp:
        if inst.parent is not comp or not is_pure(inst) or opdef(inst) is None:
            continue
        for name, fn in rules_for(inst):
            rw = Rewriter(comp, inst)
            try:
                new = fn(inst, rw)
            except (KeyError, IndexError, TypeError, ValueError, AttributeError):
                new = None  # malformed attributes: the verifier reports those, not this pass
            if new is None or new is inst:
                continue
            if new.type != inst.type:
                raise AssertionError(f"algebraic rule {name} turned {inst!r} into {new!r}")
            inst.replace_all_uses_with(new)
            if not inst._users:
                comp.remove(inst)
            counts[name] = counts.get(name, 0) + 1
            n += 1
            break
    return n


@register
class AlgebraicSimplifier(Pass):
    name = "algebraic"

    def run(self, module: Module, config: Config, ctx: PassContext) -> bool:
        counts: dict[str, int] = {}
        n = sum(simplify_computation(f, counts) for f in module.functions.values())
        for k, v in counts.items():
            ctx.count("algebraic_rules", k, v)
        return n > 0
