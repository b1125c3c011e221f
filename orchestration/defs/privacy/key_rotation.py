"""Rotate ``FUNDCDP_HASH_KEY``: re-hash every personal identifier with a new key, everywhere at once.

Every keyed hash (``phone_hash``, ``id_number_hash``, ``email_hash``, ``name_hash``, ``card_number_hash``,
WeChat ids) is recomputed from the clear values in ``private.duckdb`` — the old key is only used to check
that it is the key the data was hashed with. One mapping old hash -> new hash then rewrites:

- ``private.duckdb`` and every ``raw/`` Parquet file (including the identity-link archive);
- every table of ``warehouse.duckdb``, ``analytics.duckdb``, ``segments.duckdb`` and ``quality.duckdb``:
  hash columns through the mapping, and person ids through old id -> new id, where a person's new id is
  the one the identity graph derives from the same anchor identifier under the new key.

So the next run finds its history (``identity_map_history``, ``tag_history``, segment versions) as if the
new key had always been used: ``identity_changes`` shows no merge or split caused by the rotation. What
it costs: one pass over raw/ and the four databases (a full rewrite), and person ids anchored on a
personal identifier (most CRM customers: the ID number) change value — exports already sent to marketing
carry the old ids. Deletion tombstones do not depend on the key and stay valid.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pyarrow as pa

from orchestration.lib import pii
from orchestration.lib.duckdb_files import compact_database, working_copy
from orchestration.lib.identity_keys import person_id
from orchestration.lib.layout import DataLayout
from orchestration.lib.relations import relation
from orchestration.lib.sql import quote_identifier, quote_qualified


class RotationError(RuntimeError):
    """The rotation cannot run (wrong current key, nothing to rotate); nothing was changed."""


def _hash_pairs(layout: DataLayout) -> dict[str, list[str]]:
    """Every (keyed hash column, its clear column) of the private tables, by table."""
    con = duckdb.connect(str(layout.private_db), read_only=True)
    try:
        pairs = {}
        for (table,) in con.execute(
            "select table_name from information_schema.tables where table_name like 'pii_%' order by 1"
        ).fetchall():
            columns = [r[0] for r in con.execute(f"describe {quote_identifier(table)}").fetchall()]
            pairs[table] = [c for c in columns if c.endswith("_hash") and c.removesuffix("_hash") in columns]
        return pairs
    finally:
        con.close()


def hash_mapping(layout: DataLayout, old_key: bytes, new_key: bytes) -> pa.Table:
    """old_hash -> new_hash for every clear value in private.duckdb; raises :class:`RotationError` if a
    stored hash was not made with ``old_key``."""
    if not layout.private_db.exists():
        raise RotationError(f"{layout.private_db} does not exist: nothing to rotate")
    old, new = [], []
    con = duckdb.connect(str(layout.private_db), read_only=True)
    try:
        for table, columns in _hash_pairs(layout).items():
            for column in columns:
                clear = column.removesuffix("_hash")
                hashed_column, clear_column = quote_identifier(column), quote_identifier(clear)
                for hashed, value in con.execute(
                    f"select distinct {hashed_column}, {clear_column} from {quote_identifier(table)} "
                    f"where {clear_column} is not null"
                ).fetchall():
                    if pii.keyed_hash(old_key, value) != hashed:
                        raise RotationError(
                            f"{table}.{column} holds hashes not made with the current FUNDCDP_HASH_KEY: "
                            "set it to the key the data was hashed with; nothing was changed"
                        )
                    old.append(hashed)
                    new.append(pii.keyed_hash(new_key, value))
    finally:
        con.close()
    if not old:
        raise RotationError("private.duckdb holds no personal identifiers: nothing to rotate")
    pairs = sorted(set(zip(old, new, strict=True)))
    return pa.table(
        {
            "old_hash": pa.array([p[0] for p in pairs], pa.string()),
            "new_hash": pa.array([p[1] for p in pairs], pa.string()),
        }
    )


def person_mapping(layout: DataLayout, hashes: pa.Table) -> pa.Table:
    """old person id -> new person id: the person id rule (:func:`orchestration.lib.identity_keys.person_id`,
    as int_identity_persons derives it) applied to the anchor's new hash, for persons anchored on a personal
    identifier."""
    empty = pa.table({"old_person_id": pa.array([], pa.string()), "new_person_id": pa.array([], pa.string())})
    if not layout.warehouse_db.exists():
        return empty
    con = duckdb.connect(str(layout.warehouse_db), read_only=True)
    try:
        con.register("hash_map", hashes)
        rows = con.execute(
            "select distinct p.person_id, p.anchor_type, m.new_hash, p.anchor_epoch "
            f"from {relation('int_identity_persons')} p join hash_map m on p.anchor_hash = m.old_hash"
        ).fetchall()
    finally:
        con.close()
    old = [r[0] for r in rows]
    new = [person_id(kind, hashed, epoch) for _, kind, hashed, epoch in rows]
    return pa.table(
        {"old_person_id": pa.array(old, pa.string()), "new_person_id": pa.array(new, pa.string())}
    )


def _is_hash_column(name: str) -> bool:
    return name.endswith("_hash")


def _is_person_column(name: str) -> bool:
    return name == "person_id" or name.endswith("_person_id")


def _rewrite_expression(column: str) -> str | None:
    quoted = quote_identifier(column)
    # The mapping's columns are renamed (rotation_*) so that they never capture a column of the rewritten
    # table (identity_changes has its own old_person_id).
    if _is_hash_column(column):
        return f"coalesce((select rotation_new from hash_map where rotation_old = {quoted}), {quoted})"
    if _is_person_column(column):
        return f"coalesce((select rotation_new from person_map where rotation_old = {quoted}), {quoted})"
    return None


def _create_maps(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "create temp table hash_map as "
        "select old_hash as rotation_old, new_hash as rotation_new from hash_map_arrow"
    )
    con.execute(
        "create temp table person_map as "
        "select old_person_id as rotation_old, new_person_id as rotation_new from person_map_arrow"
    )


def rewrite_parquet(path: Path, con: duckdb.DuckDBPyConnection) -> Path | None:
    """Write one Parquet file's rewrite (hash columns through the mapping) next to it; None if it has no
    hash column. The caller swaps it in."""
    # The path is a bound parameter: a file name is outside text (a delivery may be named ``it's.csv``).
    # No hive partitioning: the file is rewritten with exactly its own columns (no arrival_date added).
    columns = [
        (r[0], r[1])
        for r in con.execute(
            "describe select * from read_parquet(?, hive_partitioning = false)", [str(path)]
        ).fetchall()
    ]
    replaced = [
        f"{expression} as {quote_identifier(name)}"
        for name, kind in columns
        if kind == "VARCHAR" and _is_hash_column(name) and (expression := _rewrite_expression(name))
    ]
    if not replaced:
        return None
    staged = path.with_name(f".{path.name}.rotating")
    con.execute(
        f"copy (select * replace ({', '.join(replaced)}) from read_parquet(?, hive_partitioning = false)) "
        "to ? (format parquet, compression zstd)",
        [str(path), str(staged)],
    )
    return staged


def rewrite_database(path: Path, hashes: pa.Table, persons: pa.Table) -> tuple[Path, int] | None:
    """Write a rewrite of a DuckDB file (hash and person id columns of every base table) next to it;
    returns it and the number of tables rewritten. The caller swaps it in."""
    if not path.exists():
        return None
    mode = path.stat().st_mode & 0o777
    working = working_copy(path, "rotating")
    updated = 0
    con = duckdb.connect(str(working))
    try:
        con.register("hash_map_arrow", hashes)
        con.register("person_map_arrow", persons)
        _create_maps(con)
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' and table_catalog = current_database()"
        ).fetchall()
        for schema, table in tables:
            columns = con.execute(
                "select column_name from information_schema.columns where table_catalog = current_database() "
                "and table_schema = ? and table_name = ? and data_type = 'VARCHAR'",
                [schema, table],
            ).fetchall()
            sets = [
                f"{quote_identifier(name)} = {e}" for (name,) in columns if (e := _rewrite_expression(name))
            ]
            if sets:
                con.execute(f"update {quote_qualified(schema, table)} set {', '.join(sets)}")
                updated += 1
    finally:
        con.close()
    staged = path.with_name(f"{path.stem}_rotated.duckdb")
    compact_database(working, mode, target=staged)
    return staged, updated


def rotate(layout: DataLayout, old_key: bytes, new_key: bytes) -> dict[str, int]:
    """Re-hash everything with ``new_key`` (see the module docstring); returns counts of what was rewritten.
    Run it with no pipeline run in progress, then run the pipeline with FUNDCDP_HASH_KEY set to the new
    key."""
    if old_key == new_key:
        raise RotationError("the new key equals the current one")
    hashes = hash_mapping(layout, old_key, new_key)
    persons = person_mapping(layout, hashes)
    # Everything is written aside first and swapped in at the end: a failure before the swap changes nothing.
    staged: list[tuple[Path, Path]] = []
    tables = 0
    try:
        con = duckdb.connect()
        try:
            con.register("hash_map_arrow", hashes)
            con.register("person_map_arrow", persons)
            _create_maps(con)
            for path in sorted(layout.raw.rglob("*.parquet")):
                if (rewritten := rewrite_parquet(path, con)) is not None:
                    staged.append((rewritten, path))
        finally:
            con.close()
        for path in (
            layout.warehouse_db,
            layout.analytics_db,
            layout.segments_db,
            layout.quality_db,
            layout.private_db,
        ):
            if (result := rewrite_database(path, hashes, persons)) is not None:
                staged.append((result[0], path))
                tables += result[1] if path != layout.private_db else 0
    except BaseException:
        for rewritten, _ in staged:
            rewritten.unlink(missing_ok=True)
        raise
    for rewritten, path in staged:
        os.replace(rewritten, path)
    files = sum(1 for _, path in staged if path.suffix == ".parquet")
    return {
        "hashes_rotated": hashes.num_rows,
        "person_ids_changed": persons.num_rows,
        "raw_files_rewritten": files,
        "tables_rewritten": tables,
    }
