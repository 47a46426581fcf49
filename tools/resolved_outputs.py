"""The SDK's outputs, made without a coroutine where the SDK already holds the value.

An Output's state is one future of `_OutputData` (value, known, secret, resources). Where the SDK
builds that future from parts, it runs a coroutine per output: a resource's property outputs
(`rpc.transfer_properties`) each await four futures the register path resolves together; the URN
the register path computes for every resource (`resource.create_urn`) is a chain of outputs over
strings it already has; and every resource computes its aliases' URNs the same way when it is
constructed (`resource.collapse_alias_to_urn`; pulumi_kubernetes gives a Deployment three aliases,
its former API versions), whether or not anything reads them. Every output is also tracked until
its future is done (`Output._track`: a set entry and a callback on the loop), even one made done.
Under the mocks this was most of the event loop's work: of the ~390 tasks a model file's 26
resources made, 136 were property coroutines, ~100 the resources' URNs and ~66 their aliases'
URNs; 142 of their outputs were tracked though born done (pulumi 3.272.0, counted 2026-11-30).

Here each of those futures is made whole, as the SDK itself makes a resource's `urn` and `id`
outputs (`resource.resource_output`): the same `_OutputData` (its own normalisation included),
the same exception when a registration fails, resolved when the SDK resolves its parts instead
of a few loop turns later; an alias under a parent resource is one `apply` on the parent's URN.
tests/test_resolved_outputs.py compares each with the SDK's; tests/test_preview_output.py
compares whole previews byte for byte with the SDK's own functions back.
"""
from __future__ import annotations

import asyncio
import functools
from typing import Any

import pulumi.resource
from pulumi.output import Output, _OutputData
from pulumi.resource import Alias, Resource
from pulumi.runtime import resource, rpc, settings

SDK_TRANSFER_PROPERTIES = rpc.transfer_properties
SDK_CREATE_URN = resource.create_urn
SDK_COLLAPSE_ALIAS_TO_URN = resource.collapse_alias_to_urn
SDK_TRACK = Output._track


def install(shortcuts: bool = True) -> None:
    """Puts this module's functions in place of the SDK's (the SDK looks each up in its module or
    class at every call), or the SDK's back."""
    rpc.transfer_properties = transfer_properties if shortcuts else SDK_TRANSFER_PROPERTIES
    resource.create_urn = create_urn if shortcuts else SDK_CREATE_URN
    # Resource.__init__ calls the name pulumi.resource imported.
    resource.collapse_alias_to_urn = pulumi.resource.collapse_alias_to_urn = (
        collapse_alias_to_urn if shortcuts else SDK_COLLAPSE_ALIAS_TO_URN)
    Output._track = _track if shortcuts else SDK_TRACK


def transfer_properties(res, props, custom: bool) -> dict[str, Any]:
    """`rpc.transfer_properties` (same signature and result): an output per property of `res`
    but `urn` (and a custom resource's `id`), each on one future its resolver sets whole."""
    resolvers = {}
    for name in props:
        if name == "urn" or (name == "id" and custom):
            continue
        data: asyncio.Future = asyncio.Future()
        resolvers[name] = functools.partial(_resolve_property, res, data)
        res.__dict__[name] = Output._from_data(data)
    return resolvers


def _resolve_property(res, data: asyncio.Future, value: Any, is_known: bool, is_secret: bool,
                      deps, failed: Exception | None) -> None:
    # The SDK's resolver: the property depends on its resource and on what the engine named;
    # a failed registration fails the output with the registration's exception.
    if failed is not None:
        data.set_exception(failed)
        return
    resources = set(deps) if deps else set()
    resources.add(res)
    data.set_result(_OutputData(resources=resources, value=value, is_known=is_known, is_secret=is_secret))


def create_urn(name, type_, parent=None, project=None, stack=None) -> Output:
    """`resource.create_urn` (same signature and result): for a str name and type and a parent
    URN given as a str (or none), the URN as a known, non-secret output with no resources, as the
    SDK's chain of outputs over those strings resolves; any other input (an Output, a parent
    resource) goes to the SDK."""
    if type(name) is not str or type(type_) is not str or not (parent is None or type(parent) is str):
        return SDK_CREATE_URN(name, type_, parent, project, stack)
    if parent is not None:
        return _known(_child_urn(parent, type_, name))
    stack = settings.get_stack() if stack is None else stack
    project = settings.get_project() if project is None else project
    return _known("urn:pulumi:" + stack + "::" + project + "::" + type_ + "::" + name)


def _child_urn(parent_urn: str, type_: str, name: str) -> str:
    # The SDK's create_urn under a parent: the parent's URN up to its last "::", then "$".
    return parent_urn[0:parent_urn.rfind("::")] + "$" + type_ + "::" + name


def collapse_alias_to_urn(alias, defaultName, defaultType, defaultParent) -> Output:  # noqa: N803 - the SDK's names
    """`resource.collapse_alias_to_urn` (same signature and result) for an `Alias` of str fields
    whose parent is a resource, a URN str or none: the alias's URN, known now, or once the parent
    resource's URN is (then depending on the parent, as the SDK's chain does). The SDK computes
    one for each alias of every resource it constructs (a Kubernetes Deployment has three, its
    former API versions), whether or not anything reads it. Any other alias, or one the SDK
    rejects (no name or type), goes to the SDK."""
    if type(alias) is not Alias:
        return SDK_COLLAPSE_ALIAS_TO_URN(alias, defaultName, defaultType, defaultParent)
    name = alias.name if alias.name is not ... else defaultName
    type_ = alias.type_ if alias.type_ is not ... else defaultType
    parent = alias.parent if alias.parent is not ... else defaultParent
    project = alias.project if alias.project is not ... and alias.project is not None else settings.get_project()
    stack = alias.stack if alias.stack is not ... and alias.stack is not None else settings.get_stack()
    if not (type(name) is str and type(type_) is str and type(project) is str and type(stack) is str):
        return SDK_COLLAPSE_ALIAS_TO_URN(alias, defaultName, defaultType, defaultParent)
    if parent is None or type(parent) is str:
        return create_urn(name, type_, parent, project, stack)
    if isinstance(parent, Resource):
        return parent.urn.apply(lambda urn: _child_urn(urn, type_, name))
    return SDK_COLLAPSE_ALIAS_TO_URN(alias, defaultName, defaultType, defaultParent)


def _known(value: str) -> Output:
    # What Output.from_input makes of a str, without the checks for what else an input may be.
    data: asyncio.Future = asyncio.Future()
    data.set_result(_OutputData(resources=set(), value=value, is_known=True, is_secret=False))
    return Output._from_data(data)


def _track(self: Output) -> None:
    # `Output._track` keeps an output's future in the runtime's set until it is done, so that the
    # end of the program awaits it and raises its exception. A future done with a value when the
    # output is made has nothing to await or raise: the SDK would add it and remove it again on
    # the next turn of the loop.
    data = self._data
    if data.done() and not data.cancelled() and data.exception() is None:
        return
    SDK_TRACK(self)
