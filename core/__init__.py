"""The core shared by every component: it imports nothing else of the project.

Today it holds the one way to locate the engine's and the system's executables
(:mod:`stratforge.core.tools`); the spec model, errors, findings, step results and the engine
config move here next (docs/architecture.md, "core").
"""
