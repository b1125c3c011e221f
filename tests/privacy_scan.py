"""Scanners for clear personal data, reusable by any test: DuckDB files, Parquet and CSV exports through
SQL, every other file byte by byte.

Each scanner looks for the exact ``needles`` it is given (a canary's values, or a deleted person's
customer number, login id and hashes) and for anything shaped like PRC personal data: a mobile number, a
valid resident ID number, an e-mail address. It returns a :class:`Scan`: what it looked at and every hit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from orchestration.lib import pii

# Patterns of clear personal data (DuckDB regex syntax), bounded so that they do not fire inside longer
# identifiers.
PHONE = r"(^|[^0-9A-Za-z])1[3-9][0-9]{9}([^0-9A-Za-z]|$)"
ID_NUMBER = r"(^|[^0-9A-Za-z])[1-8][0-9]{5}(19|20)[0-9]{2}[01][0-9][0-3][0-9]{4}[0-9Xx]([^0-9A-Za-z]|$)"
EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z]{2,}"
HEX_HASH = r"^[0-9a-f]{64}$"

# The same for bytes (a file of any encoding: logs, JSON, HTML, SQLite pages), written for speed: Python's
# regex engine tries every position of a 40 MB data directory (seconds), a byte search does not.
_MOBILE_TOKEN = re.compile(rb"1[3-9][0-9]{9}")
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_ELEVEN_DIGITS = b"0" * 11
# An e-mail address found from its '@' (a literal the regex engine searches for fast) ...
_EMAIL_DOMAIN = re.compile(rb"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# ... and extended back over the characters of a local part.
_EMAIL_LOCAL_CHARACTERS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-")

# Files scanned through SQL (or never: private.duckdb), not as bytes: DuckDB compresses its strings, so
# a byte scan of a .duckdb file proves nothing; gzip files are the tracking deliveries in landing/.
BINARY_SUFFIXES = (".duckdb", ".duckdb.wal", ".parquet", ".gz")


@dataclass
class Scan:
    """What a scanner looked at (tables, files) and what it found there."""

    scanned: list[str] = field(default_factory=list)
    hits: list[str] = field(default_factory=list)

    def __add__(self, other: Scan) -> Scan:
        return Scan(self.scanned + other.scanned, self.hits + other.hits)


@dataclass(frozen=True)
class VendorCopy:
    """Files copied unchanged from a vendor's package (``pattern``'s group ``relative`` is the path inside
    ``vendor_root``): pattern hits there are the vendor's, e.g. a font designer's e-mail address."""

    pattern: re.Pattern[str]
    vendor_root: Path

    def covers(self, path: Path) -> bool:
        match = self.pattern.search(path.as_posix())
        if match is None:
            return False
        original = self.vendor_root / match.group("relative")
        # Only a byte-identical copy is the vendor's: an edited or new file is scanned like any other.
        return original.is_file() and original.read_bytes() == path.read_bytes()


@dataclass(frozen=True)
class Allowed:
    """Known non-personal values that look like personal data, and vendor files whose pattern hits are the
    vendor's. Never an exemption from the needles: those are looked for in every file."""

    values: frozenset[str] = frozenset()
    vendor_copies: tuple[VendorCopy, ...] = ()

    def covers_file(self, path: Path) -> bool:
        return any(copy.covers(path) for copy in self.vendor_copies)


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _text_columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    """(quoted column, its text as a SQL expression) for every column that can hold text: VARCHAR, and
    lists, structs, maps and JSON (cast to their text form, so nothing hides inside a nested value)."""
    columns = []
    for name, column_type, *_ in con.execute(f"describe select * from {relation}").fetchall():
        quoted = '"' + name.replace('"', '""') + '"'
        if column_type == "VARCHAR":
            columns.append((name, quoted))
        elif "VARCHAR" in column_type or column_type == "JSON" or column_type.startswith(("STRUCT", "MAP")):
            columns.append((name, f"cast({quoted} as varchar)"))
    return columns


def scan_relation(
    con: duckdb.DuckDBPyConnection, relation: str, label: str, needles: Iterable[str] = ()
) -> list[str]:
    """Every hit of a needle or a personal-data pattern in the text columns of a relation (one pass)."""
    needles = [needle for needle in needles if needle]
    columns = _text_columns(con, relation)
    if not columns:
        return []

    def found(text: str) -> str:
        return " or ".join(f"contains({text}, {_sql_string(needle)})" for needle in needles) or "false"

    counts, id_like = [], []
    for name, text in columns:
        if name.endswith("_hash"):
            # A hash column may hold nothing but 64-hex hashes (nothing else can hide there).
            counts.append(f"count_if(not regexp_matches({text}, '{HEX_HASH}') or {found(text)})")
            id_like.append("null")
            continue
        patterns = " or ".join(f"regexp_matches({text}, '{pattern}')" for pattern in (PHONE, EMAIL))
        counts.append(f"count_if({found(text)} or {patterns})")
        id_like.append(f"list(distinct {text}) filter (where regexp_matches({text}, '{ID_NUMBER}'))")
    row = con.execute(f"select {', '.join(counts + id_like)} from {relation}").fetchone()
    hits = []
    for (name, _), count, values in zip(columns, row[: len(columns)], row[len(columns) :], strict=True):
        # 18-digit system numbers (order ids) look like ID numbers; only a real one (province, birth
        # date and check character all valid) counts as a leak.
        count = (count or 0) + sum(
            any(pii.is_valid_id_number(token.upper()) for token in re.findall(r"[0-9]{17}[0-9Xx]", value))
            for value in values or []
        )
        if count:
            hits.append(f"{label}.{name}: {count} rows")
    return hits


def scan_databases(paths: Iterable[Path], needles: Iterable[str] = ()) -> Scan:
    """Every table of every DuckDB file in ``paths`` (opened read-only)."""
    needles = list(needles)
    scan = Scan()
    for path in paths:
        con = duckdb.connect(str(path), read_only=True)
        try:
            tables = con.execute(
                "select table_catalog, table_schema, table_name from information_schema.tables"
            ).fetchall()
            for catalog, schema, table in tables:
                label = f"{path.name}:{schema}.{table}"
                scan.scanned.append(label)
                scan.hits += scan_relation(con, f'"{catalog}"."{schema}"."{table}"', label, needles)
        finally:
            con.close()
    return scan


def _table_folder(path: Path) -> Path:
    """The folder of the table a Parquet file belongs to: above its hive partition folders."""
    folder = path.parent
    while "=" in folder.name:
        folder = folder.parent
    return folder


def scan_parquet(root: Path, needles: Iterable[str] = ()) -> Scan:
    """Every Parquet file under ``root``, one query per table (its partition files read together: a
    query per file costs ~25 ms, and raw/ holds a thousand)."""
    needles = list(needles)
    tables: dict[Path, list[Path]] = {}
    for path in sorted(root.rglob("*.parquet")):
        tables.setdefault(_table_folder(path), []).append(path)
    scan = Scan()
    con = duckdb.connect()
    try:
        for folder, paths in tables.items():
            label = str(folder.relative_to(root)) or "."
            scan.scanned += [str(path.relative_to(root)) for path in paths]
            files = ", ".join(_sql_string(str(path)) for path in paths)
            relation = f"read_parquet([{files}], union_by_name = true, hive_partitioning = false)"
            scan.hits += scan_relation(con, relation, label, needles)
    finally:
        con.close()
    return scan


def scan_outbox(outbox: Path, needles: Iterable[str] = ()) -> Scan:
    """Every export under ``outbox``: CSV files read as text (every column VARCHAR) and Parquet files.
    (Other files there, such as manifests, are left to :func:`scan_text_files`.)"""
    needles = list(needles)
    scan = scan_parquet(outbox, needles)
    con = duckdb.connect()
    try:
        for path in sorted(outbox.rglob("*.csv")):
            label = str(path.relative_to(outbox))
            scan.scanned.append(label)
            relation = f"read_csv({_sql_string(str(path))}, all_varchar = true, header = true)"
            scan.hits += scan_relation(con, relation, label, needles)
    finally:
        con.close()
    return scan


def text_files(roots: Iterable[Path], skip: Iterable[Path] = ()) -> list[Path]:
    """Every file under ``roots`` (not under ``skip``) that is neither DuckDB, Parquet nor gzip."""
    skip = [folder.resolve() for folder in skip]
    files = []
    for root in roots:
        for path in sorted(root.rglob("*")):
            if not path.is_file() or path.name.endswith(BINARY_SUFFIXES):
                continue
            if any(path.resolve().is_relative_to(folder) for folder in skip):
                continue
            files.append(path)
    return files


def _byte_forms(needle: str) -> set[bytes]:
    """The byte forms a value takes in a file: UTF-8, and JSON's ``\\uXXXX`` escapes for non-ASCII text
    (Dagster's event log and dbt's artefacts are JSON)."""
    escaped = json.dumps(needle)[1:-1]
    return {needle.encode(), escaped.encode(), escaped.lower().encode()}


def needles_in(content: bytes, needles: Iterable[str]) -> list[str]:
    """The needles found in ``content``, in any of their byte forms."""
    return [needle for needle in needles if needle and any(form in content for form in _byte_forms(needle))]


def _numbers(content: bytes) -> Iterator[bytes]:
    """Every run of 11 or more digits (with an ID number's check character X) standing alone: neither
    preceded nor followed by a letter or digit (what PHONE and ID_NUMBER mean by a bounded value), and
    not a decimal fraction."""
    folded = content.translate(_DIGITS_AS_ZERO)
    start = folded.find(_ELEVEN_DIGITS)
    while start != -1:
        end = start + len(_ELEVEN_DIGITS)
        while end < len(folded) and folded[end] == ord("0"):
            end += 1
        if content[end : end + 1] in (b"X", b"x"):
            end += 1
        # ... and not the fraction of a decimal number (Dagster's step durations: "30527.14925300097")
        fraction = content[start - 1 : start] == b"." and content[start - 2 : start - 1].isdigit()
        if not content[start - 1 : start].isalnum() and not content[end : end + 1].isalnum() and not fraction:
            yield content[start:end]
        start = folded.find(_ELEVEN_DIGITS, end)


def _emails(content: bytes) -> Iterator[str]:
    """Every e-mail address (what EMAIL matches) in ``content``."""
    for match in _EMAIL_DOMAIN.finditer(content):
        start = match.start()
        while start > 0 and content[start - 1] in _EMAIL_LOCAL_CHARACTERS:
            start -= 1
        if start < match.start():
            yield content[start : match.end()].decode()


def scan_text_files(
    roots: Iterable[Path], needles: Iterable[str] = (), allow: Allowed = Allowed(), skip: Iterable[Path] = ()
) -> Scan:
    """Every file under ``roots`` except DuckDB, Parquet and gzip files (and anything under ``skip``),
    read as bytes: each needle anywhere is a hit, so is any mobile number, valid ID number or e-mail
    address not in ``allow``."""
    needles = [needle for needle in needles if needle]
    overlap = [needle for needle in needles if needle in allow.values]
    assert not overlap, f"the allow-list must never cover a value looked for: {overlap}"
    scan = Scan()
    for path in text_files(roots, skip):
        scan.scanned.append(str(path))
        content = path.read_bytes()
        scan.hits += [f"{path}: {needle!r}" for needle in needles_in(content, needles)]
        if allow.covers_file(path):
            continue
        found = {token.decode() for token in _numbers(content) if _MOBILE_TOKEN.fullmatch(token)}
        found |= {
            token.decode()
            for token in _numbers(content)
            if len(token) == 18 and pii.is_valid_id_number(token.decode().upper())
        }
        found |= set(_emails(content))
        scan.hits += [f"{path}: {value!r}" for value in sorted(found - allow.values)]
    return scan


def _relations_holding(con: duckdb.DuckDBPyConnection, relation: str, needles: list[str]) -> bool:
    columns = _text_columns(con, relation)
    if not columns:
        return False
    # One RE2 alternation of the literal needles per column: linear in the text, however many needles.
    pattern = _sql_string("|".join(re.escape(needle) for needle in needles))
    condition = " or ".join(f"regexp_matches({text}, {pattern})" for _, text in columns)
    return con.execute(f"select count(*) from {relation} where {condition}").fetchone()[0] > 0


def files_holding(root: Path, needles: Iterable[str], skip: Iterable[Path] = ()) -> list[str]:
    """Every file under ``root`` (not under ``skip``) holding any needle, personal data patterns aside:
    DuckDB tables through SQL (``<file>:<schema>.<table>``) and by their bytes (``<file> (bytes)``),
    Parquet files through SQL, gzip files decompressed, every other file by its bytes (landing/,
    private.duckdb, Dagster's sqlite storage and logs included). For proving that a deleted person is gone."""
    import gzip

    needles = [needle for needle in needles if needle]
    skip = [folder.resolve() for folder in skip]
    found = []
    scratch = duckdb.connect()
    try:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            if any(path.resolve().is_relative_to(folder) for folder in skip):
                continue
            label = str(path.relative_to(root))
            if path.suffix == ".duckdb":
                con = duckdb.connect(str(path), read_only=True)
                try:
                    tables = con.execute(
                        "select table_catalog, table_schema, table_name from information_schema.tables"
                    ).fetchall()
                    found += [
                        f"{label}:{s}.{t}"
                        for c, s, t in tables
                        if _relations_holding(con, f'"{c}"."{s}"."{t}"', needles)
                    ]
                finally:
                    con.close()
                # ... and its bytes: a freed page keeps a deleted value that no query returns.
                if needles_in(path.read_bytes(), needles):
                    found.append(f"{label} (bytes)")
            elif path.suffix == ".parquet":
                if _relations_holding(scratch, f"read_parquet({_sql_string(str(path))})", needles):
                    found.append(label)
            else:
                content = path.read_bytes()
                if path.suffix == ".gz":
                    content = gzip.decompress(content)
                if needles_in(content, needles):
                    found.append(label)
    finally:
        scratch.close()
    return found
