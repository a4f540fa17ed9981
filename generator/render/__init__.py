"""Render a spec into sources: the C++ plugin, the Python twin, their tests and the params blob.

    >>> files = render_sources(load_spec("specs/nvda-momentum.yaml"), build_id="dev")
    >>> sorted(files)
    ['cpp/strategy.cpp', 'cpp/test_strategy.cpp', 'params.txt', 'python/strategy.py', 'tests/scenario.tape',
     'tests/test_strategy.py']

Output is byte-deterministic: it depends only on the spec, the regions, the build id and the
template files (``TEMPLATE_VERSION`` and :func:`templates_hash` identify the latter). See
docs/templates.md for the layout, regions, rounding rules and decision records.
"""

from __future__ import annotations

from typing import Mapping

from stratforge.core.spec import LoadedSpec

from .context import REGIONS, StrategyContext, build_context
from .env import environment, template_files, templates_hash
from .marked_regions import (MARKER, RegionCode, RegionError, check_cpp_region, check_python_region,
                             find_regions, indent_region)
from .scenarios import scenario
from .signal_codegen import RenderError, render_cpp, render_python
from stratforge.runtime.twin import encode_tape_text

__all__ = ["render_sources", "render_context", "TEMPLATE_VERSION", "templates_hash", "template_files", "RegionCode",
           "RegionError", "RenderError", "REGIONS", "OUTPUT_FILES", "MARKER"]

#: Bumped whenever generated code changes meaning (the hash covers every byte of the templates).
TEMPLATE_VERSION = "1.0.0"

#: Relative path -> template that renders it.
OUTPUT_FILES: Mapping[str, str] = {
    "cpp/strategy.cpp": "cpp/strategy.cpp.j2",
    "cpp/test_strategy.cpp": "tests/test_strategy.cpp.j2",
    "python/strategy.py": "python/strategy.py.j2",
    "tests/test_strategy.py": "tests/test_strategy.py.j2",
}
_CPP_INDENT = {"entry_exit": "    ", "custom_logic": "    ", "quote_adjust": "    "}
_PY_INDENT = {"entry_exit": "        ", "custom_logic": "        ", "quote_adjust": "        "}


def render_context(loaded: LoadedSpec, *, build_id: str) -> StrategyContext:
    """The checked template context of a loaded spec (raises RenderError on an unrenderable spec)."""
    return build_context(loaded, build_id)


def _region_texts(ctx: StrategyContext, regions: Mapping[str, RegionCode] | None) -> dict[str, dict[str, str]]:
    env = environment()
    allowed = REGIONS[ctx.type]
    regions = dict(regions or {})
    unknown = sorted(set(regions) - set(allowed))
    if unknown:
        raise RegionError(f"unknown region(s) {', '.join(unknown)} for a {ctx.type} strategy; it has "
                          f"{', '.join(allowed)}")
    out: dict[str, dict[str, str]] = {}
    for name in allowed:
        if name in regions:
            code = regions[name]
            if not isinstance(code, RegionCode):
                raise RegionError(f"region '{name}' must be a RegionCode(cpp=..., python=...)")
            check_cpp_region(code.cpp, name)
            check_python_region(code.python, name)
            cpp, py = code.cpp, code.python
            if not py.strip():
                py = "pass"
        else:
            cpp = env.get_template(f"cpp/regions/{name}.j2").render(ctx=ctx)
            py = env.get_template(f"python/regions/{name}.j2").render(ctx=ctx)
        out[name] = {"cpp": indent_region(cpp, _CPP_INDENT[name]), "python": indent_region(py, _PY_INDENT[name])}
    return out


def render_sources(loaded: LoadedSpec, *, regions: Mapping[str, RegionCode] | None = None, build_id: str,
                   data: str | None = None) -> dict[str, str]:
    """Relative path -> text of every generated file (sorted by path).

    ``regions`` replaces the default content of the named marked regions (see
    :data:`REGIONS`); region code containing the markers, or C++ that closes more than it opens,
    is refused with :class:`RegionError`. ``data`` is the strategy's data kind when the caller
    decided it already (``runtime.data.spec_data.data_kind``).
    """
    if not isinstance(build_id, str) or not build_id or any(c in build_id for c in '"\\\n'):
        raise RenderError(f"build_id must be a non-empty string without quotes, backslashes or newlines, was {build_id!r}")
    ctx = build_context(loaded, build_id, data=data)
    region_text = _region_texts(ctx, regions)
    env = environment()
    tape, expectations = scenario(ctx)
    values = {"expectations": expectations,
        "ctx": ctx, "regions": region_text, "template_version": TEMPLATE_VERSION,
        "signals_cpp": render_cpp(ctx.sigset), "signals_python": render_python(ctx.sigset),
    }
    files: dict[str, str] = {}
    for rel, tmpl in sorted(OUTPUT_FILES.items()):
        files[rel] = env.get_template(tmpl).render(**values)
    files["params.txt"] = ctx.params_text
    files["tests/scenario.tape"] = encode_tape_text(tape)
    for rel, lang in (("cpp/strategy.cpp", "cpp"), ("python/strategy.py", "python")):
        found = find_regions(files[rel])
        for name in REGIONS[ctx.type]:
            if found.get(name) != region_text[name][lang]:
                raise RegionError(f"Invariant: region '{name}' of {rel} did not render as given")
    return dict(sorted(files.items()))
