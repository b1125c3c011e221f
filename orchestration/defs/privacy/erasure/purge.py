"""Purge a resolved person from the stores: raw files without landing, databases, exports, quarantined
lines."""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pyarrow as pa

from orchestration.defs.privacy.erasure.scope import (
    ErasureScope,
    column_predicate,
    raw_relation,
    register_ids,
    row_predicate,
    system_hash,
)
from orchestration.lib.duckdb_files import compact_database, working_copy
from orchestration.lib.layout import DataLayout
from orchestration.lib.sql import quote_identifier, quote_qualified
from orchestration.lib.tombstones import (
    ERASABLE,
    KEYED_TYPES,
    SYSTEM_COLUMNS,
    Tombstones,
    load_tombstones,
    mentions_tombstoned,
    table_exists,
)

# ------------------------------------------------------------------------------------------ the purge


def affected_files(layout: DataLayout, scope: ErasureScope) -> dict[tuple[str, str], dict[str, set[str]]]:
    """(source, table) -> arrival day -> files holding rows of the person, or quarantined lines carrying
    one of their tombstoned identifiers (reloading such a file with the tombstones cuts those lines)."""
    con = duckdb.connect()
    found: dict[tuple[str, str], dict[str, set[str]]] = {}
    for source, table, day, file_name in quarantined_files(layout, load_tombstones(layout)):
        found.setdefault((source, table), {}).setdefault(day, set()).add(file_name)
    try:
        register_ids(con, scope)
        for spec_key in ERASABLE:
            relation = raw_relation(con, layout, *spec_key)
            if relation is None:
                continue
            predicate = row_predicate(con, relation, spec_key)
            if predicate is None:
                continue
            for day, file_name in con.execute(
                f"select distinct cast(arrival_date as varchar), _source_file "
                f"from {relation} where {predicate}"
            ).fetchall():
                found.setdefault(spec_key, {}).setdefault(day, set()).add(file_name)
    finally:
        con.close()
    return found


def purge_raw_without_landing(
    layout: DataLayout, scope: ErasureScope, spec_key: tuple[str, str], day: str, file_name: str
) -> int:
    """Remove the person's rows of a file whose landing copy is gone (no reload possible): the raw
    Parquet is rewritten without them and their private rows are deleted. Returns rows removed."""
    path = layout.raw_partition(*spec_key, day) / f"{file_name.split('.', 1)[0]}.parquet"
    if not path.exists():
        return 0
    con = duckdb.connect()
    try:
        register_ids(con, scope)
        con.read_parquet(str(path)).create_view("raw_file", replace=True)
        predicate = row_predicate(con, "raw_file", spec_key)
        if predicate is None:
            return 0
        lines = [r[0] for r in con.execute(f"select _source_line from raw_file where {predicate}").fetchall()]
        if not lines:
            return 0
        temporary = path.with_name(f".{path.name}.tmp")
        con.execute(
            f"copy (select * from raw_file where not ({predicate}) order by _source_line) "
            "to ? (format parquet, compression zstd)",
            [str(temporary)],
        )
        os.replace(temporary, path)
    finally:
        con.close()
    if layout.private_db.exists():
        private = duckdb.connect(str(layout.private_db))
        try:
            table = f"pii_{spec_key[0]}__{spec_key[1]}"
            if private.execute(
                "select count(*) from information_schema.tables where table_name = ?", [table]
            ).fetchall()[0][0]:
                private.execute(
                    f"delete from {quote_identifier(table)} "
                    "where _source_file = ? and _source_line in (select unnest(?))",
                    [file_name, lines],
                )
        finally:
            private.close()
    return len(lines)


def _derived_predicate(columns: dict[str, str], scope: ErasureScope) -> str | None:
    """SQL true for a row of a derived table keyed on the person (by column name)."""
    conditions = []
    for name, data_type in columns.items():
        if data_type != "VARCHAR":
            continue
        quoted = quote_identifier(name)
        if name == "person_id" or name.endswith("_person_id"):
            conditions.append(f"{quoted} in (select person_id from erase_persons)")
        elif name in SYSTEM_COLUMNS:
            conditions.append(
                f"{system_hash(SYSTEM_COLUMNS[name], quoted)} in (select identifier_hash from erase_ids)"
            )
        elif name == "anonymous_id":
            conditions.append(
                f"{system_hash('anonymous_id', quoted)} in "
                "(select identifier_hash from erase_ids where identifier_type = 'anonymous_id')"
            )
        elif name.endswith("_hash") or name == "login_key":
            conditions.append(f"{quoted} in (select identifier_hash from erase_ids)")
    return " or ".join(conditions) if conditions else None


def _register_persons(con: duckdb.DuckDBPyConnection, scope: ErasureScope) -> None:
    con.register(
        "erase_persons_arrow", pa.table({"person_id": pa.array(sorted(scope.person_ids), type=pa.string())})
    )
    con.execute("create or replace temp table erase_persons as select * from erase_persons_arrow")
    con.unregister("erase_persons_arrow")


def purge_database(path: Path, scope: ErasureScope) -> int:
    """Delete the person's rows from every base table of a DuckDB file. The deletes run on a working copy
    that is then rewritten into a fresh file (no freed page keeps the old bytes) and swapped in atomically,
    so a reader holding the file open keeps its consistent old view. Returns the rows deleted."""
    if not path.exists():
        return 0
    mode = path.stat().st_mode & 0o777
    working = working_copy(path, "erasing")
    con = duckdb.connect(str(working))
    deleted = 0
    try:
        register_ids(con, scope)
        _register_persons(con, scope)
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' and table_catalog = current_database()"
        ).fetchall()
        for schema, table in tables:
            columns = dict(
                con.execute(
                    "select column_name, data_type from information_schema.columns "
                    "where table_catalog = current_database() and table_schema = ? and table_name = ?",
                    [schema, table],
                ).fetchall()
            )
            predicate = _derived_predicate(columns, scope)
            if predicate is None:
                continue
            relation = quote_qualified(schema, table)
            (count,) = con.execute(f"select count(*) from {relation} where {predicate}").fetchall()[0]
            if count:
                con.execute(f"delete from {relation} where {predicate}")
                deleted += count
        con.execute("drop table erase_ids")
        con.execute("drop table erase_persons")
        require_full_rebuild(con)
    finally:
        con.close()
    compact_database(working, mode, target=path)
    return deleted


def require_full_rebuild(con: duckdb.DuckDBPyConnection) -> int:
    """Make the next dbt build rebuild the incremental event and daily tables in full, by clearing the
    business-rules version they record as their table comment (macro rules_version). After an erasure or a
    retention purge the remaining events attribute differently (a shared device's earlier login is gone),
    which only a full rebuild gets right. Returns the tables marked."""
    tables = con.execute(
        "select schema_name, table_name from duckdb_tables() "
        "where database_name = current_database() and comment like 'fundcdp rules %'"
    ).fetchall()
    for schema, table in tables:
        con.execute(f"comment on table {quote_qualified(schema, table)} is null")
    return len(tables)


def purge_exports(outbox: Path, scope: ErasureScope) -> int:
    """Rewrite every CSV / Parquet export under ``outbox/`` without the person's rows, and the export's
    ``manifest.json`` (member count, file checksums) to match."""
    removed = 0
    if not outbox.is_dir():
        return 0
    amended: Counter[Path] = Counter()
    con = duckdb.connect()
    try:
        register_ids(con, scope)
        _register_persons(con, scope)
        for path in sorted(list(outbox.rglob("*.csv")) + list(outbox.rglob("*.parquet"))):
            reader = (
                con.read_csv(str(path), all_varchar=True, header=True)
                if path.suffix == ".csv"
                else con.read_parquet(str(path))
            )
            reader.create_view("export_file", replace=True)
            columns = dict((r[0], r[1]) for r in con.execute("describe select * from export_file").fetchall())
            predicate = _derived_predicate(columns, scope)
            if predicate is None:
                continue
            (count,) = con.execute(f"select count(*) from export_file where {predicate}").fetchall()[0]
            if not count:
                continue
            temporary = path.with_name(f".{path.name}.tmp")
            options = "(header, delimiter ',')" if path.suffix == ".csv" else "(format parquet)"
            con.execute(
                f"copy (select * from export_file where not ({predicate})) to ? {options}",
                [str(temporary)],
            )
            os.replace(temporary, path)
            removed += count
            amended[path.parent] += count
        for folder, count in amended.items():
            _amend_manifest(folder, con, count)
    finally:
        con.close()
    return removed


def _amend_manifest(folder: Path, con: duckdb.DuckDBPyConnection, removed: int) -> None:
    """Bring an export's manifest.json in step with its rewritten files: member count, checksums, and how
    many rows deletion requests removed from it."""
    path = folder / "manifest.json"
    if not path.exists():
        return
    manifest = json.loads(path.read_text(encoding="utf-8"))
    members = folder / "members.parquet"
    if "size" in manifest and members.exists():
        manifest["size"] = con.execute("select count(*) from read_parquet(?)", [str(members)]).fetchall()[0][
            0
        ]
    for name in manifest.get("files", {}):
        if (folder / name).exists():
            manifest["files"][name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    manifest["rows_removed_by_deletion_requests"] = (
        manifest.get("rows_removed_by_deletion_requests", 0) + removed
    )
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def _quarantined_lines(layout: DataLayout, tombstones: Tombstones) -> list[tuple[str, str, str, int]]:
    """(source, table, file name, line number) of the quarantined lines in private.duckdb that carry a
    tombstoned identifier."""
    if not tombstones or not layout.private_db.exists():
        return []
    con = duckdb.connect(str(layout.private_db), read_only=True)
    try:
        if not table_exists(con, "quarantined_lines"):
            return []
        rows = con.execute(
            "select source, table_name, file_name, line_number, line_text from quarantined_lines"
        ).fetchall()
    finally:
        con.close()
    return [(s, t, f, n) for s, t, f, n, text in rows if mentions_tombstoned(text or "", tombstones)]


def quarantined_files(layout: DataLayout, tombstones: Tombstones) -> set[tuple[str, str, str, str]]:
    """(source, table, arrival day, file name) of the delivered files whose quarantined lines carry a
    tombstoned identifier (the arrival day from the quarantine rows in raw/)."""
    lines = {(s, t, f) for s, t, f, _ in _quarantined_lines(layout, tombstones)}
    folder = layout.raw / "ingest" / "quarantine"
    if not lines or not any(folder.glob("*/*.parquet")):
        return set()
    con = duckdb.connect()
    try:
        rows = con.execute(
            "select distinct source, table_name, cast(arrival_date as varchar), file_name "
            "from read_parquet(?, hive_partitioning = true, union_by_name = true)",
            [str(folder / "*" / "*.parquet")],
        ).fetchall()
    finally:
        con.close()
    return {(s, t, d, f) for s, t, d, f in rows if (s, t, f) in lines}


def purge_quarantined_lines(layout: DataLayout, clear_values: Iterable[str]) -> int:
    """Delete quarantined lines (kept only in private.duckdb) that mention any of the person's values, or
    any tombstoned identifier in any of its written forms (a phone with spaces, a lower-case ID number)."""
    values = sorted(v for v in clear_values if v and len(v) >= 6)
    if not layout.private_db.exists():
        return 0
    tombstoned = _quarantined_lines(layout, load_tombstones(layout))
    con = duckdb.connect(str(layout.private_db))
    try:
        if not table_exists(con, "quarantined_lines"):
            return 0
        count = 0
        if tombstoned:
            con.register(
                "tombstoned_lines",
                pa.table(
                    {
                        "source": [r[0] for r in tombstoned],
                        "table_name": [r[1] for r in tombstoned],
                        "file_name": [r[2] for r in tombstoned],
                        "line_number": pa.array([r[3] for r in tombstoned], type=pa.int64()),
                    }
                ),
            )
            matched = (
                "from quarantined_lines q where exists (select 1 from tombstoned_lines t "
                "where q.source = t.source and q.table_name = t.table_name "
                "and q.file_name = t.file_name and q.line_number = t.line_number)"
            )
            (count,) = con.execute(f"select count(*) {matched}").fetchall()[0]
            con.execute(f"delete {matched}")
            con.unregister("tombstoned_lines")
        if values:
            condition = " or ".join("contains(line_text, ?)" for _ in values)
            (found,) = con.execute(
                f"select count(*) from quarantined_lines where {condition}", values
            ).fetchall()[0]
            if found:
                con.execute(f"delete from quarantined_lines where {condition}", values)
            count += found
        return count
    finally:
        con.close()


def clear_identifiers(layout: DataLayout, scope: ErasureScope) -> set[tuple[str, str]]:
    """The person's identifiers in the clear, as (type, normalised value): system ids from raw/, personal
    data from private.duckdb. They are what gets tombstoned, and what a quarantined line of theirs holds."""
    found: set[tuple[str, str]] = set()
    con = duckdb.connect()
    try:
        register_ids(con, scope)
        for spec_key, erasables in ERASABLE.items():
            relation = raw_relation(con, layout, *spec_key)
            if relation is None:
                continue
            columns = {row[0] for row in con.execute(f"describe select * from {relation}").fetchall()}
            for erasable in erasables:
                predicate = column_predicate(erasable, columns)
                if erasable.identifier_type in KEYED_TYPES or predicate is None:
                    continue
                query = (
                    f"select distinct {quote_identifier(erasable.column)} from {relation} where {predicate}"
                )
                found.update((erasable.identifier_type, v) for (v,) in con.execute(query).fetchall() if v)
    finally:
        con.close()
    if layout.private_db.exists():
        private = duckdb.connect(str(layout.private_db), read_only=True)
        try:
            tables = private.execute(
                "select table_name from information_schema.tables where table_name like 'pii_%'"
            ).fetchall()
            for (table,) in tables:
                columns = [r[0] for r in private.execute(f"describe {quote_identifier(table)}").fetchall()]
                for column in columns:
                    kind = column.removesuffix("_hash")
                    hashes = sorted(scope.hashes.get(kind, ()))
                    if column == kind or kind not in columns or not hashes:
                        continue
                    query = (
                        f"select distinct {quote_identifier(kind)} from {quote_identifier(table)} "
                        f"where {quote_identifier(column)} in (select unnest(?))"
                    )
                    found.update((kind, v) for (v,) in private.execute(query, [hashes]).fetchall() if v)
        finally:
            private.close()
    return found
