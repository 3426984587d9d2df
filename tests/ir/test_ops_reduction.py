"""reduce, reduce_window, select_and_scatter, sort, top_k."""
from __future__ import annotations

import numpy as np
import pytest

from op_helpers import arr, bits, region, run
from xltune.interpreter import Evaluator
from xltune.ir import Computation, tensor

NAN = float("nan")


def _reduce(x, init, dims, body, dtypes=None):
    return run("reduce", x, init, attrs={"dimensions": dims}, regions=[body], dtypes=dtypes)


def test_reduce_sum_integers_wrap():
    x = np.full((2, 3), 100, np.int8)
    assert _reduce(x, arr(0, "i8"), (1,), region("add", "i8")).tolist() == [44, 44]


def test_reduce_max_propagates_nan_and_uses_init():
    x = arr([[1.0, NAN], [-5.0, -7.0]], "f32")
    r = _reduce(x, arr(-1.0, "f32"), (1,), region("maximum", "f32"))
    assert np.isnan(r[0]) and r[1] == -1.0


def test_reduce_all_dims_and_bool_and():
    x = arr([[True, True], [True, False]], "i1")
    assert bool(_reduce(x, arr(True, "i1"), (0, 1), region("and", "i1"))) is False


def test_reduce_sum_float_is_accurate():
    x = np.full(1000, 0.1, np.float32)
    r = _reduce(x, arr(0.0, "f32"), (0,), region("add", "f32"))
    assert r == np.float32(np.sum(x.astype(np.float64)))


def _argmax_body():
    def body(r, ps):  # (acc_v, acc_i, v, i): keep the larger value, the lower index on ties
        av, ai, v, i = ps
        gt = r.add("compare", [av, v], attrs={"comparison_direction": "GT"})
        eq = r.add("compare", [av, v], attrs={"comparison_direction": "EQ"})
        lt_i = r.add("compare", [ai, i], attrs={"comparison_direction": "LT"})
        keep = r.add("or", [gt, r.add("and", [eq, lt_i])])
        return [r.add("select", [keep, av, v]), r.add("select", [keep, ai, i])]
    reg = Computation("argmax")
    ps = [reg.add_parameter(tensor((), d)) for d in ("f32", "i32", "f32", "i32")]
    reg.set_outputs(body(reg, ps))
    return reg


def test_variadic_reduce_argmax():
    x = arr([[1.0, 5.0, 5.0, 2.0], [0.0, -1.0, 3.0, 3.0]], "f32")
    idx = np.broadcast_to(np.arange(4, dtype=np.int32), (2, 4)).copy()
    v, i = run("reduce", x, idx, arr(-np.inf, "f32"), arr(0, "i32"), attrs={"dimensions": (1,)},
               regions=[_argmax_body()])
    assert v.tolist() == [5.0, 3.0] and i.tolist() == [1, 2]


def test_long_reduction_with_arbitrary_body_matches_sequential():
    x = (np.arange(5000) % 97).astype(np.int32)
    idx = np.arange(5000, dtype=np.int32)
    v, i = run("reduce", x.astype(np.float32), idx, arr(-np.inf, "f32"), arr(0, "i32"), attrs={"dimensions": (0,)},
               regions=[_argmax_body()])
    assert float(v) == 96.0 and int(i) == 96


def test_reduce_window_spec_example():
    x = arr([[1, 2], [3, 4], [5, 6]], "i64")
    r = run("reduce_window", x, arr(0, "i64"), regions=[region("add", "i64")],
            attrs={"window_dimensions": (2, 1), "window_strides": (4, 1), "base_dilations": (2, 1),
                   "window_dilations": (3, 1), "padding": ((2, 1), (0, 0))})
    assert r.tolist() == [[0, 0], [3, 4]]


def test_reduce_window_cumulative_sum_rounds_each_step():
    x = arr([1.0, 2.0**-24, 2.0**-24, 2.0**-24], "f32")
    r = run("reduce_window", x, arr(0.0, "f32"), regions=[region("add", "f32")],
            attrs={"window_dimensions": (4,), "padding": ((3, 0),)})
    assert r.tolist() == [1.0, 1.0, 1.0, 1.0]


def test_reduce_window_max_pool():
    x = np.arange(16, dtype=np.float32).reshape(4, 4)
    r = run("reduce_window", x, arr(-np.inf, "f32"), regions=[region("maximum", "f32")],
            attrs={"window_dimensions": (2, 2), "window_strides": (2, 2)})
    assert r.tolist() == [[5.0, 7.0], [13.0, 15.0]]


def test_select_and_scatter_spec_example():
    operand = arr([[1, 5], [2, 5], [3, 6], [4, 4]], "i64")
    source = arr([[5, 6], [7, 8]], "i64")
    select = region("compare", "i64", comparison_direction="GE")
    r = run("select_and_scatter", operand, source, arr(0, "i64"), regions=[select, region("add", "i64")],
            attrs={"window_dimensions": (3, 1), "window_strides": (2, 1), "padding": ((0, 1), (0, 0))})
    assert r.tolist() == [[0, 0], [0, 0], [5, 14], [7, 0]]


# ---- sort / top_k -------------------------------------------------------------------------------------------
def _lt(dt, ctype=None, direction="LT"):
    attrs = {"comparison_direction": direction}
    if ctype:
        attrs["compare_type"] = ctype
    return region("compare", dt, **attrs)


def test_sort_ascending_descending_along_dimension():
    x = arr([[3, 1, 2], [9, 7, 8]], "i32")
    assert run("sort", x, attrs={"dimension": 1}, regions=[_lt("i32")]).tolist() == [[1, 2, 3], [7, 8, 9]]
    assert run("sort", x, attrs={"dimension": 0}, regions=[_lt("i32", direction="GT")]).tolist() == \
        [[9, 7, 8], [3, 1, 2]]


def test_sort_totalorder_places_nans_and_signed_zeros():
    x = arr([NAN, 1.0, -0.0, -np.inf, 0.0, -NAN], "f32")
    r = run("sort", x, attrs={"dimension": 0}, regions=[_lt("f32", "TOTALORDER")])
    assert bits(r) == bits(arr([-NAN, -np.inf, -0.0, 0.0, 1.0, NAN], "f32"))


def test_sort_multiple_operands_is_stable():
    keys = arr([2, 1, 2, 1], "i32")
    vals = arr([0, 1, 2, 3], "i32")
    reg = Computation("cmp")
    ps = [reg.add_parameter(tensor((), "i32")) for _ in range(4)]
    reg.set_outputs([reg.add("compare", [ps[0], ps[1]], attrs={"comparison_direction": "LT"})])
    k, v = run("sort", keys, vals, attrs={"dimension": 0, "is_stable": True}, regions=[reg])
    assert k.tolist() == [1, 1, 2, 2] and v.tolist() == [1, 3, 0, 2]


def test_sort_with_lexicographic_comparator():
    a = arr([1, 0, 1, 0], "i32")
    b = arr([5, 7, 3, 1], "i32")

    def lex(r, ps):  # (a0, a1, b0, b1): a ascending, then b descending
        a_lt = r.add("compare", [ps[0], ps[1]], attrs={"comparison_direction": "LT"})
        a_eq = r.add("compare", [ps[0], ps[1]], attrs={"comparison_direction": "EQ"})
        b_gt = r.add("compare", [ps[2], ps[3]], attrs={"comparison_direction": "GT"})
        return [r.add("or", [a_lt, r.add("and", [a_eq, b_gt])])]
    ra, rb = run("sort", a, b, attrs={"dimension": 0}, regions=[region(lex, "i32", 4)])
    assert ra.tolist() == [0, 0, 1, 1] and rb.tolist() == [7, 1, 5, 3]


def test_top_k_ties_keep_lower_index():
    x = arr([[1.0, 3.0, 3.0, 2.0], [NAN, 0.0, 5.0, -1.0]], "f32")
    v, i = run("top_k", x, attrs={"k": 2})
    assert i.dtype == np.int32
    assert v[0].tolist() == [3.0, 3.0] and i[0].tolist() == [1, 2]
    assert np.isnan(v[1, 0]) and i[1].tolist() == [0, 2]


def test_vectorized_and_scalar_region_evaluation_agree():
    ev = Evaluator()
    body = region("maximum", "f32")
    a = arr([1.0, NAN, -0.0, 3.0], "f32")
    b = arr([2.0, 0.0, 0.0, -1.0], "f32")
    vec = ev.map_region(body, [a, b])[0]
    scalar = [ev.run(body, [a[i:i + 1].reshape(()), b[i:i + 1].reshape(())])[0] for i in range(4)]
    assert bits(vec) == bits(np.array(scalar, np.float32))
