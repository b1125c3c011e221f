"""Deletion requests (PIPL Article 47): erase a person from every store, and keep them erased.

A request names one identifier of the person: a customer number, a phone number, an ID number, an
e-mail address or an app login id. It arrives as a CSV file in ``landing/deletion_requests/``
(``request_id,identifier_type,identifier_value,requested_at``) or through ``cli erase``. Honouring it:

1. **Resolve** the identifier to the person (``person_identifiers`` of the warehouse) and collect
   everything that is theirs: their identifiers (customer numbers, fund accounts, login ids, phone, ID
   number, e-mail, WeChat ids, bank cards) and the devices only they used. A personal identifier that
   another person's rows also carry (a shared family phone) is not theirs alone and is left in place.
   A phone reassigned between persons (one identity node per epoch) that more than one person held over
   time names nobody for sure: the request is **held** (logged with status ``held`` and the reason,
   alerted, nothing erased) until it is filed with a second identifier (:func:`hold_request`).
2. **Tombstone** each of them in ``private.duckdb``: ``HMAC(tombstone secret, "<type>|<clear value>")``
   with a random secret kept there too, so a tombstone equals no hash stored anywhere and survives a
   rotation of ``FUNDCDP_HASH_KEY``. Ingestion drops a delivered row that carries a
   tombstoned identifier before anything is written (and rewrites the landing file without it), so a
   re-sent delivery cannot re-create the person.
3. **Reload** every delivered file that held their rows: the landing file is rewritten without those
   lines (its control file entry adjusted), and the file is loaded again, replacing its ``raw/``
   Parquet, its quarantine rows, its manifest row and its ``private.duckdb`` rows. A day that no longer
   loads as a whole (a file missing since, a stray file name) is not reloaded: the person's rows leave
   its ``raw/`` Parquet and ``private.duckdb`` directly, and its landing files are cut line by line all
   the same (``lib/erasure_landing.py``). A rewritten file the demo marker lists keeps its entry current.
4. **Purge** the derived stores: every table of ``warehouse.duckdb``, ``analytics.duckdb``,
   ``segments.duckdb`` and ``quality.duckdb`` loses the rows keyed on the person (person id, customer
   number, fund account, login id, their devices, their identifier hashes), each file is rewritten so
   that freed pages do not keep the old bytes, and every export under ``outbox/`` is rewritten without
   them. The next run rebuilds everything from the cleaned ``raw/`` layer.
5. **Log** the request in ``raw/ingest/deletion_log/`` (when it was requested and honoured, counts of
   what was removed and of the days that could not be reloaded, never the identifier) and delete the
   request file.

Other people are untouched: their rows, their identity links and their person ids stay as they were.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa

from orchestration.defs.ingest.loader import LoadError
from orchestration.lib.layout import DataLayout
from orchestration.lib.sql import quote_identifier, quote_literal, quote_qualified
from orchestration.lib.tombstones import (
    ERASABLE,
    KEYED_TYPES,
    SYSTEM_COLUMNS,
    ErasableColumn,
    Tombstones,
    identity_hash,
    load_tombstones,
    mentions_tombstoned,
    request_hash,
    table_exists,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
REQUEST_COLUMNS = ("request_id", "identifier_type", "identifier_value", "requested_at")
REQUEST_TYPES = ("customer_no", "phone", "id_number", "email", "login_id")
# A request id names the request's file and its log file: letters, digits, ".", "_" and "-", starting with a
# letter or digit, at most 64 characters, never "..".
REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def request_id_problem(request_id: str) -> str | None:
    """Why ``request_id`` is not a usable request id (None when it is)."""
    if not REQUEST_ID.fullmatch(request_id):
        return (
            "a request id is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit "
            f"(got {request_id[:80]!r})"
        )
    if ".." in request_id:
        return f"a request id must not contain '..' (got {request_id!r})"
    return None


# ---------------------------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class ErasureRequest:
    request_id: str
    identifier_type: str
    identifier_value: str
    requested_at: datetime
    path: Path | None = None


def requests_dir(layout: DataLayout) -> Path:
    return layout.landing / "deletion_requests"


def read_requests(layout: DataLayout) -> list[ErasureRequest]:
    """Every pending request, oldest file first. A malformed file raises :class:`LoadError` naming the
    file and line; nothing is erased for it until it is corrected."""
    folder = requests_dir(layout)
    if not folder.is_dir():
        return []
    requests = []
    for path in sorted(folder.glob("*.csv")):
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = set(REQUEST_COLUMNS) - set(reader.fieldnames or ())
            if missing:
                raise LoadError(f"{path}: deletion request file lacks column(s) {', '.join(sorted(missing))}")
            for line, record in enumerate(reader, start=2):
                kind = (record["identifier_type"] or "").strip()
                value = (record["identifier_value"] or "").strip()
                request_id = (record["request_id"] or "").strip()
                if kind not in REQUEST_TYPES:
                    raise LoadError(
                        f"{path}: line {line}: identifier_type {kind!r} is not one of "
                        + ", ".join(REQUEST_TYPES)
                    )
                if not value or not request_id:
                    raise LoadError(f"{path}: line {line}: request_id and identifier_value are required")
                if problem := request_id_problem(request_id):
                    raise LoadError(f"{path}: line {line}: request refused: {problem}")
                try:
                    requested_at = datetime.fromisoformat((record["requested_at"] or "").strip())
                except ValueError:
                    raise LoadError(f"{path}: line {line}: requested_at is not a timestamp") from None
                requests.append(ErasureRequest(request_id, kind, value, requested_at, path))
    return requests


def submit_request(
    layout: DataLayout,
    identifier_type: str,
    value: str,
    request_id: str | None = None,
    now: datetime | None = None,
) -> ErasureRequest:
    """Write a request file into ``landing/deletion_requests/`` (what ``cli erase`` does)."""
    if identifier_type not in REQUEST_TYPES:
        raise ValueError(f"identifier type {identifier_type!r} is not one of {', '.join(REQUEST_TYPES)}")
    now = (now or datetime.now(SHANGHAI)).replace(tzinfo=None, microsecond=0)
    request_id = request_id or f"DR{now:%Y%m%d%H%M%S}"
    if problem := request_id_problem(request_id):
        raise ValueError(problem)
    folder = requests_dir(layout)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{request_id}.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(REQUEST_COLUMNS)
        writer.writerow([request_id, identifier_type, value, now.isoformat(sep=" ")])
    os.chmod(path, 0o600)
    return ErasureRequest(request_id, identifier_type, value, now, path)


# ------------------------------------------------------------------------------------------ the scope


@dataclass
class ErasureScope:
    """Everything that is one person's: identity hashes by type, their person ids and devices.

    ``held_reason`` is set (and nothing else resolved) when the named identifier cannot name one person:
    a phone number reassigned between persons (one node per epoch, docs/identity.md) was held by more
    than one of them over time, and erasing "its person" by guesswork could erase a stranger."""

    person_ids: set[str] = field(default_factory=set)
    hashes: dict[str, set[str]] = field(default_factory=dict)  # identifier type -> identity hashes
    held_reason: str | None = None
    holders_over_time: int = 0

    def add(self, identifier_type: str, hashed: str) -> None:
        self.hashes.setdefault(identifier_type, set()).add(hashed)

    def pairs(self) -> list[tuple[str, str]]:
        return sorted((t, h) for t, values in self.hashes.items() for h in values)

    @property
    def all_hashes(self) -> set[str]:
        return {h for values in self.hashes.values() for h in values}


def _raw_relation(con: duckdb.DuckDBPyConnection, layout: DataLayout, source: str, table: str) -> str | None:
    """A view over a raw table's Parquet files on ``con`` (its path given to DuckDB as a value, never as SQL
    text); returns the view's quoted name, or None when the table has no file yet."""
    folder = layout.raw_table(source, table)
    if not any(folder.glob("*/*.parquet")):
        return None
    name = f"raw_{source}__{table}"
    relation = con.read_parquet(str(folder / "*" / "*.parquet"), hive_partitioning=True, union_by_name=True)
    relation.create_view(name, replace=True)
    return quote_identifier(name)


def _predicate(erasable: ErasableColumn, columns: set[str]) -> str | None:
    if erasable.column not in columns:
        return None
    column = quote_identifier(erasable.column)
    kind = quote_literal(erasable.identifier_type)
    value = (
        column if erasable.identifier_type in KEYED_TYPES else _system_hash(erasable.identifier_type, column)
    )
    condition = f"{value} in (select identifier_hash from erase_ids where identifier_type = {kind})"
    if erasable.only_when_anonymous:
        condition = f"(login_id is null and {condition})"
    return condition


def _system_hash(identifier_type: str, quoted_column: str) -> str:
    """SQL of a system identifier's identity hash (sha256 of ``<type>:<value>``, as dbt computes it)."""
    return f"sha256({quote_literal(identifier_type + ':')} || {quoted_column})"


def _row_predicate(con: duckdb.DuckDBPyConnection, relation: str, spec_key: tuple[str, str]) -> str | None:
    columns = {row[0] for row in con.execute(f"describe select * from {relation}").fetchall()}
    conditions = [p for e in ERASABLE[spec_key] if (p := _predicate(e, columns))]
    return " or ".join(conditions) if conditions else None


def resolve(layout: DataLayout, key: bytes, request: ErasureRequest) -> ErasureScope:
    """The person a request names and everything that is theirs (see the module docstring)."""
    scope = ErasureScope()
    requested = request_hash(key, request.identifier_type, request.identifier_value)
    scope.add(request.identifier_type, requested)
    if layout.warehouse_db.exists():
        con = duckdb.connect(str(layout.warehouse_db), read_only=True)
        try:
            scope.holders_over_time = holders_over_time(con, request.identifier_type, requested)
            if scope.holders_over_time > 1:
                scope.held_reason = held_reason(request.identifier_type, scope.holders_over_time)
                return scope
            scope.person_ids = {
                row[0]
                for row in con.execute(
                    "select distinct person_id from main_marts.person_identifiers "
                    "where identifier_type = ? and identifier_hash = ?",
                    [request.identifier_type, requested],
                ).fetchall()
            }
            if scope.person_ids:
                ids = sorted(scope.person_ids)
                marks = ", ".join("?" for _ in ids)
                for kind, hashed in con.execute(
                    f"select identifier_type, identifier_hash from main_marts.person_identifiers "
                    f"where person_id in ({marks})",
                    ids,
                ).fetchall():
                    scope.add(kind, hashed)
                # Devices whose attributed events are all theirs.
                for (device,) in con.execute(
                    f"""
                    select anonymous_id from main_intermediate.int_events_attributed
                    where anonymous_id is not null
                    group by anonymous_id
                    having count(*) filter (where person_id in ({marks})) > 0
                        and count(*) filter (where person_id is not null and person_id not in ({marks})) = 0
                    """,
                    ids + ids,
                ).fetchall():
                    scope.add("anonymous_id", identity_hash("anonymous_id", device))
        finally:
            con.close()
    con = duckdb.connect()
    try:
        _register_ids(con, scope)
        # Fund accounts of their customer numbers, and their bank cards (cards are not in the graph).
        accounts = _raw_relation(con, layout, "trade", "fund_accounts")
        if accounts:
            for (account,) in con.execute(
                f"select distinct fund_account_id from {accounts} "
                "where sha256('customer_no:' || customer_no) "
                "in (select identifier_hash from erase_ids where identifier_type = 'customer_no')"
            ).fetchall():
                scope.add("fund_account_id", identity_hash("fund_account_id", account))
        cards = _raw_relation(con, layout, "crm", "bank_cards")
        if cards:
            for (card,) in con.execute(
                f"select distinct card_number_hash from {cards} where card_number_hash is not null and "
                "sha256('customer_no:' || customer_no) in "
                "(select identifier_hash from erase_ids where identifier_type = 'customer_no')"
            ).fetchall():
                scope.add("card_number", card)
        _drop_shared_identifiers(layout, con, scope)
    finally:
        con.close()
    return scope


def holders_over_time(con: duckdb.DuckDBPyConnection, identifier_type: str, identifier_hash: str) -> int:
    """How many persons held an identifier over time: the identity clusters holding any epoch of it.

    ``person_identifiers`` lists a reassigned phone only with its current holder; the earlier epochs are
    nodes of their own (``int_identity_identifiers``) in their holders' clusters (``int_identity_clusters``),
    so counting the clusters of all its nodes counts every holder, even one whose only node is the old
    epoch. 0 when the warehouse has no identity graph (nothing built yet)."""
    tables = {
        row[0]
        for row in con.execute(
            "select table_name from information_schema.tables where table_schema = 'main_intermediate' "
            "and table_name in ('int_identity_identifiers', 'int_identity_clusters')"
        ).fetchall()
    }
    if len(tables) < 2:
        return 0
    (holders,) = con.execute(
        "select count(distinct clusters.cluster_node_id) "
        "from main_intermediate.int_identity_identifiers as identifiers "
        "inner join main_intermediate.int_identity_clusters as clusters "
        "on clusters.node_id = identifiers.node_id "
        "where identifiers.identifier_type = ? and identifiers.identifier_hash = ? "
        "and not identifiers.is_hub",
        [identifier_type, identifier_hash],
    ).fetchall()[0]
    return int(holders)


def held_reason(identifier_type: str, holders: int) -> str:
    """Why a request naming an identifier held by ``holders`` persons over time is held (never the value)."""
    what = (
        "the number was reassigned" if identifier_type == "phone" else f"the {identifier_type} was reassigned"
    )
    return (
        f"{what}: held by {holders} persons over time; file the request with a second identifier such as "
        "customer_no or id_number"
    )


def _register_ids(con: duckdb.DuckDBPyConnection, scope: ErasureScope) -> None:
    pairs = scope.pairs()
    con.register(
        "erase_ids_arrow",
        pa.table(
            {
                "identifier_type": pa.array([p[0] for p in pairs], type=pa.string()),
                "identifier_hash": pa.array([p[1] for p in pairs], type=pa.string()),
            }
        ),
    )
    con.execute("create or replace temp table erase_ids as select * from erase_ids_arrow")
    con.unregister("erase_ids_arrow")


def _drop_shared_identifiers(layout: DataLayout, con: duckdb.DuckDBPyConnection, scope: ErasureScope) -> None:
    """A personal identifier (phone, ID, e-mail, card) also on rows of customers or logins that are not the
    person's belongs to someone else too: it is neither erased nor tombstoned."""
    _register_ids(con, scope)
    shared: set[tuple[str, str]] = set()
    owners = (
        (("crm", "customers"), "customer_no", ("phone_hash", "id_number_hash", "email_hash")),
        (("crm", "bank_cards"), "customer_no", ("card_number_hash",)),
        (("tracking", "events"), "login_id", ("phone_hash", "wx_openid_hash", "wx_unionid_hash")),
    )
    for (source, table), owner, columns in owners:
        relation = _raw_relation(con, layout, source, table)
        if relation is None:
            continue
        owner_column = quote_identifier(owner)
        for column in columns:
            kind = column.removesuffix("_hash")
            quoted = quote_identifier(column)
            for (hashed,) in con.execute(
                f"""
                select distinct {quoted} from {relation}
                where {quoted} in (select identifier_hash from erase_ids where identifier_type = ?)
                    and {owner_column} is not null
                    and {_system_hash(owner, owner_column)} not in
                        (select identifier_hash from erase_ids where identifier_type = ?)
                """,
                [kind, owner],
            ).fetchall():
                shared.add((kind, hashed))
    for kind, hashed in shared:
        scope.hashes.get(kind, set()).discard(hashed)
    _register_ids(con, scope)


# ------------------------------------------------------------------------------------------ the purge


def affected_files(layout: DataLayout, scope: ErasureScope) -> dict[tuple[str, str], dict[str, set[str]]]:
    """(source, table) -> arrival day -> files holding rows of the person, or quarantined lines carrying
    one of their tombstoned identifiers (reloading such a file with the tombstones cuts those lines)."""
    con = duckdb.connect()
    found: dict[tuple[str, str], dict[str, set[str]]] = {}
    for source, table, day, file_name in quarantined_files(layout, load_tombstones(layout)):
        found.setdefault((source, table), {}).setdefault(day, set()).add(file_name)
    try:
        _register_ids(con, scope)
        for spec_key in ERASABLE:
            relation = _raw_relation(con, layout, *spec_key)
            if relation is None:
                continue
            predicate = _row_predicate(con, relation, spec_key)
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
        _register_ids(con, scope)
        con.read_parquet(str(path)).create_view("raw_file", replace=True)
        predicate = _row_predicate(con, "raw_file", spec_key)
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
                f"{_system_hash(SYSTEM_COLUMNS[name], quoted)} in (select identifier_hash from erase_ids)"
            )
        elif name == "anonymous_id":
            conditions.append(
                f"{_system_hash('anonymous_id', quoted)} in "
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
        _register_ids(con, scope)
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


@contextmanager
def owner_only() -> Iterator[None]:
    """Files created inside the block are readable by their owner only (working copies of a database
    that holds personal data must never be readable by others, not even for a moment)."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def working_copy(path: Path, suffix: str) -> Path:
    """A copy of a DuckDB file next to it, created owner-only."""
    copy = path.with_name(f"{path.stem}_{suffix}.duckdb")
    with owner_only():
        copy.unlink(missing_ok=True)
        shutil.copyfile(path, copy)
    return copy


def compact_database(path: Path, mode: int | None = None, target: Path | None = None) -> None:
    """Rewrite a DuckDB file into a fresh one (COPY FROM DATABASE) and swap it in atomically over
    ``target`` (default: the file itself); the source file is removed when it is not the target."""
    target = target or path
    mode = mode if mode is not None else path.stat().st_mode & 0o777
    fresh = target.with_name(f"{target.stem}_compacting.duckdb")
    fresh.unlink(missing_ok=True)
    with owner_only():
        con = duckdb.connect(str(path))
        try:
            source = con.execute("select current_database()").fetchall()[0][0]
            con.execute("attach ? as compacted", [str(fresh)])
            con.execute(f"copy from database {quote_identifier(source)} to compacted")
            con.execute("detach compacted")
        finally:
            con.close()
    os.chmod(fresh, mode)
    os.replace(fresh, target)
    if path != target:
        path.unlink(missing_ok=True)
        Path(f"{path}.wal").unlink(missing_ok=True)


def purge_exports(outbox: Path, scope: ErasureScope) -> int:
    """Rewrite every CSV / Parquet export under ``outbox/`` without the person's rows, and the export's
    ``manifest.json`` (member count, file checksums) to match."""
    removed = 0
    if not outbox.is_dir():
        return 0
    amended: Counter[Path] = Counter()
    con = duckdb.connect()
    try:
        _register_ids(con, scope)
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
        _register_ids(con, scope)
        for spec_key, erasables in ERASABLE.items():
            relation = _raw_relation(con, layout, *spec_key)
            if relation is None:
                continue
            columns = {row[0] for row in con.execute(f"describe select * from {relation}").fetchall()}
            for erasable in erasables:
                predicate = _predicate(erasable, columns)
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
    table = pa.Table.from_pylist([row], schema=DELETION_LOG_SCHEMA)
    con = duckdb.connect()
    try:
        con.register("log_row", table)
        temporary = path.with_name(f".{path.name}.tmp")
        con.execute("copy log_row to ? (format parquet)", [str(temporary)])
        os.replace(temporary, path)
    finally:
        con.close()
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


def remove_request_file(request: ErasureRequest) -> None:
    """A honoured request file holds the identifier in the clear: it goes once every request in it is done."""
    if request.path is not None and request.path.exists():
        request.path.unlink()
