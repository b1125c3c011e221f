"""The quoting helper: any text, once quoted, reads back as exactly itself and runs nothing else."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestration.lib.sql import quote_identifier, quote_literal, quote_qualified

TEXT = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), min_size=1, max_size=200)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_a_quoted_literal_reads_back_as_itself(text: str) -> None:
    con = duckdb.connect()
    assert con.execute(f"select {quote_literal(text)}").fetchall() == [(text,)]


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_a_quoted_identifier_names_exactly_one_table(text: str) -> None:
    con = duckdb.connect()
    con.execute(f"create table {quote_qualified('main', text)} (marker integer)")
    con.execute(f"insert into {quote_identifier(text)} values (7)")
    assert con.execute("select table_name from duckdb_tables()").fetchall() == [(text,)]


def test_a_stacked_statement_in_a_literal_stays_text() -> None:
    con = duckdb.connect()
    con.execute("create table victim (a integer)")
    hostile = "x'); drop table victim; select ('"
    assert con.execute(f"select {quote_literal(hostile)}").fetchone()[0] == hostile
    assert con.execute("select count(*) from victim").fetchone()[0] == 0


@pytest.mark.parametrize("bad", ["", "a\x00b", "file\udcff.csv"])
def test_unusable_identifiers_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a usable SQL identifier"):
        quote_identifier(bad)


@pytest.mark.parametrize("bad", ["a\x00b", "file\udcff.csv"])
def test_unwritable_literals_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="cannot be written in SQL text"):
        quote_literal(bad)


def test_spark_literals_escape_backslashes() -> None:
    assert quote_literal("a\\b'c", dialect="spark") == "'a\\\\b\\'c'"
