"""HLO-style IR: dtypes, types, the op table, Module/Computation/Instruction, printer, verifier."""
from . import dtypes
from .attrs import (ConvDimensionNumbers, DotDimensionNumbers, GatherDimensionNumbers, RawAttr,
                    ScatterDimensionNumbers)
from .module import Computation, Instruction, Module
from .types import TOKEN, TensorType, TokenType, TupleType, tensor

__all__ = ["dtypes", "Computation", "Instruction", "Module", "TensorType", "TupleType", "TokenType",
           "TOKEN", "tensor", "DotDimensionNumbers", "GatherDimensionNumbers", "ScatterDimensionNumbers",
           "ConvDimensionNumbers", "RawAttr"]
