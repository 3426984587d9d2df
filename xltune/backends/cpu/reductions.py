"""CPU reduction kernels: `input` and `row` fusions and lone `reduce`s, as loops around the
target-independent pieces in `xltune/codegen/reduction.py`.

Layouts (chosen from the reduced dims, `reduction.layout_of`):
- row (reduced dims innermost, contiguous; also full reductions): per row, one loop over the row
  per phase, the accumulators in registers. The loop vectorizer turns an associative step into
  vector accumulators (`vector_width` lanes x `accumulators` interleaved copies); float add and
  multiply are only regrouped when `reassociate` is on. Values of the row's shape that need a
  phase's result (softmax's exp(x - max) / sum) are computed in the next pass, so a row is read
  from memory once and stays in L1 between passes. `row_block` rows share each pass's loop.
  Threads split the rows; a single row (a full reduction) is split into chunks of blocks (each
  block accumulated from the identity, then merged), whose partial results are combined in
  chunk order.
- column (kept dims innermost, [K1, R, K2]): per block of `column_block` columns, a vector of
  partial results in a stack buffer, accumulated row after row: contiguous reads, and every
  output's steps stay in sequential order. Threads split (outer, column block) pairs.
- generic (or `strategy=strided` for a column layout): per output position, nested loops over
  the reduced dims in row-major order.

Kernel layout: `@k.<name>.body(ptrs..., scratch, c, C)` does chunk c of C; `@k.<name>(ptrs...)`
allocates the scratch (partial results of a split row, one per chunk), runs the body (its chunks
on `threads` threads, `threads.emit_threaded`) and finishes split rows: init, then the chunks'
partial results in chunk order.
"""
from __future__ import annotations

import contextlib
import math
import sys
from dataclasses import dataclass

from llvmlite import ir

from ...codegen import lltypes as T
from ...codegen.context import CodegenContext, EmitOptions
from ...codegen.elemental import unsupported_instruction, uses_approx_math
from ...codegen.indexing import c64
from ...codegen.loops import fitted_loop_metadata, for_range, loop_metadata
from ...codegen.reduction import (AccSlots, NotAReductionKernel, PositionEmitter, ReductionPlan, analyze,
                                  entry_alloca, group_index, row_linear)
from ...config import Config, Knob
from ...ir.module import Instruction
from .kernels import (MATH, THREADS, THREADS_DEFAULT_MIN, THREADS_KNOB_MIN, UNROLLS, VECTOR_WIDTHS,
                      KernelFamily, chunk_range, host_threads, wrap_one)
from . import rowprogram
from .threads import emit_threaded

# Knobs a loop kernel of the same name also has keep its choices (unroll, vector_width, threads,
# math): a fusion knob may turn one kind of kernel into the other under the same name.
ROW_BLOCKS = (1, 2, 4, 8)
ENGINES = ("library", "emitted")
DEFAULT_ENGINE = "library"
ACCUMULATORS = (1, 2, 4, 8)
COLUMN_BLOCKS = (16, 64, 256, 1024, 4096)
STRATEGIES = ("column", "strided")
SPLIT_UNIT = 256            # elements: a split row is cut at multiples of this
SPLIT_BLOCK = 4096          # elements accumulated from the identity before joining a chunk's total
SLOT = 64                   # bytes per partial result in the scratch (one cache line: no false sharing)
STASH_BYTES = 256 << 10     # stack bytes for values kept between passes over a row
# Chunks per thread: reductions stream memory, a chunk is cheap to claim, and the tail where one
# thread finishes its last chunk alone shrinks with the chunk (sumsq 16M: 8 chunks left ~10% of
# the time to one thread).
CHUNKS_PER_THREAD = 16


# ---- which instructions ------------------------------------------------------------------------------
def claim(inst: Instruction):
    """(comp, "") for the fusions and reduces this family emits, (None, why) when it cannot, None
    for anything else."""
    if inst.opcode == "fusion" and inst.attrs.get("kind") in ("input", "row"):
        if not inst.regions:
            return None, "fusion without a region"
        comp = inst.regions[0]
    elif inst.opcode == "reduce":
        comp = wrap_one(inst)
    else:
        return None
    why = _unsupported(comp)
    if why:
        return None, why
    try:
        plan_of(comp)
    except NotAReductionKernel as e:
        return None, str(e)
    return comp, ""


def _unsupported(comp) -> str | None:
    inside = set(comp.walk())
    for i in comp.walk():
        if any(o not in inside for o in i.operands):
            return "fused computation reads values of the enclosing computation"
    for i in comp.instructions:
        if i.opcode == "reduce":
            continue
        if i.opcode == "get_tuple_element" and i.operands[0].opcode == "reduce":
            continue
        r = unsupported_instruction(i)
        if r:
            return r
    for o in comp.outputs:
        if not hasattr(o.type, "shape"):
            return f"output {o.ref} is not a tensor"
    return None


_plans: dict = {}


def plan_of(comp) -> ReductionPlan:
    """analyze(comp), kept per computation object (knobs and emission ask for it again)."""
    hit = _plans.get(id(comp))
    if hit is not None and hit[0] is comp:
        return hit[1]
    plan = analyze(comp)
    if len(_plans) > 256:
        _plans.clear()
    _plans[id(comp)] = (comp, plan)
    return plan


# ---- knobs ----------------------------------------------------------------------------------------------------
@dataclass
class ReductionKnobs:
    vector_width: int = 0        # SIMD lanes of every inner loop (0: LLVM's choice)
    accumulators: int = 4        # interleaved vector accumulators of a reduction loop
    unroll: int = 2              # interleave count of the element-wise passes and column loops
    reassociate: bool = True     # float add/multiply steps may be regrouped
    row_block: int = 1           # rows per iteration (row layout)
    column_block: int = 1024     # columns per block (column layout)
    strategy: str = "column"     # column layout: "column" or "strided"
    stash: bool = True           # row layout: keep expensive values of the row for later passes
    threads: int = 1
    math: str = "approx"
    engine: str = "emitted"      # row layout: "library" (rowprogram.py) or "emitted"


def default_vector_width(plan: ReductionPlan, comp) -> int:
    """256-bit vectors, 512-bit ones for kernels that compute transcendentals.

    Measured on AVX-512 hosts (docs/cpu-backend.md): a row pass of loads, adds and stores runs
    up to 1.7x faster with 256-bit vectors (inputs from numpy start 16 bytes past a cache line, and
    every 64-byte access then spans two lines), while exp/tanh polynomials run 1.7x faster with
    512-bit ones."""
    bits = max((_compute_bits(x.dtype) for h in plan.heroes for x in plan.combiners[h].inputs), default=32)
    from .llvm_target import host
    vector_bits = host().vector_bits
    want = min(vector_bits, 512 if uses_approx_math(comp) else 256)
    lanes = want // max(bits, 8)
    return max([w for w in VECTOR_WIDTHS if 4 <= w <= lanes], default=4)


def _compute_bits(dt) -> int:
    if dt.is_complex:
        dt = dt.component
    if dt.is_float:
        return 64 if dt.name == "f64" else 32      # f16/bf16 compute in f32
    return max(dt.bits, 8)


def default_row_block(plan: ReductionPlan) -> int:
    """Several rows per iteration where the per-row work outside the loops (horizontal sums,
    per-row epilogues such as logsumexp's log) is a large share: short rows, or kernels that only
    reduce. Kernels that also write rows (softmax, layernorm) measured slower with more rows in
    flight (more live vectors, more streams)."""
    if plan.length < 64 or (not plan.full_outputs and plan.length <= 2048):
        return 4
    return 1


def reduction_kernel_knobs(name: str, comp) -> list[Knob]:
    plan = plan_of(comp)
    owner = "cpu.reduction"
    ks = [Knob(f"cpu.{name}.vector_width", VECTOR_WIDTHS, default_vector_width(plan, comp),
               "SIMD lanes of the kernel's inner loops (0: LLVM's choice, 1: scalar)", owner),
          Knob(f"cpu.{name}.accumulators", ACCUMULATORS, 4,
               "independent vector accumulators of a reduction loop (its interleave count)",
               owner)]
    if plan.layout == "row":
        ks.append(Knob(f"cpu.{name}.row_block", ROW_BLOCKS, default_row_block(plan),
                       "rows per iteration (their passes share one loop)", owner))
        if plan.stash:
            ks.append(Knob(f"cpu.{name}.stash", (False, True), True,
                           "keep values a later pass over the row needs again (softmax's exp) in a row "
                           "buffer instead of computing them again", owner))
        if plan.loops > len(plan.phases) or any(plan.outputs_in_loop(k) for k in range(plan.loops)):
            ks.append(Knob(f"cpu.{name}.unroll", UNROLLS, 2,
                           "interleave count of the passes that only store outputs (0: no hint)", owner))
    elif plan.layout == "column":
        ks.append(Knob(f"cpu.{name}.strategy", STRATEGIES, "column",
                       "column: a vector of partial results accumulated row by row; strided: each "
                       "output walks its own column", owner))
        ks.append(Knob(f"cpu.{name}.column_block", COLUMN_BLOCKS, _default_column_block(plan),
                       "columns whose partial results are accumulated together", owner))
        ks.append(Knob(f"cpu.{name}.unroll", UNROLLS, 2,
                       "interleave count of the column loop (0: no hint)", owner))
    if any(c.reorders_rounding for c in plan.combiners.values()):
        ks.append(Knob(f"cpu.{name}.reassociate", (False, True), True,
                       "float sums/products may be regrouped (vector accumulators, thread chunks); "
                       "off: every output in sequential order", owner))
    work = math.prod(plan.shape)
    if work >= THREADS_KNOB_MIN:
        ks.append(Knob(f"cpu.{name}.threads", THREADS, host_threads() if work >= THREADS_DEFAULT_MIN else 1,
                       "threads sharing the rows (a single row: its chunks)", owner))
    if uses_approx_math(comp):
        ks.append(Knob(f"cpu.{name}.math", MATH, "approx",
                       "transcendentals: xltune's vectorizable polynomials or the C library", owner))
    if rowprogram.why_not(comp, plan) is None:
        ks.append(Knob(f"cpu.{name}.engine", ENGINES, DEFAULT_ENGINE,
                       "library: the row's element-wise ops and reductions call xltune's precompiled "
                       "vector routines from a loop compiled without the vectorizing passes (a cold "
                       "compile ~2x faster; threads, reassociate and math still apply); emitted: one "
                       "kernel fused and vectorized by LLVM (the other knobs shape it)", owner))
    return ks


def _default_column_block(plan) -> int:
    _, _, cols = plan.column_split()
    return 1024 if cols >= 1024 else max(b for b in COLUMN_BLOCKS if b <= max(cols, 16))


def read_reduction_knobs(name: str, comp, config: Config) -> ReductionKnobs:
    vals = {k.name.rsplit(".", 1)[1]: config.value(k) for k in reduction_kernel_knobs(name, comp)}
    return ReductionKnobs(**vals)


# ---- emission -----------------------------------------------------------------------------------------------
def emit_reduction_kernel(cx: CodegenContext, fname: str, name: str, comp, config: Config, nargs: int,
                          param_arg: list[int], output_arg: list[int]) -> ir.Function:
    knobs = read_reduction_knobs(name, comp, config)
    plan = plan_of(comp)
    depth = 8 * sum(1 for _ in comp.walk())
    if depth > sys.getrecursionlimit() // 2:
        sys.setrecursionlimit(sys.getrecursionlimit() + depth)
    if knobs.engine == "library":
        prog = rowprogram.row_program(comp, plan, knobs.math)
        return _LibraryKernel(cx, fname, plan, knobs, nargs, param_arg, output_arg, prog).emit()
    return _Kernel(cx, fname, plan, knobs, nargs, param_arg, output_arg).emit()


class _Kernel:
    def __init__(self, cx, fname, plan: ReductionPlan, knobs: ReductionKnobs, nargs, param_arg, output_arg):
        self.cx = cx
        self.fname = fname
        self.plan = plan
        self.knobs = knobs
        self.nargs = nargs
        self.param_arg = param_arg
        self.output_arg = output_arg
        self.opts = EmitOptions(math=knobs.math)
        combs = plan.combiners.values()
        # may the steps of one output be regrouped (vector accumulators, chunks on threads)?
        self.regroup = all(c.associative for c in combs) and \
            (knobs.reassociate or not any(c.reorders_rounding for c in combs))
        rows = plan.positions
        # one long row (a full reduction): chunks (on threads) of blocks, partial results merged
        self.split_row = (plan.layout == "row" and rows == 1 and len(plan.phases) == 1 and plan.loops == 1
                          and self.regroup and plan.length >= 2 * SPLIT_UNIT)

    # ---- scaffolding ------------------------------------------------------------------------------------
    def emit(self) -> ir.Function:
        m = self.cx.module
        body = ir.Function(m, ir.FunctionType(T.VOID, [T.PTR] * (self.nargs + 1) + [T.I64, T.I64]),
                           name=self.fname + ".body")
        body.linkage = "internal"
        body.attributes.add("nounwind")
        for a in body.args[:self.nargs]:
            a.add_attribute("noalias")
        b = ir.IRBuilder(body.append_basic_block("entry"))
        args = list(body.args)
        ptrs = [args[k] for k in self.param_arg] + [args[k] for k in self.output_arg]
        scratch = args[self.nargs]
        chunk = (args[self.nargs + 1], args[self.nargs + 2])
        layout = self.plan.layout
        if layout == "column" and self.knobs.strategy == "column":
            self._column(b, ptrs, chunk)
        elif layout in ("column", "generic"):
            self._generic(b, ptrs, chunk)
        elif self.split_row:
            self._split_row_body(b, ptrs, scratch, chunk)
        else:
            self._rows(b, ptrs, chunk)
        b.ret_void()

        fn = ir.Function(m, ir.FunctionType(T.VOID, [T.PTR] * self.nargs), name=self.fname)
        fn.linkage = "internal"
        fn.attributes.add("nounwind")
        kb = ir.IRBuilder(fn.append_basic_block("entry"))
        kargs = list(fn.args)
        nthreads = self.knobs.threads if self._threaded() else 1
        nchunks = nthreads * CHUNKS_PER_THREAD if nthreads > 1 else 1
        if self.split_row:
            nslots = sum(len(c.result_dtypes) * 2 for c in self.plan.combiners.values())
            scr = kb.alloca(T.I8, size=c64(nslots * nchunks * SLOT))
            scr.align = 64
        else:
            scr = ir.Constant(T.PTR, None)
        if nthreads > 1:
            launch = emit_threaded(self.cx, self.fname + ".par", body, self.nargs + 1, nthreads, nchunks)
            kb.call(launch, kargs + [scr])
        else:
            kb.call(body, kargs + [scr, c64(0), c64(1)])
        if self.split_row:
            kptrs = [kargs[k] for k in self.param_arg] + [kargs[k] for k in self.output_arg]
            self._split_row_finish(kb, kptrs, scr, nchunks)
        kb.ret_void()
        return fn

    def _threaded(self) -> bool:
        if self.knobs.threads <= 1:
            return False
        p = self.plan
        if self.split_row:
            return True
        if p.layout == "row":
            return p.positions > 1
        if p.layout == "column" and self.knobs.strategy == "column":
            outer, _, cols = p.column_split()
            return outer * -(-cols // min(self.knobs.column_block, cols)) > 1
        return p.positions > 1

    def _emitter(self, b, ptrs) -> PositionEmitter:
        return PositionEmitter(self.cx, b, self.opts, self.plan, ptrs)

    # Every loop over a row keeps its loop: fully unrolled passes (a row has a constant length)
    # would let LLVM keep a whole row's loads in registers from one pass to the next and spill
    # them to the stack (twice the memory traffic), and cost compile time.
    def _reduce_md(self, heroes, trip: int | None = None):
        """Hints of a loop carrying these reductions: the knobs when its steps may be regrouped,
        else none (without `reassoc` LLVM keeps a float reduction in order)."""
        combs = [self.plan.combiners[h] for h in heroes]
        if combs and not self.regroup:
            return loop_metadata(self.cx.module, unroll=1)
        return self._hints(self.knobs.accumulators if combs else self.knobs.unroll, trip)

    def _outer_md(self):
        """Loops around the passes are never unrolled: copies of every pass, no speed."""
        return loop_metadata(self.cx.module, unroll=1)

    def _plain_md(self, trip: int | None = None):
        return self._hints(self.knobs.unroll, trip)

    def _hints(self, interleave: int, trip: int | None):
        return fitted_loop_metadata(self.cx.module, self.knobs.vector_width, interleave, trip, unroll=1)

    def _step(self, em: PositionEmitter, hero, slots: AccSlots, ix, i=None):
        comb = self.plan.combiners[hero]
        acc = slots.load(em.b, i)
        slots.store(em.b, comb.step(em, acc, em.elements(hero, ix), reassociate=self.regroup), i)

    def _finish(self, em: PositionEmitter, hero, values: list):
        comb = self.plan.combiners[hero]
        res = comb.finish(em, values)
        if hero.multi:
            for u in hero.users:
                if u.opcode == "get_tuple_element":
                    em.bind(u, res[int(u.attrs["index"])])
        else:
            em.bind(hero, res[0])

    # ---- row layout ---------------------------------------------------------------------------------------
    def _s_index(self, b, row, j):
        """Element j of row `row` of S (kept dims outer, reduced dims inner)."""
        p = self.plan
        return group_index(b, p.shape, [(p.kept, row), (p.dims, j)], linear=row_linear(b, row, p.length, j))

    def _rows(self, b, ptrs, chunk):
        p = self.plan
        rows, length = p.positions, p.length
        if rows == 0:
            return
        blk = max(1, min(self.knobs.row_block, rows))
        lo, hi = chunk_range(b, chunk, rows, blk)
        nloops = max(len(p.phases), p.loops)
        slots = {}
        for k in range(len(p.phases)):
            for h in p.phases[k]:
                for r in range(blk):
                    slots[h, r] = AccSlots(b, p.combiners[h], 1, name=f"acc.{k}.{r}")
        stash = self._stash_buffers(b, blk)
        with for_range(b, lo, hi, step=blk, name="row", metadata=self._outer_md()) as r0:
            last = b.sub(hi, c64(1))
            rows_b = [r0] + [_min_v(b, b.add(r0, c64(r)), last) for r in range(1, blk)]
            ems = [self._emitter(b, ptrs) for _ in range(blk)]
            for k in range(nloops):
                heroes = p.phases[k] if k < len(p.phases) else []
                outs = p.outputs_in_loop(k)
                for r, em in enumerate(ems):
                    for h in heroes:
                        slots[h, r].store(b, p.combiners[h].init(em))
                if length and (heroes or outs):
                    md = self._reduce_md(heroes, length) if heroes else self._plain_md(length)
                    with for_range(b, 0, length, name=f"j{k}", metadata=md) as j:
                        with contextlib.ExitStack() as stack:
                            for em in ems:
                                stack.enter_context(em.scoped())
                            for r, em in enumerate(ems):
                                ix = self._s_index(b, rows_b[r], j)
                                for v, first in p.stash.items():
                                    if (v, r) in stash and first < k:
                                        em.stashed[v] = _stash_reader(b, stash[v, r], v.dtype, j)
                                for h in heroes:
                                    self._step(em, h, slots[h, r], ix)
                                for o in outs:
                                    em.store_output(o, ix)
                                for v, first in p.stash.items():
                                    if (v, r) in stash and first == k:
                                        T.store(b, stash[v, r], v.dtype, j, em.value(v, ix))
                                em.stashed.clear()
                if k < len(p.phases):
                    for r, em in enumerate(ems):
                        for h in heroes:
                            self._finish(em, h, slots[h, r].load(b))
                        em.hoist(k, rows_b[r])
            for r, em in enumerate(ems):
                em.store_position_outputs(rows_b[r])

    def _stash_buffers(self, b, blk) -> dict:
        """Row-sized buffers for the values a later pass reads again ((member, row in block) ->
        buffer), as many as fit in STASH_BYTES."""
        p = self.plan
        out, used = {}, 0
        if not self.knobs.stash:
            return out
        for v in p.stash:
            nbytes = p.length * v.dtype.itemsize * blk
            if used + nbytes > STASH_BYTES:
                continue
            used += nbytes
            for r in range(blk):
                out[v, r] = entry_alloca(b, T.storage_type(v.dtype), p.length * T.lanes(v.dtype), name="stash")
        return out

    # ---- one row split over threads (full reductions) ---------------------------------------------------
    def _slot_ptr(self, b, scratch, index: int, c, nchunks):
        off = b.mul(b.add(b.mul(c64(index), nchunks), c), c64(SLOT))
        return b.gep(scratch, [off], inbounds=True, source_etype=T.I8)

    def _partials(self):
        """(hero, value k, part) -> slot index in the scratch."""
        out, n = {}, 0
        for h in self.plan.phases[0]:
            for k, dt in enumerate(self.plan.combiners[h].result_dtypes):
                for part in range(2 if dt.is_complex else 1):
                    out[h, k, part] = n
                    n += 1
        return out

    def _split_row_body(self, b, ptrs, scratch, chunk):
        p = self.plan
        heroes = p.phases[0]
        lo, hi = chunk_range(b, chunk, p.length, SPLIT_UNIT)
        em = self._emitter(b, ptrs)
        slots = {h: AccSlots(b, p.combiners[h], 1, name="chunk") for h in heroes}
        block = {h: AccSlots(b, p.combiners[h], 1, name="block") for h in heroes}
        for h in heroes:
            slots[h].store(b, p.combiners[h].identity())
        # Blocks of SPLIT_BLOCK elements start from the identity and are merged into the chunk's
        # partial result: rounding errors grow with the block length, not the chunk's.
        with for_range(b, lo, hi, step=SPLIT_BLOCK, name="blk", metadata=self._outer_md()) as j0:
            for h in heroes:
                block[h].store(b, p.combiners[h].identity())
            end = _min_v(b, b.add(j0, c64(SPLIT_BLOCK)), hi)
            with for_range(b, j0, end, name="j", metadata=self._reduce_md(heroes)) as j:
                with em.scoped():
                    ix = self._s_index(b, c64(0), j)
                    for h in heroes:
                        self._step(em, h, block[h], ix)
                    for o in p.outputs_in_loop(0):
                        em.store_output(o, ix)
            for h in heroes:
                slots[h].store(b, p.combiners[h].merge(em, slots[h].load(b), block[h].load(b)))
        self._store_partials(b, scratch, chunk, slots)

    def _store_partials(self, b, scratch, chunk, slots):
        """A chunk's partial results into its scratch slots."""
        index = self._partials()
        for h in self.plan.phases[0]:
            for k, v in enumerate(slots[h].load(b)):
                for part, x in enumerate(v if isinstance(v, tuple) else (v,)):
                    b.store(x, self._slot_ptr(b, scratch, index[h, k, part], chunk[0], chunk[1]))

    def _split_row_finish(self, b, ptrs, scratch, nchunks: int):
        p = self.plan
        em = self._emitter(b, ptrs)
        index = self._partials()
        for h in p.phases[0]:
            comb = p.combiners[h]
            acc = comb.init(em)
            for t in range(nchunks):
                part = []
                for k, (dt, ct) in enumerate(zip(comb.result_dtypes, comb.acc_types())):
                    vals = [b.load(self._slot_ptr(b, scratch, index[h, k, q], c64(t), c64(nchunks)), typ=ct)
                            for q in range(2 if dt.is_complex else 1)]
                    part.append(tuple(vals) if dt.is_complex else vals[0])
                acc = comb.merge(em, acc, part)
            self._finish(em, h, acc)
        em.hoist(0, c64(0))
        em.store_position_outputs(c64(0))

    # ---- column layout ------------------------------------------------------------------------------------------
    def _column(self, b, ptrs, chunk):
        p = self.plan
        heroes = p.phases[0]
        outer, nrows, cols = p.column_split()
        k1, rdims, k2 = p.column_dims()
        cb = min(self.knobs.column_block, cols)
        nblocks = -(-cols // cb)
        units = outer * nblocks
        if units == 0:
            return
        lo, hi = chunk_range(b, chunk, units, 1)
        slots = {h: AccSlots(b, p.combiners[h], cb, name="col") for h in heroes}
        md = self._plain_md(cb)
        # bodies run as written (argmax, complex) rarely vectorize: no hints, no warnings
        step_md = md if all(p.combiners[h].associative for h in heroes) else self._outer_md()
        with for_range(b, lo, hi, name="blk", metadata=self._outer_md()) as u:
            o = b.udiv(u, c64(nblocks))
            c0 = b.mul(b.urem(u, c64(nblocks)), c64(cb))
            cn = _min_v(b, b.sub(c64(cols), c0), c64(cb))
            em0 = self._emitter(b, ptrs)
            with for_range(b, 0, cn, name="ci", metadata=md) as c:
                with em0.scoped():
                    for h in heroes:
                        slots[h].store(b, p.combiners[h].init(em0), c)
            with for_range(b, 0, nrows, name="i", metadata=self._outer_md()) as i:
                with for_range(b, 0, cn, name="c", metadata=step_md) as c:
                    em = self._emitter(b, ptrs)
                    col = b.add(c0, c)
                    lin = b.add(b.mul(b.add(b.mul(o, c64(nrows)), i), c64(cols)), col)
                    ix = group_index(b, p.shape, [(k1, o), (rdims, i), (k2, col)], linear=lin)
                    for h in heroes:
                        self._step(em, h, slots[h], ix, c)
                    for out in p.outputs_in_loop(0):
                        em.store_output(out, ix)
            with for_range(b, 0, cn, name="cf", metadata=md) as c:
                em = self._emitter(b, ptrs)
                pos = b.add(b.mul(o, c64(cols)), b.add(c0, c))
                for h in heroes:
                    self._finish(em, h, slots[h].load(b, c))
                em.hoist(0, pos)
                em.store_position_outputs(pos)

    # ---- anything else: per position, nested loops over the reduced dims ----------------------------------------
    def _generic(self, b, ptrs, chunk):
        p = self.plan
        heroes = p.phases[0]
        npos = p.positions
        if npos == 0:
            return
        lo, hi = chunk_range(b, chunk, npos, 1)
        kept = list(p.kept)
        red = [d for d in p.dims if p.shape[d] != 1]
        slots = {h: AccSlots(b, p.combiners[h], 1) for h in heroes}
        with for_range(b, lo, hi, name="pos", metadata=self._outer_md()) as pos:
            em = self._emitter(b, ptrs)
            for h in heroes:
                slots[h].store(b, p.combiners[h].init(em))
            if p.length:
                coords = {}

                def nest(level):
                    if level == len(red):
                        with em.scoped():
                            ix = group_index(b, p.shape, [(kept, pos)] + [([d], coords[d]) for d in red])
                            for h in heroes:
                                self._step(em, h, slots[h], ix)
                            for out in p.outputs_in_loop(0):
                                em.store_output(out, ix)
                        return
                    d = red[level]
                    md = self._reduce_md(heroes, p.shape[d]) if level == len(red) - 1 else None
                    with for_range(b, 0, p.shape[d], name=f"r{d}", metadata=md) as i:
                        coords[d] = i
                        nest(level + 1)

                nest(0)
            for h in heroes:
                self._finish(em, h, slots[h].load(b))
            em.hoist(0, pos)
            em.store_position_outputs(pos)


class _LibraryKernel(_Kernel):
    """The `library` engine: the same scaffolding (threads over rows, a long row in chunks), each
    row's work done by row-library calls (rowprogram.py) from glue compiled without the
    vectorizing passes."""

    def __init__(self, cx, fname, plan, knobs, nargs, param_arg, output_arg, prog):
        super().__init__(cx, fname, plan, knobs, nargs, param_arg, output_arg)
        self.lib = rowprogram.LibraryRows(self, prog)

    def emit(self) -> ir.Function:
        fn = super().emit()
        self.cx.mark_glue(self.cx.module.get_global(self.fname + ".body"))
        return fn

    def _rows(self, b, ptrs, chunk):
        p, lib = self.plan, self.lib
        run = lib.prog.run
        lo, hi = chunk_range(b, chunk, p.positions, 1)
        bufs = lib.buffers(b)
        slots = {h: AccSlots(b, p.combiners[h], 1, name="acc") for h in p.heroes}
        with for_range(b, lo, hi, name="row", metadata=self._outer_md()) as r:
            em = self._emitter(b, ptrs)
            for h in p.heroes:
                slots[h].store(b, p.combiners[h].init(em))
            if run < p.length:
                # one pass over the row (no value after a reduce): blocks, accumulators carried
                with for_range(b, 0, p.length, step=run, name="blk", metadata=self._outer_md()) as j0:
                    n = _min_v(b, b.sub(c64(p.length), j0), c64(run))
                    with em.scoped():
                        lib.run(b, em, ptrs, bufs, r, j0, n, slots, bind=False)
                for h in p.heroes:
                    self._finish(em, h, slots[h].load(b))
            else:
                lib.run(b, em, ptrs, bufs, r, c64(0), c64(p.length), slots, bind=True)
            em.store_position_outputs(r)

    def _split_row_body(self, b, ptrs, scratch, chunk):
        p, lib = self.plan, self.lib
        heroes = p.phases[0]
        lo, hi = chunk_range(b, chunk, p.length, SPLIT_UNIT)
        bufs = lib.buffers(b)
        em = self._emitter(b, ptrs)
        slots = {h: AccSlots(b, p.combiners[h], 1, name="chunk") for h in heroes}
        block = {h: AccSlots(b, p.combiners[h], 1, name="block") for h in heroes}
        for h in heroes:
            slots[h].store(b, p.combiners[h].identity())
        # as the emitted kernel: blocks (runs) from the identity, merged in order
        run = lib.prog.run
        with for_range(b, lo, hi, step=run, name="blk", metadata=self._outer_md()) as j0:
            for h in heroes:
                block[h].store(b, p.combiners[h].identity())
            n = _min_v(b, b.sub(hi, j0), c64(run))
            with em.scoped():
                lib.run(b, em, ptrs, bufs, c64(0), j0, n, block, bind=False)
            for h in heroes:
                slots[h].store(b, p.combiners[h].merge(em, slots[h].load(b), block[h].load(b)))
        self._store_partials(b, scratch, chunk, slots)


def _stash_reader(b, buf, dt, j):
    return lambda ix: T.load(b, buf, dt, j)


def _min_v(b, x, y):
    return b.select(b.icmp_signed("<", x, y), x, y)


FAMILY = KernelFamily("reduction", claim, reduction_kernel_knobs, emit_reduction_kernel)

__all__ = ["FAMILY", "claim", "reduction_kernel_knobs", "read_reduction_knobs", "emit_reduction_kernel",
           "ReductionKnobs", "plan_of"]
