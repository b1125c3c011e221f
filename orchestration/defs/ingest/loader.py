"""Load one delivered file into typed rows, accounting for every line.

Every physical data line of a file ends up either as a typed row or as a quarantine row with its reason:
``lines_read == rows_loaded + rows_quarantined`` is checked for every file. Reasons:

- ``malformed_json``: not a JSON object (tracking);
- ``unterminated_quote``: an odd number of ``"`` on the line (CSV records never span lines);
- ``wrong_column_count``: more or fewer fields than the header;
- ``bad_number`` / ``bad_date``: a non-empty value that does not cast to the column's type (after the
  normalisation below); a "no value" placeholder (``NULL``, ``N/A``, …) in a typed column that is not a
  key is no value and loads as NULL, like an empty field (in a text column it is kept as delivered);
- ``missing_key``: a key column is empty or holds a "no value" placeholder (``NULL``, ``None``, ``N/A``,
  …: ``vars: fundcdp: ingest: null_placeholders``);
- ``implausible_date``: a date before the column's floor year or after the delivery year
  (``vars: fundcdp: ingest: dates``);
- ``future_date``: a date (or an event's receive time) later than the delivery day plus
  ``max_future_days``;
- ``repeated_header``: a CSV line that is the header again (two exports concatenated into one file).

Text hygiene: BOMs and zero-width characters (:data:`INVISIBLE_CHARACTERS`) are removed anywhere in a
field and in the header's names, and counted (:attr:`ParsedFile.invisible_characters_stripped`); a number
that does not cast as delivered is retried with full-width digits made ASCII and well-formed thousands
separators (``1,234.50``) removed. Error messages show invisible characters escaped (:func:`visible`).

A file that cannot be read at all (bad gzip, unreadable encoding, missing columns) raises
:class:`LoadError` naming the file, and the column or line where it broke. Its message quotes no
delivered value: a header missing columns is listed only when every name looks like a column name
(``[a-z_][a-z0-9_]*``), else the first line "is not a header" (a headerless file's first line is a
customer's data).

No delivered text becomes SQL: the file's path reaches DuckDB as a bound parameter (``read_json(?, …)``),
column names and JSON paths (from the committed specs) go through :mod:`orchestration.lib.sql`. Free-text
columns are scanned for personal data (:mod:`orchestration.lib.free_text`) before the rows leave here.
"""

from __future__ import annotations

import csv
import ctypes
import gzip
import hashlib
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property, lru_cache
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orchestration.lib.free_text import redact_table
from orchestration.lib.rules import fixed_utc_offset_minutes, load_business_rules, local_time_zone_name
from orchestration.lib.sources import SQL_TYPES, Column, TableSpec
from orchestration.lib.sql import quote_identifier, quote_literal

QUARANTINE_REASONS = (
    "malformed_json",
    "unterminated_quote",
    "wrong_column_count",
    "bad_number",
    "bad_date",
    "missing_key",
    "implausible_date",
    "future_date",
    "repeated_header",
)

# Byte order marks and zero-width characters: invisible, never part of a value (a BOM mid-file, where two
# exports were concatenated, or a zero-width space pasted into an id).
INVISIBLE_CHARACTERS = "\ufeff\u200b\u200c\u200d\u2060"
# Full-width digits and signs (an export typed with a Chinese input method), as ASCII.
_FULL_WIDTH = "０１２３４５６７８９．，－＋"
_ASCII_NUMBER = "0123456789.,-+"


def visible(text: str) -> str:
    """``text`` with every character that does not print (BOM, zero-width, control characters, …)
    escaped as ``\\uXXXX`` / ``\\xXX``, so that an error message shows what the file really holds."""
    if text.isprintable():
        return text
    return "".join(
        character if character.isprintable() else character.encode("unicode_escape").decode("ascii")
        for character in text
    )


class LoadError(Exception):
    """A delivered file that cannot be loaded; the message names the file and what is wrong. Invisible
    characters in the message are shown escaped (:func:`visible`)."""

    def __init__(self, message: str) -> None:
        super().__init__(visible(message))


@dataclass(frozen=True)
class TextHygiene:
    """What the loader treats as missing or implausible (``vars: fundcdp: ingest:``)."""

    null_placeholders: tuple[str, ...]
    max_future_days: int
    min_year: int
    min_year_by_column: dict[str, int]
    future_allowed_columns: frozenset[str]

    @classmethod
    def from_rules(cls, rules: dict) -> TextHygiene:
        """The settings of a ``vars: fundcdp:`` block."""
        ingest = rules["ingest"]
        dates = ingest["dates"]
        return cls(
            null_placeholders=tuple(str(text) for text in ingest["null_placeholders"]),
            max_future_days=int(dates["max_future_days"]),
            min_year=int(dates["min_year"]),
            min_year_by_column={str(k): int(v) for k, v in (dates.get("min_year_by_column") or {}).items()},
            future_allowed_columns=frozenset(str(c) for c in dates.get("future_allowed_columns") or ()),
        )

    @classmethod
    def current(cls) -> TextHygiene:
        """The settings of the project's rules (or of rules overridden in-process)."""
        return cls.from_rules(load_business_rules())


@dataclass(frozen=True)
class FileContent:
    """A delivered file's bytes identity and its content (decompressed); the text is decoded and split
    into lines on demand: a clean tracking file is parsed by DuckDB straight from the file and needs
    neither."""

    path: Path
    size_bytes: int
    content_sha256: str
    data: bytes
    encoding: str
    has_header: bool  # a CSV file: its first line names the columns

    @cached_property
    def text(self) -> str:
        """The decoded content; :class:`LoadError` naming the byte and line where it is unreadable."""
        try:
            return self.data.decode(self.encoding)
        except UnicodeDecodeError as bad:
            line_number = self.data[: bad.start].count(b"\n") + 1
            raise LoadError(
                f"{self.path}: unreadable {self.encoding} at byte {bad.start} (line {line_number}): "
                f"{bad.reason}"
            ) from None

    @cached_property
    def header(self) -> list[str] | None:
        """The column names of a CSV file (None for a tracking file)."""
        if not self.has_header:
            return None
        return [_without_invisible(name).strip() for name in self.delivered_header or []]

    @cached_property
    def delivered_header(self) -> list[str] | None:
        """The header's names as delivered (invisible characters kept), for messages."""
        if not self.has_header:
            return None
        first_line = self.text.split("\n", 1)[0].removesuffix("\r")
        return next(csv.reader([first_line]), [])

    @property
    def first_data_line_number(self) -> int:
        return 2 if self.has_header else 1

    @cached_property
    def lines(self) -> list[str]:
        """The data lines (CSV header split off), trailing newline ignored, ``\\r`` of CRLF removed."""
        lines = self.text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        lines = [line[:-1] if line.endswith("\r") else line for line in lines]
        return lines[1:] if self.has_header else lines

    @cached_property
    def line_count(self) -> int:
        """``len(lines)``, counted on the bytes without decoding or splitting."""
        if self.has_header:
            return len(self.lines)
        return self.data.count(b"\n") + (0 if not self.data or self.data.endswith(b"\n") else 1)


@dataclass(frozen=True)
class ParsedFile:
    """The outcome of parsing one file: typed rows (free text redacted) and quarantined lines."""

    content: FileContent
    rows: pa.Table
    quarantine: pa.Table
    ignored_columns: tuple[str, ...]
    # Personal values replaced by placeholders in free-text columns, by kind (phone, id_number, ...).
    free_text_redactions: Counter[str] = field(default_factory=Counter)
    # BOMs and zero-width characters removed from the file's fields and header names.
    invisible_characters_stripped: int = 0

    @property
    def lines_read(self) -> int:
        return self.content.line_count

    @property
    def rows_loaded(self) -> int:
        return self.rows.num_rows

    @property
    def rows_quarantined(self) -> int:
        return self.quarantine.num_rows


_INVISIBLE_TABLE = str.maketrans("", "", INVISIBLE_CHARACTERS)
# What a delivered header name must look like (after hygiene) to be quoted in an error message: anything
# else may be a data line taken for the header, and its values personal data.
_COLUMN_NAME = re.compile(r"[a-z_][a-z0-9_]*")


def _without_invisible(text: str) -> str:
    return text.translate(_INVISIBLE_TABLE)


def read_file(path: Path, spec: TableSpec) -> FileContent:
    """Read a delivered file (a tracking file is gunzipped); a CSV file is decoded and its header split
    off. A tracking file is decoded only when its lines are needed (see :class:`FileContent`)."""
    data = path.read_bytes()
    size = len(data)
    sha = hashlib.sha256(data).hexdigest()
    if spec.file_format == "jsonl":
        if not data:  # a gzip of no lines is 20 bytes: zero bytes is a copy that failed, not an empty day
            raise LoadError(
                f"{path}: empty file (0 bytes), not a gzip file; a day without events is a gzip of no lines"
            )
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as broken:
            raise LoadError(f"{path}: not a readable gzip file ({broken})") from None
        return FileContent(path, size, sha, data, "utf-8", has_header=False)
    content = FileContent(path, size, sha, data, spec.encoding, has_header=True)
    text = content.text  # decoded now: an unreadable CSV file fails here, naming the place
    if not text or (not content.header and text.count("\n") <= 1):
        raise LoadError(f"{path}: empty file, expected a header line")
    return content


def _csv_fields(
    content: FileContent, spec: TableSpec
) -> tuple[pa.Table, list[tuple[int, str, str]], tuple[str, ...]]:
    """Split CSV lines into string columns (with the file's ``_delivery_day``); structural rejects
    returned as (line, reason, detail)."""
    header = content.header or []
    missing = [name for name in spec.column_names if name not in header]
    if missing:
        if not all(_COLUMN_NAME.fullmatch(name) for name in header):
            # a headerless file: its first line is data (names, ID numbers, phones), never quoted
            raise LoadError(
                f"{content.path}: the first line is not a header ({len(header)} fields); "
                f"expected the header {','.join(spec.column_names)}"
            )
        delivered = ", ".join(content.delivered_header or [])
        raise LoadError(f"{content.path}: missing column(s) {', '.join(missing)} (header has: {delivered})")
    ignored = tuple(name for name in header if name not in spec.column_names)
    positions = [header.index(name) for name in spec.column_names]
    rejects: list[tuple[int, str, str]] = []
    balanced_lines: list[str] = []
    balanced_numbers: list[int] = []
    for offset, line in enumerate(content.lines):
        number = content.first_data_line_number + offset
        # A record never spans lines, so an odd quote count means an unterminated quote; catching it
        # here stops the CSV reader from swallowing the following lines into one value.
        if line.count('"') % 2:
            rejects.append((number, "unterminated_quote", ""))
        else:
            balanced_lines.append(line)
            balanced_numbers.append(number)
    values: list[list[str]] = [[] for _ in positions]
    line_numbers: list[int] = []
    for number, fields in zip(balanced_numbers, csv.reader(balanced_lines), strict=True):
        # Two exports concatenated: the second one's header is no record (its dates would fail as bad_date).
        if (
            fields
            and header
            and _without_invisible(fields[0]).strip() == header[0]
            and _is_header(fields, header)
        ):
            rejects.append((number, "repeated_header", ""))
            continue
        if len(fields) != len(header):
            rejects.append((number, "wrong_column_count", f"{len(fields)} fields, header has {len(header)}"))
            continue
        line_numbers.append(number)
        for slot, position in zip(values, positions, strict=True):
            slot.append(fields[position])
    columns = {name: pa.array(v, type=pa.string()) for name, v in zip(spec.column_names, values, strict=True)}
    columns["_source_line"] = pa.array(line_numbers, type=pa.int64())
    columns["_delivery_day"] = _constant_dates(_delivery_date(content, spec), len(line_numbers))
    return pa.table(columns), rejects, ignored


def _is_header(fields: list[str], header: list[str]) -> bool:
    """True if a line's fields are the header's names (invisible characters and spaces aside)."""
    return [_without_invisible(value).strip() for value in fields] == header


def _delivery_date(content: FileContent, spec: TableSpec) -> date | None:
    """The delivery day the file's name carries (None for a name outside the pattern: no future check)."""
    day = spec.delivery_day(content.path.name)
    return date.fromisoformat(day) if day else None


def _constant_dates(day: date | None, count: int) -> pa.Array:
    return pa.array([day], type=pa.date32()).take(pa.array(np.zeros(count, np.int32)))


def _header_invisible_count(content: FileContent) -> int:
    return sum(len(name) - len(_without_invisible(name)) for name in content.delivered_header or [])


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def read_json_columns(spec: TableSpec) -> tuple[str, str] | None:
    """``read_json`` column types and the select list naming the spec's columns, for a spec whose JSON
    paths are at most two levels deep; None otherwise."""
    tops: dict[str, dict[str, str] | str] = {}
    paths = [column.json_path for column in spec.columns]
    if len(set(paths)) != len(paths):
        return None
    for column in spec.columns:
        parts = column.json_path.removeprefix("$.").split(".")
        if not all(_PLAIN_KEY.fullmatch(part) for part in parts):
            return None  # array indexes, quoted keys: the line-by-line path's json_extract handles them
        if len(parts) == 1 and parts[0] not in tops:
            tops[parts[0]] = column.name
        elif len(parts) == 2 and isinstance(tops.setdefault(parts[0], {}), dict):
            tops[parts[0]][parts[1]] = column.name
        else:
            return None
    types, selects = [], []
    for key, value in tops.items():
        if isinstance(value, str):
            types.append(f"{quote_literal(key)}: 'varchar'")
            selects.append(f"{quote_identifier(key)} as {quote_identifier(value)}")
        else:
            fields = ", ".join(f"{quote_identifier(inner)} varchar" for inner in value)
            types.append(f"{quote_literal(key)}: {quote_literal(f'struct({fields})')}")
            selects.extend(
                f"{quote_identifier(key)}.{quote_identifier(inner)} as {quote_identifier(name)}"
                for inner, name in value.items()
            )
    return "{" + ", ".join(types) + "}", ", ".join(selects)


def _json_typed_natively(
    content: FileContent, spec: TableSpec, con: duckdb.DuckDBPyConnection, hygiene: TextHygiene
) -> bool:
    """Parse and type a clean tracking file in one statement: DuckDB's ``read_json`` straight from the file
    into the temp table ``typed`` (see :func:`_create_typed`), without a table of strings in between. Returns
    False, leaving nothing behind, when the file is not clean: a line that is not a JSON object, a
    malformed line, a duplicate key, a properties value that is not an object, or a row count that differs
    from the line count. The caller then takes the line-by-line path, which quarantines each bad line with
    its reason."""
    columns = read_json_columns(spec)
    if columns is None:
        return False
    types, selects = columns
    source = (
        f"select {selects}, ordinality as _source_line, cast(? as date) as _delivery_day "
        f"from read_json(?, format = 'newline_delimited', compression = 'gzip', "
        f"columns = {types}, maximum_object_size = 16777216) with ordinality"
    )
    try:
        _create_typed(
            spec,
            con,
            source,
            hygiene,
            flag_all_null=True,
            parameters=[_delivery_date(content, spec), str(content.path)],
        )
    except duckdb.InvalidInputException:  # what read_json raises on every kind of unclean line
        return False
    except duckdb.IOException:
        # A gzip stream Python read whole but DuckDB's reader refuses (zero padding after its end): the
        # line-by-line path reads the content Python decompressed.
        return False
    # A ``null`` line reads as a row of nulls (an empty object too: both go the careful way); a blank
    # line is skipped and two objects on one line read as two rows: the count tells.
    (rows, nulls) = con.execute("select count(*), count(*) filter (where _all_null) from typed").fetchone()
    if rows != content.line_count or nulls:
        con.execute("drop table typed")
        return False
    return True


def _json_fields(
    content: FileContent, spec: TableSpec, con: duckdb.DuckDBPyConnection
) -> tuple[list[tuple[int, str, str]], int]:
    """Extract the tracking fields of every line as strings into the temp table ``string_rows``; lines
    that are not JSON objects are rejected. A line that is not valid JSON as delivered is read again
    without its invisible characters (a BOM before an object, where two files were concatenated, is no
    reason to lose the event), and those are counted; in a valid line they, and those written as JSON
    escapes (``\\ufeff``), are removed with the fields by :func:`_create_typed`. Returns the rejects and
    the count. (A clean file takes :func:`_json_typed_natively` instead.)"""
    lines = pa.table(
        {
            "_source_line": pa.array(range(1, len(content.lines) + 1), type=pa.int64()),
            "line": pa.array(content.lines, type=pa.string()),
            "_delivery_day": _constant_dates(_delivery_date(content, spec), len(content.lines)),
        }
    )
    con.register("json_lines", lines)
    paths = ", ".join(quote_literal(column.json_path) for column in spec.columns)
    selects = ", ".join(
        f"fields[{i + 1}] as {quote_identifier(column.name)}" for i, column in enumerate(spec.columns)
    )
    con.execute(
        f"""
        create or replace temp table parsed as
        with delivered as (select *, json_valid(line) as is_valid from json_lines),
        cleaned as (
            -- only a line that is not valid JSON as delivered is cleaned here: invisible characters
            -- inside a valid line's values are removed (and counted) with the fields
            select _source_line, _delivery_day, is_valid, strlen(line) as delivered_bytes,
                   case when is_valid then line
                        else translate(line, {quote_literal(INVISIBLE_CHARACTERS)}, '') end as line
            from delivered
        ),
        checked as (
            select _source_line, _delivery_day, line, delivered_bytes,
                   -- CASE, not AND: DuckDB would otherwise evaluate json_type on invalid JSON
                   case when is_valid or json_valid(line) then json_type(line) = 'OBJECT' else false end
                       as is_object
            from cleaned
        )
        select _source_line, _delivery_day, is_object, (delivered_bytes - strlen(line)) // 3 as stripped,
               case when is_object then json_extract_string(line, [{paths}]) end as fields
        from checked
        """
    )
    con.unregister("json_lines")
    (stripped,) = con.execute("select coalesce(sum(stripped), 0) from parsed").fetchone()
    rejects = [
        (line, "malformed_json", "")
        for (line,) in con.execute(
            "select _source_line from parsed where not is_object order by 1"
        ).fetchall()
    ]
    con.execute(
        f"create or replace temp table string_rows as "
        f"select {selects}, _source_line, _delivery_day from parsed where is_object order by _source_line"
    )
    con.execute("drop table parsed")
    return rejects, int(stripped)


def _normalised_number(value: str) -> str:
    """SQL giving a delivered number as a cast can take it: invisible characters removed, full-width
    digits and signs made ASCII, thousands separators removed where they group digits by three
    (``1,234.50``; ``1,2`` stays and fails)."""
    # translate() deletes the characters it has no counterpart for: the invisible ones.
    from_characters = quote_literal(_FULL_WIDTH + INVISIBLE_CHARACTERS)
    ascii_text = f"translate({value}, {from_characters}, {quote_literal(_ASCII_NUMBER)})"
    grouped = quote_literal(r"[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?")
    return (
        f"(case when regexp_full_match({ascii_text}, {grouped}) "
        f"then replace({ascii_text}, ',', '') else {ascii_text} end)"
    )


def _typed_expression(column: Column) -> tuple[str, str | None]:
    """SQL giving the typed value from the column's trimmed, empty-as-null string, and the reject reason
    if it fails. A number that does not cast as delivered is cast again normalised
    (:func:`_normalised_number`); the second cast runs only for the values the first could not take."""
    value = quote_identifier(column.name)
    if column.kind == "text":
        return value, None
    if column.kind == "date":
        return f"cast(try_strptime({value}, '%Y-%m-%d') as date)", "bad_date"
    if column.kind == "timestamp":
        return f"try_strptime({value}, ['%Y-%m-%d %H:%M:%S', '%Y-%m-%d %H:%M:%S.%f'])", "bad_date"
    sql_type = SQL_TYPES[column.kind]
    # CASE, not coalesce(): DuckDB evaluates a CASE branch only for the rows that take it.
    as_delivered = f"try_cast({value} as {sql_type})"
    return (
        f"case when {as_delivered} is null and {value} is not null "
        f"then try_cast({_normalised_number(value)} as {sql_type}) else {as_delivered} end",
        "bad_number",
    )


def _local_day_of_epoch_ms(typed: str) -> str:
    """SQL of the local date (``vars: fundcdp: time_zone``) of an epoch-milliseconds expression: a fixed
    offset added when the zone keeps one (Asia/Shanghai: 480 minutes), else a time-zone conversion."""
    offset = fixed_utc_offset_minutes()
    if offset is not None:
        return f"cast(epoch_ms({typed}) + interval {offset} minute as date)"
    return (
        f"cast(timezone({quote_literal(local_time_zone_name())}, make_timestamptz({typed} * 1000)) as date)"
    )


def _date_checks(column: Column, typed: str, hygiene: TextHygiene) -> list[str]:
    """CASE branches quarantining an implausible or future date of a date, timestamp or epoch column
    (``typed`` is its typed value); the delivery day is the row's ``_delivery_day`` (null: not judged)."""
    if column.kind == "date":
        day = typed
    elif column.kind == "timestamp":
        day = f"cast({typed} as date)"
    elif column.epoch_ms:
        day = _local_day_of_epoch_ms(typed)
    else:
        return []
    floor = hygiene.min_year_by_column.get(column.name, hygiene.min_year)
    future_allowed = column.name in hygiene.future_allowed_columns
    last_year = "year(_delivery_day) + 1" if future_allowed else "year(_delivery_day)"
    checks = [
        f"when year({day}) < {int(floor)} or year({day}) > {last_year} "
        f"then {quote_literal(f'implausible_date|{column.name}')}"
    ]
    if not future_allowed:
        checks.append(
            f"when {day} > _delivery_day + {int(hygiene.max_future_days)} "
            f"then {quote_literal(f'future_date|{column.name}')}"
        )
    return checks


def _create_typed(
    spec: TableSpec,
    con: duckdb.DuckDBPyConnection,
    source: str,
    hygiene: TextHygiene,
    flag_all_null: bool = False,
    parameters: list | None = None,
    carried_columns: tuple[str, ...] = (),
) -> None:
    """Cast every column of the string rows ``source`` (a table or a query with the spec's columns,
    ``_source_line`` and ``_delivery_day``) explicitly into the temp table ``typed``, with ``_reject``: the
    first column that fails names the line's reject reason, and ``_stripped``: the invisible characters
    removed from the line. Each value is cleaned, trimmed and cast once. ``flag_all_null`` adds
    ``_all_null``: every column of the line was absent (before trimming). ``parameters`` are bound to the
    ``?`` of ``source``. ``carried_columns`` (internal names, not delivered ones) pass through unchanged."""
    names = {column.name: quote_identifier(column.name) for column in spec.columns}
    # translate() with an empty target deletes the characters; it copies every value, so it runs only on
    # the values a regular expression finds them in (on a tracking day, matching costs a third of
    # translating).
    invisible = quote_literal(INVISIBLE_CHARACTERS)
    invisible_class = quote_literal(f"[{INVISIBLE_CHARACTERS}]")
    cleaned = ", ".join(
        f"case when regexp_matches({name}, {invisible_class}) then translate({name}, {invisible}, '') "
        f"else {name} end as {name}"
        for name in names.values()
    )
    # Bytes, not characters: strlen() reads the stored size, length() counts characters; every invisible
    # character is 3 bytes in UTF-8.
    delivered_length = " + ".join(f"coalesce(strlen({name}), 0)" for name in names.values())
    # rtrim(ltrim()): the same as trim() and here twice as fast
    trimmed = ", ".join(f"nullif(rtrim(ltrim({names[c.name]})), '') as {names[c.name]}" for c in spec.columns)
    placeholders = ", ".join(quote_literal(text.strip().lower()) for text in hygiene.null_placeholders)
    casts: list[str] = []
    outputs: list[str] = []
    checks: list[str] = []
    for position, column in enumerate(spec.columns):
        expression, reason = _typed_expression(column)
        name = names[column.name]
        if column.required:
            missing = f"{name} is null"
            if placeholders:
                missing += f" or lower({name}) in ({placeholders})"
            checks.append(f"when {missing} then {quote_literal(f'missing_key|{column.name}')}")
        if reason is None:
            outputs.append(name)
            continue
        casts.append(f", {expression} as _typed_{position}")
        outputs.append(f"_typed_{position} as {name}")
        # A placeholder in a typed column that is not a key means no value, as an empty field: it fails its
        # cast and loads as NULL, it is no bad_number / bad_date (a key's is missing_key, above).
        no_value = (
            f" and lower({name}) not in ({placeholders})" if placeholders and not column.required else ""
        )
        checks.append(
            f"when _typed_{position} is null and {name} is not null{no_value} "
            f"then {quote_literal(f'{reason}|{column.name}')}"
        )
        checks.extend(_date_checks(column, f"_typed_{position}", hygiene))
    reject = f"case {' '.join(checks)} end" if checks else "cast(null as varchar)"
    all_null = " and ".join(f"{names[c.name]} is null" for c in spec.columns)
    flag = f", ({all_null}) as _all_null" if flag_all_null else ""
    carried = ", _all_null" if flag_all_null else ""
    carried += "".join(f", {quote_identifier(name)}" for name in carried_columns)
    cleaned_length = delivered_length
    con.execute(
        f"""
        create or replace temp table typed as
        with string_rows as (select *{flag}, {delivered_length} as _delivered_length from ({source})),
        cleaned as (
            select {cleaned}, _source_line, _delivery_day, _delivered_length{carried} from string_rows
        ),
        trimmed as (
            select {trimmed}, _source_line, _delivery_day,
                   (_delivered_length - ({cleaned_length})) // 3 as _stripped{carried}
            from cleaned
        ),
        typed_once as (select *{"".join(casts)} from trimmed)
        select {", ".join(outputs)}, _source_line, {reject} as _reject, _stripped{carried} from typed_once
        """,
        parameters,
    )


def _typed_rows(
    spec: TableSpec, con: duckdb.DuckDBPyConnection
) -> tuple[pa.Table, list[tuple[int, str, str]], int]:
    """The good rows of the temp table ``typed`` (in its order: line order), its rejects, as
    (line, reason, column), and the invisible characters stripped; drops ``typed``."""
    rejects = [
        (line, *reject.split("|", 1))
        for line, reject in con.execute(
            "select _source_line, _reject from typed where _reject is not null order by 1"
        ).fetchall()
    ]
    columns = ", ".join(quote_identifier(name) for name in spec.column_names)
    rows = con.sql(f"select {columns}, _source_line from typed where _reject is null").to_arrow_table()
    (stripped,) = con.execute("select coalesce(sum(_stripped), 0) from typed").fetchone()
    con.execute("drop table typed")
    return rows, rejects, int(stripped)


@lru_cache(maxsize=1)
def scratch_database() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for parsing and writing, opened once per process (opening costs ~20 ms). One
    thread: a gzip stream is read by one thread anyway (``read_json`` of a day's tracking file takes 240 ms
    on one thread, 300 ms on two), and a load parses the next two days on Python threads of their own
    while it writes this one, which keeps the other core busy."""
    return duckdb.connect(config={"threads": 1})


def release_parsing_memory() -> None:
    """Give back the memory parsing holds once a table is loaded: the in-memory DuckDB of
    :func:`scratch_database` keeps its buffers, Arrow's allocator keeps freed blocks and glibc its free
    heap pages, all in the process that goes on to run dbt (the run is one process, dbt a child of it).
    After loading the SF10 sources the process held 2.55 GiB, 0.58 GiB after this (the scratch database
    1.58 GiB, Arrow 0.34 GiB); the next table reopens the scratch database (about 20 ms). Call it only
    when no thread is parsing."""
    scratch_database().close()
    scratch_database.cache_clear()
    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: its free pages stay with the process
        pass


def _parsed(
    content: FileContent,
    spec: TableSpec,
    source_file: str,
    rows: pa.Table,
    rejects: list[tuple[int, str, str]],
    ignored: tuple[str, ...],
    redact: bool = True,
    stripped: int = 0,
) -> ParsedFile:
    """Redact free text (unless the caller found none to redact), stamp the file name and build the
    quarantine table of one file's typed rows."""
    rejects = sorted(rejects)
    rows, redactions = redact_table(rows, spec) if redact else (rows, Counter())
    rows = rows.append_column(
        "_source_file",
        pc.take(pa.array([source_file], type=pa.string()), pa.array(np.zeros(rows.num_rows, np.int32))),
    )
    line_text = {number: content.lines[number - content.first_data_line_number] for number, _, _ in rejects}
    quarantine = pa.table(
        {
            "source": pa.array([spec.source] * len(rejects), type=pa.string()),
            "table_name": pa.array([spec.name] * len(rejects), type=pa.string()),
            "file_name": pa.array([source_file] * len(rejects), type=pa.string()),
            "line_number": pa.array([r[0] for r in rejects], type=pa.int64()),
            "reason": pa.array([r[1] for r in rejects], type=pa.string()),
            "detail": pa.array([r[2] for r in rejects], type=pa.string()),
            "line_text": pa.array([line_text[r[0]] for r in rejects], type=pa.string()),
        }
    )
    parsed = ParsedFile(content, rows, quarantine, ignored, redactions, stripped)
    if parsed.lines_read != parsed.rows_loaded + parsed.rows_quarantined:  # pragma: no cover - invariant
        raise LoadError(
            f"{content.path}: {parsed.lines_read} lines read but {parsed.rows_loaded} loaded + "
            f"{parsed.rows_quarantined} quarantined"
        )
    return parsed


def parse_csv_files(
    contents: list[FileContent], spec: TableSpec, hygiene: TextHygiene | None = None
) -> list[ParsedFile]:
    """Parse many CSV files of one table (a history import: one file a day over many days) with one
    DuckDB typing statement for all of them instead of one per file; each file's outcome is exactly what
    :func:`parse_file` gives it (rows in line order, every line loaded or quarantined with its reason).
    Raises :class:`LoadError` for the first file that cannot be read; the caller then parses file by
    file to place the failure. ``hygiene``: the project's rules' when not given."""
    hygiene = hygiene or TextHygiene.current()
    if spec.file_format != "csv":
        raise ValueError(f"{spec.name}: parse_csv_files takes CSV tables only")
    if not contents:
        return []
    pieces: list[pa.Table] = []
    structural: list[list[tuple[int, str, str]]] = []
    ignored: list[tuple[str, ...]] = []
    for index, content in enumerate(contents):
        strings, rejects, ignored_columns = _csv_fields(content, spec)
        pieces.append(
            strings.append_column("_file_index", pa.array(np.full(strings.num_rows, index, np.int32)))
        )
        structural.append(rejects)
        ignored.append(ignored_columns)
    con = scratch_database().cursor()
    try:
        con.register("csv_strings", pa.concat_tables(pieces))
        _create_typed(spec, con, "select * from csv_strings", hygiene, carried_columns=("_file_index",))
        con.unregister("csv_strings")
        type_rejects: list[list[tuple[int, str, str]]] = [[] for _ in contents]
        for index, line, reject in con.execute(
            "select _file_index, _source_line, _reject from typed where _reject is not null order by 1, 2"
        ).fetchall():
            type_rejects[index].append((line, *reject.split("|", 1)))
        stripped = dict(
            con.execute(
                "select _file_index, sum(_stripped) from typed group by 1 having sum(_stripped) > 0"
            ).fetchall()
        )
        columns = ", ".join(quote_identifier(name) for name in spec.column_names)
        # Ordered explicitly: each file's rows contiguous and in line order, whatever DuckDB's scan order
        # (the slices below hand each file the rows of its own index).
        typed = con.sql(
            f"select {columns}, _source_line, _file_index from typed where _reject is null"
            " order by _file_index, _source_line"
        ).to_arrow_table()
        con.execute("drop table typed")
    finally:
        con.close()
    file_index = typed.column("_file_index")
    typed = typed.drop_columns(["_file_index"])
    # Free text is scanned once over the whole batch; only if it finds something is each file redacted
    # (and counted) on its own.
    _, found = redact_table(typed, spec)
    counts = {row["values"]: row["counts"] for row in pc.value_counts(file_index).to_pylist()}
    parsed: list[ParsedFile] = []
    offset = 0
    for index, content in enumerate(contents):
        count = counts.get(index, 0)
        rows = typed.slice(offset, count)
        offset += count
        parsed.append(
            _parsed(
                content,
                spec,
                content.path.name,
                rows,
                structural[index] + type_rejects[index],
                ignored[index],
                redact=bool(found),
                stripped=int(stripped.get(index, 0)) + _header_invisible_count(content),
            )
        )
    return parsed


_EMPTY_TYPED: dict[tuple[str, str], pa.Table] = {}


def _empty_typed_rows(spec: TableSpec, hygiene: TextHygiene) -> pa.Table:
    """The typed rows of a file without data lines: an empty table with the columns and types a file with
    lines gets (typed by DuckDB once per table and process: a statement typing a tracking file's 25
    columns costs 20 ms to prepare, the same for no line as for a million)."""
    if spec.key not in _EMPTY_TYPED:
        con = scratch_database().cursor()
        try:
            empty = {column.name: pa.array([], type=pa.string()) for column in spec.columns}
            lines = {
                "_source_line": pa.array([], type=pa.int64()),
                "_delivery_day": pa.array([], pa.date32()),
            }
            con.register("no_strings", pa.table({**empty, **lines}))
            _create_typed(spec, con, "select * from no_strings", hygiene)
            con.unregister("no_strings")
            _EMPTY_TYPED[spec.key], _, _ = _typed_rows(spec, con)
        finally:
            con.close()
    return _EMPTY_TYPED[spec.key]


def parse_file(
    content: FileContent, spec: TableSpec, source_file: str, hygiene: TextHygiene | None = None
) -> ParsedFile:
    """Parse and type every line of a file; ``source_file`` is the name stamped on rows and rejects.
    ``hygiene``: the project's rules' when not given."""
    hygiene = hygiene or TextHygiene.current()
    con = scratch_database().cursor()
    try:
        ignored: tuple[str, ...] = ()
        rejects: list[tuple[int, str, str]] = []
        stripped_early = 0
        if spec.file_format == "csv":
            strings, rejects, ignored = _csv_fields(content, spec)
            stripped_early = _header_invisible_count(content)
            if content.line_count == 0:  # a header-only file: nothing to type
                empty = _empty_typed_rows(spec, hygiene)
                return _parsed(content, spec, source_file, empty, [], ignored, stripped=stripped_early)
            con.register("csv_strings", strings)
            _create_typed(spec, con, "select * from csv_strings", hygiene)
            con.unregister("csv_strings")
        elif content.line_count == 0:  # an empty day's file: nothing to parse
            return _parsed(content, spec, source_file, _empty_typed_rows(spec, hygiene), [], ignored)
        elif not _json_typed_natively(content, spec, con, hygiene):
            rejects, stripped_early = _json_fields(content, spec, con)
            _create_typed(spec, con, "select * from string_rows", hygiene)
            con.execute("drop table string_rows")
        rows, type_rejects, stripped = _typed_rows(spec, con)
    finally:
        con.close()
    return _parsed(
        content, spec, source_file, rows, rejects + type_rejects, ignored, stripped=stripped + stripped_early
    )
