"""Recording of LLM exchanges: one JSON file per call, named and laid out for byte-identical rebuilds.

Every exchange goes through :func:`call`, which asks the provider and hands request and response
to a :class:`Recorder`. The recorder writes ``NNN-<hash12>.json`` (``NNN`` is the call order,
``hash12`` the first 12 hex digits of the request hash) with sorted keys and a fixed layout.

Everything in a recording is a function of the request and the answer except the ``timing``
field (wall-clock start and latency). When the answer comes from a recording (the ``replay``
provider), the response carries the recording's timing and the recorder writes it unchanged, so
rebuilding from a recording folder with ``replay`` produces a byte-identical folder.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping

from stratforge.core.errors import ProviderError, StratforgeError, UserInputError

from .base import LLMRequest, LLMResponse, Provider

__all__ = ["EXCHANGE_FORMAT", "Exchange", "Recorder", "call", "exchange_to_json", "read_exchanges"]

EXCHANGE_FORMAT = "stratforge-llm-exchange/1"
FILE_RE = re.compile(r"^(\d{3,})-([0-9a-f]{12})\.json$")


@dataclass(frozen=True)
class Exchange:
    """One recorded call: where it was written and its content."""

    index: int
    path: Path | None
    data: Mapping[str, Any]

    @property
    def request_hash(self) -> str:
        return str(self.data["request_hash"])


def exchange_to_json(data: Mapping[str, Any]) -> str:
    """The exact bytes written for one exchange (sorted keys, 2-space indent, final newline)."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def build_exchange(index: int, request: LLMRequest, response: LLMResponse,
                   timing: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "format": EXCHANGE_FORMAT,
        "index": index,
        "request_hash": request.request_hash(),
        "provider": request.provider,
        "model": request.model,
        "parameters": request.parameters(),
        "request": request.to_dict(),
        "response": {
            "text": response.text,
            "model": response.model,
            "finish_reason": response.finish_reason,
            "raw": dict(response.raw),
        },
        "tokens": {
            "prompt": int(response.prompt_tokens),
            "completion": int(response.completion_tokens),
            "total": int(response.prompt_tokens) + int(response.completion_tokens),
        },
        "timing": dict(timing),
    }


class Recorder:
    """Writes each exchange into ``folder`` (created on first write); ``folder=None`` keeps them in
    memory only. Numbering continues after any exchanges already in the folder."""

    def __init__(self, folder: str | os.PathLike[str] | None) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.exchanges: list[Exchange] = []
        start = 0
        if self.folder is not None and self.folder.is_dir():
            for p in self.folder.iterdir():
                m = FILE_RE.match(p.name)
                if m:
                    start = max(start, int(m.group(1)))
        self._next = start + 1

    def record(self, request: LLMRequest, response: LLMResponse,
               timing: Mapping[str, Any]) -> Exchange:
        index = self._next
        self._next += 1
        data = build_exchange(index, request, response, response.recorded_timing or timing)
        path = None
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"{index:03d}-{data['request_hash'][:12]}.json"
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(exchange_to_json(data), encoding="utf-8", newline="\n")
            os.replace(tmp, path)
        ex = Exchange(index, path, data)
        self.exchanges.append(ex)
        return ex

    def __iter__(self) -> Iterator[Exchange]:
        return iter(self.exchanges)

    def __len__(self) -> int:
        return len(self.exchanges)


def call(provider: Provider, request: LLMRequest, recorder: Recorder | None = None) -> LLMResponse:
    """Ask ``provider`` and record the exchange. Provider bugs (anything that is not a
    StratforgeError) are reported as a ProviderError naming the provider."""
    started = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    t0 = time.perf_counter()
    try:
        response = provider.complete(request)
    except StratforgeError:
        raise
    except Exception as err:  # noqa: BLE001 - third-party providers: one error type for the caller
        raise ProviderError(f"provider '{provider.name}' failed: {type(err).__name__}: {err}") from err
    if not isinstance(response, LLMResponse):
        raise ProviderError(f"provider '{provider.name}' returned {type(response).__name__}, "
                            f"not an LLMResponse")
    elapsed = time.perf_counter() - t0
    if recorder is not None:
        recorder.record(request, response, {"started_at": started, "latency_s": round(elapsed, 6)})
    return response


def read_exchanges(folder: str | os.PathLike[str]) -> list[Exchange]:
    """Every ``NNN-<hash12>.json`` exchange in ``folder``, in call order; checks each file's
    request hash against its request (a hand-edited recording is refused)."""
    root = Path(folder)
    if not root.is_dir():
        raise UserInputError(f"recording folder {root} does not exist")
    out: list[Exchange] = []
    for p in sorted(root.iterdir()):
        m = FILE_RE.match(p.name)
        if not m:
            continue
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ProviderError(f"recording {p} is not readable JSON: {err}") from None
        if not isinstance(data, dict) or data.get("format") != EXCHANGE_FORMAT:
            raise ProviderError(f"recording {p} is not a {EXCHANGE_FORMAT} file")
        try:
            actual = LLMRequest.from_dict(data["request"]).request_hash()
        except (KeyError, TypeError, ValueError) as err:
            raise ProviderError(f"recording {p} has a malformed request: {err}") from None
        if actual != data.get("request_hash") or not actual.startswith(m.group(2)):
            raise ProviderError(f"recording {p} was modified: its request hashes to {actual[:12]}, "
                                f"the file says {str(data.get('request_hash'))[:12]}")
        out.append(Exchange(int(m.group(1)), p, data))
    out.sort(key=lambda e: e.index)
    return out
