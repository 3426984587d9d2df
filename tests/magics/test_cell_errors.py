"""Errors in a cell's text name the line and column of the cell and quote it."""
from __future__ import annotations

import pytest

from xltune.errors import XltuneError
from xltune.magics import CellError
from xltune.magics.cell import language


def raised(shell, cell, line="--no-timing") -> CellError:
    with pytest.raises(CellError) as info:
        shell.run_cell_magic("xla", line, cell)
    return info.value


def test_parse_error_points_at_the_cell(shell):
    cell = ("func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {\n"
            "  %0 = stablehlo.add %a, %b : tensor<4xf32>\n"
            "  return %0 : tensor<4xf32>\n}\n")
    e = raised(shell, cell)
    assert (e.line, e.col) == (2, 26) and e.kind == "ParseError"
    assert isinstance(e, XltuneError)
    text = str(e)
    assert text.startswith("ParseError at line 2, column 26 of the cell: use of undefined value %b")
    lines = text.splitlines()
    assert lines[1].strip() == "%0 = stablehlo.add %a, %b : tensor<4xf32>"
    assert lines[2].index("^") == lines[1].index("%b")  # the caret sits under the culprit


def test_unknown_op(shell):
    cell = ("func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {\n"
            "  %0 = stablehlo.frobnicate %a : tensor<4xf32>\n"
            "  return %0 : tensor<4xf32>\n}\n")
    e = raised(shell, cell)
    assert (e.line, e.col) == (2, 8) and "frobnicate" in str(e)


def test_python_syntax_error(shell):
    e = raised(shell, "import xltune.numpy as xnp\ndef f(x: xnp.f32[4]):\n    return x +* 2\n")
    assert e.kind == "SyntaxError" and e.line == 3


def test_trace_error_in_the_cell(shell):
    cell = ("import xltune.numpy as xnp\n"
            "def f(x: xnp.f32[4, 4]):\n"
            "    y = x * 2\n"
            "    return xnp.matmul(y, xnp.ones((3, 5)))\n")
    e = raised(shell, cell)
    assert e.kind == "TraceError" and (e.line, e.col) == (4, 12)
    assert "contracting dimensions" in str(e)
    assert str(e).splitlines()[1].strip() == "return xnp.matmul(y, xnp.ones((3, 5)))"


def test_control_flow_on_traced_values(shell):
    cell = ("import xltune.numpy as xnp\n"
            "def f(x: xnp.f32[4]):\n"
            "    if x.sum() > 0:\n"
            "        return x\n"
            "    return -x\n")
    e = raised(shell, cell)
    assert e.line == 3 and "xnp.where" in str(e)


def test_missing_spec_points_at_the_def(shell):
    e = raised(shell, "def f(x):\n    return x\n")
    assert e.line == 1 and "no spec for parameter 'x'" in str(e)


def test_python_cell_without_a_function(shell):
    with pytest.raises(CellError, match="must define a function"):
        shell.run_cell_magic("xla", "--lang python", "x = 1\n")


def test_unknown_fn(shell):
    with pytest.raises(CellError, match="'g' is not a function the cell defines"):
        shell.run_cell_magic("xla", "--fn g", "import xltune.numpy as xnp\ndef f(x: xnp.f32[4]):\n    return x\n")


def test_runtime_python_errors_propagate_as_they_are(shell):
    with pytest.raises(NameError):
        shell.run_cell_magic("xla", "", "undefined_thing\ndef f(x):\n    return x\n")


@pytest.mark.parametrize("cell, kind", [
    ("module @m {\n}", "stablehlo"),
    ("// comment\nfunc.func @main() {\n}", "stablehlo"),
    ("\n\nfunc.func @main(%a: tensor<f32>) -> tensor<f32> {\n  return %a : tensor<f32>\n}", "stablehlo"),
    ("import xltune.numpy as xnp\ndef f(x: xnp.f32[4]):\n    return x", "python"),
    ("def f(x):\n  return x +* 1", "python"),
])
def test_language_detection(cell, kind):
    assert language(cell) == kind
