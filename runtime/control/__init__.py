"""The live runtime's control plane (issue 14): it starts and supervises sf-venue and
sf-engine, talks to the engine's control socket, implements the registry's ``Deployer`` protocol
over it (:class:`LocalDeployer`), and exports metrics to Prometheus. It imports ``core`` only:
the ``stratforge`` shell wires it to the registry. docs/runtime.md, "Control plane".
"""

from stratforge.runtime.control.client import (EngineClient, EngineError, EngineNotRunning,
                                               EngineProtocolError, EngineRefused, EngineTimeout)
from stratforge.runtime.control.daemon import Callbacks, ControlDaemon, Rollback
from stratforge.runtime.control.deployer import LocalDeployer
from stratforge.runtime.control.process import (EngineJson, Firm, ReplayFeed, Runtime,
                                                SynthFeed, default_state_dir)
from stratforge.runtime.control.state import ControlState, Instance, StateStore

__all__ = ["Callbacks", "ControlDaemon", "ControlState", "EngineClient", "EngineError",
           "EngineJson", "EngineNotRunning", "EngineProtocolError", "EngineRefused",
           "EngineTimeout", "Firm", "Instance", "LocalDeployer", "ReplayFeed", "Rollback",
           "Runtime", "StateStore", "SynthFeed", "default_state_dir"]
