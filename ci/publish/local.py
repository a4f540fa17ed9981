"""The offline equivalent of a pull request: a review request in the registry.

The version is registered first (``Registry.register_build`` is a no-op for a build id already
recorded, e.g. by ``stratforge build`` itself), then one review request per version is opened;
a re-run finds the open request of that version and records nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from stratforge.ci.publish.git import PublishError
from stratforge.core.errors import UserInputError
from stratforge.registry import Registry, ShadowGate


@dataclass(frozen=True)
class ReviewRequested:
    id: int
    version: int
    created: bool


def request_review(reg: Registry, *, strategy: str, spec_hash: str, build_id: str,
                   bundle: str, scorecard: Mapping[str, Any], verdict: str, author: str,
                   gates: Any, title: str, body: str, url: str | None,
                   actor: str) -> ReviewRequested:
    """Register the build (idempotent) and open its review request (once per version)."""
    try:
        number = reg.register_build(strategy=strategy, spec_hash=spec_hash, build_id=build_id,
                                    bundle=bundle, scorecard=scorecard, verdict=verdict,
                                    author=author, shadow_gate=ShadowGate.from_spec_gates(gates))
        for rr in reg.review_requests(strategy, status="open"):
            if rr.build_id == build_id:
                return ReviewRequested(rr.id, number, False)
        rid = reg.request_review(strategy, number, title=title, body=body, actor=actor, url=url)
    except UserInputError as err:
        raise PublishError(f"the registry refused the review request of {strategy}: {err}") \
            from None
    return ReviewRequested(rid, number, True)
