"""The hot-path rules: what a strategy must not do while handling an event.

SF-CPP-HEAP, -EXCEPT, -LOOP (see :mod:`.loops`), -GOTO and -RECURSION apply only in the handlers
(``on_book`` ... ``on_timer``) and every main-file function they reach through the call graph;
the constructor runs once at start-up and may allocate and throw while it parses parameters.

The call graph has one node per main-file function definition and an edge per reference to
another (an unresolved call in a template links to every main-file overload). The hot set is
what a breadth-first walk from the handlers reaches; recursion is a strongly connected component
of the hot part (Tarjan, iterative). Qualified names are normalised as in :mod:`.filewide`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .loops import LoopBounds
from .rules import HANDLERS

__all__ = ["HotPathChecks"]

_ALLOCATING_CLASSES = frozenset({
    "std::vector", "std::basic_string", "std::map", "std::multimap", "std::unordered_map",
    "std::unordered_multimap", "std::set", "std::multiset", "std::unordered_set",
    "std::unordered_multiset", "std::list", "std::forward_list", "std::deque", "std::queue",
    "std::stack", "std::priority_queue", "std::function", "std::move_only_function",
    "std::basic_ostringstream", "std::basic_istringstream", "std::basic_stringstream",
    "std::basic_stringbuf", "std::shared_ptr", "std::any", "std::basic_regex", "std::valarray",
    "sf::sdk::Params", "sf::sdk::CreateArgs", "sf::sdk::Instrument",
})
_GROWING_METHODS = frozenset({
    "push_back", "emplace_back", "push_front", "emplace_front", "push", "emplace", "insert",
    "insert_or_assign", "emplace_hint", "try_emplace", "resize", "reserve", "append", "assign",
    "operator+=", "operator=", "shrink_to_fit", "replace", "merge", "insert_range",
    "append_range", "assign_range", "resize_and_overwrite",
})
# operator[] inserts into associative containers
_INSERTING_SUBSCRIPT = frozenset({"std::map", "std::unordered_map"})
_HEAP_FUNCTIONS = frozenset({
    "malloc", "calloc", "realloc", "reallocarray", "free", "aligned_alloc", "posix_memalign",
    "memalign", "valloc", "pvalloc", "strdup", "strndup", "alloca", "__builtin_alloca",
    "std::make_shared", "std::make_unique", "std::make_unique_for_overwrite",
    "std::make_shared_for_overwrite", "std::allocate_shared", "std::allocate_shared_for_overwrite",
    "std::to_string", "std::to_wstring", "operator new", "operator new[]", "operator delete",
    "operator delete[]", "std::getline",
})
_THROWING_FUNCTIONS = frozenset({
    "std::stoi", "std::stol", "std::stoll", "std::stoul", "std::stoull", "std::stof", "std::stod",
    "std::stold", "std::rethrow_exception", "std::throw_with_nested", "std::rethrow_if_nested",
})


@dataclass
class _Func:
    cursor: Any
    name: str
    calls: list[tuple[str, int, int]] = field(default_factory=list)  # (callee key, line, col)


class HotPathChecks(LoopBounds):
    """The call graph from the handlers, and the hot-path rules over what it reaches."""

    def collect_functions(self, cursors: list[Any]) -> dict[str, _Func]:
        funcs: dict[str, _Func] = {}
        for c in cursors:
            if self.is_function(c) and c.is_definition():
                key = self.func_key(c)
                if key and key not in funcs:
                    parent = c.semantic_parent
                    owner = parent.spelling + "::" if parent is not None and parent.kind in (
                        self.K.STRUCT_DECL, self.K.CLASS_DECL, self.K.CLASS_TEMPLATE) else ""
                    funcs[key] = _Func(c, owner + c.spelling)
        K = self.K
        for f in funcs.values():
            seen: set[str] = set()
            for c in f.cursor.walk_preorder():
                if c.kind in (K.CALL_EXPR, K.DECL_REF_EXPR, K.MEMBER_REF_EXPR, K.OVERLOADED_DECL_REF):
                    refs = [c.referenced] if c.kind != K.OVERLOADED_DECL_REF else []
                    if c.kind == K.OVERLOADED_DECL_REF:
                        # unresolved call in a template: any main-file overload may be the callee
                        refs = [d for d in self._overloads(c)]
                    for r in refs:
                        k = self.func_key(r)
                        if k and k not in seen:
                            seen.add(k)
                            f.calls.append((k, c.location.line, c.location.column))
        return funcs

    def _overloads(self, c: Any) -> list[Any]:
        try:
            lib = self.ci.conf.lib
            n = lib.clang_getNumOverloadedDecls(c)
            return [lib.clang_getOverloadedDecl(c, i) for i in range(n)]
        except Exception:  # noqa: BLE001 - older bindings: no overload resolution, no edges
            return []

    def hot_set(self, funcs: dict[str, _Func]) -> dict[str, str]:
        """key -> human reason ('handler' or 'reachable from X via Y')."""
        roots = sorted((k for k, f in funcs.items()
                        if f.cursor.kind == self.K.CXX_METHOD and f.cursor.spelling in HANDLERS),
                       key=_key_order)
        hot: dict[str, str] = {}
        queue: list[str] = []
        for r in roots:
            hot[r] = f"handler {funcs[r].name}"
            queue.append(r)
        while queue:
            k = queue.pop(0)
            for callee, _, _ in funcs[k].calls:
                if callee in funcs and callee not in hot:
                    root_reason = hot[k]
                    hot[callee] = (f"{funcs[callee].name}, reachable from {root_reason}"
                                   if root_reason.startswith("handler") else root_reason)
                    queue.append(callee)
        return hot

    def check_recursion(self, funcs: dict[str, _Func], hot: dict[str, str]) -> None:
        graph = {k: [c for c, _, _ in funcs[k].calls if c in hot] for k in sorted(hot, key=_key_order)}
        for comp in _sccs(graph):
            members = set(comp)
            cyclic = len(comp) > 1 or comp[0] in graph[comp[0]]
            if not cyclic:
                continue
            edges = sorted((ln, col, k, callee) for k in comp for callee, ln, col in funcs[k].calls
                           if callee in members)
            ln, col, k, callee = edges[0]
            names = " -> ".join(funcs[m].name for m in sorted(comp, key=_key_order))
            self.add("SF-CPP-RECURSION", ln, col,
                     f"recursive call cycle ({names}) in {hot[k]}: recursion depth is unbounded; "
                     "rewrite as a loop with a constant bound")

    def check_hot(self, f: _Func, where: str) -> None:
        self._walk_hot(f.cursor, where, call_stack=[])

    def _walk_hot(self, c: Any, where: str, call_stack: list[Any]) -> None:
        K = self.K
        kind = c.kind
        pushed = False
        if kind == K.CXX_NEW_EXPR:
            self.at(c, "SF-CPP-HEAP", f"'new' in {where}: allocate in the constructor (a std::array member "
                    "or a buffer sized once) and only reuse it in handlers")
        elif kind == K.CXX_DELETE_EXPR:
            self.at(c, "SF-CPP-HEAP", f"'delete' in {where}: free nothing on the hot path; owned buffers live "
                    "as long as the strategy")
        elif kind == K.CXX_THROW_EXPR:
            self.at(c, "SF-CPP-EXCEPT", f"'throw' in {where}: an exception in a handler faults the strategy; "
                    "check the condition and return early (ctx.log() to report), or validate in the constructor")
        elif kind == K.CXX_TRY_STMT:
            self.at(c, "SF-CPP-EXCEPT", f"try/catch in {where}: handlers must not rely on exceptions; use "
                    "return values (std::from_chars, OrderResult) and validate in the constructor")
        elif kind in (K.WHILE_STMT, K.DO_STMT):
            loop = "while" if kind == K.WHILE_STMT else "do-while"
            self.at(c, "SF-CPP-LOOP", f"{loop} loop in {where} has no static bound: use "
                    "for (std::size_t i = 0; i < kMax; ++i) with a constexpr kMax")
        elif kind == K.FOR_STMT:
            problem = self.for_problem(c)
            if problem:
                self.at(c, "SF-CPP-LOOP", f"for loop in {where} {problem}: bound it by a compile-time "
                        "constant (constexpr, template parameter, sizeof, std::size of a std::array)")
        elif kind == K.CXX_FOR_RANGE_STMT:
            ch = list(c.get_children())
            rng = ch[-2] if len(ch) >= 3 else None
            if rng is None or not self.is_fixed_array(rng.type):
                tname = rng.type.spelling if rng is not None else "?"
                self.at(c, "SF-CPP-LOOP", f"range-for over '{tname}' in {where}: only std::array and C arrays "
                        "have a static length; iterate a std::array member or use an index loop with a "
                        "constant bound")
        elif kind in (K.GOTO_STMT, K.INDIRECT_GOTO_STMT):
            self.at(c, "SF-CPP-GOTO", f"goto in {where}: use structured control flow (if, bounded for, return)")
        elif kind == K.CALL_EXPR:
            self.hot_call(c, where)
            call_stack.append(c.referenced)
            pushed = True
        elif kind in (K.DECL_REF_EXPR, K.MEMBER_REF_EXPR):
            ref = c.referenced
            if self.is_function(ref) and not (call_stack and call_stack[-1] is not None and call_stack[-1] == ref):
                self.hot_function_ref(c, ref, where)
        for ch in c.get_children():
            self._walk_hot(ch, where, call_stack)
        if pushed:
            call_stack.pop()

    def hot_function_ref(self, c: Any, ref: Any, where: str) -> None:
        qn = self.qname(ref)
        if any(n in _HEAP_FUNCTIONS for n in self._name_candidates(qn)):
            self.at(c, "SF-CPP-HEAP", f"{qn} allocates, in {where}: size buffers in the constructor")
        elif qn in _THROWING_FUNCTIONS:
            self.at(c, "SF-CPP-EXCEPT", f"{qn} throws on bad input, in {where}: use std::from_chars")

    def hot_call(self, c: Any, where: str) -> None:
        K = self.K
        ref = c.referenced
        if ref is None:
            return
        qn = self.qname(ref)
        cls = self.qname(ref.semantic_parent) if ref.kind in (K.CXX_METHOD, K.CONSTRUCTOR, K.CONVERSION_FUNCTION,
                                                              K.FUNCTION_TEMPLATE) else ""
        if cls == "sf::sdk::Params":
            self.at(c, "SF-CPP-EXCEPT", f"sf::sdk::Params::{ref.spelling} in {where}: parameter getters throw "
                    "and allocate; read every parameter once in the constructor into a member")
        self.hot_function_ref(c, ref, where)
        if ref.kind == K.CONSTRUCTOR and cls in _ALLOCATING_CLASSES:
            self.at(c, "SF-CPP-HEAP", f"constructs a {cls} in {where}: it allocates; keep a member sized in "
                    "the constructor, or use std::array / std::string_view")
            return
        if cls in _ALLOCATING_CLASSES and (ref.spelling in _GROWING_METHODS or
                                          (ref.spelling == "operator[]" and cls in _INSERTING_SUBSCRIPT)):
            self.at(c, "SF-CPP-HEAP", f"{cls}::{ref.spelling} may allocate, in {where}: reserve capacity in the "
                    "constructor and write by index into a fixed-size buffer (std::array / ring buffer)")
            return
        if ref.kind != K.CONSTRUCTOR:
            rt = c.type.get_canonical()
            if rt.kind == self.T.RECORD:
                rc = self.qname(rt.get_declaration())
                if rc in _ALLOCATING_CLASSES:
                    self.at(c, "SF-CPP-HEAP", f"{qn or ref.spelling} returns a {rc} by value in {where}: that "
                            "allocates; return a view (std::string_view, std::span) or write into a member")


def _key_order(k: str) -> tuple[int, int, str]:
    ln, col, name = k.split(":", 2)
    return int(ln), int(col), name


def _sccs(graph: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan, iterative), in a deterministic order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack.add(v)
            succ = graph.get(v, [])
            if i < len(succ):
                work.append((v, i + 1))
                w = succ[i]
                if w not in index:
                    work.append((w, 0))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(sorted(comp, key=_key_order))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return out
