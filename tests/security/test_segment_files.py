"""Hostile segment files: every field of a definition, fed hostile strings, numbers, unicode, nested YAML
and over-long values, is either refused with a SegmentError naming the file, the path in the rule and the
reason, or compiles (DuckDB and Spark) to exactly one SELECT over the segment relations. Stacked
statements never run; the guard refuses any other SQL at the point of execution."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlglot
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from orchestration.defs.ml import store as ml_store
from orchestration.defs.segments import compiler as compiler_module
from orchestration.defs.segments import versions as publish_module
from orchestration.defs.segments.compiler import DIALECTS, SEGMENT_RELATIONS, compile_segment
from orchestration.defs.segments.definition import Catalog, SegmentError, load_segment, parse_segment
from orchestration.defs.segments.guard import SegmentSQLRefused, check_segment_sql
from orchestration.defs.segments.versions import evaluate, preview_segment

CATALOG = Catalog.load()
AS_OF = date(2026, 6, 30)

# A definition using every field and every kind of rule node; each position below gets hostile values.
BASE: dict[str, Any] = {
    "name": "probe",
    "owner": "tester",
    "description": "a probe",
    "purpose": "marketing",
    "channel": "sms",
    "promoted_product_risk": "R3",
    "refresh": "daily",
    "size": {"min": 0, "max": 1000},
    "max_change": 0.5,
    "split": {"test": 0.5, "control": 0.5},
    "rule": {
        "all": [
            {"tag": "city", "op": "=", "value": "Shanghai"},
            {"tag": "aum_cny", "op": "between", "value": [0, 1000000]},
            {"tag": "registration_date", "op": ">=", "value": "-365d"},
            {"tag": "value_tier", "op": "in", "value": ["mass", "affluent"]},
            {"tag": "is_high_net_worth", "op": "=", "value": False},
            {
                "not": {
                    "event": "purchase",
                    "did": True,
                    "at_least": 2,
                    "last_days": 30,
                    "where": {"amount_cny": 999, "fund_code": ["000009"]},
                }
            },
            {
                "any": [
                    {
                        "sequence": ["sign_up", "purchase"],
                        "within_days": 7,
                        "last_days": 90,
                        "did": False,
                        "where": {"platform": "web", "utm_term": "nothing"},
                    },
                    {"tag": "churn_risk_band", "op": "is null"},
                ]
            },
        ]
    },
}


def positions(node: Any, path: tuple = ()) -> list[tuple]:
    """Every key / index path of a document, containers included."""
    found = [path] if path else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += positions(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += positions(value, (*path, index))
    return found


POSITIONS = positions(BASE)


def get(document: Any, path: tuple) -> Any:
    for step in path:
        document = document[step]
    return document


def put(document: Any, path: tuple, value: Any) -> None:
    get(document, path[:-1])[path[-1]] = value


MAPPINGS = [()] + [p for p in POSITIONS if isinstance(get(BASE, p), dict)]
# Positions whose value, when it is still accepted, is a text compared as data in the compiled SQL.
TEXT_IN_SQL = {
    ("rule", "all", 0, "value"),
    ("rule", "all", 3, "value", 0),
    ("rule", "all", 5, "not", "where", "fund_code", 0),
    ("rule", "all", 6, "any", 0, "where", "platform"),
    ("rule", "all", 6, "any", 0, "where", "utm_term"),
}


@dataclass(frozen=True)
class Raw:
    """YAML text put into the file as it is (anchors, aliases, deep nesting cannot be dumped)."""

    text: str


INJECTIONS = [
    "1); attach 'private.duckdb' as p; copy (select * from p.main.person_identifiers) to '/tmp/leak.csv'; --",
    "x'); attach 'private.duckdb' as p; --",
    "' or 1=1 --",
    "'; drop table main_marts.person_profile; --",
    "\\'; select 1; --",
    "*/ select 1 /*",
    "$$; select 1; $$",
    "x\" ; copy t to 'f' ; --",
    "read_csv('/etc/passwd')",
    "1 union select * from read_parquet('x')",
    "line\nbreak; pragma version",
    "tab\tand\r\nCR",
    "nul\x00byte",
    "\u202eevil\u202c",
    "rtl \u200f mark",
    "\ufeffbom",
    "中文'名",
    "emoji 🙂'",
    "\\",
    "'",
    "''",
    '"',
    "--",
    ";",
    "",
    " ",
    "0d",
    "-30d",
    "2026-02-30",
    "1e5",
    "nan",
]
NUMBERS = [math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, 10**30, -(10**30), 2**63, 2**64 + 1,
           True, False, 0, -1, 1.5, 10**15, 10**15 + 1]  # fmt: skip
RAW_YAML = [
    Raw("&a [1, 2]"),
    Raw("*undefined"),
    Raw(
        "[&a [1,1,1,1,1,1,1,1], &b [*a,*a,*a,*a,*a,*a,*a,*a], &c [*b,*b,*b,*b,*b,*b,*b,*b], "
        "&d [*c,*c,*c,*c,*c,*c,*c,*c], [*d,*d,*d,*d,*d,*d,*d,*d]]"
    ),  # an alias bomb
    Raw("[" * 200 + "]" * 200),
    Raw("{a: " * 60 + "1" + "}" * 60),
    Raw("{not: " * 12 + "{tag: age, op: is null}" + "}" * 12),
    Raw("!!python/object/apply:os.system ['touch /tmp/pwned']"),
    Raw("!!binary aGVsbG8="),
    Raw("2026-06-30 12:00:00"),
    Raw("2026-06-30"),
    Raw(".nan"),
    Raw(".inf"),
    Raw("0x1F"),
    Raw("0o17"),
    Raw("1_000"),
    Raw("yes"),
    Raw("~"),
    Raw("{? [a, b] : c}"),
]

short_text = st.text(
    st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Z", "Cc", "Cf")), max_size=40
) | st.text(st.sampled_from("'\"\\;-/*\n\r\t\x00\u202e\u200f\u2028 ()$`"), max_size=20)
scalars = st.one_of(
    st.sampled_from(INJECTIONS),
    short_text,
    st.text(min_size=201, max_size=3000),  # over-long
    st.sampled_from(NUMBERS),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.none(),
    st.dates(),
    st.datetimes(),
)
values = (
    st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(short_text, inner, max_size=3),
        max_leaves=12,
    )
    | st.sampled_from(RAW_YAML)
    | st.builds(lambda n: ["x"] * n, st.integers(101, 400))
)  # long lists


def write(tmp_path: Path, document: dict, raw: Raw | None = None) -> Path:
    text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=10**6)
    if raw is not None:
        assert text.count("__raw__") == 1
        text = text.replace("__raw__", raw.text)
    path = tmp_path / "probe.yml"
    path.write_text(text, encoding="utf-8")
    return path


def assert_one_select_over_segment_relations(sql: str, dialect: str) -> exp.Select:
    """Independently of the guard: sqlglot finds one SELECT whose every table is a segment relation."""
    statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    assert len(statements) == 1
    (query,) = statements
    assert isinstance(query, exp.Select)
    allowed = {(DIALECTS[dialect].schema(table), table) for table in SEGMENT_RELATIONS}
    tables = list(query.find_all(exp.Table))
    assert tables and all(isinstance(t.this, exp.Identifier) and not t.catalog for t in tables)
    assert {(t.db, t.name) for t in tables} <= allowed
    assert not list(query.find_all(exp.Command, exp.DDL, exp.DML, exp.With, exp.Union, exp.Placeholder))
    return query


def check_outcome(path: Path, document: dict, position: tuple, value: Any) -> str:
    """Refused with the file, the path and a reason, or compiled to one SELECT over the segment relations;
    'refused' or 'compiled'."""
    try:
        segment = load_segment(path, CATALOG)
    except SegmentError as problem:
        assert problem.file == str(path)
        assert problem.reason.strip()
        # every problem of the file, one line each (issue 33); the first is problem.path / reason
        lines = [f"{path}: {found.path}: {found.reason}" for found in problem.problems]
        assert str(problem) == "\n".join(lines) and lines[0] == f"{path}: {problem.path}: {problem.reason}"
        top = str(position[0]) if position else None
        head = problem.path.split(".")[0].split("[")[0]
        # the path names the mutated field (or the file, for YAML that is refused before any field)
        assert problem.path == "(file)" or top is None or head == top, (problem.path, position)
        if problem.path.startswith("rule") and len(position) > 1 and problem.path != "rule":
            assert position[0] == "rule"
        return "refused"
    for dialect in DIALECTS:
        sql = compile_segment(segment, CATALOG, DIALECTS[dialect], AS_OF)
        check_segment_sql(sql, dialect, segment.name)
        query = assert_one_select_over_segment_relations(sql, dialect)
        if position in TEXT_IN_SQL and isinstance(value, str):
            literals = {node.this for node in query.find_all(exp.Literal) if node.is_string}
            assert value in literals  # the text reached SQL as one string literal, unchanged
    return "compiled"


OUTCOMES: dict[str, int] = {"refused": 0, "compiled": 0}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.sampled_from(POSITIONS), value=values)
def test_a_hostile_value_in_any_field_is_refused_or_compiles_to_one_select(tmp_path, position, value):
    document = copy.deepcopy(BASE)
    raw = value if isinstance(value, Raw) else None
    put(document, position, "__raw__" if raw else value)
    OUTCOMES[check_outcome(write(tmp_path, document, raw), document, position, value)] += 1


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.sampled_from(MAPPINGS), key=short_text | st.sampled_from(INJECTIONS), value=values)
def test_a_hostile_key_in_any_mapping_is_refused(tmp_path, where, key, value):
    document = copy.deepcopy(BASE)
    mapping = get(document, where)
    if key in mapping or key == "__raw__":
        return
    raw = value if isinstance(value, Raw) else None
    mapping[key] = "__raw__" if raw else value
    path = write(tmp_path, document, raw)
    with pytest.raises(SegmentError) as raised:
        load_segment(path, CATALOG)
    assert raised.value.file == str(path)
    # refused at the new key (or the file when its YAML is refused), under the mapping that holds it
    prefix = ".".join(str(step) if not isinstance(step, int) else f"[{step}]" for step in where)
    prefix = prefix.replace(".[", "[")
    assert raised.value.path == "(file)" or raised.value.path.startswith(prefix), raised.value.path


printable_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cf", "Cs", "Co")), min_size=1, max_size=200
) | st.sampled_from([text for text in INJECTIONS if text and text.isprintable() and "\ufeff" not in text])
FREE_TEXT_IN_SQL = TEXT_IN_SQL - {("rule", "all", 3, "value", 0)}  # not the enum (value_tier)
NUMBER_POSITIONS = [("rule", "all", 1, "value", 0), ("rule", "all", 5, "not", "where", "amount_cny")]
in_range_numbers = st.integers(-(10**15), 10**15) | st.floats(-1e15, 1e15, allow_nan=False)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    return tiny_warehouse(tmp_path_factory.mktemp("hostile"))[0]


@settings(max_examples=60, deadline=None)
@given(position=st.sampled_from(sorted(FREE_TEXT_IN_SQL, key=str)), text=printable_text)
def test_any_accepted_text_is_one_literal_and_runs_as_data(warehouse, position, text):
    """Quotes, backslashes, stacked statements, unicode: accepted where a text goes, compiled to one
    string literal, and run by DuckDB as a value (the city matches nobody, the event filters leave P1)."""
    document = copy.deepcopy(BASE)
    put(document, position, text)
    segment = parse_segment(document, CATALOG, "probe.yml")
    for dialect in DIALECTS:
        sql = compile_segment(segment, CATALOG, DIALECTS[dialect], AS_OF)
        check_segment_sql(sql, dialect, segment.name)
        query = assert_one_select_over_segment_relations(sql, dialect)
        assert text in {node.this for node in query.find_all(exp.Literal) if node.is_string}
    expected = [] if position == ("rule", "all", 0, "value") and text != "Shanghai" else ["P1"]
    assert [row[0] for row in evaluate(warehouse, segment, CATALOG, AS_OF).rows] == expected


@settings(max_examples=60, deadline=None)
@given(position=st.sampled_from(NUMBER_POSITIONS), number=in_range_numbers)
def test_any_accepted_number_is_one_numeric_literal(position, number):
    document = copy.deepcopy(BASE)
    put(document, position, number)
    segment = parse_segment(document, CATALOG, "probe.yml")
    for dialect in DIALECTS:
        sql = compile_segment(segment, CATALOG, DIALECTS[dialect], AS_OF)
        check_segment_sql(sql, dialect, segment.name)
        query = assert_one_select_over_segment_relations(sql, dialect)
        literal = exp.Literal.number(
            repr(float(abs(number))) if isinstance(number, float) else str(abs(number))
        )
        assert any(node == literal for node in query.find_all(exp.Literal))


def test_the_base_definition_compiles_and_the_property_tests_saw_both_outcomes():
    """The base is valid (so each refusal above comes from the hostile value), and the runs above both
    refused and compiled some definitions (so neither branch is dead)."""
    segment = parse_segment(BASE, CATALOG, "base.yml")
    for dialect in DIALECTS:
        assert_one_select_over_segment_relations(
            compile_segment(segment, CATALOG, DIALECTS[dialect], AS_OF), dialect
        )
    if sum(OUTCOMES.values()):  # run after the property tests (file order), not alone with -k
        assert OUTCOMES["refused"] > 0 and OUTCOMES["compiled"] > 0, OUTCOMES


# --- explicit regression tests: stacked statements never run ---------------------------------------


def tiny_warehouse(root: Path) -> tuple[Path, Path]:
    """A warehouse with the segment relations (two persons) and a private store next to it."""
    private = root / "private.duckdb"
    con = duckdb.connect(str(private))
    con.execute("create table person_identifiers (person_id varchar, phone varchar)")
    con.execute("insert into person_identifiers values ('P1', '13800000001'), ('P2', '13800000002')")
    con.close()
    warehouse = root / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("create schema main_intermediate; create schema main_marts")
    con.execute(
        "create table main_marts.segment_persons as select * from (values"
        " ('P1', 1, 'C1', 'growth', 'mass', 'ios', 'Shanghai', 1000.0, date '2026-01-01', false, 'C4',"
        "  date '2027-01-01', true),"
        " ('P2', 2, 'C2', 'mature', 'affluent', 'web', 'Beijing', 500000.0, date '2025-12-01', false, 'C5',"
        "  date '2027-01-01', true))"
        " as t(person_id, person_key, customer_no, lifecycle_stage, value_tier, main_platform, city, aum_cny,"
        " registration_date, is_high_net_worth, risk_level, risk_assessment_expires_on, is_sms_consented)"
    )
    con.execute(
        "create table main_intermediate.int_events_attributed as select * from (values"
        " ('P2', 'purchase', date '2026-06-20', 1000, 'ios', '000009', 999.0, 'x'),"
        " ('P2', 'purchase', date '2026-06-21', 2000, 'ios', '000009', 999.0, 'x'))"
        " as t(person_id, event_name, event_date, client_time_ms, platform, fund_code, amount_cny, utm_term)"
    )
    con.execute(
        "create table main_intermediate.int_segment_events as select event_name, event_date, person_id,"
        " cast(substr(person_id, 2) as bigint) as person_key, client_time_ms"
        " from main_intermediate.int_events_attributed"
    )
    # the model tags live in the schema the model assets write (not a dbt schema)
    con.execute(f"create schema {ml_store.ML_SCHEMA}")
    con.execute(f"create table {ml_store.TAGS} (person_id varchar, churn_risk_band varchar)")
    con.execute("create table main_marts.person_quarantine (person_id varchar, quarantine_reason varchar)")
    con.close()
    return warehouse, private


def stacked(private: Path, target: Path, opener: str = "x'); ") -> str:
    return (
        f"{opener}attach '{private}' as p; "
        f"copy (select * from p.person_identifiers) to '{target}' (header); --"
    )


def test_the_issues_probe_in_amount_cny_is_refused_and_nothing_runs(tmp_path):
    warehouse, private = tiny_warehouse(tmp_path)
    target = tmp_path / "leak.csv"
    document = copy.deepcopy(BASE)
    document["rule"] = {
        "event": "purchase",
        "last_days": 30,
        "where": {"amount_cny": stacked(private, target, opener="1); ")},
    }
    path = write(tmp_path, document)
    with pytest.raises(SegmentError) as raised:
        load_segment(path, CATALOG)
    assert (raised.value.file, raised.value.path) == (str(path), "rule.where.amount_cny")
    assert raised.value.reason.startswith('a number, not "1); attach')
    # a Segment made by hand (not from a file) is validated when compiled: evaluate() refuses it too
    by_hand = parse_segment({**document, "rule": {"tag": "age", "op": "is null"}}, CATALOG)
    by_hand = type(by_hand)(**{**by_hand.__dict__, "rule": document["rule"]})
    with pytest.raises(SegmentError, match=r"rule\.where\.amount_cny: a number"):
        evaluate(warehouse, by_hand, CATALOG, AS_OF)
    assert not target.exists()


def test_a_stacked_statement_in_every_field_is_refused_or_stays_data(tmp_path, monkeypatch):
    """The same probe in each field: refused with that field's path, or (free text, a text tag value, a
    text event property) loaded, run against the warehouse as a string, and matching nobody."""
    warehouse, _ = tiny_warehouse(tmp_path)
    monkeypatch.chdir(tmp_path)  # relative names: the probe stays under the 200 characters of a text
    target = tmp_path / "leak.csv"
    probe = stacked(Path("private.duckdb"), Path("leak.csv"))
    outcomes = {}
    for position in POSITIONS:
        document = copy.deepcopy(BASE)
        put(document, position, probe)
        path = write(tmp_path, document)
        try:
            segment = load_segment(path, CATALOG)
        except SegmentError as problem:
            outcomes[position] = problem.path
            continue
        evaluation = evaluate(warehouse, segment, CATALOG, AS_OF)
        outcomes[position] = [row[0] for row in evaluation.rows]
        assert preview_segment(warehouse, segment, CATALOG, AS_OF)["matched"] == len(evaluation.rows)
    assert not target.exists()
    accepted = {position: rows for position, rows in outcomes.items() if isinstance(rows, list)}
    # accepted only where any text is data; the base matches P1 (Shanghai), so the city probe matches nobody
    assert accepted == {
        ("owner",): ["P1"],
        ("description",): ["P1"],
        ("rule", "all", 0, "value"): [],
        ("rule", "all", 5, "not", "where", "fund_code"): ["P1"],  # one text instead of a list of them
        ("rule", "all", 5, "not", "where", "fund_code", 0): ["P1"],
        ("rule", "all", 6, "any", 0, "where", "platform"): ["P1"],
        ("rule", "all", 6, "any", 0, "where", "utm_term"): ["P1"],
    }
    refused = {position: where for position, where in outcomes.items() if not isinstance(where, list)}
    assert refused[("rule", "all", 5, "not", "where", "amount_cny")] == "rule.all[5].not.where.amount_cny"
    assert refused[("rule", "all", 3, "value", 1)] == "rule.all[3].value[1]"
    assert refused[("size", "max")] == "size.max"
    assert refused[("name",)] == "name"
    assert len(refused) == len(POSITIONS) - 7


def test_the_base_selects_exactly_p1_on_the_tiny_warehouse(tmp_path):
    """What the stacked-statement test compares with: P2 is in Beijing and bought twice."""
    warehouse, _ = tiny_warehouse(tmp_path)
    segment = parse_segment(BASE, CATALOG)
    assert [row[0] for row in evaluate(warehouse, segment, CATALOG, AS_OF).rows] == ["P1"]


HOSTILE_SQL = {
    "two statements": (
        "select person_id from main_marts.segment_persons; select 1",
        "2 statements, not exactly one SELECT",
    ),
    "read_csv": (
        "select * from read_csv('/etc/passwd')",
        "reads the table function READ_CSV(), not a relation",
    ),
    "attach": ("attach 'private.duckdb' as p", "not a SELECT but ATTACH"),
    "copy": ("copy (select 1) to '/tmp/x.csv'", "not a SELECT but COPY"),
    "pragma": ("pragma database_list", "not a SELECT but PRAGMA"),
    "set": ("set threads = 1", "not a SELECT but SET"),
    "other relation": (
        "select * from main_marts.person_profile",
        "reads main_marts.person_profile, outside the segment relations",
    ),
    "other catalog": (
        "select * from private.main_marts.segment_persons",
        "reads private.main_marts.segment_persons, not a segment relation",
    ),
    "file by name": ("select * from 'members.csv'", "reads members.csv, outside the segment relations"),
    "scalar function": (
        "select getenv('HOME') from main_marts.segment_persons",
        "calls getenv(), which segments never use",
    ),
    "subquery table function": (
        "select (select count(*) from read_parquet('x.parquet')) from main_marts.segment_persons",
        "reads the table function READ_PARQUET(), not a relation",
    ),
    "cte": (
        "with x as (select * from main_marts.person_profile) select * from x",
        "uses a with, which segments never use",
    ),
    "union": (
        "select person_id from main_marts.segment_persons union all select '1'",
        "not a SELECT but UNION",
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_SQL))
def test_the_guard_refuses_hand_made_sql(name):
    sql, reason = HOSTILE_SQL[name]
    with pytest.raises(SegmentSQLRefused) as raised:
        check_segment_sql(sql, "duckdb", "hand_made")
    assert raised.value.segment == "hand_made"
    assert reason in raised.value.reason
    assert str(raised.value).startswith("segment hand_made: compiled SQL refused, not run: ")


def test_the_guard_checks_spark_relations_too():
    with pytest.raises(SegmentSQLRefused, match="reads main_marts.segment_persons, outside"):
        check_segment_sql("select person_id from main_marts.segment_persons", "spark", "s")
    assert check_segment_sql("select person_id from fundcdp_marts.segment_persons", "spark", "s")


def test_every_execution_point_refuses_what_the_guard_refuses(tmp_path, monkeypatch, capsys):
    """evaluate, preview_segment and the CLI (compile and preview) run nothing the guard refuses: here a
    compiler that would emit a stacked ATTACH + COPY."""
    warehouse, private = tiny_warehouse(tmp_path)
    target = tmp_path / "leak.csv"
    hostile = (
        "select person_id from main_marts.segment_persons as profile where true;\n"
        f"attach '{private}' as p; copy (select * from p.person_identifiers) to '{target}'\n"
    )
    monkeypatch.setattr(publish_module, "compile_segment", lambda *args: hostile)
    monkeypatch.setattr(compiler_module, "compile_segment", lambda *args: hostile)
    segment = parse_segment(BASE, CATALOG)
    # both wrap the compiled SQL (order by; a grouping select around it): the result no longer parses
    for run in (evaluate, preview_segment):
        with pytest.raises(SegmentSQLRefused) as raised:
            run(warehouse, segment, CATALOG, AS_OF)
        assert raised.value.segment == "probe"
        assert raised.value.reason.startswith("does not parse: Parser Error: syntax error")
    assert not target.exists()

    from orchestration import cli

    (tmp_path / "data").mkdir()
    monkeypatch.setenv("FUNDCDP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FUNDCDP_AS_OF_DATE", AS_OF.isoformat())
    monkeypatch.setattr(cli, "_prepare_environment", lambda: _Layout(warehouse))
    for action in ("compile", "preview"):
        assert cli.run_segments(action, "dormant_high_value", "duckdb") == 1
        captured = capsys.readouterr()
        assert captured.out == ""
        expected = "3 statements, not exactly one SELECT" if action == "compile" else "does not parse"
        assert f"segment dormant_high_value: compiled SQL refused, not run: {expected}" in captured.err
    assert not target.exists()


@dataclass
class _Layout:
    warehouse_db: Path


def test_dates_and_numbers_are_typed_not_text(tmp_path):
    """A date is a date (not a datetime), a number is not a bool and not text: exact reasons."""
    cases = {
        ("rule", "all", 2, "value"): (datetime(2026, 6, 30, 12), "rule.all[2].value"),
        ("rule", "all", 1, "value", 0): (True, "rule.all[1].value[0]"),
        ("rule", "all", 5, "not", "where", "amount_cny"): ("100", "rule.all[5].not.where.amount_cny"),
        ("rule", "all", 5, "not", "where", "fund_code", 0): (9, "rule.all[5].not.where.fund_code[0]"),
        ("rule", "all", 5, "not", "last_days"): (30.0, "rule.all[5].not.last_days"),
    }
    reasons = {}
    for position, (value, expected_path) in cases.items():
        document = copy.deepcopy(BASE)
        put(document, position, value)
        with pytest.raises(SegmentError) as raised:
            load_segment(write(tmp_path, document), CATALOG)
        assert raised.value.path == expected_path
        reasons[expected_path] = raised.value.reason
    assert reasons == {
        "rule.all[2].value": "a flag, a number, a text or a date, not datetime.datetime(2026, 6, 30, 12, 0)",
        "rule.all[1].value[0]": "aum_cny is a number, not True",
        "rule.all[5].not.where.amount_cny": "a number, not '100'",
        "rule.all[5].not.where.fund_code[0]": "a text (in quotes), not 9",
        "rule.all[5].not.last_days": "a whole number of days from 1 to 3660, not 30.0",
    }
