"""verify(): each kind of error names the instruction, its op and its location."""
from __future__ import annotations

import numpy as np
import pytest

from xltune.errors import SourceLoc, VerificationError
from xltune.ir import Computation, Instruction, Module, tensor
from xltune.ir.types import TupleType
from xltune.ir.verifier import verify

F = tensor((4,), "f32")
LOC = SourceLoc(7, 3, "prog.mlir")


def _module(c):
    m = Module()
    m.add_function(c)
    return m


def _raw(c, opcode, operands, type, attrs=None, regions=(), name=None, multi=False):
    """Insert an instruction without running its shape rule."""
    return c.insert(Instruction(opcode, operands, type, attrs or {}, regions, loc=LOC, multi=multi), name=name)


def _add_region(dt="f32", out_dt=None):
    r = Computation("body")
    a, b = r.add_parameter(tensor((), dt)), r.add_parameter(tensor((), dt))
    r.set_outputs([r.add("add", [a, b])])
    return r


def test_valid_module_passes():
    c = Computation("main")
    x = c.add_parameter(F)
    init = c.add("constant", attrs={"value": np.array(0, np.float32)})
    s = c.add("reduce", [x, init], attrs={"dimensions": (0,)}, regions=[_add_region()])
    c.set_outputs([c.add("add", [x, x]), s])
    verify(_module(c))


def test_error_names_instruction_op_and_location():
    c = Computation("main")
    x = c.add_parameter(F)
    _raw(c, "add", [x, x], tensor((5,), "f32"), name="sum")
    c.set_outputs([])
    with pytest.raises(VerificationError) as e:
        verify(_module(c))
    msg = str(e.value)
    assert "%sum" in msg and "stablehlo.add" in msg and "prog.mlir:7:3" in msg
    assert "tensor<5xf32>" in msg and "tensor<4xf32>" in msg
    assert e.value.line == 7


@pytest.mark.parametrize("opcode,operands,attrs,match", [
    ("no_such_op", 1, {}, "unknown op"),
    ("add", 1, {}, "expects 2 operand"),
    ("transpose", 1, {}, "missing required attribute.*permutation"),
])
def test_arity_attributes_unknown(opcode, operands, attrs, match):
    c = Computation("main")
    x = c.add_parameter(F)
    _raw(c, opcode, [x] * operands, F, attrs)
    with pytest.raises(VerificationError, match=match):
        verify(c)


def test_region_count():
    c = Computation("main")
    x = c.add_parameter(F)
    init = c.add("constant", attrs={"value": np.array(0, np.float32)})
    _raw(c, "reduce", [x, init], tensor((), "f32"), {"dimensions": (0,)})
    with pytest.raises(VerificationError, match="expects 1 region"):
        verify(c)


def test_use_before_definition_and_removed_operands():
    c = Computation("main")
    x = c.add_parameter(F)
    a = c.add("negate", [x])
    b = c.add("abs", [a])
    c.instructions.remove(a)  # now listed after its user
    c.instructions.append(a)
    with pytest.raises(VerificationError, match="not defined before this use"):
        verify(c)


def test_values_of_sibling_regions_are_not_visible():
    c = Computation("main")
    p = c.add_parameter(tensor((), "i1"))
    t = Computation("true")
    secret = t.add("constant", attrs={"value": np.array(1.0, np.float32)})
    t.set_outputs([secret])
    f = Computation("false")
    f.set_outputs([f.add("negate", [secret])])  # uses a value of the other branch
    _raw(c, "if", [p], tensor((), "f32"), regions=[t, f])
    with pytest.raises(VerificationError, match="not defined before this use"):
        verify(c)


def test_enclosing_values_are_visible():
    c = Computation("main")
    p = c.add_parameter(tensor((), "i1"))
    v = c.add("constant", attrs={"value": np.array(2.0, np.float32)})
    t, f = Computation("t"), Computation("f")
    t.set_outputs([t.add("negate", [v])])
    f.set_outputs([v])
    c.set_outputs([c.add("if", [p], regions=[t, f])])
    verify(c)


def test_explicit_type_checks():
    c = Computation("main")
    x = c.add_parameter(F)
    _raw(c, "reshape", [x], tensor((3,), "f32"))
    with pytest.raises(VerificationError, match="element count"):
        verify(c)
    c = Computation("main")
    x = c.add_parameter(F)
    _raw(c, "broadcast_in_dim", [x], tensor((4, 3), "f32"), {"broadcast_dimensions": (1,)})
    with pytest.raises(VerificationError, match="cannot broadcast"):
        verify(c)
    c = Computation("main")
    x = c.add_parameter(F)
    _raw(c, "bitcast_convert", [x], tensor((4,), "f16"))
    with pytest.raises(VerificationError, match="cannot bitcast"):
        verify(c)


def test_region_signatures():
    c = Computation("main")
    x = c.add_parameter(F)
    init = c.add("constant", attrs={"value": np.array(0, np.float32)})
    _raw(c, "reduce", [x, init], tensor((), "f32"), {"dimensions": (0,)}, regions=[_add_region("f64")])
    with pytest.raises(VerificationError, match="body parameter|differs from the shape rule"):
        verify(c)

    c = Computation("main")
    x = c.add_parameter(F)
    cmp = Computation("cmp")
    a, b = cmp.add_parameter(tensor((), "f32")), cmp.add_parameter(tensor((), "f32"))
    cmp.set_outputs([cmp.add("add", [a, b])])
    _raw(c, "sort", [x], F, {"dimension": 0}, regions=[cmp])
    with pytest.raises(VerificationError, match="returns"):
        verify(c)

    c = Computation("main")
    n = c.add_parameter(tensor((), "i32"))
    cond, body = Computation("cond"), Computation("body")
    ci = cond.add_parameter(tensor((), "i32"))
    cond.set_outputs([cond.add("compare", [ci, ci], attrs={"comparison_direction": "LT"})])
    bi = body.add_parameter(tensor((), "i32"))
    body.set_outputs([body.add("convert", [bi], type=tensor((), "f32"))])
    _raw(c, "while", [n], tensor((), "i32"), regions=[cond, body])
    with pytest.raises(VerificationError, match="body"):
        verify(c)


def test_multi_results_and_get_tuple_element():
    c = Computation("main")
    x = c.add_parameter(tensor((2, 3), "f32"))
    tk = c.add("top_k", [x], attrs={"k": 2})
    _raw(c, "get_tuple_element", [tk], tensor((2, 2), "f32"), {"index": 5})
    with pytest.raises(VerificationError, match="index 5 out of range"):
        verify(c)
    c = Computation("main")
    x = c.add_parameter(tensor((2, 3), "f32"))
    tk = c.add("top_k", [x], attrs={"k": 2})
    _raw(c, "get_tuple_element", [tk], tensor((2, 2), "f32"), {"index": 1})
    with pytest.raises(VerificationError, match="differs from result #1"):
        verify(c)
    c = Computation("main")
    x = c.add_parameter(F)
    _raw(c, "add", [x, x], F, multi=True)
    with pytest.raises(VerificationError, match="not a tuple"):
        verify(c)


def test_outputs_must_belong_and_entry_must_exist():
    other = Computation("other")
    y = other.add_parameter(F)
    c = Computation("main")
    c.add_parameter(F)
    c.set_outputs([y])
    with pytest.raises(VerificationError, match="returns %arg0, which is not defined"):
        verify(c)
    m = Module()
    m.entry_name = "main"
    m.add_function(other)
    with pytest.raises(VerificationError, match="no function @main"):
        verify(m)


def test_parameters_must_come_first():
    c = Computation("main")
    x = c.add_parameter(F)
    c.add("negate", [x])
    c.instructions.reverse()
    with pytest.raises(VerificationError, match="parameters must come first"):
        verify(c)


def test_dot_general_may_widen_its_element_type():
    from xltune.ir import DotDimensionNumbers
    c = Computation("main")
    a = c.add_parameter(tensor((2, 3), "i8"))
    dn = DotDimensionNumbers((), (), (1,), (1,))
    c.set_outputs([c.add("dot_general", [a, a], attrs={"dot_dimension_numbers": dn}, type=tensor((2, 2), "i32"))])
    verify(c)
    _raw(c, "dot_general", [a, a], tensor((2, 3), "i32"), {"dot_dimension_numbers": dn})
    with pytest.raises(VerificationError, match="shape"):
        verify(c)
