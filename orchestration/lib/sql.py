"""The one place where a name or a piece of text becomes SQL text.

Values from outside (file names, request ids, paths, column values, segment rule values) reach DuckDB as
bound parameters (``con.execute(sql, [value])``): ``read_parquet(?)``, ``read_csv(?)``, ``attach ? as x``,
``copy … to ?`` and every ``where column = ?`` take one in DuckDB 2.0. Where a name must be written into
the statement (a schema, table or column read from a catalogue, the database alias of ``copy from
database``) or where a statement is built as text for another engine, the text goes through
:func:`quote_identifier` or :func:`quote_literal`, which sqlglot renders, so that no quote, backslash or
newline in it can end the literal or the identifier.
"""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
from sqlglot import exp


def _is_writable(text: str) -> bool:
    """No NUL, and valid UTF-8 (a lone surrogate from an undecodable file name is not)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def quote_identifier(name: str, dialect: str = "duckdb") -> str:
    """``name`` as a quoted identifier (``"my ""odd"" table"``); an empty name, a NUL or text that is not
    valid UTF-8 is refused."""
    if not isinstance(name, str) or not name or not _is_writable(name):
        raise ValueError(f"not a usable SQL identifier: {name!r}")
    return exp.to_identifier(name, quoted=True).sql(dialect=dialect)


def quote_qualified(*parts: str, dialect: str = "duckdb") -> str:
    """``schema.table`` (or ``db.schema.table``) with every part quoted by :func:`quote_identifier`."""
    return ".".join(quote_identifier(part, dialect) for part in parts)


def quote_literal(text: str | Path, dialect: str = "duckdb") -> str:
    """``text`` (a path, typically) as a string literal, for the few places DuckDB takes no parameter."""
    value = str(text)
    if not _is_writable(value):
        raise ValueError(f"cannot be written in SQL text (a NUL, or not valid UTF-8): {value!r}")
    return exp.Literal.string(value).sql(dialect=dialect)


_PARSERS = threading.local()


def duckdb_statement_types(sql: str) -> list[str]:
    """The type of each statement of ``sql`` (``SELECT``, ``ATTACH``, ``COPY``…) by DuckDB's own parser:
    nothing is bound or executed. ``duckdb.Error`` when it does not parse. The checks of SQL written
    outside the code (compiled segments, dashboard boards) count and type the statements with it."""
    if getattr(_PARSERS, "con", None) is None:
        # an empty in-memory DuckDB per thread, only ever used to parse (opening one takes some 35 ms)
        _PARSERS.con = duckdb.connect(":memory:")
    return [statement.type.name for statement in _PARSERS.con.extract_statements(sql)]
