"""Dot products in LLVM IR, target independent: the canonical form of a `dot_general` and a
tiled GEMM with packing, a register-blocked micro-kernel and a per-element write-back hook
(where a backend applies a fused epilogue).

Canonical form (`Contraction`): every dot_general is a batch of products C[M, N] = A[M, K] @
B[K, N]. Each logical axis (batch, M, N, K) is a list of (size, stride) pairs over the
operand's row-major storage, so transposed or oddly laid out operands are read where they are
(no copies): an axis of one pair is affine (`offset = i * stride`), longer ones are
delinearized (constant divisors). The result is row-major [batch..., M..., N...], so C is
always contiguous with leading dimension N.

The GEMM (the loop structure of BLIS / Goto's algorithm):

    for b  in [b0, b1)                       (one C[M, N] product of the batch)
     for jc in [n0, n1) step NC
      for pc in [0, K) step KC
       pack B[pc:pc+kc, jc:jc+nc] into NR-wide panels, k-major   (Bp, zero-padded)
       for ic in [m0, m1) step MC
        pack A[ic:ic+mc, pc:pc+kc] into MR-high panels, k-major  (Ap, zero-padded)
        for jr in [0, nc) step NR, ir in [0, mc) step MR:
          micro-kernel: MR x NR accumulators held as MR x (NR / lanes) vectors, one vector
          load of Bp and MR broadcasts of Ap per k, fused multiply-adds
          write-back of the tile (partial sums while k blocks remain, else the final value
          through the caller's `final` hook: conversion, epilogue, store)

Operands are converted to the result type while they are packed (StableHLO's semantics, as the
interpreter: convert, then accumulate in f32 for f16/bf16/f32, f64, or wrapping integers) so the
micro-kernel only ever sees the accumulator type. The box [b0, b1) x [m0, m1) x [n0, n1) lets a
backend split the work between threads.

Complex dots use `emit_naive` (one product at a time in the element type, like the
interpreter).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from llvmlite import ir

from ..ir.dtypes import DType
from . import lltypes as T
from .context import CodegenContext, EmitOptions
from .indexing import c64
from .loops import for_range, loop_metadata
from .scalar import convert_value


# ---- canonical form --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Axis:
    """A logical axis of an operand: (size, stride) pairs, outermost first, unit dims dropped."""
    dims: tuple[tuple[int, int], ...]

    @property
    def extent(self) -> int:
        return math.prod(s for s, _ in self.dims)

    @property
    def stride(self) -> int | None:
        """The element stride when the axis is affine (0 for an axis of extent <= 1), else None."""
        if not self.dims:
            return 0
        return self.dims[0][1] if len(self.dims) == 1 else None

    def offset(self, b: ir.IRBuilder, i):
        """Element offset of index i (an i64 value) along this axis."""
        if not self.dims:
            return c64(0)
        if len(self.dims) == 1:
            return _mul(b, i, self.dims[0][1])
        acc = None
        rest = i
        for k in range(len(self.dims) - 1, -1, -1):
            size, stride = self.dims[k]
            if k == 0:
                c = rest
            else:
                c = b.urem(rest, c64(size))
                rest = b.udiv(rest, c64(size))
            term = _mul(b, c, stride)
            acc = term if acc is None else b.add(acc, term)
        return acc


def _mul(b, i, k: int):
    if k == 0:
        return c64(0)
    return i if k == 1 else b.mul(i, c64(k))


def _merge(sizes: list[int], strides: list[list[int]]) -> list[tuple[int, list[int]]]:
    """Drop unit dims and merge neighbours that are contiguous in every stride list:
    [(size, [stride per list]), ...]."""
    out: list[tuple[int, list[int]]] = []
    for k, size in enumerate(sizes):
        if size == 1:
            continue
        st = [s[k] for s in strides]
        if out:
            psize, pst = out[-1]
            if all(p == s * size for p, s in zip(pst, st)):
                out[-1] = (psize * size, st)
                continue
        out.append((size, st))
    return out


def _axes(sizes, strides_lists) -> list[Axis]:
    merged = _merge(list(sizes), [list(s) for s in strides_lists])
    return [Axis(tuple((size, st[j]) for size, st in merged)) for j in range(len(strides_lists))]


def row_major_strides(shape) -> list[int]:
    out, acc = [0] * len(shape), 1
    for i in range(len(shape) - 1, -1, -1):
        out[i] = acc
        acc *= shape[i]
    return out


@dataclass(frozen=True)
class Contraction:
    """C[b, m, n] = sum_k A[b, m, k] * B[b, k, n] over operand storage (see the module doc)."""
    a_batch: Axis
    b_batch: Axis
    a_m: Axis
    a_k: Axis
    b_k: Axis
    b_n: Axis
    out_shape: tuple[int, ...]
    batch_shape: tuple[int, ...]     # the result's batch dims, M dims and N dims (for coordinates)
    m_shape: tuple[int, ...]
    n_shape: tuple[int, ...]

    @property
    def B(self) -> int:
        return math.prod(self.batch_shape)

    @property
    def M(self) -> int:
        return math.prod(self.m_shape)

    @property
    def N(self) -> int:
        return math.prod(self.n_shape)

    @property
    def K(self) -> int:
        return self.a_k.extent

    @property
    def flops(self) -> int:
        return 2 * self.B * self.M * self.N * self.K


def contraction(lhs_shape, rhs_shape, lb, rb, lc, rc) -> Contraction:
    """The canonical form of dot_general(lhs, rhs) with these batch / contracting dims."""
    lhs_shape, rhs_shape = tuple(lhs_shape), tuple(rhs_shape)
    ls, rs = row_major_strides(lhs_shape), row_major_strides(rhs_shape)
    lb, rb, lc, rc = list(lb), list(rb), list(lc), list(rc)
    lf = [d for d in range(len(lhs_shape)) if d not in lb and d not in lc]
    rf = [d for d in range(len(rhs_shape)) if d not in rb and d not in rc]
    a_batch, b_batch = _axes([lhs_shape[d] for d in lb], [[ls[d] for d in lb], [rs[d] for d in rb]])
    a_m, = _axes([lhs_shape[d] for d in lf], [[ls[d] for d in lf]])
    b_n, = _axes([rhs_shape[d] for d in rf], [[rs[d] for d in rf]])
    # K: the pairs may be walked in any order shared by both operands; prefer the one that
    # leaves the fewest pieces (ideally one affine axis each, which BLAS needs).
    pairs = list(zip(lc, rc))
    best = None
    for order in (pairs, sorted(pairs, key=lambda p: -ls[p[0]]), sorted(pairs, key=lambda p: -rs[p[1]])):
        ak, bk = _axes([lhs_shape[l] for l, _ in order], [[ls[l] for l, _ in order], [rs[r] for _, r in order]])
        if best is None or len(ak.dims) < len(best[0].dims):
            best = (ak, bk)
    a_k, b_k = best
    batch_shape = tuple(lhs_shape[d] for d in lb)
    m_shape = tuple(lhs_shape[d] for d in lf)
    n_shape = tuple(rhs_shape[d] for d in rf)
    return Contraction(a_batch, b_batch, a_m, a_k, b_k, b_n, batch_shape + m_shape + n_shape,
                       batch_shape, m_shape, n_shape)


# ---- accumulator types ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Accumulator:
    """How a result dtype accumulates: f32 for f16/bf16/f32, f64, and integers wrapping at 32 or
    64 bits (the low bits of a wrapping sum do not depend on the width it wrapped at); pred
    sums 0/1 products in i32 and tests for non-zero."""
    kind: str          # "float" | "int"
    type: ir.Type

    @property
    def nbytes(self) -> int:
        return 8 if self.type in (T.F64, T.I64) else 4

    def zero(self):
        return ir.Constant(self.type, 0.0 if self.kind == "float" else 0)


def accumulator(dt: DType) -> Accumulator | None:
    """None for element types the tiled GEMM does not handle (complex: see emit_naive)."""
    if dt.is_complex or not T.supported_dtype(dt):
        return None
    if dt.is_float:
        return Accumulator("float", T.F64 if dt.name == "f64" else T.F32)
    if dt.is_pred or dt.bits <= 32:
        return Accumulator("int", T.I32)
    return Accumulator("int", T.I64)


class _Ctx:
    """What scalar.convert_value needs (builder, context, options)."""

    def __init__(self, cx, b):
        self.cx, self.b, self.opts = cx, b, EmitOptions()


def to_acc(cx, b, acc: Accumulator, v, src: DType, out: DType):
    """A loaded operand value (compute value of src) as an accumulator value: converted to the
    result type first (StableHLO's dot semantics), then widened."""
    v = convert_value(_Ctx(cx, b), v, src, out)
    if acc.kind == "float":
        return v if v.type == acc.type else b.fpext(v, acc.type)
    w = v.type.width
    if w == acc.type.width:
        return v
    if w > acc.type.width:
        return b.trunc(v, acc.type)
    return b.zext(v, acc.type) if (out.is_pred or not out.is_signed) else b.sext(v, acc.type)


def from_acc(b, acc: Accumulator, v, out: DType):
    """The final sum as a compute value of the result type."""
    if out.is_pred:
        return b.icmp_unsigned("!=", v, ir.Constant(acc.type, 0))
    if acc.kind == "float":
        ct = T.compute_type(out)
        v = v if v.type == ct else b.fptrunc(v, ct)
        return T.round_to(b, out, v) if T.is_narrow_float(out) else v
    ct = T.compute_type(out)
    return v if ct.width == acc.type.width else b.trunc(v, ct)


# ---- tiles --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tiles:
    mr: int      # micro-tile rows (broadcasts of A per k)
    nr: int      # micro-tile columns, a multiple of the vector lanes
    mc: int      # rows of A packed at once (rounded up to mr)
    kc: int      # depth of one packed block
    nc: int      # columns of B packed at once (rounded up to nr)

    def normalized(self, con: Contraction) -> "Tiles":
        """Blocks no larger than the problem (smaller buffers, same loops)."""
        mc = min(_round_up(self.mc, self.mr), _round_up(max(con.M, 1), self.mr))
        nc = min(_round_up(self.nc, self.nr), _round_up(max(con.N, 1), self.nr))
        kc = max(1, min(self.kc, max(con.K, 1)))
        return Tiles(self.mr, self.nr, mc, kc, nc)


def _round_up(x: int, m: int) -> int:
    return -(-x // m) * m


# ---- emission ------------------------------------------------------------------------------------------------
FinalHook = Callable[[ir.IRBuilder, object, object, object, object], None]
"""final(b, bidx, m, n, value): store the finished result element (b, m, n) given its
accumulator value (the backend converts it, applies any epilogue and stores)."""


class GemmEmitter:
    """Emits the tiled GEMM of one Contraction into the function being built.

    lanes: vector lanes of the accumulator type (the backend takes it from the target).
    """

    def __init__(self, cx: CodegenContext, con: Contraction, lhs_dt: DType, rhs_dt: DType, out_dt: DType,
                 tiles: Tiles, lanes: int, pack_a: bool = True, a_loader=None):
        acc = accumulator(out_dt)
        if acc is None:
            raise T.NotLowerable(f"no tiled GEMM for {out_dt} results")
        if tiles.nr % lanes:
            raise ValueError(f"micro-tile width {tiles.nr} is not a multiple of {lanes} lanes")
        self.cx, self.con = cx, con
        self.lhs_dt, self.rhs_dt, self.out_dt = lhs_dt, rhs_dt, out_dt
        self.acc = acc
        self.tiles = tiles.normalized(con)
        self.lanes = lanes
        self.vec = ir.VectorType(acc.type, lanes)
        # a_loader(b, bi, m, k) -> compute value of lhs_dt: A is computed, not stored (e.g.
        # convolution patches); else A is read at its Axis offsets
        self.a_loader = a_loader
        # A read in place by the micro-kernel (no packing pass) when that is possible at all
        self.pack_a = pack_a or a_loader is not None or not self.can_read_a_in_place(con, lhs_dt, out_dt)

    @staticmethod
    def can_read_a_in_place(con: Contraction, lhs_dt: DType, out_dt: DType) -> bool:
        """The micro-kernel can broadcast A's elements straight from its storage: they are
        accumulator values already (no conversion) and rows and k are each one stride."""
        acc = accumulator(out_dt)
        return (acc is not None and lhs_dt == out_dt and T.storage_type(lhs_dt) == acc.type
                and con.a_m.stride is not None and con.a_k.stride is not None)

    # sizes of the buffers the caller provides (elements of the accumulator type)
    @property
    def a_pack_elems(self) -> int:
        return self.tiles.mc * self.tiles.kc if self.pack_a else 0

    @property
    def b_pack_elems(self) -> int:
        return self.tiles.nc * self.tiles.kc

    @property
    def k_blocks(self) -> int:
        return max(1, -(-self.con.K // self.tiles.kc))

    def needs_partials(self) -> bool:
        """Partial sums must be kept between k blocks (in C or a scratch of C's size)."""
        return self.k_blocks > 1

    # ---- B packed once for every chunk ---------------------------------------------------------------
    @property
    def n_panels(self) -> int:
        return -(-self.con.N // self.tiles.nr)

    @property
    def b_all_elems(self) -> int:
        """Accumulator elements of all of B packed: per batch element, per k block (at offset
        pc * Npad), its NR-wide panels (kc x NR each)."""
        return self.con.B * self.con.K * self.n_panels * self.tiles.nr

    def emit_pack_b_all(self, b: ir.IRBuilder, bmat, bp_all, lo, hi):
        """Pack units [lo, hi) of B into bp_all, a unit being (batch element, NR-wide panel)
        over every k block: the shared B of `emit_box(..., b_packed=True)`."""
        con, t = self.con, self.tiles
        npan = self.n_panels
        npad = npan * t.nr
        with for_range(b, lo, hi, name="u") as u:
            bi = b.udiv(u, c64(npan))
            q = b.urem(u, c64(npan))
            bbase = con.b_batch.offset(b, bi)
            col = b.mul(q, c64(t.nr))
            width = _min(b, b.sub(c64(con.N), col), t.nr)
            with for_range(b, 0, con.K, step=t.kc, name="pc") as pc:
                kc = _min(b, b.sub(c64(con.K), pc), t.kc)
                dst = b.add(b.mul(bi, c64(con.K * npad)), b.add(b.mul(pc, c64(npad)), b.mul(col, kc)))
                self._pack_b(b, bmat, b.gep(bp_all, [dst], source_etype=self.acc.type), bbase, pc, kc, col, width)

    # ---- the box --------------------------------------------------------------------------------------
    def emit_box(self, b: ir.IRBuilder, a, bmat, ap, bp, box, final: FinalHook, partial=None,
                 b_packed: bool = False):
        """The GEMM over box = (b0, b1, m0, m1, n0, n1) (i64 values or ints). a, bmat: operand
        storage; ap, bp: packing buffers (a_pack_elems / b_pack_elems accumulator elements,
        64-byte aligned); partial: C-sized accumulator storage when needs_partials().
        b_packed: bp holds all of B already (emit_pack_b_all); n0 is then a multiple of NR."""
        con, t = self.con, self.tiles
        b0, b1, m0, m1, n0, n1 = [x if isinstance(x, ir.Value) else c64(x) for x in box]
        if con.K == 0:
            with for_range(b, b0, b1, name="bi") as bi:
                self._fill(b, bi, m0, m1, n0, n1, final)
            return
        tile = b.alloca(self.vec, size=c64(t.mr * t.nr // self.lanes))
        tile.align = 64
        with for_range(b, b0, b1, name="bi") as bi:
            abase = con.a_batch.offset(b, bi)
            bbase = con.b_batch.offset(b, bi)
            with for_range(b, n0, n1, step=t.nc, name="jc") as jc:
                nc = _min(b, b.sub(n1, jc), t.nc)
                with for_range(b, 0, con.K, step=t.kc, name="pc") as pc:
                    kc = _min(b, b.sub(c64(con.K), pc), t.kc)
                    if b_packed:
                        npad = self.n_panels * t.nr
                        block = b.add(b.mul(bi, c64(con.K * npad)), b.add(b.mul(pc, c64(npad)), b.mul(jc, kc)))
                        bpanels = b.gep(bp, [block], source_etype=self.acc.type)
                    else:
                        self._pack_b(b, bmat, bp, bbase, pc, kc, jc, nc)
                        bpanels = bp
                    with for_range(b, m0, m1, step=t.mc, name="ic") as ic:
                        mc = _min(b, b.sub(m1, ic), t.mc)
                        if self.pack_a:
                            self._pack_a(b, a, ap, bi, abase, ic, mc, pc, kc)
                        with for_range(b, 0, nc, step=t.nr, name="jr") as jr:
                            nr = _min(b, b.sub(nc, jr), t.nr)
                            with for_range(b, 0, mc, step=t.mr, name="ir") as ir_:
                                mr = _min(b, b.sub(mc, ir_), t.mr)
                                pb = b.gep(bpanels, [b.mul(jr, kc)], source_etype=self.acc.type)
                                if self.pack_a:
                                    pa = b.gep(ap, [b.mul(ir_, kc)], source_etype=self.acc.type)
                                    a_at = self._packed_a(b, pa)
                                else:
                                    a_at = self._a_in_place(b, a, abase, b.add(ic, ir_), mr, pc)
                                self._micro(b, a_at, pb, kc, tile)
                                self._write_back(b, tile, bi, b.add(ic, ir_), b.add(jc, jr), mr, nr, pc, kc,
                                                 final, partial)

    def _fill(self, b, bi, m0, m1, n0, n1, final):
        """K == 0: every result is the empty sum."""
        md = loop_metadata(self.cx.module, vector_width=0)
        with for_range(b, m0, m1, name="m") as m:
            with for_range(b, n0, n1, name="n", metadata=md) as n:
                final(b, bi, m, n, self.acc.zero())

    # ---- packing ------------------------------------------------------------------------------------------
    def _load(self, b, base, dt: DType, off):
        return to_acc(self.cx, b, self.acc, T.load(b, base, dt, off), dt, self.out_dt)

    def _pack_b(self, b, bmat, bp, bbase, pc, kc, jc, nc):
        """Bp[q][k][j] = B[pc + k, jc + q*NR + j] (0 past nc): panels of NR columns."""
        con, nr = self.con, self.tiles.nr
        acc_t = self.acc.type
        bk, bn = con.b_k, con.b_n
        md = loop_metadata(self.cx.module, vector_width=0)
        n_contig = bn.stride is not None and (bk.stride is None or abs(bn.stride) <= abs(bk.stride))
        npanels = b.udiv(b.add(nc, c64(nr - 1)), c64(nr))
        with for_range(b, 0, npanels, name="q") as q:
            panel = b.gep(bp, [b.mul(q, b.mul(kc, c64(nr)))], source_etype=acc_t)
            col0 = b.mul(q, c64(nr))
            width = _min(b, b.sub(nc, col0), nr)

            def element(k, j):
                col = b.add(jc, b.add(col0, j))
                off = b.add(bbase, b.add(bk.offset(b, b.add(pc, k)), bn.offset(b, col)))
                return self._load(b, bmat, self.rhs_dt, off)

            self._pack_panel(b, panel, kc, nr, width, element, n_contig, md)

    def _pack_a(self, b, a, ap, bi, abase, ic, mc, pc, kc):
        """Ap[p][k][i] = A[ic + p*MR + i, pc + k] (0 past mc): panels of MR rows."""
        con, mr = self.con, self.tiles.mr
        acc_t = self.acc.type
        am, ak = con.a_m, con.a_k
        md = loop_metadata(self.cx.module, vector_width=0)
        m_contig = (self.a_loader is None and am.stride is not None
                    and (ak.stride is None or abs(am.stride) < abs(ak.stride)))
        npanels = b.udiv(b.add(mc, c64(mr - 1)), c64(mr))
        with for_range(b, 0, npanels, name="p") as p:
            panel = b.gep(ap, [b.mul(p, b.mul(kc, c64(mr)))], source_etype=acc_t)
            row0 = b.mul(p, c64(mr))
            height = _min(b, b.sub(mc, row0), mr)

            def element(k, i):
                row = b.add(ic, b.add(row0, i))
                if self.a_loader is not None:
                    v = self.a_loader(b, bi, row, b.add(pc, k))
                    return to_acc(self.cx, b, self.acc, v, self.lhs_dt, self.out_dt)
                off = b.add(abase, b.add(am.offset(b, row), ak.offset(b, b.add(pc, k))))
                return self._load(b, a, self.lhs_dt, off)

            self._pack_panel(b, panel, kc, mr, height, element, m_contig, md)

    def _pack_panel(self, b, panel, kc, width: int, valid, element, wide_contig: bool, md):
        """panel[k*width + j] = element(k, j) for j < valid, else 0. The loop along the operand's
        contiguous axis is innermost (reads stream, LLVM vectorizes it)."""
        acc_t = self.acc.type
        full = b.icmp_signed("==", valid, c64(width))

        def put(k, j):
            b.store(element(k, j), b.gep(panel, [b.add(b.mul(k, c64(width)), j)], source_etype=acc_t))

        # the outer loops stay loops: LLVM unrolled them around the vectorized inner loop (8 copies
        # of a 157-line scatter loop in attention), +40% IR and +20% compile time for no speed
        keep = loop_metadata(self.cx.module, unroll=1)

        def loops(jn):
            if wide_contig:
                with for_range(b, 0, kc, name="pk", metadata=keep) as k:
                    with for_range(b, 0, jn, name="pj", metadata=md) as j:
                        put(k, j)
            else:
                with for_range(b, 0, jn, name="pj", metadata=keep) as j:
                    with for_range(b, 0, kc, name="pk", metadata=md) as k:
                        put(k, j)

        with b.if_else(full) as (then, otherwise):
            with then:
                loops(c64(width))          # constant trip count: the common, full panel
            with otherwise:
                loops(valid)
                with for_range(b, 0, kc, name="zk", metadata=keep) as k:
                    with for_range(b, valid, width, name="zj") as j:
                        b.store(self.acc.zero(), b.gep(panel, [b.add(b.mul(k, c64(width)), j)],
                                                       source_etype=acc_t))

    # ---- micro-kernel -----------------------------------------------------------------------------------
    def _packed_a(self, b, pa):
        mr = self.tiles.mr
        acc_t = self.acc.type

        def at(k, i):
            return b.gep(pa, [b.add(b.mul(k, c64(mr)), c64(i))], source_etype=acc_t)
        return at

    def _a_in_place(self, b, a, abase, row0, mr, pc):
        """A[row0 + i, pc + k] in A's storage; rows past the tile's mr valid ones read the last
        valid row (in bounds; their results are never stored)."""
        con = self.con
        acc_t = self.acc.type
        sk = con.a_k.stride
        base = b.add(abase, _mul(b, pc, sk))
        rows = []
        for i in range(self.tiles.mr):
            r = b.add(row0, b.select(b.icmp_signed("<", c64(i), mr), c64(i), b.sub(mr, c64(1))))
            rows.append(b.gep(a, [b.add(base, _mul(b, r, con.a_m.stride))], source_etype=acc_t))

        def at(k, i):
            return b.gep(rows[i], [_mul(b, k, sk)], source_etype=acc_t)
        return at

    def _micro(self, b, a_at, pb, kc, tile):
        """tile[i*NR + j] = sum_k A(k, i) * pb[k*NR + j], accumulators in registers; a_at(k, i)
        is the address of A's element (packed panel or A itself)."""
        t, lanes, vec = self.tiles, self.lanes, self.vec
        nv = t.nr // lanes
        acc_t = self.acc.type
        is_float = self.acc.kind == "float"
        pre = b.block
        header = b.append_basic_block("mk.header")
        body = b.append_basic_block("mk.body")
        done = b.append_basic_block("mk.done")
        b.branch(header)
        b.position_at_end(header)
        k = b.phi(T.I64, name="mk")
        k.add_incoming(c64(0), pre)
        accs = []
        zero = ir.Constant(vec, None)       # zeroinitializer
        for i in range(t.mr):
            row = []
            for j in range(nv):
                ph = b.phi(vec, name=f"c{i}_{j}")
                ph.add_incoming(zero, pre)
                row.append(ph)
            accs.append(row)
        b.cbranch(b.icmp_signed("<", k, kc), body, done)
        b.position_at_end(body)
        bvals = []
        bk = b.gep(pb, [b.mul(k, c64(t.nr))], source_etype=acc_t)
        for j in range(nv):
            ld = b.load(b.gep(bk, [c64(j * lanes)], source_etype=acc_t), typ=vec)
            ld.align = lanes * self.acc.nbytes if (t.nr * self.acc.nbytes) % 64 == 0 else self.acc.nbytes
            bvals.append(ld)
        new = []
        undef = ir.Constant(vec, ir.Undefined)
        mask = ir.Constant(ir.VectorType(T.I32, lanes), [0] * lanes)
        for i in range(t.mr):
            s = b.load(a_at(k, i), typ=acc_t)
            splat = b.shuffle_vector(b.insert_element(undef, s, ir.Constant(T.I32, 0)), undef, mask)
            row = []
            for j in range(nv):
                if is_float:
                    v = self.cx.intrinsic(b, f"llvm.fma.v{lanes}{_sfx(acc_t)}", [splat, bvals[j], accs[i][j]])
                else:
                    v = b.add(accs[i][j], b.mul(splat, bvals[j]))
                row.append(v)
            new.append(row)
        nxt = b.add(k, c64(1), flags=("nuw", "nsw"))
        b.branch(header)
        k.add_incoming(nxt, b.block)
        for i in range(t.mr):
            for j in range(nv):
                accs[i][j].add_incoming(new[i][j], b.block)
        b.position_at_end(done)
        for i in range(t.mr):
            for j in range(nv):
                # the tile holds whole vectors: index it in vector units
                st = b.store(accs[i][j], b.gep(tile, [c64(i * nv + j)], source_etype=vec))
                st.align = 64 if ((i * t.nr + j * lanes) * self.acc.nbytes) % 64 == 0 else self.acc.nbytes

    # ---- write-back ---------------------------------------------------------------------------------------
    def _write_back(self, b, tile, bi, m, n, mr, nr, pc, kc, final: FinalHook, partial):
        """Tile rows [m, m+mr) x columns [n, n+nr) of product bi: partial sums while k blocks
        remain, the final value (plus earlier partials) through `final` at the last one."""
        t, con = self.tiles, self.con
        acc_t = self.acc.type
        md = loop_metadata(self.cx.module, vector_width=0)
        nkb = self.k_blocks
        plane = c64(con.M * con.N)

        def tile_at(i, j):
            return b.load(b.gep(tile, [b.add(b.mul(i, c64(t.nr)), j)], source_etype=acc_t), typ=acc_t)

        def part_ptr(i, j):
            off = b.add(b.mul(bi, plane), b.add(b.mul(b.add(m, i), c64(con.N)), b.add(n, j)))
            return b.gep(partial, [off], source_etype=acc_t)

        def add(x, y):
            return b.fadd(x, y) if self.acc.kind == "float" else b.add(x, y)

        keep = loop_metadata(self.cx.module, unroll=1)     # rows of the tile: see _pack_panel

        def finish(with_partial: bool):
            with for_range(b, 0, mr, name="wi", metadata=keep) as i:
                with for_range(b, 0, nr, name="wj", metadata=md) as j:
                    v = tile_at(i, j)
                    if with_partial:
                        v = add(b.load(part_ptr(i, j), typ=acc_t), v)
                    final(b, bi, b.add(m, i), b.add(n, j), v)

        if nkb == 1:
            finish(False)
            return
        if partial is None:
            raise ValueError("a GEMM with several k blocks needs partial-sum storage")
        first = b.icmp_signed("==", pc, c64(0))
        last = b.icmp_signed(">=", b.add(pc, kc), c64(con.K))
        with b.if_else(last) as (then, otherwise):
            with then:
                finish(True)        # (nkb > 1: the last block is never the first)
            with otherwise:
                with for_range(b, 0, mr, name="pi", metadata=keep) as i:
                    with for_range(b, 0, nr, name="pj", metadata=md) as j:
                        p = part_ptr(i, j)
                        v = tile_at(i, j)
                        old = b.load(p, typ=acc_t)
                        b.store(b.select(first, v, add(old, v)), p)


def _sfx(t: ir.Type) -> str:
    return "f64" if t == T.F64 else "f32"


def _min(b, v, n: int):
    return b.select(b.icmp_signed("<", v, c64(n)), v, c64(n))


# ---- one product at a time ------------------------------------------------------------------------------
def emit_naive(cx: CodegenContext, b: ir.IRBuilder, con: Contraction, lhs_dt: DType, rhs_dt: DType,
               out_dt: DType, a, bmat, box, final: FinalHook, a_loader=None):
    """C[b, m, n] summed one product at a time, no packing: complex results (the interpreter's
    order and rounding: each product in the element type, then added), and any result when
    there is no memory for packing buffers. final gets the accumulator value (real results) or
    the (re, im) compute value (complex). a_loader: as for GemmEmitter."""
    from .scalar import _cmul  # the complex product in the element type
    b0, b1, m0, m1, n0, n1 = [x if isinstance(x, ir.Value) else c64(x) for x in box]
    ctx = _Ctx(cx, b)
    acc = accumulator(out_dt)
    if acc is None and not out_dt.is_complex:
        raise T.NotLowerable(f"no dot for {out_dt} results")
    types = [acc.type] if acc is not None else [T.compute_type(out_dt)] * 2
    zeros = [acc.zero()] if acc is not None else [ir.Constant(types[0], 0.0)] * 2
    with for_range(b, b0, b1, name="bi") as bi:
        abase = con.a_batch.offset(b, bi)
        bbase = con.b_batch.offset(b, bi)
        with for_range(b, m0, m1, name="m") as m:
            arow = b.add(abase, con.a_m.offset(b, m))
            with for_range(b, n0, n1, name="n") as n:
                bcol = b.add(bbase, con.b_n.offset(b, n))
                pre = b.block
                header = b.append_basic_block("nk.header")
                body = b.append_basic_block("nk.body")
                done = b.append_basic_block("nk.done")
                b.branch(header)
                b.position_at_end(header)
                k = b.phi(T.I64)
                k.add_incoming(c64(0), pre)
                sums = []
                for t_, z in zip(types, zeros):
                    ph = b.phi(t_)
                    ph.add_incoming(z, pre)
                    sums.append(ph)
                b.cbranch(b.icmp_signed("<", k, c64(con.K)), body, done)
                b.position_at_end(body)
                if a_loader is not None:
                    x = a_loader(b, bi, m, k)
                else:
                    x = T.load(b, a, lhs_dt, b.add(arow, con.a_k.offset(b, k)))
                y = T.load(b, bmat, rhs_dt, b.add(bcol, con.b_k.offset(b, k)))
                if acc is not None:
                    x = to_acc(cx, b, acc, x, lhs_dt, out_dt)
                    y = to_acc(cx, b, acc, y, rhs_dt, out_dt)
                    if acc.kind == "float":
                        new = [b.fadd(sums[0], b.fmul(x, y))]
                    else:
                        new = [b.add(sums[0], b.mul(x, y))]
                else:
                    pr, pi = _cmul(b, convert_value(ctx, x, lhs_dt, out_dt), convert_value(ctx, y, rhs_dt, out_dt))
                    new = [b.fadd(sums[0], pr), b.fadd(sums[1], pi)]
                nk = b.add(k, c64(1))
                end = b.block
                b.branch(header)
                k.add_incoming(nk, end)
                for ph, v in zip(sums, new):
                    ph.add_incoming(v, end)
                b.position_at_end(done)
                final(b, bi, m, n, sums[0] if acc is not None else (sums[0], sums[1]))


__all__ = ["Axis", "Contraction", "contraction", "Accumulator", "accumulator", "to_acc", "from_acc",
           "Tiles", "GemmEmitter", "emit_naive", "row_major_strides"]
