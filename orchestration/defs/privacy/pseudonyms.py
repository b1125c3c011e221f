"""Published person ids: what analysts see instead of the warehouse's person ids.

A warehouse person id derives from the person's anchor identifier (``'P' || sha256(type:anchor hash)``),
and customer numbers, fund accounts and login ids are hashed without a key: anyone holding a list of
customer numbers could recompute them. So ``analytics.duckdb`` never carries a warehouse person id. Each
person gets a **published id** of the same shape (``P`` and 16 hex digits) the first time it is
published, and keeps it: it is remembered in ``private.duckdb``

    published_person_ids(person_id, published_id, first_published_at)

A new published id is ``HMAC-SHA256(secret, person id)`` (first 16 hex digits), where the secret is 32
random bytes drawn once and kept only in ``private.duckdb`` (``published_id_secret``): without the private
store nobody can compute or reverse it, while two copies of one data directory (a backfill and the daily
runs) give a new person the same id. Ids are stable across runs (the table is reused), across merges (the
surviving warehouse id keeps its published id; the absorbed one keeps its own, and ``identity_changes``
links the two) and across key rotation (``rotate-key`` rewrites the ``person_id`` column of every
``private.duckdb`` table through its old -> new person id mapping, this one included; ``published_id`` is
not a person id column and stays). An erasure forgets the person's row (:func:`forget`), and the rows of
the ids merged into them earlier (:func:`merged_into`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from orchestration.lib.relations import existing_models, relation

TABLE = "published_person_ids"
SECRET_TABLE = "published_id_secret"

CREATE_TABLE = (
    f"create table if not exists {{catalog}}.{TABLE} ("
    "person_id varchar primary key, published_id varchar not null unique, first_published_at timestamp)"
)


def is_person_column(name: str) -> bool:
    """A column holding a person id (``person_id``, ``old_person_id``, ``new_person_id``…)."""
    return name == "person_id" or name.endswith("_person_id")


def derive_published_id(secret: bytes, person_id: str, attempt: int = 0) -> str:
    """``P`` and the first 16 hex digits (upper case) of HMAC-SHA256(secret, person id); a later attempt
    (after a collision) keys ``<person id>:<attempt>``."""
    message = person_id if attempt == 0 else f"{person_id}:{attempt}"
    return "P" + hmac.new(secret, message.encode("utf-8"), hashlib.sha256).hexdigest()[:16].upper()


def _secret(con: duckdb.DuckDBPyConnection, catalog: str) -> bytes:
    """The private store's published-id secret, drawn (32 random bytes) the first time."""
    con.execute(f"create table if not exists {catalog}.{SECRET_TABLE} (secret blob not null)")
    row = con.execute(f"select secret from {catalog}.{SECRET_TABLE}").fetchone()
    if row is not None:
        return bytes(row[0])
    secret = secrets.token_bytes(32)
    con.execute(f"insert into {catalog}.{SECRET_TABLE} values (?)", [secret])
    return secret


def assign(con: duckdb.DuckDBPyConnection, catalog: str, candidates: str, now: datetime) -> int:
    """Give every person id of the relation ``candidates`` (one column ``person_id``; a trusted name)
    that has none yet a published id in ``<catalog>.published_person_ids`` (``catalog``: the attached
    private store, a trusted name). Returns how many were given."""
    con.execute(CREATE_TABLE.format(catalog=catalog))
    new = [
        person_id
        for (person_id,) in con.execute(
            f"select distinct c.person_id from {candidates} c where c.person_id is not null "
            f"and not exists (select 1 from {catalog}.{TABLE} p where p.person_id = c.person_id) order by 1"
        ).fetchall()
    ]
    if not new:
        return 0
    secret = _secret(con, catalog)
    taken = {
        value
        for (value,) in con.execute(
            f"select published_id from {catalog}.{TABLE} union all select person_id from {catalog}.{TABLE}"
        ).fetchall()
    }
    taken.update(new)
    given = []
    for person_id in new:
        attempt = 0
        published = derive_published_id(secret, person_id)
        while published in taken:  # 64 bits: a repeat is astronomically unlikely, but never reused
            attempt += 1
            published = derive_published_id(secret, person_id, attempt)
        taken.add(published)
        given.append(published)
    con.register(
        "new_published_ids",
        pa.table({"person_id": pa.array(new, pa.string()), "published_id": pa.array(given, pa.string())}),
    )
    try:
        con.execute(
            f"insert into {catalog}.{TABLE} select person_id, published_id, ? from new_published_ids",
            [now],
        )
    finally:
        con.unregister("new_published_ids")
    return len(new)


def published_ids(private_db: Path) -> dict[str, str]:
    """warehouse person id -> published id (for engineers and tests; analysts never get this)."""
    if not private_db.exists():
        return {}
    con = duckdb.connect(str(private_db), read_only=True)
    try:
        if not con.execute(
            "select count(*) from information_schema.tables where table_name = ?", [TABLE]
        ).fetchone()[0]:
            return {}
        return dict(con.execute(f"select person_id, published_id from {TABLE}").fetchall())
    finally:
        con.close()


def merged_into(warehouse_db: Path, person_ids: Iterable[str]) -> set[str]:
    """Person ids that ``identity_changes`` shows merged (directly or through earlier merges)
    into one of ``person_ids`` and that no current person holds: the same person's earlier ids, whose
    published ids an erasure forgets too. (An id split into several persons is someone else's as well
    and stays.)"""
    found: set[str] = set()
    if not warehouse_db.exists():
        return found
    con = duckdb.connect(str(warehouse_db), read_only=True)
    try:
        tables = existing_models(con, "identity_changes", "persons")
        if "identity_changes" not in tables:
            return found
        current = (
            f" and old_person_id not in (select person_id from {relation('persons')})"
            if "persons" in tables
            else ""
        )
        frontier = set(person_ids)
        while frontier:
            earlier = {
                old
                for (old,) in con.execute(
                    f"select distinct old_person_id from {relation('identity_changes')} "
                    "where change_reason = 'merged' and new_person_id in (select unnest(?))" + current,
                    [sorted(frontier)],
                ).fetchall()
            }
            frontier = earlier - found - set(person_ids)
            found |= frontier
        return found
    finally:
        con.close()


def forget(private_db: Path, person_ids: Iterable[str]) -> set[str]:
    """Delete the rows of erased persons; returns their published ids (so that the derived stores can
    drop rows keyed on them). The caller compacts ``private.duckdb`` afterwards."""
    ids = sorted(set(person_ids))
    if not ids or not private_db.exists():
        return set()
    con = duckdb.connect(str(private_db))
    try:
        if not con.execute(
            "select count(*) from information_schema.tables where table_name = ?", [TABLE]
        ).fetchone()[0]:
            return set()
        found = {
            published
            for (published,) in con.execute(
                f"select published_id from {TABLE} where person_id in (select unnest(?))", [ids]
            ).fetchall()
        }
        con.execute(f"delete from {TABLE} where person_id in (select unnest(?))", [ids])
        return found
    finally:
        con.close()
