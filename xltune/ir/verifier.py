"""verify(module): the structural and type rules every layer relies on.

Raises VerificationError naming the instruction (`%name`, its op, its source location) for:
unknown ops, arity, missing attributes, region count, operands used before they are defined (in
the same computation or an enclosing one), declared type vs the op's shape rule (where it has
one; ops whose result type must be given get the checks that still apply), region parameter and
return types, multi-result / get_tuple_element consistency, and computation outputs that do not
belong to the computation.
"""
from __future__ import annotations

import math

from ..errors import VerificationError, XltuneError
from .module import Computation, Instruction, Module
from .ops import op_def
from .ops._common import ResultTypeRequired
from .types import TensorType, TupleType

# ops whose result element type may differ from the one the shape rule picks (preferred
# element type of dot/convolution): only shapes are compared
_SHAPE_ONLY = {"dot_general", "dot", "convolution"}


def verify(target) -> None:
    """Verify a Module (every function) or a single Computation."""
    if isinstance(target, Module):
        if target.functions and target.entry_name not in target.functions:
            raise VerificationError(f"module has no function @{target.entry_name} (its entry)")
        for fn in target.functions.values():
            _Verifier().computation(fn)
    elif isinstance(target, Computation):
        _Verifier().computation(target)
    else:
        raise TypeError(f"verify() takes a Module or a Computation, not {type(target).__name__}")


def _err(inst: Instruction, msg: str) -> VerificationError:
    try:
        name = inst.opdef.mlir_name
    except XltuneError:
        name = inst.opcode
    return VerificationError(f"{inst.ref} ({name}): {msg}", inst.loc)


class _Verifier:
    def __init__(self):
        # values visible at the current point: instructions already defined in the current
        # computation and in the enclosing ones (up to the owning instruction)
        self.visible: set[Instruction] = set()

    def computation(self, comp: Computation):
        saved = set(self.visible)
        for i, p in enumerate(comp.params):
            if p.opcode != "parameter":
                raise _err(p, "a computation parameter must be a 'parameter' instruction")
            if p.attrs.get("index") != i:
                raise _err(p, f"parameter #{i} has index {p.attrs.get('index')!r}")
        lead = comp.instructions[:len(comp.params)]
        if lead != comp.params:
            raise VerificationError(f"computation @{comp.name}: parameters must come first, in order")
        for inst in comp.instructions:
            if inst.parent is not comp:
                raise _err(inst, f"is listed in @{comp.name} but its parent is "
                                 f"{'@' + inst.parent.name if inst.parent else 'nothing'}")
            if inst.opcode == "parameter":
                if inst not in comp.params:
                    raise _err(inst, "a parameter that is not one of the computation's parameters")
                self.visible.add(inst)
                continue
            self.instruction(inst)
            self.visible.add(inst)
        for o in comp.outputs:
            if o not in self.visible:
                raise VerificationError(f"computation @{comp.name} returns {o.ref}, which is not defined in it "
                                        f"(or in an enclosing computation) before the return", o.loc)
        self.visible = saved

    def instruction(self, inst: Instruction):
        try:
            d = op_def(inst.opcode, inst.loc)
        except XltuneError:
            raise _err(inst, f"unknown op '{inst.opcode}'") from None
        for i, o in enumerate(inst.operands):
            if o not in self.visible:
                where = "a removed instruction" if o.parent is None else f"@{o.parent.name}"
                raise _err(inst, f"operand #{i} {o.ref} (in {where}) is not defined before this use "
                                 f"in this computation or an enclosing one")
        if d.arity is not None and len(inst.operands) != d.arity:
            raise _err(inst, f"expects {d.arity} operand(s), has {len(inst.operands)}")
        missing = [a for a in d.attrs if a not in inst.attrs]
        if missing:
            raise _err(inst, f"missing required attribute(s): {', '.join(missing)}")
        if d.num_regions is not None and len(inst.regions) != d.num_regions:
            raise _err(inst, f"expects {d.num_regions} region(s), has {len(inst.regions)}")
        for r in inst.regions:
            if r.owner is not inst:
                raise _err(inst, f"region @{r.name} does not name this instruction as its owner")
            self.computation(r)
        self._multi(inst, d)
        self._type(inst, d)
        self._regions(inst)

    # ---- several results ---------------------------------------------------------------------------
    def _multi(self, inst: Instruction, d):
        if inst.multi and not isinstance(inst.type, TupleType):
            raise _err(inst, f"has several results (multi) but type {inst.type} is not a tuple")
        if inst.opcode == "get_tuple_element":
            src = inst.operands[0]
            if not isinstance(src.type, TupleType):
                raise _err(inst, f"reads {src.ref} of type {src.type}, which is not a tuple")
            i = inst.attrs.get("index")
            if not isinstance(i, int) or not 0 <= i < len(src.type.elements):
                raise _err(inst, f"index {i!r} out of range for {src.ref} with {len(src.type.elements)} result(s)")
            if inst.type != src.type.elements[i]:
                raise _err(inst, f"type {inst.type} differs from result #{i} of {src.ref} ({src.type.elements[i]})")

    # ---- types --------------------------------------------------------------------------------------------
    def _type(self, inst: Instruction, d):
        if inst.opcode == "parameter" or d.infer is None:
            return
        try:
            inferred = d.infer([o.type for o in inst.operands], inst.attrs, list(inst.regions))
        except ResultTypeRequired:
            self._explicit(inst)
            return
        except VerificationError as e:
            raise _err(inst, e.message) from None
        except (ValueError, TypeError, IndexError, KeyError, AttributeError) as e:
            raise _err(inst, str(e).strip("'\"")) from None
        if d.variadic_results:
            want = list(inferred.elements) if isinstance(inferred, TupleType) else [inferred]
            have = list(inst.result_types)
        else:
            want, have = [inferred], [inst.type]
        if len(want) != len(have):
            raise _err(inst, f"declares {len(have)} result(s), the shape rule gives {len(want)}: "
                             f"{', '.join(map(str, want))}")
        for k, (w, h) in enumerate(zip(want, have)):
            if inst.opcode in _SHAPE_ONLY and isinstance(w, TensorType) and isinstance(h, TensorType):
                if w.shape != h.shape:
                    raise _err(inst, f"declared shape {h} differs from the shape rule's {w}")
                continue
            if w != h:
                what = f"result #{k} type" if len(want) > 1 else "declared type"
                raise _err(inst, f"{what} {h} differs from the shape rule's {w}")

    def _explicit(self, inst: Instruction):
        """Checks for ops whose result type is given rather than inferred."""
        t = inst.type
        op = inst.opcode
        ot = inst.operands[0].type if inst.operands else None
        if op in ("convert", "reshape", "broadcast_in_dim", "bitcast_convert", "iota"):
            if not isinstance(t, TensorType) or (ot is not None and not isinstance(ot, TensorType)):
                raise _err(inst, f"expects tensors, has {ot} -> {t}")
        if op == "convert" and ot.shape != t.shape:
            raise _err(inst, f"result shape {t} differs from the operand's {ot}")
        elif op == "reshape":
            if ot.dtype != t.dtype:
                raise _err(inst, f"element type changes from {ot.dtype} to {t.dtype}")
            if math.prod(ot.shape) != math.prod(t.shape):
                raise _err(inst, f"element count changes from {ot} to {t}")
        elif op == "broadcast_in_dim":
            from .ops.movement import check_broadcast_in_dim
            if ot.dtype != t.dtype:
                raise _err(inst, f"element type changes from {ot.dtype} to {t.dtype}")
            try:
                check_broadcast_in_dim(ot, t, tuple(inst.attrs["broadcast_dimensions"]))
            except ValueError as e:
                raise _err(inst, str(e)) from None
        elif op in ("all_gather", "reduce_scatter"):
            # the group size depends on the process grid: only the other dimensions are fixed
            key = "all_gather_dim" if op == "all_gather" else "scatter_dimension"
            dim = inst.attrs.get(key)
            pairs = zip(inst.operands, inst.result_types) if op == "all_gather" else [(inst.operands[0], t)]
            for o, rt in pairs:
                ok = isinstance(rt, TensorType) and rt.rank == o.type.rank and rt.dtype == o.type.dtype and all(
                    a == b for k, (a, b) in enumerate(zip(o.type.shape, rt.shape)) if k != dim)
                if ok and o.type.shape[dim] and rt.shape[dim]:
                    big, small = (rt.shape[dim], o.type.shape[dim]) if op == "all_gather" else \
                        (o.type.shape[dim], rt.shape[dim])
                    ok = big % small == 0
                if not ok:
                    raise _err(inst, f"result {rt} does not fit operand {o.type} along dimension {dim}")
        elif op == "iota":
            dim = inst.attrs.get("iota_dimension")
            if t.rank == 0 or not isinstance(dim, int) or not 0 <= dim < t.rank:
                raise _err(inst, f"iota_dimension {dim!r} out of range for {t}")
        elif op == "bitcast_convert":
            sb, db = ot.dtype.bits, t.dtype.bits
            if sb == db:
                ok = ot.shape == t.shape
            elif sb > db:
                ok = t.shape == ot.shape + (sb // db,) and sb % db == 0
            else:
                ok = db % sb == 0 and ot.shape == t.shape + (db // sb,)
            if not ok:
                raise _err(inst, f"cannot bitcast {ot} to {t}")

    # ---- regions ----------------------------------------------------------------------------------------------
    def _regions(self, inst: Instruction):
        op = inst.opcode
        r = inst.regions
        if op in ("reduce", "reduce_window", "scatter"):
            n = len(inst.result_types)
            body = r[0]
            self._params(inst, body, 2 * n)
            for i in range(n):
                acc, x = body.params[i].type, body.params[n + i].type
                if not _scalar(acc) or acc != x:
                    raise _err(inst, f"body parameters #{i} and #{n + i} must be the same scalar type, "
                                     f"are {acc} and {x}")
                if isinstance(inst.result_types[i], TensorType) and acc.dtype != inst.result_types[i].dtype:
                    raise _err(inst, f"body parameter #{i} ({acc}) differs from result #{i}'s element type")
            self._returns(inst, body, [p.type for p in body.params[:n]])
        elif op == "select_and_scatter":
            e = inst.operands[0].type.dtype
            scalar = TensorType((), e)
            sel, sc = r
            self._params(inst, sel, 2, [scalar, scalar])
            self._returns(inst, sel, [TensorType((), _pred())])
            self._params(inst, sc, 2)
            self._returns(inst, sc, [sc.params[0].type])
        elif op == "sort":
            cmp = r[0]
            want = []
            for o in inst.operands:
                want += [TensorType((), o.type.dtype)] * 2
            self._params(inst, cmp, len(want), want)
            self._returns(inst, cmp, [TensorType((), _pred())])
        elif op == "map":
            body = r[0]
            self._params(inst, body, len(inst.operands), [TensorType((), o.type.dtype) for o in inst.operands])
            if len(body.outputs) != 1:
                raise _err(inst, "the map computation must return one value")
        elif op == "while":
            types = [o.type for o in inst.operands]
            cond, body = r
            self._params(inst, cond, len(types), types)
            self._returns(inst, cond, [TensorType((), _pred())])
            self._params(inst, body, len(types), types)
            self._returns(inst, body, types)
        elif op in ("case", "if"):
            for b in r:
                self._params(inst, b, 0)
        elif op in ("all_reduce", "reduce_scatter", "collective_reduce"):
            if r:
                self._params(inst, r[0], 2)

    def _params(self, inst, region, n, types=None):
        if len(region.params) != n:
            raise _err(inst, f"region @{region.name} takes {len(region.params)} parameter(s), expected {n}")
        if types is not None:
            for i, (p, t) in enumerate(zip(region.params, types)):
                if p.type != t:
                    raise _err(inst, f"region @{region.name} parameter #{i} has type {p.type}, expected {t}")

    def _returns(self, inst, region, types):
        have = [o.type for o in region.outputs]
        if have != list(types):
            raise _err(inst, f"region @{region.name} returns ({', '.join(map(str, have))}), expected "
                             f"({', '.join(map(str, types))})")


def _scalar(t) -> bool:
    return isinstance(t, TensorType) and t.shape == ()


def _pred():
    from .dtypes import I1
    return I1


__all__ = ["verify", "VerificationError"]
