"""Data movement on the CPU backend: every op alone and random compositions inside one fused
kernel, against the interpreter (bit for bit: moving data never rounds)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cpu_testlib import assert_bitwise, build_cpu, fuse_all, module_of, reference, tensor
from xltune.ir import dtypes as D
from xltune.ir.types import TensorType

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _run_both(m, args, fused=True):
    """Run m unfused (one kernel per op) and fused (one kernel) and compare with the oracle."""
    want = reference(m, *args)
    variants = [m, fuse_all(m)] if fused else [m]
    for v in variants:
        exe = build_cpu(v)
        assert exe.stats["fallback_ops"] == 0, exe.stages["schedule"]
        got = exe(*args)
        got = got if isinstance(got, tuple) else (got,)
        for g, w in zip(got, want):
            assert_bitwise(g, w, exe.stages["schedule"])
    return exe


def _arr(shape, dt=D.F32, seed=0):
    rng = np.random.default_rng(seed)
    n = math.prod(shape)
    if dt.is_float:
        return (rng.standard_normal(n) * 10).astype(dt.np_dtype).reshape(shape)
    return rng.integers(-100, 100, n).astype(dt.np_dtype).reshape(shape)


# ---- each op ---------------------------------------------------------------------------------------------
def test_broadcast_transpose_reshape():
    def f(c, ps):
        x, y = ps
        b = c.add("broadcast_in_dim", [x], tensor((4, 3, 5), D.F32), {"broadcast_dimensions": (1, 2)})
        t = c.add("transpose", [b], None, {"permutation": (2, 0, 1)})
        r = c.add("reshape", [t], tensor((20, 3), D.F32))
        return c.add("add", [r, y])
    m = module_of(f, [tensor((3, 5), D.F32), tensor((20, 3), D.F32)])
    _run_both(m, [_arr((3, 5)), _arr((20, 3), seed=1)])


def test_slice_reverse_pad_negative_and_interior():
    def f(c, ps):
        x, pv = ps
        s = c.add("slice", [x], None, {"start_indices": (1, 0), "limit_indices": (7, 9), "strides": (2, 3)})
        r = c.add("reverse", [s], None, {"dimensions": (0, 1)})
        return c.add("pad", [r, pv], None, {"edge_padding_low": (2, -1), "edge_padding_high": (-1, 3),
                                          "interior_padding": (1, 2)})
    m = module_of(f, [tensor((8, 9), D.F32), tensor((), D.F32)])
    _run_both(m, [_arr((8, 9)), np.array(-7.5, np.float32)])


@pytest.mark.parametrize("expensive", [False, True])
def test_concatenate_select_and_branch_paths(expensive):
    def f(c, ps):
        a, b, d = ps
        if expensive:   # operands worth computing only where needed: the branchy path
            a = c.add("exponential", [c.add("sine", [a])])
            b = c.add("tanh", [c.add("cosine", [b])])
        return c.add("concatenate", [a, b, d], None, {"dimension": 1})
    m = module_of(f, [tensor((3, 2), D.F32), tensor((3, 5), D.F32), tensor((3, 1), D.F32)])
    args = [_arr((3, 2)), _arr((3, 5), seed=1), _arr((3, 1), seed=2)]
    want = reference(m, *args)[0]
    for v in (m, fuse_all(m)):
        got = build_cpu(v)(*args)
        if expensive:
            np.testing.assert_allclose(got, want, rtol=1e-6)
        else:
            assert_bitwise(got, want)


def test_iota_and_dynamic_slices():
    def f(c, ps):
        x, i, j, u = ps
        io = c.add("iota", [], tensor((6, 7), D.I32), {"iota_dimension": 1})
        xi = c.add("add", [x, io])
        ds = c.add("dynamic_slice", [xi, i, j], None, {"slice_sizes": (3, 4)})
        return c.add("dynamic_update_slice", [xi, c.add("multiply", [ds, u]), j, i])
    m = module_of(f, [tensor((6, 7), D.I32), tensor((), D.I32), tensor((), D.I32), tensor((3, 4), D.I32)])
    x, u = _arr((6, 7), D.I32), _arr((3, 4), D.I32, seed=3)
    for i, j in [(0, 0), (2, 1), (5, 6), (-3, 100), (1, -1)]:   # starts clamp into range
        _run_both(m, [x, np.array(i, np.int32), np.array(j, np.int32), u])


def test_multi_output_fusion_with_two_shapes():
    def f(c, ps):
        x, = ps
        t = c.add("transpose", [x], None, {"permutation": (1, 0)})
        e = c.add("negate", [x])
        return [c.add("multiply", [t, t]), e, c.add("abs", [e])]
    m = module_of(f, [tensor((5, 3), D.F32)])
    _run_both(m, [_arr((5, 3))])


def test_large_transpose_tiles_every_value():
    def f(c, ps):
        x, y = ps
        return c.add("add", [c.add("transpose", [x], None, {"permutation": (1, 0)}), y])
    shape = (67, 200)        # not a multiple of any tile
    m = fuse_all(module_of(f, [tensor(shape[::-1], D.F32), tensor(shape, D.F32)]))
    args = [_arr(shape[::-1]), _arr(shape, seed=1)]
    want = reference(m, *args)[0]
    for tile in (0, 8, 16, 32, 64, 128):
        exe = build_cpu(m, {"cpu.fusion.all.tile": tile})
        assert_bitwise(exe(*args), want, f"tile {tile}")


@pytest.mark.parametrize("dt", [D.F64, D.C128, D.I16, D.I1, D.F16, D.I4], ids=lambda d: d.name)
def test_staged_transpose_blocks_and_edges(dt):
    # whole 8x8 blocks go through a register transpose, edges element by element: shapes that
    # leave edges in both dims, every element size (c128 has no vector path)
    def f(c, ps):
        x, y = ps
        t = c.add("transpose", [x], None, {"permutation": (1, 0)})
        return c.add("add" if dt.is_complex else "maximum", [t, y])
    shape = (43, 77)
    m = fuse_all(module_of(f, [tensor(shape[::-1], dt), tensor(shape, dt)]))
    args = [_arr(shape[::-1], dt), _arr(shape, dt, seed=1)]
    want = reference(m, *args)[0]
    for tile, last in [(8, 16), (16, 64), (32, 32), (128, 512), (64, 128)]:
        exe = build_cpu(m, {"cpu.fusion.all.tile": tile, "cpu.fusion.all.tile_last": last})
        assert_bitwise(exe(*args), want, f"tile {tile} x {last}")


def test_scalar_and_empty_tensors():
    def f(c, ps):
        x, y, z = ps
        return [c.add("add", [x, x]), c.add("multiply", [y, y]), c.add("negate", [z])]
    m = module_of(f, [tensor((), D.F32), tensor((1, 1), D.I8), tensor((0, 3), D.F32)])
    _run_both(m, [np.array(2.5, np.float32), np.array([[7]], np.int8), np.zeros((0, 3), np.float32)])


def test_constants_splat_and_table():
    def f(c, ps):
        x, = ps
        k = c.add("constant", [], tensor((2, 3), D.F32), {"value": np.arange(6, dtype=np.float32).reshape(2, 3)})
        s = c.add("constant", [], tensor((2, 3), D.F32),
                  {"value": np.broadcast_to(np.float32(0.5), (2, 3))})
        return c.add("add", [c.add("multiply", [x, k]), s])
    m = module_of(f, [tensor((2, 3), D.F32)])
    _run_both(m, [_arr((2, 3))])


# ---- random compositions ---------------------------------------------------------------------------------------
@st.composite
def programs(draw):
    """A random chain of data-movement (and a few elementwise) ops on one or two inputs."""
    rank = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=rank, max_size=rank)))
    dt = draw(st.sampled_from([D.F32, D.I32, D.I8, D.F64]))
    steps = draw(st.lists(st.sampled_from(["transpose", "broadcast", "reshape", "slice", "reverse", "pad",
                                           "concat", "iota", "elementwise", "convert"]),
                          min_size=1, max_size=6))
    seeds = draw(st.lists(st.integers(0, 2**16), min_size=len(steps), max_size=len(steps)))

    def build(c, ps):
        x = ps[0]
        for step, seed in zip(steps, seeds):
            r = np.random.default_rng(seed)
            sh = x.shape
            n = len(sh)
            if math.prod(sh) > 512 or 0 in sh:
                break
            if step == "transpose" and n > 1:
                x = c.add("transpose", [x], None, {"permutation": tuple(int(v) for v in r.permutation(n))})
            elif step == "broadcast" and n < 4:
                pos = int(r.integers(0, n + 1))
                size = int(r.integers(1, 4))
                new = sh[:pos] + (size,) + sh[pos:]
                dims = tuple(i if i < pos else i + 1 for i in range(n))
                x = c.add("broadcast_in_dim", [x], TensorType(new, x.dtype), {"broadcast_dimensions": dims})
            elif step == "reshape":
                total = math.prod(sh)
                if r.random() < 0.5 or total == 1:
                    new = (total,)
                else:
                    d = [k for k in range(1, total + 1) if total % k == 0]
                    a = int(r.choice(d))
                    new = (a, total // a) if r.random() < 0.7 else (total // a, 1, a)
                x = c.add("reshape", [x], TensorType(tuple(new), x.dtype))
            elif step == "slice":
                st_, lim, strd = [], [], []
                for dsz in sh:
                    a = int(r.integers(0, dsz))
                    bnd = int(r.integers(a + 1, dsz + 1))
                    st_.append(a)
                    lim.append(bnd)
                    strd.append(int(r.integers(1, 3)))
                x = c.add("slice", [x], None, {"start_indices": tuple(st_), "limit_indices": tuple(lim),
                                               "strides": tuple(strd)})
            elif step == "reverse":
                dims = tuple(int(i) for i in range(n) if r.random() < 0.5)
                x = c.add("reverse", [x], None, {"dimensions": dims})
            elif step == "pad":
                lo = tuple(int(v) for v in r.integers(-1, 3, n))
                hi = tuple(int(v) for v in r.integers(-1, 3, n))
                it = tuple(int(v) for v in r.integers(0, 2, n))
                ok = all((s - 1) * (i + 1) + 1 + a + b >= 0 for s, a, b, i in zip(sh, lo, hi, it))
                if ok:
                    pv = c.add("constant", [], TensorType((), x.dtype), {"value": np.array(3, x.dtype.np_dtype)})
                    x = c.add("pad", [x, pv], None, {"edge_padding_low": lo, "edge_padding_high": hi,
                                                     "interior_padding": it})
            elif step == "concat" and n >= 1:
                d = int(r.integers(0, n))
                x = c.add("concatenate", [x, c.add("negate", [x]) if not x.dtype.is_int or True else x, x],
                          None, {"dimension": d})
            elif step == "iota":
                d = int(r.integers(0, n))
                io = c.add("iota", [], TensorType(sh, x.dtype), {"iota_dimension": d})
                x = c.add("add", [x, io])
            elif step == "elementwise":
                x = c.add("maximum", [x, c.add("multiply", [x, x])])
            elif step == "convert":
                tgt = D.F64 if x.dtype != D.F64 else D.I32
                x = c.add("convert", [x], TensorType(sh, tgt))
        return x

    m = module_of(build, [tensor(shape, dt)])
    return m, shape, dt


@SETTINGS
@given(programs(), st.integers(0, 2**16))
def test_random_movement_chains(prog, seed):
    m, shape, dt = prog
    x = _arr(shape, dt, seed)
    out_t = m.entry.outputs[0].type
    if math.prod(out_t.shape) > 20000:
        return
    _run_both(m, [x])


@pytest.mark.parametrize("dt", [D.F32, D.C64, D.I8, D.BF16], ids=lambda d: d.name)
def test_staged_transposes_of_three_dims_with_broadcast(dt):
    # a 3-d permutation read through elementwise ops next to a broadcast operand: the staging
    # buffer path (pure permutation) and the plain path (broadcast) in one kernel
    def f(c, ps):
        x, y, z = ps
        t = c.add("transpose", [x], None, {"permutation": (2, 0, 1)})
        bz = c.add("broadcast_in_dim", [z], tensor((3, 70, 90), dt), {"broadcast_dimensions": (2,)})
        return c.add("add", [c.add("multiply", [t, y]), bz])
    m = fuse_all(module_of(f, [tensor((70, 90, 3), dt), tensor((3, 70, 90), dt), tensor((90,), dt)]))
    rng = np.random.default_rng(0)
    args = [(rng.standard_normal(s) * 4).astype(dt.np_dtype) for s in ((70, 90, 3), (3, 70, 90), (90,))]
    if dt.is_complex:
        args = [(a + 1j * a[::-1].reshape(a.shape)).astype(dt.np_dtype) if a.ndim else a for a in args]
    want = reference(m, *args)[0]
    for tile in (0, 16, 64):
        exe = build_cpu(m, {"cpu.fusion.all.tile": tile})
        assert_bitwise(exe(*args), want, f"tile {tile}")
