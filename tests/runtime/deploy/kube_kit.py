"""An in-memory Kubernetes API server at the kubernetes client's HTTP boundary.

:class:`FakeApiServer` replaces ``ApiClient.rest_client``: the real client builds every URL,
query and JSON body and parses every response; this double only answers the REST calls the way
an API server does for the few resources the deployer uses (ConfigMaps, Services, Deployments,
NetworkPolicies): 404 for a missing object, 409 AlreadyExists on a second POST, 409 Conflict on
a PUT with a stale ``resourceVersion``, 422 when an immutable ConfigMap's data or a Service's
clusterIP changes, ``metadata.generation`` bumped when a Deployment's spec changes, and a
"controller" that updates the Deployment status (ready or stuck). Every call is recorded.
"""

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import kubernetes as k8s

HOST = "https://kube.test:6443"
_PREFIXES = {"/api/v1/": "v1", "/apis/apps/v1/": "apps/v1",
             "/apis/networking.k8s.io/v1/": "networking.k8s.io/v1"}


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int


class _Resp:
    def __init__(self, status: int, body: Any) -> None:
        self.status, self.reason = status, {200: "OK", 201: "Created", 404: "Not Found",
                                            409: "Conflict", 422: "Unprocessable Entity"}[status]
        self.data = json.dumps(body).encode()
        self.headers = {"content-type": "application/json"}


@dataclass
class FakeApiServer:
    controller: str = "ready"          # "ready": a pod of each new spec becomes available
    calls: list[Call] = field(default_factory=list)
    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    #: called with (method, plural, name) before a write is applied (to simulate a racing writer)
    before_write: Callable[[str, str, str], None] | None = None
    _rv: itertools.count = field(default_factory=lambda: itertools.count(100))

    def client(self) -> Any:
        api = k8s.client.ApiClient(k8s.client.Configuration(host=HOST))
        api.rest_client = self
        return api

    # the RESTClientObject interface of kubernetes >= 35
    def request(self, method: str, url: str, headers: Any = None, body: Any = None,
                post_params: Any = None, _request_timeout: Any = None) -> Any:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        doc = json.loads(body) if isinstance(body, (str, bytes)) else copy.deepcopy(body)
        status, out = self._handle(method, parts.path, query, doc)
        self.calls.append(Call(method, parts.path, query, doc, status))
        return k8s.client.rest.RESTResponse(_Resp(status, out))

    def writes(self) -> list[tuple[str, str]]:
        return [(c.method, c.path) for c in self.calls if c.method != "GET"]

    def get(self, plural: str, name: str, ns: str = "trading") -> dict[str, Any] | None:
        return self.objects.get((plural, ns, name))

    def names(self, plural: str) -> list[str]:
        return sorted(n for p, _, n in self.objects if p == plural)

    def _handle(self, method: str, path: str, query: dict[str, list[str]], body: Any,
                ) -> tuple[int, Any]:
        rest = next(path[len(p):] for p in _PREFIXES if path.startswith(p))
        seg = rest.split("/")  # namespaces/<ns>/<plural>[/<name>[/status]]
        ns, plural = seg[1], seg[2]
        name = seg[3] if len(seg) > 3 else None
        key = (plural, ns, name or "")
        cur = self.objects.get(key)
        if method == "GET" and name is None:
            sel = dict(t.split("=", 1) for t in query.get("labelSelector", [""])[0].split(",") if t)
            items = [o for (p, n, _), o in sorted(self.objects.items())
                     if p == plural and n == ns
                     and all(o["metadata"].get("labels", {}).get(k) == v for k, v in sel.items())]
            return 200, {"kind": "List", "apiVersion": "v1", "metadata": {}, "items": items}
        if method == "GET":
            return (200, cur) if cur is not None else _status(404, "NotFound",
                                                             f'{plural} "{name}" not found')
        if self.before_write:
            self.before_write(method, plural, name or body["metadata"]["name"])
            cur = self.objects.get((plural, ns, name or body["metadata"]["name"]))
        if method == "POST":
            name = body["metadata"]["name"]
            if (plural, ns, name) in self.objects:
                return _status(409, "AlreadyExists", f'{plural} "{name}" already exists')
            obj = self._stored(plural, body, None)
            self.objects[(plural, ns, name)] = obj
            return 201, obj
        if method == "PUT":
            if cur is None:
                return _status(404, "NotFound", f'{plural} "{name}" not found')
            if body["metadata"].get("resourceVersion") != cur["metadata"]["resourceVersion"]:
                return _status(409, "Conflict", f'Operation cannot be fulfilled on {plural} '
                                                f'"{name}": the object has been modified')
            if plural == "configmaps" and cur.get("immutable") and (
                    cur.get("data") != body.get("data")
                    or cur.get("binaryData") != body.get("binaryData")):
                return _status(422, "Invalid", f'ConfigMap "{name}" is invalid: data: '
                                               'Forbidden: field is immutable when `immutable` '
                                               'is set')
            if plural == "services" and body["spec"].get("clusterIP") != cur["spec"]["clusterIP"]:
                return _status(422, "Invalid", f'Service "{name}" is invalid: spec.clusterIP: '
                                               'Invalid value: field is immutable')
            obj = self._stored(plural, body, cur)
            self.objects[key] = obj
            return 200, obj
        if method == "DELETE":
            if cur is None:
                return _status(404, "NotFound", f'{plural} "{name}" not found')
            del self.objects[key]
            return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success"}
        raise AssertionError(f"unexpected {method} {path}")

    def _stored(self, plural: str, body: dict[str, Any], cur: dict[str, Any] | None,
                ) -> dict[str, Any]:
        obj = copy.deepcopy(body)
        meta = obj["metadata"]
        meta["resourceVersion"] = str(next(self._rv))
        meta["uid"] = (cur or {}).get("metadata", {}).get("uid", f"uid-{meta['resourceVersion']}")
        if plural == "services" and not obj["spec"].get("clusterIP"):
            obj["spec"]["clusterIP"] = "10.96.0.17"
            obj["spec"]["clusterIPs"] = ["10.96.0.17"]
        if plural == "deployments":
            gen = (cur or {}).get("metadata", {}).get("generation", 0)
            changed = cur is None or cur["spec"] != obj["spec"]
            meta["generation"] = gen + 1 if changed else gen
            ready = 1 if self.controller == "ready" else 0
            obj["status"] = {"observedGeneration": meta["generation"], "replicas": 1,
                             "updatedReplicas": 1, "readyReplicas": ready,
                             "availableReplicas": ready}
        return obj


def _status(code: int, reason: str, message: str) -> tuple[int, dict[str, Any]]:
    return code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason,
                  "message": message, "code": code}
