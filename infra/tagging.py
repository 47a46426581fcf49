"""Every taggable AWS resource carries the platform's cost and ownership tags.

Applied as a stack transformation (client-side, before registration) rather than provider
default_tags, so the tags are in each resource's own inputs: visible in the offline preview,
checked by the policy pack, and identical with or without the Pulumi CLI."""
import pulumi


def register_tagging(tags: dict[str, str]) -> None:
    def add_tags(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        if not args.type_.startswith("aws:") or "tags" not in args.props:
            return None
        props = dict(args.props)
        # Resource-specific tags (e.g. Name, subnet roles) win over nothing; the four platform
        # tags are not overridable by a component.
        props["tags"] = {**(props.get("tags") or {}), **tags}
        return pulumi.ResourceTransformationResult(props, args.opts)

    pulumi.runtime.register_stack_transformation(add_tags)
