"""The core shared by every component: it imports nothing else of the project.

* :mod:`stratforge.core.spec` — the spec model, loader, rules, signal checks, canonical form;
* :mod:`stratforge.core.expr` — the signal expression language;
* :mod:`stratforge.core.errors` — the exception groups;
* :mod:`stratforge.core.engine_config` — the typed ``sf-replay`` config and the spec mapping;
* :mod:`stratforge.core.abi` — ABI constants and exit codes generated from the engine headers;
* :mod:`stratforge.core.tools` — finding executables, reference plugins and SDK headers;
* :mod:`stratforge.core.version` — the version.

docs/architecture.md, "core and the import directions"; tests/test_import_graph.py keeps it so.
"""
