"""xltune.trace: signatures (specs, annotations, pytrees), the IR it emits (what jax would emit),
printing and parsing back, and tracing outside a trace."""
from __future__ import annotations

import numpy as np
import pytest

import xltune
import xltune.numpy as xnp
from xltune.errors import TraceError
from xltune.ir.attrs import DotDimensionNumbers
from xltune.ir.types import TensorType, TupleType
from xltune.numpy import bool_, f32, i32


def ops(module_or_comp):
    comp = module_or_comp.entry if hasattr(module_or_comp, "entry") else module_or_comp
    return [i.opcode for i in comp.instructions if i.opcode != "parameter"]


def single(module, opcode):
    found = [i for i in module.entry.walk() if i.opcode == opcode]
    assert len(found) == 1, f"expected one {opcode}, found {len(found)}: {ops(module)}"
    return found[0]


# ---- specs ----------------------------------------------------------------------------------------------
def test_type_specs():
    s = f32[1024, 512]
    assert s.shape == (1024, 512) and s.dtype == np.float32
    assert s.type == TensorType((1024, 512), "f32")
    assert repr(s) == "f32[1024, 512]" and repr(i32[8]) == "i32[8]" and repr(bool_[4]) == "bool_[4]"
    assert f32[()].shape == () and f32[7].shape == (7,)
    assert np.dtype(xnp.f32) == np.float32 and xnp.float32 is f32 and xnp.f32 == np.float32
    assert xnp.bf16[2].dtype == np.dtype("bfloat16")
    with pytest.raises(TraceError):
        f32[-1, 2]
    with pytest.raises(TraceError):
        f32[2.5]


def test_trace_reads_annotations():
    def f(x: f32[4, 8], g: f32[8]):
        return x * g

    m = xltune.trace(f)
    assert [p.type for p in m.entry.params] == [TensorType((4, 8), "f32"), TensorType((8,), "f32")]
    assert [p.name for p in m.entry.params] == ["x", "g"]
    assert m.entry.output_types == (TensorType((4, 8), "f32"),)


def test_trace_reads_string_annotations():
    # this file uses `from __future__ import annotations`: the annotations are strings
    def f(x: f32[2, 3], n: i32[2]) -> None:
        return x.sum(1) + n

    assert xltune.trace(f).entry.output_types == (TensorType((2,), "f32"),)


def test_specs_override_annotations_and_mix():
    def f(x: f32[4, 8], y: f32[8]):
        return x + y

    m = xltune.trace(f, f32[2, 8])  # x given, y from its annotation
    assert m.entry.params[0].type.shape == (2, 8) and m.entry.params[1].type.shape == (8,)


def test_spec_kinds_and_static_values():
    def f(x, y, z, scale, mode="sum"):
        out = (x + y.astype(xnp.float32) + z) * scale
        return out.sum() if mode == "sum" else out.max()

    m = xltune.trace(f, np.zeros((3,), np.float32), TensorType((3,), "i32"), f32[3], 2.5, mode="max")
    assert [str(p.type) for p in m.entry.params] == ["tensor<3xf32>", "tensor<3xi32>", "tensor<3xf32>"]
    assert "reduce" in ops(m)
    red = single(m, "reduce")
    assert red.regions[0].outputs[0].opcode == "maximum"


def test_pytree_arguments_and_results():
    def f(params, x):
        h = x @ params["w"] + params["b"]
        return {"out": h, "stats": (h.mean(), h.max())}

    m = xltune.trace(f, {"w": f32[8, 4], "b": f32[4]}, f32[2, 8])
    assert [p.name for p in m.entry.params] == ["params_b", "params_w", "x"]  # dict keys sorted
    assert [t.shape for t in m.entry.output_types] == [(2, 4), (), ()]
    exe = xltune.compile(m, backend="interpreter")
    rng = np.random.default_rng(0)
    b, w, x = rng.standard_normal(4, np.float32), rng.standard_normal((8, 4), np.float32), \
        rng.standard_normal((2, 8), np.float32)
    out, mean, mx = exe(b, w, x)
    np.testing.assert_allclose(out, x @ w + b, rtol=1e-5)
    np.testing.assert_allclose(mean, (x @ w + b).mean(), rtol=1e-5)


def test_jax_shape_dtype_struct_as_spec():
    jax = pytest.importorskip("jax")
    m = xltune.trace(lambda x: x * 2, jax.ShapeDtypeStruct((5,), np.int32))
    assert m.entry.params[0].type == TensorType((5,), "i32")


def test_missing_spec_is_an_error():
    def f(x, y):
        return x + y

    with pytest.raises(TraceError, match="no spec for parameter 'y'") as e:
        xltune.trace(f, f32[2])
    assert e.value.loc is not None and e.value.loc.source.endswith("test_trace.py")


def test_compile_uses_annotations():
    def f(x: f32[3], y: f32[3]):
        return xnp.maximum(x, y) * 2.0

    exe = xltune.compile(f, backend="interpreter")
    np.testing.assert_array_equal(exe(np.array([1, 5, 3], np.float32), np.array([4, 2, 6], np.float32)),
                                  np.array([8, 10, 12], np.float32))


# ---- what gets emitted (the StableHLO jax would emit) -------------------------------------------------------
def test_weak_scalar_is_a_broadcast_constant_without_convert():
    m = xltune.trace(lambda x: x * 2.0, f32[4, 8])
    assert ops(m) == ["constant", "broadcast_in_dim", "multiply"]
    c = m.entry.instructions[1]
    assert c.type == TensorType((), "f32") and float(c.attrs["value"]) == 2.0
    assert m.entry.instructions[2].attrs["broadcast_dimensions"] == ()


def test_promotion_emits_convert():
    m = xltune.trace(lambda x, n: x + n, f32[4], i32[4])
    assert ops(m) == ["convert", "add"]
    assert m.entry.outputs[0].type == TensorType((4,), "f32")


def test_broadcasting_uses_broadcast_in_dim():
    m = xltune.trace(lambda x, b: x + b, f32[4, 1, 8], f32[3, 1])
    bcasts = [i for i in m.entry.instructions if i.opcode == "broadcast_in_dim"]
    assert [(b.attrs["broadcast_dimensions"], b.type.shape) for b in bcasts] == \
        [((0, 1, 2), (4, 3, 8)), ((1, 2), (4, 3, 8))]


def test_reduce_region_is_the_scalar_op():
    m = xltune.trace(lambda x: xnp.nn.softmax(x), f32[4, 8])
    reduces = [i for i in m.entry.instructions if i.opcode == "reduce"]
    assert [r.regions[0].outputs[0].opcode for r in reduces] == ["maximum", "add"]
    for r in reduces:
        assert r.attrs["dimensions"] == (1,)
        assert [p.type for p in r.regions[0].params] == [TensorType((), "f32")] * 2
    assert float(reduces[0].operands[1].attrs["value"]) == -np.inf


def test_argmax_is_a_variadic_reduce():
    m = xltune.trace(lambda x: xnp.argmax(x, axis=1), f32[4, 8])
    red = single(m, "reduce")
    assert red.multi and red.type == TupleType((TensorType((4,), "f32"), TensorType((4,), "i32")))
    assert len(red.operands) == 4 and red.operands[1].opcode == "iota"
    assert len(red.regions[0].params) == 4
    gte = m.entry.outputs[0]
    assert gte.opcode == "get_tuple_element" and gte.attrs["index"] == 1


def test_matmul_is_dot_general():
    m = xltune.trace(lambda a, b: a @ b, f32[2, 5, 4, 8], f32[2, 5, 8, 3])
    dot = single(m, "dot_general")
    assert dot.attrs["dot_dimension_numbers"] == DotDimensionNumbers((0, 1), (0, 1), (3,), (2,))
    assert dot.type.shape == (2, 5, 4, 3)


def test_sort_has_a_comparator_region():
    m = xltune.trace(lambda x: xnp.argsort(x, axis=0), f32[6, 2])
    s = single(m, "sort")
    assert s.attrs["dimension"] == 0 and s.attrs["is_stable"] is True
    assert len(s.regions[0].params) == 4 and s.regions[0].outputs[0].type == TensorType((), "i1")


def test_loops_build_while_regions():
    def f(x: f32[8]):
        return xnp.fori_loop(0, 3, lambda i, c: c * 2.0 + x, xnp.zeros_like(x))

    m = xltune.trace(f)
    w = single(m, "while")
    cond, body = w.regions
    assert w.multi and len(w.type.elements) == 2  # (i, carry)
    assert [p.type for p in cond.params] == [TensorType((), "i32"), TensorType((8,), "f32")]
    assert cond.outputs[0].type == TensorType((), "i1")
    assert body.output_types == (TensorType((), "i32"), TensorType((8,), "f32"))
    # the body reads x from the enclosing computation
    assert any(m.entry.params[0] in inst.operands for inst in body.instructions)


def test_cond_builds_a_case():
    def f(x: f32[3]):
        return xnp.cond(x.sum() > 0, lambda: x * 2, lambda: x - 1)

    m = xltune.trace(f)
    case = single(m, "case")
    assert len(case.regions) == 2 and all(not r.params for r in case.regions)
    assert case.operands[0].type == TensorType((), "i32")
    assert case.regions[0].outputs[0].opcode == "subtract"  # branch 0 is the false branch


def test_unused_values_are_dropped():
    def f(x: f32[4]):
        x.sum()  # noqa: dead
        xnp.exp(x)
        return x + 1

    assert ops(xltune.trace(f)) == ["constant", "broadcast_in_dim", "add"]


def test_module_name_and_outputs():
    def my_fn(x: f32[2]):
        return x, 3.0, np.arange(2, dtype=np.int32)

    m = xltune.trace(my_fn)
    assert m.name == "my_fn"
    assert [str(t) for t in m.entry.output_types] == ["tensor<2xf32>", "tensor<f32>", "tensor<2xi32>"]
    assert xltune.trace(lambda x: x, f32[1]).name == "lambda"


def test_non_array_result_is_an_error():
    with pytest.raises(TraceError, match="returned a str"):
        xltune.trace(lambda x: "nope", f32[2])


# ---- printing and parsing back --------------------------------------------------------------------------------
ROUND_TRIP = {
    "elementwise": (lambda x, y: xnp.where(x > y, xnp.exp(x), y * 2.0) - xnp.tanh(y), (f32[4, 8], f32[8])),
    "reductions": (lambda x: (x.sum(0), x.mean(1, keepdims=True), x.max(), xnp.argmin(x, 1), x.var()),
                   (f32[4, 8],)),
    "dot_einsum": (lambda a, b: (a @ b, xnp.einsum("ij,jk->ki", a, b)), (f32[4, 8], f32[8, 3])),
    "shapes": (lambda x: (x.T.reshape(2, 16), xnp.concatenate([x, x], 0), xnp.pad(x, 1), x[1:3, ::-2],
                          xnp.stack([x, x], -1), xnp.flip(x, 0)), (f32[4, 8],)),
    "gather_scatter": (lambda x, i: (x[i], x[:, np.array([1, 0])], x.at[i].add(1.0)), (f32[4, 8], i32[3])),
    "sort_cumsum": (lambda x: (xnp.sort(x, 1), xnp.argsort(x, 0), xnp.cumsum(x, 1)), (f32[4, 8],)),
    "integer_bool": (lambda a, b: ((a // b) % 3, a > b, (a > 0) & (b > 0), a.astype(xnp.float16)),
                     (i32[5], i32[5])),
    "control": (lambda x, k: (xnp.fori_loop(0, 4, lambda i, c: c + x[i], xnp.zeros(8)),
                              xnp.cond(k > 0, lambda: x.sum(), lambda: x.max()),
                              xnp.switch(k, [lambda: x[0], lambda: x[1] * 2.0])), (f32[4, 8], i32[()])),
    "creation": (lambda x: (xnp.arange(6) * 2, xnp.linspace(0, 1, 5), xnp.eye(3, 4), xnp.full((2,), 7.0)),
                 (f32[1],)),
}


@pytest.mark.parametrize("name", list(ROUND_TRIP))
def test_print_parse_round_trip(name):
    fn, specs = ROUND_TRIP[name]
    module = xltune.trace(fn, *specs)
    text = str(module)
    assert "stablehlo." in text
    again = xltune.parse(text)
    assert again.equals(module), text
    assert str(again) == text


def test_printed_module_compiles_from_text():
    def f(x: f32[4, 8], w: f32[8, 3]):
        return xnp.nn.relu(x @ w + 1.0)

    text = str(xltune.trace(f))
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((4, 8), np.float32), rng.standard_normal((8, 3), np.float32)
    np.testing.assert_allclose(xltune.compile(text, backend="interpreter")(x, w), np.maximum(x @ w + 1, 0),
                               rtol=1e-5)


# ---- outside a trace ---------------------------------------------------------------------------------------------
def test_xnp_outside_a_trace_is_an_error():
    with pytest.raises(TraceError, match="needs a trace"):
        xnp.exp(np.ones(3))


def test_tracer_leaking_out_of_a_loop_body_is_an_error():
    leaked = []

    def f(x: f32[3]):
        def body(i, c):
            leaked.append(c)
            return c + 1.0
        xnp.fori_loop(0, 2, body, x)
        return leaked[0] * 2

    with pytest.raises(TraceError, match="region that has ended|loop body"):
        xltune.trace(f)


def test_weak_loop_carry_takes_the_body_dtype():
    def f(x: xnp.f16[4]):
        return xnp.fori_loop(0, 3, lambda i, c: c + x.sum(), 0.0)

    m = xltune.trace(f)
    assert m.entry.output_types == (TensorType((), "f16"),)
    assert float(xltune.compile(f, backend="interpreter")(np.ones(4, np.float16))) == 12.0


def test_python_scalar_branch_results_are_promoted():
    def f(x: xnp.f16[3]):
        return xnp.cond(x.sum() > 0, lambda: x.sum(), lambda: 0.0)

    assert xltune.trace(f).entry.output_types == (TensorType((), "f16"),)
