"""The Seldon Core 1.17.1 executor's REST routing for protocol v2, as its source states it.

Read from SeldonIO/seldon-core at tag v1.17.1 (commit 822053e7bbc897f34d84aaf5892d5947163249c5):
- executor/api/rest/server.go Initialise: the external routes of `case api.ProtocolV2` and the
  handler each one calls (predictions, status, metadata, checkReady);
- executor/predictor/predictor_process.go: predictions walk the graph and call each MODEL node
  with the model name from the path (ModelNameOverride) or, without one, the node's name;
  Status and Metadata first look up a graph node NAMED like the path's model
  (v1.GetPredictiveUnit) and answer "Failed to find model <m>" (HTTP 500) without one;
- executor/api/rest/client.go modifyMethod: the path called on the model container for each
  (infer -> POST /v2/models/<m>/infer, status -> GET /v2/models/<m>/ready,
  metadata -> GET /v2/models/<m>);
- executor/predictor/ready_checker.go: /v2/health/ready asks GET /v2/health/ready of every node
  (with full health checks; otherwise a TCP connect).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# (method, external route, handler): every route the executor serves for protocol v2, except
# the /v2/docs/ file server (no model call) and its own /live and metrics path.
V2_ROUTES = (
    ("POST", "/v2/models/{model}/infer", "predictions"),
    ("POST", "/v2/models/infer", "predictions"),
    ("GET", "/v2/models/{model}/ready", "status"),
    ("GET", "/v2/models/{model}", "metadata"),
    ("GET", "/v2/health/ready", "checkReady"),
)


class ExecutorError(Exception):
    """What the executor answers itself, without calling the model (status 500)."""


@dataclass(frozen=True)
class Call:
    """One HTTP call the executor makes on a model container."""
    host: str  # the graph node's name; its container serves the node
    method: str
    path: str


def _nodes(graph: dict[str, Any]) -> list[dict[str, Any]]:
    return [graph, *(n for child in graph.get("children", []) for n in _nodes(child))]


def calls(graph: dict[str, Any], method: str, route: str, model: str | None) -> list[Call]:
    """The calls the executor makes on the model containers for one external request.

    `graph` is a predictor's graph from the SeldonDeployment, `model` the name in the path
    ({model}); raises ExecutorError where the executor answers 500 itself.
    """
    handler = next(h for m, r, h in V2_ROUTES if (m, r) == (method, route))
    if handler == "predictions":
        # ModelNameOverride: the path's name, for every MODEL node; else each node's own name.
        return [Call(n["name"], "POST", f"/v2/models/{model or n['name']}/infer")
                for n in _nodes(graph) if n.get("type") == "MODEL"]
    if handler == "checkReady":
        return [Call(n["name"], "GET", "/v2/health/ready") for n in _nodes(graph) if n.get("endpoint")]
    node = next((n for n in _nodes(graph) if n["name"] == model), None)
    if node is None:
        raise ExecutorError(f"Failed to find model {model}")
    if handler == "status":
        return [Call(node["name"], "GET", f"/v2/models/{model}/ready")]
    return [Call(node["name"], "GET", f"/v2/models/{model}")]
