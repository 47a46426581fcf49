"""Airflow's metadata-DB wiring is one the apache-airflow chart can run: every component reaches the
database named in the Secret, never a host the chart makes up.

The chart's production guide ("PgBouncer", "Database credentials stored Kubernetes Secret"):
with data.metadataSecretName, PgBouncer needs pgbouncer.configSecretName (pgbouncer.ini with
the external host, users.txt) and metricsExporterSidecar.statsSecretName, and the metadata
Secret must point at the PgBouncer service; otherwise the chart writes pgbouncer.ini from
data.metadataConnection, whose default host is the chart's own (disabled) PostgreSQL.
"""
from preview_run import of_type, one

SECRET = "kubernetes:core/v1:Secret"


def wiring_faults(values: dict, secrets: set[str]) -> list[str]:
    """Why the chart's metadata-DB values cannot work; `secrets` are the Secrets of the namespace."""
    faults = []
    data = values.get("data", {})
    secret = data.get("metadataSecretName")
    if secret is None:
        faults.append("data.metadataSecretName unset: the chart would use data.metadataConnection's defaults")
    elif secret not in secrets:
        faults.append(f"data.metadataSecretName {secret!r}: no such Secret declared")
    if values.get("postgresql", {}).get("enabled", True):
        faults.append("postgresql.enabled: the chart's own PostgreSQL, not RDS")
    pgbouncer = values.get("pgbouncer", {})
    if pgbouncer.get("enabled") and secret is not None:
        if pgbouncer.get("configSecretName") not in secrets:
            faults.append("pgbouncer.configSecretName: PgBouncer with a metadata Secret needs its own config Secret")
        stats = pgbouncer.get("metricsExporterSidecar", {}).get("statsSecretName")
        if stats not in secrets:
            faults.append("pgbouncer.metricsExporterSidecar.statsSecretName: needed with a metadata Secret")
    return faults


def test_every_stack_wires_airflow_to_its_database(stacks):
    assert len(stacks) == 3
    for stack, resources in stacks.items():
        values = one(resources, "kubernetes:helm.sh/v3:Release", "airflow")["inputs"]["values"]
        secrets = {s["inputs"]["metadata"]["name"] for s in of_type(resources, SECRET)
                   if s["inputs"]["metadata"].get("namespace") == "airflow"}
        assert wiring_faults(values, secrets) == [], stack
        # The Secret the chart reads carries the connection string under the key it expects.
        metadata = [s for s in of_type(resources, SECRET)
                    if s["inputs"]["metadata"] == {"name": values["data"]["metadataSecretName"], "namespace": "airflow"}]
        assert len(metadata) == 1 and set(metadata[0]["inputs"]["stringData"]) == {"connection"}, stack


def test_pgbouncer_with_a_metadata_secret_and_no_config_secret_is_a_fault():
    # What staging and prod shipped: PgBouncer on, metadata Secret, no PgBouncer secrets.
    shipped = {"postgresql": {"enabled": False}, "data": {"metadataSecretName": "airflow-metadata"},
               "pgbouncer": {"enabled": True}}
    assert len(wiring_faults(shipped, {"airflow-metadata"})) == 2
    # The guide's wiring passes; PgBouncer off passes.
    guide = {**shipped, "pgbouncer": {"enabled": True, "configSecretName": "airflow-pgbouncer-config",
                                      "metricsExporterSidecar": {"statsSecretName": "airflow-pgbouncer-stats"}}}
    assert wiring_faults(guide, {"airflow-metadata", "airflow-pgbouncer-config", "airflow-pgbouncer-stats"}) == []
    assert wiring_faults({**shipped, "pgbouncer": {"enabled": False}}, {"airflow-metadata"}) == []
    # A config Secret named but never declared is still a fault.
    assert len(wiring_faults(guide, {"airflow-metadata", "airflow-pgbouncer-stats"})) == 1


def test_a_metadata_secret_that_is_not_declared_or_the_charts_own_database_is_a_fault():
    values = {"postgresql": {"enabled": False}, "data": {"metadataSecretName": "airflow-metadata"}}
    assert wiring_faults(values, {"airflow-metadata"}) == []
    assert len(wiring_faults(values, set())) == 1
    assert len(wiring_faults({"data": {"metadataSecretName": "airflow-metadata"}}, {"airflow-metadata"})) == 1
    assert len(wiring_faults({"postgresql": {"enabled": False}}, set())) == 1
