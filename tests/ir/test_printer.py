"""The IR printer: StableHLO text that parses back to an equal module, readable forms, names,
bit-exact constants, fusion ops, and the HLO-style display."""
from __future__ import annotations

import re

import numpy as np

from xltune.frontend.stablehlo import parse
from xltune.ir import (Computation, ConvDimensionNumbers, DotDimensionNumbers, GatherDimensionNumbers,
                       Instruction, Module, RawAttr, ScatterDimensionNumbers, TupleType, tensor)
from xltune.ir.printer import attr_text, print_computation, print_hlo, print_module

F4 = tensor((4,), "f32")
F = tensor((), "f32")


def module_of(comp: Computation, name="m") -> Module:
    m = Module(name)
    m.add_function(comp)
    return m


def reparse(m: Module) -> tuple[Module, str]:
    text = print_module(m)
    again = parse(text, "<printed>")
    assert m.equals(again), text
    assert print_module(again) == text  # idempotent
    return again, text


def test_elementwise_and_constants_print_in_pretty_form():
    c = Computation("main")
    a = c.add_parameter(F4, "a")
    k = c.add("constant", (), F4, {"value": np.array([1, 2, 3, 4], np.float32)}, name="k")
    s = c.add("add", (a, k), F4, name="sum")
    n = c.add("negate", (s,), F4)
    c.set_outputs([n])
    _, text = reparse(module_of(c))
    assert "%k = stablehlo.constant dense<[1.0e+00, 2.0e+00, 3.0e+00, 4.0e+00]> : tensor<4xf32>" in text
    assert "%sum = stablehlo.add %a, %k : tensor<4xf32>" in text
    assert re.search(r"%\w+ = stablehlo.negate %sum : tensor<4xf32>", text)
    assert "func.func public @main(%a: tensor<4xf32>) -> tensor<4xf32> {" in text
    assert text.startswith("module @m {")
    assert str(module_of(c)) == text


def test_large_constants_are_hex_and_bit_exact():
    vals = np.array([0.1, -0.0, np.inf, 1e-45] * 8, np.float32)
    vals[5] = np.frombuffer(bytes.fromhex("0100C07F"), np.float32)[0]  # a NaN with a payload
    c = Computation("main")
    k = c.add("constant", (), tensor(vals.shape, "f32"), {"value": vals})
    c.set_outputs([k])
    again, text = reparse(module_of(c))
    assert 'dense<"0x' in text
    v = again.entry.outputs[0].attrs["value"]
    assert v.tobytes() == vals.tobytes()


def test_splat_constants_print_one_value():
    c = Computation("main")
    k = c.add("constant", (), tensor((3, 5), "bf16"),
              {"value": np.broadcast_to(np.array(1.5, dtype=tensor((), "bf16").dtype.np_dtype), (3, 5))})
    c.set_outputs([k])
    _, text = reparse(module_of(c))
    assert "stablehlo.constant dense<1.5> : tensor<3x5xbf16>" in text


def test_multi_results_print_as_count_and_hash_index():
    c = Computation("main")
    x = c.add_parameter(tensor((5,), "f32"), "x")
    tk = c.add("top_k", (x,), TupleType((tensor((2,), "f32"), tensor((2,), "i32"))), {"k": 2}, multi=True,
               name="tk")
    g1 = c.add("get_tuple_element", (tk,), tensor((2,), "i32"), {"index": 1})
    c.set_outputs([g1])
    _, text = reparse(module_of(c))
    assert "%tk:2 = \"chlo.top_k\"(%x) <{k = 2 : i64}>" in text
    assert "return %tk#1 : tensor<2xi32>" in text
    assert "get_tuple_element" not in text


def test_real_tuples_use_tuple_ops():
    c = Computation("main")
    a = c.add_parameter(F, "a")
    t = c.add("tuple", (a, a), TupleType((F, F)), name="t")
    g = c.add("get_tuple_element", (t,), F, {"index": 1}, name="g")
    c.set_outputs([g])
    _, text = reparse(module_of(c))
    assert "%t = stablehlo.tuple %a, %a : tuple<tensor<f32>, tensor<f32>>" in text
    assert "%g = stablehlo.get_tuple_element %t[1] : (tuple<tensor<f32>, tensor<f32>>) -> tensor<f32>" in text


def test_zero_result_ops_have_no_lhs():
    c = Computation("main")
    a = c.add_parameter(F4, "a")
    c.add("custom_call", (a,), TupleType(()), {"call_target_name": "check.expect_eq", "has_side_effect": True},
          multi=True)
    c.add("expect_eq_const", (a,), TupleType(()), {"value": np.zeros(4, np.float32)}, multi=True)
    c.set_outputs([])
    _, text = reparse(module_of(c))
    assert "    stablehlo.custom_call @check.expect_eq(%a) {has_side_effect = true} : (tensor<4xf32>) -> ()" in text
    assert "    check.expect_eq_const %a, dense<0.0> : tensor<4xf32>" in text
    assert "    return\n" in text


def test_fusion_ops_print_generic_and_read_back():
    c = Computation("main")
    a = c.add_parameter(F4, "a")
    b = c.add_parameter(F4, "b")
    body = Computation("fused")
    p0 = body.add_parameter(F4, "p0")
    p1 = body.add_parameter(F4, "p1")
    m = body.add("multiply", (p0, p1), F4)
    e = body.add("exponential", (m,), F4)
    body.set_outputs([e, m])
    f = c.add("fusion", (a, b), TupleType((F4, F4)), {"kind": "loop", "name": "fused_exp"}, [body], multi=True,
              name="fusion")
    g0 = c.add("get_tuple_element", (f,), F4, {"index": 0})
    g1 = c.add("get_tuple_element", (f,), F4, {"index": 1})
    c.set_outputs([g1, g0])
    again, text = reparse(module_of(c))
    assert '%fusion:2 = "xltune.fusion"(%a, %b) <{kind = "loop", name = "fused_exp"}> ({' in text
    assert "^bb0(%p0: tensor<4xf32>, %p1: tensor<4xf32>):" in text
    assert "return %fusion#1, %fusion#0" in text
    hlo = print_hlo(module_of(c))
    assert hlo.index("%fused_exp (") < hlo.index("ENTRY %main")
    assert "kind=kLoop" in hlo and "calls=%fused_exp" in hlo


def test_names_are_kept_when_unique_and_fresh_otherwise():
    c = Computation("main")
    a = c.add_parameter(F, "a")
    x1 = c.add("abs", (a,), F, name="x")
    r = Computation("region")
    q = r.add_parameter(F, "x")  # clashes with the outer %x: MLIR forbids shadowing
    r.set_outputs([q])
    y = Instruction("map", (x1,), F, {"dimensions": ()}, [r])
    c.insert(y, name="weird name#1")
    c.set_outputs([y])
    _, text = reparse(module_of(c))
    assert "%x = stablehlo.abs %a" in text
    assert "^bb0(%x_0: tensor<f32>):" in text
    assert "%weird_name_1 = \"stablehlo.map\"" in text


def test_reduce_compact_and_reducer_forms():
    for op, compact in (("add", True), ("subtract", False)):
        c = Computation("main")
        x = c.add_parameter(tensor((2, 3), "f32"), "x")
        init = c.add("constant", (), F, {"value": np.array(0, np.float32)}, name="zero")
        body = Computation("body")
        p, q = body.add_parameter(F, "p"), body.add_parameter(F, "q")
        body.set_outputs([body.add(op, (p, q), F)])
        red = c.add("reduce", (x, init), tensor((2,), "f32"), {"dimensions": (1,)}, [body])
        c.set_outputs([red])
        _, text = reparse(module_of(c))
        if compact:
            assert "stablehlo.reduce(%x init: %zero) applies stablehlo.add across dimensions = [1] :" in text
        else:
            assert "across dimensions = [1] : (tensor<2x3xf32>, tensor<f32>) -> tensor<2xf32>" in text
            assert " reducer(%p: tensor<f32>, %q: tensor<f32>) {" in text


def test_while_prints_pretty_form():
    text = """func.func @main(%a: tensor<f32>) -> tensor<f32> {
  %0 = stablehlo.while(%it = %a) : tensor<f32>
   cond {
    %1 = stablehlo.compare  LT, %it, %a,  FLOAT : (tensor<f32>, tensor<f32>) -> tensor<i1>
    stablehlo.return %1 : tensor<i1>
  } do {
    %1 = stablehlo.add %it, %a : tensor<f32>
    stablehlo.return %1 : tensor<f32>
  }
  return %0 : tensor<f32>
}"""
    _, out = reparse(parse(text))
    assert "stablehlo.while(%it = %a) : tensor<f32>" in out and "} do {" in out


def test_attribute_texts():
    assert attr_text("dimensions", (1, 0)) == "array<i64: 1, 0>"
    assert attr_text("dimensions", ()) == "array<i64>"
    assert attr_text("window_reversal", (True, False)) == "array<i1: true, false>"
    assert attr_text("padding", ((1, 2), (0, 0))) == "dense<[[1, 2], [0, 0]]> : tensor<2x2xi64>"
    assert attr_text("comparison_direction", "LT") == "#stablehlo<comparison_direction LT>"
    assert attr_text("precision_config", ("DEFAULT", "HIGH")) == \
        "[#stablehlo<precision DEFAULT>, #stablehlo<precision HIGH>]"
    assert attr_text("exponent_bits", 5) == "5 : i32" and attr_text("k", 5) == "5 : i64"
    assert attr_text("epsilon", 0.001) == "1.0e-03 : f32"
    assert attr_text("tolerance", float("nan")) == "0x7FF8000000000000 : f64"
    assert attr_text("backend_config", 'a"b') == '"a\\"b"'
    assert attr_text("x", RawAttr("{a = 1}")) == "{a = 1}"
    assert attr_text("value", np.array([1, 2], np.int32)) == "dense<[1, 2]> : tensor<2xi32>"
    assert attr_text("d", DotDimensionNumbers((0,), (0,), (2,), (1,))) == \
        "#stablehlo.dot<lhs_batching_dimensions = [0], rhs_batching_dimensions = [0], " \
        "lhs_contracting_dimensions = [2], rhs_contracting_dimensions = [1]>"
    assert attr_text("g", GatherDimensionNumbers((1,), (0,), (), (), (0,), 1)) == \
        "#stablehlo.gather<offset_dims = [1], collapsed_slice_dims = [0], start_index_map = [0], index_vector_dim = 1>"
    assert attr_text("s", ScatterDimensionNumbers((1,), (0,), (), (), (0,), 0)).startswith("#stablehlo.scatter<")
    assert attr_text("c", ConvDimensionNumbers(0, 3, (1, 2), 2, 3, (0, 1), 0, 3, (1, 2))) == \
        "#stablehlo.conv<[b, 0, 1, f]x[0, 1, i, o]->[b, 0, 1, f]>"
    bad = ConvDimensionNumbers(0, 0, (1,), 0, 1, (0,), 0, 1, (2,))  # not a permutation: raw form
    assert attr_text("c", bad).startswith("#stablehlo.conv<raw input_batch_dimension = 0")


def test_every_attribute_kind_round_trips_through_the_generic_form():
    c = Computation("main")
    a = c.add_parameter(F4, "a")
    attrs = {"call_target_name": "t", "i": -3, "f": 0.1, "b": True, "s": "x\ny", "dims": (0, 1),
             "bools": (True,), "pad": ((1, 2),), "arr": np.arange(6, dtype=np.int64).reshape(2, 3),
             "raw": RawAttr("#stablehlo.channel_handle<handle = 1, type = 0>"),
             "gather": GatherDimensionNumbers((1,), (0,), (), (), (0,), 1),
             "conv": ConvDimensionNumbers(0, 3, (1, 2), 2, 3, (0, 1), 0, 3, (1, 2)),
             "strs": ("u", "v"), "empty": ()}
    cc = c.add("custom_call", (a,), F4, attrs, multi=False)
    c.set_outputs([cc])
    reparse(module_of(c))


def test_print_computation_and_function_signature_attrs():
    m = parse("""module @jit attributes {mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<4xf32> {mhlo.sharding = "{replicated}"}) -> (tensor<4xf32> {jax.result_info = "r"}) {
    return %arg0 : tensor<4xf32>
  }
}""")
    text = print_computation(m.entry)
    assert text.startswith('func.func public @main(%arg0: tensor<4xf32> {mhlo.sharding = "{replicated}"}) '
                           '-> (tensor<4xf32> {jax.result_info = "r"}) {')
    _, full = reparse(m)
    assert full.startswith("module @jit attributes {mhlo.num_replicas = 1 : i32} {")


def test_print_hlo_display_form():
    m = parse("""func.func @main(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>) -> tensor<4xf32> {
  %0 = stablehlo.add %a, %b : tensor<4x8xf32>
  %c = stablehlo.constant dense<0.0> : tensor<f32>
  %1 = stablehlo.reduce(%0 init: %c) applies stablehlo.add across dimensions = [1] : (tensor<4x8xf32>, tensor<f32>) -> tensor<4xf32>
  return %1 : tensor<4xf32>
}""")
    hlo = print_hlo(m)
    assert re.search(r"%add\.\d+ = f32\[4,8\] add\(%a, %b\)", hlo), hlo
    assert "%c = f32[] constant(0.0)" in hlo
    assert re.search(r"ROOT %reduce\.\d+ = f32\[4\] reduce\(%add\.\d+, %c\), dimensions=\{1\}, to_apply=%region_\d+", hlo)
    assert hlo.index("%region_") < hlo.index("ENTRY %main (a: f32[4,8], b: f32[4,8]) -> f32[4]")


def test_pass_pipeline_output_round_trips(workloads_dir):
    """Fused modules (what `exe.stages` shows) print and read back equal."""
    from xltune.config import Config
    from xltune.passes import run_pipeline

    paths = sorted(workloads_dir.glob("*.cpu.mlir"))
    assert paths
    for path in paths:
        m = run_pipeline(parse(path.read_text(), str(path)), "simplify,fusion", Config(), {}, {})
        assert any(i.opcode == "fusion" for i in m.entry.instructions), path.name
        reparse(m)
        print_hlo(m)
