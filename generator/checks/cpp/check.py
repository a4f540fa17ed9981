"""``check_cpp``: parse one generated C++ file once with libclang and run every pass over it.

The passes are mixins over :class:`.clang.AstChecker`; :class:`CppChecker` runs them in a fixed
order (diagnostics, preprocessor, file-wide, hot path, recursion, ABI). Parse errors become
SF-CPP-PARSE findings; this never raises for bad input code. See the package docstring for the
design and where each rule lives.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..findings import Finding, sort_findings
from .abi import AbiChecks
from .clang import INDEX_LOCK, cindex, find_sdk_include, index, toolchain_args
from .filewide import FileWideChecks
from .hotpath import HotPathChecks
from .preprocess import PreprocessorChecks, neutralise_includes

__all__ = ["CppChecker", "check_cpp"]

#: errors located in headers are consequences of the main file; report only the first few
_MAX_HEADER_DIAGNOSTICS = 5


def check_cpp(source: str | os.PathLike[str], *, include_dirs: Sequence[str | os.PathLike[str]] | None = None,
              filename: str | None = None, expected_name: str | None = None,
              extra_args: Sequence[str] = ()) -> list[Finding]:
    """Check one generated C++ strategy file; returns findings sorted by position.

    ``source`` is a path (``os.PathLike``) or the source text (``str``). ``filename`` names text
    in findings (default ``strategy.cpp``; for a path, the path as given). ``include_dirs``
    defaults to :func:`find_sdk_include`. ``expected_name`` also checks the exported strategy
    name. Never raises for bad code; raises ``UserInputError`` when libclang is not installed.
    """
    if isinstance(source, os.PathLike):
        path = Path(source)
        text = path.read_text(encoding="utf-8", errors="replace")
        shown = filename or str(source)
    else:
        text = source
        shown = filename or "strategy.cpp"
    if include_dirs is None:
        sdk = find_sdk_include()
        include_dirs = [sdk] if sdk else []
    ci = cindex()
    args = ["-x", "c++", "-std=c++20", *toolchain_args(), *[f"-I{os.fspath(d)}" for d in include_dirs],
            *extra_args]
    # always parse from memory under a fixed virtual name, so the TU's main file is unambiguous
    virtual = os.path.join(os.path.abspath(os.path.dirname(shown) or "."), "__sf_check_main__.cpp")
    with INDEX_LOCK:
        try:
            tu = index().parse(virtual, args=args, unsaved_files=[(virtual, neutralise_includes(text))],
                                options=ci.TranslationUnit.PARSE_DETAILED_PROCESSING_RECORD)
        except ci.TranslationUnitLoadError as exc:
            return [Finding(shown, 1, 1, "SF-CPP-PARSE", "error", f"libclang could not parse the file: {exc}", "")]
        checker = CppChecker(ci, tu, virtual, shown, text, expected_name)
        checker.run()
    return sort_findings(checker.findings)


class CppChecker(PreprocessorChecks, FileWideChecks, HotPathChecks, AbiChecks):
    """All passes over one parsed translation unit, in a fixed order; findings in ``findings``."""

    def run(self) -> None:
        self.check_diagnostics()
        self.check_preprocessor()
        cursors = list(self.main_walk())
        funcs = self.collect_functions(cursors)
        self.check_file_rules(cursors)
        hot = self.hot_set(funcs)
        for key in sorted(hot, key=lambda k: (int(k.split(":")[0]), int(k.split(":")[1]))):
            self.check_hot(funcs[key], hot[key])
        self.check_recursion(funcs, hot)
        self.check_abi(cursors)

    def check_diagnostics(self) -> None:
        outside = 0
        for d in self.tu.diagnostics:
            if d.severity < 3:  # Diagnostic.Error == 3, Fatal == 4
                continue
            if d.location.file is None or d.location.file.name != self.main:
                outside += 1
                if outside > _MAX_HEADER_DIAGNOSTICS:
                    continue
            loc = d.location
            msg = f"does not compile: {d.spelling}"
            if loc.file is not None and loc.file.name == self.main:
                self.add("SF-CPP-PARSE", loc.line, loc.column, msg, once_per_line=False)
            else:
                where = os.path.basename(loc.file.name) if loc.file is not None else "<command line>"
                self.add("SF-CPP-PARSE", 1, 1, f"does not compile ({where}:{loc.line}): {d.spelling}",
                         once_per_line=False)
