"""Resolve a request to everything that is the person's alone: identifiers, devices, person ids (or hold
it)."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from orchestration.defs.privacy.erasure.requests import ErasureRequest
from orchestration.lib.identity_keys import identity_hash_sql as system_hash
from orchestration.lib.layout import DataLayout
from orchestration.lib.relations import existing_models, relation
from orchestration.lib.sql import quote_identifier, quote_literal
from orchestration.lib.tombstones import (
    ERASABLE,
    KEYED_TYPES,
    ErasableColumn,
    identity_hash,
    request_hash,
)

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


def raw_relation(con: duckdb.DuckDBPyConnection, layout: DataLayout, source: str, table: str) -> str | None:
    """A view over a raw table's Parquet files on ``con`` (its path given to DuckDB as a value, never as SQL
    text); returns the view's quoted name, or None when the table has no file yet."""
    folder = layout.raw_table(source, table)
    if not any(folder.glob("*/*.parquet")):
        return None
    name = f"raw_{source}__{table}"
    relation = con.read_parquet(str(folder / "*" / "*.parquet"), hive_partitioning=True, union_by_name=True)
    relation.create_view(name, replace=True)
    return quote_identifier(name)


def column_predicate(erasable: ErasableColumn, columns: set[str]) -> str | None:
    if erasable.column not in columns:
        return None
    column = quote_identifier(erasable.column)
    kind = quote_literal(erasable.identifier_type)
    value = (
        column if erasable.identifier_type in KEYED_TYPES else system_hash(erasable.identifier_type, column)
    )
    condition = f"{value} in (select identifier_hash from erase_ids where identifier_type = {kind})"
    if erasable.only_when_anonymous:
        condition = f"(login_id is null and {condition})"
    return condition


def row_predicate(con: duckdb.DuckDBPyConnection, relation: str, spec_key: tuple[str, str]) -> str | None:
    columns = {row[0] for row in con.execute(f"describe select * from {relation}").fetchall()}
    conditions = [p for e in ERASABLE[spec_key] if (p := column_predicate(e, columns))]
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
                    f"select distinct person_id from {relation('person_identifiers')} "
                    "where identifier_type = ? and identifier_hash = ?",
                    [request.identifier_type, requested],
                ).fetchall()
            }
            if scope.person_ids:
                ids = sorted(scope.person_ids)
                marks = ", ".join("?" for _ in ids)
                for kind, hashed in con.execute(
                    f"select identifier_type, identifier_hash from {relation('person_identifiers')} "
                    f"where person_id in ({marks})",
                    ids,
                ).fetchall():
                    scope.add(kind, hashed)
                # Devices whose attributed events are all theirs.
                for (device,) in con.execute(
                    f"""
                    select anonymous_id from {relation("int_events_attributed")}
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
        register_ids(con, scope)
        # Fund accounts of their customer numbers, and their bank cards (cards are not in the graph).
        accounts = raw_relation(con, layout, "trade", "fund_accounts")
        if accounts:
            for (account,) in con.execute(
                f"select distinct fund_account_id from {accounts} "
                f"where {system_hash('customer_no', 'customer_no')} "
                "in (select identifier_hash from erase_ids where identifier_type = 'customer_no')"
            ).fetchall():
                scope.add("fund_account_id", identity_hash("fund_account_id", account))
        cards = raw_relation(con, layout, "crm", "bank_cards")
        if cards:
            for (card,) in con.execute(
                f"select distinct card_number_hash from {cards} where card_number_hash is not null and "
                f"{system_hash('customer_no', 'customer_no')} in "
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
    if len(existing_models(con, "int_identity_identifiers", "int_identity_clusters")) < 2:
        return 0
    (holders,) = con.execute(
        "select count(distinct clusters.cluster_node_id) "
        f"from {relation('int_identity_identifiers')} as identifiers "
        f"inner join {relation('int_identity_clusters')} as clusters "
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


def register_ids(con: duckdb.DuckDBPyConnection, scope: ErasureScope) -> None:
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
    register_ids(con, scope)
    shared: set[tuple[str, str]] = set()
    owners = (
        (("crm", "customers"), "customer_no", ("phone_hash", "id_number_hash", "email_hash")),
        (("crm", "bank_cards"), "customer_no", ("card_number_hash",)),
        (("tracking", "events"), "login_id", ("phone_hash", "wx_openid_hash", "wx_unionid_hash")),
    )
    for (source, table), owner, columns in owners:
        relation = raw_relation(con, layout, source, table)
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
                    and {system_hash(owner, owner_column)} not in
                        (select identifier_hash from erase_ids where identifier_type = ?)
                """,
                [kind, owner],
            ).fetchall():
                shared.add((kind, hashed))
    for kind, hashed in shared:
        scope.hashes.get(kind, set()).discard(hashed)
    register_ids(con, scope)
