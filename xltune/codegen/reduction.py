"""Reductions, target independent: what each reduce computes per step, and how the values of a
reduction kernel (an `input` or `row` fusion, or a lone `reduce`) depend on one another.

A backend decides how the iteration space is walked (CPU: loops, threads, accumulators in
registers; a GPU: warps and blocks) and calls into this module for everything else:

- `Combiner` (one per reduce): the accumulator's compute values, its init, one step
  (`step(acc, element)`), merging two partial results (`merge`), rounding to the result type
  (`finish`), an identity where the body has one, and whether reordering the steps can change the
  result (float add/multiply do; integer ops, min/max, and/or/xor do not).
- `analyze(comp)` -> `ReductionPlan`: the heroes (the reduces), the input shape S and its reduced
  dims, the layout (`row`: reduced dims innermost; `column`: kept dims innermost, possibly with
  kept dims outside too; `generic`), the phases (a reduce that reads another reduce's result runs in
  a later pass over the row), and where each output is stored (in which pass over S, or once per
  output position).
- `PositionEmitter`: an elemental emitter for one output position (one row): reduce results and
  the values computed from them are bound once per position and read by every later element.

Positions: the reduced-shape elements (the kept dims of S in row-major order). Every value of a
reduction kernel that depends on a reduce is either of shape S (row kernels: read in a later pass
over its row) or has exactly one element per position (the reduce results, epilogues, per-row
values); `analyze` refuses anything else, so binding a value per position is always exact.

Accumulation order: with a combiner that `reorders_rounding`, a backend may still split and
reassociate the steps (several vector accumulators, several threads) when its knob says so; the
interpreter computes float sums in f64 and rounds once, and the conformance tolerances (a few
ulps) hold for either order on the test data (docs/cpu-backend.md, "Reductions").
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from llvmlite import ir

from ..ir.ops import DATA_MOVEMENT, ELEMENTWISE
from . import lltypes as T
from .context import CodegenContext, EmitOptions
from .elemental import ElementalEmitter, unsupported_instruction
from .indexing import Index, c64, delinearize
from .loops import for_range
from .lltypes import NotLowerable

# bodies that are one binary op on the two scalars: associative and commutative
SIMPLE_OPS = ("add", "multiply", "maximum", "minimum", "and", "or", "xor")


# ---- the combiner of one reduce -----------------------------------------------------------------------
def simple_op(reduce) -> str | None:
    """The op of a body `return op(acc, x)` (either operand order) over one non-complex input whose
    result type is the input's, else None (the body is run as it is)."""
    if len(reduce.operands) != 2 or reduce.multi:
        return None
    body = reduce.regions[0]
    if len(body.params) != 2 or len(body.outputs) != 1:
        return None
    out = body.outputs[0]
    if out.opcode not in SIMPLE_OPS or set(out.operands) != set(body.params) or len(out.operands) != 2:
        return None
    dt = reduce.operands[0].dtype
    if dt.is_complex or out.dtype != dt or reduce.dtype != dt or any(p.dtype != dt for p in body.params):
        return None
    if out.opcode in ("and", "or", "xor") and dt.is_float:
        return None
    return out.opcode


@dataclass
class Combiner:
    """How one reduce accumulates. Values are compute values (lltypes); a state is a list with one
    value per reduce input (a tuple for complex)."""
    reduce: object
    op: str | None                     # the simple op, or None: the body is evaluated per step

    @classmethod
    def of(cls, reduce) -> "Combiner":
        return cls(reduce, simple_op(reduce))

    @property
    def n(self) -> int:
        return len(self.reduce.operands) // 2

    @property
    def inputs(self) -> list:
        return list(self.reduce.operands[:self.n])

    @property
    def inits(self) -> list:
        return list(self.reduce.operands[self.n:])

    @property
    def result_dtypes(self) -> list:
        return [t.dtype for t in self.reduce.result_types]

    @property
    def associative(self) -> bool:
        """Steps may be grouped differently (split over accumulators or threads)."""
        return self.op is not None

    @property
    def reorders_rounding(self) -> bool:
        """Regrouping the steps can change the result's rounding (float add and multiply)."""
        return self.op in ("add", "multiply") and self.result_dtypes[0].is_float

    @property
    def wide_accumulator(self) -> bool:
        """f16/bf16 sums and products accumulate in f32 and round once at the end (as the
        interpreter, which accumulates in f64, rounds once)."""
        return self.op in ("add", "multiply") and T.is_narrow_float(self.result_dtypes[0])

    def acc_types(self) -> list:
        return [T.compute_type(dt) for dt in self.result_dtypes]

    def init(self, em: ElementalEmitter) -> list:
        return [em.value(i, em.scalar_index(i.shape)) for i in self.inits]

    def identity(self) -> list | None:
        """A neutral start for partial results (None for bodies run as they are)."""
        if self.op is None:
            return None
        dt = self.result_dtypes[0]
        op = self.op
        if dt.is_pred:
            v = {"add": 0, "multiply": 1, "maximum": 0, "minimum": 1, "and": 1, "or": 0, "xor": 0}[op]
            return [ir.Constant(T.I1, v)]
        if dt.is_float:
            v = {"add": -0.0, "multiply": 1.0, "maximum": -math.inf, "minimum": math.inf}[op]
            return [ir.Constant(T.compute_type(dt), v)]
        bits = dt.bits
        lo, hi = ((-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if dt.is_signed else (0, (1 << bits) - 1))
        v = {"add": 0, "multiply": 1, "maximum": lo, "minimum": hi, "and": -1, "or": 0, "xor": 0}[op]
        return [ir.Constant(ir.IntType(bits), v & ((1 << bits) - 1))]

    def step(self, em: ElementalEmitter, acc: list, elems: list, reassociate: bool = False) -> list:
        """acc <- body(acc, elems). `reassociate` marks float add/multiply so that a vectorizer
        may regroup them (only when the backend chose to)."""
        if self.op is None:
            return em.eval_region(self.reduce.regions[0], list(acc) + list(elems))
        return [self._binary(em, acc[0], elems[0], reassociate)]

    def merge(self, em: ElementalEmitter, a: list, b: list) -> list:
        """Combine two partial results (associative bodies only)."""
        if self.op is None:
            return em.eval_region(self.reduce.regions[0], list(a) + list(b))
        return [self._binary(em, a[0], b[0], False)]

    def finish(self, em: ElementalEmitter, acc: list) -> list:
        if self.wide_accumulator:
            return [T.round_to(em.b, self.result_dtypes[0], acc[0])]
        return list(acc)

    def _binary(self, em, x, y, reassociate):
        b = em.b
        dt = self.result_dtypes[0]
        op = self.op
        if dt.is_float:
            v = float_step(em.cx, b, op, x, y, reassociate)
            if not self.wide_accumulator:
                v = T.round_to(b, dt, v)
            return v
        if dt.is_pred:
            return {"add": b.or_, "multiply": b.and_, "maximum": b.or_, "minimum": b.and_,
                    "and": b.and_, "or": b.or_, "xor": b.xor}[op](x, y)
        if op == "add":
            return b.add(x, y)
        if op == "multiply":
            return b.mul(x, y)
        if op in ("and", "or", "xor"):
            return {"and": b.and_, "or": b.or_, "xor": b.xor}[op](x, y)
        name = ("s" if dt.is_signed else "u") + ("max" if op == "maximum" else "min")
        return em.cx.intrinsic(b, f"llvm.{name}.i{x.type.width}", [x, y])


def float_step(cx: CodegenContext, b: ir.IRBuilder, op: str, x, y, reassociate: bool = False):
    """op(x, y) for a float reduction (a SIMPLE_OPS op): add and multiply marked `reassoc` when
    the steps may be regrouped (then the loop vectorizer may split them over accumulators);
    maximum/minimum as the NaN-propagating intrinsics."""
    flags = ("reassoc",) if reassociate else ()
    if op == "add":
        return b.fadd(x, y, flags=flags)
    if op == "multiply":
        return b.fmul(x, y, flags=flags)
    return cx.intrinsic(b, f"llvm.{op}.{T.llvm_float_suffix(x.type)}", [x, y])


def unsupported_reduce(reduce) -> str | None:
    """None when the reduce (or reduce_window: any body the scalar table can lower, any number of
    inputs) can be emitted; otherwise why not."""
    if len(reduce.regions) != 1:
        return f"{reduce.ref} ({reduce.opcode}) has {len(reduce.regions)} regions"
    n = len(reduce.operands) // 2
    if n == 0 or len(reduce.operands) != 2 * n:
        return f"{reduce.ref} ({reduce.opcode}) with {len(reduce.operands)} operands"
    for v in reduce.operands:
        if not hasattr(v.type, "shape"):
            return f"{reduce.ref} ({reduce.opcode}) reads a non-tensor value"
        if not T.supported_dtype(v.dtype):
            return f"element type {v.dtype} has no native lowering"
    for t in reduce.result_types:
        if not hasattr(t, "shape") or not T.supported_dtype(t.dtype):
            return f"{reduce.ref} ({reduce.opcode}) result type {t} has no native lowering"
    body = reduce.regions[0]
    if len(body.params) != 2 * n or len(body.outputs) != n:
        return f"{reduce.ref} ({reduce.opcode}) body takes {len(body.params)} values and returns {len(body.outputs)}"
    inside = set(body.walk())
    for i in body.walk():
        if i.regions and i.opcode != "map":
            return f"reduce body uses '{i.opcode}'"
        if any(o not in inside for o in i.operands):
            return "reduce body reads values of the enclosing computation"
        if i.opcode in ("parameter", "constant"):
            if not T.supported_dtype(i.dtype):
                return f"element type {i.dtype} has no native lowering"
            if math.prod(i.shape) != 1:
                return "reduce body with non-scalar values"
            continue
        r = unsupported_instruction(i)
        if r:
            return r
        if math.prod(i.shape) != 1:
            return "reduce body with non-scalar values"
    if any(o not in inside for o in body.outputs):
        return "reduce body returns a value of the enclosing computation"
    return None


# ---- reduce_window: one output element at a time ------------------------------------------------------
WINDOW_UNROLL = 64       # windows up to this many elements are straight-line code; larger ones loop


def _window_attrs(inst):
    from ..ir.ops._common import dims_attr, pairs_attr
    rank = len(inst.operands[0].shape)
    a = inst.attrs
    return (dims_attr(a, "window_dimensions"), dims_attr(a, "window_strides", (1,) * rank),
            dims_attr(a, "base_dilations", (1,) * rank), dims_attr(a, "window_dilations", (1,) * rank),
            pairs_attr(a, "padding", rank))


def unsupported_window(inst) -> str | None:
    """None when a reduce_window can be computed element by element."""
    r = unsupported_reduce(inst)
    if r:
        return r
    try:
        _window_attrs(inst)
    except (KeyError, ValueError, TypeError) as e:
        return f"{inst.ref} (reduce_window): {e}"
    return None


def window_value(em: ElementalEmitter, inst, ix: Index):
    """reduce_window at one output index: the body over the window's elements in row-major order,
    from the init value, one step at a time (the interpreter's order and rounding). Elements in
    the padding or in a base-dilation hole are the init value. Several results: a list."""
    b = em.b
    n = len(inst.operands) // 2
    inputs, inits = inst.operands[:n], inst.operands[n:]
    wd, ws, bd, wdl, pad = _window_attrs(inst)
    shape = inputs[0].shape
    out = em.coords(ix)
    init = [em.value(i, em.scalar_index(i.shape)) for i in inits]
    body = inst.regions[0]
    zero = c64(0)

    def element(offsets):
        valid = None
        coords = []
        for d, size in enumerate(shape):
            pc = b.add(b.mul(out[d], c64(ws[d])), offsets[d] if wdl[d] == 1 else b.mul(offsets[d], c64(wdl[d])))
            q = b.sub(pc, c64(pad[d][0])) if pad[d][0] else pc
            ok = b.icmp_signed(">=", q, zero)
            if bd[d] != 1:
                ok = b.and_(ok, b.icmp_signed("==", b.srem(q, c64(bd[d])), zero))
                q = b.sdiv(q, c64(bd[d]))
            ok = b.and_(ok, b.icmp_signed("<", q, c64(size)))
            valid = ok if valid is None else b.and_(valid, ok)
            # clamped, so the load is always in bounds (its value is dropped when not valid)
            q = b.select(b.icmp_signed("<", q, zero), zero, q)
            coords.append(b.select(b.icmp_signed(">=", q, c64(size)), c64(max(size - 1, 0)), q))
        at = Index(shape, coords=coords)
        return [em.select(valid, em.value(x, at), iv) if valid is not None else em.value(x, at)
                for x, iv in zip(inputs, init)]

    def result(vals):
        return list(vals) if inst.multi else vals[0]

    total = math.prod(wd)
    if total == 0 or math.prod(shape) == 0:
        return result(init)
    if total <= WINDOW_UNROLL:
        acc = init
        for off in np.ndindex(*wd):
            with em.scoped():
                acc = em.eval_region(body, list(acc) + element([c64(o) for o in off]))
        return result(acc)
    # a loop over the window, the accumulator in memory (SROA keeps it in registers)
    types = [T.compute_type(t.dtype) for t in inst.result_types]
    cplx = [t.dtype.is_complex for t in inst.result_types]
    slots = [[entry_alloca(b, ty) for _ in range(2 if c else 1)] for ty, c in zip(types, cplx)]

    def store(vals):
        for parts, v, c in zip(slots, vals, cplx):
            for sl, x in zip(parts, v if c else (v,)):
                b.store(x, sl)

    def load():
        out_ = []
        for parts, c, ty in zip(slots, cplx, types):
            vs = [b.load(sl, typ=ty) for sl in parts]
            out_.append(tuple(vs) if c else vs[0])
        return out_

    store(init)
    offs = []

    def nest(d):
        if d == len(wd):
            with em.scoped():
                store(em.eval_region(body, load() + element(offs)))
            return
        with for_range(b, 0, wd[d], name=f"w{d}") as o:
            offs.append(o)
            nest(d + 1)
            offs.pop()

    nest(0)
    return result(load())


# ---- analysis of a reduction kernel --------------------------------------------------------------------
@dataclass
class ReductionPlan:
    comp: object
    heroes: list                       # the reduces, in computation order
    combiners: dict                    # reduce -> Combiner
    shape: tuple                       # S: the heroes' input shape
    dims: tuple                        # reduced dims of S (sorted)
    layout: str                        # "row" | "column" | "generic"
    phases: list                       # [[reduce]]: phase k reads results of phases < k only
    full_outputs: dict                 # output position in comp.outputs -> loop (0..len(phases))
    position_outputs: list             # outputs stored once per position
    hoisted: list                      # [[member]] per phase: per-position values ready after it
    ready: dict = field(default_factory=dict)   # member -> phase whose results it needs (-1: none)
    stash: dict = field(default_factory=dict)   # member -> the pass that computes it (see stash_plan)

    @property
    def kept(self) -> tuple:
        return tuple(d for d in range(len(self.shape)) if d not in self.dims)

    @property
    def positions(self) -> int:
        return math.prod(self.shape[d] for d in self.kept)

    @property
    def length(self) -> int:
        """Elements reduced into each position."""
        return math.prod(self.shape[d] for d in self.dims)

    @property
    def loops(self) -> int:
        """Passes over S per position: one per phase, plus one for outputs that need the last."""
        return max(len(self.phases), max(self.full_outputs.values(), default=-1) + 1)

    def outputs_in_loop(self, k: int) -> list[int]:
        return [o for o, lp in self.full_outputs.items() if lp == k]

    def column_split(self) -> tuple[int, int, int]:
        """For the column layout: (outer, rows, columns) extents of S viewed as [K1, R, K2]."""
        groups = canonical_groups(self.shape, self.dims)
        ext = [math.prod(self.shape[d] for d in g) for _, g in groups]
        kinds = "".join(k for k, _ in groups)
        if kinds == "RK":
            return 1, ext[0], ext[1]
        return ext[0], ext[1], ext[2]

    def column_dims(self) -> tuple[list, list, list]:
        """Dims of S in the [K1, R, K2] view (unit dims go with whichever group they sit in)."""
        groups = canonical_groups(self.shape, self.dims)
        kinds = "".join(k for k, _ in groups)
        ks = [g for _, g in groups]
        k1, r, k2 = ([], ks[0], ks[1]) if kinds == "RK" else (ks[0], ks[1], ks[2])
        return list(k1), list(r), list(k2)

    @property
    def needs_row_layout(self) -> bool:
        return len(self.phases) > 1 or any(lp > 0 for lp in self.full_outputs.values())


def canonical_groups(shape, dims) -> list[tuple[str, list[int]]]:
    """Maximal runs of non-unit dims that are all reduced ("R") or all kept ("K")."""
    groups: list[tuple[str, list[int]]] = []
    for d, n in enumerate(shape):
        if n == 1:
            continue
        k = "R" if d in dims else "K"
        if groups and groups[-1][0] == k:
            groups[-1][1].append(d)
        else:
            groups.append((k, [d]))
    return groups


def layout_of(shape, dims) -> str:
    if math.prod(shape) == 0:
        return "row"
    kinds = "".join(k for k, _ in canonical_groups(shape, dims))
    if kinds in ("", "K", "R", "KR"):
        return "row"
    if kinds in ("RK", "KRK"):
        return "column"
    return "generic"


class NotAReductionKernel(Exception):
    """The computation is not something `analyze` can plan (the caller falls back)."""


def reduce_members(comp) -> list:
    return [i for i in comp.instructions if i.opcode == "reduce"]


def analyze(comp) -> ReductionPlan:
    heroes = reduce_members(comp)
    if not heroes:
        raise NotAReductionKernel("no reduce")
    for h in heroes:
        r = unsupported_reduce(h)
        if r:
            raise NotAReductionKernel(r)
    shape = tuple(heroes[0].operands[0].shape)
    dims = tuple(sorted(int(d) for d in heroes[0].attrs["dimensions"]))
    for h in heroes:
        n = len(h.operands) // 2
        if any(tuple(o.shape) != shape for o in h.operands[:n]):
            raise NotAReductionKernel(f"{h.ref} reduces a shape other than {shape}")
        if tuple(sorted(int(d) for d in h.attrs["dimensions"])) != dims:
            raise NotAReductionKernel(f"{h.ref} reduces other dimensions than {list(dims)}")
    kept = [d for d in range(len(shape)) if d not in dims]
    npos = math.prod(shape[d] for d in kept)
    kept_nonunit = [shape[d] for d in kept if shape[d] != 1]

    # which reduces each member depends on, and the phase of each reduce
    order = comp.post_order()
    deps: dict = {}
    phase: dict = {}
    for i in order:
        d = set()
        for o in i.operands:
            d |= deps.get(o, set())
            if o.opcode == "reduce":
                d.add(o)
        deps[i] = d
        if i.opcode == "reduce":
            phase[i] = 1 + max((phase[x] for x in d), default=-1)
    nphases = 1 + max(phase.values())
    ready = {i: max((phase[x] for x in deps[i]), default=-1) for i in order}
    for h in heroes:
        ready[h] = phase[h]

    def is_full(i) -> bool:
        return hasattr(i.type, "shape") and tuple(i.shape) == shape and i.opcode != "reduce"

    def is_position(i) -> bool:
        return hasattr(i.type, "shape") and math.prod(i.shape) == npos and \
            [n for n in i.shape if n != 1] == kept_nonunit

    # every value that depends on a reduce must be read where a bound per-position value is exact
    for i in order:
        if i.opcode == "reduce" and not i.multi and not is_position(i):
            raise NotAReductionKernel(f"{i.ref} result is not one value per position")
        if i.opcode == "reduce" or not deps[i]:
            continue
        if i.opcode == "get_tuple_element" and i.operands[0].opcode == "reduce":
            if not is_position(i):
                raise NotAReductionKernel(f"{i.ref} result is not one value per position")
            continue
        if i.multi or not hasattr(i.type, "shape"):
            raise NotAReductionKernel(f"{i.ref} ({i.opcode}) reads a reduce result and has several results")
        op = i.opcode
        cat = i.opdef.category
        if is_full(i):
            if op == "broadcast_in_dim":
                src = i.operands[0]
                if not _row_broadcast(src, i, kept, shape):
                    raise NotAReductionKernel(f"{i.ref} broadcasts {src.ref} other than along its row")
            elif cat != ELEMENTWISE and op not in ("map", "convert", "bitcast_convert"):
                raise NotAReductionKernel(f"{i.ref} ({op}) moves values computed from a reduce")
            continue
        if not is_position(i):
            raise NotAReductionKernel(f"{i.ref} ({op}) of shape {i.shape}: values computed from a "
                                      f"reduce must have one element per position or the input's shape")
        if op in ("reshape", "broadcast_in_dim", "broadcast"):
            src = i.operands[0]
            if deps[src] or src.opcode == "reduce":
                if not is_position(src):
                    raise NotAReductionKernel(f"{i.ref} ({op}) of {src.ref}")
                if op != "reshape" and not _in_order(src, i):
                    raise NotAReductionKernel(f"{i.ref} ({op}) reorders positions")
            continue
        if cat == DATA_MOVEMENT:
            raise NotAReductionKernel(f"{i.ref} ({op}) moves values computed from a reduce")
    # multi-result reduces are read through get_tuple_element only outside fusions; a lone
    # variadic reduce is wrapped so that its outputs are the reduce itself (see cpu/reductions).

    layout = layout_of(shape, dims)
    phases = [[h for h in heroes if phase[h] == k] for k in range(nphases)]
    full_outputs = {}
    position_outputs = []
    for k, o in enumerate(comp.outputs):
        if not hasattr(o.type, "shape"):
            raise NotAReductionKernel(f"output {o.ref} is not a tensor")
        if o.opcode == "reduce" or (not is_full(o) and is_position(o)):
            position_outputs.append(k)
        elif is_full(o):
            full_outputs[k] = ready.get(o, -1) + 1
        else:
            raise NotAReductionKernel(f"output {o.ref} of shape {o.shape} is neither the input's shape "
                                      f"{shape} nor one value per position")
    needs_row = nphases > 1 or any(lp > 0 for lp in full_outputs.values())
    if needs_row and layout != "row":
        raise NotAReductionKernel("passes over a row need the reduced dims innermost")
    hoisted = [[i for i in order if i.opcode != "reduce" and deps[i] and not is_full(i) and ready[i] == k]
               for k in range(nphases)]
    plan = ReductionPlan(comp, heroes, {h: Combiner.of(h) for h in heroes}, shape, dims, layout, phases,
                         full_outputs, position_outputs, hoisted, ready)
    plan.stash = stash_plan(plan, order, is_full)
    return plan


# ops whose result is worth keeping rather than computing again in a later pass over the row
EXPENSIVE = frozenset({"exponential", "exponential_minus_one", "log", "log_plus_one", "logistic", "tanh",
                       "erf", "erf_inv", "sine", "cosine", "tan", "power", "atan2", "cbrt", "divide",
                       "remainder", "sqrt", "rsqrt", "acos", "asin", "atan", "acosh", "asinh", "atanh",
                       "cosh", "sinh", "lgamma"})


def stash_plan(plan: ReductionPlan, order, is_full) -> dict:
    """Values of the row's shape that a later pass would compute again (softmax's exp(x - max),
    needed by the sum and by the division): {member: pass that computes it}. A backend may keep
    them in a row-sized buffer instead (every element of the row is visited in every pass, at its
    own index). Only where no data movement reads a computed value of the row's shape, so a
    stashed value is always read at the index it was stored at."""
    if plan.layout != "row" or plan.loops < 2:
        return {}
    comp = plan.comp
    for i in order:
        if i.opcode in ("parameter", "constant") or i.opdef.category != DATA_MOVEMENT:
            continue
        if any(is_full(o) and o.opcode not in ("parameter", "constant") for o in i.operands):
            return {}
    expensive: dict = {}
    for i in order:
        expensive[i] = is_full(i) and (i.opcode in EXPENSIVE or
                                       any(expensive.get(o, False) for o in i.operands))
    roots = []
    for k in range(plan.loops):
        r = [x for h in (plan.phases[k] if k < len(plan.phases) else []) for x in plan.combiners[h].inputs]
        r += [comp.outputs[o] for o in plan.outputs_in_loop(k)]
        roots.append(r)

    def evaluated(k, stop) -> set:
        seen, stack = set(), list(roots[k])
        while stack:
            i = stack.pop()
            if i in seen or not is_full(i) or i.opcode in ("parameter", "constant"):
                continue
            seen.add(i)
            if i in stop:
                continue
            stack.extend(i.operands)
        return seen

    stash: dict = {}
    for v in reversed(order):
        if not expensive.get(v) or v.opcode in ("parameter", "constant"):
            continue
        passes = [k for k in range(plan.loops) if v in evaluated(k, stash)]
        if len(passes) > 1:
            stash[v] = passes[0]
    return stash


def _nonunit_dims(shape) -> list[int]:
    return [d for d, n in enumerate(shape) if n != 1]


def _row_broadcast(src, bcast, kept, shape) -> bool:
    """broadcast_in_dim of a per-position value to S that gives each row its own value."""
    bd = list(bcast.attrs["broadcast_dimensions"])
    mapped = [bd[d] for d in _nonunit_dims(src.shape)]
    return mapped == [d for d in kept if shape[d] != 1]


def _in_order(src, dst) -> bool:
    """A broadcast between per-position shapes that keeps the positions' order."""
    if dst.opcode == "reshape":
        return True
    bd = list(dst.attrs.get("broadcast_dimensions", range(len(src.shape))))
    mapped = [bd[d] for d in _nonunit_dims(src.shape)]
    return mapped == sorted(mapped)


# ---- indices ---------------------------------------------------------------------------------------------
def group_index(b: ir.IRBuilder, shape, groups: list, linear=None) -> Index:
    """The Index of S whose dims in groups[k][0] are the row-major coordinates of the offset
    groups[k][1] (an i64 value) over those dims; other dims 0. `linear`: S's offset if known."""
    shape = tuple(shape)

    def coords():
        c = [c64(0)] * len(shape)
        for dims, off in groups:
            dims = list(dims)
            if not dims:
                continue
            sub = delinearize(b, off, [shape[d] for d in dims])
            for d, v in zip(dims, sub):
                c[d] = v
        return c

    if linear is not None:
        return Index(shape, linear=linear, coords_fn=coords)
    return Index(shape, coords_fn=coords)


def position_index(b: ir.IRBuilder, shape, p) -> Index:
    """Index of a per-position value of `shape` at position p (its row-major offset)."""
    shape = tuple(shape)
    if math.prod(shape) == 1:
        return Index(shape, coords=[c64(0)] * len(shape), linear=c64(0))
    return Index(shape, linear=p, coords_fn=lambda: delinearize(b, p, shape))


# ---- per-position emission ---------------------------------------------------------------------------------
class PositionEmitter(ElementalEmitter):
    """The elemental emitter of one output position: reduce results and the per-position values
    computed from them are `bind`-ed once and read at any index of that position."""

    def __init__(self, cx: CodegenContext, b: ir.IRBuilder, opts: EmitOptions, plan: ReductionPlan,
                 args: list, readers: dict | None = None):
        comp = plan.comp

        def read_param(p, ix):
            if p.parent is not comp:
                raise NotLowerable("region reads a value of an enclosing computation")
            if readers and p in readers:
                return readers[p](self, ix)
            lin = c64(0) if math.prod(p.shape) == 1 else self.linear(ix)
            return T.load(b, args[p.attrs["index"]], p.dtype, lin)

        super().__init__(cx, b, opts, read_param)
        self.plan = plan
        self.args = args
        self.bound: dict = {}
        self.stashed: dict = {}          # member -> reader(ix): values kept by an earlier pass

    def value(self, inst, ix: Index):
        v = self.bound.get(inst)
        if v is not None:
            return v
        r = self.stashed.get(inst)
        if r is not None:
            return r(ix)
        if inst.opcode == "reduce":
            raise NotLowerable(f"{inst.ref} read before its pass finished")
        return super().value(inst, ix)

    def bind(self, inst, v):
        self.bound[inst] = v

    # ---- the pieces of a reduction loop ----------------------------------------------------------
    def elements(self, hero, ix: Index) -> list:
        return [self.value(x, ix) for x in self.plan.combiners[hero].inputs]

    def store_output(self, k: int, ix: Index):
        comp = self.plan.comp
        o = comp.outputs[k]
        v = self.value(o, ix)
        lin = c64(0) if math.prod(o.shape) == 1 else self.linear(ix)
        T.store(self.b, self.args[len(comp.params) + k], o.dtype, lin, v)

    def store_position_outputs(self, p):
        for k in self.plan.position_outputs:
            o = self.plan.comp.outputs[k]
            self.store_output(k, position_index(self.b, o.shape, p))

    def hoist(self, phase: int, p):
        """Compute the per-position values that the results of `phase` complete, once."""
        for i in self.plan.hoisted[phase]:
            self.bind(i, self.value(i, position_index(self.b, i.shape, p)))


# ---- accumulator storage ---------------------------------------------------------------------------
def entry_alloca(b: ir.IRBuilder, ty: ir.Type, count: int = 1, name: str = "acc"):
    """An alloca in the function's entry block (SROA/mem2reg turn scalar ones into registers)."""
    fn = b.function
    entry = fn.entry_basic_block
    saved = b.block
    if entry.instructions:
        b.position_before(entry.instructions[0])
    else:
        b.position_at_end(entry)
    a = b.alloca(ty, size=ir.Constant(T.I64, count) if count != 1 else None, name=name)
    if count != 1:
        a.align = 64
    b.position_at_end(saved)
    return a


class AccSlots:
    """Memory for a combiner's state: `count` states (one per column of a block, or 1)."""

    def __init__(self, b: ir.IRBuilder, comb: Combiner, count: int = 1, name: str = "acc"):
        self.comb = comb
        self.count = count
        self.slots = []
        for dt, ct in zip(comb.result_dtypes, comb.acc_types()):
            parts = 2 if dt.is_complex else 1
            self.slots.append([entry_alloca(b, ct, count, name) for _ in range(parts)])
        self.complex = [dt.is_complex for dt in comb.result_dtypes]

    def _ptr(self, b, slot, i):
        if i is None:
            return slot
        return b.gep(slot, [i], inbounds=True, source_etype=slot.allocated_type)

    def load(self, b: ir.IRBuilder, i=None) -> list:
        out = []
        for parts, cplx in zip(self.slots, self.complex):
            vals = [b.load(self._ptr(b, s, i), typ=s.allocated_type) for s in parts]
            out.append(tuple(vals) if cplx else vals[0])
        return out

    def store(self, b: ir.IRBuilder, values: list, i=None):
        for parts, cplx, v in zip(self.slots, self.complex, values):
            vs = v if cplx else (v,)
            for s, x in zip(parts, vs):
                b.store(x, self._ptr(b, s, i))


def row_linear(b: ir.IRBuilder, row, length: int, j):
    """row * length + j."""
    if length == 1:
        return b.add(row, j)
    return b.add(b.mul(row, c64(length), flags=("nuw", "nsw")), j, flags=("nuw", "nsw"))


__all__ = ["window_value", "unsupported_window", "Combiner", "simple_op", "float_step", "unsupported_reduce", "ReductionPlan", "analyze", "layout_of",
           "canonical_groups", "NotAReductionKernel", "PositionEmitter", "group_index", "position_index",
           "AccSlots", "entry_alloca", "row_linear", "reduce_members", "SIMPLE_OPS"]
