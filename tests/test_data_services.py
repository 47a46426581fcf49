import json

from preview_run import of_type, one


def test_msk_tls_only_iam_auth_encrypted_one_broker_per_zone(stacks):
    for stack, resources in stacks.items():
        msk = one(resources, "aws:msk/cluster:Cluster")["inputs"]
        assert msk["encryptionInfo"]["encryptionInTransit"] == {"clientBroker": "TLS", "inCluster": True}
        assert msk["encryptionInfo"]["encryptionAtRestKmsKeyArn"].startswith("arn:aws:kms:")
        assert msk["clientAuthentication"] == {"sasl": {"iam": True}, "unauthenticated": False}
        assert msk["numberOfBrokerNodes"] == 3
        assert msk["loggingInfo"]["brokerLogs"]["cloudwatchLogs"]["enabled"] is True
        props = one(resources, "aws:msk/configuration:Configuration")["inputs"]["serverProperties"]
        assert "auto.create.topics.enable=false" in props
        if stack != "dev":
            assert "default.replication.factor=3" in props and "min.insync.replicas=2" in props


def test_topics_declared_with_partitions_and_retention(stacks):
    for resources in stacks.values():
        topics = {t["inputs"]["name"]: t["inputs"] for t in of_type(resources, "aws:msk/topic:Topic")}
        assert {"clickstream.events", "clickstream.events.dlq"} <= set(topics)
        assert topics["clickstream.events"]["partitionCount"] == 24
        assert json.loads(topics["clickstream.events"]["configs"])["retention.ms"] == str(168 * 3600 * 1000)


def test_data_services_admit_only_the_cluster_security_group(stacks):
    for resources in stacks.values():
        rules = of_type(resources, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        assert {r["inputs"]["fromPort"] for r in rules} == {9098, 6379, 5432}
        for r in rules:
            assert r["inputs"]["referencedSecurityGroupId"] == "sg-cluster-cluster"
            assert "cidrIpv4" not in r["inputs"] and "cidrIpv6" not in r["inputs"]


def test_cache_tls_auth_encrypted_failover_outside_dev(stacks):
    for stack, resources in stacks.items():
        cache = one(resources, "aws:elasticache/replicationGroup:ReplicationGroup")["inputs"]
        assert cache["transitEncryptionEnabled"] is True and cache["atRestEncryptionEnabled"] is True
        assert cache["authToken"] == "[secret]"
        assert cache["automaticFailoverEnabled"] is (stack != "dev")
        assert cache["multiAzEnabled"] is (stack != "dev")
        assert cache["numCacheClusters"] == {"dev": 1, "staging": 2, "prod": 3}[stack]
        secrets = [s["inputs"]["secretString"] for s in of_type(resources, "aws:secretsmanager/secretVersion:SecretVersion")]
        assert secrets and all(s == "[secret]" for s in secrets)


def test_databases_private_encrypted_backed_up_protected_outside_dev(stacks):
    for stack, resources in stacks.items():
        dbs = of_type(resources, "aws:rds/instance:Instance")
        assert {d["inputs"]["dbName"] for d in dbs} == {"mlflow", "airflow"}
        for d in dbs:
            i = d["inputs"]
            assert i["storageEncrypted"] is True and i["publiclyAccessible"] is False
            assert i["password"] == "[secret]"
            assert i["backupRetentionPeriod"] >= 1
            assert i["multiAz"] is (stack != "dev")
            # Staging mirrors prod: protected, with a final snapshot.
            assert i["deletionProtection"] is (stack != "dev")
            assert i["skipFinalSnapshot"] is (stack == "dev")
