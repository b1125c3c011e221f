"""Tombstones: which rows and lines belong to an erased person, wherever they are read.

An erased person's identifiers are kept only as tombstones: keyed hashes (the tombstone secret in
``private.duckdb``) of each identifier type and normalised value. Every reader of delivered data — the
loader cutting an erased person's rows from a (re)loaded file, the privacy step rewriting landing files,
the quarantine — asks this module, so the loader (ingest) and the erasure (privacy) share one rule without
importing each other. The erasure itself (requests, scope, purges, log):
:mod:`orchestration.defs.privacy.erasure`.
"""

import csv
import gzip
import hashlib
import hmac
import io
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from orchestration.lib import pii
from orchestration.lib.identity_keys import identity_hash
from orchestration.lib.layout import DataLayout, update_demo_marker

# Identifier types whose identity hash is a keyed hash of the normalised value (ingestion writes them to
# raw/ as <column>_hash); the other types are system ids, hashed as sha256('<type>:<value>') by dbt.
KEYED_TYPES = frozenset({"phone", "id_number", "email", "card_number", "wx_openid", "wx_unionid"})


@dataclass(frozen=True)
class ErasableColumn:
    """A column of a raw table that identifies whose row it is."""

    column: str  # as stored in raw/ (personal columns as their _hash column)
    identifier_type: str
    only_when_anonymous: bool = False  # a device id erases an event only when no login is on it


ERASABLE: dict[tuple[str, str], tuple[ErasableColumn, ...]] = {
    ("crm", "customers"): (
        ErasableColumn("customer_no", "customer_no"),
        ErasableColumn("phone_hash", "phone"),
        ErasableColumn("id_number_hash", "id_number"),
        ErasableColumn("email_hash", "email"),
    ),
    ("crm", "bank_cards"): (
        ErasableColumn("customer_no", "customer_no"),
        ErasableColumn("card_number_hash", "card_number"),
    ),
    ("crm", "marketing_consents"): (ErasableColumn("customer_no", "customer_no"),),
    ("trade", "fund_accounts"): (
        ErasableColumn("fund_account_id", "fund_account_id"),
        ErasableColumn("customer_no", "customer_no"),
    ),
    ("trade", "trade_orders"): (ErasableColumn("fund_account_id", "fund_account_id"),),
    ("trade", "sip_agreements"): (ErasableColumn("fund_account_id", "fund_account_id"),),
    ("trade", "holdings"): (ErasableColumn("fund_account_id", "fund_account_id"),),
    ("tracking", "events"): (
        ErasableColumn("login_id", "login_id"),
        ErasableColumn("customer_no", "customer_no"),
        ErasableColumn("phone_hash", "phone"),
        ErasableColumn("wx_openid_hash", "wx_openid"),
        ErasableColumn("wx_unionid_hash", "wx_unionid"),
        ErasableColumn("anonymous_id", "anonymous_id", only_when_anonymous=True),
    ),
}

# Columns of derived tables (warehouse, analytics, segments, quality, exports) that key a row on a person.
SYSTEM_COLUMNS = {"customer_no": "customer_no", "fund_account_id": "fund_account_id", "login_id": "login_id"}


def tombstone(secret: bytes, identifier_type: str, clear_value: str) -> str:
    """The tombstone of an identifier: a keyed hash (tombstone secret) of its type and normalised value."""
    return hmac.new(secret, f"{identifier_type}|{clear_value}".encode(), hashlib.sha256).hexdigest()


def normalise(identifier_type: str, value: str) -> str:
    """A requested identifier normalised as ingestion normalises it."""
    normaliser = {
        "phone": pii.normalise_phone,
        "id_number": pii.normalise_id_number,
        "email": pii.normalise_email,
    }.get(identifier_type)
    return (normaliser(value) if normaliser else value.strip()) or ""


def request_hash(key: bytes, identifier_type: str, value: str) -> str:
    """The identity hash of a requested identifier."""
    normalised = normalise(identifier_type, value)
    if identifier_type in KEYED_TYPES:
        return pii.keyed_hash(key, normalised)
    return identity_hash(identifier_type, normalised)


# -------------------------------------------------------------------------------------------- tombstones


@dataclass(frozen=True)
class Tombstones:
    """The tombstones of erased persons and the secret they are keyed with (both in private.duckdb)."""

    secret: bytes = b""
    values: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.values)

    def covers(self, identifier_type: str, clear_value: str) -> bool:
        return tombstone(self.secret, identifier_type, clear_value) in self.values


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    query = "select count(*) from information_schema.tables where table_name = ?"
    return con.execute(query, [table]).fetchall()[0][0] > 0


def load_tombstones(layout: DataLayout) -> Tombstones:
    """Every tombstone recorded in ``private.duckdb`` (empty when there is none)."""
    if not layout.private_db.exists():
        return Tombstones()
    con = duckdb.connect(str(layout.private_db), read_only=True)
    try:
        if not table_exists(con, "erasure_tombstones"):
            return Tombstones()
        (secret,) = con.execute("select secret from erasure_secret").fetchall()[0]
        values = frozenset(
            row[0] for row in con.execute("select tombstone from erasure_tombstones").fetchall()
        )
        return Tombstones(bytes.fromhex(secret), values)
    finally:
        con.close()


def add_tombstones(
    layout: DataLayout, request_id: str, identifiers: Iterable[tuple[str, str]], now: datetime
) -> int:
    """Tombstone (identifier type, clear normalised value) pairs; returns how many were new."""
    existed = layout.private_db.exists()
    con = duckdb.connect(str(layout.private_db))
    try:
        con.execute("create table if not exists erasure_secret (secret varchar)")
        if not con.execute("select count(*) from erasure_secret").fetchall()[0][0]:
            con.execute("insert into erasure_secret values (?)", [secrets.token_hex(32)])
        (secret,) = con.execute("select secret from erasure_secret").fetchall()[0]
        con.execute(
            "create table if not exists erasure_tombstones "
            "(tombstone varchar primary key, request_id varchar, created_at timestamp)"
        )
        values = sorted({tombstone(bytes.fromhex(secret), kind, value) for kind, value in identifiers})
        before = con.execute("select count(*) from erasure_tombstones").fetchall()[0][0]
        for value in values:
            con.execute(
                "insert into erasure_tombstones values (?, ?, ?) on conflict do nothing",
                [value, request_id, now],
            )
        after = con.execute("select count(*) from erasure_tombstones").fetchall()[0][0]
    finally:
        con.close()
    if not existed:
        os.chmod(layout.private_db, 0o600)
    return after - before


def erased_rows_mask(
    public: pa.Table, private: pa.Table, spec_key: tuple[str, str], tombstones: Tombstones
) -> pa.Array:
    """True for each row of a protected table (its raw-layer part ``public`` and its clear part ``private``,
    row for row, from :func:`orchestration.lib.personal_data.protect_table`) that carries a tombstoned
    identifier."""
    mask = pa.array([False] * public.num_rows, type=pa.bool_())
    if not tombstones or public.num_rows == 0:
        return mask
    for erasable in ERASABLE.get(spec_key, ()):
        # Personal identifiers are compared in their clear normalised form (private), system ids as delivered.
        clear_column = (
            erasable.column.removesuffix("_hash") if erasable.identifier_type in KEYED_TYPES else None
        )
        table = private if clear_column else public
        name = clear_column or erasable.column
        if name not in table.column_names:
            continue
        values = table.column(name)
        hit = {
            value
            for value in pc.unique(values).to_pylist()
            if value is not None and tombstones.covers(erasable.identifier_type, value)
        }
        if not hit:
            continue
        matched = pc.fill_null(pc.is_in(values, value_set=pa.array(sorted(hit), type=values.type)), False)
        if erasable.only_when_anonymous:
            matched = pc.and_(matched, pc.is_null(public.column("login_id")))
        mask = pc.or_(mask, matched)
    return mask


# ------------------------------------------------------------------------------ identifiers in a line's text

# Every identifier type a tombstone can be of.
IDENTIFIER_TYPES = tuple(sorted({e.identifier_type for erasables in ERASABLE.values() for e in erasables}))
# What separates values in a delivered line: JSON and CSV punctuation, URL parts. Whitespace is not among
# them (a phone is often written "+86 138 1234 5678"); the words of each piece are candidates too.
_PIECE_SEPARATORS = re.compile(r"""[",;:{}\[\]|=&?/\\<>()'`]+""")


def line_candidates(text: str) -> set[str]:
    """The pieces of a line's text that could be an identifier (a malformed line cannot be parsed into
    fields, so each piece between separators, and each word of it, is a candidate)."""
    candidates: set[str] = set()
    for piece in _PIECE_SEPARATORS.split(text):
        piece = piece.strip()
        if not piece:
            continue
        candidates.add(piece)
        candidates.update(piece.split())
    return candidates


def mentions_tombstoned(text: str, tombstones: Tombstones) -> bool:
    """True if a line's text holds a tombstoned identifier of any type (compared normalised, as ingestion
    normalises it)."""
    if not tombstones or not text:
        return False
    for candidate in line_candidates(text):
        for kind in IDENTIFIER_TYPES:
            value = normalise(kind, candidate)
            if value and tombstones.covers(kind, value):
                return True
    return False


def erased_quarantine_lines(quarantine: pa.Table, tombstones: Tombstones) -> set[int]:
    """Line numbers of quarantined lines (``line_number``, ``line_text``, from
    :func:`orchestration.defs.ingest.loader.parse_file`) that carry a tombstoned identifier: a line that
    cannot be loaded is still the erased person's and goes with their rows."""
    if not tombstones or quarantine.num_rows == 0:
        return set()
    numbers = quarantine.column("line_number").to_pylist()
    texts = quarantine.column("line_text").to_pylist()
    return {n for n, text in zip(numbers, texts, strict=True) if mentions_tombstoned(text or "", tombstones)}


# --------------------------------------------------------------------------------------- landing files


def redact_landing_file(
    path: Path, line_numbers: set[int], file_format: str, control_path: Path, amount_removed: Decimal | None
) -> None:
    """Rewrite a delivered file without the given physical line numbers (CSV: the header is line 1;
    JSON lines: the first event is line 1) and adjust its control file entry to match."""
    data = path.read_bytes()
    if file_format == "jsonl":
        data = gzip.decompress(data)
    lines = data.split(b"\n")
    trailing = lines and lines[-1] == b""
    if trailing:
        lines.pop()
    kept = [line for number, line in enumerate(lines, start=1) if number not in line_numbers]
    removed = len(lines) - len(kept)
    output = b"\n".join(kept) + (b"\n" if trailing or not kept else b"")
    if file_format == "jsonl":
        output = gzip.compress(output, mtime=0)
    temporary = path.with_name(f".{path.name}.redacting")
    temporary.write_bytes(output)
    os.replace(temporary, path)
    if control_path.exists():  # a delivery never loaded may lack its control file
        _adjust_control(control_path, path.name, removed, amount_removed)
    # A demo file stays the demo's (loadable under the demo key) once the person's lines are cut.
    update_demo_marker([path, control_path])


def _adjust_control(control_path: Path, file_name: str, removed: int, amount_removed: Decimal | None) -> None:
    raw = control_path.read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    name_at, count_at, amount_at = (header.index(c) for c in ("file_name", "row_count", "amount_total"))
    for row in rows[1:]:
        if row and row[name_at].strip() == file_name:
            row[count_at] = str(int(row[count_at]) - removed)
            if amount_removed is not None and row[amount_at].strip():
                row[amount_at] = str((Decimal(row[amount_at]) - amount_removed).quantize(Decimal("0.01")))
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    temporary = control_path.with_name(f".{control_path.name}.redacting")
    temporary.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode("utf-8"))
    os.replace(temporary, control_path)
