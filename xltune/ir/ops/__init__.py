"""The op table: one OpDef per op, holding every fact about it in one place.

An OpDef gives the op's printed MLIR name, category, arity, the attributes it reads, its
shape rule (`infer`) and its numpy evaluation (`evaluate`). The LLVM scalar lowering of an
op lives in the codegen layer's own table (keyed by the same opcode), so the IR does not
depend on llvmlite.

  infer(operand_types: list[Type], attrs: dict, regions: list[Computation]) -> Type
      raise ValueError/TypeError with a readable message on a bad combination; OpDef.infer_type
      turns it into a VerificationError that names the op and its location.
  evaluate(inst: Instruction, args: list[value], ev: Evaluator) -> value
      value = numpy.ndarray | tuple of values (multi results / tuples) | TOKEN
      `ev.run(computation, args)` evaluates a region and returns the list of its outputs.

Family modules (elementwise, movement, reduction, ...) register their ops on import.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ...errors import SourceLoc, UnsupportedOpError, VerificationError

# Categories: what fusion and codegen need to know about an op.
ELEMENTWISE = "elementwise"      # result[i] depends on operands[i] only (incl. compare, select, convert)
DATA_MOVEMENT = "data_movement"  # broadcast, reshape, transpose, slice, pad, concatenate, reverse, iota...
REDUCTION = "reduction"          # reduce, reduce_window, argmax-style variadic reduce
CONTRACTION = "contraction"      # dot_general, convolution
CONTROL = "control"              # while, case, if, map
CONSTANT = "constant"
PARAMETER = "parameter"
TUPLE = "tuple"                  # tuple, get_tuple_element
SIDE_EFFECT = "side_effect"      # custom_call, outfeed, send/recv, check.*
COLLECTIVE = "collective"        # all_reduce etc. (single replica semantics)
OTHER = "other"                  # sort, fft, gather, scatter, rng, linear algebra...
FUSION = "fusion"

CATEGORIES = (ELEMENTWISE, DATA_MOVEMENT, REDUCTION, CONTRACTION, CONTROL, CONSTANT, PARAMETER,
              TUPLE, SIDE_EFFECT, COLLECTIVE, OTHER, FUSION)


@dataclass
class OpDef:
    name: str
    category: str
    arity: int | None = None              # None: variadic
    mlir_name: str = ""                   # printed name, e.g. "stablehlo.add", "chlo.erf"
    attrs: tuple[str, ...] = ()           # attributes the op reads (required unless in optional_attrs)
    optional_attrs: tuple[str, ...] = ()
    num_regions: int | None = 0           # None: any number (case)
    variadic_results: bool = False        # may produce several results (see module.py)
    side_effect: bool = False             # never removed by DCE, never CSE'd
    commutative: bool = False
    infer: Callable | None = None
    evaluate: Callable | None = None
    doc: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)  # other MLIR names parsed to this op

    def infer_type(self, operand_types, attrs, regions, loc: SourceLoc | None = None):
        if self.infer is None:
            raise VerificationError(f"op '{self.name}' has no shape rule; give the result type", loc)
        try:
            return self.infer(list(operand_types), attrs, list(regions))
        except VerificationError:
            raise
        except (ValueError, TypeError, IndexError, KeyError) as e:
            raise VerificationError(f"'{self.mlir_name}': {e}", loc) from None


OPS: dict[str, OpDef] = {}
BY_MLIR_NAME: dict[str, OpDef] = {}


def defop(name: str, category: str, arity: int | None = None, *, dialect: str = "stablehlo", **kw) -> OpDef:
    d = OpDef(name, category, arity, mlir_name=kw.pop("mlir_name", f"{dialect}.{name}"), **kw)
    if name in OPS:
        raise RuntimeError(f"op {name} defined twice")
    OPS[name] = d
    BY_MLIR_NAME[d.mlir_name] = d
    for a in d.aliases:
        BY_MLIR_NAME[a] = d
    return d


def op_def(name: str, loc: SourceLoc | None = None) -> OpDef:
    d = OPS.get(name)
    if d is None:
        raise UnsupportedOpError(name, loc)
    return d


def lookup_mlir(mlir_name: str, loc: SourceLoc | None = None) -> OpDef:
    """The OpDef for a printed op name ('stablehlo.add', 'chlo.tan', ...)."""
    d = BY_MLIR_NAME.get(mlir_name)
    if d is None:
        raise UnsupportedOpError(mlir_name, loc)
    return d


# Registration happens on import of the family modules.
from . import elementwise, movement, reduction, contraction, control, misc  # noqa: E402,F401
