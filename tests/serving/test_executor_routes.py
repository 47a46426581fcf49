"""Every V2 route a caller uses through the Seldon 1.17.1 executor answers, on the real model server
(services/serving) started the way the SeldonDeployment of each stack starts it."""
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from components.seldon_contract import METRICS_PATH
from seldon_executor import V2_ROUTES, Call, ExecutorError, calls
from serving_support import REPO_ROOT, STACKS, sdep

SERVING_DIR = REPO_ROOT / "services" / "serving"
SERVING_PYTHON = SERVING_DIR / ".venv" / "bin" / "python"
USERS, ITEMS = 50, 30
START_DEADLINE_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def serving_python() -> Path:
    # The model server's own venv (its pins differ from the infrastructure's); make builds it
    # once and is a no-op after.
    result = subprocess.run(["make", "-C", str(SERVING_DIR), "venv"], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    return SERVING_PYTHON


@pytest.fixture(scope="module")
def model_file(serving_python, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("model") / "recsys.onnx"
    subprocess.run([str(serving_python), "-m", "tools.build_recsys_model", "--customers", str(USERS),
                    "--items", str(ITEMS), "--dim", "8", "--out", str(out)],
                   cwd=SERVING_DIR, check=True, capture_output=True, timeout=300)
    return out


class ModelServer:
    """services/serving as the predictor's model container runs it: the SeldonDeployment's env."""

    def __init__(self, python: Path, model_name: str, model_file: Path, workdir: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("MODEL_", "REDIS_"))},
            "MODEL_NAME": model_name,
            # The operator's env on every model container (seldondeployment_controller.go).
            "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": str(self.port),
            "PREDICTIVE_UNIT_METRICS_ENDPOINT": METRICS_PATH,
            "MODEL_URI": str(model_file),  # a local file stands in for models:/<name>@champion
            "WORKERS": "1",
            "PROMETHEUS_MULTIPROC_DIR": str(workdir / "metrics"),
            "MODEL_CACHE_DIR": str(workdir / "cache"),
        }
        self.log = workdir / "server.log"
        self.process = subprocess.Popen([str(python), "-m", "model_server"], cwd=SERVING_DIR, env=self.env,
                                        stdout=self.log.open("wb"), stderr=subprocess.STDOUT)

    def wait_ready(self) -> None:
        end = time.monotonic() + START_DEADLINE_SECONDS
        while time.monotonic() < end:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if requests.get(f"{self.url}/v2/health/ready", timeout=5).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass  # not listening yet, or busy loading on a loaded machine
            time.sleep(0.1)
        raise AssertionError(f"model server not ready after {START_DEADLINE_SECONDS}s:\n{self.log.read_text()}")

    def call(self, call: Call) -> requests.Response:
        body = None
        if call.method == "POST":
            # The serving contract: the shop's customer ids in (BYTES), SKUs out.
            body = {"inputs": [{"name": "customer_id", "shape": [2], "datatype": "BYTES",
                                "data": ["C000000001", "C000000002"]}]}
        return requests.request(call.method, self.url + call.path, json=body, timeout=10)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


@pytest.fixture(scope="module")
def model_server(serving_python, model_file, tmp_path_factory):
    """The model server for a predictor's container, started once per MODEL_NAME (the one value
    the server takes from the container): the stacks name the same model, and a server start per
    stack cost ~1.5 s of CPU each (2026-12-01)."""
    started: dict[str, ModelServer] = {}

    def for_container(container: dict) -> ModelServer:
        model_name = {e["name"]: e["value"] for e in container["env"] if "value" in e}["MODEL_NAME"]
        if model_name not in started:
            server = started[model_name] = ModelServer(serving_python, model_name, model_file,
                                                       tmp_path_factory.mktemp(f"server-{model_name}"))
            server.wait_ready()
        return started[model_name]

    yield for_container
    for server in started.values():
        server.stop()


def predictor(serving_preview, stack: str) -> dict:
    spec = sdep(serving_preview[stack], "recsys")["spec"]
    assert spec["protocol"] == "v2"
    return spec["predictors"][0]


@pytest.mark.parametrize("stack", STACKS)
def test_every_v2_route_through_the_executor_answers(serving_preview, model_server, stack):
    stable = predictor(serving_preview, stack)
    graph = stable["graph"]
    [container] = stable["componentSpecs"][0]["spec"]["containers"]
    # Seldon runs each graph node in the container of the same name.
    assert container["name"] == graph["name"]
    server = model_server(container)
    model = server.env["MODEL_NAME"]
    answered = 0
    for method, route, _ in V2_ROUTES:
        try:
            made = calls(graph, method, route, model if "{model}" in route else None)
        except ExecutorError as exc:
            raise AssertionError(f"{method} {route.format(model=model)}: the executor answers 500 ({exc})") from None
        assert len(made) == 1, (method, route)
        for call in made:
            assert call.host == container["name"]
            response = server.call(call)
            assert response.status_code == 200, (method, route, call.path, response.text)
            answered += 1
    assert answered == len(V2_ROUTES)
    # What the operator tells the container to serve metrics on, and what the PodMonitor scrapes.
    metrics = requests.get(server.url + METRICS_PATH, timeout=10)
    assert metrics.status_code == 200 and "model_server_model_info" in metrics.text
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert requests.get(server.url + container[probe]["httpGet"]["path"], timeout=10).status_code == 200


def test_a_graph_node_named_otherwise_than_the_model_breaks_status_and_metadata():
    # The shipped mistake: node and container "model", server serving "recsys".
    graph = {"name": "model", "type": "MODEL", "endpoint": {"type": "REST", "httpPort": 9000}, "children": []}
    for route in ("/v2/models/{model}/ready", "/v2/models/{model}"):
        with pytest.raises(ExecutorError, match="Failed to find model recsys"):
            calls(graph, "GET", route, "recsys")
    # Infer without a name in the path asks the server for the node's name, which it does not serve.
    assert calls(graph, "POST", "/v2/models/infer", None) == [Call("model", "POST", "/v2/models/model/infer")]
    assert calls(graph, "POST", "/v2/models/{model}/infer", "recsys") == [Call("model", "POST", "/v2/models/recsys/infer")]


def test_the_server_refuses_a_model_name_it_does_not_serve(serving_preview, model_server):
    # The other side of the edge: a wrong name is a 404 from the server, so 200s above mean the names agree.
    stable = predictor(serving_preview, "dev")
    [container] = stable["componentSpecs"][0]["spec"]["containers"]
    server = model_server(container)
    for path in ("/v2/models/model/ready", "/v2/models/model", "/v2/models/model/infer"):
        call = Call("model", "POST" if path.endswith("infer") else "GET", path)
        assert server.call(call).status_code == 404, path
