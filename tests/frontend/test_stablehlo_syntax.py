"""The StableHLO parser, one syntax form at a time: the IR each form gives (docs/ir.md)."""
from __future__ import annotations

import numpy as np
import pytest

from stablehlo_helpers import func, one, ops, roundtrip
from xltune.frontend.stablehlo import parse, parse_chunks, split_chunks
from xltune.ir import (ConvDimensionNumbers, DotDimensionNumbers, GatherDimensionNumbers, RawAttr,
                       ScatterDimensionNumbers, TupleType, tensor)
from xltune.ir.types import TOKEN

F32_4 = "tensor<4xf32>"


# ---- module structure ------------------------------------------------------------------------
def test_jax_module_with_attributes_and_arg_attrs():
    text = """
module @jit_f attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<4xf32> {mhlo.layout_mode = "default"}, %arg1: tensor<4xf32>)
      -> (tensor<4xf32> {jax.result_info = "", mhlo.layout_mode = "default"}) {
    %0 = stablehlo.add %arg0, %arg1 : tensor<4xf32>
    return %0 : tensor<4xf32>
  }
}
"""
    m = parse(text)
    assert m.name == "jit_f"
    assert m.attrs == "{mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32}"
    assert m.entry_name == "main" and list(m.functions) == ["main"]
    f = m.entry
    assert [p.opcode for p in f.params] == ["parameter", "parameter"]
    assert [p.attrs["index"] for p in f.params] == [0, 1]
    assert f.instructions[:2] == f.params
    assert f.arg_attrs == ['{mhlo.layout_mode = "default"}', None]
    assert f.result_attrs == ['{jax.result_info = "", mhlo.layout_mode = "default"}']
    (add,) = ops(m)
    assert add.opcode == "add" and add.operands == tuple(f.params) and add.type == tensor((4,), "f32")
    assert f.outputs == [add]
    assert add.loc.line == 5 and add.loc.col == 10


def test_bare_functions_and_visibility():
    text = """
func.func private @helper(%x: tensor<f32>) -> tensor<f32> {
  %0 = stablehlo.negate %x : tensor<f32>
  func.return %0 : tensor<f32>
}
func.func @main(%a: tensor<f32>) -> tensor<f32> {
  %0 = func.call @helper(%a) : (tensor<f32>) -> tensor<f32>
  %1 = call @helper(%0) : (tensor<f32>) -> tensor<f32>
  return %1 : tensor<f32>
}
"""
    m = parse(text)
    assert m.name is None
    assert list(m.functions) == ["main"]  # private functions vanish after inlining
    body = ops(m)
    assert [i.opcode for i in body] == ["negate", "negate"]
    assert body[0].operands == (m.entry.params[0],) and body[1].operands == (body[0],)
    assert m.entry.outputs == [body[1]]
    assert body[0].loc.line == 3  # inlined instructions keep their source location


def test_entry_is_the_only_public_function_else_all_public_are_kept():
    m = parse(func("return", "").replace("@main", "@only"))
    assert m.entry_name == "only"
    two = parse("func.func @a() { return }\nfunc.func @b() { return }\n")
    assert list(two.functions) == ["a", "b"] and two.entry_name == "a"


def test_call_returning_several_values_and_a_parameter():
    text = """
func.func private @pair(%x: tensor<f32>) -> (tensor<f32>, tensor<f32>) {
  %0 = stablehlo.abs %x : tensor<f32>
  return %0, %x : tensor<f32>, tensor<f32>
}
func.func @main(%a: tensor<f32>) -> tensor<f32> {
  %0:2 = call @pair(%a) : (tensor<f32>) -> (tensor<f32>, tensor<f32>)
  %1 = stablehlo.add %0#0, %0#1 : tensor<f32>
  return %1 : tensor<f32>
}
"""
    m = parse(text)
    abs_, add = ops(m)
    assert add.operands == (abs_, m.entry.params[0])


def test_calls_inside_regions_are_inlined():
    text = """
func.func private @max(%a: tensor<f32>, %b: tensor<f32>) -> tensor<f32> {
  %0 = stablehlo.maximum %a, %b : tensor<f32>
  return %0 : tensor<f32>
}
func.func @main(%x: tensor<4xf32>) -> tensor<f32> {
  %init = stablehlo.constant dense<0.0> : tensor<f32>
  %0 = stablehlo.reduce(%x init: %init) across dimensions = [0] : (tensor<4xf32>, tensor<f32>) -> tensor<f32>
   reducer(%p: tensor<f32>, %q: tensor<f32>) {
    %1 = func.call @max(%p, %q) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    stablehlo.return %1 : tensor<f32>
  }
  return %0 : tensor<f32>
}
"""
    red = one(text, "reduce")
    body = red.regions[0]
    (mx,) = [i for i in body.instructions if i.opcode != "parameter"]
    assert mx.opcode == "maximum" and mx.operands == tuple(body.params) and body.outputs == [mx]


def test_split_chunks_and_line_numbers():
    text = "func.func @a() { return }\n// -----\n\nfunc.func @b() {\n  %0 = stablehlo.bogus\n}\n// -----\nfunc.func @c() { return }"
    chunks = split_chunks(text)
    assert [first for first, _ in chunks] == [1, 3, 8]
    assert chunks[1][1].startswith("\nfunc.func @b")
    with pytest.raises(Exception) as e:
        parse_chunks(text, "f.mlir")
    assert e.value.line == 5 and e.value.col == 8
    ok = parse_chunks(text.replace("%0 = stablehlo.bogus", "return"), "f.mlir")
    assert [list(m.functions) for _, m in ok] == [["a"], ["b"], ["c"]]


def test_loc_and_loc_aliases_are_skipped():
    text = """#loc = loc("x.py":1:2)
#loc1 = loc(fused[#loc, "y"(callsite("f" at "g":3:4))])
module @m {
  func.func @main(%a: tensor<f32> loc("a"(#loc))) -> tensor<f32> {
    %0 = stablehlo.abs %a : tensor<f32> loc(#loc1)
    return %0 : tensor<f32> loc(#loc)
  } loc(#loc)
} loc(#loc)
#loc2 = loc("z")
"""
    m = parse(text)
    assert [i.opcode for i in ops(m)] == ["abs"]


# ---- values and results ------------------------------------------------------------------------
def test_multi_results_become_multi_with_get_tuple_elements():
    text = func("""
  %0 = stablehlo.constant dense<[3.0, 1.0]> : tensor<2xf32>
  %values, %indices = chlo.top_k(%0, k = 1) : tensor<2xf32> -> (tensor<1xf32>, tensor<1xi32>)
  %r:2 = chlo.top_k(%0, k = 2) : tensor<2xf32> -> (tensor<2xf32>, tensor<2xi32>)
  return %indices, %r#1, %r : tensor<1xi32>, tensor<2xi32>, tensor<2xf32>
""", "", "(tensor<1xi32>, tensor<2xi32>, tensor<2xf32>)")
    m = parse(text)
    body = ops(m)
    names = [i.opcode for i in body]
    # producer, then one get_tuple_element per used result, right after it
    assert names == ["constant", "top_k", "get_tuple_element", "top_k", "get_tuple_element",
                     "get_tuple_element"]
    k1, g1, k2, g20, g21 = body[1:]
    assert k1.multi and k1.type == TupleType((tensor((1,), "f32"), tensor((1,), "i32")))
    assert k1.attrs == {"k": 1}
    assert g1.operands == (k1,) and g1.attrs == {"index": 1} and not g1.multi
    assert [g20.attrs["index"], g21.attrs["index"]] == [0, 1]
    assert m.entry.outputs == [g1, g21, g20]  # %r means %r#0


def test_no_results_is_multi_with_empty_tuple():
    inst = one(func('  stablehlo.custom_call @check.expect_eq(%a, %a) {has_side_effect = true} : '
                    '(tensor<f32>, tensor<f32>) -> ()\n  return', "%a: tensor<f32>"), "custom_call")
    assert inst.multi and inst.type == TupleType(())
    assert inst.attrs == {"call_target_name": "check.expect_eq", "has_side_effect": True}


def test_real_tuples_are_not_multi():
    text = func("""
  %t = stablehlo.tuple %a, %b : tuple<tensor<f32>, tensor<i32>>
  %x = stablehlo.get_tuple_element %t[1] : (tuple<tensor<f32>, tensor<i32>>) -> tensor<i32>
  %y = "stablehlo.get_tuple_element"(%p) <{index = 0 : i32}> : (tuple<tensor<f32>>) -> tensor<f32>
  return %x, %y : tensor<i32>, tensor<f32>
""", "%a: tensor<f32>, %b: tensor<i32>, %p: tuple<tensor<f32>>", "(tensor<i32>, tensor<f32>)")
    m = parse(text)
    t, x, y = ops(m)
    assert t.opcode == "tuple" and not t.multi and t.type == TupleType((tensor((), "f32"), tensor((), "i32")))
    assert x.opcode == "get_tuple_element" and x.attrs == {"index": 1} and x.operands == (t,)
    assert y.attrs == {"index": 0} and m.entry.params[2].type == TupleType((tensor((), "f32"),))


def test_token_type():
    text = func("""
  %t = stablehlo.create_token : !stablehlo.token
  %u = stablehlo.after_all %t, %a : !stablehlo.token
  return %u : !stablehlo.token
""", "%a: !stablehlo.token", "!stablehlo.token")
    m = parse(text)
    t, u = ops(m)
    assert t.type == TOKEN and u.type == TOKEN and u.operands == (t, m.entry.params[0])


# ---- pretty forms --------------------------------------------------------------------------------
@pytest.mark.parametrize("line, opcode", [
    ("%0 = stablehlo.abs %a : tensor<4xf32>", "abs"),
    ("%0 = stablehlo.add %a, %a : tensor<4xf32>", "add"),
    ("%0 = stablehlo.convert %a : (tensor<4xf32>) -> tensor<4xf32>", "convert"),
    ("%0 = chlo.erf %a : tensor<4xf32> -> tensor<4xf32>", "erf"),
    ("%0 = chlo.next_after %a, %a : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>", "next_after"),
    ("%0 = chlo.tan %a : tensor<4xf32> -> tensor<4xf32>", "tan"),
    ("%0 = stablehlo.tan %a : tensor<4xf32>", "tan"),
    ('%0 = "stablehlo.abs"(%a) : (tensor<4xf32>) -> tensor<4xf32>', "abs"),
])
def test_elementwise_forms(line, opcode):
    inst = one(func(f"  {line}\n  return %0 : tensor<4xf32>", "%a: tensor<4xf32>", F32_4), opcode)
    assert inst.type == tensor((4,), "f32") and inst.attrs == {}


def test_select_clamp_complex_type_shorthands():
    text = func("""
  %0 = stablehlo.select %p, %a, %a : tensor<4xi1>, tensor<4xf32>
  %1 = stablehlo.clamp %s, %a, %s : (tensor<f32>, tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %2 = stablehlo.complex %a, %a : tensor<4xcomplex<f32>>
  return %2 : tensor<4xcomplex<f32>>
""", "%p: tensor<4xi1>, %a: tensor<4xf32>, %s: tensor<f32>", "tensor<4xcomplex<f32>>")
    sel, clamp, cplx = ops(parse(text))
    assert sel.opcode == "select" and sel.type == tensor((4,), "f32")
    assert clamp.type == tensor((4,), "f32")
    assert cplx.type == tensor((4,), "complex<f32>")


def test_compare_forms():
    text = func("""
  %0 = stablehlo.compare  LT, %a, %b,  FLOAT : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xi1>
  %1 = stablehlo.compare GE, %a, %b : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xi1>
  %2 = "stablehlo.compare"(%a, %b) {comparison_direction = #stablehlo<comparison_direction EQ>, compare_type = #stablehlo<comparison_type TOTALORDER>} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xi1>
  return %0 : tensor<4xi1>
""", "%a: tensor<4xf32>, %b: tensor<4xf32>", "tensor<4xi1>")
    c0, c1, c2 = ops(parse(text))
    assert c0.attrs == {"comparison_direction": "LT", "compare_type": "FLOAT"}
    assert c1.attrs == {"comparison_direction": "GE"}
    assert c2.attrs == {"comparison_direction": "EQ", "compare_type": "TOTALORDER"}
    assert c0.type == tensor((4,), "i1")


def test_data_movement_forms():
    text = func("""
  %0 = stablehlo.broadcast_in_dim %a, dims = [1] : (tensor<4xf32>) -> tensor<2x4xf32>
  %1 = stablehlo.transpose %0, dims = [1, 0] : (tensor<2x4xf32>) -> tensor<4x2xf32>
  %2 = stablehlo.reshape %1 : (tensor<4x2xf32>) -> tensor<8xf32>
  %3 = stablehlo.slice %2 [0:8:2] : (tensor<8xf32>) -> tensor<4xf32>
  %4 = stablehlo.slice %0 [0:2, 1:3] : (tensor<2x4xf32>) -> tensor<2x2xf32>
  %5 = stablehlo.iota dim = 0 : tensor<4xi32>
  %6 = stablehlo.reverse %a, dims = [0] : tensor<4xf32>
  %7 = stablehlo.concatenate %a, %6, dim = 0 : (tensor<4xf32>, tensor<4xf32>) -> tensor<8xf32>
  %8 = stablehlo.pad %a, %s, low = [1], high = [-1], interior = [2] : (tensor<4xf32>, tensor<f32>) -> tensor<10xf32>
  %9 = stablehlo.dynamic_slice %a, %i, sizes = [2] : (tensor<4xf32>, tensor<i32>) -> tensor<2xf32>
  %10 = stablehlo.dynamic_update_slice %a, %9, %i : (tensor<4xf32>, tensor<2xf32>, tensor<i32>) -> tensor<4xf32>
  %11 = stablehlo.broadcast %s, sizes = [3] : (tensor<f32>) -> tensor<3xf32>
  return %3 : tensor<4xf32>
""", "%a: tensor<4xf32>, %s: tensor<f32>, %i: tensor<i32>", "tensor<4xf32>")
    b, t, r, s1, s2, io, rev, cat, pad, ds, dus, bc = ops(parse(text))
    assert b.attrs == {"broadcast_dimensions": (1,)}
    assert t.attrs == {"permutation": (1, 0)}
    assert r.attrs == {}
    assert s1.attrs == {"start_indices": (0,), "limit_indices": (8,), "strides": (2,)}
    assert s2.attrs == {"start_indices": (0, 1), "limit_indices": (2, 3), "strides": (1, 1)}
    assert io.attrs == {"iota_dimension": 0} and io.type == tensor((4,), "i32")
    assert rev.attrs == {"dimensions": (0,)}
    assert cat.attrs == {"dimension": 0} and len(cat.operands) == 2
    assert pad.attrs == {"edge_padding_low": (1,), "edge_padding_high": (-1,), "interior_padding": (2,)}
    assert ds.attrs == {"slice_sizes": (2,)} and len(ds.operands) == 2
    assert len(dus.operands) == 3
    assert bc.attrs == {"broadcast_sizes": (3,)}
    for inst in (b, t, s1, pad):
        assert all(type(x) is int for x in next(iter(inst.attrs.values())))


def test_generic_dimension_attributes_in_every_spelling():
    text = func("""
  %0 = "stablehlo.broadcast_in_dim"(%a) {broadcast_dimensions = array<i64: 1>} : (tensor<4xf32>) -> tensor<2x4xf32>
  %1 = "stablehlo.broadcast_in_dim"(%a) {broadcast_dimensions = dense<1> : tensor<1xi64>} : (tensor<4xf32>) -> tensor<2x4xf32>
  %2 = "stablehlo.transpose"(%0) <{permutation = dense<[1, 0]> : tensor<2xi64>}> : (tensor<2x4xf32>) -> tensor<4x2xf32>
  %3 = "stablehlo.slice"(%a) {start_indices = array<i64: 1>, limit_indices = array<i64: 3>, strides = array<i64: 1>} : (tensor<4xf32>) -> tensor<2xf32>
  return %3 : tensor<2xf32>
""", "%a: tensor<4xf32>", "tensor<2xf32>")
    b0, b1, t, s = ops(parse(text))
    assert b0.attrs == b1.attrs == {"broadcast_dimensions": (1,)}
    assert t.attrs == {"permutation": (1, 0)}
    assert s.attrs == {"start_indices": (1,), "limit_indices": (3,), "strides": (1,)}


def test_reduce_compact_form():
    text = func("""
  %c = stablehlo.constant dense<0.0> : tensor<f32>
  %0 = stablehlo.reduce(%a init: %c) applies stablehlo.add across dimensions = [1] : (tensor<2x4xf32>, tensor<f32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
""", "%a: tensor<2x4xf32>", "tensor<2xf32>")
    m = parse(text)
    c, red = ops(m)
    assert red.opcode == "reduce" and red.attrs == {"dimensions": (1,)} and not red.multi
    assert red.operands == (m.entry.params[0], c) and red.type == tensor((2,), "f32")
    (body,) = red.regions
    assert [p.type for p in body.params] == [tensor((), "f32")] * 2
    (add,) = ops(m, body)
    assert add.opcode == "add" and add.operands == tuple(body.params) and body.outputs == [add]


def test_reduce_block_form_variadic():
    text = func("""
  %ci = stablehlo.constant dense<0> : tensor<i32>
  %cf = stablehlo.constant dense<0.0> : tensor<f32>
  %r:2 = stablehlo.reduce(%a init: %cf), (%b init: %ci) across dimensions = [0] : (tensor<4xf32>, tensor<4xi32>, tensor<f32>, tensor<i32>) -> (tensor<f32>, tensor<i32>)
   reducer(%x1: tensor<f32>, %y1: tensor<f32>) (%x2: tensor<i32>, %y2: tensor<i32>)  {
    %0 = stablehlo.maximum %x1, %y1 : tensor<f32>
    %1 = stablehlo.add %x2, %y2 : tensor<i32>
    stablehlo.return %0, %1 : tensor<f32>, tensor<i32>
  }
  return %r#1 : tensor<i32>
""", "%a: tensor<4xf32>, %b: tensor<4xi32>", "tensor<i32>")
    m = parse(text)
    ci, cf, red, gte = ops(m)
    assert red.multi and red.operands == (m.entry.params[0], m.entry.params[1], cf, ci)
    body = red.regions[0]
    # block arguments: the first of each pair, then the second of each pair
    assert [p.name for p in body.params] == ["x1", "x2", "y1", "y2"]
    assert gte.attrs == {"index": 1}


def test_while_pretty_form():
    text = func("""
  %c0 = stablehlo.constant dense<0> : tensor<i32>
  %0:2 = stablehlo.while(%it = %c0, %acc = %a) : tensor<i32>, tensor<4xf32>
   cond {
    %c10 = stablehlo.constant dense<10> : tensor<i32>
    %1 = stablehlo.compare  LT, %it, %c10,  SIGNED : (tensor<i32>, tensor<i32>) -> tensor<i1>
    stablehlo.return %1 : tensor<i1>
  } do {
    %c1 = stablehlo.constant dense<1> : tensor<i32>
    %1 = stablehlo.add %it, %c1 : tensor<i32>
    %2 = stablehlo.add %acc, %a : tensor<4xf32>
    stablehlo.return %1, %2 : tensor<i32>, tensor<4xf32>
  }
  return %0#1 : tensor<4xf32>
""", "%a: tensor<4xf32>", F32_4)
    m = parse(text)
    c0, w, g = ops(m)
    assert w.opcode == "while" and w.multi and len(w.regions) == 2
    cond, body = w.regions
    assert [p.type for p in cond.params] == [p.type for p in body.params] == [tensor((), "i32"), tensor((4,), "f32")]
    adds = [i for i in body.instructions if i.opcode == "add"]
    assert adds[1].operands[1] is m.entry.params[0]  # regions may use enclosing values


def test_case_and_if_generic():
    text = func("""
  %r0, %r1 = "stablehlo.case"(%i) ({
    stablehlo.return %a, %a : tensor<f32>, tensor<f32>
  }, {
    %0 = stablehlo.negate %a : tensor<f32>
    stablehlo.return %0, %a : tensor<f32>, tensor<f32>
  }) : (tensor<i32>) -> (tensor<f32>, tensor<f32>)
  %x = "stablehlo.if"(%p) ({
    stablehlo.return %r0 : tensor<f32>
  }, {
    stablehlo.return %r1 : tensor<f32>
  }) : (tensor<i1>) -> tensor<f32>
  return %x : tensor<f32>
""", "%i: tensor<i32>, %p: tensor<i1>, %a: tensor<f32>", "tensor<f32>")
    m = parse(text)
    case, g0, g1, iff = ops(m)
    assert case.multi and len(case.regions) == 2 and not case.regions[0].params
    assert case.regions[0].outputs == [m.entry.params[2]] * 2
    assert not iff.multi and iff.regions[0].outputs == [g0] and iff.regions[1].outputs == [g1]


def test_dot_general_forms():
    text = func("""
  %0 = stablehlo.dot_general %a, %b, batching_dims = [0] x [0], contracting_dims = [2] x [1], precision = [DEFAULT, HIGHEST] : (tensor<2x3x4xf32>, tensor<2x4x5xf32>) -> tensor<2x3x5xf32>
  %1 = stablehlo.dot_general %a, %b, batching_dims = [0] x [0], contracting_dims = [2] x [1] : (tensor<2x3x4xf32>, tensor<2x4x5xf32>) -> tensor<2x3x5xf32>
  %2 = "stablehlo.dot_general"(%a, %b) <{dot_dimension_numbers = #stablehlo.dot<lhs_batching_dimensions = [0], rhs_batching_dimensions = [0], lhs_contracting_dimensions = [2], rhs_contracting_dimensions = [1]>, precision_config = [#stablehlo<precision DEFAULT>, #stablehlo<precision HIGHEST>]}> : (tensor<2x3x4xf32>, tensor<2x4x5xf32>) -> tensor<2x3x5xf32>
  %3 = stablehlo.dot_general %c, %d, contracting_dims = [1] x [0] : (tensor<3x4xf32>, tensor<4x5xf32>) -> tensor<3x5xf32>
  return %3 : tensor<3x5xf32>
""", "%a: tensor<2x3x4xf32>, %b: tensor<2x4x5xf32>, %c: tensor<3x4xf32>, %d: tensor<4x5xf32>", "tensor<3x5xf32>")
    d0, d1, d2, d3 = ops(parse(text))
    dn = DotDimensionNumbers((0,), (0,), (2,), (1,))
    assert d0.attrs == {"dot_dimension_numbers": dn, "precision_config": ("DEFAULT", "HIGHEST")}
    assert d1.attrs == {"dot_dimension_numbers": dn}
    assert d2.attrs == d0.attrs
    assert d3.attrs == {"dot_dimension_numbers": DotDimensionNumbers((), (), (1,), (0,))}


def test_convolution_pretty_and_generic():
    text = func("""
  %0 = stablehlo.convolution(%x, %k) dim_numbers = [b, 0, 1, f]x[0, 1, i, o]->[b, 0, 1, f], window = {stride = [2, 1], pad = [[1, 1], [0, 2]], lhs_dilate = [1, 1], rhs_dilate = [1, 2], reverse = [false, true]} {batch_group_count = 1 : i64, feature_group_count = 1 : i64, precision_config = [#stablehlo<precision DEFAULT>, #stablehlo<precision DEFAULT>]} : (tensor<1x8x8x2xf32>, tensor<3x3x2x4xf32>) -> tensor<1x4x6x4xf32>
  %1 = "stablehlo.convolution"(%x, %k) {batch_group_count = 1 : i64, dimension_numbers = #stablehlo.conv<[b, 0, 1, f]x[0, 1, i, o]->[b, 0, 1, f]>, feature_group_count = 1 : i64, lhs_dilation = array<i64: 1, 1>, padding = dense<[[1, 1], [0, 2]]> : tensor<2x2xi64>, rhs_dilation = array<i64: 1, 2>, window_reversal = array<i1: false, true>, window_strides = array<i64: 2, 1>, precision_config = [#stablehlo<precision DEFAULT>, #stablehlo<precision DEFAULT>]} : (tensor<1x8x8x2xf32>, tensor<3x3x2x4xf32>) -> tensor<1x4x6x4xf32>
  %2 = stablehlo.convolution(%x, %k) dim_numbers = [f, 1, b, 0]x[o, 1, 0, i]->[0, b, 1, f], window = {} {batch_group_count = 1 : i64, feature_group_count = 1 : i64} : (tensor<1x8x8x2xf32>, tensor<3x3x2x4xf32>) -> tensor<1x4x6x4xf32>
  return %0 : tensor<1x4x6x4xf32>
""", "%x: tensor<1x8x8x2xf32>, %k: tensor<3x3x2x4xf32>", "tensor<1x4x6x4xf32>")
    c0, c1, c2 = ops(parse(text))
    assert c0.attrs == c1.attrs
    assert c0.attrs["dimension_numbers"] == ConvDimensionNumbers(0, 3, (1, 2), 2, 3, (0, 1), 0, 3, (1, 2))
    assert c0.attrs["window_strides"] == (2, 1) and c0.attrs["padding"] == ((1, 1), (0, 2))
    assert c0.attrs["window_reversal"] == (False, True) and c0.attrs["rhs_dilation"] == (1, 2)
    assert c0.attrs["feature_group_count"] == 1 and c0.attrs["precision_config"] == ("DEFAULT", "DEFAULT")
    assert c2.attrs["dimension_numbers"] == ConvDimensionNumbers(2, 0, (3, 1), 3, 0, (2, 1), 1, 3, (0, 2))


def test_gather_scatter_attributes():
    text = func("""
  %0 = "stablehlo.gather"(%a, %i) <{dimension_numbers = #stablehlo.gather<offset_dims = [1], collapsed_slice_dims = [0], start_index_map = [0], index_vector_dim = 1>, indices_are_sorted = true, slice_sizes = array<i64: 1, 3>}> : (tensor<4x3xf32>, tensor<2x1xi32>) -> tensor<2x3xf32>
  %1 = "stablehlo.scatter"(%a, %i, %0) <{scatter_dimension_numbers = #stablehlo.scatter<update_window_dims = [1], inserted_window_dims = [0], scatter_dims_to_operand_dims = [0], index_vector_dim = 1>, unique_indices = true}> ({
  ^bb0(%x: tensor<f32>, %y: tensor<f32>):
    %2 = stablehlo.add %x, %y : tensor<f32>
    stablehlo.return %2 : tensor<f32>
  }) : (tensor<4x3xf32>, tensor<2x1xi32>, tensor<2x3xf32>) -> tensor<4x3xf32>
  return %1 : tensor<4x3xf32>
""", "%a: tensor<4x3xf32>, %i: tensor<2x1xi32>", "tensor<4x3xf32>")
    g, s = ops(parse(text))
    assert g.attrs == {"dimension_numbers": GatherDimensionNumbers((1,), (0,), (), (), (0,), 1),
                       "indices_are_sorted": True, "slice_sizes": (1, 3)}
    assert s.attrs == {"scatter_dimension_numbers": ScatterDimensionNumbers((1,), (0,), (), (), (0,), 1),
                       "unique_indices": True}
    assert not s.multi and len(s.regions[0].params) == 2


def test_reduce_window_select_and_scatter_sort_attributes():
    text = func("""
  %c = stablehlo.constant dense<0.0> : tensor<f32>
  %0 = "stablehlo.reduce_window"(%a, %c) <{padding = dense<[[1, 0], [0, 0]]> : tensor<2x2xi64>, window_dimensions = array<i64: 2, 1>, window_strides = array<i64: 1, 1>, base_dilations = array<i64: 1, 1>, window_dilations = array<i64: 1, 1>}> ({
  ^bb0(%x: tensor<f32>, %y: tensor<f32>):
    %1 = stablehlo.add %x, %y : tensor<f32>
    stablehlo.return %1 : tensor<f32>
  }) : (tensor<4x3xf32>, tensor<f32>) -> tensor<4x3xf32>
  %2 = "stablehlo.sort"(%a) <{dimension = 0 : i64, is_stable = true}> ({
  ^bb0(%x: tensor<f32>, %y: tensor<f32>):
    %1 = stablehlo.compare  LT, %x, %y,  TOTALORDER : (tensor<f32>, tensor<f32>) -> tensor<i1>
    stablehlo.return %1 : tensor<i1>
  }) : (tensor<4x3xf32>) -> tensor<4x3xf32>
  return %2 : tensor<4x3xf32>
""", "%a: tensor<4x3xf32>", "tensor<4x3xf32>")
    c, rw, srt = ops(parse(text))
    assert rw.attrs == {"padding": ((1, 0), (0, 0)), "window_dimensions": (2, 1), "window_strides": (1, 1),
                        "base_dilations": (1, 1), "window_dilations": (1, 1)}
    assert srt.attrs == {"dimension": 0, "is_stable": True} and not srt.multi


def test_custom_call_forms():
    text = func("""
  %0 = stablehlo.custom_call @foo(%a) {api_version = 2 : i32, backend_config = "cfg", mhlo.frontend_attributes = {x = "y"}} : (tensor<4xf32>) -> tensor<4xf32>
  %1:2 = stablehlo.custom_call @"weird target"(%a, %0) {backend_config = {k = 1 : i64}, called_computations = [@main]} : (tensor<4xf32>, tensor<4xf32>) -> (tensor<4xf32>, tensor<i32>)
  return %1#0 : tensor<4xf32>
""", "%a: tensor<4xf32>", F32_4)
    c0, c1, g = ops(parse(text))
    assert c0.attrs == {"call_target_name": "foo", "api_version": 2, "backend_config": "cfg",
                        "mhlo.frontend_attributes": RawAttr('{x = "y"}')}
    assert c1.attrs["call_target_name"] == "weird target"
    assert c1.attrs["backend_config"] == RawAttr("{k = 1 : i64}")
    assert c1.attrs["called_computations"] == RawAttr("[@main]")
    assert c1.multi and len(c1.type.elements) == 2


def test_misc_pretty_forms():
    text = func("""
  %0 = stablehlo.fft %c, type =  IRFFT, length = [6] : (tensor<4xcomplex<f32>>) -> tensor<6xf32>
  %s, %b = stablehlo.rng_bit_generator %st, algorithm =  THREE_FRY : (tensor<2xui64>) -> (tensor<2xui64>, tensor<4xui32>)
  %1 = stablehlo.reduce_precision %a, format = e5m10 : tensor<4xf32>
  %2 = stablehlo.cholesky %m, lower = true : tensor<3x3xf32>
  %3 = stablehlo.get_dimension_size %a, dim = 0 : (tensor<4xf32>) -> tensor<i32>
  %4 = stablehlo.replica_id : tensor<ui32>
  %5:2 = stablehlo.optimization_barrier %a, %m : tensor<4xf32>, tensor<3x3xf32>
  %6 = stablehlo.rng %lo, %hi, %shape, distribution = NORMAL : (tensor<f32>, tensor<f32>, tensor<1xi64>) -> tensor<4xf32>
  return %1 : tensor<4xf32>
""", "%c: tensor<4xcomplex<f32>>, %st: tensor<2xui64>, %a: tensor<4xf32>, %m: tensor<3x3xf32>, "
         "%lo: tensor<f32>, %hi: tensor<f32>, %shape: tensor<1xi64>", F32_4)
    fft, rbg, rp, ch, gds, rid, ob, rng = [i for i in ops(parse(text)) if i.opcode != "get_tuple_element"]
    assert fft.attrs == {"fft_type": "IRFFT", "fft_length": (6,)} and fft.type == tensor((6,), "f32")
    assert rbg.attrs == {"rng_algorithm": "THREE_FRY"} and rbg.multi
    assert rp.attrs == {"exponent_bits": 5, "mantissa_bits": 10}
    assert ch.attrs == {"lower": True}
    assert gds.attrs == {"dimension": 0}
    assert rid.type == tensor((), "ui32") and rid.operands == ()
    assert ob.multi and ob.type == TupleType((tensor((4,), "f32"), tensor((3, 3), "f32")))
    assert rng.attrs == {"rng_distribution": "NORMAL"}


def test_check_ops():
    text = func("""
  check.expect_eq %a, %a : tensor<2xf32>
  check.expect_almost_eq %a, %a, tolerance = 0.1 : tensor<2xf32>
  check.expect_eq_const %a, dense<[1.0, 2.0]> : tensor<2xf32>
  check.expect_almost_eq_const %a, dense<5.1> : tensor<2xf32> {tolerance = 1.0e-2 : f64}
  check.expect_close %a, %a, max_ulp_difference = 3 : tensor<2xf32>, tensor<2xf32>
  check.expect_serialized_eq %a, probe_id = "p1", iter = 2 : tensor<2xf32>
  %p = interpreter.probe %a, probe_id = "p0" : tensor<2xf32>
  func.return
""", "%a: tensor<2xf32>")
    eq, aeq, eqc, aeqc, close, ser, probe = ops(parse(text))
    assert eq.opcode == "expect_eq" and eq.multi and eq.type == TupleType(())
    assert aeq.attrs == {"tolerance": 0.1}
    np.testing.assert_array_equal(eqc.attrs["value"], np.array([1.0, 2.0], np.float32))
    assert eqc.attrs["value"].dtype == np.float32
    assert aeqc.attrs["tolerance"] == 0.01 and aeqc.attrs["value"].shape == (2,)
    assert close.attrs == {"max_ulp_difference": 3}
    assert ser.attrs == {"probe_id": "p1", "iteration": 2}
    assert probe.attrs == {"probe_id": "p0"} and probe.type == tensor((2,), "f32")


def test_composite_keeps_its_decomposition_function():
    text = """
func.func private @add_n.impl(%arg0: tensor<i64>) -> tensor<i64> {
  return %arg0 : tensor<i64>
}
func.func @main() {
  %0 = stablehlo.constant dense<1> : tensor<i64>
  %1 = stablehlo.composite "stablehlo.add_n" %0 {composite_attributes = { n = 2 : i64 }, decomposition = @add_n.impl} : (tensor<i64>) -> tensor<i64>
  func.return
}
"""
    m = parse(text)
    comp = one(text, "composite")
    assert comp.attrs == {"name": "stablehlo.add_n", "composite_attributes": RawAttr("{ n = 2 : i64 }"),
                          "decomposition": RawAttr("@add_n.impl")}
    assert list(m.functions) == ["add_n.impl", "main"]  # referenced by symbol: kept (file order)


def test_generic_form_with_properties_regions_and_attributes():
    text = func("""
  %0 = "stablehlo.all_reduce"(%a) <{replica_groups = dense<[[0]]> : tensor<1x1xi64>}> ({
  ^bb0(%x: tensor<f32>, %y: tensor<f32>):
    %1 = "stablehlo.add"(%x, %y) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    "stablehlo.return"(%1) : (tensor<f32>) -> ()
  }) {channel_handle = #stablehlo.channel_handle<handle = 1, type = 0>, use_global_device_ids} : (tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%0) : (tensor<4xf32>) -> ()
""", "%a: tensor<4xf32>", F32_4)
    m = parse(text)
    (ar,) = ops(m)
    np.testing.assert_array_equal(ar.attrs["replica_groups"], np.array([[0]], np.int64))
    assert ar.attrs["channel_handle"] == RawAttr("#stablehlo.channel_handle<handle = 1, type = 0>")
    assert ar.attrs["use_global_device_ids"] is True
    assert m.entry.outputs == [ar]


def test_attribute_scalar_kinds():
    text = func("""
  %0 = stablehlo.custom_call @t() {i = 3 : i32, n = -7, f = 2.5 : f32, h = 0x7FC00000 : f32, b = false, s = "a\\"b\\0A", u} : () -> tensor<f32>
  return %0 : tensor<f32>
""", "", "tensor<f32>")
    a = one(text, "custom_call").attrs
    assert a["i"] == 3 and type(a["i"]) is int and a["n"] == -7
    assert a["f"] == 2.5 and type(a["f"]) is float
    assert np.isnan(a["h"])
    assert a["b"] is False and a["u"] is True
    assert a["s"] == 'a"b\n'


def test_fusion_op_reads_back():
    text = func("""
  %0 = "xltune.fusion"(%a, %b) <{kind = "loop", name = "fused_add"}> ({
  ^bb0(%p0: tensor<4xf32>, %p1: tensor<4xf32>):
    %1 = stablehlo.add %p0, %p1 : tensor<4xf32>
    stablehlo.return %1 : tensor<4xf32>
  }) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
""", "%a: tensor<4xf32>, %b: tensor<4xf32>", F32_4)
    f = one(text, "fusion")
    assert f.attrs == {"kind": "loop", "name": "fused_add"} and len(f.regions[0].params) == 2
    roundtrip(text)


def test_names_are_source_names():
    m = parse(func("  %cst = stablehlo.constant dense<1.0> : tensor<f32>\n  return %cst : tensor<f32>",
                   "", "tensor<f32>"))
    assert ops(m)[0].name == "cst"


def test_dot_algorithm_and_raw_text_without_comments():
    text = func("""
  %0 = stablehlo.dot_general %a, %b, contracting_dims = [1] x [0], algorithm = <lhs_precision_type = tf32, rhs_precision_type = tf32, accumulation_type = f32, lhs_component_count = 1, rhs_component_count = 1, num_primitive_operations = 1, allow_imprecise_accumulation = false> : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  %1 = stablehlo.custom_call @x(%0) {backend_config = {a = 1, // a comment }
     b = "http://x" loc("y")}} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  return %1 : tensor<2x4xf32>
""", "%a: tensor<2x3xf32>, %b: tensor<3x4xf32>", "tensor<2x4xf32>")
    m, printed = roundtrip(text)
    dot, cc = ops(m)
    assert dot.attrs["algorithm"].text.startswith("#stablehlo.dot_algorithm<lhs_precision_type = tf32")
    assert cc.attrs["backend_config"] == RawAttr('{a = 1, b = "http://x"}')
    assert "algorithm = <lhs_precision_type = tf32" in printed


def test_a_lone_private_main_is_kept():
    m = parse("func.func private @main() { return }")
    assert list(m.functions) == ["main"] and m.entry_name == "main"
