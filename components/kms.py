import pulumi
import pulumi_aws as aws


def rotating_key(name: str, description: str, alias: str, parent: pulumi.Resource) -> aws.kms.Key:
    """A customer-managed key with yearly automatic rotation, one per concern so that a key's
    grants (and its blast radius if mis-granted) stay within that concern."""
    key = aws.kms.Key(
        name,
        description=description,
        enable_key_rotation=True,
        # The maximum: a key deleted by mistake can be recovered for a month.
        deletion_window_in_days=30,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    aws.kms.Alias(name, name=f"alias/{alias}", target_key_id=key.key_id, opts=pulumi.ResourceOptions(parent=parent))
    return key
