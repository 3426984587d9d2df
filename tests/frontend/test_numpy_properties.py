"""Property tests: random shapes through broadcasting, reductions (negative axes, keepdims),
transposes and slicing, traced and interpreted, against numpy."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import xltune
import xltune.numpy as xnp

SETTINGS = settings(max_examples=40, deadline=None)


def run(fn, *args):
    return xltune.compile(fn, backend="interpreter", specs=list(args))(*args)


def arrays(shape, bound=4.0):
    return hnp.arrays(np.float32, shape, elements=st.floats(-bound, bound, width=32))


@SETTINGS
@given(hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=4, max_side=4), st.data())
def test_broadcasting_binary_and_where(shapes, data):
    a, b, c = (data.draw(arrays(s)) for s in shapes.input_shapes)
    got = run(lambda x, y, z: xnp.where(z > 0, x * y - 1.5, x / (xnp.abs(y) + 1)), a, b, c)
    want = np.where(c > 0, a * b - 1.5, a / (np.abs(b) + 1))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


reduction_case = st.tuples(hnp.array_shapes(min_dims=1, max_dims=4, max_side=4), st.booleans(),
                           st.sampled_from(["sum", "mean", "max", "min", "prod", "var", "argmax", "argmin"]))


@SETTINGS
@given(reduction_case, st.data())
def test_reductions_with_negative_axes_and_keepdims(case, data):
    shape, keepdims, op = case
    # a product of up to 256 values of magnitude 4 leaves float32's range (the f64 oracle does not)
    x = data.draw(arrays(shape, bound=1.0 if op == "prod" else 4.0))
    nd = len(shape)
    if op in ("argmax", "argmin"):
        axis = data.draw(st.none() | st.integers(-nd, nd - 1))
        got = run(lambda a: getattr(xnp, op)(a, axis=axis, keepdims=keepdims), x)
        want = getattr(np, op)(x, axis=axis, keepdims=keepdims)
        np.testing.assert_array_equal(got, want)
        return
    axes = data.draw(st.none() | st.integers(-nd, nd - 1) |
                     st.lists(st.integers(0, nd - 1), unique=True, min_size=1).map(
                         lambda ax: tuple(a - nd if i % 2 else a for i, a in enumerate(ax))))
    got = run(lambda a: getattr(xnp, op)(a, axis=axes, keepdims=keepdims), x)
    want = getattr(np, op)(x.astype(np.float64), axis=axes, keepdims=keepdims)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@SETTINGS
@given(hnp.array_shapes(min_dims=1, max_dims=4, max_side=5), st.data())
def test_transpose_and_basic_slicing(shape, data):
    x = data.draw(arrays(shape))
    perm = tuple(data.draw(st.permutations(range(len(shape)))))
    index = data.draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    got_t, got_i = run(lambda a: (xnp.transpose(a, perm), a[index]), x)
    np.testing.assert_array_equal(got_t, np.transpose(x, perm))
    np.testing.assert_array_equal(got_i, x[index])


@SETTINGS
@given(hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), st.data())
def test_integer_array_indexing(shape, data):
    x = data.draw(arrays(shape))
    index = data.draw(hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(min_dims=0, max_dims=2,
                                                                                      max_side=3)))
    np.testing.assert_array_equal(run(lambda a: a[index], x), x[index])
