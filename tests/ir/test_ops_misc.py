"""Control flow, tuples, fusion, FFT, linear algebra, RNG, custom calls, checks, collectives."""
from __future__ import annotations

import numpy as np
import pytest

from op_helpers import arr, region, run
from xltune.errors import UnsupportedOpError
from xltune.interpreter import CheckFailure, evaluate, evaluate_instruction
from xltune.ir import Computation, Module, tensor
from xltune.ir.ops import _checks as C
from xltune.ir import dtypes as D
from xltune.ir.types import TupleType


def _module(comp):
    m = Module()
    m.add_function(comp)
    return m


def test_while_loop_counts():
    c = Computation("main")
    n = c.add_parameter(tensor((), "i32"))
    acc = c.add_parameter(tensor((), "i32"))
    cond = Computation("cond")
    ci, ca = cond.add_parameter(tensor((), "i32")), cond.add_parameter(tensor((), "i32"))
    cond.set_outputs([cond.add("compare", [ci, n], attrs={"comparison_direction": "LT"})])  # captures %n
    body = Computation("body")
    bi, ba = body.add_parameter(tensor((), "i32")), body.add_parameter(tensor((), "i32"))
    one = body.add("constant", attrs={"value": np.array(1, np.int32)})
    body.set_outputs([body.add("add", [bi, one]), body.add("add", [ba, bi])])
    zero = c.add("constant", attrs={"value": np.array(0, np.int32)})
    w = c.add("while", [zero, acc], regions=[cond, body])
    assert w.multi and isinstance(w.type, TupleType)
    c.set_outputs([c.add("get_tuple_element", [w], attrs={"index": 1})])
    assert evaluate(_module(c), arr(5, "i32"), arr(100, "i32"))[0].tolist() == 110


def test_case_out_of_range_takes_last_branch_and_if():
    def branch(v):
        b = Computation("b")
        b.set_outputs([b.add("constant", attrs={"value": np.array(v, np.int32)})])
        return b
    for idx, want in ((0, 10), (1, 20), (2, 30), (-1, 30), (7, 30)):
        assert run("case", arr(idx, "i32"), regions=[branch(10), branch(20), branch(30)]).tolist() == want
    assert run("if", arr(False, "i1"), regions=[branch(1), branch(2)]).tolist() == 2


def test_map_tuple_barrier_fusion():
    x, y = arr([1, 2], "i32"), arr([3, 4], "i32")
    assert run("map", x, y, attrs={"dimensions": (0,)}, regions=[region("multiply", "i32")]).tolist() == [3, 8]
    c = Computation("main")
    a, b = c.add_parameter(tensor((2,), "i32")), c.add_parameter(tensor((2,), "i32"))
    t = c.add("tuple", [a, b])
    ob = c.add("optimization_barrier", [a, b])
    fr = Computation("fused")
    p0, p1 = fr.add_parameter(tensor((2,), "i32")), fr.add_parameter(tensor((2,), "i32"))
    fr.set_outputs([fr.add("subtract", [p0, p1])])
    f = c.add("fusion", [a, b], attrs={"kind": "loop"}, regions=[fr])
    c.set_outputs([c.add("get_tuple_element", [t], attrs={"index": 1}),
                   c.add("get_tuple_element", [ob], attrs={"index": 0}), f])
    outs = evaluate(_module(c), x, y)
    assert [o.tolist() for o in outs] == [[3, 4], [1, 2], [-2, -2]]


def test_fft_kinds_match_numpy():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((3, 8)) + 1j * rng.standard_normal((3, 8))).astype(np.complex128)
    assert np.allclose(run("fft", x, attrs={"fft_type": "FFT", "fft_length": (8,)}), np.fft.fft(x))
    assert np.allclose(run("fft", x, attrs={"fft_type": "IFFT", "fft_length": (3, 8)}), np.fft.ifft2(x))
    r = rng.standard_normal((4, 6))
    rf = run("fft", r, attrs={"fft_type": "RFFT", "fft_length": (6,)})
    assert rf.shape == (4, 4) and np.allclose(rf, np.fft.rfft(r))
    back = run("fft", rf, attrs={"fft_type": "IRFFT", "fft_length": (6,)})
    assert back.dtype == np.float64 and np.allclose(back, r)
    assert run("fft", r.astype(np.float32), attrs={"fft_type": "RFFT", "fft_length": (6,)}).dtype == np.complex64


def test_cholesky_and_triangular_solve():
    a = np.array([[4.0, 2.0], [2.0, 3.0]])
    lo = run("cholesky", a, attrs={"lower": True})
    assert np.allclose(np.tril(lo) @ np.tril(lo).T, a)
    up = run("cholesky", a, attrs={"lower": False})
    assert np.allclose(np.triu(up).T @ np.triu(up), a)
    tri = np.array([[2.0, 0.0], [1.0, 4.0]])
    b = np.array([[2.0, 4.0], [9.0, 8.0]])
    for left, tr, want in ((True, "NO_TRANSPOSE", np.linalg.solve(tri, b)),
                           (True, "TRANSPOSE", np.linalg.solve(tri.T, b)),
                           (False, "NO_TRANSPOSE", b @ np.linalg.inv(tri)),
                           (False, "ADJOINT", b @ np.linalg.inv(tri.T))):
        attrs = {"left_side": left, "lower": True, "unit_diagonal": False, "transpose_a": tr}
        # garbage in the unused (upper) triangle must be ignored
        r = run("triangular_solve", tri + np.triu(np.full((2, 2), 7.0), 1), b, attrs=attrs)
        assert np.allclose(r, want), (left, tr)


def test_rng_bit_generator_spec_example():
    state, out = run("rng_bit_generator", arr([1, 2], "ui64"), attrs={"rng_algorithm": "THREE_FRY"},
                     type=TupleType((tensor((2,), "ui64"), tensor((2, 2), "ui64"))))
    assert state.tolist() == [1, 6]
    assert out.tolist() == [[9236835810183407956, 16087790271692313299],
                            [18212823393184779219, 2658481902456610144]]


def test_rng_bit_generator_philox_known_answer_and_f32_output():
    state, out = run("rng_bit_generator", arr([0, 0], "ui64"), attrs={"rng_algorithm": "PHILOX"},
                     type=TupleType((tensor((2,), "ui64"), tensor((4,), "ui32"))))
    assert [hex(v) for v in out.tolist()] == ["0x6627e8d5", "0xe169c58d", "0xbc57ac4c", "0x9b00dbd8"]
    assert state.tolist() == [0, 1]
    _, f = run("rng_bit_generator", arr([0, 0], "ui64"), attrs={"rng_algorithm": "PHILOX"},
               type=TupleType((tensor((2,), "ui64"), tensor((4,), "f32"))))
    assert f.dtype == np.float32 and f.view(np.uint32).tolist() == out.tolist()


def test_custom_call_checks_and_unknown_targets():
    x = arr([1.0, 2.0], "f32")
    ok = run("custom_call", x, x, attrs={"call_target_name": "check.expect_eq"}, type=TupleType(()))
    assert ok == ()
    with pytest.raises(CheckFailure, match="expect_close"):
        run("custom_call", x, arr([1.0, 2.1], "f32"), attrs={"call_target_name": "check.expect_close"},
            type=TupleType(()))
    with pytest.raises(UnsupportedOpError, match="my_kernel"):
        run("custom_call", x, attrs={"call_target_name": "my_kernel"}, type=tensor((2,), "f32"))


def test_check_ops_semantics():
    f32 = D.F32
    one = np.float32(1.0)
    assert C.expect_eq(arr([np.nan, 0.0], "f32"), arr([np.nan, -0.0], "f32"), f32) is None
    assert C.expect_eq(arr([1, 2], "i32"), arr([1, 3], "i32"), D.I32) is not None
    nxt = np.nextafter(one, np.float32(2))
    assert C.ulp_difference(np.array([one]), np.array([nxt]), f32).tolist() == [1]
    assert C.ulp_difference(arr([0.0], "f32"), arr([-0.0], "f32"), f32).tolist() == [0]
    assert C.ulp_difference(arr([1e-45], "f32"), arr([-1e-45], "f32"), f32).tolist() == [2]
    assert C.ulp_difference(arr([np.inf], "f32"), arr([3.0], "f32"), f32).tolist() == [2**64 - 1]
    assert C.expect_close(arr([1.0], "f32"), np.array([nxt]), f32) is None            # default max 1 ulp
    assert C.expect_close(arr([1.0], "f32"), np.array([nxt]), f32, min_ulp=2, max_ulp=5) is not None
    assert C.expect_almost_eq(arr([1.0, np.inf, np.nan], "f32"), arr([1.00009, np.inf, np.nan], "f32"), f32) is None
    assert C.expect_almost_eq(arr([1.0], "f32"), arr([1.001], "f32"), f32) is not None
    assert C.expect_almost_eq(arr([1.0], "f32"), arr([np.inf], "f32"), f32, tolerance=1e30) is not None
    cc = D.C64
    assert C.expect_close(arr([1 + 1j], "complex<f32>"), arr([1 + 1j], "complex<f32>"), cc) is None


def test_check_op_const_forms():
    x = arr([1.0, 2.0], "f32")
    assert run("expect_almost_eq_const", x, attrs={"value": arr([1.00001, 2.0], "f32")}) == ()
    with pytest.raises(CheckFailure):
        run("expect_eq_const", x, attrs={"value": arr([1.0, 3.0], "f32")})


def test_single_process_collectives():
    x = arr([1, 2], "i32")
    assert run("all_reduce", x, regions=[region("add", "i32")]).tolist() == [1, 2]
    assert run("all_gather", x, attrs={"all_gather_dim": 0}).tolist() == [1, 2]
    assert int(run("replica_id", type=tensor((), "ui32"))) == 0
    assert run("collective_permute", x, attrs={"source_target_pairs": np.array([[0, 0]])}).tolist() == [1, 2]
    assert run("collective_permute", x, attrs={"source_target_pairs": np.array([[0, 1]])}).tolist() == [0, 0]
