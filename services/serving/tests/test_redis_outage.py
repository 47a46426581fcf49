"""Redis down or slow: every request is still answered 200 from the model and the error counted."""
from __future__ import annotations

import threading

from tools.build_recsys_model import customer_id as C

from .conftest import cache_env
from .metrics_text import value
from .processes import RedisServer, wait_until


def counts(server) -> dict[str, float]:
    text = server.get("/metrics").text
    return {r: value(text, "model_server_cache_requests_total", result=r) for r in ("hit", "miss", "error")}


def test_redis_stopped_mid_run_then_back(tmp_path, model_path, start_server):
    redis = RedisServer(tmp_path / "redis").start()
    try:
        server = start_server({"MODEL_URI": str(model_path), **cache_env(redis),
                               "CACHE_RETRY_SECONDS": "0.2"})
        expected = {u: server.infer([C(u)], k=5).json()["outputs"] for u in range(20)}
        assert counts(server)["miss"] == 20

        redis.stop()
        for user, outputs in expected.items():  # cached users, but Redis is gone
            response = server.infer([C(user)], k=5)
            assert response.status_code == 200, response.text
            assert response.json()["outputs"] == outputs
        for user in range(20, 40):  # never-seen users too
            assert server.infer([C(user)], k=5).status_code == 200
        assert counts(server)["error"] >= 1
        assert "redis read failed; answering from the model" in server.logs()

        # Same port again: once the retry window passes, the cache is used again.
        redis = RedisServer(tmp_path / "redis", port=redis.port).start()
        wait_until(lambda: server.infer([C(1)], k=5).status_code == 200 and counts(server)["miss"] > 20,
                   "the cache to be used again after Redis came back")
        # Each worker has its own connection and retry window: keep asking until one that has
        # reconnected answers from the cache (a single request may land on a worker whose old
        # connection still has to fail once before it reconnects).
        wait_until(lambda: server.infer([C(1)], k=5).status_code == 200 and counts(server)["hit"] >= 1,
                   "a cache hit after Redis came back")
    finally:
        redis.stop()


def test_slow_redis_times_out_and_the_model_answers(tmp_path, model_path, start_server):
    redis = RedisServer(tmp_path / "redis").start()
    try:
        server = start_server({"MODEL_URI": str(model_path), **cache_env(redis),
                               "CACHE_TIMEOUT_SECONDS": "0.05"})
        baseline = server.infer([C(3)], k=5).json()["outputs"]
        # CLIENT PAUSE holds every client's commands for 3 s: a Redis that is up but not answering.
        pauser = threading.Thread(target=lambda: redis.client().execute_command("CLIENT", "PAUSE", 3000, "ALL"))
        pauser.start()
        pauser.join()
        responses = [server.infer([C(3)], k=5) for _ in range(5)]
        assert [r.status_code for r in responses] == [200] * 5
        assert all(r.json()["outputs"] == baseline for r in responses)
        assert counts(server)["error"] >= 1
    finally:
        redis.client().execute_command("CLIENT", "UNPAUSE")
        redis.stop()


def test_redis_never_reachable_from_the_start(model_path, start_server):
    from .processes import free_port

    server = start_server({"MODEL_URI": str(model_path), "REDIS_HOST": "127.0.0.1",
                           "REDIS_PORT": str(free_port())})
    assert server.is_ready()
    assert [server.infer([C(u)]).status_code for u in range(5)] == [200] * 5
    assert counts(server)["error"] >= 1
