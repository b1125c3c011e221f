"""An empty raw table for a source table the company has never delivered (a company without tracking).

The dbt sources read ``raw/<source>/<table>/*/*.parquet``; a pattern matching no file is an error in
DuckDB (and Spark cannot infer a schema from an empty folder), so a company without a source could not
build anything. Once a raw table has no file at all, its load writes one file with no rows and exactly
the columns an empty delivery of the table would have (typed and protected by the same code), in the
run's arrival day: every model then sees an empty table. No load manifest row is written (nothing was
delivered), so the quality gates still see the source as missing (``quality: sources: auto``).
"""

from __future__ import annotations

import gzip
import os
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

from orchestration.defs.ingest.loader import parse_file, read_file
from orchestration.lib.layout import DataLayout
from orchestration.lib.personal_data import protect_table
from orchestration.lib.rules import JunkRules
from orchestration.lib.sources import TableSpec

PLACEHOLDER_NAME = "never_delivered.parquet"


def ensure_raw_table(
    layout: DataLayout, spec: TableSpec, day: str, hash_key: bytes, junk: JunkRules
) -> Path | None:
    """Write the empty file of ``spec``'s raw table in arrival day ``day`` if the table has no file at all;
    returns its path, or None when the table already has a file."""
    table_dir = layout.raw_table(spec.source, spec.name)
    if table_dir.is_dir() and any(table_dir.glob("*/*.parquet")):
        return None
    with tempfile.TemporaryDirectory(dir=layout.root) as scratch:
        ymd = day.replace("-", "")
        if spec.file_format == "csv":
            delivery = Path(scratch) / f"{spec.name}_{ymd}.csv"
            delivery.write_bytes((",".join(spec.column_names) + "\n").encode(spec.encoding))
        else:
            delivery = Path(scratch) / f"{spec.name}_{ymd}.jsonl.gz"
            delivery.write_bytes(gzip.compress(b"", mtime=0))
        parsed = parse_file(read_file(delivery, spec), spec, delivery.name)
    rows = parsed.rows
    if any(column.pii for column in spec.columns):
        rows, _ = protect_table(rows, spec, hash_key, junk)
    path = layout.raw_partition(spec.source, spec.name, day) / PLACEHOLDER_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    pq.write_table(rows, temporary)
    os.replace(temporary, path)
    return path
