"""Data movement, gather and scatter: shapes and values."""
from __future__ import annotations

import numpy as np
import pytest

from op_helpers import arr, region, run
from xltune.ir import GatherDimensionNumbers, ScatterDimensionNumbers, tensor


def test_broadcast_in_dim_with_permuted_dims():
    x = np.arange(6, dtype=np.int32).reshape(2, 3)
    r = run("broadcast_in_dim", x, attrs={"broadcast_dimensions": (2, 0)}, type=tensor((3, 4, 2), "i32"))
    assert r.shape == (3, 4, 2)
    assert (r == np.broadcast_to(x.T[:, None, :], (3, 4, 2))).all()
    r = run("broadcast_in_dim", np.array([[5]], np.int32), attrs={"broadcast_dimensions": (0, 1)},
            type=tensor((2, 3), "i32"))
    assert (r == 5).all()


def test_transpose_reshape_reverse():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    t = run("transpose", x, attrs={"permutation": (2, 0, 1)})
    assert t.shape == (4, 2, 3) and (t == x.transpose(2, 0, 1)).all()
    assert (run("reshape", x, type=tensor((6, 4), "f32")) == x.reshape(6, 4)).all()
    assert (run("reverse", x, attrs={"dimensions": (0, 2)}) == x[::-1, :, ::-1]).all()


def test_slice_with_strides():
    x = np.arange(20, dtype=np.int64).reshape(4, 5)
    r = run("slice", x, attrs={"start_indices": (1, 0), "limit_indices": (4, 5), "strides": (2, 3)})
    assert r.tolist() == [[5, 8], [15, 18]]


def test_dynamic_slice_clamps_start_indices():
    x = np.arange(10, dtype=np.int32)
    r = run("dynamic_slice", x, arr(8, "i32"), attrs={"slice_sizes": (4,)})
    assert r.tolist() == [6, 7, 8, 9]
    r = run("dynamic_slice", x, arr(-3, "i64"), attrs={"slice_sizes": (2,)}, dtypes=["i32", "i64"])
    assert r.tolist() == [0, 1]


def test_dynamic_update_slice_clamps():
    x = np.zeros((3, 3), np.int32)
    u = np.ones((2, 2), np.int32)
    r = run("dynamic_update_slice", x, u, arr(5, "i32"), arr(-1, "i32"))
    assert r.tolist() == [[0, 0, 0], [1, 1, 0], [1, 1, 0]]
    assert (x == 0).all()  # operands are not modified


def test_concatenate():
    a, b = np.ones((2, 1), np.int8), np.zeros((2, 2), np.int8)
    assert run("concatenate", a, b, attrs={"dimension": 1}).tolist() == [[1, 0, 0], [1, 0, 0]]


def test_pad_edge_interior_and_negative():
    x = np.array([[1, 2], [3, 4]], np.int32)
    r = run("pad", x, arr(0, "i32"), attrs={"edge_padding_low": (0, 1), "edge_padding_high": (2, 1),
                                             "interior_padding": (1, 2)})
    assert r.tolist() == [[0, 1, 0, 0, 2, 0], [0, 0, 0, 0, 0, 0], [0, 3, 0, 0, 4, 0], [0, 0, 0, 0, 0, 0],
                          [0, 0, 0, 0, 0, 0]]
    r = run("pad", np.arange(5, dtype=np.int32), arr(-1, "i32"),
            attrs={"edge_padding_low": (-2,), "edge_padding_high": (-1,), "interior_padding": (1,)})
    # x interior 1 -> [0,-1,1,-1,2,-1,3,-1,4] (9); low -2 drops [0,-1]; high -1 drops [4]
    assert r.tolist() == [1, -1, 2, -1, 3, -1]


def test_iota_in_every_dtype():
    r = run("iota", attrs={"iota_dimension": 1}, type=tensor((2, 3), "f16"))
    assert r.dtype == np.float16 and r.tolist() == [[0, 1, 2], [0, 1, 2]]
    r = run("iota", attrs={"iota_dimension": 0}, type=tensor((3,), "ui8"))
    assert r.tolist() == [0, 1, 2]


def test_get_dimension_size():
    assert int(run("get_dimension_size", np.zeros((3, 7), np.float32), attrs={"dimension": 1})) == 7


# ---- gather -----------------------------------------------------------------------------------------------
def test_gather_rows():
    x = np.arange(12, dtype=np.int32).reshape(4, 3)
    idx = np.array([[2], [0], [3]], np.int32)
    dn = GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(0,), start_index_map=(0,),
                                index_vector_dim=1)
    r = run("gather", x, idx, attrs={"dimension_numbers": dn, "slice_sizes": (1, 3)})
    assert r.tolist() == x[[2, 0, 3]].tolist()


def test_gather_clamps_start_indices():
    x = np.arange(10, dtype=np.int32)
    dn = GatherDimensionNumbers(offset_dims=(1,), start_index_map=(0,), index_vector_dim=1)
    r = run("gather", x, np.array([[8], [-5]], np.int32), attrs={"dimension_numbers": dn, "slice_sizes": (3,)})
    assert r.tolist() == [[7, 8, 9], [0, 1, 2]]


def test_gather_spec_example_with_batching_dims():
    operand = np.arange(1, 49, dtype=np.int32).reshape(2, 3, 4, 2)
    idx = np.array([[[[0, 0], [1, 0], [2, 1]], [[0, 1], [1, 1], [0, 9]]],
                    [[[0, 0], [2, 1], [2, 2]], [[1, 2], [0, 1], [1, 0]]]], np.int64)
    dn = GatherDimensionNumbers(offset_dims=(3, 4), collapsed_slice_dims=(1,), operand_batching_dims=(0,),
                                start_indices_batching_dims=(1,), start_index_map=(2, 1), index_vector_dim=3)
    r = run("gather", operand, idx, attrs={"dimension_numbers": dn, "slice_sizes": (1, 1, 2, 2)})
    expected = [[[[[1, 2], [3, 4]], [[3, 4], [5, 6]], [[13, 14], [15, 16]]],
                 [[[33, 34], [35, 36]], [[35, 36], [37, 38]], [[41, 42], [43, 44]]]],
                [[[[1, 2], [3, 4]], [[13, 14], [15, 16]], [[21, 22], [23, 24]]],
                 [[[43, 44], [45, 46]], [[33, 34], [35, 36]], [[27, 28], [29, 30]]]]]
    assert r.tolist() == expected


# ---- scatter ----------------------------------------------------------------------------------------------
def _scatter_1d():
    return ScatterDimensionNumbers(inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,),
                                   index_vector_dim=1)


def test_scatter_add_with_duplicates_and_out_of_bounds():
    x = np.zeros(4, np.int32)
    idx = np.array([[1], [1], [3], [7], [-1]], np.int32)
    upd = np.array([10, 20, 5, 99, 99], np.int32)
    r = run("scatter", x, idx, upd, attrs={"scatter_dimension_numbers": _scatter_1d()},
            regions=[region("add", "i32")])
    assert r.tolist() == [0, 30, 0, 5]


def test_scatter_applies_updates_in_order():
    # a non-commutative update computation: new = 2 * old - update
    def body(r, ps):
        two = r.add("constant", attrs={"value": np.array(2.0, np.float32)})
        return [r.add("subtract", [r.add("multiply", [two, ps[0]]), ps[1]])]
    x = np.array([1.0], np.float32)
    idx = np.array([[0], [0], [0]], np.int32)
    upd = np.array([1.0, 2.0, 3.0], np.float32)
    r = run("scatter", x, idx, upd, attrs={"scatter_dimension_numbers": _scatter_1d()},
            regions=[region(body, "f32")])
    # ((2*1 - 1) * 2 - 2) * 2 - 3 = -3
    assert r.tolist() == [-3.0]


def test_scatter_replace_last_update_wins():
    x = np.zeros(3, np.float32)
    r = run("scatter", x, np.array([[2], [0], [2]], np.int32), np.array([1.0, 2.0, 3.0], np.float32),
            attrs={"scatter_dimension_numbers": _scatter_1d()},
            regions=[region(lambda r, ps: [ps[1]], "f32")])
    assert r.tolist() == [2.0, 0.0, 3.0]


def test_scatter_float_add_rounds_each_update():
    x = np.array([1.0], np.float32)
    upd = np.full(4, 2.0**-24, np.float32)  # each addition rounds back to 1.0
    r = run("scatter", x, np.zeros((4, 1), np.int32), upd, attrs={"scatter_dimension_numbers": _scatter_1d()},
            regions=[region("add", "f32")])
    assert r.tolist() == [1.0]


def test_scatter_spec_example_with_batching_dims():
    inputs = np.arange(1, 49, dtype=np.int64).reshape(2, 3, 4, 2)
    idx = np.array([[[[0, 0], [1, 0], [2, 1]], [[0, 1], [1, 1], [0, 9]]],
                    [[[0, 0], [2, 1], [2, 2]], [[1, 2], [0, 1], [1, 0]]]], np.int64)
    upd = np.ones((2, 2, 3, 2, 2), np.int64)
    dn = ScatterDimensionNumbers(update_window_dims=(3, 4), inserted_window_dims=(1,), input_batching_dims=(0,),
                                 scatter_indices_batching_dims=(1,), scatter_dims_to_operand_dims=(2, 1),
                                 index_vector_dim=3)
    r = run("scatter", inputs, idx, upd, attrs={"scatter_dimension_numbers": dn}, regions=[region("add", "i64")])
    expected = [[[[3, 4], [6, 7], [6, 7], [7, 8]], [[9, 10], [11, 12], [15, 16], [17, 18]],
                 [[17, 18], [19, 20], [22, 23], [24, 25]]],
                [[[25, 26], [28, 29], [30, 31], [31, 32]], [[35, 36], [38, 39], [38, 39], [39, 40]],
                 [[41, 42], [44, 45], [46, 47], [47, 48]]]]
    assert r.tolist() == expected


def test_variadic_scatter():
    a, b = np.zeros(3, np.int32), np.ones(3, np.float32)

    def body(r, ps):  # (acc_a, acc_b, upd_a, upd_b)
        return [r.add("add", [ps[0], ps[2]]), r.add("multiply", [ps[1], ps[3]])]
    from xltune.ir import Computation
    reg = Computation("body")
    ps = [reg.add_parameter(tensor((), d)) for d in ("i32", "f32", "i32", "f32")]
    reg.set_outputs(body(reg, ps))
    r = run("scatter", a, b, np.array([[0], [0], [2]], np.int32), np.array([1, 2, 3], np.int32),
            np.array([2.0, 3.0, 4.0], np.float32), attrs={"scatter_dimension_numbers": _scatter_1d()},
            regions=[reg])
    assert r[0].tolist() == [3, 0, 3] and r[1].tolist() == [6.0, 1.0, 4.0]


@pytest.mark.parametrize("opcode,expected", [("maximum", [9, 2, 0]), ("minimum", [1, 2, 0]),
                                             ("multiply", [9, 2, 0])])
def test_scatter_integer_combiners(opcode, expected):
    x = np.array([1, 2, 0], np.int32)
    r = run("scatter", x, np.array([[0], [0]], np.int32), np.array([9, 1], np.int32),
            attrs={"scatter_dimension_numbers": _scatter_1d()}, regions=[region(opcode, "i32")])
    assert r.tolist() == expected
