"""Erasure in the delivered files that were never loaded.

A loaded file holding an erased person's rows or quarantined lines is reloaded with the tombstones
(:func:`orchestration.defs.ingest.land.land_table_day` cuts those lines from the landing file). A file that
was
never loaded — a delivery day that is incomplete, a day not run yet, a re-sent copy recognised as a
duplicate — has no rows in ``raw/`` to find it by, yet holds the person's lines in the clear. Each such
file is parsed as ingestion would parse it (rows matched by their identifiers, malformed lines by the
identifiers in their text) and rewritten without the person's lines, its control file entry adjusted;
a file that cannot be parsed is searched line by line. Loading it later gives the same result as if it
had been delivered without them. A file in a delivery folder that is no table's delivery (a stray name)
is never loaded either, and is searched line by line too. A loaded file whose day no longer loads as a
whole (a file missing since, a stray file name beside it) cannot be reloaded: :func:`redact_files` cuts
its lines the same way.
"""

from __future__ import annotations

import gzip
from collections import Counter
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from orchestration.defs.ingest.land import WRITTEN_STATUSES, control_file_path
from orchestration.defs.ingest.loader import parse_file, read_file
from orchestration.lib.layout import SOURCES, DataLayout
from orchestration.lib.personal_data import protect_table
from orchestration.lib.rules import JunkRules
from orchestration.lib.sources import TableSpec, tables_of
from orchestration.lib.tombstones import (
    Tombstones,
    erased_quarantine_lines,
    erased_rows_mask,
    mentions_tombstoned,
    redact_landing_file,
)


def loaded_files(layout: DataLayout) -> set[tuple[str, str, str, str]]:
    """(source, table, arrival day, file name) of every file whose rows are in ``raw/`` (its last manifest
    row says loaded, corrected, redacted or unchanged)."""
    folder = layout.raw / "ingest" / "load_manifest"
    if not any(folder.glob("*/*.parquet")):
        return set()
    con = duckdb.connect()
    try:
        rows = con.execute(
            "select source, table_name, cast(arrival_date as varchar), file_name from read_parquet(?, "
            "hive_partitioning = true, union_by_name = true) where list_contains(?, status)",
            [str(folder / "*" / "*.parquet"), [*WRITTEN_STATUSES, "unchanged"]],
        ).fetchall()
    finally:
        con.close()
    return {tuple(row) for row in rows}


def _amount(spec: TableSpec, rows: pa.Table) -> Decimal | None:
    if spec.amount_column is None:
        return None
    return Decimal(pc.sum(rows.column(spec.amount_column)).as_py() or 0).quantize(Decimal("0.01"))


def _file_format(path: Path) -> str:
    return "jsonl" if path.name.endswith(".gz") else "csv"


def _lines_mentioning(path: Path, tombstones: Tombstones) -> set[int]:
    """Physical line numbers of a file (gzip decompressed) whose text holds a tombstoned identifier."""
    data = path.read_bytes()
    if _file_format(path) == "jsonl":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError):
            pass
    lines = data.decode("utf-8-sig", errors="replace").split("\n")
    return {number for number, line in enumerate(lines, start=1) if mentions_tombstoned(line, tombstones)}


def erased_lines(
    path: Path, spec: TableSpec | None, hash_key: bytes, junk: JunkRules, tombstones: Tombstones
) -> tuple[set[int], Decimal | None]:
    """The physical line numbers of ``path`` (a delivery of ``spec``, or of no known table) that belong
    to a tombstoned person, and the amount their rows carried (for the control file; None when unknown)."""
    if spec is None:
        return _lines_mentioning(path, tombstones), None
    try:
        content = read_file(path, spec)
        parsed = parse_file(content, spec, path.name)
        public, private = protect_table(parsed.rows, spec, hash_key, junk)
    except Exception:  # noqa: BLE001 - a file ingestion would refuse is still searched, line by line
        return _lines_mentioning(path, tombstones), None
    dropped = parsed.rows.filter(erased_rows_mask(public, private, spec.key, tombstones))
    cut = set(dropped.column("_source_line").to_pylist()) | erased_quarantine_lines(
        parsed.quarantine, tombstones
    )
    return cut, _amount(spec, dropped)


def redact_files(
    layout: DataLayout,
    spec: TableSpec,
    day: str,
    names: frozenset[str],
    hash_key: bytes,
    junk: JunkRules,
    tombstones: Tombstones,
) -> tuple[int, int]:
    """Cut every tombstoned person's lines from the named files of one table's delivery day without
    reloading it (the day no longer loads as a whole); returns the files rewritten and the lines removed."""
    files = lines_removed = 0
    control = control_file_path(layout, spec.source, day)
    for name in sorted(names):
        path = layout.landing_day(spec.source, day) / name
        if not path.is_file():
            continue
        own = spec if spec.matches_file(name, day) else None
        lines, amount = erased_lines(path, own, hash_key, junk, tombstones)
        if lines:
            redact_landing_file(path, lines, _file_format(path), control, amount)
            files += 1
            lines_removed += len(lines)
    return files, lines_removed


def redact_unloaded_files(
    layout: DataLayout, hash_key: bytes, junk: JunkRules, tombstones: Tombstones
) -> tuple[int, int]:
    """Cut every tombstoned person's lines from the delivered files that are not loaded; returns the files
    rewritten and the lines removed."""
    removed: Counter[str] = Counter()
    if not tombstones:
        return 0, 0
    loaded = loaded_files(layout)
    for source in SOURCES:
        for day in layout.landing_days(source):
            control = control_file_path(layout, source, day)
            for path in sorted(layout.landing_day(source, day).iterdir()):
                if not path.is_file() or path == control or path.name.startswith("."):
                    continue
                spec = next((s for s in tables_of(source) if s.matches_file(path.name, day)), None)
                if spec is not None and (source, spec.name, day, path.name) in loaded:
                    continue
                lines, amount = erased_lines(path, spec, hash_key, junk, tombstones)
                if lines:
                    redact_landing_file(path, lines, _file_format(path), control, amount)
                    removed[str(path)] += len(lines)
    return len(removed), sum(removed.values())
