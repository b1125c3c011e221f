"""The load manifest's history: every manifest row of a table, indexed by day and file and content hash.

The loader (:mod:`orchestration.defs.ingest.land`) looks a file up here to tell a new delivery from an
unchanged or corrected one, and the reconciliation (:mod:`orchestration.defs.ingest.reconcile`) to tell an
unlisted copy of a loaded file (a ``duplicate``).
"""

import duckdb

from orchestration.lib.layout import DataLayout
from orchestration.lib.sources import TableSpec

# Manifest statuses of a file whose rows were (re)written: new, re-delivered with changes, or rewritten
# without the rows of a person erased on request.
WRITTEN_STATUSES = ("loaded", "corrected", "redacted")


def read_parquet_rows(pattern: str) -> list[dict]:
    try:
        query = "select * from read_parquet(?, hive_partitioning = true, union_by_name = true)"
        return duckdb.sql(query, params=[pattern]).to_arrow_table().to_pylist()
    except duckdb.IOException:
        return []


class ManifestHistory(list):
    """Manifest rows (a list, in order) indexed as :func:`land_table_day` looks them up: by arrival day and
    file name, and the loaded content hashes. A run over many days looks up every day in one index rather
    than scanning every row for every day (which grew with the square of the days)."""

    def __init__(self, rows: list[dict] = ()) -> None:
        super().__init__()
        self.by_day: dict[str, dict[str, dict]] = {}
        self.loaded_hashes: dict[str, str] = {}
        self.extend(rows)

    def append(self, row: dict) -> None:
        super().append(row)
        self.by_day.setdefault(str(row.get("arrival_date")), {})[row["file_name"]] = row
        if row["status"] in (*WRITTEN_STATUSES, "unchanged"):
            self.loaded_hashes[row["content_sha256"]] = row["file_name"]

    def extend(self, rows) -> None:
        for row in rows:
            self.append(row)


def previous_manifest(layout: DataLayout, spec: TableSpec) -> ManifestHistory:
    """Every manifest row of this table over all days (to recognise duplicates and unchanged files)."""
    pattern = layout.raw / "ingest" / "load_manifest" / "*" / f"{spec.source}__{spec.name}__*.parquet"
    return ManifestHistory(read_parquet_rows(str(pattern)))
