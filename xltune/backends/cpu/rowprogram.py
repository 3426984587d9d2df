"""A row fusion as calls into the row library (`rowlib.py`): the `library` engine of a reduction
kernel.

`row_program(comp)` reads a row-layout reduction (`ReductionPlan`) as a program over runs of a
row's elements. Each value of the row's shape S is one of
- view:    an S-shaped parameter; row r's run starts at element r*L of it;
- column:  a broadcast of a parameter along the row only (layernorm's gamma); every row reads
           the same run;
- splat:   the same value along the whole row (a constant, a broadcast of a per-row value such
           as softmax's max); computed once per row by the elemental emitter, in the glue;
- vector:  an element-wise op with a non-splat operand: one library call per run, into a row
           buffer (or straight into an output row).
Reduces call the library's reductions and bind their result for the rest of the row. Everything
else (per-row epilogues, outputs of one value per row) is computed by the emitter as in the
emitted kernel.

Each call is one pass over the run, in L1, so passes are what the engine pays for: a reduce of a
step's result joins that step's call (`fused`: sum of squares, softmax's sum of exp), and exp of
a subtraction is one call (`chained`: softmax's exp(x - max)); softmax is then three passes, as
its emitted kernel.

A row whose values all precede its reduces (sums of squares, row sums) is walked in blocks of
BLOCK elements, the accumulators carried from block to block; a row with passes after a reduce
(softmax, layernorm) is one run, and its buffers must fit in ROW_BYTES of stack.

`LibraryRows` emits that per-row code for `reductions._LibraryKernel`, which keeps the emitted
kernel's scaffolding (threads over rows, a single long row split into chunks).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from llvmlite import ir

from ...codegen import lltypes as T
from ...codegen import scalar
from ...codegen.elemental import is_splat
from ...codegen.reduction import NotAReductionKernel, ReductionPlan, entry_alloca, row_linear
from ...ir.ops import ELEMENTWISE
from . import rowlib

BLOCK = 4096                 # elements per run of a row walked in blocks (16 KB of f32: L1)
ROW_BYTES = 256 << 10        # stack for the row buffers of one thread


class NotLibrary(Exception):
    """The fusion has something the row library cannot do (the emitted kernel can)."""


@dataclass
class RowProgram:
    plan: ReductionPlan
    dtype: str
    kinds: dict                                   # S-shaped member -> view|column|splat|vector
    steps: list                                   # vector members and reduces, in order
    fused: dict = field(default_factory=dict)     # vector member -> the reduce its call also does
    chained: dict = field(default_factory=dict)   # unary vector member -> the binary one it applies to
    stored: set = field(default_factory=set)      # vector members whose elements are kept
    slot: dict = field(default_factory=dict)      # vector member -> row buffer number
    dest: dict = field(default_factory=dict)      # vector member -> output written in place
    copies: list = field(default_factory=list)    # (output number, member): filled or copied
    nslots: int = 0
    blocked: bool = False
    math: str = "approx"

    def inputs(self, step) -> list:
        """The values a step's call reads (a chained step reads its binary op's operands)."""
        inner = self.chained.get(step)
        return list(inner.operands if inner is not None else step.operands)

    def form(self, step) -> str:
        """The routine form of an element-wise step's own operands: v, vv, vs or sv."""
        return "".join("s" if self.kinds[o] == "splat" else "v" for o in step.operands)

    def libm(self, step) -> bool:
        """Is this step's op computed by the C library (math knob) instead of a polynomial?"""
        return self.math == "libm" and rowlib.has_math_variant(step.opcode, self.dtype)

    @property
    def run(self) -> int:
        """Elements per library call."""
        return min(self.plan.length, BLOCK) if self.blocked else self.plan.length


_programs: dict = {}


def row_program(comp, plan: ReductionPlan, math: str = "approx") -> RowProgram:
    """The program of comp (raises NotLibrary), kept per computation object and math knob."""
    hit = _programs.get((id(comp), math))
    if hit is not None and hit[0] is comp:
        if isinstance(hit[1], NotLibrary):
            raise hit[1]
        return hit[1]
    try:
        prog = _analyze(comp, plan, math)
    except NotLibrary as e:
        prog = e
    if len(_programs) > 256:
        _programs.clear()
    _programs[(id(comp), math)] = (comp, prog)
    if isinstance(prog, NotLibrary):
        raise prog
    return prog


def why_not(comp, plan) -> str | None:
    try:
        row_program(comp, plan)
    except (NotLibrary, NotAReductionKernel) as e:
        return str(e)
    return None


def _analyze(comp, plan: ReductionPlan, math: str) -> RowProgram:
    if plan.layout != "row":
        raise NotLibrary(f"{plan.layout} layout")
    if plan.positions == 0 or plan.length == 0:
        raise NotLibrary("empty rows")
    dtype = plan.heroes[0].operands[0].dtype.name
    if dtype not in rowlib.DTYPES:
        raise NotLibrary(f"element type {dtype}")
    shape = plan.shape
    kept_nonunit = [d for d in plan.kept if shape[d] != 1]
    red_nonunit = [d for d in plan.dims if shape[d] != 1]
    kinds: dict = {}
    steps = []

    def full(i) -> bool:
        return hasattr(i.type, "shape") and tuple(i.shape) == shape and i.opcode != "reduce"

    for i in comp.post_order():
        op = i.opcode
        if op == "reduce":
            comb = plan.combiners[i]
            if i.multi or comb.op not in rowlib.REDUCE or i.dtype.name != dtype:
                raise NotLibrary(f"{i.ref} reduces with a body the library does not have")
            if kinds.get(comb.inputs[0]) not in ("view", "column", "vector"):
                raise NotLibrary(f"{i.ref} reduces a value that is not a row")
            steps.append(i)
            continue
        if op == "get_tuple_element":
            raise NotLibrary(f"{i.ref} reads one result of a variadic reduce")
        if not full(i):
            continue                     # per-row or smaller: the emitter computes it
        if i.dtype.name != dtype:
            raise NotLibrary(f"{i.ref} ({op}) of type {i.dtype}")
        if op == "parameter":
            kinds[i] = "view"
        elif op == "constant":
            if not is_splat(i.attrs["value"]):
                raise NotLibrary(f"{i.ref} is a constant row that is not a splat")
            kinds[i] = "splat"
        elif op == "broadcast_in_dim":
            src = i.operands[0]
            bd = list(i.attrs["broadcast_dimensions"])
            mapped = [bd[d] for d, n in enumerate(src.shape) if n != 1]
            if all(m in kept_nonunit for m in mapped):
                kinds[i] = "splat"       # one value per row (or a scalar)
            elif src.opcode == "parameter" and src.dtype.name == dtype and mapped == red_nonunit:
                kinds[i] = "column"
            else:
                raise NotLibrary(f"{i.ref} broadcasts {src.ref} across rows and along them")
        elif i.opdef.category == ELEMENTWISE and op in scalar.LOWERINGS:
            ops = i.operands
            if any(o.dtype.name != dtype for o in ops):
                raise NotLibrary(f"{i.ref} ({op}) mixes element types")
            if all(kinds[o] == "splat" for o in ops):
                kinds[i] = "splat"
                continue
            if not rowlib.supported(op, dtype, len(ops)):
                raise NotLibrary(f"the row library has no '{op}' on {dtype}")
            kinds[i] = "vector"
            steps.append(i)
        else:
            raise NotLibrary(f"{i.ref} ({op}) of the row's shape")

    prog = RowProgram(plan, dtype, kinds, steps, math=math)
    prog.blocked = len(plan.phases) == 1 and plan.loops == 1
    _fuse_reduces(prog, comp)
    _assign_buffers(prog, comp)
    if prog.nslots * prog.run * plan.heroes[0].operands[0].dtype.itemsize > ROW_BYTES:
        raise NotLibrary(f"rows of {plan.length} elements need {prog.nslots} row buffers")
    return prog


def _fuse_reduces(prog: RowProgram, comp):
    """A reduce of a vector step's result joins that step's call (one pass instead of two); the
    step still stores its elements when another step or an output reads them. Both reduce modes
    a kernel may pick (regrouped or in order) must have a routine."""
    outputs = set(comp.outputs)
    # first a unary op of a binary op's result that nothing else reads: one call for both
    for u in list(prog.steps):
        if u.opcode == "reduce" or len(u.operands) != 1 or prog.libm(u):
            continue
        v = u.operands[0]
        if prog.kinds.get(v) == "vector" and len(v.users) == 1 and v not in outputs and \
                rowlib.fusable(v.opcode, prog.dtype, prog.form(v), then=u.opcode):
            prog.chained[u] = v
            prog.steps.remove(v)
    for r in [s for s in prog.steps if s.opcode == "reduce"]:
        comb = prog.plan.combiners[r]
        v = comb.inputs[0]
        if prog.kinds.get(v) != "vector" or v in prog.fused:
            continue
        modes = [(comb.op, "red"), (comb.op, "seq")] if comb.op in rowlib.REORDERS else [(comb.op, "red")]
        w = prog.chained.get(v)
        if w is not None:
            ok = all(rowlib.fusable(w.opcode, prog.dtype, prog.form(w), m, then=v.opcode) for m in modes)
        else:
            ok = all(rowlib.fusable(v.opcode, prog.dtype, prog.form(v), m) for m in modes)
        if not ok:
            continue
        prog.fused[v] = r
        prog.steps.remove(r)
    for s in prog.steps:
        if s.opcode == "reduce":
            continue
        # a step is kept unless its fused reduce is its only reader (a dead one is kept too: its
        # routine needs somewhere to write)
        fused_only = s in prog.fused and all(u is prog.fused[s] for u in s.users) and s not in outputs
        if not fused_only:
            prog.stored.add(s)


def _assign_buffers(prog: RowProgram, comp):
    """Outputs computed by a call are written in place (their first output); other vectors get a
    row buffer, reused once its last reader has run (never the buffer a call reads: the library
    routines take unaliased pointers)."""
    last: dict = {}
    for k, s in enumerate(prog.steps):
        for o in prog.inputs(s):
            last[o] = k
    for k, o in prog.plan.full_outputs.items():
        v = comp.outputs[k]
        if prog.kinds.get(v) == "vector" and v not in prog.dest:
            prog.dest[v] = k
        else:
            prog.copies.append((k, v))
    copied = {v for _, v in prog.copies}
    free: list = []
    live: dict = {}
    count = 0
    for k, s in enumerate(prog.steps):
        if s.opcode == "reduce":
            continue
        if s not in prog.dest and s in prog.stored:
            if free:
                prog.slot[s] = free.pop()
            else:
                prog.slot[s] = count
                count += 1
            live[s] = prog.slot[s]
        # buffers whose last reader is this step are free for the next steps
        for o in set(prog.inputs(s)):
            if o in live and last.get(o) == k and o not in copied:
                free.append(live.pop(o))
    prog.nslots = count


class LibraryRows:
    """Emits a row program's calls for runs of rows (see the module doc)."""

    def __init__(self, kernel, prog: RowProgram):
        self.k = kernel                 # reductions._Kernel: cx, plan, knobs, emitters, combiners
        self.prog = prog
        self.dt = prog.plan.heroes[0].operands[0].dtype

    def buffers(self, b) -> list:
        return [entry_alloca(b, T.storage_type(self.dt), self.prog.run, name="rowbuf")
                for _ in range(self.prog.nslots)]

    def _routine(self, op, form, libm=False, reduce=None, store=True, then=None):
        return rowlib.declare(self.k.cx, rowlib.Routine(self.prog.dtype, op, form, libm, reduce, store, then))

    def _mode(self, comb) -> tuple:
        """(op, red|seq): regrouped unless the kernel keeps float sums in order."""
        return comb.op, "red" if (self.k.regroup or comb.op not in rowlib.REORDERS) else "seq"

    def _param_ptr(self, b, ptrs, p, offset):
        return T.element_ptr(b, ptrs[p.attrs["index"]], self.dt, offset)

    def _output_ptr(self, b, ptrs, k, row, j0):
        """Element j0 of row `row` of output k."""
        plan = self.prog.plan
        return T.element_ptr(b, ptrs[len(plan.comp.params) + k], self.dt, row_linear(b, row, plan.length, j0))

    def pointer(self, b, em, ptrs, bufs, v, row, j0):
        """Where the run [j0, j0 + n) of row `row` of v lives."""
        prog = self.prog
        kind = prog.kinds[v]
        if kind == "view":
            return self._param_ptr(b, ptrs, v, row_linear(b, row, prog.plan.length, j0))
        if kind == "column":
            return self._param_ptr(b, ptrs, v.operands[0], j0)
        if v in prog.dest:
            return self._output_ptr(b, ptrs, prog.dest[v], row, j0)
        if v not in prog.slot:
            return ir.Constant(T.PTR, None)          # a fused reduce's operand, never stored
        return bufs[prog.slot[v]]

    def run(self, b, em, ptrs, bufs, row, j0, n, slots: dict, bind: bool):
        """One run of one row: every step's call, then the outputs no call writes. Reduces continue
        from (and store to) their slot; `bind`: the result is final (one run per row) and later
        steps read it."""
        prog = self.prog

        def reduced(r, acc):
            slots[r].store(b, [acc])
            if bind:
                self.k._finish(em, r, [acc])

        for s in prog.steps:
            if s.opcode == "reduce":
                comb = prog.plan.combiners[s]
                op, mode = self._mode(comb)
                src = self.pointer(b, em, ptrs, bufs, comb.inputs[0], row, j0)
                reduced(s, b.call(self._routine(op, mode), [src, n, slots[s].load(b)[0]]))
                continue
            args = []
            for o in prog.inputs(s):
                if prog.kinds[o] == "splat":
                    args.append(("s", em.value(o, self.k._s_index(b, row, j0))))
                else:
                    args.append(("v", self.pointer(b, em, ptrs, bufs, o, row, j0)))
            form = "".join(k for k, _ in args)
            inner = prog.chained.get(s)
            op, then = (inner.opcode, s.opcode) if inner is not None else (s.opcode, None)
            libm = prog.libm(s)
            out = self.pointer(b, em, ptrs, bufs, s, row, j0)
            r = prog.fused.get(s)
            if r is None:
                b.call(self._routine(op, form, libm, then=then), [out] + [v for _, v in args] + [n])
                continue
            routine = self._routine(op, form, libm, self._mode(prog.plan.combiners[r]), s in prog.stored, then)
            reduced(r, b.call(routine, [out] + [v for _, v in args] + [n, slots[r].load(b)[0]]))
        self._store_copies(b, em, ptrs, bufs, row, j0, n)

    def _store_copies(self, b, em, ptrs, bufs, row, j0, n):
        """Outputs that are not a call's own result: a parameter or a splat, or a value that an
        earlier output already holds."""
        prog = self.prog
        for k, v in prog.copies:
            out = self._output_ptr(b, ptrs, k, row, j0)
            if prog.kinds[v] == "splat":
                b.call(self._routine("copy", "fill"), [out, em.value(v, self.k._s_index(b, row, j0)), n])
            else:
                src = self.pointer(b, em, ptrs, bufs, v, row, j0)
                b.call(self._routine("copy", "v"), [out, src, n])


__all__ = ["row_program", "why_not", "RowProgram", "LibraryRows", "NotLibrary", "BLOCK", "ROW_BYTES"]
