"""stratforge: YAML strategy specs to trusted trading code.

This package is the thin shell (CLI and settings) that wires the components together;
the components themselves are installed as sub-packages: ``stratforge.generator``,
``stratforge.sandbox``, ``stratforge.runtime``, ``stratforge.ci``, ``stratforge.registry``
and ``stratforge.dashboard`` (their sources live in the repository's top-level folders).
"""

__version__ = "0.1.0"
