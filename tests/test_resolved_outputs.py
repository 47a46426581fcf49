"""tools/resolved_outputs.py against the SDK's own functions (pulumi 3.272.0): the same outputs,
made without a coroutine each. tests/test_preview_output.py compares whole previews."""
import asyncio
import contextlib
import gc

import pulumi
import pytest
from pulumi.output import Output, Unknown, _OutputData
from pulumi.runtime import resource, rpc
from pulumi.runtime.settings import SETTINGS

import tools.engine  # noqa: F401 - installs the shortcuts, as a preview does
from tools import resolved_outputs

from sdk_stock import run_on_own_loop


class _Resource:
    """What the functions need of a resource: attributes, and hashing (a dependency set holds it)."""

    def __init__(self, name: str = "res"):
        self.name = name


@pytest.fixture(autouse=True)
def _shortcuts_back():
    yield
    resolved_outputs.install()
    # The SDK's failed outputs leave futures whose exception nobody retrieved; collected later,
    # their finalizer logs from inside whatever runs then (in a forked preview, an ast.parse:
    # CPython 3.11.7 raised "AST constructor recursion depth mismatch"). Collected here.
    gc.collect()


def _run(main):
    return run_on_own_loop(main())


@contextlib.contextmanager
def _functions(shortcuts: bool):
    resolved_outputs.install(shortcuts)
    try:
        yield
    finally:
        resolved_outputs.install()


def _sdk_and_ours(make):
    """`make()`'s result with the SDK's functions, then with this module's."""
    with _functions(False):
        sdk = make()
    with _functions(True):
        return sdk, make()


async def _state(output: Output):
    data = await output._data
    return data.value, data.is_known, data.is_secret, data.resources


@pytest.mark.parametrize(("value", "is_known", "is_secret", "with_deps"), [
    ("recsys", True, False, True),
    ({"replicas": 3, "labels": {"app": "x"}}, True, True, False),
    (None, False, False, True),                   # unknown during a preview
    ({"later": Unknown()}, True, False, False),   # an unknown inside: the output is not known
])
def test_a_property_output_resolves_as_the_sdks(value, is_known, is_secret, with_deps):
    async def main():
        dependency = _Resource("dependency")
        states = []
        for shortcuts in (False, True):
            with _functions(shortcuts):
                res = _Resource()
                resolvers = rpc.transfer_properties(res, {"id": None, "urn": None, "spec": None, "status": None}, True)
                assert sorted(resolvers) == ["spec", "status"] and "id" not in vars(res)
                resolvers["spec"](value, is_known, is_secret, {dependency} if with_deps else None, None)
                value_, known, secret, resources = await _state(res.spec)
            states.append((repr(value_), known, secret, {r.name for r in resources}))
            assert not res.status._data.done()
        return states

    sdk, ours = _run(main)
    assert ours == sdk
    assert sdk[3] == ({"res", "dependency"} if with_deps else {"res"})


def test_a_component_keeps_its_id_property():
    # Only a custom resource's id is the SDK's own output; a component's is a property.
    component = _Resource()
    sdk, ours = _sdk_and_ours(lambda: sorted(rpc.transfer_properties(component, {"id": None, "urn": None}, False)))
    assert ours == sdk == ["id"]


def test_a_failed_registration_fails_the_property_output_with_its_exception():
    async def main():
        raised = []
        for shortcuts in (False, True):
            with _functions(shortcuts):
                res = _Resource()
                failure = RuntimeError("registration failed")
                rpc.transfer_properties(res, {"spec": None}, True)["spec"](None, False, False, None, failure)
            with pytest.raises(RuntimeError) as caught:
                await res.spec._data
            raised.append(caught.value is failure)
        return raised

    assert _run(main) == [True, True]


@pytest.mark.parametrize(("name", "type_", "parent", "project", "stack"), [
    ("recsys", "kubernetes:core/v1:ConfigMap", None, "xyz-mlops", "dev"),
    ("recsys", "kubernetes:core/v1:ConfigMap", "urn:pulumi:dev::xyz-mlops::mlops:serving:Model::recsys", None, None),
    ("a", "t:index:T", "no-separator", None, None),
    ("a", "t:index:T", "", None, None),
])
def test_a_urn_of_strings_is_the_sdks(name, type_, parent, project, stack):
    async def main():
        sdk, ours = _sdk_and_ours(lambda: resource.create_urn(name, type_, parent, project, stack))
        return await _state(sdk), await _state(ours)

    sdk, ours = _run(main)
    assert ours == sdk
    assert sdk[1:] == (True, False, set())


def test_a_urn_of_outputs_is_left_to_the_sdk():
    async def main():
        name = Output.secret("recsys")
        sdk, ours = _sdk_and_ours(lambda: resource.create_urn(name, "t:index:T", None, "p", "s"))
        return await _state(sdk), await _state(ours)

    sdk, ours = _run(main)
    assert ours == sdk == ("urn:pulumi:s::p::t:index:T::recsys", True, True, set())


@pytest.fixture
def _project_and_stack():
    saved = SETTINGS.project, SETTINGS.stack
    SETTINGS.project, SETTINGS.stack = "xyz-mlops", "dev"
    yield
    SETTINGS.project, SETTINGS.stack = saved


def _parent(urn: str | None) -> pulumi.CustomResource:
    """A resource as a child's alias sees its parent: its URN output (None: not known)."""
    parent = object.__new__(pulumi.CustomResource)
    data = asyncio.get_running_loop().create_future()
    data.set_result(_OutputData(resources={parent}, value=urn, is_known=urn is not None, is_secret=False))
    parent.__dict__["urn"] = Output._from_data(data)
    return parent


PARENT_URN = "urn:pulumi:dev::xyz-mlops::mlops:serving:ModelServing::recsys"


@pytest.mark.parametrize(("alias", "parent"), [
    (pulumi.Alias(type_="kubernetes:apps/v1beta1:Deployment"), None),      # what pulumi_kubernetes adds
    (pulumi.Alias(type_="kubernetes:apps/v1beta1:Deployment"), PARENT_URN),
    (pulumi.Alias(name="old-name"), "unknown"),                           # the parent's URN not known yet
    (pulumi.Alias(name="old", parent=PARENT_URN), None),                  # a parent given as a URN
    (pulumi.Alias(name="old", parent="no-separator"), None),
    (pulumi.Alias(stack="prod", project="other", parent=None), PARENT_URN),
    ("urn:pulumi:dev::xyz-mlops::t:index:T::given", None),                # a URN: the SDK's
    (pulumi.Alias(name=Output.from_input("from-an-output")), None),       # an Output: the SDK's
])
def test_an_alias_urn_is_the_sdks(alias, parent, _project_and_stack):
    async def main():
        states = []
        for shortcuts in (False, True):
            with _functions(shortcuts):
                default_parent = None if parent is None else _parent(None if parent == "unknown" else parent)
                urn = resource.collapse_alias_to_urn(alias, "recsys", "kubernetes:apps/v1:Deployment", default_parent)
            value, known, secret, resources = await _state(urn)
            states.append((value, known, secret, [r is default_parent for r in resources]))
        return states

    sdk, ours = _run(main)
    assert ours == sdk
    assert sdk[1] is (parent != "unknown")


def test_an_alias_the_sdk_rejects_fails_alike(_project_and_stack):
    async def main():
        messages = []
        for shortcuts in (False, True):
            with _functions(shortcuts):
                urn = resource.collapse_alias_to_urn(pulumi.Alias(name=None), "recsys", "t:index:T", None)
            with pytest.raises(Exception) as caught:
                await urn._data
            messages.append(str(caught.value))
        return messages

    assert _run(main) == ["No valid 'name' passed in for alias."] * 2


def test_a_resource_collapses_its_aliases_through_the_shortcut():
    # Resource.__init__ calls the name pulumi.resource imported, not the runtime module's.
    assert pulumi.resource.collapse_alias_to_urn is resolved_outputs.collapse_alias_to_urn
    resolved_outputs.install(shortcuts=False)
    assert pulumi.resource.collapse_alias_to_urn is resolved_outputs.SDK_COLLAPSE_ALIAS_TO_URN


def test_only_outputs_still_to_settle_are_tracked():
    async def main():
        tracked = []
        for shortcuts in (False, True):
            SETTINGS.outputs.clear()
            with _functions(shortcuts):
                done = Output.from_input("known now")
                failed_data = asyncio.get_running_loop().create_future()
                failed_data.set_exception(ValueError("bad"))
                failed = Output._from_data(failed_data)
                pending = Output._from_data(asyncio.get_running_loop().create_future())
            await asyncio.sleep(0)  # the SDK drops a settled future on the loop's next turn
            tracked.append((done._data in SETTINGS.outputs, failed._data in SETTINGS.outputs,
                            pending._data in SETTINGS.outputs))
            SETTINGS.outputs.clear()
        return tracked

    # The end of a program awaits what is tracked: a failure is raised there, a pending output awaited.
    assert _run(main) == [(False, True, True), (False, True, True)]
