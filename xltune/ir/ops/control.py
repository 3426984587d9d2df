"""Control flow: while, case, if, map; tuples; optimization_barrier."""
from __future__ import annotations

import numpy as np

from ..types import TensorType, TupleType
from . import CONTROL, TUPLE, defop
from ._common import count, dims_attr, pack, region_output_types, same_shape, tensor_arg, tensors


def _results(inst, values):
    """A multi instruction's value is the tuple of its results; a single result is itself."""
    values = list(values)
    if inst.multi:
        return tuple(values)
    if len(values) != 1:
        raise ValueError(f"expected 1 result, the region gave {len(values)}")
    return values[0]


# ---- while ------------------------------------------------------------------------------------------
def _infer_while(ts, attrs, regions):
    if len(regions) == 2:
        cond, body = regions
        couts = region_output_types(cond)
        if len(couts) != 1 or not isinstance(couts[0], TensorType) or couts[0].shape != () \
                or not couts[0].dtype.is_pred:
            raise TypeError(f"cond must return one tensor<i1>, returns {list(couts)}")
        bouts = region_output_types(body)
        if list(bouts) != list(ts):
            raise TypeError(f"body returns {list(bouts)}, expected the operand types {list(ts)}")
    return pack(ts) if ts else TupleType(())


def _ev_while(inst, args, ev):
    cond, body = inst.regions
    values = list(args)
    while True:
        c = ev.run(cond, values)[0]
        if not bool(np.asarray(c).reshape(-1)[0]):
            break
        values = ev.run(body, values)
    return _results(inst, values)


# ---- case / if --------------------------------------------------------------------------------------
def _branch_types(regions):
    if not regions:
        raise ValueError("expects at least one branch")
    first = region_output_types(regions[0])
    for i, r in enumerate(regions[1:], 1):
        if region_output_types(r) != first:
            raise TypeError(f"branch {i} returns {list(region_output_types(r))}, branch 0 {list(first)}")
    return pack(first) if first else TupleType(())


def _infer_case(ts, attrs, regions):
    count(ts, 1)
    t = tensor_arg(ts[0], "index")
    if t.shape != () or not t.dtype.is_int:
        raise TypeError(f"index must be a tensor<i32>, got {t}")
    return _branch_types(regions)


def _ev_case(inst, args, ev):
    i = int(np.asarray(args[0]).reshape(-1)[0])
    n = len(inst.regions)
    region = inst.regions[i] if 0 <= i < n else inst.regions[-1]
    return _results(inst, ev.run(region, []))


def _infer_if(ts, attrs, regions):
    count(ts, 1)
    t = tensor_arg(ts[0], "pred")
    if t.shape != () or not t.dtype.is_pred:
        raise TypeError(f"pred must be a tensor<i1>, got {t}")
    return _branch_types(regions)


def _ev_if(inst, args, ev):
    region = inst.regions[0] if bool(np.asarray(args[0]).reshape(-1)[0]) else inst.regions[1]
    return _results(inst, ev.run(region, []))


# ---- map ------------------------------------------------------------------------------------------------
def _infer_map(ts, attrs, regions):
    ts = tensors(ts)
    if not ts:
        raise ValueError("expects at least one input")
    shape = same_shape(ts, "inputs")
    dims = dims_attr(attrs, "dimensions", tuple(range(len(shape))))
    if list(dims) != list(range(len(shape))):
        raise ValueError(f"dimensions must be 0..{len(shape) - 1}, got {list(dims)}")
    if regions:
        outs = region_output_types(regions[0])
        if len(outs) != 1:
            raise TypeError("the map computation must return one value")
        return TensorType(shape, outs[0].dtype)
    return TensorType(shape, ts[0].dtype)


def _ev_map(inst, args, ev):
    out = ev.map_region(inst.regions[0], list(args))[0]
    return np.asarray(out).astype(inst.type.dtype.np_dtype, copy=False).reshape(inst.type.shape)


# ---- tuples -----------------------------------------------------------------------------------------------
def _infer_tuple(ts, attrs, regions):
    return TupleType(tuple(ts))


def _infer_gte(ts, attrs, regions):
    count(ts, 1)
    t = ts[0]
    if not isinstance(t, TupleType):
        raise TypeError(f"operand must be a tuple, got {t}")
    i = int(attrs["index"])
    if not 0 <= i < len(t.elements):
        raise ValueError(f"index {i} out of range for {t}")
    return t.elements[i]


def _ev_gte(inst, args, _ev):
    return args[0][int(inst.attrs["index"])]


def _infer_barrier(ts, attrs, regions):
    return pack(ts) if ts else TupleType(())


def _ev_barrier(inst, args, _ev):
    return _results(inst, args)


defop("while", CONTROL, None, num_regions=2, variadic_results=True, infer=_infer_while,
      evaluate=_ev_while)  # regions: cond, body
defop("case", CONTROL, 1, num_regions=None, variadic_results=True, infer=_infer_case,
      evaluate=_ev_case)  # (index); one region per branch
defop("if", CONTROL, 1, num_regions=2, variadic_results=True, infer=_infer_if, evaluate=_ev_if)  # true, false
defop("map", CONTROL, None, attrs=("dimensions",), num_regions=1, infer=_infer_map, evaluate=_ev_map)
defop("tuple", TUPLE, None, infer=_infer_tuple, evaluate=lambda inst, args, _ev: tuple(args))
defop("get_tuple_element", TUPLE, 1, attrs=("index",), infer=_infer_gte, evaluate=_ev_gte)
defop("optimization_barrier", TUPLE, None, variadic_results=True, infer=_infer_barrier, evaluate=_ev_barrier)
