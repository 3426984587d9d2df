"""Errors at trace time: TraceErrors whose loc is the user's line (file:line:col of the offending
call), messages naming the xnp function, unsupported functions named."""
from __future__ import annotations

import inspect

import numpy as np
import pytest

import xltune
import xltune.numpy as xnp
from xltune.errors import TraceError, UnsupportedOpError, XltuneError
from xltune.numpy import f32, i32

HERE = __file__


def line_of(fn, marker: str) -> int:
    """The line number of the line in fn's source that contains `marker`."""
    lines, start = inspect.getsourcelines(fn)
    for k, text in enumerate(lines):
        if marker in text:
            return start + k
    raise AssertionError(marker)


def trace_error(fn, *specs, exc=TraceError):
    with pytest.raises(exc) as e:
        xltune.trace(fn, *specs)
    return e.value


def assert_at(err, fn, marker):
    assert err.loc is not None, err
    assert err.loc.source == HERE
    assert err.loc.line == line_of(fn, marker), str(err)
    assert str(err).startswith(f"{HERE}:{err.loc.line}:")


def test_matmul_shape_mismatch_points_at_the_user_line():
    def f(x: f32[4, 8], w: f32[7, 3]):
        y = x * 2
        return y @ w  # <- here

    err = trace_error(f)
    assert_at(err, f, "<- here")
    assert "xnp.matmul" in err.message and "8" in err.message and "7" in err.message
    assert "return y @ w" in str(err)  # the offending line is quoted
    assert err.loc.col == 16  # the `y @ w` expression


def test_broadcast_mismatch():
    def f(x: f32[4, 8]):
        return x + xnp.ones((3, 8))  # <- here

    err = trace_error(f)
    assert_at(err, f, "<- here")
    assert "xnp.add" in err.message and "(4, 8)" in err.message and "(3, 8)" in err.message


def test_error_inside_a_helper_points_at_the_helper_line():
    def helper(a, b):
        return xnp.concatenate([a, b], axis=0)  # <- here

    def f(x: f32[4, 8], y: f32[4, 7]):
        return helper(x, y)

    err = trace_error(f)
    assert_at(err, helper, "<- here")
    assert "xnp.concatenate" in err.message


@pytest.mark.parametrize("body,needle", [
    (lambda x: x.reshape(5, -1), "cannot reshape"),
    (lambda x: x[5], "out of bounds"),
    (lambda x: x[:, np.array([0, 9])], "out of bounds"),
    (lambda x: x[0, 0, 0], "too many indices"),
    (lambda x: x.sum(axis=2), "out of bounds"),
    (lambda x: xnp.squeeze(x, 0), "cannot squeeze"),
    (lambda x: xnp.transpose(x, (0, 0)), "not a permutation"),
    (lambda x: xnp.einsum("ij,jk->ik", x, x), "size"),
    (lambda x: xnp.where(x), "data-dependent"),
    (lambda x: x[x > 0], "data-dependent"),
    (lambda x: xnp.pad(x, 1, mode="reflect"), "mode='reflect'"),
    (lambda x: xnp.sum(x, out=x), "out="),
    (lambda x: x.astype("not-a-dtype"), "element type"),
    (lambda x: xnp.zeros(x.shape[0] * 1.5), "int"),
])
def test_shape_and_argument_errors(body, needle):
    err = trace_error(body, f32[4, 8])
    assert needle in err.message
    assert err.loc is not None and err.loc.source == HERE


def test_python_control_flow_on_traced_values():
    def f(x: f32[3]):
        if x.sum() > 0:  # <- here
            return x
        return -x

    err = trace_error(f)
    assert_at(err, f, "<- here")
    assert "bool()" in err.message and "xnp.where" in err.message


def test_float_of_traced_value():
    err = trace_error(lambda x: float(x.sum()), f32[3])
    assert "float()" in err.message


def test_loop_body_type_mismatch_names_the_carry():
    def f(x: f32[4, 8]):
        return xnp.fori_loop(0, 3, lambda i, c: c.sum(), x)  # <- here

    err = trace_error(f)
    assert_at(err, f, "<- here")
    assert "xnp.fori_loop" in err.message and "f32[4, 8] in, f32[] out" in err.message


def test_loop_condition_must_be_a_boolean_scalar():
    def f(x: f32[3]):
        return xnp.while_loop(lambda c: c, lambda c: c + 1.0, x)

    assert "one boolean scalar" in trace_error(f).message


def test_loop_structure_mismatch():
    def f(x: f32[3]):
        return xnp.while_loop(lambda c: c[0].sum() < 3, lambda c: c[0] + 1.0, (x, x))

    assert "structure" in trace_error(f).message


def test_cond_branch_mismatch():
    def f(x: f32[3]):
        return xnp.cond(x.sum() > 0, lambda: x, lambda: x.sum())  # <- here

    err = trace_error(f)
    assert_at(err, f, "<- here")
    assert "different types" in err.message and "f32[3]" in err.message


def test_error_inside_a_loop_body_points_into_the_body():
    def f(x: f32[4, 8]):
        def body(i, c):
            return c + x[i] @ x  # <- here
        return xnp.fori_loop(0, 4, body, xnp.zeros(8))

    err = trace_error(f)
    assert_at(err, f, "<- here")
    assert "xnp.matmul" in err.message


def test_numpy_function_on_a_traced_array_dispatches_or_names_itself():
    # numpy functions with an xnp twin work on traced arrays ...
    m = xltune.trace(lambda x: np.sum(np.exp(x), axis=0), f32[3, 2])
    assert [i.opcode for i in m.entry.instructions if i.opcode == "reduce"] == ["reduce"]

    # ... the others raise an error that names them
    def f(x: f32[8]):
        return np.fft.fft(x)  # <- here

    err = trace_error(f, exc=UnsupportedOpError)
    assert "numpy.fft.fft" in str(err)
    assert_at(err, f, "<- here")
    err = trace_error(lambda x: np.unique(x), f32[8], exc=UnsupportedOpError)
    assert "numpy.unique" in str(err)


def test_missing_xnp_function_names_itself():
    with pytest.raises(UnsupportedOpError, match="xnp.histogram") as e:
        xnp.histogram
    assert isinstance(e.value, AttributeError) and isinstance(e.value, XltuneError)
    assert not hasattr(xnp, "nope_not_here")
    with pytest.raises(UnsupportedOpError, match="xnp.linalg.inv"):
        xnp.linalg.inv


def test_traced_slice_bounds_suggest_dynamic_slice():
    def f(x: f32[8], i: i32[()]):
        return x[i:i + 2]

    assert "dynamic_slice" in trace_error(f).message


def test_errors_are_xltune_errors_and_loc_is_set():
    err = trace_error(lambda x: x @ x, f32[2, 3])
    assert isinstance(err, XltuneError) and err.line is not None and err.col is not None
