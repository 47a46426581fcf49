import json
import subprocess
import sys

from preview_run import REPO_ROOT, STACKS, run_preview_in_fresh_interpreter


def test_two_previews_are_byte_identical(preview_dir, tmp_path):
    # The shared preview forks every stack from one warm process (tools/warm.py); here each stack
    # runs alone in a fresh interpreter, as `pulumi up` would. Same bytes, or the fork leaks state.
    again = tmp_path / "again"
    for stack in STACKS:
        assert run_preview_in_fresh_interpreter(again, stack).returncode == 0, stack
    assert_same_files(preview_dir, again)


def test_the_engines_fast_path_changes_no_byte(preview_dir, tmp_path):
    # tools/engine.py, tools/recorder.py, tools/plain_rpc.py and tools/resolved_outputs.py leave
    # the SDK's stock path (its stack walk, the thread pool between program and monitor, the
    # collector during the run, its conversions of plain values, its coroutine per output, its
    # debug lines); with every one of them back, same bytes.
    stock = ("import sys, pulumi.runtime.resource as r, tools.engine as e\n"
             "assert e.FAST_PATH and e.SDK_STACK_TRACE is not None and r._get_stack_trace is not e.SDK_STACK_TRACE\n"
             "e.use_sdk_stock_path()\n"
             "assert not e.FAST_PATH and r._get_stack_trace is e.SDK_STACK_TRACE\n"
             "import pulumi.log, pulumi.runtime.rpc as rpc, tools.resolved_outputs as o\n"
             "assert pulumi.log.debug is e.SDK_LOG_DEBUG and rpc.transfer_properties is o.SDK_TRANSFER_PROPERTIES\n"
             "from tools.preview import main\n"
             f"sys.exit(main(['--out', {str(tmp_path)!r}, *{list(STACKS)!r}]))")
    done = subprocess.run([sys.executable, "-c", stock], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert_same_files(preview_dir, tmp_path)


def assert_same_files(expected, actual):
    """Every stack's preview under `actual` is the one under `expected`: same files, same bytes."""
    files = sorted(p.relative_to(expected) for p in expected.rglob("*") if p.is_file())
    assert len(files) >= 4 * len(STACKS)  # resources, summary, review and Kubernetes files
    assert files == sorted(p.relative_to(actual) for p in actual.rglob("*") if p.is_file())
    for rel in files:
        assert (actual / rel).read_bytes() == (expected / rel).read_bytes(), rel


def test_resources_json_shape_sorted_by_urn(stacks):
    for resources in stacks.values():
        assert [r["urn"] for r in resources] == sorted(r["urn"] for r in resources)
        for r in resources:
            assert set(r) - {"ignoreChanges"} == {"urn", "type", "name", "parent", "inputs"}
        # The node groups' desiredSize belongs to the cluster autoscaler after creation.
        ignoring = [(r["name"], r["ignoreChanges"]) for r in resources if "ignoreChanges" in r]
        assert ignoring == [("nodes-gpu", ["scalingConfig.desiredSize"]), ("nodes-system", ["scalingConfig.desiredSize"])]


def test_components_use_mlops_type_tokens_and_children_are_parented(stacks):
    for resources in stacks.values():
        components = [r for r in resources if r["type"].startswith("mlops:")]
        assert len(components) >= 10
        assert all(len(r["type"].split(":")) == 3 for r in components)
        # Every cloud or cluster resource belongs to a component, none hangs off the stack.
        top_level_custom = [
            r for r in resources
            if r["parent"] and r["parent"].split("::")[-2] == "pulumi:pulumi:Stack"
            and not r["type"].startswith(("mlops:", "pulumi:providers:"))
        ]
        assert top_level_custom == []


def test_secrets_never_reach_the_preview(preview_dir):
    for stack in STACKS:
        text = (preview_dir / stack / "resources.json").read_text()
        assert "mock-" not in text  # the mock engine's generated passwords and tokens
        data = json.loads(text)
        passwords = [r for r in data if r["type"] == "random:index/randomPassword:RandomPassword"]
        assert passwords


def test_the_manifests_yaml_is_what_safe_dump_writes(stacks):
    # tools/yaml_dump.py writes most manifests through libyaml's emitter, some with values PyYAML
    # writes, and the rest through PyYAML's with its analysis of a string reused across
    # documents; every manifest and release of every stack must come out as yaml.safe_dump writes it.
    import yaml

    from tools.render import kubernetes_document
    from tools.yaml_dump import dump_yaml, yaml_path

    documents = [doc[1] for resources in stacks.values() for r in resources
                 if (doc := kubernetes_document(r)) is not None]
    assert len(documents) >= 100
    paths = [yaml_path(body) for body in documents]
    assert paths.count("libyaml") >= len(documents) // 2
    assert paths.count("libyaml+pyyaml-values") >= 3  # a model's PrometheusRule, at least
    for body in documents:
        assert dump_yaml(body) == yaml.safe_dump(body, sort_keys=True, default_flow_style=False)
