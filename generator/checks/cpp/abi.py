"""The plugin ABI rules (SF-CPP-ABI-ENTRY, -ABI-BASE, -ABI-SIGNATURE).

A plugin exports exactly one strategy through ``SF_EXPORT_STRATEGY(Class, "name")`` (the SDK's
macro defines ``sf_plugin_entry`` with its exception wrapper and ABI version); the exported class
derives from ``sf::sdk::Strategy<Class>`` (CRTP); every handler has exactly the SDK's signature,
read from ``sf::sdk::Strategy`` in the parsed headers (:data:`EXPECTED_SIGNATURES` when the
headers do not declare it; a test keeps the two equal).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

from .clang import INDEX_LOCK, AstChecker, cindex, find_sdk_include, index, toolchain_args
from .rules import HANDLERS

__all__ = ["EXPECTED_SIGNATURES", "AbiChecks", "sdk_handler_signatures"]

#: The SDK's handler parameter types, canonical spelling on LP64 (std::uint64_t = unsigned long).
#: Used when sf::sdk::Strategy cannot be found in the parsed headers; a test keeps it in sync.
EXPECTED_SIGNATURES: dict[str, tuple[str, ...]] = {
    "on_book": ("sf::sdk::Context &", "const sf::sdk::BookView &"),
    "on_trade": ("sf::sdk::Context &", "const sf_trade &"),
    "on_bar": ("sf::sdk::Context &", "const sf_bar &"),
    "on_fill": ("sf::sdk::Context &", "const sf_fill &"),
    "on_order_update": ("sf::sdk::Context &", "const sf_order_update &"),
    "on_timer": ("sf::sdk::Context &", "unsigned long"),
}


class AbiChecks(AstChecker):
    """The ABI rules over the main file's exports and strategy classes."""

    def check_abi(self, cursors: list[Any]) -> None:
        K = self.K
        exports = [c for c in cursors if c.kind == K.MACRO_INSTANTIATION and c.spelling == "SF_EXPORT_STRATEGY"]
        export_lines = {c.location.line for c in exports}
        if not exports:
            self.add("SF-CPP-ABI-ENTRY", max(len(self.lines), 1), 1,
                     "no SF_EXPORT_STRATEGY(Class, \"name\"): end the file with exactly one, naming the "
                     "strategy class")
        for extra in exports[1:]:
            self.at(extra, "SF-CPP-ABI-ENTRY", "more than one SF_EXPORT_STRATEGY: a plugin exports exactly one "
                    "strategy; remove the extra export")
        exported_classes: list[Any] = []
        for c in cursors:
            if c.kind == K.FUNCTION_DECL and c.is_definition():
                parent = c.lexical_parent
                extern_c = parent is not None and parent.kind == K.LINKAGE_SPEC
                if c.location.line in export_lines and extern_c:
                    if c.spelling != "sf_plugin_entry":
                        self.at(c, "SF-CPP-ABI-ENTRY", f"the exported entry is named '{c.spelling}', not "
                                "sf_plugin_entry, so the loader cannot find it: do not redefine SF_ENTRY_SYMBOL")
                    cls = self.exported_class(c)
                    if cls is not None:
                        exported_classes.append(cls)
                    continue
                if c.spelling == "sf_plugin_entry":
                    self.at(c, "SF-CPP-ABI-ENTRY", "hand-written sf_plugin_entry: the entry point must come from "
                            "SF_EXPORT_STRATEGY so that every call goes through the SDK's exception wrapper")
                elif extern_c:
                    self.at(c, "SF-CPP-ABI-ENTRY", f"extern \"C\" function '{c.spelling}': a plugin exports only "
                            "the entry from SF_EXPORT_STRATEGY; make it a member or put it in an anonymous namespace")
            elif c.kind == K.VAR_DECL and c.spelling == "sf_plugin_entry":
                self.at(c, "SF-CPP-ABI-ENTRY", "'sf_plugin_entry' must be defined only by SF_EXPORT_STRATEGY")
        if exports:
            self.check_export_args(exports[0])
        strategy_classes = self.strategy_classes(cursors)
        for cls in exported_classes[:1]:
            if not self.in_main(cls):
                self.add("SF-CPP-ABI-BASE", exports[0].location.line, exports[0].location.column,
                         f"SF_EXPORT_STRATEGY exports '{cls.spelling}', which is not defined in this file: export "
                         "the strategy class written here")
            elif cls.hash not in {s.hash for s, _ in strategy_classes}:
                self.add("SF-CPP-ABI-BASE", cls.location.line, cls.location.column,
                         f"exported class '{cls.spelling}' does not derive from sf::sdk::Strategy<{cls.spelling}>: "
                         f"declare it as struct {cls.spelling} : sf::sdk::Strategy<{cls.spelling}>")
        expected = self.expected_signatures()
        for cls, base in strategy_classes:
            self.check_crtp(cls, base)
            self.check_signatures(cls, expected)

    def exported_class(self, entry: Any) -> Any:
        K = self.K
        after_adapter = False
        for c in entry.walk_preorder():
            if c.kind == K.TEMPLATE_REF and c.spelling == "Adapter":
                after_adapter = True
            elif after_adapter and c.kind == K.TYPE_REF:
                ref = c.referenced
                if ref is not None:
                    t = ref.type.get_canonical()
                    d = t.get_declaration()
                    return d.get_definition() or d
        return None

    def check_export_args(self, macro: Any) -> None:
        toks = [t.spelling for t in macro.get_tokens()]
        # SF_EXPORT_STRATEGY ( Class , "name" )
        strs = [t for t in toks if t.startswith('"')]
        if len(strs) != 1:
            self.at(macro, "SF-CPP-ABI-ENTRY", "SF_EXPORT_STRATEGY needs a string literal name: "
                    "SF_EXPORT_STRATEGY(MyStrategy, \"my_strategy\")")
            return
        name = strs[0][1:-1]
        if not re.fullmatch(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*", name) or len(name) > 64:
            self.at(macro, "SF-CPP-ABI-ENTRY", f"strategy name \"{name}\" is not a slug: use lower-case letters, "
                    "digits, '-' and '_' (the spec's metadata.name)")
        elif self.expected_name is not None and name != self.expected_name:
            self.at(macro, "SF-CPP-ABI-ENTRY", f"exports the strategy as \"{name}\", but the spec names it "
                    f"\"{self.expected_name}\": use SF_EXPORT_STRATEGY(..., \"{self.expected_name}\")")

    def strategy_classes(self, cursors: list[Any]) -> list[tuple[Any, Any]]:
        """(class definition, base specifier) for main-file classes deriving from sf::sdk::Strategy."""
        K = self.K
        out = []
        for c in cursors:
            if c.kind in (K.STRUCT_DECL, K.CLASS_DECL) and c.is_definition():
                for b in c.get_children():
                    if b.kind == K.CXX_BASE_SPECIFIER:
                        d = b.type.get_canonical().get_declaration()
                        if self.qname(d) == "sf::sdk::Strategy":
                            out.append((c, b))
        return out

    def check_crtp(self, cls: Any, base: Any) -> None:
        t = base.type.get_canonical()
        ok = False
        if t.get_num_template_arguments() == 1:
            arg = t.get_template_argument_type(0).get_canonical()
            ok = arg.get_declaration() == cls or arg.spelling == cls.type.get_canonical().spelling
        if not ok:
            self.at(base, "SF-CPP-ABI-BASE", f"'{cls.spelling}' derives from {base.type.spelling}: the CRTP argument "
                    f"must be the class itself, sf::sdk::Strategy<{cls.spelling}>")

    def expected_signatures(self, fallback: bool = True) -> dict[str, tuple[str, ...]]:
        """Handler parameter types (canonical spelling) as declared by sf::sdk::Strategy in the SDK."""
        K = self.K
        found: dict[str, tuple[str, ...]] = {}

        def visit(c: Any, depth: int) -> None:
            for ch in c.get_children():
                if ch.kind == K.NAMESPACE and depth < 3 and ch.spelling in ("sf", "sdk"):
                    visit(ch, depth + 1)
                elif ch.kind == K.CLASS_TEMPLATE and ch.spelling == "Strategy" and self.qname(ch) == "sf::sdk::Strategy":
                    for m in ch.get_children():
                        if m.kind == K.CXX_METHOD and m.spelling in HANDLERS:
                            found[m.spelling] = tuple(a.type.get_canonical().spelling for a in m.get_arguments())

        visit(self.tu.cursor, 0)
        return found or (dict(EXPECTED_SIGNATURES) if fallback else {})

    def check_signatures(self, cls: Any, expected: dict[str, tuple[str, ...]]) -> None:
        K = self.K
        by_name: dict[str, list[Any]] = {}
        for m in cls.get_children():
            if m.kind in (K.CXX_METHOD, K.FUNCTION_TEMPLATE) and m.spelling.startswith("on_"):
                by_name.setdefault(m.spelling, []).append(m)
        for name, ms in sorted(by_name.items()):
            if name not in HANDLERS:
                for m in ms:
                    self.at(m, "SF-CPP-ABI-SIGNATURE", f"'{name}' looks like a handler but the SDK has no such "
                            f"callback (handlers: {', '.join(HANDLERS)}): rename it or it is never called",
                            severity="warning")
                continue
            if len(ms) > 1:
                for m in ms[1:]:
                    self.at(m, "SF-CPP-ABI-SIGNATURE", f"'{name}' is overloaded: declare exactly one {name} with the "
                            "SDK's signature")
            want = expected.get(name)
            for m in ms[:1]:
                sig = f"void {name}({', '.join(want or ())})"
                if m.kind == K.FUNCTION_TEMPLATE:
                    self.at(m, "SF-CPP-ABI-SIGNATURE", f"'{name}' is a template: declare it as {sig}")
                    continue
                got = tuple(a.type.get_canonical().spelling for a in m.get_arguments())
                problems = []
                if want is not None and got != want:
                    problems.append(f"parameters are ({', '.join(got)})")
                if m.result_type.get_canonical().kind != self.T.VOID:
                    problems.append(f"returns {m.result_type.spelling}")
                if m.is_static_method():
                    problems.append("is static")
                if m.is_virtual_method():
                    problems.append("is virtual (CRTP needs no virtual calls)")
                if problems:
                    self.at(m, "SF-CPP-ABI-SIGNATURE", f"handler {name} {' and '.join(problems)}: it must be exactly "
                            f"{sig} (see sf/sdk.hpp)")


def sdk_handler_signatures(include_dirs: Sequence[str | os.PathLike[str]] | None = None) -> dict[str, tuple[str, ...]]:
    """Handler name -> canonical parameter types, as sf::sdk::Strategy in the SDK declares them."""
    if include_dirs is None:
        sdk = find_sdk_include()
        include_dirs = [sdk] if sdk else []
    ci = cindex()
    virtual = os.path.abspath("__sf_sdk_probe__.cpp")
    args = ["-x", "c++", "-std=c++20", *toolchain_args(), *[f"-I{os.fspath(d)}" for d in include_dirs]]
    with INDEX_LOCK:
        tu = index().parse(virtual, args=args, unsaved_files=[(virtual, '#include "sf/sdk.hpp"\n')])
        checker = AbiChecks(ci, tu, virtual, virtual, "", None)
        return checker.expected_signatures(fallback=False)
