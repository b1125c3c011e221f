"""The check every compiled segment passes before it runs: one SELECT over the segment relations.

The compiler builds queries from a syntax tree, so a definition cannot write SQL; this guard is the
second line, at the point of execution (``evaluate``, ``preview_segment``, the ``segments`` asset and the
CLI all go through :func:`check_segment_sql`). It parses the exact text about to run and refuses:

- anything but exactly one statement, and a statement that is not a plain SELECT (DuckDB's own parser,
  ``extract_statements``, counts and types the statements; sqlglot parses them again);
- a relation outside :data:`~orchestration.defs.segments.compiler.SEGMENT_RELATIONS` in the dialect's
  schemas (no other table or catalog, no file read by name);
- a table function (``read_csv``, ``read_parquet``, ``glob``…), any function the compiler never emits,
  a CTE, a set operation, a parameter, and every statement kind but SELECT (ATTACH, COPY, PRAGMA, SET…).

The allow-list is of syntax node kinds: what the compiler and the two wrappers (the preview's grouping,
``order by``) produce, and nothing else.
"""

from __future__ import annotations

import duckdb
import sqlglot
from sqlglot import exp

from orchestration.defs.segments.compiler import DIALECTS
from orchestration.lib.sql import duckdb_statement_types

# Node kinds a compiled segment (and the preview / evaluate wrappers around it) is made of.
ALLOWED_NODES: frozenset[type[exp.Expression]] = frozenset(
    {
        exp.Select, exp.From, exp.Join, exp.Where, exp.Group, exp.Having, exp.Order, exp.Ordered,
        exp.Subquery, exp.Table, exp.TableAlias, exp.Alias, exp.Column, exp.Identifier, exp.Star,
        exp.Literal, exp.Boolean, exp.Null, exp.DataType, exp.Paren, exp.And, exp.Or, exp.Not, exp.Is,
        exp.In, exp.Between, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Add, exp.Mod, exp.Neg,
        exp.DPipe, exp.Case, exp.If, exp.Cast, exp.TryCast, exp.Coalesce, exp.Substring, exp.SHA2,
        exp.Count, exp.Min,
    }
)  # fmt: skip
# Functions sqlglot does not model, by name: Spark's split hash.
ALLOWED_ANONYMOUS = frozenset({"pmod", "conv"})


class SegmentSQLRefused(ValueError):
    """A compiled segment that is not one SELECT over the segment relations: it is never run."""

    def __init__(self, segment: str, reason: str):
        self.segment, self.reason = segment, reason
        super().__init__(f"segment {segment}: compiled SQL refused, not run: {reason}")


def check_segment_sql(sql: str, dialect: str, segment: str) -> exp.Select:
    """The parsed query if ``sql`` is exactly one SELECT reading only the segment relations of
    ``dialect``; otherwise :class:`SegmentSQLRefused` naming ``segment`` and the reason."""
    if dialect not in DIALECTS:
        raise SegmentSQLRefused(segment, f"unknown dialect {dialect!r}")
    if not isinstance(sql, str) or "\x00" in sql:
        raise SegmentSQLRefused(segment, "not SQL text (or it holds a NUL)")
    if dialect == "duckdb":
        _check_with_duckdb(sql, segment)
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except sqlglot.errors.SqlglotError as problem:
        raise SegmentSQLRefused(segment, f"does not parse: {str(problem).splitlines()[0][:200]}") from None
    if len(statements) != 1:
        raise SegmentSQLRefused(segment, f"{len(statements)} statements, not exactly one SELECT")
    (query,) = statements
    if not isinstance(query, exp.Select):
        raise SegmentSQLRefused(segment, f"not a SELECT but {query.key.upper()}")
    allowed = DIALECTS[dialect].allowed_relations()
    for node in query.walk():
        if isinstance(node, exp.Anonymous):
            if str(node.name).lower() not in ALLOWED_ANONYMOUS:
                raise SegmentSQLRefused(segment, f"calls {node.name}(), which segments never use")
            continue
        if type(node) not in ALLOWED_NODES:
            what = f"the function {node.sql_name()}()" if isinstance(node, exp.Func) else f"a {node.key}"
            raise SegmentSQLRefused(segment, f"uses {what}, which segments never use")
        if isinstance(node, exp.Table):
            if isinstance(node.this, exp.Func):
                raise SegmentSQLRefused(
                    segment, f"reads the table function {node.this.sql_name()}(), not a relation"
                )
            if not isinstance(node.this, exp.Identifier) or node.args.get("catalog"):
                raise SegmentSQLRefused(segment, f"reads {node.sql(dialect=dialect)}, not a segment relation")
            if (node.db, node.name) not in allowed:
                shown = f"{node.db}.{node.name}" if node.db else node.name
                raise SegmentSQLRefused(
                    segment,
                    f"reads {shown}, outside the segment relations "
                    f"({', '.join(sorted(f'{db}.{table}' for db, table in allowed))})",
                )
    return query


def _check_with_duckdb(sql: str, segment: str) -> None:
    """DuckDB's own parser: exactly one statement, a SELECT (nothing is bound or executed)."""
    try:
        statements = duckdb_statement_types(sql)
    except duckdb.Error as problem:
        raise SegmentSQLRefused(segment, f"does not parse: {str(problem).splitlines()[0][:200]}") from None
    if len(statements) != 1:
        raise SegmentSQLRefused(segment, f"{len(statements)} statements, not exactly one SELECT")
    if statements[0] != "SELECT":
        raise SegmentSQLRefused(segment, f"not a SELECT but {statements[0]}")
