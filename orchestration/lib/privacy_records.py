"""What the privacy step leaves for the other stages to read, without importing it.

- The identity-link archive (``raw/archive/identity_links/``): when retention purges old tracking events,
  the identity-carrying columns of the valid logged-in ones are kept there, so ID-Mapping keeps the links.
  An empty file is always present, so that the dbt source always has a file (and a schema) to read.
- The retention log (``raw/ingest/retention_log/``): which tracking arrival days were purged on purpose,
  which the raw loads and the completeness ledger must not count as missing.

The privacy step's records (the archive, the retention log, the deletion log) are written by
:func:`write_records`: whole or not at all.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

if TYPE_CHECKING:
    from orchestration.lib.layout import DataLayout

# The identity-carrying columns of a valid logged-in tracking event (int_events_valid) kept when it is
# purged: the first and the last event of each login / event name / carried identifiers.
ARCHIVE_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("event_name", pa.string()),
        ("event_at", pa.timestamp("us")),
        ("event_date", pa.date32()),
        ("arrival_date", pa.date32()),
        ("login_id", pa.string()),
        ("customer_no", pa.string()),
        ("phone_hash", pa.string()),
        ("is_phone_valid", pa.bool_()),
        ("is_phone_junk", pa.bool_()),
        ("wx_openid_hash", pa.string()),
        ("is_wx_openid_junk", pa.bool_()),
        ("wx_unionid_hash", pa.string()),
        ("is_wx_unionid_junk", pa.bool_()),
    ]
)
RETENTION_LOG_SCHEMA = pa.schema(
    [
        ("as_of_date", pa.date32()),
        ("applied_at", pa.timestamp("us")),
        ("tracking_event_days", pa.int64()),
        ("quarantine_days", pa.int64()),
        ("event_days_purged", pa.string()),
        ("event_rows_purged", pa.int64()),
        ("identity_links_archived", pa.int64()),
        ("landing_days_purged", pa.int64()),
        ("quarantine_days_purged", pa.string()),
        ("quarantine_rows_purged", pa.int64()),
        ("private_rows_purged", pa.int64()),
    ]
)


def archive_dir(layout: DataLayout) -> Path:
    return layout.raw / "archive" / "identity_links"


def ensure_archive(layout: DataLayout) -> None:
    """An empty archive file, so that the dbt source always has a file to read (and a schema)."""
    path = archive_dir(layout) / "empty.parquet"
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        con.register("empty_archive", ARCHIVE_SCHEMA.empty_table())
        con.execute("copy empty_archive to ? (format parquet)", [str(path)])
    finally:
        con.close()


def retention_log(layout: DataLayout) -> list[dict]:
    folder = layout.raw / "ingest" / "retention_log"
    if not any(folder.glob("*.parquet")):
        return []
    files = sorted(str(path) for path in folder.glob("*.parquet"))
    return (
        duckdb.sql("select * from read_parquet(?) order by applied_at", params=[files])
        .to_arrow_table()
        .to_pylist()
    )


def purged_tracking_days(layout: DataLayout) -> set[str]:
    """Arrival days whose tracking events retention purged (their landing is gone on purpose)."""
    return {
        day for row in retention_log(layout) for day in (row["event_days_purged"] or "").split(",") if day
    }


def write_records(path: Path, table: pa.Table, zstd: bool = False) -> None:
    """Write ``table`` to the Parquet file ``path`` through DuckDB (zstd-compressed if ``zstd``),
    atomically: a temporary file beside it, then renamed over it (a reader sees the previous file or the
    whole new one)."""
    options = "format parquet, compression zstd" if zstd else "format parquet"
    con = duckdb.connect()
    try:
        con.register("records", table)
        temporary = path.with_name(f".{path.name}.tmp")
        con.execute(f"copy records to ? ({options})", [str(temporary)])
        os.replace(temporary, path)
    finally:
        con.close()
