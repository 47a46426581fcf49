"""Cache-aside: the first request for a user misses and fills Redis, the next one hits; keys carry
model and version so two versions of the model never read each other's entries."""
from __future__ import annotations

from .conftest import cache_env
from .metrics_text import value
from .processes import wait_until


def cache_count(server, result: str) -> float:
    return value(server.get("/metrics").text, "model_server_cache_requests_total", result=result)


def test_miss_then_hit_with_same_answer_and_ttl(model_path, redis_server, start_server):
    server = start_server({"MODEL_URI": str(model_path), **cache_env(redis_server)})
    version = server.get("/v2/models/recsys").json()["versions"][0]
    key = f"reco:recsys:{version}:k5:u42"
    redis = redis_server.client()
    redis.delete(key)

    first = server.infer([42], k=5)
    assert first.status_code == 200
    assert (cache_count(server, "miss"), cache_count(server, "hit")) == (1, 0)
    ttl = redis.ttl(key)
    assert 0 < ttl <= 600

    second = server.infer([42], k=5)
    assert second.status_code == 200
    assert (cache_count(server, "miss"), cache_count(server, "hit")) == (1, 1)
    assert second.json()["outputs"] == first.json()["outputs"]


def test_batch_counts_each_user_and_fills_only_misses(model_path, redis_server, start_server):
    server = start_server({"MODEL_URI": str(model_path), **cache_env(redis_server)})
    version = server.get("/v2/models/recsys").json()["versions"][0]
    redis = redis_server.client()
    redis.delete(*[f"reco:recsys:{version}:k3:u{u}" for u in (7, 8, 9)])

    assert server.infer([7], k=3).status_code == 200  # user 7 cached now
    batch = server.infer([7, 8, 9], k=3)
    assert batch.status_code == 200
    assert (cache_count(server, "hit"), cache_count(server, "miss")) == (1, 3)
    assert redis.exists(*[f"reco:recsys:{version}:k3:u{u}" for u in (7, 8, 9)]) == 3
    # The batch answer equals three single answers, whether they came from cache or model.
    single = [server.infer([u], k=3).json()["outputs"][0]["data"] for u in (7, 8, 9)]
    assert batch.json()["outputs"][0]["data"] == sum(single, [])
    assert batch.json()["outputs"][0]["shape"] == [3, 3]


def test_k_is_part_of_the_key(model_path, redis_server, start_server):
    server = start_server({"MODEL_URI": str(model_path), **cache_env(redis_server)})
    assert server.infer([11], k=2).status_code == 200
    response = server.infer([11], k=4)
    assert response.json()["outputs"][0]["shape"] == [1, 4]
    assert cache_count(server, "miss") == 2


def test_versions_never_share_entries(model_path, other_model_path, redis_server, start_server):
    stable = start_server({"MODEL_URI": str(model_path), **cache_env(redis_server)})
    canary = start_server({"MODEL_URI": str(other_model_path), **cache_env(redis_server)})
    stable_version = stable.get("/v2/models/recsys").json()["versions"][0]
    canary_version = canary.get("/v2/models/recsys").json()["versions"][0]
    assert stable_version != canary_version

    redis_server.client().delete(f"reco:recsys:{stable_version}:k5:u99",
                                 f"reco:recsys:{canary_version}:k5:u99")
    stable_answer = stable.infer([99], k=5).json()
    canary_answer = canary.infer([99], k=5).json()
    # The canary missed although the stable version had just cached user 99...
    assert cache_count(canary, "miss") == 1 and cache_count(canary, "hit") == 0
    # ...and answered from its own weights, labelled with its own version.
    assert canary_answer["model_version"] == canary_version
    assert canary_answer["outputs"] != stable_answer["outputs"]
    assert redis_server.client().exists(f"reco:recsys:{stable_version}:k5:u99",
                                        f"reco:recsys:{canary_version}:k5:u99") == 2


def test_undecodable_entry_is_a_miss_and_is_repaired(model_path, redis_server, start_server):
    server = start_server({"MODEL_URI": str(model_path), **cache_env(redis_server)})
    version = server.get("/v2/models/recsys").json()["versions"][0]
    key = f"reco:recsys:{version}:k5:u5"
    redis_server.client().set(key, b"garbage")
    response = server.infer([5], k=5)
    assert response.status_code == 200
    assert cache_count(server, "miss") == 1
    assert len(redis_server.client().get(key)) == 12 * 5


def test_without_redis_host_the_model_answers_and_no_cache_is_counted(model_path, start_server):
    server = start_server({"MODEL_URI": str(model_path), "REDIS_HOST": ""})
    assert server.infer([1, 2], k=3).status_code == 200
    wait_until(lambda: "model_server_inference_duration_seconds_count" in server.get("/metrics").text,
               "inference metrics")
    assert sum(cache_count(server, r) for r in ("hit", "miss", "error")) == 0
