"""SIGTERM (what Kubernetes sends) drains: answers go on for DRAIN_SECONDS with `Connection: close`,
no request on an open connection is lost, in-flight ones finish, and the server exits 0."""
from __future__ import annotations

import signal
import threading
import time

import httpx

from tools import loopback_http
from tools.build_recsys_model import customer_id as C

from .conftest import cache_env
from .processes import wait_until

CLIENTS = 6


def test_sigterm_drains_keep_alive_connections_and_exits_zero(model_path, redis_server, start_server):
    server = start_server({"MODEL_URI": str(model_path), **cache_env(redis_server), "DRAIN_SECONDS": "2"})
    body = {"inputs": [{"name": "customer_id", "shape": [1], "datatype": "BYTES", "data": [C(1)]}]}
    outcomes: list[list[tuple[str, object]]] = [[] for _ in range(CLIENTS)]
    stop = threading.Event()

    def busy_client(log: list) -> None:
        # One keep-alive connection per client, sending back to back, as the Seldon executor does.
        # Told `Connection: close`, it leaves for another endpoint (in the cluster the Service has
        # dropped this pod by then); it never waits for the drain to end.
        with loopback_http.client(base_url=server.url, timeout=10) as client:
            while not stop.is_set() and not (log and log[-1][1] == "close"):
                try:
                    response = client.post("/v2/models/recsys/infer", json=body)
                except httpx.HTTPError as exc:  # refused or reset: a request lost
                    log.append(("lost", repr(exc)))
                    return
                log.append((str(response.status_code), response.headers.get("connection")))

    # An idle keep-alive connection: used once before SIGTERM, then again during the drain.
    idle = loopback_http.client(base_url=server.url, timeout=10)
    assert idle.post("/v2/models/recsys/infer", json=body).headers.get("connection") != "close"

    threads = [threading.Thread(target=busy_client, args=(log,)) for log in outcomes]
    for thread in threads:
        thread.start()
    wait_until(lambda: all(log for log in outcomes), "every client to get an answer")
    server.process.send_signal(signal.SIGTERM)
    time.sleep(0.3)  # well inside the 2 s drain: the idle connection is still open and served
    during_drain = idle.post("/v2/models/recsys/infer", json=body)
    idle.close()
    assert server.process.wait(timeout=60) == 0
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()

    assert during_drain.status_code == 200
    assert during_drain.headers["connection"] == "close"
    results = [entry for log in outcomes for entry in log]
    answered = [header for status, header in results if status == "200"]
    lost = [detail for status, detail in results if status == "lost"]
    assert lost == []  # no reset on a keep-alive connection
    assert {status for status, _ in results} == {"200"}
    assert len(answered) > CLIENTS
    # Each busy client was told to close during the drain, on its last answer and on no earlier one.
    assert [log[-1][1] for log in outcomes] == ["close"] * CLIENTS
    assert answered.count("close") == CLIENTS
    logs = server.logs()
    assert "SIGTERM: draining" in logs and "worker stopped" in logs and "model server stopped" in logs
    assert "Traceback" not in logs
