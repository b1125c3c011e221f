"""The ingest stage's definitions: one raw asset per delivered table (groups ``raw_<source>``) and the two
tables every raw load writes beside its data (group ``raw_ingest``)."""

import dagster as dg

from orchestration.defs.ingest.assets import raw_assets

INGEST_GROUP = "raw_ingest"

ingest_records = [
    dg.AssetSpec(
        ["ingest", "load_manifest"],
        group_name=INGEST_GROUP,
        description="Per delivered file: size, content hash, lines read / loaded / quarantined, status. "
        "Written by the raw assets as they load.",
        kinds={"parquet"},
    ),
    dg.AssetSpec(
        ["ingest", "quarantine"],
        group_name=INGEST_GROUP,
        description="Delivered lines that could not be parsed or typed, with the reason. Written by "
        "the raw assets; the offending lines themselves are kept only in private.duckdb.",
        kinds={"parquet"},
    ),
]

# The groups of the raw loads, as the raw assets name them: what a load of landing/ runs.
RAW_GROUPS = tuple(sorted({group for asset in raw_assets for group in asset.group_names_by_key.values()}))

defs = dg.Definitions(assets=[*raw_assets, *ingest_records])
