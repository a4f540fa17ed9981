"""Static checks for generated C++ strategy code, on the libclang AST (``clang.cindex``).

The entry point is :func:`stratforge.generator.checks.check_cpp` (defined in :mod:`.check`).

Design: the translation unit is parsed once with ``-std=c++20`` and the SDK include directory.
Only code written in the *main file* is judged (the SDK and the standard library are trusted).
Three passes over it:

* file-wide rules (SYSCALL, IO, CLOCK, THREAD, LOCK, GLOBAL-STATE, ASM, UNSAFE-CAST, VOLATILE):
  a strategy never does these anywhere, not even in its constructor;
* hot-path rules (HEAP, EXCEPT, LOOP, GOTO, RECURSION): only in the handlers ``on_book`` ...
  ``on_timer`` and every main-file function they reach through the call graph (the constructor
  runs once at start-up and may allocate and throw while it parses parameters);
* the plugin ABI (ABI-ENTRY, ABI-BASE, ABI-SIGNATURE) and the preprocessor (INCLUDE, MACRO),
  the latter read from the source text so that a hostile ``#include`` is reported even when it
  stops the parse.

Parse errors become SF-CPP-PARSE findings; this module never raises for bad input code. The
libclang ``Index`` is created once per process. Worst case: one parse of the file and its headers
(a few hundred ms for sdk.hpp) plus linear walks of the main file's AST.

Where each part is (one module per concern):

* :mod:`.check` -- ``check_cpp``: parse once, run every pass, return sorted findings;
* :mod:`.rules` -- the rule catalogue (id, severity, scope, what, why, instead);
* :mod:`.clang` -- libclang set-up (toolchain headers, SDK include dir, the shared Index) and the
  AST helpers every pass uses;
* :mod:`.preprocess` -- INCLUDE and MACRO, on the source text;
* :mod:`.filewide` -- the file-wide rules;
* :mod:`.hotpath` -- the call graph from the handlers and the hot-path rules; :mod:`.loops` --
  the static loop-bound analysis;
* :mod:`.abi` -- the plugin entry, CRTP base and handler signatures.
"""
