"""The target-independent side of reductions (xltune/codegen/reduction.py): body recognition,
combiners, layouts, phases and what a reduction kernel may compute from reduce results."""
from __future__ import annotations

import math

import numpy as np
import pytest
from llvmlite import ir

import xltune
from xltune.codegen import lltypes as T
from xltune.codegen.reduction import (Combiner, NotAReductionKernel, analyze, canonical_groups, layout_of,
                                      simple_op, unsupported_reduce)


def _fn(text):
    return xltune.parse(text).entry


def _reduces(comp):
    return [i for i in comp.instructions if i.opcode == "reduce"]


def _reduce(body: str, dt="f32", init="0.0") -> str:
    return f"""
func.func @main(%x: tensor<4x8x{dt}>) -> tensor<4x{dt}> {{
  %z = stablehlo.constant dense<{init}> : tensor<{dt}>
  %r = stablehlo.reduce(%x init: %z) across dimensions = [1] : (tensor<4x8x{dt}>, tensor<{dt}>) -> tensor<4x{dt}>
    reducer(%a: tensor<{dt}>, %b: tensor<{dt}>) {{
      {body}
    }}
  return %r : tensor<4x{dt}>
}}
"""


@pytest.mark.parametrize("body,want", [
    ("%s = stablehlo.add %a, %b : tensor<f32>\n stablehlo.return %s : tensor<f32>", "add"),
    ("%s = stablehlo.add %b, %a : tensor<f32>\n stablehlo.return %s : tensor<f32>", "add"),
    ("%s = stablehlo.maximum %a, %b : tensor<f32>\n stablehlo.return %s : tensor<f32>", "maximum"),
    ("%s = stablehlo.add %a, %a : tensor<f32>\n stablehlo.return %s : tensor<f32>", None),
    ("%s = stablehlo.subtract %a, %b : tensor<f32>\n stablehlo.return %s : tensor<f32>", None),
    ("%c = stablehlo.abs %b : tensor<f32>\n %s = stablehlo.add %a, %c : tensor<f32>\n "
     "stablehlo.return %s : tensor<f32>", None),
])
def test_simple_op_recognition(body, want):
    r, = _reduces(_fn(_reduce(body)))
    assert simple_op(r) == want
    assert unsupported_reduce(r) is None


def test_complex_sums_run_the_body():
    body = "%s = stablehlo.add %a, %b : tensor<complex<f32>>\n stablehlo.return %s : tensor<complex<f32>>"
    r, = _reduces(_fn(_reduce(body, dt="complex<f32>", init="(0.0, 0.0)")))
    assert simple_op(r) is None and not Combiner.of(r).associative


@pytest.mark.parametrize("op,dt,reorders,wide", [
    ("add", "f32", True, False), ("multiply", "bf16", True, True), ("add", "f16", True, True),
    ("maximum", "f32", False, False), ("add", "i32", False, False), ("xor", "ui8", False, False),
])
def test_combiner_facts(op, dt, reorders, wide):
    body = f"%s = stablehlo.{op} %a, %b : tensor<{dt}>\n stablehlo.return %s : tensor<{dt}>"
    r, = _reduces(_fn(_reduce(body, dt=dt, init="0" if dt[0] in "iu" else "0.0")))
    c = Combiner.of(r)
    assert c.associative and c.reorders_rounding == reorders and c.wide_accumulator == wide
    ident = c.identity()[0]
    assert isinstance(ident, ir.Constant) and ident.type == T.compute_type(c.result_dtypes[0])


def test_identities_are_neutral():
    # x op identity == x for every simple op and type (checked on the constants' values)
    cases = {("add", "f32"): -0.0, ("multiply", "f32"): 1.0, ("maximum", "f32"): -math.inf,
             ("minimum", "f64"): math.inf, ("maximum", "i8"): 128, ("minimum", "ui16"): 65535,
             ("and", "i32"): (1 << 32) - 1}
    for (op, dt), want in cases.items():
        init = "0" if dt[0] in "iu" else "0.0"
        body = f"%s = stablehlo.{op} %a, %b : tensor<{dt}>\n stablehlo.return %s : tensor<{dt}>"
        r, = _reduces(_fn(_reduce(body, dt=dt, init=init)))
        v = Combiner.of(r).identity()[0].constant
        if isinstance(want, float) and math.isinf(want):
            assert v == want
        elif isinstance(want, float):
            assert v == want and math.copysign(1, v) == math.copysign(1, want)
        else:
            assert v == want


@pytest.mark.parametrize("shape,dims,want", [
    ((4, 6), (1,), "row"), ((4, 6), (0,), "column"), ((4, 5, 6), (1,), "column"),
    ((4, 5, 6), (0, 2), "generic"), ((24,), (0,), "row"), ((4, 1, 6), (0,), "column"),
    ((4, 6, 1), (1, 2), "row"), ((1, 4, 6), (0, 2), "row"), ((4, 6), (), "row"), ((0, 6), (1,), "row"),
])
def test_layouts(shape, dims, want):
    assert layout_of(shape, dims) == want


def test_canonical_groups_skip_unit_dims():
    assert canonical_groups((4, 1, 5, 6, 1, 7), (2, 3)) == [("K", [0]), ("R", [2, 3]), ("K", [5])]


SOFTMAX = """
func.func @main(%x: tensor<8x32xf32>) -> (tensor<8x32xf32>, tensor<8xf32>) {
  %ninf = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %zero = stablehlo.constant dense<0.0> : tensor<f32>
  %m = stablehlo.reduce(%x init: %ninf) applies stablehlo.maximum across dimensions = [1] : (tensor<8x32xf32>, tensor<f32>) -> tensor<8xf32>
  %mb = stablehlo.broadcast_in_dim %m, dims = [0] : (tensor<8xf32>) -> tensor<8x32xf32>
  %d = stablehlo.subtract %x, %mb : tensor<8x32xf32>
  %e = stablehlo.exponential %d : tensor<8x32xf32>
  %s = stablehlo.reduce(%e init: %zero) applies stablehlo.add across dimensions = [1] : (tensor<8x32xf32>, tensor<f32>) -> tensor<8xf32>
  %l = stablehlo.log %s : tensor<8xf32>
  %sb = stablehlo.broadcast_in_dim %s, dims = [0] : (tensor<8xf32>) -> tensor<8x32xf32>
  %y = stablehlo.divide %e, %sb : tensor<8x32xf32>
  return %y, %l : tensor<8x32xf32>, tensor<8xf32>
}
"""


def test_softmax_phases_and_where_outputs_go():
    plan = analyze(_fn(SOFTMAX))
    m, s = plan.heroes
    assert plan.layout == "row" and plan.phases == [[m], [s]]
    assert plan.full_outputs == {0: 2}          # y needs the second phase: a third pass
    assert plan.position_outputs == [1]
    assert [i.name for i in plan.hoisted[1]] == ["l"]
    assert plan.loops == 3 and plan.positions == 8 and plan.length == 32
    # exp(x - max) is computed by the second pass and read again by the third: kept, not recomputed
    assert {i.name: k for i, k in plan.stash.items()} == {"e": 1}


def test_nothing_cheap_or_moved_is_stashed():
    cheap = SOFTMAX.replace("stablehlo.exponential %d", "stablehlo.negate %d")
    assert analyze(_fn(cheap)).stash == {}


@pytest.mark.parametrize("middle,why", [
    ("%q = stablehlo.reverse %m, dims = [0] : tensor<8xf32>", "moves values computed from a reduce"),
    ("%q = stablehlo.slice %m [0:4] : (tensor<8xf32>) -> tensor<4xf32>", "one element per position"),
])
def test_values_of_reduces_may_not_move_between_positions(middle, why):
    out = "tensor<4xf32>" if "slice" in middle else "tensor<8xf32>"
    text = f"""
func.func @main(%x: tensor<8x32xf32>) -> {out} {{
  %ninf = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %m = stablehlo.reduce(%x init: %ninf) applies stablehlo.maximum across dimensions = [1] : (tensor<8x32xf32>, tensor<f32>) -> tensor<8xf32>
  {middle}
  return %q : {out}
}}
"""
    with pytest.raises(NotAReductionKernel, match=why):
        analyze(_fn(text))


def test_passes_over_rows_need_reduced_dims_innermost():
    text = SOFTMAX.replace("dimensions = [1]", "dimensions = [0]").replace("tensor<8xf32>", "tensor<32xf32>") \
        .replace("dims = [0]", "dims = [1]")
    with pytest.raises(NotAReductionKernel, match="innermost"):
        analyze(_fn(text))


def test_reduces_of_different_shapes_are_refused():
    text = """
func.func @main(%x: tensor<8x32xf32>, %y: tensor<8x16xf32>) -> (tensor<8xf32>, tensor<8xf32>) {
  %z = stablehlo.constant dense<0.0> : tensor<f32>
  %a = stablehlo.reduce(%x init: %z) applies stablehlo.add across dimensions = [1] : (tensor<8x32xf32>, tensor<f32>) -> tensor<8xf32>
  %b = stablehlo.reduce(%y init: %z) applies stablehlo.add across dimensions = [1] : (tensor<8x16xf32>, tensor<f32>) -> tensor<8xf32>
  return %a, %b : tensor<8xf32>, tensor<8xf32>
}
"""
    with pytest.raises(NotAReductionKernel, match="reduces a shape other than"):
        analyze(_fn(text))


def test_input_shape_outputs_go_in_the_first_pass():
    text = """
func.func @main(%x: tensor<8x32xf32>) -> (tensor<8xf32>, tensor<8x32xf32>) {
  %z = stablehlo.constant dense<0.0> : tensor<f32>
  %sq = stablehlo.multiply %x, %x : tensor<8x32xf32>
  %a = stablehlo.reduce(%sq init: %z) applies stablehlo.add across dimensions = [0] : (tensor<8x32xf32>, tensor<f32>) -> tensor<32xf32>
  return %a, %sq : tensor<32xf32>, tensor<8x32xf32>
}
""".replace("-> (tensor<8xf32>,", "-> (tensor<32xf32>,")
    plan = analyze(_fn(text))
    assert plan.layout == "column" and plan.full_outputs == {1: 0} and plan.column_split() == (1, 8, 32)
    assert np.prod(plan.shape) == 256
