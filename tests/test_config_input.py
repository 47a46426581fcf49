"""Input is never silently dropped or merged, and config does what the README says: duplicate
YAML keys, model files the loader would not read, the dotted key form, topics added to the
defaults, the removed `alerting.pagerdutyService`, and cost in the stack's own region."""
import pytest
import yaml

from infra.config import ConfigError, load_platform_config
from infra.models.loader import ModelFileError, load_models
from preview_run import REPO_ROOT, run_preview
from tools.review import review_records
from tools.stack_files import StackFileError, load_stack_config

SOURCE = "stacks/Pulumi.prod.yaml"
RECSYS_TEXT = (REPO_ROOT / "models" / "recsys.yaml").read_text()
RECSYS = yaml.safe_load(RECSYS_TEXT)


def test_stack_file_with_two_cluster_blocks_stops_the_preview(tmp_path):
    text = (REPO_ROOT / "stacks" / "Pulumi.prod.yaml").read_text()
    path = tmp_path / "Pulumi.prod.yaml"
    # Two blocks: YAML's last-one-wins would drop system.maxSize: 20 without a word.
    path.write_text(text + "  mlops:cluster:\n    system:\n      maxSize: 20\n  mlops:cluster:\n    gpu:\n      desiredSize: 2\n")
    with pytest.raises(StackFileError) as exc:
        load_stack_config("prod", path)
    first, last = len(text.splitlines()) + 1, len(text.splitlines()) + 4
    assert str(exc.value) == f"{path}: line {last}: key mlops:cluster repeats the one on line {first} (only one may be given)"
    result = run_preview(tmp_path / "out", "prod", stack_file=path)
    assert result.returncode == 2 and result.stderr.strip() == str(exc.value)


def test_model_file_with_a_key_twice_is_refused(tmp_path):
    (tmp_path / "recsys.yaml").write_text(RECSYS_TEXT + "cacheTtlSeconds: 60\n")
    with pytest.raises(ModelFileError) as exc:
        load_models(tmp_path, ["serving"])
    [line] = exc.value.lines
    assert line.startswith(f"{tmp_path / 'recsys.yaml'}: line ") and "key cacheTtlSeconds repeats the one on line" in line


@pytest.mark.parametrize("entry, expected", [
    ("fraud.YAML", "{d}/fraud.YAML: is not read: model files are {d}/<name>.yaml or .yml, lowercase extension (got fraud.YAML)"),
    ("fraud.json", "{d}/fraud.json: is not read: model files are {d}/<name>.yaml or .yml, lowercase extension (got fraud.json)"),
    ("team-a/fraud.yaml", "{d}/team-a/: model files must lie directly in {d}/ as <name>.yaml; subfolders are not read"),
])
def test_model_files_the_loader_would_skip_are_refused(tmp_path, entry, expected):
    (tmp_path / "recsys.yaml").write_text(RECSYS_TEXT)
    (tmp_path / "README.md").write_text("docs are not model files\n")
    target = tmp_path / entry
    target.parent.mkdir(exist_ok=True)
    target.write_text(yaml.safe_dump({**RECSYS, "name": "fraud", "modelUri": "models:/fraud@champion"}))
    with pytest.raises(ModelFileError) as exc:
        load_models(tmp_path, ["serving"])
    assert exc.value.lines == [expected.format(d=tmp_path)]
    target.unlink()
    if target.parent != tmp_path:
        target.parent.rmdir()
    assert [m.name for m in load_models(tmp_path, ["serving"])] == ["recsys"]


def _load(**raw_overrides):
    return load_platform_config({**load_stack_config("prod"), **raw_overrides}, SOURCE)


def test_dotted_keys_as_the_reference_writes_them():
    nested = _load(**{"mlops:cluster": '{"gpu": {"maxSize": 6}}'})
    dotted = _load(**{"mlops:cluster.gpu.maxSize": "6"})
    assert nested.cluster.gpu.max_size == dotted.cluster.gpu.max_size == 6
    assert dotted == nested
    assert _load(**{"mlops:streaming.brokerVolumeGib": "2000"}).streaming.broker_volume_gib == 2000


def test_dotted_and_nested_forms_of_one_key_are_refused():
    with pytest.raises(ConfigError) as exc:
        _load(**{"mlops:cluster": '{"gpu": {"maxSize": 6}}', "mlops:cluster.gpu.maxSize": "5"})
    assert exc.value.lines == [f"{SOURCE}: mlops:cluster.gpu.maxSize is given twice, dotted and nested under mlops:cluster (keep one)"]
    with pytest.raises(ConfigError) as exc:
        _load(**{"mlops:cluster.gpu.maxSzie": "5"})
    assert exc.value.lines[0].startswith(f"{SOURCE}: mlops:cluster.gpu.maxSzie is not a known key")


def test_a_topic_added_in_a_stack_keeps_the_default_topics():
    cfg = _load(**{"mlops:streaming": '{"topics": [{"name": "fraud.events", "partitions": 6, "retentionHours": 48}]}'})
    assert [t.name for t in cfg.streaming.topics] == [
        "clickstream.events", "clickstream.events.dlq", "recommendations.served", "fraud.events"]
    # A default topic named again is changed in place, keeping what is not restated.
    cfg = _load(**{"mlops:streaming": '{"topics": [{"name": "clickstream.events", "partitions": 48}]}'})
    events = [t for t in cfg.streaming.topics if t.name == "clickstream.events"]
    assert len(cfg.streaming.topics) == 3 and len(events) == 1
    assert (events[0].partitions, events[0].retention_hours) == (48, 168)


def test_pagerduty_service_key_is_gone_rather_than_ignored(tmp_path):
    (tmp_path / "recsys.yaml").write_text(yaml.safe_dump({**RECSYS, "alerting": {"team": "recommendations", "pagerdutyService": "recs-oncall"}}))
    with pytest.raises(ModelFileError) as exc:
        load_models(tmp_path, ["serving"])
    assert exc.value.lines == [f"{tmp_path / 'recsys.yaml'}: alerting.pagerdutyService is not a known key (allowed: team)"]
    # Without `alerting`, alerts carry the owner team and page its service.
    (tmp_path / "recsys.yaml").write_text(yaml.safe_dump({k: v for k, v in RECSYS.items() if k != "alerting"}))
    [model] = load_models(tmp_path, ["serving"])
    assert model.alert_team == RECSYS["team"]


def test_cost_is_priced_in_the_stacks_region_or_not_at_all(stacks):
    from tools.cost import NoPriceTable, format_cost
    _, cost = review_records(stacks["dev"], "dev", "us-east-1")
    assert cost.region == "us-east-1" and "on-demand us-east-1" in format_cost(cost) and cost.monthly > 0
    _, cost = review_records(stacks["dev"], "dev", "eu-west-1")
    assert isinstance(cost, NoPriceTable)
    assert str(cost).startswith("no price table for eu-west-1 (pricing/aws-eu-west-1.yaml)")


def test_stack_files_pulumi_would_not_read_are_refused(tmp_path, monkeypatch):
    import tools.stack_files as stack_files
    from tools.preview import main
    for name in ("Pulumi.dev.yaml", "Pulumi.qa.yml", "pulumi.perf.yaml", "README.md"):
        (tmp_path / name).write_text("config: {}\n")
    monkeypatch.setattr(stack_files, "STACKS_DIR", tmp_path)
    assert stack_files.stray_stack_files() == [
        "stacks/Pulumi.qa.yml: is not read: stack files are stacks/Pulumi.<stack>.yaml (got Pulumi.qa.yml)",
        "stacks/pulumi.perf.yaml: is not read: stack files are stacks/Pulumi.<stack>.yaml (got pulumi.perf.yaml)"]
    assert stack_files.available_stacks() == ["dev"]
    assert main(["dev"]) == 2
