"""Running single ops through the CPU backend (the JIT every codegen test uses)."""
from __future__ import annotations

from xltune.backends import get_backend
from xltune.compiler import build
from xltune.config import Config
from xltune.ir import dtypes as D
from xltune.ir.module import Computation, Module
from xltune.ir.types import TensorType


def unary_exe(opcode: str, n: int, dt=D.F32, **knobs):
    """A one-op program; knobs: kernel knob values by their last name part (math="libm")."""
    m = Module(opcode)
    c = Computation("main")
    p = c.add_parameter(TensorType((n,), dt))
    c.set_outputs([c.add(opcode, [p], name=opcode)])
    m.add_function(c)
    be = get_backend("cpu")
    config = {}
    for k in be.knobs(m):
        short = k.name.rsplit(".", 1)[1]
        if short in knobs:
            config[k.name] = knobs[short]
    missing = set(knobs) - {k.rsplit(".", 1)[1] for k in config}
    assert not missing, f"no such knob for {opcode}: {missing}"
    return build(m, be, Config(config), {}, {})
