"""Defensive extraction over a corpus of messy model outputs."""

from __future__ import annotations

import pytest

from stratforge.core.errors import GeneratedCodeError
from stratforge.generator.llm import ExtractionError, extract_code, extract_json

CODE_CASES = [
    # (name, output, language, expected text, truncated, source)
    ("plain fence", "```cpp\nint x = 1;\n```", "cpp", "int x = 1;", False, "fence"),
    ("prose around", "Sure! Here is the code:\n```python\nx = 1\n```\nThis sets x.", "python",
     "x = 1", False, "fence"),
    ("untagged fence", "```\nreturn a + b;\n```", "cpp", "return a + b;", False, "fence"),
    ("picks right language", "```cpp\nint a;\n```\n\n```python\na = 0\n```", "python", "a = 0",
     False, "fence"),
    ("c++ alias", "```c++\nstate.x = 1;\n```", "cpp", "state.x = 1;", False, "fence"),
    ("tagged beats untagged", "```\nnot this\n```\n```py\nthis = 1\n```", "python", "this = 1",
     False, "fence"),
    ("longest of several", "```python\nx\n```\n```python\ny = 1\nz = 2\n```", "python",
     "y = 1\nz = 2", False, "fence"),
    ("unterminated fence", "```cpp\nif (a) {\n  b = 1;\n", "cpp", "if (a) {\n  b = 1;", True, "fence"),
    ("tilde fence and CRLF", "~~~python\r\nx = 1\r\n~~~\r\n", "python", "x = 1", False, "fence"),
    ("indented fence", "   ```cpp\nx = 2;\n   ```", "cpp", "x = 2;", False, "fence"),
    ("four backticks hold three", "````python\ns = '```'\n```\n````", "python", "s = '```'\n```",
     False, "fence"),
    ("think block dropped", "<think>```python\nwrong\n```</think>```python\nright = 1\n```",
     "python", "right = 1", False, "fence"),
    ("bare code with prose", "Here is the body:\nstate.n += 1;\nreturn state.n > 3;\nHope this helps.",
     "cpp", "state.n += 1;\nreturn state.n > 3;", False, "bare"),
    ("info string with attrs", "```python title=region.py\nv = 3\n```", "python", "v = 3", False,
     "fence"),
]


@pytest.mark.parametrize("name,output,language,text,truncated,source", CODE_CASES,
                         ids=[c[0] for c in CODE_CASES])
def test_extract_code(name, output, language, text, truncated, source) -> None:
    got = extract_code(output, language)
    assert (got.text, got.truncated, got.source) == (text, truncated, source)


JSON_CASES = [
    ("bare object", '{"signals": {"a": "mid > 1"}}', {"signals": {"a": "mid > 1"}}, False),
    ("json fence", 'Answer:\n```json\n{"a": 1}\n```\nDone.', {"a": 1}, False),
    ("prose both sides", 'The answer is {"a": {"b": [1, 2]}} as requested.', {"a": {"b": [1, 2]}},
     False),
    ("trailing commas", '{"a": [1, 2,], "b": {"c": 1,},}', {"a": [1, 2], "b": {"c": 1}}, False),
    ("braces inside strings", 'x {"e": "a } b { c", "f": "q\\"}"} y', {"e": "a } b { c", "f": 'q"}'},
     False),
    ("comments", '{\n  // the entry\n  "a": 1, /* note */ "b": 2\n}', {"a": 1, "b": 2}, False),
    ("first parsable object", 'use {like this} or {"a": 1}', {"a": 1}, False),
    ("untagged fence", '```\n{"a": true}\n```', {"a": True}, False),
    ("wrong tag still tried", '```python\n{"a": null}\n```', {"a": None}, False),
    ("unterminated fence with complete object", '```json\n{"a": 2}\n', {"a": 2}, True),
    ("commas inside strings kept", '{"a": "x,}"}', {"a": "x,}"}, False),
]


@pytest.mark.parametrize("name,output,value,truncated", JSON_CASES, ids=[c[0] for c in JSON_CASES])
def test_extract_json(name, output, value, truncated) -> None:
    got = extract_json(output)
    assert got.value == value and got.truncated == truncated


@pytest.mark.parametrize("output", ["", "   \n ", "<think>only thoughts</think>"])
def test_empty_output_is_a_clear_error(output: str) -> None:
    with pytest.raises(ExtractionError, match="returned nothing; expected python code") as err:
        extract_code(output, "python")
    assert isinstance(err.value, GeneratedCodeError) and err.value.expected == "python code"
    with pytest.raises(ExtractionError, match=r'expected one JSON object \{"signals"'):
        extract_json(output, expected='one JSON object {"signals": ...}')


def test_only_another_language_is_an_error() -> None:
    with pytest.raises(ExtractionError, match="expected a ```python block, found cpp"):
        extract_code("```cpp\nint x;\n```", "python")


def test_truncated_json_is_flagged() -> None:
    with pytest.raises(ExtractionError, match="unfinished JSON object") as err:
        extract_json('Here: {"signals": {"entry_long": "mid > ')
    assert err.value.truncated


def test_no_json_and_nothing_is_evaluated() -> None:
    with pytest.raises(ExtractionError, match="no parsable JSON object"):
        extract_json("{'signals': {'a': __import__('os').system('echo pwned')}}")
    with pytest.raises(ExtractionError):
        extract_json("I cannot help with that.")
