"""xltune's GEMM runtime: the tiled GEMM of `codegen/gemm.py` with its sizes and strides as
arguments, compiled once per host and micro-tile (object cache) and loaded once per process.

Why: LLVM spends 50-60 ms optimizing and compiling one emitted GEMM (the loop nest, the packing
loops and the register-blocked micro-kernel), most of a matmul's cold compile, while the code
hardly depends on the shapes. A dot kernel that needs nothing the generic routine cannot do
(`dot.py` decides: f32/f64 operands of the result's type, no fused epilogue, A read in place,
each operand axis one stride) calls this instead; its own IR is then a few dozen lines. XLA's
CPU backend does the same with a precompiled Eigen contraction.

    void xltune_rt_gemm_<f32|f64>_<R>x<V>(
        A, a_rs, a_ks,      A[m, k] at A + m*a_rs + k*a_ks        (elements)
        B, b_ks, b_ns,      B[k, n] at B + k*b_ks + n*b_ns
        C, ldc,             C[m, n] at C + m*ldc + n              (written, never read first)
        M, N, K,            the product's sizes (K >= 1)
        mc, kc, nc,         cache blocks (mc a multiple of R, nc of the panel width)
        bp)                 kc*nc elements, 64-byte aligned; NULL: no packing (a plain loop)

The loop nest, packing of B, micro-kernel (`GemmEmitter._micro`: R x V accumulator vectors in
registers, A broadcast where it is) and the order of every sum are those of the emitted GEMM
with `pack_a=False`, so results are the same bits. Partial sums between k blocks live in C.
"""
from __future__ import annotations

import re
import threading

from llvmlite import ir

from ...codegen import lltypes as T
from ...codegen.context import CodegenContext
from ...codegen.gemm import GemmEmitter, Tiles, contraction
from ...codegen.indexing import c64
from ...codegen.loops import for_range, loop_metadata
from ...ir import dtypes as D

PREFIX = "xltune_rt_gemm_"
_ARGS = ("A", "a_rs", "a_ks", "B", "b_ks", "b_ns", "C", "ldc", "M", "N", "K", "mc", "kc", "nc", "bp")


def name(dtype: str, micro: str) -> str:
    return f"{PREFIX}{dtype}_{micro}"


def signature() -> ir.FunctionType:
    P, I = T.PTR, T.I64
    return ir.FunctionType(T.VOID, [P, I, I, P, I, I, P, I, I, I, I, I, I, I, P])


def declare(cx: CodegenContext, dtype: str, micro: str) -> ir.Function:
    return cx.declare(name(dtype, micro), T.VOID, list(signature().args))


def _min(b, x, y):
    return b.select(b.icmp_signed("<", x, y), x, y)


def routine_ir(dtype: str, micro: str, lanes: int, triple: str = "") -> str:
    """The LLVM module holding one routine (see the module doc)."""
    dt = D.dtype(dtype)
    rows, vecs = map(int, micro.split("x"))
    nr = vecs * lanes
    module = ir.Module(name=name(dtype, micro))
    module.triple = triple
    cx = CodegenContext(module)
    # the emitter's micro-kernel and packing work on runtime extents; its Contraction here only
    # fixes the element types (the shapes never reach the code)
    em = GemmEmitter(cx, contraction((rows, 1), (1, nr), [], [], [1], [0]), dt, dt, dt,
                     Tiles(rows, nr, rows, 1, nr), lanes, pack_a=False)
    em.tiles = Tiles(rows, nr, rows, 1, nr)
    acc_t = em.acc.type

    fn = ir.Function(module, signature(), name=name(dtype, micro))
    fn.attributes.add("nounwind")
    args = dict(zip(_ARGS, fn.args))
    for k in ("A", "B", "C", "bp"):
        args[k].add_attribute("noalias")
    A, a_rs, a_ks, B, b_ks, b_ns, C, ldc, M, N, K, MC, KC, NC, bp = (args[k] for k in _ARGS)
    entry = fn.append_basic_block("entry")
    b = ir.IRBuilder(entry)
    tile = b.alloca(em.vec, size=c64(rows * vecs))
    tile.align = 64
    keep = loop_metadata(module, unroll=1)

    def at(base, *terms):
        off = terms[0]
        for t in terms[1:]:
            off = b.add(off, t)
        return b.gep(base, [off], source_etype=acc_t)

    with b.if_else(b.icmp_unsigned("==", b.ptrtoint(bp, T.I64), c64(0))) as (naive, tiled):
        with naive:
            # no packing buffer: every sum in the same order (k ascending), one at a time
            with for_range(b, 0, M, name="m", metadata=keep) as m:
                with for_range(b, 0, N, name="n") as n:
                    pre = b.block
                    head = b.append_basic_block("nk.head")
                    body = b.append_basic_block("nk.body")
                    done = b.append_basic_block("nk.done")
                    b.branch(head)
                    b.position_at_end(head)
                    k = b.phi(T.I64)
                    s = b.phi(acc_t)
                    k.add_incoming(c64(0), pre)
                    s.add_incoming(em.acc.zero(), pre)
                    b.cbranch(b.icmp_signed("<", k, K), body, done)
                    b.position_at_end(body)
                    x = b.load(at(A, b.mul(m, a_rs), b.mul(k, a_ks)), typ=acc_t)
                    y = b.load(at(B, b.mul(k, b_ks), b.mul(n, b_ns)), typ=acc_t)
                    s2 = b.fadd(s, b.fmul(x, y))
                    k.add_incoming(b.add(k, c64(1)), b.block)
                    s.add_incoming(s2, b.block)
                    b.branch(head)
                    b.position_at_end(done)
                    b.store(s, at(C, b.mul(m, ldc), n))
        with tiled:
            _tiled(b, em, args, tile, keep)
    b.ret_void()
    return str(module)


def _blocks(b, n, block, name, keep):
    """for (q = 0; q * block < n; q++) with a runtime block: yields (start, extent) of block q."""
    count = b.udiv(b.add(n, b.sub(block, c64(1))), block)
    return _BlockLoop(b, count, n, block, name, keep)


class _BlockLoop:
    def __init__(self, b, count, n, block, name, keep):
        self.b, self.count, self.n, self.block, self.name, self.keep = b, count, n, block, name, keep

    def __enter__(self):
        self.cm = for_range(self.b, 0, self.count, name=self.name, metadata=self.keep)
        q = self.cm.__enter__()
        b = self.b
        start = b.mul(q, self.block)
        return q, start, _min(b, b.sub(self.n, start), self.block)

    def __exit__(self, *exc):
        return self.cm.__exit__(*exc)


def _tiled(b, em: GemmEmitter, args, tile, keep):
    """The emitted GEMM's loop nest (GemmEmitter.emit_box for one product, A read in place)
    with runtime extents and strides. The common strides (1) get loops of their own, where
    LLVM sees contiguous memory."""
    A, a_rs, a_ks, B, b_ks, b_ns, C, ldc, M, N, K, MC, KC, NC, bp = (args[k] for k in _ARGS)
    t = em.tiles
    rows, nr = t.mr, t.nr
    acc_t = em.acc.type
    md = loop_metadata(em.cx.module, vector_width=0)
    one = c64(1)

    def gep(base, off):
        return b.gep(base, [off], source_etype=acc_t)

    with _blocks(b, N, NC, "jc", keep) as (_, jc, nc):
        with _blocks(b, K, KC, "pc", keep) as (qk, pc, kc):
            first = b.icmp_unsigned("==", qk, c64(0))
            _pack_b(b, em, B, b_ks, b_ns, bp, pc, kc, jc, nc, md)
            with _blocks(b, M, MC, "ic", keep) as (_, ic, mc):
                with for_range(b, 0, nc, step=nr, name="jr", metadata=keep) as jr:
                    nrv = _min(b, b.sub(nc, jr), c64(nr))
                    with for_range(b, 0, mc, step=rows, name="ir", metadata=keep) as ir_:
                        mrv = _min(b, b.sub(mc, ir_), c64(rows))
                        pb = gep(bp, b.mul(jr, kc))
                        row0 = b.add(ic, ir_)
                        base = gep(A, b.mul(pc, a_ks))
                        ptrs = []
                        for i in range(rows):
                            # rows past the valid ones read the last valid row (in bounds)
                            r = b.add(row0, b.select(b.icmp_signed("<", c64(i), mrv), c64(i), b.sub(mrv, one)))
                            ptrs.append(b.gep(base, [b.mul(r, a_rs)], source_etype=acc_t))
                        contiguous = b.icmp_unsigned("==", a_ks, one)
                        with b.if_else(contiguous) as (unit, strided):
                            with unit:
                                em._micro(b, lambda k, i: b.gep(ptrs[i], [k], source_etype=acc_t), pb, kc, tile)
                            with strided:
                                em._micro(b, lambda k, i: b.gep(ptrs[i], [b.mul(k, a_ks)], source_etype=acc_t),
                                          pb, kc, tile)
                        with for_range(b, 0, mrv, name="wi", metadata=keep) as i:
                            crow = gep(C, b.add(b.mul(b.add(row0, i), ldc), b.add(jc, jr)))
                            trow = b.mul(i, c64(nr))
                            with for_range(b, 0, nrv, name="wj", metadata=md) as j:
                                v = b.load(b.gep(tile, [b.add(trow, j)], source_etype=acc_t), typ=acc_t)
                                p = b.gep(crow, [j], source_etype=acc_t)
                                old = b.load(p, typ=acc_t)
                                b.store(b.select(first, v, b.fadd(old, v)), p)


def _pack_b(b, em: GemmEmitter, B, b_ks, b_ns, bp, pc, kc, jc, nc, md):
    """Bp[q][k][j] = B[pc + k, jc + q*NR + j] (0 past nc), as GemmEmitter._pack_b: the loop
    along B's contiguous axis innermost."""
    nr = em.tiles.nr
    acc_t = em.acc.type
    one = c64(1)
    npanels = b.udiv(b.add(nc, c64(nr - 1)), c64(nr))
    keep = loop_metadata(em.cx.module, unroll=1)
    with for_range(b, 0, npanels, name="q", metadata=keep) as q:
        panel = b.gep(bp, [b.mul(q, b.mul(kc, c64(nr)))], source_etype=acc_t)
        col0 = b.add(jc, b.mul(q, c64(nr)))
        width = _min(b, b.sub(nc, b.mul(q, c64(nr))), c64(nr))

        def element(ks, ns):
            def load(k, j):
                off = b.add(b.mul(b.add(pc, k), ks) if ks is not None else b.add(pc, k),
                            b.mul(b.add(col0, j), ns) if ns is not None else b.add(col0, j))
                return b.load(b.gep(B, [off], source_etype=acc_t), typ=acc_t)
            return load

        rows_contig = b.icmp_unsigned("==", b_ns, one)
        with b.if_else(rows_contig) as (rows_, other):
            with rows_:
                em._pack_panel(b, panel, kc, nr, width, element(b_ks, None), True, md)
            with other:
                cols_contig = b.icmp_unsigned("==", b_ks, one)
                with b.if_else(cols_contig) as (cols_, generic):
                    with cols_:
                        em._pack_panel(b, panel, kc, nr, width, element(None, b_ns), False, md)
                    with generic:
                        em._pack_panel(b, panel, kc, nr, width, element(b_ks, b_ns), False, md)


# ---- loading (once per process; the object once per host) ------------------------------------------------
# O2 passes: the routine's hot code is written out (micro-kernel) or simple loops LLVM vectorizes
# at O2 as well; 1024^3 8.75 / 8.77 ms, 512x512x64 0.158 / 0.157 ms at O3 / O2, while compiling
# a routine takes 132 ms instead of 196
SPEED_LEVEL = 2
_loaded: dict[str, object] = {}
_lock = threading.Lock()
_NAME = re.compile(re.escape(PREFIX) + r"(f32|f64)_(\d+x\d+)")


def lanes_of(dtype: str) -> int:
    from .llvm_target import host
    return max(1, host().vector_bits // (32 if dtype == "f32" else 64))


def address(dtype: str, micro: str) -> int:
    """The routine's address: compiled (or taken from the object cache) and loaded on first use."""
    fname = name(dtype, micro)
    with _lock:
        lib = _loaded.get(fname)
        if lib is None:
            from .llvm_target import host
            from .objcache import runtime_object
            target = host()
            compiled = runtime_object(routine_ir(dtype, micro, lanes_of(dtype), target.triple), SPEED_LEVEL)
            lib = target.load(compiled.object_images, [fname])   # kept for the process
            _loaded[fname] = lib
        return lib[fname]


def imports_for(ir_text: str) -> dict[str, int]:
    """Addresses of the routines an IR module calls (empty when it calls none)."""
    if PREFIX not in ir_text:
        return {}
    return {m.group(0): address(m.group(1), m.group(2)) for m in _NAME.finditer(ir_text)}


__all__ = ["PREFIX", "name", "signature", "declare", "routine_ir", "address", "imports_for", "lanes_of"]
