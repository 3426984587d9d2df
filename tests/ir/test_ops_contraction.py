"""dot_general and convolution against direct definitions."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from op_helpers import arr, run
from xltune.ir import ConvDimensionNumbers, DotDimensionNumbers, tensor


def test_dot_general_batch_then_free_dims():
    rng = np.random.default_rng(0)
    lhs = rng.standard_normal((2, 3, 4)).astype(np.float64)
    rhs = rng.standard_normal((2, 5, 4)).astype(np.float64)
    dn = DotDimensionNumbers((0,), (0,), (2,), (2,))
    r = run("dot_general", lhs, rhs, attrs={"dot_dimension_numbers": dn})
    assert r.shape == (2, 3, 5)
    assert np.allclose(r, np.einsum("bik,bjk->bij", lhs, rhs))


def test_dot_general_preferred_element_type_and_int_wrap():
    lhs = arr([[100, 100]], "i8")
    rhs = arr([[100], [100]], "i8")
    dn = DotDimensionNumbers((), (), (1,), (0,))
    assert run("dot_general", lhs, rhs, attrs={"dot_dimension_numbers": dn}, type=tensor((1, 1), "i32")).tolist() == \
        [[20000]]
    assert run("dot_general", lhs, rhs, attrs={"dot_dimension_numbers": dn}).tolist() == [[32]]  # 20000 mod 256


def test_dot_general_complex_and_vector():
    a = arr([1 + 1j, 2 - 1j], "complex<f32>")
    dn = DotDimensionNumbers((), (), (0,), (0,))
    r = run("dot_general", a, a, attrs={"dot_dimension_numbers": dn})
    assert r.shape == () and complex(r) == (1 + 1j) ** 2 + (2 - 1j) ** 2


def test_legacy_dot():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.arange(3, dtype=np.float32)
    assert run("dot", a, b).tolist() == (a @ b).tolist()


def _conv_reference(lhs, rhs, strides, pad, lhs_dil, rhs_dil, fgc, bgc):
    """Direct loops over the spec's definition; lhs (N, C, *S), rhs (O, I, *K) -> (N', O, *out)."""
    nsp = lhs.ndim - 2
    # dilate and pad the input
    def dilate(x, d):
        for ax, f in enumerate(d):
            if f > 1:
                n = x.shape[2 + ax]
                shape = list(x.shape)
                shape[2 + ax] = (n - 1) * f + 1 if n else 0
                y = np.zeros(shape, x.dtype)
                sl = [slice(None)] * x.ndim
                sl[2 + ax] = slice(None, None, f)
                y[tuple(sl)] = x
                x = y
        return x
    x = dilate(lhs, lhs_dil)
    x = np.pad(x, [(0, 0), (0, 0)] + [(max(p[0], 0), max(p[1], 0)) for p in pad])
    sl = [slice(None), slice(None)] + [slice(-min(p[0], 0) or None, (x.shape[2 + i] + min(p[1], 0)) or None)
                                       for i, p in enumerate(pad)]
    x = x[tuple(sl)]
    k = dilate(rhs, rhs_dil)
    ksp = k.shape[2:]
    out_sp = [(x.shape[2 + i] - ksp[i]) // strides[i] + 1 for i in range(nsp)]
    n, c = x.shape[:2]
    o = k.shape[0]
    nb = n // bgc
    out = np.zeros((nb, o) + tuple(out_sp), np.float64)
    cg, og = c // fgc, o // max(fgc, bgc)
    for b in range(nb):
        for oc in range(o):
            g = oc // og
            for pos in itertools.product(*(range(s) for s in out_sp)):
                win = tuple(slice(p * s, p * s + kk) for p, s, kk in zip(pos, strides, ksp))
                if bgc > 1:
                    xs = x[(g * nb + b, slice(None)) + win]
                else:
                    xs = x[(b, slice(g * cg, (g + 1) * cg)) + win]
                out[(b, oc) + pos] = np.sum(xs * k[oc])
    return out


@pytest.mark.parametrize("strides,pad,lhs_dil,rhs_dil,fgc,bgc", [
    ((1, 1), ((0, 0), (0, 0)), (1, 1), (1, 1), 1, 1),
    ((2, 1), ((1, 2), (0, 1)), (1, 1), (1, 1), 1, 1),
    ((1, 2), ((1, 1), (2, 0)), (2, 1), (1, 2), 1, 1),
    ((1, 1), ((-1, 1), (1, -1)), (1, 1), (2, 1), 1, 1),
    ((1, 1), ((1, 1), (1, 1)), (1, 1), (1, 1), 2, 1),
    ((1, 1), ((0, 0), (1, 0)), (1, 1), (1, 1), 1, 2),
])
def test_convolution_matches_direct_definition(strides, pad, lhs_dil, rhs_dil, fgc, bgc):
    rng = np.random.default_rng(1)
    n, c, o = 2 * bgc, 2 * fgc, 2 * max(fgc, bgc)
    lhs = rng.integers(-3, 4, (n, 5, 6, c)).astype(np.float32)      # [b, 0, 1, f]
    rhs = rng.integers(-3, 4, (3, 2, c // fgc, o)).astype(np.float32)  # [0, 1, i, o]
    dn = ConvDimensionNumbers(0, 3, (1, 2), 2, 3, (0, 1), 0, 3, (1, 2))
    attrs = {"dimension_numbers": dn, "feature_group_count": fgc, "batch_group_count": bgc,
             "window_strides": strides, "padding": pad, "lhs_dilation": lhs_dil, "rhs_dilation": rhs_dil}
    r = run("convolution", lhs, rhs, attrs=attrs)
    ref = _conv_reference(lhs.transpose(0, 3, 1, 2), rhs.transpose(3, 2, 0, 1), strides, pad, lhs_dil, rhs_dil,
                          fgc, bgc)
    assert r.shape == tuple(ref.transpose(0, 2, 3, 1).shape)
    assert np.array_equal(r, ref.transpose(0, 2, 3, 1).astype(np.float32))


def test_convolution_spec_example_and_window_reversal():
    lhs = arr([[[[1], [2], [5], [6]], [[3], [4], [7], [8]], [[10], [11], [14], [15]], [[12], [13], [16], [17]]]], "i64")
    rhs = np.ones((3, 3, 1, 1), np.int64)
    dn = ConvDimensionNumbers(0, 3, (1, 2), 2, 3, (0, 1), 0, 3, (1, 2))
    attrs = {"dimension_numbers": dn, "feature_group_count": 1, "batch_group_count": 1, "window_strides": (4, 4),
             "padding": ((0, 0), (0, 0)), "lhs_dilation": (2, 2), "rhs_dilation": (1, 1)}
    r = run("convolution", lhs, rhs, attrs=attrs)
    assert r.reshape(2, 2).tolist() == [[10, 26], [46, 62]]
    k = np.arange(3, dtype=np.float32).reshape(3, 1, 1)      # [0, i, o]
    x = np.array([[[1.0], [0.0], [0.0]]], np.float32)         # [b, 0, f]
    dn1 = ConvDimensionNumbers(0, 2, (1,), 1, 2, (0,), 0, 2, (1,))
    base = {"dimension_numbers": dn1, "feature_group_count": 1, "batch_group_count": 1}
    plain = run("convolution", x, k, attrs=base).reshape(-1).tolist()
    rev = run("convolution", x, k, attrs=base | {"window_reversal": (True,)}).reshape(-1).tolist()
    assert plain == [0.0] and rev == [2.0]
