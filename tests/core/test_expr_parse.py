"""Parser, tokenizer and printer of the signal expression language."""

from __future__ import annotations

import pytest

from stratforge.core.expr import (MAX_DEPTH, MAX_LENGTH, MAX_NESTING, Binary, BoolLit, Call, ExpressionError, FloatLit,
                                       IntLit, Name, Unary, parse, to_source)


def full(node) -> str:
    """Fully parenthesised rendering, to make the tree shape visible in assertions."""
    if isinstance(node, Binary):
        return f"({full(node.left)} {node.op} {full(node.right)})"
    if isinstance(node, Unary):
        return f"({node.op}{' ' if node.op == 'not' else ''}{full(node.operand)})"
    if isinstance(node, Call):
        return f"{node.func}({', '.join(full(a) for a in node.args)})"
    return to_source(node)


@pytest.mark.parametrize(
    "text, shape",
    [
        ("a + b * c", "(a + (b * c))"),
        ("a * b + c", "((a * b) + c)"),
        ("a - b - c", "((a - b) - c)"),
        ("a / b / c", "((a / b) / c)"),
        ("a % b * c", "((a % b) * c)"),
        ("a - b + c", "((a - b) + c)"),
        ("-a * b", "((-a) * b)"),
        ("-a + b", "((-a) + b)"),
        ("- -a", "(-(-a))"),
        ("a + b < c * d", "((a + b) < (c * d))"),
        ("a < b and c > d", "((a < b) and (c > d))"),
        ("a or b and c", "(a or (b and c))"),
        ("a and b or c", "((a and b) or c)"),
        ("a or b or c", "((a or b) or c)"),
        ("a and b and c", "((a and b) and c)"),
        ("not a and b", "((not a) and b)"),
        ("not a or b", "((not a) or b)"),
        ("not a < b", "(not (a < b))"),
        ("not not a", "(not (not a))"),
        ("a and not b", "(a and (not b))"),
        ("(a or b) and c", "((a or b) and c)"),
        ("a * (b + c)", "(a * (b + c))"),
        ("-(a + b)", "(-(a + b))"),
        ("ema(a + b, 3) * 2", "(ema((a + b), 3) * 2)"),
        ("f(a, g(b, c))", "f(a, g(b, c))"),
        ("imbalance()", "imbalance()"),
        ("a == b", "(a == b)"),
        ("a != -b", "(a != (-b))"),
        ("a <= b", "(a <= b)"),
        ("a >= b", "(a >= b)"),
    ],
)
def test_precedence_and_associativity(text, shape):
    assert full(parse(text)) == shape


@pytest.mark.parametrize(
    "text, canonical",
    [
        ("a+b*c", "a + b * c"),
        ("(a+b)*c", "(a + b) * c"),
        ("a-(b-c)", "a - (b - c)"),
        ("(a-b)-c", "a - b - c"),
        ("  ema( mid ,20 )>sma(mid,5)\n", "ema(mid, 20) > sma(mid, 5)"),
        ("- - x", "-(-x)"),
        ("-(not x)", "-(not x)"),
        ("a < (not b)", "a < (not b)"),
        ("(a < b) < c", "(a < b) < c"),
        ("a < (b < c)", "a < (b < c)"),
        ("1e-3 + 0.50 + 007", "0.001 + 0.5 + 7"),
        ("1E3", "1000.0"),
        ("2.5e+2", "250.0"),
        ("true and false", "true and false"),
        ("not (a and b)", "not (a and b)"),
        ("-(a * b)", "-(a * b)"),
        ("(-a) * b", "-a * b"),
    ],
)
def test_canonical_source(text, canonical):
    node = parse(text)
    assert to_source(node) == canonical
    assert parse(canonical) == node
    assert to_source(parse(canonical)) == canonical


def test_literals_are_typed_by_spelling():
    assert parse("20") == IntLit(20)
    assert parse("20.0") == FloatLit(20.0)
    assert parse("20") != parse("20.0")
    assert parse("true") == BoolLit(True)
    assert parse("x") == Name("x")


def test_spans_are_one_based_and_exclusive():
    node = parse("ab + ema(mid, 3)")
    assert node.span == (1, 17)
    assert node.left.span == (1, 3)
    assert node.op_span == (4, 5)
    assert node.right.span == (6, 17)
    assert node.right.name_span == (6, 9)


def _err(text: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        parse(text)
    return info.value


@pytest.mark.parametrize(
    "text, column, fragment",
    [
        ("", 1, "empty expression"),
        ("   ", 1, "empty expression"),
        ("(", 2, "expected an operand"),
        ("(a + b", 7, "expected ')' to close '(' at column 1, found end of expression"),
        ("((a)", 5, "expected ')' to close '(' at column 1"),
        ("a + b)", 6, "unmatched ')'"),
        (")", 1, "found ')'"),
        ("()", 2, "inside '()'"),
        ("ema(mid, 20", 12, "expected ')' after arguments of ema, found end of expression"),
        ("ema(mid 20)", 9, "expected ',' or ')' after argument 1 of ema, found number 20"),
        ("ema(mid,", 9, "expected argument 2 of ema, found end of expression"),
        ("ema(mid,,2)", 9, "expected argument 2 of ema, found ','"),
        ("ema(,)", 5, "expected argument 1 of ema"),
        ("a +", 4, "after '+', found end of expression"),
        ("a b", 3, "expected an operator or end of expression, found name 'b'"),
        ("1 2", 3, "found number 2"),
        ("a + * b", 5, "found '*'"),
        ("a + not b", 5, "'not' binds looser"),
        ("a and", 6, "found end of expression"),
        ("not", 4, "found end of expression"),
    ],
)
def test_syntax_errors(text, column, fragment):
    err = _err(text)
    assert err.column == column
    assert fragment in err.message
    assert str(err) == f"column {column}: {err.message}"
    assert err.end_column > err.column


def test_expected_attribute_is_set():
    err = _err("ema(mid, 20")
    assert err.expected == "')'"


@pytest.mark.parametrize("text, second_op_col", [("a < b < c", 7), ("a == b == c", 8), ("1 <= x > 0", 8),
                                                  ("a < b and c < d < e", 17)])
def test_comparisons_do_not_associate(text, second_op_col):
    err = _err(text)
    assert err.column == second_op_col
    assert "cannot be chained" in err.message


def test_chained_comparison_message_suggests_rewrite():
    err = _err("0 < x < 10")
    assert "write '0 < x and x < 10'" in err.message


@pytest.mark.parametrize(
    "text, column, fragment",
    [
        ("a && b", 3, "use 'and'"),
        ("a || b", 3, "use 'or'"),
        ("!a", 1, "use 'not'"),
        ("a = 1", 3, "use '=='"),
        ("a ** 2", 3, "no power operator"),
        ("a ^ 2", 3, "no power operator"),
        ("x[1]", 2, "lag(x, n)"),
        ("a ? b : c", 3, "no conditional operator"),
        ("'mid'", 1, "strings"),
        ("a $ b", 3, "unexpected character '$'"),
        ("a @ b", 3, "unexpected character '@'"),
        ("mid\x00", 4, "U+0000"),
        ("mïd", 2, "unexpected character 'ï'"),
        ("a + ８", 5, "unexpected character"),
        ("a;b", 2, "unexpected character ';'"),
        (".5", 1, "digit before '.'"),
        ("1.", 1, "expected digits after '.'"),
        ("1e", 1, "exponent"),
        ("1e+", 1, "exponent"),
        ("12abc", 1, "malformed number '12abc'"),
        ("1.2.3", 1, "malformed number '1.2.3'"),
        ("1e999", 1, "out of range"),
        ("99999999999999999999", 1, "too large"),
        (str(2**53 + 1), 1, "too large"),
    ],
)
def test_tokenizer_rejects_characters_outside_the_language(text, column, fragment):
    err = _err(text)
    assert err.column == column, err
    assert fragment in err.message


def test_largest_exact_integer_is_accepted():
    assert parse(str(2**53)) == IntLit(2**53)


def test_too_long_input_is_an_error():
    text = "a + " * (MAX_LENGTH // 4) + "a"
    err = _err(text)
    assert "too long" in err.message
    assert err.column == MAX_LENGTH + 1


def test_longest_input_is_accepted_when_shallow():
    # 'f(a, a, ...)' keeps the tree shallow however long the text
    text = "f(" + ", ".join(["a"] * 600) + ")"
    text = text[: MAX_LENGTH - 1].rsplit(",", 1)[0] + ")"
    assert len(text) <= MAX_LENGTH
    assert isinstance(parse(text), Call)


@pytest.mark.parametrize(
    "text",
    [
        "(" * 5000 + "a" + ")" * 5000,
        "(" * (MAX_NESTING + 1) + "a" + ")" * (MAX_NESTING + 1),
        "-(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1),
        "-" * 1999 + "a",
        "not " * 499 + "a",
        "f(" * 600 + "a" + ")" * 600,
        "a" + " + a" * 499,
        "a" + " and a" * 300,
        "a" + "*a" * 999,
    ],
)
def test_deep_nesting_is_an_error_not_a_recursion_error(text):
    with pytest.raises(ExpressionError) as info:
        parse(text)
    assert "too deeply" in info.value.message or "too long" in info.value.message


def test_nesting_up_to_the_limit_is_accepted():
    node = parse("(" * (MAX_NESTING - 1) + "a" + ")" * (MAX_NESTING - 1))
    assert node == Name("a")
    node = parse("-" * (MAX_DEPTH - 1) + "a")
    assert node.depth == MAX_DEPTH
    assert parse(to_source(node)) == node
    node = parse("ema(" * (MAX_DEPTH - 1) + "a" + ", 2)" * (MAX_DEPTH - 1))
    assert parse(to_source(node)) == node


def test_render_points_at_the_span():
    err = _err("ema(mid, 20) && x")
    assert err.render("ema(mid, 20) && x").splitlines()[1] == " " * 13 + "^^"


def test_parse_rejects_non_strings():
    with pytest.raises(TypeError):
        parse(None)  # type: ignore[arg-type]
