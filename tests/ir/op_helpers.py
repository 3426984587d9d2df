"""Build one-op programs with Computation.add and evaluate them (shared by the op tests)."""
from __future__ import annotations

import numpy as np

from xltune.interpreter import evaluate_instruction
from xltune.ir import Computation, tensor
from xltune.ir import dtypes as D
from xltune.ir.ops import op_def
from xltune.ir.types import TupleType


def arr(values, dt: str) -> np.ndarray:
    """An array of StableHLO element type `dt` ('i8', 'bf16', 'complex<f32>', ...)."""
    return np.asarray(values).astype(D.dtype(dt).np_dtype)


def build(opcode, *args, attrs=None, type=None, regions=(), dtypes=None):
    """(instruction, operand arrays): the op applied to parameters shaped like `args`."""
    c = Computation("main")
    params, values = [], []
    for i, a in enumerate(args):
        dt = D.dtype(dtypes[i]) if dtypes else D.from_numpy(np.asarray(a).dtype)
        a = np.asarray(a).astype(dt.np_dtype)
        params.append(c.add_parameter(tensor(a.shape, dt)))
        values.append(a)
    multi = None
    if type is not None:  # an explicit tuple type of a multi-result op means several results
        multi = isinstance(type, TupleType) and op_def(opcode).variadic_results
    inst = c.add(opcode, params, type=type, attrs=dict(attrs or {}), regions=list(regions), multi=multi)
    c.set_outputs([inst])
    return inst, values


def run(opcode, *args, **kw):
    """The value of one op applied to `args` (numpy arrays; dtypes= names their element types)."""
    inst, values = build(opcode, *args, **kw)
    return evaluate_instruction(inst, values)


def region(opcode_or_fn, dt, nparams=2, name="body", **attrs):
    """A scalar region: `opcode` applied to its parameters, or fn(comp, params) -> outputs."""
    r = Computation(name)
    ps = [r.add_parameter(tensor((), dt)) for _ in range(nparams)]
    if callable(opcode_or_fn):
        outs = opcode_or_fn(r, ps)
    else:
        outs = [r.add(opcode_or_fn, ps, attrs=attrs)]
    r.set_outputs(outs)
    return r


def bits(x) -> list:
    """Bit patterns of a float array (to compare signed zeros and NaN payloads)."""
    x = np.ascontiguousarray(x)
    return x.view({2: np.uint16, 4: np.uint32, 8: np.uint64, 1: np.uint8}[x.dtype.itemsize]).tolist()
