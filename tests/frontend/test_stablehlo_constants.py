"""Every dense<...> encoding the parser reads, checked value by value (and bit by bit)."""
from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from stablehlo_helpers import func, roundtrip
from xltune.frontend.stablehlo import parse


def const(literal: str, ty: str) -> np.ndarray:
    m = parse(func(f"  %0 = stablehlo.constant {literal} : {ty}\n  return %0 : {ty}", "", ty))
    (inst,) = [i for i in m.entry.instructions if i.opcode == "constant"]
    v = inst.attrs["value"]
    assert inst.type.shape == v.shape and inst.type.dtype.np_dtype == v.dtype
    return v


def bits(a) -> bytes:
    return np.ascontiguousarray(a).tobytes()


def test_splats_are_readonly_broadcast_views():
    v = const("dense<1.5>", "tensor<2x3xf32>")
    assert v.shape == (2, 3) and v.dtype == np.float32 and (v == 1.5).all()
    assert not v.flags.writeable and 0 in v.strides
    assert (const("dense<true>", "tensor<4xi1>") == True).all()  # noqa: E712
    assert const("dense<-3>", "tensor<i8>").item() == -3


def test_nested_lists():
    v = const("dense<[[1, 2, 3], [4, 5, 6]]>", "tensor<2x3xi32>")
    np.testing.assert_array_equal(v, np.arange(1, 7, dtype=np.int32).reshape(2, 3))
    v = const("dense<[[0.5], [-2.0e+01], [3.25E-1]]>", "tensor<3x1xf64>")
    np.testing.assert_array_equal(v, np.array([[0.5], [-20.0], [0.325]]))
    v = const("dense<[true, false, true]>", "tensor<3xi1>")
    assert v.dtype == np.bool_ and v.tolist() == [True, False, True]
    v = const("dense<[\n  [1, 2], // a comment\n  [3, 4]\n]>", "tensor<2x2xui8>")
    assert v.tolist() == [[1, 2], [3, 4]]


def test_integer_ranges_and_signless_spelling():
    assert const("dense<[-9223372036854775808, 9223372036854775807]>", "tensor<2xi64>").tolist() == \
        [-(1 << 63), (1 << 63) - 1]
    assert const("dense<18446744073709551615>", "tensor<ui64>").item() == (1 << 64) - 1
    assert const("dense<[255, 128]>", "tensor<2xi8>").tolist() == [-1, -128]  # signless MLIR spelling
    assert const("dense<0x7F>", "tensor<i8>").item() == 127


def test_hex_blobs_are_little_endian():
    v = const('dense<"0x0000803F000000C0">', "tensor<2xf32>")
    np.testing.assert_array_equal(v, np.array([1.0, -2.0], np.float32))
    v = const('dense<"0x0100000002000000">', "tensor<2xi32>")
    assert v.tolist() == [1, 2]
    v = const('dense<"0x803F0040">', "tensor<2xbf16>")
    assert v.dtype == ml_dtypes.bfloat16 and v.astype(np.float32).tolist() == [1.0, 2.0]
    v = const('dense<"0x003C00C0">', "tensor<2xf16>")
    assert v.tolist() == [1.0, -2.0]


def test_hex_blob_i1_takes_one_byte_per_element():
    v = const('dense<"0x01000101">', "tensor<4xi1>")
    assert v.tolist() == [True, False, True, True]


def test_hex_blob_complex_is_real_imag_pairs():
    v = const('dense<"0x0000803F00000040000040400000C0C0">', "tensor<2xcomplex<f32>>")
    np.testing.assert_array_equal(v, np.array([1 + 2j, 3 - 6j], np.complex64))


def test_one_element_hex_blob_is_a_splat():
    v = const('dense<"0x0000803F">', "tensor<2x2xf32>")
    assert v.shape == (2, 2) and (v == 1.0).all() and 0 in v.strides


def test_special_floats():
    v = const("dense<0xFF800000>", "tensor<f32>")
    assert v.item() == -np.inf
    v = const("dense<[inf, -inf, nan, 0x7FC00000, -0.0]>", "tensor<5xf32>")
    assert v[0] == np.inf and v[1] == -np.inf and np.isnan(v[2])
    assert bits(v[3:4]) == bytes.fromhex("0000C07F")  # the exact NaN payload is kept
    assert bits(v[4:5]) == bytes.fromhex("00000080")
    v = const("dense<0x7FF0000000000001>", "tensor<f64>")
    assert bits(v) == bytes.fromhex("010000000000F07F")  # a signalling NaN stays one


def test_complex_literals():
    v = const("dense<(1.0, -2.0)>", "tensor<2xcomplex<f64>>")
    assert v.tolist() == [1 - 2j, 1 - 2j]
    v = const("dense<[(1.5, 2.5), (3.140000e+00,1.000000e+00)]>", "tensor<2xcomplex<f32>>")
    np.testing.assert_array_equal(v, np.array([1.5 + 2.5j, 3.14 + 1j], np.complex64))
    v = const("dense<[(0x7FF0000000000001, 0x8000000000000000)]>", "tensor<1xcomplex<f64>>")
    assert np.isnan(v[0].real) and str(v[0].imag) == "-0.0"


@pytest.mark.parametrize("ty, literal, expect, np_type", [
    ("i2", "[-2, -1, 0, 1]", [-2, -1, 0, 1], ml_dtypes.int2),
    ("ui2", "[0, 1, 2, 3]", [0, 1, 2, 3], ml_dtypes.uint2),
    ("i4", "[-8, -1, 0, 1, 7]", [-8, -1, 0, 1, 7], ml_dtypes.int4),
    ("ui4", "[0, 8, 15]", [0, 8, 15], ml_dtypes.uint4),
])
def test_sub_byte_integers(ty, literal, expect, np_type):
    v = const(f"dense<{literal}>", f"tensor<{len(expect)}x{ty}>")
    assert v.dtype == np.dtype(np_type) and [int(x) for x in v] == expect


def test_sub_byte_hex_takes_one_byte_per_element():
    v = const('dense<"0x0F08FF">', "tensor<3xi4>")
    assert [int(x) for x in v] == [-1, -8, -1]


@pytest.mark.parametrize("ty, np_type", [
    ("f8E4M3FN", ml_dtypes.float8_e4m3fn), ("f8E5M2", ml_dtypes.float8_e5m2),
    ("f8E4M3FNUZ", ml_dtypes.float8_e4m3fnuz), ("f8E5M2FNUZ", ml_dtypes.float8_e5m2fnuz),
    ("f8E4M3B11FNUZ", ml_dtypes.float8_e4m3b11fnuz), ("f8E3M4", ml_dtypes.float8_e3m4),
    ("f8E4M3", ml_dtypes.float8_e4m3), ("f4E2M1FN", ml_dtypes.float4_e2m1fn),
    ("f6E2M3FN", ml_dtypes.float6_e2m3fn), ("f6E3M2FN", ml_dtypes.float6_e3m2fn),
])
def test_small_floats(ty, np_type):
    v = const("dense<[1.0, -0.5, 0x01]>", f"tensor<3x{ty}>")
    assert v.dtype == np.dtype(np_type)
    assert v[:2].astype(np.float32).tolist() == [1.0, -0.5]
    assert bits(v[2:]) == b"\x01"  # a hex element is a bit pattern


def test_conformance_style_f4_values():
    v = const("dense<[0.0, -0.0, 1.0, 0.125, 0.1, 3.1415, 0x07, 0x0F, 0x01, 0x09]>", "tensor<10xf4E2M1FN>")
    assert v.astype(np.float32).tolist() == [0.0, -0.0, 1.0, 0.0, 0.0, 3.0, 6.0, -6.0, 0.5, -0.5]


def test_empty_tensors():
    assert const("dense<>", "tensor<0xf32>").shape == (0,)
    assert const("dense<[]>", "tensor<0xi32>").shape == (0,)
    assert const("dense<[[], []]>", "tensor<2x0xi32>").shape == (2, 0)


def test_integers_in_float_tensors_and_ints_for_bools():
    assert const("dense<[1, -2]>", "tensor<2xf32>").tolist() == [1.0, -2.0]
    assert const("dense<[1, 0]>", "tensor<2xi1>").tolist() == [True, False]


@pytest.mark.parametrize("literal, ty", [
    ("dense<[1.5, 0x7FC00001, -0.0, 1.0e-45]>", "tensor<4xf32>"),
    ("dense<[0.1, 0.2, 0.30000000000000004]>", "tensor<3xf64>"),
    ("dense<[(1.0, 2.0), (nan, -inf)]>", "tensor<2xcomplex<f32>>"),
    ('dense<"0x000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F">', "tensor<32xui8>"),
    ('dense<"0x0000803F0000004000004040000080400000A0400000C0400000E04000000041'
     '000010410000204100003041000040410000504100006041000070410000804100008841">', "tensor<17xf32>"),
    ("dense<[true, false, true, true, false, false, true, false, true, true, false, false, true, "
     "false, true, true, false, true]>", "tensor<18xi1>"),
    ("dense<[-8, 7, 0]>", "tensor<3xi4>"),
    ("dense<[0.1, 3.0]>", "tensor<2xbf16>"),
])
def test_constants_round_trip_bit_exactly(literal, ty):
    m, text = roundtrip(func(f"  %0 = stablehlo.constant {literal} : {ty}\n  return %0 : {ty}", "", ty))
    v = const(literal, ty)
    again = [i for i in parse(text).entry.instructions if i.opcode == "constant"][0].attrs["value"]
    assert bits(v) == bits(again)
