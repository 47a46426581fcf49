"""The one contract between training and serving, end to end: a model the pipeline trains and
exports (services/pipeline) is loaded and answered by the serving code (services/serving).

Each side runs in its own image's virtualenv, as in the cluster: the pipeline's `train` and
`export` steps write model.onnx, then the serving image's `Recommender` loads it, warms it up and
recommends for a customer seen in training and one never seen (the popularity fallback)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PIPELINE = REPO_ROOT / "services" / "pipeline"
SERVING = REPO_ROOT / "services" / "serving"
CUSTOMERS, ITEMS, K = 40, 25, 5

INTERACTIONS = f"""
import sys
import pyarrow as pa, pyarrow.parquet as pq
rows = []
# Customers in four groups, each buying from its own block of SKUs: structure MF can learn.
for c in range({CUSTOMERS}):
    block = (c % 4) * 6
    for j in range(5):
        rows.append((f"C{{c + 1:09d}}", f"SKU-{{block + (c + j) % 6 + 1:08d}}", 1_700_000_000_000 + c * 1000 + j))
rows.append(("C000000001", "SKU-{ITEMS:08d}", 1_700_000_999_000))  # every SKU seen once at least
for i in range(25, {ITEMS} + 1):
    rows.append(("C000000002", f"SKU-{{i:08d}}", 1_700_000_999_500))
customers, skus, ts = zip(*rows)
pq.write_table(pa.table({{"customer_id": list(customers), "sku": list(skus),
                          "timestamp": pa.array(list(ts), pa.timestamp("ms", tz="UTC"))}}), sys.argv[1])
"""

SERVE = """
import json, sys
import numpy as np
from model_server.recommender import Recommender
model = Recommender(sys.argv[1])
model.warm_up(int(sys.argv[2]))
result, _ = model.recommend(np.array(["C000000001", "C999999999"], dtype=object), int(sys.argv[2]))
print(json.dumps({"num_customers": model.num_customers, "num_items": model.num_items,
                  "model_name": model.model_name, "skus": result.skus.tolist(),
                  "scores": result.scores.tolist(), "is_fallback": result.is_fallback.tolist()}))
"""


def _venv(service: Path) -> Path:
    # Each image's own pinned environment; make builds it once and is a no-op after.
    made = subprocess.run(["make", "-C", str(service), "venv"], capture_output=True, text=True, timeout=1800)
    assert made.returncode == 0, made.stderr[-2000:]
    return service / ".venv" / "bin" / "python"


def _run(python: Path, *args: str, cwd: Path) -> str:
    done = subprocess.run([str(python), *args], cwd=cwd, capture_output=True, text=True, timeout=900,
                          env={"PATH": "/usr/bin:/bin", "DO_NOT_TRACK": "1", "HOME": str(cwd)})
    assert done.returncode == 0, f"{args[:3]}: {done.stderr[-2000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("contract")
    python = _venv(PIPELINE)
    _run(python, "-c", INTERACTIONS, str(work / "interactions.parquet"), cwd=work)
    _run(python, "-m", "pipeline", "train", "--interactions", str(work / "interactions.parquet"),
         "--out", str(work / "model"), "--weight-col", "", "--device", "cpu", "--factors", "8",
         "--epochs", "5", "--negatives", "8", "--batch-size", "64", cwd=PIPELINE)
    _run(python, "-m", "pipeline", "export", "--model", str(work / "model"), "--out", str(work / "model.onnx"),
         "--parity-customers", "20", "--k", str(K), cwd=PIPELINE)
    return work / "model.onnx"


def test_serving_loads_a_pipeline_exported_model_and_answers_in_shop_ids(exported):
    answer = json.loads(_run(_venv(SERVING), "-c", SERVE, str(exported), str(K), cwd=SERVING).strip().splitlines()[-1])
    assert (answer["num_customers"], answer["num_items"]) == (CUSTOMERS, ITEMS)
    assert answer["model_name"] == "recsys"
    assert len(answer["skus"]) == 2 and all(len(row) == K for row in answer["skus"])
    skus = [s for row in answer["skus"] for s in row]
    assert all(s.startswith("SKU-") and 1 <= int(s[4:]) <= ITEMS for s in skus), skus
    assert all(len(set(row)) == K for row in answer["skus"])  # no SKU twice in one top-K
    # Seen in training: its own ranking. Never seen: the popularity ranking, marked as such.
    assert answer["is_fallback"] == [False, True]
    assert answer["skus"][0] != answer["skus"][1]
