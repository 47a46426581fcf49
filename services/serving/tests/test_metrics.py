"""The platform's metric names, labels and buckets, summed correctly over several workers."""
from __future__ import annotations

from .conftest import cache_env
from .metrics_text import samples, value

REQUESTS = 40


def test_metrics_are_named_labelled_and_count_every_worker(model_path, redis_server, start_server):
    server = start_server({"MODEL_URI": str(model_path), **cache_env(redis_server), "WORKERS": "3"})
    version = server.get("/v2/models/recsys").json()["versions"][0]
    redis_server.client().flushall()
    for user in range(REQUESTS):  # a new connection each: the kernel spreads them over the workers
        assert server.infer([user], k=5).status_code == 200
    for user in range(REQUESTS // 2):
        assert server.get(f"/recommend/{user}?k=5").status_code == 200
    assert server.post("/v2/models/recsys/infer", content=b"{").status_code == 400

    # Whichever worker answers the scrape, it reports all workers' counts.
    scrapes = [server.get("/metrics").text for _ in range(6)]
    infer_route = dict(route="/v2/models/{name}/infer", method="POST", model="recsys", version=version)
    for text in scrapes:
        assert value(text, "model_server_requests_total", code="200", **infer_route) == REQUESTS
        assert value(text, "model_server_requests_total", code="400", **infer_route) == 1
        assert value(text, "model_server_requests_total", route="/recommend/{user_id}",
                     code="200", method="GET") == REQUESTS // 2

    text = scrapes[-1]
    assert value(text, "model_server_cache_requests_total", result="miss", version=version) == REQUESTS
    assert value(text, "model_server_cache_requests_total", result="hit", version=version) == REQUESTS // 2
    assert value(text, "model_server_inference_duration_seconds_count", model="recsys",
                 version=version) == REQUESTS
    assert value(text, "model_server_model_info", model="recsys", version=version, source="local") == 1

    buckets = {s.labels["le"] for s in samples(text)
               if s.name == "model_server_request_duration_seconds_bucket"}
    assert "0.1" in buckets
    assert value(text, "model_server_request_duration_seconds_count",
                 route="/v2/models/{name}/infer") == REQUESTS + 1
    label_sets = {frozenset(s.labels) for s in samples(text) if s.name == "model_server_requests_total"}
    assert label_sets == {frozenset({"route", "method", "code", "model", "version"})}
    assert {s.labels["route"] for s in samples(text) if s.name == "model_server_requests_total"} >= {
        "/v2/models/{name}/infer", "/recommend/{user_id}", "/v2/health/ready"}


def test_model_info_reads_one_with_every_worker_alive(model_path, start_server):
    server = start_server({"MODEL_URI": str(model_path), "WORKERS": "3"})
    from .processes import wait_until

    # Each worker sets its own 1 once loaded; livemax keeps the pod's value at 1, not 3.
    wait_until(lambda: all(server.is_ready() for _ in range(6)), "all workers ready")
    info = [s for s in samples(server.get("/metrics").text) if s.name == "model_server_model_info"]
    assert [s.value for s in info] == [1.0]
    assert info[0].labels["source"] == "local"


def test_counts_survive_a_worker_crash_and_restart(model_path, start_server):
    import os
    import signal

    from .processes import wait_until

    server = start_server({"MODEL_URI": str(model_path), "WORKERS": "2"})
    for user in range(10):
        assert server.infer([user]).status_code == 200
    workers = set(map(int, os.popen(f"pgrep -P {server.process.pid}").read().split()))
    assert len(workers) == 2
    os.kill(min(workers), signal.SIGKILL)  # as the OOM killer would
    wait_until(lambda: len(set(map(int, os.popen(f"pgrep -P {server.process.pid}").read().split()))
                           - workers) == 1, "gunicorn to start a replacement worker")
    wait_until(lambda: all(server.is_ready() for _ in range(4)), "the replacement worker to load")
    for user in range(10):
        assert server.infer([user]).status_code == 200
    text = server.get("/metrics").text
    # The dead worker's requests still count (counters are kept), its model_info series is gone.
    assert value(text, "model_server_requests_total", route="/v2/models/{name}/infer", code="200") == 20
    assert [s.value for s in samples(text) if s.name == "model_server_model_info"] == [1.0]
