"""Every kind of bad input gives an XltuneError that points at the offending text."""
from __future__ import annotations

import pytest

import xltune
from xltune.errors import ParseError, UnsupportedOpError
from xltune.frontend.stablehlo import parse

HEAD = "func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {\n"


def err(text: str, kind=ParseError):
    with pytest.raises(kind) as e:
        parse(text, "t.mlir")
    assert isinstance(e.value, xltune.XltuneError)
    assert e.value.loc is not None and e.value.loc.source == "t.mlir"
    return e.value


@pytest.mark.parametrize("body, line, col, words, snippet", [
    # syntax
    ("  %0 = stablehlo.add %a, %a tensor<4xf32>\n", 2, 29, "expected ':'", "tensor"),
    ("  %0 = stablehlo.add %a %a : tensor<4xf32>\n", 2, 25, "expected ':'", "%a"),
    ("  %0 stablehlo.abs %a : tensor<4xf32>\n", 2, 6, "expected '='", "stablehlo.abs"),
    ("  %0 = stablehlo.abs %a : tensor<4xf32\n", 2, 27, "malformed tensor type", None),
    ("  %0 = stablehlo.abs %a : tensor<4xq32>\n", 2, 36, "unknown element type 'q32'", "q32"),
    ("  %0 = stablehlo.abs %a : tensor<?xf32>\n", 2, 27, "dynamic shapes", None),
    ('  %0 = stablehlo.custom_call @x() {s = "abc} : () -> tensor<4xf32>\n', 2, 40, "unterminated string", '"'),
    ("  %0 = stablehlo.abs %a : tensor<4xf32>\n  return %0 : tensor<4xf32>\n  %1 = stablehlo.abs %a : tensor<4xf32>\n",
     4, 3, "last operation", "%1"),
    ("  %0 = stablehlo.abs %a : tensor<4xf32>\n", 3, 1, "never closed", "end of input"),
    # semantic garbage the parser sees
    ("  %0 = stablehlo.abs %b : tensor<4xf32>\n", 2, 22, "undefined value %b", "%b"),
    ("  %0 = stablehlo.add %a, %a : (tensor<4xf32>) -> tensor<4xf32>\n", 2, 29, "1 operand types for 2 operands", ":"),
    ("  %0 = stablehlo.abs %a : (tensor<3xf32>) -> tensor<3xf32>\n", 2, 25, "has type tensor<4xf32>", ":"),
    ("  %0 = stablehlo.constant dense<[1.0, 2.0]> : tensor<4xf32>\n", 2, 34, "shape [2]", "1.0"),
    ("  %0 = stablehlo.constant dense<[[1.0], [2.0, 3.0]]> : tensor<2x2xf32>\n", 2, 50, "inconsistent", "]"),
    ("  %0 = stablehlo.constant dense<300> : tensor<i8>\n", 2, 33, "out of range", "300"),
    ("  %0 = stablehlo.constant dense<-1> : tensor<ui8>\n", 2, 33, "negative", "-1"),
    ("  %0 = stablehlo.constant dense<1.5> : tensor<i32>\n", 2, 33, "expected an integer", "1.5"),
    ('  %0 = stablehlo.constant dense<"0x0000803F00"> : tensor<2xf32>\n', 2, 36, "whole number", None),
    ('  %0 = stablehlo.constant dense<"0x0000803F0000803F0000803F"> : tensor<2xf32>\n', 2, 36, "3 elements", None),
    ("  %0:2 = stablehlo.abs %a : tensor<4xf32>\n", 2, 10, "has 1 result but 2 names", None),
    ("  %0 = stablehlo.abs %a : tensor<4xf32>\n  %1 = stablehlo.abs %0#3 : tensor<4xf32>\n", 3, 22, "#3 is out of range", "%0#3"),
    ("  %0 = stablehlo.abs %a : tensor<4xf32>\n  %0 = stablehlo.abs %a : tensor<4xf32>\n", 3, 3, "redefinition of %0", "%0"),
    ("  %0 = stablehlo.add %a : tensor<4xf32>\n", 2, 8, "takes 2 operands", "stablehlo.add"),
    ('  %0 = "stablehlo.broadcast_in_dim"(%a) : (tensor<4xf32>) -> tensor<4xf32>\n', 2, 8,
     "needs the attribute 'broadcast_dimensions'", None),
    ("  %0 = stablehlo.compare  XX, %a, %a : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xi1>\n", 2, 27,
     "comparison_direction", "XX"),
    ("  %0 = stablehlo.iota dim = 99999999999999999999 : tensor<4xf32>\n", 2, 29, "64-bit range", None),
])
def test_parse_errors_point_at_the_text(body, line, col, words, snippet):
    tail = "" if words == "never closed" else "}\n" if "return" in body else "  return %0 : tensor<4xf32>\n}\n"
    e = err(HEAD + body + tail)
    assert (e.line, e.col) == (line, col), str(e)
    assert words in e.message, str(e)
    if snippet is not None:
        assert e.snippet == snippet
    assert f"t.mlir:{line}:{col}" in str(e)


def test_unknown_op_is_unsupported_with_location():
    e = err(HEAD + "  %0 = stablehlo.frobnicate %a : tensor<4xf32>\n  return %0 : tensor<4xf32>\n}\n",
            UnsupportedOpError)
    assert e.op == "stablehlo.frobnicate" and (e.line, e.col) == (2, 8)
    e = err(HEAD + '  %0 = "mhlo.foo"(%a) : (tensor<4xf32>) -> tensor<4xf32>\n  return %0 : tensor<4xf32>\n}\n',
            UnsupportedOpError)
    assert e.op == "mhlo.foo" and (e.line, e.col) == (2, 8)


def test_function_level_errors():
    e = err("func.func @main() -> tensor<f32> {\n  %0 = stablehlo.constant dense<1> : tensor<i32>\n"
            "  return %0 : tensor<i32>\n}\n")
    assert "returns tensor<i32>" in e.message and e.line == 3
    e = err("func.func @main() { %0 = call @nope() : () -> tensor<f32>\n return }")
    assert "undefined function @nope" in e.message and (e.line, e.col) == (1, 31)
    e = err("func.func @f() { call @f() : () -> ()\n return }\nfunc.func @main() { call @f() : () -> ()\n return }")
    assert "recursive call to @f" in e.message and (e.line, e.col) == (1, 23)
    e = err("func.func @f() { return }\nfunc.func @f() { return }")
    assert "redefinition of function @f" in e.message and e.line == 2
    e = err("func.func private @f(%x: tensor<f32>) -> tensor<f32> { return %x : tensor<f32> }\n"
            "func.func @main(%a: tensor<i32>) -> tensor<i32> {\n"
            "  %0 = call @f(%a) : (tensor<i32>) -> tensor<i32>\n  return %0 : tensor<i32>\n}")
    assert "do not match @f" in e.message and e.line == 3
    e = err("func.func @main() {\n  %0 = stablehlo.constant dense<1> : tensor<i32>\n}\n")
    assert "missing terminator" in e.message and (e.line, e.col) == (3, 1)
    e = err("module {\n func.func @main() { return }\n")
    assert "expected '}'" in e.message and e.line == 3


def test_deep_nesting_is_an_error_not_a_crash():
    n = 400
    s = "stablehlo.return %a : tensor<i32>"
    for i in range(n):
        s = (f'%r{i} = "stablehlo.case"(%a) ({{\n {s}\n }}) : (tensor<i32>) -> tensor<i32>\n'
             f' stablehlo.return %r{i} : tensor<i32>')
    text = "func.func @main(%a: tensor<i32>) -> tensor<i32> {\n" + s.replace("stablehlo.return", "return", 0) + "\n}\n"
    e = err(text)
    assert "nested too deeply" in e.message
    for text in ("func.func @main(%a: " + "tuple<" * 3000 + "tensor<f32>" + ">" * 3000 + ") { return }",
                 "func.func @main() { %0 = stablehlo.constant dense<" + "[" * 3000 + "1" + "]" * 3000 +
                 "> : tensor<i32>\n return }",
                 "func.func @main() { stablehlo.custom_call @x() {a = " + "[" * 3000 + "]" * 3000 +
                 "} : () -> ()\n return }"):
        assert "nested too deeply" in err(text).message


def test_every_error_is_an_xltune_error_with_location():
    for text in ["", "module", "func.func", "func.func @f(", "func.func @f() {", "}", "%", "\"",
                 "func.func @main() { return } loc(", "#loc = ", "module @m attributes {x = } {}"]:
        try:
            parse(text)
        except xltune.XltuneError as e:
            assert e.line is not None and e.col is not None, (text, e)


def test_exponential_inlining_is_bounded(monkeypatch):
    from xltune.frontend.stablehlo import parser
    monkeypatch.setattr(parser, "MAX_INLINED", 20_000)  # the real bound is 1e6; same code path
    n = 40
    fs = [f"func.func private @f{i}(%a: tensor<f32>) -> tensor<f32> {{\n"
          f"  %0 = call @f{i + 1}(%a) : (tensor<f32>) -> tensor<f32>\n"
          f"  %1 = call @f{i + 1}(%0) : (tensor<f32>) -> tensor<f32>\n"
          f"  return %1 : tensor<f32>\n}}" for i in range(n)]
    fs.append(f"func.func private @f{n}(%a: tensor<f32>) -> tensor<f32> {{\n"
              f"  %0 = stablehlo.abs %a : tensor<f32>\n  return %0 : tensor<f32>\n}}")
    fs.append("func.func @main(%a: tensor<f32>) -> tensor<f32> {\n"
              "  %0 = call @f0(%a) : (tensor<f32>) -> tensor<f32>\n  return %0 : tensor<f32>\n}")
    e = err("\n".join(fs))
    assert "inlining the calls would create more than" in e.message
