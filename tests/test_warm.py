"""tools/warm.py: the fork-after-import runner the preview and the diff share."""
import gc
import os
import sys
from pathlib import Path

import pulumi

from tools.warm import preload, run_forked, sdk_references

REPO_ROOT = Path(__file__).resolve().parent.parent


def _prints_and_returns(code: int, text: str):
    def job() -> int:
        print(f"out {text}")
        print(f"err {text}", file=sys.stderr)
        return code
    return job


def test_outcomes_come_back_in_job_order_with_their_own_output():
    jobs = [_prints_and_returns(code, str(code)) for code in (0, 3, 2, 0, 5)]
    outcomes = run_forked(jobs, width=2)
    assert [o.code for o in outcomes] == [0, 3, 2, 0, 5]
    assert [o.stdout for o in outcomes] == [f"out {c}\n" for c in (0, 3, 2, 0, 5)]
    assert [o.stderr for o in outcomes] == [f"err {c}\n" for c in (0, 3, 2, 0, 5)]


def test_a_raising_job_exits_1_with_its_traceback_and_sys_exit_keeps_its_code():
    def boom() -> int:
        raise ValueError("bad stack")

    def exits() -> int:
        raise SystemExit(2)

    raised, exited = run_forked([boom, exits], width=1)
    assert raised.code == 1 and "ValueError: bad stack" in raised.stderr
    assert exited.code == 2


def test_children_do_not_change_the_parent():
    def mutate() -> int:
        os.environ["MLOPS_WARM_TEST"] = "child"
        return 0

    [outcome] = run_forked([mutate])
    assert outcome.code == 0
    assert "MLOPS_WARM_TEST" not in os.environ


def test_large_output_does_not_block_the_child():
    # More than a pipe buffer (64 KiB) on both streams: the runner must read while it waits.
    def chatty() -> int:
        sys.stdout.write("o" * 300_000)
        sys.stderr.write("e" * 300_000)
        return 0

    [outcome] = run_forked([chatty])
    assert (len(outcome.stdout), len(outcome.stderr)) == (300_000, 300_000)


def test_sdk_references_follow_import_aliases_to_resource_classes():
    refs = set(sdk_references(REPO_ROOT))
    # components/ declares these through `import pulumi_aws as aws` and `import pulumi_kubernetes as k8s`.
    assert ("pulumi_aws", "eks", "Cluster") in refs
    assert ("pulumi_kubernetes", "helm", "v3", "Release") in refs


def test_preload_resolves_classes_not_modules_of_the_same_name():
    # pulumi_kubernetes.apiextensions has a module CustomResource.py beside the class it exports;
    # importing the module by name would shadow the class and break every custom resource.
    preload(REPO_ROOT)
    import pulumi_kubernetes as k8s
    assert isinstance(k8s.apiextensions.CustomResource, type)
    assert issubclass(k8s.apiextensions.CustomResource, pulumi.CustomResource)


def test_preload_freezes_what_it_imported_and_leaves_the_collector_as_it_found_it():
    # Frozen objects are skipped by every later collection, the forked children's included;
    # the collector must still run afterwards (garbage made later is collected as before).
    gc.unfreeze()
    assert gc.isenabled()
    preload(REPO_ROOT)
    assert gc.isenabled()
    assert gc.get_freeze_count() > 100_000  # the SDK modules: hundreds of thousands of objects
    gc.unfreeze()
    gc.disable()
    try:
        preload(REPO_ROOT)
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


def test_sdk_references_skip_no_file_that_names_an_sdk(tmp_path):
    # Files without a lazy SDK's name are not parsed; one that imports an SDK under an alias
    # is, and a file with a syntax error is passed over rather than stopping the walk.
    (tmp_path / "components").mkdir()
    (tmp_path / "components" / "a.py").write_text("import pulumi_aws as cloud\ncloud.s3.Bucket('b')\n")
    (tmp_path / "components" / "b.py").write_text("import json\njson.dumps({})\n")
    (tmp_path / "components" / "c.py").write_text("import pulumi_random\ndef broken(:\n")
    # Every prefix of an attribute chain is a reference: `cloud.s3` loads the module first.
    assert sdk_references(tmp_path) == [("pulumi_aws", "s3"), ("pulumi_aws", "s3", "Bucket")]
