"""Elementwise ops: StableHLO (and XLA) semantics on hand-computed values."""
from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest

from op_helpers import arr, bits, run

NAN, INF = float("nan"), float("inf")


# ---- integer arithmetic -----------------------------------------------------------------------------
def test_integer_add_multiply_wrap():
    assert run("add", arr([127, -128], "i8"), arr([1, -1], "i8")).tolist() == [-128, 127]
    assert run("add", arr([255], "ui8"), arr([1], "ui8")).tolist() == [0]
    assert run("multiply", arr([2**31 - 1], "i32"), arr([2], "i32")).tolist() == [-2]
    assert run("subtract", arr([0], "ui16"), arr([1], "ui16")).tolist() == [65535]
    assert run("negate", arr([-128, 5], "i8")).tolist() == [-128, -5]
    assert run("abs", arr([-128, -3], "i8")).tolist() == [-128, 3]


def test_sub_byte_integers_wrap():
    r = run("add", arr([7, -8, 3], "i4"), arr([1, -1, 2], "i4"))
    assert r.dtype == ml_dtypes.int4
    assert r.astype(int).tolist() == [-8, 7, 5]
    assert run("multiply", arr([15], "ui4"), arr([2], "ui4")).astype(int).tolist() == [14]


def test_integer_divide_truncates_and_handles_zero_and_overflow():
    r = run("divide", arr([7, -7, 7, -7, 5, -128, 3], "i8"), arr([2, 2, -2, -2, 0, -1, 0], "i8"))
    assert r.tolist() == [3, -3, -3, 3, -1, -128, -1]
    assert run("divide", arr([7, 255], "ui8"), arr([0, 2], "ui8")).tolist() == [255, 127]
    assert run("divide", arr([np.iinfo(np.int64).min], "i64"), arr([-1], "i64")).tolist() == [np.iinfo(np.int64).min]


def test_integer_remainder_sign_of_dividend():
    r = run("remainder", arr([7, -7, 7, -7, 5, -128], "i8"), arr([3, 3, -3, -3, 0, -1], "i8"))
    assert r.tolist() == [1, -1, 1, -1, 5, 0]
    assert run("remainder", arr([7, 9], "ui32"), arr([0, 4], "ui32")).tolist() == [7, 1]


def test_float_remainder_is_fmod():
    r = run("remainder", arr([5.5, -5.5, 1.0, INF], "f32"), arr([2.0, 2.0, 0.0, 1.0], "f32"))
    assert r[:2].tolist() == [1.5, -1.5] and np.isnan(r[2]) and np.isnan(r[3])


def test_shifts_amount_at_least_bit_width():
    x = arr([1, -1, 3, -128], "i8")
    amt = arr([8, 9, -1, 1], "i8")  # -1 reads as 255
    assert run("shift_left", x, amt).tolist() == [0, 0, 0, 0]
    assert run("shift_right_arithmetic", arr([-128, 64, -1, -128], "i8"), arr([8, 100, -1, 1], "i8")).tolist() == \
        [-1, 0, -1, -64]
    assert run("shift_right_logical", arr([-128, 64, -1, -128], "i8"), arr([8, 7, -1, 1], "i8")).tolist() == \
        [0, 0, 0, 64]
    assert run("shift_left", arr([1], "ui64"), arr([63], "ui64")).tolist() == [2**63]
    assert run("shift_right_logical", arr([-1], "i4"), arr([1], "i4")).astype(int).tolist() == [7]


def test_integer_power():
    r = run("power", arr([2, -1, 3, 0, -2, 1, 2], "i32"), arr([-1, -3, 3, 0, 3, -5, 31], "i32"))
    assert r.tolist() == [0, -1, 27, 1, -8, 1, -2**31]


def test_popcnt_and_count_leading_zeros():
    assert run("popcnt", arr([-1, 3, 0, -128], "i8")).tolist() == [8, 2, 0, 1]
    assert run("popcnt", arr([2**64 - 1], "ui64")).tolist() == [64]
    assert run("count_leading_zeros", arr([0, 1, -1, 256], "i16")).tolist() == [16, 15, 0, 7]
    assert run("count_leading_zeros", arr([1], "i64")).tolist() == [63]


def test_bitwise_on_integers_and_booleans():
    assert run("and", arr([0b1100], "ui8"), arr([0b1010], "ui8")).tolist() == [0b1000]
    assert run("or", arr([True, False], "i1"), arr([False, False], "i1")).tolist() == [True, False]
    assert run("xor", arr([-1], "i8"), arr([1], "i8")).tolist() == [-2]
    assert run("not", arr([0, -1], "i8")).tolist() == [-1, 0]
    assert run("not", arr([True, False], "i1")).tolist() == [False, True]


# ---- min / max / compare -------------------------------------------------------------------------------
def test_min_max_propagate_nan_and_order_signed_zeros():
    a, b = arr([NAN, 1.0, 0.0, -0.0], "f32"), arr([1.0, NAN, -0.0, 0.0], "f32")
    mx, mn = run("maximum", a, b), run("minimum", a, b)
    assert np.isnan(mx[:2]).all() and np.isnan(mn[:2]).all()
    assert bits(mx[2:]) == bits(arr([0.0, 0.0], "f32"))
    assert bits(mn[2:]) == bits(arr([-0.0, -0.0], "f32"))
    assert run("maximum", arr([3, -5], "i8"), arr([-1, -4], "i8")).tolist() == [3, -4]
    assert run("minimum", arr([200], "ui8"), arr([100], "ui8")).tolist() == [100]
    assert run("maximum", arr([True, False], "i1"), arr([False, False], "i1")).tolist() == [True, False]


def test_complex_max_is_lexicographic():
    a = arr([1 + 5j, 2 + 0j], "complex<f32>")
    b = arr([1 + 6j, 1 + 9j], "complex<f32>")
    assert run("maximum", a, b).tolist() == [1 + 6j, 2 + 0j]


@pytest.mark.parametrize("direction,expected", [
    ("EQ", [False, True, False, False]), ("NE", [True, False, True, True]),
    ("LT", [False, False, True, False]), ("LE", [False, True, True, False]),
    ("GT", [False, False, False, False]), ("GE", [False, True, False, False]),
])
def test_compare_float(direction, expected):
    a = arr([NAN, 0.0, -INF, NAN], "f32")
    b = arr([NAN, -0.0, 1.0, 1.0], "f32")
    assert run("compare", a, b, attrs={"comparison_direction": direction, "compare_type": "FLOAT"}).tolist() == expected


def test_compare_totalorder():
    order = arr([-NAN, -INF, -1.0, -0.0, 0.0, 1e-45, INF, NAN], "f32")
    n = len(order)
    a = np.repeat(order, n)
    b = np.tile(order, n)
    lt = run("compare", a, b, attrs={"comparison_direction": "LT", "compare_type": "TOTALORDER"}).reshape(n, n)
    assert (lt == np.triu(np.ones((n, n), bool), 1)).all()
    eq = run("compare", arr([NAN, 0.0], "f32"), arr([NAN, -0.0], "f32"),
             attrs={"comparison_direction": "EQ", "compare_type": "TOTALORDER"})
    assert eq.tolist() == [True, False]


def test_compare_integers_signed_and_unsigned():
    assert run("compare", arr([-1], "i8"), arr([1], "i8"), attrs={"comparison_direction": "LT"}).tolist() == [True]
    assert run("compare", arr([255], "ui8"), arr([1], "ui8"), attrs={"comparison_direction": "LT"}).tolist() == [False]
    assert run("compare", arr([True], "i1"), arr([False], "i1"), attrs={"comparison_direction": "GT"}).tolist() == [True]


# ---- rounding and conversions ---------------------------------------------------------------------------------
def test_round_nearest_afz_and_even():
    x = arr([0.5, -0.5, 1.5, 2.5, -2.5, 0.49999997, 3.7, -0.0], "f32")
    assert run("round_nearest_afz", x).tolist() == [1.0, -1.0, 2.0, 3.0, -3.0, 0.0, 4.0, -0.0]
    assert run("round_nearest_even", x).tolist() == [0.0, -0.0, 2.0, 2.0, -2.0, 0.0, 4.0, -0.0]
    assert bits(run("round_nearest_afz", arr([-0.25], "f32"))) == bits(arr([-0.0], "f32"))


def test_convert_float_to_int_truncates_and_saturates():
    x = arr([NAN, 1e10, -1e10, -1.5, 255.9, -0.9, INF, -INF], "f32")
    assert run("convert", x, type=_t((8,), "i32")).tolist() == \
        [0, 2**31 - 1, -2**31, -1, 255, 0, 2**31 - 1, -2**31]
    assert run("convert", x, type=_t((8,), "ui8")).tolist() == [0, 255, 0, 0, 255, 0, 255, 0]
    assert run("convert", arr([1e30, -1e30], "f64"), type=_t((2,), "i64")).tolist() == [2**63 - 1, -2**63]
    assert run("convert", arr([1.9e19, 1.8e19], "f64"), type=_t((2,), "ui64")).tolist() == [2**64 - 1, 18 * 10**18]


def test_convert_int_to_float_rounds_to_nearest_even():
    assert run("convert", arr([16777217, 16777219], "i32"), type=_t((2,), "f32")).tolist() == [16777216.0, 16777220.0]
    r = run("convert", arr([257, 259], "i32"), type=_t((2,), "bf16"))
    assert r.astype(np.float32).tolist() == [256.0, 260.0]


def test_convert_int_to_int_wraps_and_bool_rules():
    assert run("convert", arr([300, -1], "i32"), type=_t((2,), "ui8")).tolist() == [44, 255]
    assert run("convert", arr([0.0, -0.0, NAN, 0.5], "f32"), type=_t((4,), "i1")).tolist() == [False, False, True, True]
    assert run("convert", arr([True, False], "i1"), type=_t((2,), "f32")).tolist() == [1.0, 0.0]
    assert run("convert", arr([3 + 4j], "complex<f32>"), type=_t((1,), "f32")).tolist() == [3.0]
    assert run("convert", arr([2.5], "f32"), type=_t((1,), "complex<f64>")).tolist() == [2.5 + 0j]


def test_convert_between_float_types_rounds_once():
    r = run("convert", arr([1.0 + 2.0**-8, 1.0 + 3 * 2.0**-9, 70000.0], "f32"), type=_t((3,), "bf16"))
    assert r.astype(np.float32).tolist() == [1.0, 1.0078125, 70144.0]
    assert run("convert", arr([70000.0], "f32"), type=_t((1,), "f16")).tolist() == [INF]


def test_bitcast_convert():
    assert run("bitcast_convert", arr([1.0], "f32"), type=_t((1,), "i32")).tolist() == [0x3F800000]
    r = run("bitcast_convert", arr(0x0123456789ABCDEF, "i64"), type=_t((2,), "ui32"))
    assert r.tolist() == [0x89ABCDEF, 0x01234567]  # element 0: least significant bits
    back = run("bitcast_convert", arr([0x89ABCDEF, 0x01234567], "ui32"), type=_t((), "i64"))
    assert int(back) == 0x0123456789ABCDEF
    r = run("bitcast_convert", arr(0b10100101, "ui8"), type=_t((8,), "i1"))
    assert r.tolist() == [True, False, True, False, False, True, False, True]


def test_reduce_precision_matches_bf16_rounding():
    x = arr([1.0 + 2.0**-8, 1.0 + 3 * 2.0**-9, 3.0e38, 1e-39, NAN], "f32")
    r = run("reduce_precision", x, attrs={"exponent_bits": 8, "mantissa_bits": 7})
    expect = x.astype(ml_dtypes.bfloat16).astype(np.float32)
    assert bits(r[:4]) == bits(expect[:4]) and np.isnan(r[4])
    r = run("reduce_precision", arr([1e5, 1e-6, NAN], "f32"), attrs={"exponent_bits": 5, "mantissa_bits": 0})
    assert r.tolist()[:2] == [INF, 0.0] and r[2] == INF


# ---- float arithmetic and functions ----------------------------------------------------------------------------
def test_low_precision_arithmetic_is_correctly_rounded():
    a, b = arr([1.0], "f16"), arr([2.0**-11], "f16")
    assert run("add", a, b).tolist() == [1.0]                    # tie to even
    assert run("add", a, arr([3 * 2.0**-12], "f16")).tolist() == [1.0 + 2.0**-10]
    x = arr([1.0], "bf16")
    assert run("add", x, arr([2.0**-8], "bf16")).astype(np.float32).tolist() == [1.0]


def test_sign_and_abs():
    r = run("sign", arr([-0.0, 0.0, NAN, -3.0, 2.0], "f32"))
    assert bits(r[:2]) == bits(arr([-0.0, 0.0], "f32")) and np.isnan(r[2]) and r[3:].tolist() == [-1.0, 1.0]
    assert run("sign", arr([-5, 0, 7], "i32")).tolist() == [-1, 0, 1]
    c = run("sign", arr([3 + 4j, 0j], "complex<f64>"))
    assert np.allclose(c, [0.6 + 0.8j, 0j])
    a = run("abs", arr([3 + 4j], "complex<f32>"))
    assert a.dtype == np.float32 and a.tolist() == [5.0]


def test_transcendentals_round_from_double():
    x = arr([0.5, 2.0], "f32")
    assert run("exponential", x).tolist() == np.exp(np.float64(x)).astype(np.float32).tolist()
    assert run("log_plus_one", arr([1e-10], "f64")).tolist() == [math.log1p(1e-10)]
    r = run("logistic", arr([0.0, 100.0, -100.0], "f32"))
    assert r.tolist() == [0.5, 1.0, np.float32(math.exp(-100) / (1 + math.exp(-100)))]
    assert run("rsqrt", arr([4.0], "f16")).tolist() == [0.5]
    assert run("cbrt", arr([-27.0], "f64")).tolist() == [-3.0]
    assert run("is_finite", arr([1.0, INF, NAN], "f32")).tolist() == [True, False, False]


def test_complex_ops():
    c = run("complex", arr([1.0, 2.0], "f32"), arr([3.0, -4.0], "f32"))
    assert c.dtype == np.complex64 and c.tolist() == [1 + 3j, 2 - 4j]
    assert run("real", c).tolist() == [1.0, 2.0] and run("imag", c).tolist() == [3.0, -4.0]
    assert run("multiply", c, c).tolist() == [(1 + 3j) ** 2, (2 - 4j) ** 2]
    assert np.allclose(run("exponential", arr([1j * math.pi], "complex<f64>")), [-1.0])
    assert run("conj", c).tolist() == [1 - 3j, 2 + 4j]


def test_atan2_and_power():
    assert run("atan2", arr([1.0, -1.0], "f64"), arr([-1.0, -1.0], "f64")).tolist() == \
        [math.atan2(1, -1), math.atan2(-1, -1)]
    assert run("power", arr([2.0, -8.0], "f32"), arr([0.5, 1 / 3], "f32")).tolist()[0] == np.float32(math.sqrt(2))


def test_chlo_special_functions():
    assert run("erf_inv", arr([0.0], "f32")).tolist() == [0.0]
    assert run("lgamma", arr([1.0, 2.0], "f64")).tolist() == [0.0, 0.0]
    assert run("digamma", arr([1.0], "f64")).tolist()[0] == pytest.approx(-0.5772156649015329)
    assert np.isnan(run("digamma", arr([-2.0], "f64"))[0])
    assert run("erf", arr([0.5], "f64")).tolist()[0] == pytest.approx(math.erf(0.5), rel=1e-15)
    assert run("is_neg_inf", arr([-INF, INF], "f32")).tolist() == [True, False]
    assert run("square", arr([-3], "i8")).tolist() == [9]
    assert run("polygamma", arr([1.0], "f64"), arr([1.0], "f64")).tolist()[0] == pytest.approx(math.pi ** 2 / 6)
    assert run("zeta", arr([2.0], "f64"), arr([1.0], "f64")).tolist()[0] == pytest.approx(math.pi ** 2 / 6)
    # cosh/sinh round like chlo's decomposition (e^(x+log(1/2)) + ...), which XLA's results carry
    c = run("cosh", arr([0.0, 1.0], "f32"))
    assert c[0] == 1.0 and abs(c[1] - math.cosh(1.0)) <= 2 * np.spacing(np.float32(1.5))
    assert run("sinh", arr([0.5], "f64")).tolist()[0] == pytest.approx(math.sinh(0.5), rel=1e-15)


def test_next_after():
    r = run("next_after", arr([1.0, 0.0, 0.0, 1.0, NAN], "f32"), arr([2.0, -1.0, 1.0, 1.0, 0.0], "f32"))
    assert r[0] == np.nextafter(np.float32(1), np.float32(2))
    assert bits(r[1:3]) == [0x80000001, 0x00000001]
    assert r[3] == 1.0 and np.isnan(r[4])
    b = run("next_after", arr([1.0], "bf16"), arr([2.0], "bf16"))
    assert b.astype(np.float32).tolist() == [1.0078125]


# ---- ternary --------------------------------------------------------------------------------------------------
def test_select_with_scalar_and_tensor_pred():
    t, f = arr([1, 2], "i32"), arr([3, 4], "i32")
    assert run("select", arr([True, False], "i1"), t, f).tolist() == [1, 4]
    assert run("select", arr(False, "i1"), t, f).tolist() == [3, 4]


def test_clamp_scalar_bounds_and_nan():
    assert run("clamp", arr(0, "i32"), arr([-5, 3, 9], "i32"), arr(5, "i32")).tolist() == [0, 3, 5]
    r = run("clamp", arr([0.0, 0.0], "f32"), arr([NAN, 2.0], "f32"), arr([1.0, 1.0], "f32"))
    assert np.isnan(r[0]) and r[1] == 1.0


def _t(shape, dt):
    from xltune.ir import tensor
    return tensor(shape, dt)
