"""The Python twin SDK: ``sf/sdk.hpp`` for Python strategies, plus a replay driver.

A generated strategy has a C++ plugin (on ``sf/sdk.hpp``) and a Python twin (on this package)
that make the same decisions on the same callbacks. Types carry the same integer fields as the C
ABI (ticks, lots, ns); :class:`RecordingContext` records every decision as a plain dict (see
docs/templates.md, "Decision records"); :func:`replay` feeds a callback tape through a twin;
:func:`simulate` builds such a tape by running a twin against a toy closed-loop venue.
"""

from .abi import *  # noqa: F401,F403
from .abi import __all__ as _abi_all
from .context import REASON_NAMES, Context, Decision, RecordingContext
from .driver import create, decode_tape_text, encode_tape_text, replay
from .params import ParamError, Params
from .sim import simulate
from .strategy import CreateArgs, Strategy

__all__ = [*_abi_all, "Context", "RecordingContext", "Decision", "REASON_NAMES", "Params", "ParamError",
           "CreateArgs", "Strategy", "replay", "create", "encode_tape_text", "decode_tape_text", "simulate"]
