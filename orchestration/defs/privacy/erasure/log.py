"""The deletion log (``raw/ingest/deletion_log/``): one row per request honoured or held, never the
identifier."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from orchestration.defs.privacy.erasure.requests import ErasureRequest
from orchestration.defs.privacy.erasure.scope import ErasureScope
from orchestration.lib.layout import DataLayout
from orchestration.lib.privacy_records import write_records

# ------------------------------------------------------------------------------------------- the log


DELETION_LOG_SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("identifier_type", pa.string()),
        ("requested_at", pa.timestamp("us")),
        ("honoured_at", pa.timestamp("us")),
        ("persons_found", pa.int64()),
        ("tombstones_written", pa.int64()),
        ("landing_files_rewritten", pa.int64()),
        ("raw_rows_removed", pa.int64()),
        ("raw_rows_removed_by_table", pa.string()),
        ("quarantined_lines_removed", pa.int64()),
        ("derived_rows_removed", pa.int64()),
        ("derived_rows_removed_by_store", pa.string()),
        ("export_rows_removed", pa.int64()),
        ("unloaded_lines_removed", pa.int64()),  # from delivered files never loaded
        # (table, day) deliveries that no longer load as a whole (a file missing, a stray file name): their
        # raw rows were purged without a reload, their landing files cut line by line (lines counted)
        ("days_not_reloaded", pa.int64()),
        ("not_reloaded_lines_removed", pa.int64()),
        # honoured, or held: nothing erased (status_reason says why and what to file instead; a held
        # request's id may be filed again, and is honoured then). Rows written before had no status.
        ("status", pa.string()),
        ("status_reason", pa.string()),
        ("held_at", pa.timestamp("us")),
    ]
)
HONOURED, HELD = "honoured", "held"


def deletion_log_dir(layout: DataLayout) -> Path:
    return layout.raw / "ingest" / "deletion_log"


def write_log(layout: DataLayout, row: dict) -> Path:
    folder = deletion_log_dir(layout)
    folder.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", row["request_id"])
    path = folder / f"{safe}.parquet"
    write_records(path, pa.Table.from_pylist([row], schema=DELETION_LOG_SCHEMA))
    return path


def read_log(layout: DataLayout) -> list[dict]:
    folder = deletion_log_dir(layout)
    if not any(folder.glob("*.parquet")):
        return []
    con = duckdb.connect()
    try:
        query = "select * from read_parquet(?, union_by_name = true) order by honoured_at"
        result = con.execute(query, [str(folder / "*.parquet")])
        names = [column[0] for column in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    finally:
        con.close()


def hold_request(layout: DataLayout, request: ErasureRequest, scope: ErasureScope, now: datetime) -> dict:
    """Record a request that erases nobody (``scope.held_reason``): its log row (status ``held``, the
    reason, how many persons the identifier named over time, every count 0, never the identifier) and one
    ``erasure_held`` alert naming the request id and the reason. Returns the log row."""
    from orchestration.lib.alerts import Alert, send_alert

    row = {
        column: 0
        for column in DELETION_LOG_SCHEMA.names
        if DELETION_LOG_SCHEMA.field(column).type == pa.int64()
    }
    row |= {
        "request_id": request.request_id,
        "identifier_type": request.identifier_type,
        "requested_at": request.requested_at,
        "honoured_at": None,
        "persons_found": scope.holders_over_time,
        "raw_rows_removed_by_table": json_counts({}),
        "derived_rows_removed_by_store": json_counts({}),
        "status": HELD,
        "status_reason": scope.held_reason,
        "held_at": now,
    }
    write_log(layout, row)
    send_alert(
        Alert(
            kind="erasure_held",
            summary=f"deletion request {request.request_id} held, nobody erased: {scope.held_reason}",
            asset="privacy/deletion_requests",
            details={"request_id": request.request_id, "identifier_type": request.identifier_type,
                     "persons_over_time": scope.holders_over_time},
        ),
        layout.alerts_log,
    )  # fmt: skip
    return row


def json_counts(counts: dict[str, int]) -> str:
    return json.dumps(dict(sorted((k, v) for k, v in counts.items() if v)), ensure_ascii=False)
