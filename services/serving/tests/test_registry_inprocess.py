"""mlflow_registry and model_source in this process, against the real registry (registry_servers:
`mlflow server --app-name basic-auth`, artifacts on moto's S3): MLflow's alias semantics (an alias
names one version; a missing alias is an error, not "latest"), the fallback alias, credentials,
downloads and the per-version cache; every failure one ModelLoadError naming the bad value."""
from __future__ import annotations

import base64
import hashlib

import boto3
import pytest

from model_server import mlflow_registry, model_source
from model_server.errors import ModelLoadError
from model_server.mlflow_registry import AliasNotFound, RegistryModel

from .processes import free_port
from .registry_servers import ADMIN, BUCKET, PASSWORD, Registry, unique_name, write_auth_dir


@pytest.fixture
def s3_endpoint(s3_env, monkeypatch):
    """This process talks to the registry's S3 as a serving pod does: MLFLOW_S3_ENDPOINT_URL."""
    for key, value in s3_env.items():
        monkeypatch.setenv(key, value)
    return boto3.client("s3", endpoint_url=s3_env["MLFLOW_S3_ENDPOINT_URL"], region_name="us-east-1")


@pytest.fixture
def no_env_credentials(monkeypatch):
    for key in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def released(registry, s3_env, model_path, other_model_path):
    """A model with two versions: 1 (model_path) and 2 (other_model_path), champion -> 2."""
    models = Registry(registry, s3_env, unique_name("recsys"))
    assert (models.add_version(model_path), models.add_version(other_model_path)) == ("1", "2")
    models.set_alias("champion", "2")
    return models


def resolve(registry, auth_dir, uri, fallback="champion"):
    return mlflow_registry.resolve(uri, registry, fallback, str(auth_dir))


def test_champion_alias_names_its_version_not_the_latest(registry, auth_dir, released, no_env_credentials):
    released.set_alias("champion", "1")  # version 2 exists, but the alias decides
    found = resolve(registry, auth_dir, f"models:/{released.name}@champion")
    assert (found.name, found.version, found.alias, found.served_alias) == (released.name, "1", "champion", "champion")
    assert found.artifact_uri.startswith(f"s3://{BUCKET}/") and found.artifact_uri.endswith("/model")
    # A trailing slash on MLFLOW_TRACKING_URI changes nothing.
    assert resolve(registry + "/", auth_dir, f"models:/{released.name}@champion") == found


def test_pinned_version_has_no_alias(registry, auth_dir, released, no_env_credentials):
    found = resolve(registry, auth_dir, f"models:/{released.name}/1")
    assert (found.version, found.alias, found.served_alias) == ("1", "", "")
    assert found.artifact_uri != resolve(registry, auth_dir, f"models:/{released.name}/2").artifact_uri


def test_missing_challenger_falls_back_to_the_champion(registry, auth_dir, released, no_env_credentials):
    found = resolve(registry, auth_dir, f"models:/{released.name}@challenger")
    assert (found.version, found.alias, found.served_alias) == ("2", "challenger", "champion")
    released.set_alias("challenger", "1")  # a release starts: the canary gets its own version
    found = resolve(registry, auth_dir, f"models:/{released.name}@challenger")
    assert (found.version, found.alias, found.served_alias) == ("1", "challenger", "challenger")


@pytest.mark.parametrize("fallback", ["", "challenger"])
def test_missing_alias_without_another_fallback_names_model_and_alias(registry, auth_dir, released, fallback,
                                                                        no_env_credentials):
    # No fallback, or the fallback is the alias that is missing: nothing else to try.
    with pytest.raises(AliasNotFound) as error:
        resolve(registry, auth_dir, f"models:/{released.name}@challenger", fallback)
    assert str(error.value) == f"registered model '{released.name}' has no alias 'challenger'"


def test_missing_fallback_alias_is_named(registry, auth_dir, released, no_env_credentials):
    released.delete_alias("champion")
    with pytest.raises(AliasNotFound, match=f"^registered model '{released.name}' has no alias 'champion'$"):
        resolve(registry, auth_dir, f"models:/{released.name}@challenger")


def test_unknown_model_or_version_is_the_registrys_answer(registry, auth_dir, released, no_env_credentials):
    missing = unique_name("never-registered")
    with pytest.raises(ModelLoadError, match="MLflow registry answered 404 for registered-models/alias: ") as error:
        resolve(registry, auth_dir, f"models:/{missing}@champion", fallback="")
    assert not isinstance(error.value, AliasNotFound) and missing in str(error.value)
    with pytest.raises(ModelLoadError, match="MLflow registry answered 404 for model-versions/get-download-uri"):
        resolve(registry, auth_dir, f"models:/{released.name}/9")


def test_credentials_from_the_mounted_secret_are_checked(registry, released, tmp_path, no_env_credentials):
    wrong = write_auth_dir(tmp_path / "wrong", password="not-the-password")
    with pytest.raises(ModelLoadError, match="MLflow registry answered 401 for registered-models/alias"):
        resolve(registry, wrong, f"models:/{released.name}@champion")
    with pytest.raises(ModelLoadError, match="MLflow registry answered 401"):
        resolve(registry, "", f"models:/{released.name}@champion")  # no credentials at all


def test_credentials_from_the_mlflow_client_variables(registry, released, monkeypatch, no_env_credentials):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    assert resolve(registry, "", f"models:/{released.name}@champion").version == "2"
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "wrong")
    with pytest.raises(ModelLoadError, match="answered 401"):
        resolve(registry, "", f"models:/{released.name}@champion")


def test_authorization_header_precedence(tmp_path, monkeypatch, no_env_credentials):
    def basic(pair: str) -> str:
        return "Basic " + base64.b64encode(pair.encode()).decode()

    assert mlflow_registry._authorization("") is None
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "bot")
    assert mlflow_registry._authorization("") == basic("bot:")  # no password set: an empty one
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "pw")
    assert mlflow_registry._authorization("") == basic("bot:pw")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok")
    assert mlflow_registry._authorization("") == "Bearer tok"  # a token wins over the pair
    secret = write_auth_dir(tmp_path / "secret", username="serving", password="s3cret")
    assert mlflow_registry._authorization(str(secret)) == basic("serving:s3cret")  # the Secret wins


@pytest.mark.parametrize("tracking_uri", ["", "file:///mlruns", "databricks", "127.0.0.1:5000"])
def test_registry_uri_needs_an_http_tracking_uri(tracking_uri):
    with pytest.raises(ModelLoadError, match="^MODEL_URI 'models:/recsys@champion' needs MLFLOW_TRACKING_URI "
                                             "to be an http\\(s\\) URL$"):
        mlflow_registry.resolve("models:/recsys@champion", tracking_uri)


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_unreachable_registry_is_named(scheme, no_env_credentials):
    url = f"{scheme}://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(ModelLoadError, match=f"^MLflow registry at {url} unreachable: "):
        mlflow_registry.resolve("models:/recsys@champion", url)


def test_bad_models_uri_is_named_before_any_request(registry):
    with pytest.raises(ModelLoadError, match="^MODEL_URI 'models:/recsys' is not models:/<name>@<alias>"):
        mlflow_registry.resolve("models:/recsys", registry)


def test_download_copies_every_artifact_below_the_prefix(s3_endpoint, tmp_path):
    prefix = unique_name("artifacts")
    for key, body in {f"{prefix}/model/recsys.onnx": b"onnx", f"{prefix}/model/meta/MLmodel": b"flavors",
                      f"{prefix}/other/skip.txt": b"not this version"}.items():
        s3_endpoint.put_object(Bucket=BUCKET, Key=key, Body=body)
    model = RegistryModel("recsys", "4", f"s3://{BUCKET}/{prefix}/model")
    into = tmp_path / "into"
    assert mlflow_registry.download(model, into) == into
    files = sorted(p.relative_to(into).as_posix() for p in into.rglob("*") if p.is_file())
    assert files == ["meta/MLmodel", "recsys.onnx"]
    assert (into / "recsys.onnx").read_bytes() == b"onnx"


def test_download_of_a_single_object_keeps_its_name(s3_endpoint, tmp_path):
    key = f"{unique_name('single')}/recsys.onnx"
    s3_endpoint.put_object(Bucket=BUCKET, Key=key, Body=b"onnx")
    mlflow_registry.download(RegistryModel("recsys", "5", f"s3://{BUCKET}/{key}"), tmp_path)
    assert (tmp_path / "recsys.onnx").read_bytes() == b"onnx"


def test_download_failures_name_the_artifact(s3_endpoint, tmp_path):
    empty = f"s3://{BUCKET}/{unique_name('empty')}/model"
    with pytest.raises(ModelLoadError, match=f"^no artifacts under {empty}$"):
        mlflow_registry.download(RegistryModel("recsys", "6", empty), tmp_path)
    missing_bucket = "s3://no-such-bucket-here/model"
    with pytest.raises(ModelLoadError, match=f"^fetching {missing_bucket} failed: .*NoSuchBucket"):
        mlflow_registry.download(RegistryModel("recsys", "6", missing_bucket), tmp_path)
    with pytest.raises(ModelLoadError, match="^artifact URI 'file:///mlruns/1/model' of recsys v6 is not on S3$"):
        mlflow_registry.download(RegistryModel("recsys", "6", "file:///mlruns/1/model"), tmp_path)


def test_download_from_an_unreachable_s3_is_one_error(s3_endpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(ModelLoadError, match=f"^fetching s3://{BUCKET}/m failed: Could not connect"):
        mlflow_registry.download(RegistryModel("recsys", "7", f"s3://{BUCKET}/m"), tmp_path)


def test_registry_uri_is_fetched_into_the_cache_once_per_version(registry, auth_dir, released, tmp_path,
                                                                 model_path, s3_endpoint, monkeypatch,
                                                                 no_env_credentials):
    cache = tmp_path / "cache"
    uri = f"models:/{released.name}@challenger"
    artifact = model_source.resolve(uri, registry, str(cache), "champion", str(auth_dir))
    assert (artifact.version, artifact.source, artifact.alias, artifact.served_alias) == (
        "2", "mlflow", "challenger", "champion")
    assert artifact.path == cache / released.name / "2" / "recsys.onnx"
    assert (cache / released.name / "2" / ".complete").exists()
    assert not (cache / released.name / "2.partial").exists()

    # The next worker finds the version complete and does not touch S3 (now unreachable).
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    assert model_source.resolve(uri, registry, str(cache), "champion", str(auth_dir)) == artifact
    # Another version is not in the cache: it must be fetched, and that fails.
    released.set_alias("challenger", "1")
    with pytest.raises(ModelLoadError, match="Could not connect"):
        model_source.resolve(uri, registry, str(cache), "champion", str(auth_dir))
    assert not (cache / released.name / "1").exists()  # a failed fetch leaves nothing "complete"


def test_an_incomplete_copy_is_fetched_again(registry, auth_dir, released, tmp_path, other_model_path,
                                             s3_endpoint, no_env_credentials):
    cache = tmp_path / "cache"
    stale = cache / released.name / "2"
    stale.mkdir(parents=True)
    (stale / "recsys.onnx").write_bytes(b"half a download")  # no .complete: a worker died mid-copy
    (stale.with_name("2.partial")).mkdir()
    (stale.with_name("2.partial") / "leftover.onnx").write_bytes(b"x")
    artifact = model_source.resolve(f"models:/{released.name}@champion", registry, str(cache), "", str(auth_dir))
    assert artifact.path.read_bytes() == other_model_path.read_bytes()
    assert sorted(p.name for p in stale.iterdir()) == [".complete", "recsys.onnx"]


def test_local_model_file_or_directory(model_path, tmp_path):
    digest = "sha256-" + hashlib.sha256(model_path.read_bytes()).hexdigest()[:12]
    for uri in (str(model_path), f"file://{model_path}", str(model_path.parent)):
        artifact = model_source.resolve(uri, "", str(tmp_path))
        assert (artifact.path, artifact.version, artifact.source, artifact.alias) == (model_path, digest, "local", "")
    nested = tmp_path / "nested"
    (nested / "a" / "b").mkdir(parents=True)
    (nested / "a" / "b" / "m.onnx").write_bytes(b"x")
    (nested / "README").write_text("not a model")
    assert model_source.resolve(str(nested), "", str(tmp_path)).path == nested / "a" / "b" / "m.onnx"


def test_content_version_covers_the_whole_file(tmp_path):
    # Files larger than one read block that differ only at the end: different versions.
    head = b"\x00" * (3 * (1 << 20) + 5)
    first, second = tmp_path / "a.onnx", tmp_path / "b.onnx"
    first.write_bytes(head + b"1")
    second.write_bytes(head + b"2")
    versions = [model_source.resolve(str(p), "", str(tmp_path)).version for p in (first, second)]
    assert versions == ["sha256-" + hashlib.sha256(p.read_bytes()).hexdigest()[:12] for p in (first, second)]
    assert versions[0] != versions[1]


def test_local_model_errors_name_the_path(tmp_path):
    with pytest.raises(ModelLoadError, match=f"^model path {tmp_path / 'missing.onnx'} does not exist$"):
        model_source.resolve(str(tmp_path / "missing.onnx"), "", str(tmp_path))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelLoadError, match=f"^no .onnx file in {empty}$"):
        model_source.resolve(str(empty), "", str(tmp_path))
    (empty / "a.onnx").write_bytes(b"a")
    (empty / "sub").mkdir()
    (empty / "sub" / "b.onnx").write_bytes(b"b")
    with pytest.raises(ModelLoadError, match=f"^2 .onnx files in {empty}; expected exactly one$"):
        model_source.resolve(str(empty), "", str(tmp_path))


@pytest.mark.parametrize("uri,registry_uri", [("models:/recsys@champion", True), ("models:/recsys/1", True),
                                              ("/mnt/models", False), ("file:///mnt/models", False),
                                              ("s3://bucket/models:/x", False)])
def test_which_uris_go_to_the_registry(uri, registry_uri):
    assert model_source.is_registry_uri(uri) is registry_uri
