"""Cache-aside: the first request for a customer misses and fills Redis, the next one hits; keys carry
model and version so two versions of the model never read each other's entries."""
from __future__ import annotations

from model_server import cache
from tools.build_recsys_model import customer_id as C

from .conftest import cache_env
from .metrics_text import value
from .processes import wait_until


def cache_count(server, result: str) -> float:
    return value(server.get("/metrics").text, "model_server_cache_requests_total", result=result)


def test_miss_then_hit_with_same_answer_and_ttl(model_path, redis_server, start_server):
    server = start_server({"MODEL_URI": str(model_path), **cache_env(redis_server)})
    version = server.get("/v2/models/recsys").json()["versions"][0]
    key = f"reco:recsys:{version}:k5:c{C(42)}"
    redis = redis_server.client()
    redis.delete(key)

    first = server.infer([C(42)], k=5)
    assert first.status_code == 200
    assert (cache_count(server, "miss"), cache_count(server, "hit")) == (1, 0)
    ttl = redis.ttl(key)
    assert 0 < ttl <= 600

    second = server.infer([C(42)], k=5)
    assert second.status_code == 200
    assert (cache_count(server, "miss"), cache_count(server, "hit")) == (1, 1)
    assert second.json()["outputs"] == first.json()["outputs"]


def test_batch_counts_each_user_and_fills_only_misses(model_path, redis_server, start_server):
    server = start_server({"MODEL_URI": str(model_path), **cache_env(redis_server)})
    version = server.get("/v2/models/recsys").json()["versions"][0]
    redis = redis_server.client()
    redis.delete(*[f"reco:recsys:{version}:k3:c{C(u)}" for u in (7, 8, 9)])

    assert server.infer([C(7)], k=3).status_code == 200  # user 7 cached now
    batch = server.infer([C(7), C(8), C(9)], k=3)
    assert batch.status_code == 200
    assert (cache_count(server, "hit"), cache_count(server, "miss")) == (1, 3)
    assert redis.exists(*[f"reco:recsys:{version}:k3:c{C(u)}" for u in (7, 8, 9)]) == 3
    # Users 8 and 9 went through the batch (pipelined) fill: each entry expires within the TTL the
    # platform sets (CACHE_TTL_SECONDS=600), -1 would mean it never expires.
    ttls = [redis.ttl(f"reco:recsys:{version}:k3:c{C(u)}") for u in (8, 9)]
    assert len(ttls) == 2 and min(ttls) > 0 and max(ttls) <= 600, ttls
    # The batch answer equals three single answers, whether they came from cache or model.
    single = [server.infer([C(u)], k=3).json()["outputs"][0]["data"] for u in (7, 8, 9)]
    assert batch.json()["outputs"][0]["data"] == sum(single, [])
    assert batch.json()["outputs"][0]["shape"] == [3, 3]


def test_k_is_part_of_the_key(model_path, redis_server, start_server):
    server = start_server({"MODEL_URI": str(model_path), **cache_env(redis_server)})
    assert server.infer([C(11)], k=2).status_code == 200
    response = server.infer([C(11)], k=4)
    assert response.json()["outputs"][0]["shape"] == [1, 4]
    assert cache_count(server, "miss") == 2


def test_versions_never_share_entries(model_path, other_model_path, redis_server, start_server):
    stable = start_server({"MODEL_URI": str(model_path), **cache_env(redis_server)})
    canary = start_server({"MODEL_URI": str(other_model_path), **cache_env(redis_server)})
    stable_version = stable.get("/v2/models/recsys").json()["versions"][0]
    canary_version = canary.get("/v2/models/recsys").json()["versions"][0]
    assert stable_version != canary_version

    redis_server.client().delete(f"reco:recsys:{stable_version}:k5:c{C(99)}",
                                 f"reco:recsys:{canary_version}:k5:c{C(99)}")
    stable_answer = stable.infer([C(99)], k=5).json()
    canary_answer = canary.infer([C(99)], k=5).json()
    # The canary missed although the stable version had just cached user 99...
    assert cache_count(canary, "miss") == 1 and cache_count(canary, "hit") == 0
    # ...and answered from its own weights, labelled with its own version.
    assert canary_answer["model_version"] == canary_version
    assert canary_answer["outputs"] != stable_answer["outputs"]
    assert redis_server.client().exists(f"reco:recsys:{stable_version}:k5:c{C(99)}",
                                        f"reco:recsys:{canary_version}:k5:c{C(99)}") == 2


def test_undecodable_entry_is_a_miss_and_is_repaired(model_path, redis_server, start_server):
    server = start_server({"MODEL_URI": str(model_path), **cache_env(redis_server)})
    version = server.get("/v2/models/recsys").json()["versions"][0]
    key = f"reco:recsys:{version}:k5:c{C(5)}"
    redis_server.client().set(key, b"garbage")
    response = server.infer([C(5)], k=5)
    assert response.status_code == 200
    assert cache_count(server, "miss") == 1
    entry = cache.decode(redis_server.client().get(key), 5)
    assert entry is not None and entry[0] == response.json()["outputs"][0]["data"]


def test_fallback_customers_are_cached_marked_and_counted(model_path, redis_server, start_server):
    server = start_server({"MODEL_URI": str(model_path), **cache_env(redis_server)})
    version = server.get("/v2/models/recsys").json()["versions"][0]
    unseen = ["C999999001", "C999999002"]
    redis_server.client().delete(*[f"reco:recsys:{version}:k4:c{c}" for c in unseen + [C(5)]])

    first = server.infer(unseen + [C(5)], k=4).json()["outputs"]
    again = server.infer(unseen + [C(5)], k=4).json()["outputs"]
    assert (cache_count(server, "miss"), cache_count(server, "hit")) == (3, 3)
    assert first == again  # the flag survives the round trip through Redis
    assert first[2] == {"name": "is_fallback", "datatype": "BOOL", "shape": [3], "data": [True, True, False]}
    # Every unseen customer gets the same popularity ranking; the known one gets their own.
    skus = first[0]["data"]
    assert skus[0:4] == skus[4:8] and skus[8:12] != skus[0:4]
    text = server.get("/metrics").text
    assert value(text, "model_server_fallback_recommendations_total", model="recsys", version=version) == 4


def test_without_redis_host_the_model_answers_and_no_cache_is_counted(model_path, start_server):
    server = start_server({"MODEL_URI": str(model_path), "REDIS_HOST": ""})
    assert server.infer([C(1), C(2)], k=3).status_code == 200
    wait_until(lambda: "model_server_inference_duration_seconds_count" in server.get("/metrics").text,
               "inference metrics")
    assert sum(cache_count(server, r) for r in ("hit", "miss", "error")) == 0
