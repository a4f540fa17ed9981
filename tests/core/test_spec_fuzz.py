"""Random text and random YAML never produce anything but a SpecError (or a valid spec)."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stratforge.core.errors import SpecError
from stratforge.core.spec import load_spec_bytes

BASE = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "specs" / "btc-perp-avellaneda.yaml").read_text())

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                    st.text(max_size=20))
yaml_values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=10), children, max_size=4)),
    max_leaves=20,
)


def _load(raw: bytes) -> None:
    try:
        load_spec_bytes(raw, "fuzz.yaml")
    except SpecError as err:
        assert err.issues
        for issue in err.issues:
            assert issue.line >= 1 and issue.column >= 1
            assert str(issue).startswith("fuzz.yaml:")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes(raw: bytes) -> None:
    _load(raw)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=400))
def test_random_text(text: str) -> None:
    _load(text.encode("utf-8", "surrogatepass") if text else b"")


@settings(max_examples=200, deadline=None)
@given(yaml_values)
def test_random_yaml_documents(value: object) -> None:
    _load(yaml.safe_dump(value).encode())


def _paths(node: object, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


ALL_PATHS = [p for p in _paths(BASE) if p]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ALL_PATHS), yaml_values)
def test_one_field_replaced_by_random_yaml(path: tuple, value: object) -> None:
    import copy

    doc = copy.deepcopy(BASE)
    node = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    _load(yaml.safe_dump(doc, allow_unicode=True).encode())
