import json

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


def log_group_key(name: str, log_group_name: str, region: str, parent: pulumi.Resource) -> aws.kms.Key:
    """A rotating key for one CloudWatch Logs group. CloudWatch Logs encrypts with it only for
    that group: the key policy names the group's ARN in the encryption context (CloudWatch Logs
    user guide, "Encrypt log data in CloudWatch Logs using AWS KMS"); the account keeps
    administering the key through IAM."""
    account = aws.get_caller_identity_output().account_id
    policy = account.apply(lambda acct: json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AccountAdministersThroughIam", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{acct}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "CloudWatchLogsForThisGroup", "Effect": "Allow",
         "Principal": {"Service": f"logs.{region}.amazonaws.com"},
         "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
         "Resource": "*",
         "Condition": {"ArnEquals": {
             "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{acct}:log-group:{log_group_name}"}}},
    ]}, sort_keys=True))
    key = aws.kms.Key(
        name,
        description=f"CloudWatch Logs {log_group_name}",
        enable_key_rotation=True,
        deletion_window_in_days=30,
        policy=policy,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return key
