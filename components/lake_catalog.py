"""The Glue Data Catalog over the lake and the Athena workgroup that queries it in place.

Tables are schema-on-read over the zone buckets: the raw clickstream table (columns from the
lake contract, the same file the pipeline validates against) is also the schema Firehose
converts JSON to Parquet with; the features table covers the pipeline's output. Partitions are
found by partition projection, so no crawler or `MSCK REPAIR` has to run after each delivery."""
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .kms import rotating_key
from .secure_bucket import SecureBucket, SecureBucketArgs, global_bucket_name

PARQUET_STORAGE = {
    "input_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "output_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "ser_de_info": {"serialization_library": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                    "parameters": {"serialization.format": "1"}},
}
# First day partition projection enumerates for the raw zone; earlier dates are never queried.
PROJECTION_START = "2026-01-01"


@dataclass(frozen=True)
class TableColumn:
    name: str
    glue_type: str
    comment: str = ""


@dataclass(frozen=True)
class RawTable:
    """One lake topic's raw table: s3://<raw bucket>/<prefix>/dt=YYYY-MM-DD/hour=HH/."""
    name: str
    prefix: str
    columns: list[TableColumn]


@dataclass(frozen=True)
class LakeCatalogArgs:
    name: str
    account_id: str
    region: str
    raw_bucket: pulumi.Input[str]
    features_bucket: pulumi.Input[str]
    raw_tables: list[RawTable]
    features_prefix: str
    features_columns: list[TableColumn]
    athena_bytes_scanned_cutoff_mib: int
    athena_results_retention_days: int
    force_destroy: bool
    noncurrent_version_expiration_days: int
    access_log_bucket: pulumi.Input[str]


def glue_database_name(stack_name: str) -> str:
    """Glue database names are lowercase letters, digits and '_' (Athena rejects '-')."""
    return f"{stack_name.replace('-', '_')}_lake"


def raw_table_parameters(bucket: str, prefix: str) -> dict[str, str]:
    """Athena partition projection for dt=YYYY-MM-DD/hour=HH (Athena's `projection.*` keys)."""
    return {
        "classification": "parquet",
        "EXTERNAL": "TRUE",
        "projection.enabled": "true",
        "projection.dt.type": "date",
        "projection.dt.format": "yyyy-MM-dd",
        "projection.dt.range": f"{PROJECTION_START},NOW",
        "projection.dt.interval": "1",
        "projection.dt.interval.unit": "DAYS",
        "projection.hour.type": "integer",
        "projection.hour.range": "0,23",
        "projection.hour.digits": "2",
        "storage.location.template": f"s3://{bucket}/{prefix}/dt=${{dt}}/hour=${{hour}}/",
    }


class LakeCatalog(pulumi.ComponentResource):
    database_name: pulumi.Output[str]
    table_names: dict[str, pulumi.Output[str]]
    workgroup_name: pulumi.Output[str]

    def __init__(self, name: str, args: LakeCatalogArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:data:LakeCatalog", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        database = aws.glue.CatalogDatabase(
            f"{name}-db",
            name=glue_database_name(args.name),
            description=f"Lake zones of {args.name}: raw events and features",
            opts=child,
        )

        def columns(cols: list[TableColumn]) -> list[dict]:
            return [{"name": c.name, "type": c.glue_type, **({"comment": c.comment} if c.comment else {})} for c in cols]

        self.table_names = {}
        for table in args.raw_tables:
            raw = aws.glue.CatalogTable(
                f"{name}-raw-{table.name}",
                name=table.name,
                database_name=database.name,
                table_type="EXTERNAL_TABLE",
                description=f"Raw {table.name} events as Firehose delivers them (Parquet)",
                parameters=pulumi.Output.from_input(args.raw_bucket).apply(
                    lambda bucket, prefix=table.prefix: raw_table_parameters(bucket, prefix)),
                partition_keys=[{"name": "dt", "type": "string"}, {"name": "hour", "type": "string"}],
                storage_descriptor={
                    **PARQUET_STORAGE,
                    "location": pulumi.Output.concat("s3://", args.raw_bucket, f"/{table.prefix}/"),
                    "columns": columns(table.columns),
                },
                opts=child,
            )
            self.table_names[table.name] = raw.name

        # The pipeline writes s3://<features bucket>/<prefix>/<model>/: `model` is an injected
        # projection, so every query names its model and reads only that model's files.
        features = aws.glue.CatalogTable(
            f"{name}-features",
            name="features",
            database_name=database.name,
            table_type="EXTERNAL_TABLE",
            description="Training features per model, written by the pipeline (Parquet)",
            parameters=pulumi.Output.from_input(args.features_bucket).apply(lambda bucket: {
                "classification": "parquet",
                "EXTERNAL": "TRUE",
                "projection.enabled": "true",
                "projection.model.type": "injected",
                "storage.location.template": f"s3://{bucket}/{args.features_prefix}/${{model}}/",
            }),
            partition_keys=[{"name": "model", "type": "string"}],
            storage_descriptor={
                **PARQUET_STORAGE,
                "location": pulumi.Output.concat("s3://", args.features_bucket, f"/{args.features_prefix}/"),
                "columns": columns(args.features_columns),
            },
            opts=child,
        )
        self.table_names["features"] = features.name

        # Query results hold lake data: their own bucket and key, expired after the retention.
        results_key = rotating_key(f"{name}-results-key", f"Athena results of {args.name}", f"{args.name}-athena-results", self)
        results = SecureBucket(f"{name}-results", SecureBucketArgs(
            bucket_name=global_bucket_name(args.name, "athena-results", args.account_id, args.region),
            force_destroy=args.force_destroy,
            noncurrent_version_expiration_days=args.noncurrent_version_expiration_days,
            kms_key_arn=results_key.arn,
            access_log_bucket=args.access_log_bucket,
            lifecycle_rules=[{"id": "expire-results", "status": "Enabled", "filter": {},
                              "expiration": {"days": args.athena_results_retention_days}}],
        ), opts=child)
        workgroup = aws.athena.Workgroup(
            f"{name}-workgroup",
            name=f"{args.name}-lake",
            description=f"Queries over the lake of {args.name}",
            state="ENABLED",
            force_destroy=args.force_destroy,
            configuration={
                # Clients cannot override the location, the encryption or the scan limit.
                "enforce_workgroup_configuration": True,
                "publish_cloudwatch_metrics_enabled": True,
                "bytes_scanned_cutoff_per_query": args.athena_bytes_scanned_cutoff_mib * 1024 * 1024,
                "result_configuration": {
                    "output_location": pulumi.Output.concat("s3://", results.id, "/"),
                    "encryption_configuration": {"encryption_option": "SSE_KMS", "kms_key_arn": results_key.arn},
                    "expected_bucket_owner": args.account_id,
                },
            },
            opts=child,
        )

        self.database_name = database.name
        self.database_arn = pulumi.Output.concat("arn:aws:glue:", args.region, ":", args.account_id, ":database/", database.name)
        self.workgroup_name = workgroup.name
        self.results_bucket_arn = results.arn
        self.results_key_arn = results_key.arn
        self.register_outputs({"database": database.name, "tables": self.table_names, "workgroup": workgroup.name})
