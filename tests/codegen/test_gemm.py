"""The dot_general canonical form and the tiled GEMM emitter, on their own (no fusion, no
kernel wrapper): boxes, partial sums, in-place A, the unpacked fallback, against numpy."""
from __future__ import annotations

import ctypes
import itertools
import math

import numpy as np
import pytest
from llvmlite import ir

from xltune.backends.cpu.llvm_target import host
from xltune.codegen import lltypes as T
from xltune.codegen.context import CodegenContext
from xltune.codegen.gemm import Axis, GemmEmitter, Tiles, accumulator, contraction, emit_naive, from_acc
from xltune.codegen.indexing import c64
from xltune.ir import dtypes as D


# ---- canonical form --------------------------------------------------------------------------------------
def test_plain_matmul_is_affine_everywhere():
    con = contraction((6, 5), (5, 7), (), (), (1,), (0,))
    assert (con.B, con.M, con.N, con.K) == (1, 6, 7, 5)
    assert con.a_m == Axis(((6, 5),)) and con.a_k == Axis(((5, 1),))
    assert con.b_k == Axis(((5, 7),)) and con.b_n == Axis(((7, 1),))
    assert con.a_batch.dims == () and con.a_batch.stride == 0


def test_transposed_operands_are_strides_not_copies():
    # lhs [K, M], rhs [N, K]: A^T B^T
    con = contraction((5, 6), (7, 5), (), (), (0,), (1,))
    assert con.a_m.stride == 1 and con.a_k.stride == 6
    assert con.b_k.stride == 1 and con.b_n.stride == 5


def test_adjacent_dims_merge_and_unit_dims_vanish():
    # two contracting dims that are contiguous in both operands become one K axis
    con = contraction((2, 3, 4, 5), (4, 5, 6), (), (), (2, 3), (0, 1))
    assert con.a_k == Axis(((20, 1),)) and con.b_k == Axis(((20, 6),))
    assert con.a_m == Axis(((6, 20),))
    con = contraction((1, 8, 1, 3), (3, 1, 4), (), (), (3,), (0,))
    assert con.a_m == Axis(((8, 3),)) and con.m_shape == (1, 8, 1)


def test_k_pairs_are_reordered_to_merge_when_they_can():
    # contracting dims listed in the opposite order of their storage
    con = contraction((4, 2, 3), (2, 3, 5), (), (), (2, 1), (1, 0))
    assert len(con.a_k.dims) == 1 and len(con.b_k.dims) == 1 and con.K == 6


def test_free_dims_split_by_a_contracting_dim_stay_two_pieces():
    con = contraction((3, 6, 4), (6, 7), (), (), (1,), (0,))
    assert con.a_m.stride is None and con.a_m.dims == ((3, 24), (4, 1))


def _reference_from_form(lhs, rhs, con):
    """sum over k of A[b, m, k] B[b, k, n] using only the canonical form's strides."""
    a, b = lhs.reshape(-1), rhs.reshape(-1)

    def offsets(axis):
        idx = np.zeros(1, np.int64)
        for size, stride in axis.dims:
            idx = (idx[:, None] + np.arange(size) * stride).reshape(-1)
        return idx

    ab, bb, am, ak, bk, bn = map(offsets, (con.a_batch, con.b_batch, con.a_m, con.a_k, con.b_k, con.b_n))
    A = a[ab[:, None, None] + am[None, :, None] + ak[None, None, :]]
    B = b[bb[:, None, None] + bk[None, :, None] + bn[None, None, :]]
    return (A @ B).reshape(con.out_shape)


@pytest.mark.parametrize("seed", range(12))
def test_canonical_form_computes_dot_general(seed):
    rng = np.random.default_rng(seed)
    nb, nm, nn, nk = rng.integers(0, 3, 4)
    dims = [("b", i) for i in range(nb)] + [("m", i) for i in range(nm)] + [("k", i) for i in range(nk)]
    rdims = [("b", i) for i in range(nb)] + [("k", i) for i in range(nk)] + [("n", i) for i in range(nn)]
    size = {d: int(rng.integers(1, 4)) for d in set(dims) | set(rdims)}
    lo = [dims[i] for i in rng.permutation(len(dims))]
    ro = [rdims[i] for i in rng.permutation(len(rdims))]
    lhs = rng.standard_normal([size[d] for d in lo])
    rhs = rng.standard_normal([size[d] for d in ro])
    lb = [lo.index(("b", i)) for i in range(nb)]
    rb = [ro.index(("b", i)) for i in range(nb)]
    lc = [lo.index(("k", i)) for i in range(nk)]
    rc = [ro.index(("k", i)) for i in range(nk)]
    con = contraction(lhs.shape, rhs.shape, lb, rb, lc, rc)
    letters = {d: chr(ord("a") + k) for k, d in enumerate(sorted(set(lo) | set(ro)))}
    lf = [d for d in lo if d[0] == "m"]
    rf = [d for d in ro if d[0] == "n"]
    out = "".join(letters[("b", i)] for i in range(nb)) + "".join(letters[d] for d in lf + rf)
    want = np.einsum(f"{''.join(letters[d] for d in lo)},{''.join(letters[d] for d in ro)}->{out}", lhs, rhs)
    np.testing.assert_allclose(_reference_from_form(lhs, rhs, con), want, rtol=1e-12, atol=1e-12)


# ---- the emitter, through the JIT --------------------------------------------------------------------------
def _build(con, dt_name, tiles, lanes, boxes, pack_a=True, naive=False):
    """A function (A, B, C, Ap, Bp, P) computing C over the given boxes."""
    dt = D.dtype(dt_name)
    m = ir.Module(name="gemm_test")
    cx = CodegenContext(m)
    fn = ir.Function(m, ir.FunctionType(T.VOID, [T.PTR] * 6), name="run")
    a, bm, c, ap, bp, part = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    acc = accumulator(dt)
    g = GemmEmitter(cx, con, dt, dt, dt, tiles, lanes, pack_a=pack_a)

    def final(b, bi, mm, nn, v):
        lin = b.add(b.mul(bi, c64(con.M * con.N)), b.add(b.mul(mm, c64(con.N)), nn))
        T.store(b, c, dt, lin, from_acc(b, acc, v, dt))

    for box in boxes:
        if naive:
            emit_naive(cx, b, con, dt, dt, dt, a, bm, box, final)
        else:
            g.emit_box(b, a, bm, ap, bp, box, final, part if g.needs_partials() else None)
    b.ret_void()
    lib = host().load(host().compile_ir(str(m), want_asm=False).object_images, ["run"])
    return ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 6)(lib["run"]), g, lib


def _run(con, lhs, rhs, dt_name, tiles, lanes, boxes, **kw):
    f, g, lib = _build(con, dt_name, tiles, lanes, boxes, **kw)
    npd = D.dtype(dt_name).np_dtype
    c = np.full(con.out_shape, 7, npd)
    acc_np = np.float64 if g.acc.type == T.F64 else np.float32 if g.acc.kind == "float" else \
        np.int64 if g.acc.type == T.I64 else np.int32
    ap = np.empty(max(g.a_pack_elems, 1) + 16, acc_np)
    bp = np.empty(g.b_pack_elems + 16, acc_np)
    part = np.empty(max(con.B * con.M * con.N, 1), acc_np)
    aligned = lambda x: x.ctypes.data + (-x.ctypes.data) % 64
    f(lhs.ctypes.data, rhs.ctypes.data, c.ctypes.data, aligned(ap), aligned(bp), part.ctypes.data)
    del lib
    return c


@pytest.mark.parametrize("dt_name,lanes", [("f32", 16), ("f64", 8), ("i32", 16), ("f32", 4)])
@pytest.mark.parametrize("pack_a", [True, False])
def test_boxes_blocks_and_partial_sums(dt_name, lanes, pack_a):
    rng = np.random.default_rng(3)
    B, M, N, K = 3, 29, 45, 70
    npd = D.dtype(dt_name).np_dtype
    lhs = (rng.integers(-9, 9, (B, M, K)) if dt_name == "i32" else rng.standard_normal((B, M, K))).astype(npd)
    rhs = (rng.integers(-9, 9, (B, K, N)) if dt_name == "i32" else rng.standard_normal((B, K, N))).astype(npd)
    con = contraction(lhs.shape, rhs.shape, (0,), (0,), (2,), (1,))
    want = np.matmul(lhs.astype(np.float64), rhs.astype(np.float64))
    # blocks smaller than the problem in every direction, three k blocks, and the result
    # computed as four boxes (as threads would)
    tiles = Tiles(4, 2 * lanes, 8, 32, 2 * lanes)
    boxes = [(0, 1, 0, M, 0, N), (1, 3, 0, 12, 0, N), (1, 3, 12, M, 0, 20), (1, 3, 12, M, 20, N)]
    got = _run(con, lhs, rhs, dt_name, tiles, lanes, boxes, pack_a=pack_a)
    if dt_name == "i32":
        np.testing.assert_array_equal(got, want.astype(np.int32))
    else:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("dt_name", ["f32", "i32", "f64"])
def test_unpacked_path_agrees(dt_name):
    rng = np.random.default_rng(5)
    npd = D.dtype(dt_name).np_dtype
    lhs = rng.integers(-5, 5, (7, 13)).astype(npd)
    rhs = rng.integers(-5, 5, (11, 13)).astype(npd)        # contracted along its last dim
    con = contraction(lhs.shape, rhs.shape, (), (), (1,), (1,))
    got = _run(con, lhs, rhs, dt_name, Tiles(4, 16, 8, 8, 16), 16, [(0, 1, 0, 7, 0, 11)], naive=True)
    np.testing.assert_array_equal(got, (lhs.astype(np.int64) @ rhs.astype(np.int64).T).astype(npd))


def test_tiles_never_exceed_the_problem():
    con = contraction((10, 3), (3, 5), (), (), (1,), (0,))
    t = Tiles(6, 64, 96, 256, 4096).normalized(con)
    assert (t.mc, t.kc, t.nc) == (12, 3, 64)
    for combo in itertools.product((1, 6), (16, 64)):
        assert Tiles(*combo, 24, 64, 256).normalized(con).mc % combo[0] == 0


def test_a_in_place_needs_matching_types_and_strides():
    con = contraction((8, 9), (9, 4), (), (), (1,), (0,))
    assert GemmEmitter.can_read_a_in_place(con, D.F32, D.F32)
    assert not GemmEmitter.can_read_a_in_place(con, D.dtype("f16"), D.dtype("f16"))
    assert not GemmEmitter.can_read_a_in_place(con, D.dtype("bf16"), D.F32)
    split = contraction((3, 6, 4), (6, 7), (), (), (1,), (0,))
    assert not GemmEmitter.can_read_a_in_place(split, D.F32, D.F32)
    assert math.prod(split.m_shape) == 12
