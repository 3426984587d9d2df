"""CPU loop kernels: a loop nest around the target-independent element computation, and the
kernel knobs that shape it.

Kernel layout: `void @k.<name>(ptr %param0, ..., ptr %out0, ...)`, internal linkage (LLVM may
inline it into the segment function that calls it). Per output group (outputs of one shape):
- flat: one loop over the number of elements, the index being the loop variable (contiguous
  elementwise chains, reshapes, scalar broadcasts);
- nest: one loop per dimension (unit dims skipped), innermost dimension contiguous.
The innermost loop carries the vectorization hints from the knobs as `!llvm.loop` metadata.

Threads (knob `threads`, big kernels only): the loop body becomes `@k.<name>.body(ptrs..., c, C)`,
which walks chunk c of C of each group's outermost loop; `threads.emit_threaded` runs the chunks
on T threads (the caller included) that claim them one by one.
"""
from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from typing import Callable

from llvmlite import ir

from ...codegen import lltypes as T
from ...codegen.context import CodegenContext, EmitOptions
from ...codegen.indexing import Index, c64
from ...codegen.indexing import linearize
from ...codegen.kernel import (emit_element, output_groups, param_dim_maps, staged_params,
                               transpose_partner, uses_approx_math)
from ...codegen.loops import fitted_loop_metadata, for_range
from ...config import Config, Knob
from ...ir.module import Computation, Instruction
from .threads import emit_threaded

VECTOR_WIDTHS = (0, 1, 4, 8, 16)
UNROLLS = (0, 1, 2, 4)
MATH = ("approx", "libm")
TILES = (0, 8, 16, 32, 64, 128)
TILE_LAST = (16, 32, 64, 128, 256, 512)
STAGE_BYTES = 64 << 10            # most a staged tile may take on the stack
BLOCK = 8                         # staging transposes BLOCK x BLOCK elements in registers
THREADS = (1, 2, 4, 8)
THREADS_KNOB_MIN = 1 << 15        # elements: below this a kernel is not worth a thread
# elements: from here the default uses every core. With the pool's workers awake a job costs
# ~1 us; measured on a quiet machine, 1 vs 2 threads: fma 2^16 9.7 / 9.0 us, 2^17 15.7 / 11.7,
# softmax 128x512 28.9 / 19.0, row-sum-and-subtract 256x512 16.2 / 12.5, 64x512 7.3 / 8.2.
THREADS_DEFAULT_MIN = 1 << 16


@dataclass(frozen=True)
class KernelFamily:
    """One kind of native kernel (loop nests, reductions, GEMM...): which instructions it takes,
    the knobs it declares, how it is emitted. `program.FAMILIES` lists them.

    claim(inst) -> None (not mine) or (computation, "") or (None, why it cannot be native);
    knobs(name, comp) -> [Knob]; emit(cx, fname, name, comp, config, nargs, param_arg, output_arg)
    -> ir.Function, with the argument convention of `emit_loop_kernel`."""
    name: str
    claim: Callable
    knobs: Callable
    emit: Callable


def wrap_one(inst) -> Computation:
    """A computation whose parameters are inst's operands and whose outputs are inst's results."""
    comp = Computation(f"{inst.name}.kernel")
    params = [comp.add_parameter(o.type, name=f"p{k}") for k, o in enumerate(inst.operands)]
    regions = [r.clone() for r in inst.regions]
    clone = Instruction(inst.opcode, params, inst.type, dict(inst.attrs), regions, loc=inst.loc,
                        multi=inst.multi)
    comp.insert(clone, name=inst.name)
    if inst.multi:
        comp.set_outputs([comp.add("get_tuple_element", [clone], t, {"index": k})
                          for k, t in enumerate(inst.type.elements)])
    else:
        comp.set_outputs([clone])
    return comp


def host_threads() -> int:
    n = os.cpu_count() or 1
    return max(t for t in THREADS if t <= max(n, 1))


def kernel_work(comp) -> int:
    return max((math.prod(g.shape) for g in output_groups(comp)), default=0)


def transposed_itemsize(comp) -> int:
    """Bytes per element of the widest parameter a tiled nest would read transposed (0: none)."""
    size = 0
    for g in output_groups(comp):
        partner = None if g.flat else transpose_partner(comp, g)
        if partner is None:
            continue
        for p, uses in param_dim_maps(comp, g).items():
            inner = next((d for d in range(len(p.shape) - 1, -1, -1) if p.shape[d] != 1), None)
            if inner is not None and any(dmap[inner] == partner for dmap, _ in uses):
                size = max(size, p.dtype.itemsize)
    return size


def default_tile(itemsize: int) -> int:
    """Rows of a tile such that each row of a transposed operand gives one whole cache line: a
    line read partly is read again from L2 (or DRAM) for the next tile, and more rows than that
    mean more concurrent output streams than the prefetchers follow (2048^2 f32 x^T + y: rows
    16 -> 1.3 ms, 64 -> 4 ms, 8 -> 2 ms, both cores)."""
    rows = max(8, 64 // max(itemsize, 1))
    return max(t for t in TILES if t <= rows)


def tile_columns(tile: int, tile_last: int, itemsize: int) -> int:
    """The last dim's block, clipped so that tile x columns elements fit in STAGE_BYTES."""
    cols = tile_last
    while cols > BLOCK and tile * cols * max(itemsize, 1) > STAGE_BYTES:
        cols //= 2
    return cols


@dataclass
class LoopKernelKnobs:
    vector_width: int = 0      # 0: LLVM's cost model decides; 1: no vectorization
    unroll: int = 0            # interleave count of the vectorized loop; 0: LLVM decides
    math: str = "approx"
    tile: int = 0              # tile rows over the transpose partner dim; 0: untiled
    tile_last: int = 128       # tile columns over the last dim
    threads: int = 1           # chunks of the outermost loop run on this many threads


def loop_kernel_knobs(name: str, comp) -> list[Knob]:
    owner = "cpu.loop"
    ks = [
        Knob(f"cpu.{name}.vector_width", VECTOR_WIDTHS, 0,
             "SIMD lanes of the innermost loop (0: LLVM's choice, 1: scalar)", owner),
        Knob(f"cpu.{name}.unroll", UNROLLS, 0,
             "interleave count of the innermost loop (0: LLVM's choice)", owner),
    ]
    transposed = transposed_itemsize(comp)
    if transposed:
        ks.append(Knob(f"cpu.{name}.tile", TILES, default_tile(transposed),
                       "tile rows: block of the dim a transposed operand is contiguous in "
                       "(0: plain row-major nest)", owner))
        ks.append(Knob(f"cpu.{name}.tile_last", TILE_LAST, 128,
                       "tile columns: block of the output's last dim (clipped so that a staged "
                       "tile fits in 64 KiB)", owner))
    work = kernel_work(comp)
    if work >= THREADS_KNOB_MIN:
        ks.append(Knob(f"cpu.{name}.threads", THREADS, host_threads() if work >= THREADS_DEFAULT_MIN else 1,
                       "threads sharing the outermost loop (the process's worker pool)",
                       owner))
    if uses_approx_math(comp):
        ks.append(Knob(f"cpu.{name}.math", MATH, "approx",
                       "transcendentals: xltune's vectorizable polynomials or the C library", owner))
    return ks


def read_loop_knobs(name: str, comp, config: Config) -> LoopKernelKnobs:
    vals = {k.name.rsplit(".", 1)[1]: config.value(k) for k in loop_kernel_knobs(name, comp)}
    return LoopKernelKnobs(**vals)


def emit_loop_kernel(cx: CodegenContext, fname: str, comp, knobs: LoopKernelKnobs, nargs: int,
                     param_arg: list[int], output_arg: list[int]) -> ir.Function:
    """nargs distinct (noalias) pointers; region parameter k reads args[param_arg[k]], output k
    writes args[output_arg[k]] (an in-place output shares its operand's pointer)."""
    # The elemental emitter recurses along operand chains: make room for long fused chains.
    depth = 8 * sum(1 for _ in comp.walk())       # ~frames per operand level, generously
    if depth > sys.getrecursionlimit() // 2:
        sys.setrecursionlimit(sys.getrecursionlimit() + depth)
    return _emit_loop_kernel(cx, fname, comp, knobs, nargs, param_arg, output_arg)


def _emit_loop_kernel(cx, fname, comp, knobs, nargs, param_arg, output_arg):
    if knobs.threads <= 1:
        return _emit_body(cx, fname, comp, knobs, nargs, param_arg, output_arg, chunked=False)
    body = _emit_body(cx, fname + ".body", comp, knobs, nargs, param_arg, output_arg, chunked=True)
    return emit_threaded(cx, fname, body, nargs, knobs.threads)


def _emit_body(cx, fname, comp, knobs, nargs, param_arg, output_arg, chunked: bool):
    extra = [T.I64, T.I64] if chunked else []
    fn = ir.Function(cx.module, ir.FunctionType(T.VOID, [T.PTR] * nargs + extra), name=fname)
    fn.linkage = "internal"
    fn.attributes.add("nounwind")
    fargs = list(fn.args)
    for a in fargs[:nargs]:
        a.add_attribute("noalias")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    chunk = (fargs[nargs], fargs[nargs + 1]) if chunked else None
    ptrs = [fargs[k] for k in param_arg] + [fargs[k] for k in output_arg]
    groups = output_groups(comp)
    # Staging buffers for transposed reads: allocated once, in the entry block.
    plans = {}
    cols = tile_columns(knobs.tile, knobs.tile_last, transposed_itemsize(comp)) if knobs.tile else 0
    for gi, g in enumerate(groups):
        partner = transpose_partner(comp, g) if (knobs.tile and not g.flat) else None
        staged = []
        if partner is not None:
            for st in staged_params(comp, g, partner):
                dt = st.param.dtype
                n = knobs.tile * cols * T.lanes(dt)
                buf = b.alloca(T.storage_type(dt), size=ir.Constant(T.I64, n))
                buf.align = 64
                staged.append((st, buf))
        plans[gi] = (partner, staged)
    opts = EmitOptions(math=knobs.math)

    def md(trip: int | None):
        """The innermost loop's hints: the knobs, fitted to its trip count."""
        return fitted_loop_metadata(cx.module, knobs.vector_width, knobs.unroll, trip)

    for gi, g in enumerate(groups):
        size = math.prod(g.shape)
        if size == 0:
            continue
        if size == 1:
            def one():
                emit_element(cx, b, opts, comp, g, Index(g.shape, coords=[c64(0)] * len(g.shape),
                                                          linear=c64(0)), ptrs)
            if chunked:
                with b.if_then(b.icmp_unsigned("==", chunk[0], c64(0))):
                    one()
            else:
                one()
            continue
        if g.flat:
            lo, hi = chunk_range(b, chunk, size, 64)
            with for_range(b, lo, hi, name="i", metadata=md(size)) as i:
                emit_element(cx, b, opts, comp, g, Index(g.shape, linear=i), ptrs)
            continue
        partner, staged = plans[gi]
        _emit_nest(cx, b, opts, comp, g, ptrs, md, partner, (knobs.tile, cols), staged, chunk)
    b.ret_void()
    return fn


def chunk_range(b, chunk, extent: int, unit: int):
    """[lo, hi) of chunk t of T over range(extent), cut at multiples of unit."""
    if chunk is None:
        return c64(0), c64(extent)
    t, n = chunk
    units = -(-extent // unit)
    lo = b.mul(b.udiv(b.mul(c64(units), t), n), c64(unit))
    hi = b.mul(b.udiv(b.mul(c64(units), b.add(t, c64(1))), n), c64(unit))
    return lo, _min(b, hi, extent)


def _emit_nest(cx, b, opts, comp, g, args, md, partner=None, tile=(0, 0), staged=(), chunk=None):
    dims = [d for d, n in enumerate(g.shape) if n != 1]
    coords = [c64(0)] * len(g.shape)
    last = len(g.shape) - 1
    rows, cols = tile
    tiled = (partner is not None and rows and partner in dims and last in dims
             and g.shape[partner] > rows and g.shape[last] > min(cols, BLOCK))

    readers = {}

    def element():
        emit_element(cx, b, opts, comp, g, Index(g.shape, coords=list(coords)), args, readers)

    def level(k):
        if k == len(dims):
            element()
            return
        d = dims[k]
        inner = k == len(dims) - 1
        lo, hi = chunk_range(b, chunk, g.shape[d], 1) if k == 0 else (0, g.shape[d])
        with for_range(b, lo, hi, name=f"d{d}", metadata=md(g.shape[d]) if inner else None) as i:
            coords[d] = i
            level(k + 1)

    def tiles(k):
        outer = [d for d in dims if d not in (partner, last)]
        if k < len(outer):
            d = outer[k]
            lo, hi = chunk_range(b, chunk, g.shape[d], 1) if k == 0 else (0, g.shape[d])
            with for_range(b, lo, hi, name=f"d{d}") as i:
                coords[d] = i
                tiles(k + 1)
            return
        # (partner, last) in rows x cols blocks; the last dim innermost and contiguous
        lo, hi = chunk_range(b, chunk, g.shape[partner], rows) if not outer else (0, g.shape[partner])
        with for_range(b, lo, hi, step=rows, name=f"t{partner}") as ta:
            with for_range(b, 0, g.shape[last], step=cols, name=f"t{last}") as tb:
                ea = _min(b, b.add(ta, c64(rows)), g.shape[partner])
                eb = _min(b, b.add(tb, c64(cols)), g.shape[last])
                for st, buf in staged:
                    _stage(b, st, buf, args[st.param.attrs["index"]], coords, partner, last, ta, tb,
                           ea, eb, cols)
                    readers[st.param] = _staged_reader(b, st, buf, ta, tb, cols)
                with for_range(b, ta, ea, name=f"d{partner}") as i:
                    coords[partner] = i
                    with for_range(b, tb, eb, name=f"d{last}",
                                   metadata=md(min(cols, g.shape[last]))) as j:
                        coords[last] = j
                        element()

    if tiled:
        tiles(0)
    else:
        level(0)


def _stage(b, st, buf, src, coords, partner, last, ta, tb, ea, eb, cols):
    """Copy the tile of a transposed parameter into buf[(i - ta) * cols + (j - tb)]. Whole
    BLOCK x BLOCK blocks go through registers: BLOCK vector loads along the parameter's
    contiguous dim, a shuffle transpose, BLOCK vector stores into buf's rows (LLVM vectorizes an
    element-by-element copy with scatters, which cost more than the rest of the kernel). Edges
    are copied element by element."""
    p = st.param
    dt = p.dtype
    size = p.dtype.itemsize
    vec = size in (1, 2, 4, 8)

    def at(ii, jj):
        pc = []
        for od in st.dmap:
            pc.append(c64(0) if od is None else ii if od == partner else jj if od == last
                      else coords[od])
        return linearize(b, pc, p.shape)

    def slot(ii, jj):
        return b.add(b.mul(b.sub(ii, ta), c64(cols)), b.sub(jj, tb))

    def scalar(j0, j1, i0, i1):
        with for_range(b, j0, j1, name="sj") as jj:
            with for_range(b, i0, i1, name="si") as ii:
                T.store(b, buf, dt, slot(ii, jj), T.load(b, src, dt, at(ii, jj)))

    if not vec:
        scalar(tb, eb, ta, ea)
        return
    blk = c64(BLOCK)
    eb_full = b.add(tb, b.mul(b.udiv(b.sub(eb, tb), blk), blk))
    ea_full = b.add(ta, b.mul(b.udiv(b.sub(ea, ta), blk), blk))
    elem = ir.IntType(8 * size)
    vty = ir.VectorType(elem, BLOCK)
    row_stride = math.prod(p.shape[st.along_last + 1:])
    with for_range(b, tb, eb_full, step=BLOCK, name="bj") as jj:
        with for_range(b, ta, ea_full, step=BLOCK, name="bi") as ii:
            base = at(ii, jj)
            rows = []
            for k in range(BLOCK):
                ptr = b.gep(src, [b.add(base, c64(k * row_stride))], inbounds=True, source_etype=elem)
                v = b.load(b.bitcast(ptr, vty.as_pointer()), typ=vty)
                v.align = size
                rows.append(v)
            for k, v in enumerate(_transpose_block(b, rows)):
                ptr = b.gep(buf, [slot(b.add(ii, c64(k)), jj)], inbounds=True, source_etype=elem)
                st_ = b.store(v, b.bitcast(ptr, vty.as_pointer()))
                st_.align = size
        scalar(jj, b.add(jj, blk), ea_full, ea)
    scalar(eb_full, eb, ta, ea)


def _transpose_block(b, rows):
    """Transpose BLOCK vectors of BLOCK lanes: at each level swap the off-diagonal h x h blocks
    of every 2h x 2h block ([[A, B], [C, D]] -> [[A, C], [B, D]]); after the levels h = n/2 ...
    1 every element has moved to its transposed place. Each swap is one shufflevector per row."""
    n = len(rows)
    rows = list(rows)
    h = n // 2
    while h:
        out = list(rows)
        for i in range(n):
            if i % (2 * h) >= h:
                continue
            j = i + h
            # lanes 0..n-1 of a shuffle are rows[i]'s, n..2n-1 rows[j]'s
            top = [c if c % (2 * h) < h else n + c - h for c in range(n)]
            bottom = [c + h if c % (2 * h) < h else n + c for c in range(n)]
            mask = lambda ix: ir.Constant(ir.VectorType(T.I32, n), ix)
            out[i] = b.shuffle_vector(rows[i], rows[j], mask(top))
            out[j] = b.shuffle_vector(rows[i], rows[j], mask(bottom))
        rows = out
        h //= 2
    return rows


def _staged_reader(b, st, buf, ta, tb, cols):
    def read(em, ix):
        c = em.coords(ix)
        slot = b.add(b.mul(b.sub(c[st.inner], ta), c64(cols)), b.sub(c[st.along_last], tb))
        return T.load(b, buf, st.param.dtype, slot)
    return read


def _min(b, v, n: int):
    return b.select(b.icmp_signed("<", v, c64(n)), v, c64(n))
