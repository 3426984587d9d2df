"""dce, cse, constant folding and the algebraic rule tables: structure and semantics."""
from __future__ import annotations

import numpy as np
import pytest

from xltune.interpreter import evaluate
from xltune.ir import TupleType, tensor
from xltune.passes.algebraic import RULES
from xltune.passes.constant_folding import MAX_RESULT_ELEMENTS

from passes_irbuild import B, assert_same, optimized, random_args


def ops(module):
    return [i.opcode for i in module.entry.instructions if i.opcode != "parameter"]


def simplified(module, spec="simplify"):
    args = random_args(module)
    want = evaluate(module, *args)
    m, stages, stats = optimized(module, spec)
    assert_same(want, evaluate(m, *args))
    return m, stats


# ---- dce ----------------------------------------------------------------------------------------------
def test_dce_removes_dead_code_but_keeps_side_effects():
    b = B()
    x = b.param((4,))
    b.op("exponential", x)                         # dead
    b.c.add("custom_call", (x,), TupleType(()), {"call_target_name": "log", "has_side_effect": True}, multi=True)
    y = b.op("negate", x)
    m, _, _ = optimized(b.ret(y), "dce")
    assert ops(m) == ["custom_call", "negate"]


def test_dce_inside_regions():
    b = B()
    x = b.param((4,))
    r = b.reduce(x, (0,))
    body = r.regions[0]
    p0, p1 = body.params
    body.add("multiply", (p0, p1))                 # dead in the body
    m, _ = simplified(b.ret(r), "dce")
    body = m.entry.instructions[-1].regions[0]
    assert [i.opcode for i in body.instructions] == ["parameter", "parameter", "add"]


# ---- cse ----------------------------------------------------------------------------------------------
def test_cse_merges_equal_and_commuted_instructions_and_equal_regions():
    b = B()
    x, y = b.param((4,)), b.param((4,))
    a1, a2 = b.op("add", x, y), b.op("add", y, x)
    s1, s2 = b.reduce(x, (0,)), b.reduce(x, (0,))
    m, stats = simplified(b.ret(b.op("multiply", a1, a2), b.op("add", s1, s2)), "cse,dce")
    assert ops(m).count("add") == 2 and ops(m).count("reduce") == 1


def test_cse_keeps_different_attributes_and_random_ops_apart():
    b = B()
    x = b.param((4, 4))
    t1 = b.op("transpose", x, permutation=(1, 0))
    t2 = b.op("transpose", x, permutation=(0, 1))
    lo, hi = b.const(0.0), b.const(1.0)
    shape = b.c.add("constant", (), tensor((1,), "i64"), {"value": np.array([4])})
    r1 = b.c.add("rng", (lo, hi, shape), tensor((4,), "f32"), {"rng_distribution": "UNIFORM"})
    r2 = b.c.add("rng", (lo, hi, shape), tensor((4,), "f32"), {"rng_distribution": "UNIFORM"})
    m, _, _ = optimized(b.ret(b.op("add", t1, t2), r1, r2), "cse")
    assert ops(m).count("transpose") == 2 and ops(m).count("rng") == 2


# ---- constant folding ---------------------------------------------------------------------------------
def test_constant_folding_uses_the_interpreter_and_respects_the_size_bound():
    b = B()
    x = b.param((3,))
    small = b.op("exponential", b.c.add("constant", (), tensor((3,), "f32"),
                                        {"value": np.array([1, 2, 3], np.float32)}))
    n = MAX_RESULT_ELEMENTS + 1
    big_c = b.c.add("constant", (), tensor((n,), "f32"),
                    {"value": np.arange(n, dtype=np.float32)})
    big = b.op("negate", big_c)
    m, _ = simplified(b.ret(b.op("add", x, small), big), "constant-folding,dce")
    folded = [i for i in m.entry.instructions if i.opcode == "constant" and i.type.shape == (3,)]
    assert folded and np.allclose(folded[0].attrs["value"], np.exp([1, 2, 3]))
    assert "negate" in ops(m)                       # over the bound: left alone
    assert "exponential" not in ops(m)


def test_constant_folding_never_folds_side_effects_or_broadcasts():
    b = B()
    c = b.const([1.0, 2.0], (2,))
    call = b.c.add("custom_call", (c,), tensor((2,), "f32"),
                   {"call_target_name": "foo", "has_side_effect": False})
    bc = b.bcast(b.const(2.0), (4,))
    m, _, _ = optimized(b.ret(call, bc), "constant-folding")
    assert ops(m).count("custom_call") == 1 and "broadcast_in_dim" in ops(m)


# ---- algebraic ------------------------------------------------------------------------------------------
def _unary_chain(op, n=2):
    b = B()
    x = b.param((4,))
    y = x
    for _ in range(n):
        y = b.op(op, y)
    return b.ret(y)


@pytest.mark.parametrize("build, left", [
    # identities
    (lambda b, x: b.op("add", x, b.splat(0.0, (4,))), []),
    (lambda b, x: b.op("add", b.splat(-0.0, (4,)), x), []),
    (lambda b, x: b.op("subtract", x, b.splat(0.0, (4,))), []),
    (lambda b, x: b.op("multiply", b.splat(1.0, (4,)), x), []),
    (lambda b, x: b.op("divide", x, b.const(1.0, (4,))), []),
    (lambda b, x: b.op("power", x, b.splat(1.0, (4,))), []),
    # involutions, idempotents
    (lambda b, x: b.op("negate", b.op("negate", x)), []),
    (lambda b, x: b.op("abs", b.op("abs", x)), ["abs"]),
    (lambda b, x: b.op("maximum", x, x), []),
    (lambda b, x: b.op("convert", x, type=tensor((4,), "f32")), []),
    (lambda b, x: b.op("convert", b.op("convert", x, type=tensor((4,), "f64")),
                       type=tensor((4,), "f32")), []),
    # select with a constant predicate / equal branches
    (lambda b, x: b.op("select", b.bcast(b.const(True, dtype="i1"), (4,)), x, b.op("negate", x)), []),
    (lambda b, x: b.op("select", b.op("compare", x, x, comparison_direction="LT"), x, x), []),
    # data movement
    (lambda b, x: b.op("reshape", b.op("reshape", x, type=tensor((2, 2), "f32")),
                       type=tensor((4,), "f32")), []),
    (lambda b, x: b.op("slice", b.op("slice", x, start_indices=(1,), limit_indices=(4,), strides=(1,)),
                       start_indices=(0,), limit_indices=(3,), strides=(1,)), ["slice"]),
    (lambda b, x: b.op("concatenate", x, dimension=0), []),
    (lambda b, x: b.op("pad", x, b.const(0.0), edge_padding_low=(0,), edge_padding_high=(0,),
                       interior_padding=(0,)), []),
    (lambda b, x: b.op("reverse", b.op("reshape", x, type=tensor((4, 1), "f32")),
                       dimensions=(1,)), ["reshape"]),
    # power of two division is a multiplication
    (lambda b, x: b.op("divide", x, b.splat(8.0, (4,))), ["constant", "broadcast_in_dim", "multiply"]),
    (lambda b, x: b.op("divide", x, b.splat(3.0, (4,))), ["constant", "broadcast_in_dim", "divide"]),
])
def test_algebraic_rules_preserve_semantics(build, left):
    b = B()
    x = b.param((4,))
    m, stats = simplified(b.ret(build(b, x)))
    assert ops(m) == left


def test_transpose_and_broadcast_chains_compose():
    b = B()
    x = b.param((2, 3, 4))
    t = b.op("transpose", b.op("transpose", x, permutation=(1, 2, 0)), permutation=(2, 0, 1))   # identity
    v = b.param((3,))
    bb = b.bcast(b.bcast(v, (3, 1), (0,)), (3, 5), (0, 1))
    u = b.op("transpose", b.op("reshape", x, type=tensor((2, 1, 12), "f32")), permutation=(1, 0, 2))
    m, stats = simplified(b.ret(t, bb, u))
    assert m.entry.outputs[0] is m.entry.params[0]
    assert m.entry.outputs[1].opcode == "broadcast_in_dim" and m.entry.outputs[1].operands[0] is m.entry.params[1]
    assert m.entry.outputs[2].opcode == "reshape"   # a transpose of a unit dim moves nothing
    assert {"transpose_of_transpose", "broadcast_of_broadcast", "transpose_is_reshape"} <= set(stats["algebraic_rules"])


def test_elementwise_of_broadcasts_and_splats_fold_to_scalars():
    b = B()
    x = b.param((4, 4))
    c = b.op("add", b.splat(1.0, (4, 4)), b.const(2.0, (4, 4)))     # splat constant -> broadcast
    m, _ = simplified(b.ret(b.op("multiply", x, c)))
    bc = m.entry.outputs[0].operands[1]
    assert bc.opcode == "broadcast_in_dim" and float(bc.operands[0].attrs["value"]) == 3.0


def test_reduce_rules():
    b = B()
    v = b.param((3,))
    big = b.bcast(v, (3, 5), (0,))
    mx = b.reduce(big, (1,), "maximum")          # -> v
    sm = b.reduce(big, (1,), "add")              # -> v * 5
    unit = b.reduce(b.param((3, 1)), (1,), "add")  # -> reshape
    m, stats = simplified(b.ret(mx, sm, unit))
    assert "reduce" not in ops(m)
    assert m.entry.outputs[0] is m.entry.params[0]
    assert {"reduce_of_broadcast", "reduce_of_unit_dims"} <= set(stats["algebraic_rules"])


def test_integer_only_rules_leave_floats_alone():
    for dt, left in (("i32", []), ("f32", ["subtract"])):
        b = B(dt)
        x = b.param((4,))
        m, _ = simplified(b.ret(b.op("subtract", x, x)))
        assert [o for o in ops(m) if o not in ("constant", "broadcast_in_dim")] == left


def test_dot_of_transpose_folds_into_dimension_numbers():
    b = B()
    q, k = b.param((2, 8, 4)), b.param((2, 8, 4))
    kt = b.op("transpose", k, permutation=(0, 2, 1))
    s = b.dot(q, kt, contract=((2,), (1,)), batch=((0,), (0,)))
    m, _ = simplified(b.ret(s))
    assert ops(m) == ["dot_general"]
    dn = m.entry.outputs[0].attrs["dot_dimension_numbers"]
    assert dn.rhs_contracting_dimensions == (2,) and dn.rhs_batching_dimensions == (0,)


def test_every_rule_table_is_reachable():
    assert {"add", "multiply", "negate", "convert", "reshape", "transpose", "broadcast_in_dim", "select",
            "slice", "reduce", "dot_general", "constant"} <= set(RULES)
