"""The interpreter as a library and as the "interpreter" backend."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import xltune
from xltune.errors import ArgumentError, ExecutionError, UnsupportedOpError, XltuneError
from xltune.interpreter import Evaluator, InterpreterBackend, evaluate, evaluate_instruction
from xltune.ir import Computation, Instruction, Module, tensor

PROGRAM = """
func.func @main(%x: tensor<4xf32>, %y: tensor<4xf32>) -> (tensor<4xf32>, tensor<f32>) {
  %0 = stablehlo.multiply %x, %y : tensor<4xf32>
  %c = stablehlo.constant dense<0.0> : tensor<f32>
  %1 = stablehlo.reduce(%0 init: %c) applies stablehlo.add across dimensions = [0] : (tensor<4xf32>, tensor<f32>) -> tensor<f32>
  return %0, %1 : tensor<4xf32>, tensor<f32>
}
"""


def test_evaluate_parsed_program():
    m = xltune.parse(PROGRAM)
    x = np.arange(4, dtype=np.float32)
    prod, total = evaluate(m, x, x)
    assert prod.tolist() == [0, 1, 4, 9] and total.dtype == np.float32 and float(total) == 14.0


def test_compile_with_interpreter_backend():
    exe = xltune.compile(PROGRAM, backend="interpreter")
    x = np.ones(4, np.float32)
    prod, total = exe(x, 2 * x)
    assert prod.tolist() == [2.0] * 4 and float(total) == 8.0
    with pytest.raises(ArgumentError):
        exe(np.ones(3, np.float32), x)


def test_backend_interface():
    be = InterpreterBackend()
    assert be.name == "interpreter" and be.runs_passes is False and be.default_pipeline == ""
    assert be.knobs(None) == [] and be.fingerprint() == "numpy"
    m = xltune.parse(PROGRAM)
    runner = be.build(m, None, {}, {})
    outs = runner.run([np.ones(4, np.float32), np.ones(4, np.float32)])
    assert isinstance(outs, list) and len(outs) == 2


def test_tuple_outputs_are_flattened_by_the_runner():
    c = Computation("main")
    x = c.add_parameter(tensor((2,), "i32"))
    c.set_outputs([c.add("tuple", [x, c.add("negate", [x])])])
    m = Module()
    m.add_function(c)
    outs = InterpreterBackend().build(m, None, {}, {}).run([np.array([1, 2], np.int32)])
    assert [o.tolist() for o in outs] == [[1, 2], [-1, -2]]


def test_no_numpy_warnings_leak():
    text = """
    func.func @main(%x: tensor<3xf32>, %i: tensor<2xi32>) -> (tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<2xi32>) {
      %z = stablehlo.constant dense<0.0> : tensor<3xf32>
      %0 = stablehlo.divide %x, %z : tensor<3xf32>
      %1 = stablehlo.log %x : tensor<3xf32>
      %2 = stablehlo.exponential %x : tensor<3xf32>
      %3 = stablehlo.multiply %i, %i : tensor<2xi32>
      return %0, %1, %2, %3 : tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<2xi32>
    }
    """
    m = xltune.parse(text)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        outs = evaluate(m, np.array([-1.0, 0.0, 1e4], np.float32), np.array([2**31 - 1, 65536], np.int32))
    assert np.isnan(outs[0][1]) and np.isnan(outs[1][0]) and outs[2][2] == np.inf
    assert outs[3].tolist() == [1, 0]


def test_errors_name_the_instruction():
    text = """
    func.func @main(%x: tensor<2xf32>) -> tensor<2xf32> {
      %0 = stablehlo.custom_call @mystery_kernel(%x) : (tensor<2xf32>) -> tensor<2xf32>
      return %0 : tensor<2xf32>
    }
    """
    m = xltune.parse(text, source="cell.mlir")
    with pytest.raises(UnsupportedOpError) as e:
        evaluate(m, np.zeros(2, np.float32))
    assert "mystery_kernel" in str(e.value) and "cell.mlir:3" in str(e.value)


def test_internal_failures_become_execution_errors():
    c = Computation("main")
    x = c.add_parameter(tensor((4, 3), "f32"))
    # a permutation that does not fit the operand (inserted without the shape rule)
    bad = c.insert(Instruction("transpose", [x], tensor((3, 4), "f32"), {"permutation": (0, 5)}), name="t")
    c.set_outputs([bad])
    m = Module()
    m.add_function(c)
    with pytest.raises(ExecutionError, match="%t .stablehlo.transpose."):
        evaluate(m, np.zeros((4, 3), np.float32))


def test_evaluate_instruction_for_backend_fallbacks():
    m = xltune.parse(PROGRAM)
    mul = next(i for i in m.entry.instructions if i.opcode == "multiply")
    r = evaluate_instruction(mul, [np.array([1, 2, 3, 4], np.float32), np.full(4, 2, np.float32)])
    assert r.tolist() == [2, 4, 6, 8]
    red = next(i for i in m.entry.instructions if i.opcode == "reduce")
    assert float(evaluate_instruction(red, [np.ones(4, np.float32), np.array(1, np.float32)])) == 5.0


def test_argument_count_is_checked():
    m = xltune.parse(PROGRAM)
    with pytest.raises(XltuneError):
        evaluate(m, np.ones(4, np.float32))


def test_run_parallel_collectives():
    text = """
    module {
      func.func @ar(%x: tensor<2xi64>) -> tensor<2xi64> {
        %0 = "stablehlo.all_reduce"(%x) ({
          ^bb0(%a: tensor<i64>, %b: tensor<i64>):
            %s = stablehlo.add %a, %b : tensor<i64>
            stablehlo.return %s : tensor<i64>
        }) {replica_groups = dense<[[0, 1]]> : tensor<1x2xi64>} : (tensor<2xi64>) -> tensor<2xi64>
        return %0 : tensor<2xi64>
      }
      func.func @main() -> (tensor<2xi64>, tensor<2xi64>) {
        %0 = stablehlo.constant dense<[1, 2]> : tensor<2xi64>
        %1 = stablehlo.constant dense<[10, 20]> : tensor<2xi64>
        %r:2 = "interpreter.run_parallel"(%0, %1) {programs = [[@ar], [@ar]]} : (tensor<2xi64>, tensor<2xi64>) -> (tensor<2xi64>, tensor<2xi64>)
        return %r#0, %r#1 : tensor<2xi64>, tensor<2xi64>
      }
    }
    """
    m = xltune.parse(text)
    a, b = Evaluator(m).run(m.functions["main"], [])
    assert a.tolist() == [11, 22] and b.tolist() == [11, 22]


def test_evaluate_instruction_with_captured_values():
    c = Computation("main")
    p = c.add_parameter(tensor((), "i1"))
    v = c.add_parameter(tensor((2,), "f32"))
    t, f = Computation("t"), Computation("f")
    t.set_outputs([t.add("negate", [v])])   # the branches read %v of the entry
    f.set_outputs([v])
    branch = c.add("if", [p], regions=[t, f])
    x = np.array([1.0, -2.0], np.float32)
    r = evaluate_instruction(branch, [np.array(True)], captured={v: x})
    assert r.tolist() == [-1.0, 2.0]
    with pytest.raises(ExecutionError, match="has no value"):
        evaluate_instruction(branch, [np.array(True)])
