"""Traffic for tests that change the server under load: every outcome is kept, none swallowed."""
from __future__ import annotations

import threading
import time

import httpx

from tools import loopback_http
from tools.build_recsys_model import customer_id as C


class Load:
    """Clients sending back to back, half on keep-alive connections and half on a new connection
    each time (all on new ones with new_connections_only); every outcome is kept:
    (status code or exception name, model version in the body, monotonic time)."""

    def __init__(self, url: str, clients: int = 4, new_connections_only: bool = False):
        self.url = url
        self.outcomes: list[tuple[str, str | None, float]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i % 2 == 0 and not new_connections_only,))
                         for i in range(clients)]

    def _run(self, keep_alive: bool) -> None:
        body = {"inputs": [{"name": "customer_id", "shape": [2], "datatype": "BYTES",
                            "data": [C(5), "C999999999"]}]}
        client = loopback_http.client(base_url=self.url, timeout=10) if keep_alive else None
        while not self._stop.is_set():
            try:
                if client is not None:
                    response = client.post("/v2/models/recsys/infer", json=body)
                else:
                    response = loopback_http.post(self.url + "/v2/models/recsys/infer", json=body, timeout=10)
                version = response.json().get("model_version") if response.status_code == 200 else None
                self.outcomes.append((str(response.status_code), version, time.monotonic()))
            except httpx.HTTPError as exc:
                self.outcomes.append((type(exc).__name__, None, time.monotonic()))
        if client is not None:
            client.close()

    def __enter__(self) -> "Load":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def since(self, moment: float) -> list[tuple[str, str | None, float]]:
        return [o for o in self.outcomes if o[2] >= moment]
