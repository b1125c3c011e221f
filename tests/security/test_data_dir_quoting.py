"""The data directory becomes SQL text only through quoting: dbt reads a raw/ layer whose path holds a quote,
a semicolon, a comment, a space and ``{name}`` (DuckDB), the Spark rendering of the same path parses back
to exactly that path, and a path no engine can read as itself is refused where it is resolved."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import duckdb
import jinja2
import pytest
import sqlglot
from sqlglot import exp

from orchestration.defs.ingest.land import land_table_day
from orchestration.lib.layout import DataLayout
from orchestration.lib.paths import DBT_PROJECT_DIR
from orchestration.lib.rules import JunkRules, load_business_rules
from orchestration.lib.sources import ALL_TABLES
from tests.landing_builder import CUSTOMER, write_delivery

DAY = "2026-06-30"
# A quote ends a literal, `;` and `--` would start a statement or a comment, and `{name}` is what dbt-duckdb
# str.format()s external_location with. Braces are refused by DataLayout.at (Spark reads them as a file
# pattern), so the layout is built directly: dbt run on its own, as `make docs` does, must still be safe.
HOSTILE_DIR = 'it\'s; select 1 -- a "dir" {name}'
STAGED = (
    "stg_crm__customers",
    "stg_trade__fund_products",
    "stg_tracking__events",
    "stg_ingest__load_manifests",
)
EVENT = {
    "event_id": "e1",
    "event": "page_view",
    "time": 1782784800000,
    "receive_time": 1782784801000,
    "anonymous_id": "d-1",
    "login_id": None,
    "properties": {"platform": "ios"},
}


@pytest.fixture(scope="module")
def hostile_build(tmp_path_factory: pytest.TempPathFactory) -> DataLayout:
    """One customer and one event landed under the hostile path, then four staging models built by dbt."""
    layout = DataLayout(tmp_path_factory.mktemp("quoting") / HOSTILE_DIR)
    layout.ensure()
    write_delivery(layout, DAY, {"customers": [CUSTOMER], "events": [EVENT]})
    junk = JunkRules.from_rules(load_business_rules())
    for spec in ALL_TABLES:
        land_table_day(layout, spec, DAY, b"data-dir-quoting-key", junk, 0.5)
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "run", "--select", " ".join(STAGED),
         "--vars", json.dumps({"as_of_date": DAY}),
         "--target-path", str(layout.dbt_target), "--log-path", str(layout.logs / "dbt")],
        cwd=DBT_PROJECT_DIR, capture_output=True, text=True,
        env={**os.environ, "FUNDCDP_DATA_DIR": str(layout.root), "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR)},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    return layout


def test_dbt_reads_the_raw_layer_of_a_hostile_data_directory(hostile_build: DataLayout) -> None:
    con = duckdb.connect(str(hostile_build.warehouse_db), read_only=True)
    try:
        assert con.execute("select customer_no from main_staging.stg_crm__customers").fetchall() == [
            ("C000000001",)
        ]
        assert con.execute("select event_id from main_staging.stg_tracking__events").fetchall() == [("e1",)]
        assert con.execute("select count(*) from main_staging.stg_trade__fund_products").fetchone() == (0,)
        assert con.execute(
            "select table_name, rows_loaded from main_staging.stg_ingest__load_manifests "
            "where rows_loaded > 0 order by 1"
        ).fetchall() == [("customers", 1), ("events", 1)]
        assert con.execute("select count(*) from main_staging.stg_ingest__load_manifests").fetchone() == (10,)
    finally:
        con.close()


def test_every_raw_source_reads_exactly_its_own_files(hostile_build: DataLayout) -> None:
    # The five source files' external_location, as dbt rendered it and as dbt-duckdb formats it: one
    # statement, reading the files under the hostile path (archive: the empty file ensure() writes).
    manifest = json.loads((hostile_build.dbt_target / "manifest.json").read_text(encoding="utf-8"))
    rows = {}
    con = duckdb.connect()
    for source in manifest["sources"].values():
        template = source["meta"].get("external_location")
        if template is None:
            continue  # the private store: a database attached by a pre-hook, not a path
        location = template.format_map({"name": source["name"], "identifier": source["identifier"]})
        assert len(duckdb.extract_statements(f"select count(*) from {location}")) == 1
        assert f"'{str(hostile_build.root).replace(chr(39), chr(39) * 2)}/raw/" in location
        rows[f"{source['source_name']}.{source['name']}"] = con.execute(
            f"select count(*) from {location}"
        ).fetchone()[0]
    assert {name: n for name, n in rows.items() if n} == {
        "crm.customers": 1,
        "tracking.events": 1,
        "ingest.load_manifest": 10,
    }
    assert rows["archive.identity_links"] == 0
    assert {name.split(".")[0] for name in rows} == {"crm", "trade", "tracking", "ingest", "archive"}


# --- The Spark rendering, checked without Spark: the macros rendered by Jinja, parsed by sqlglot's Spark
# dialect (make test-spark builds the project on Spark itself with an ordinary path).

SPARK_PATHS = [
    "/data/it's; select 1 -- x",
    "/data/back`tick``s",
    "/data/a \\ b \\' c",
    '/data/"double" 数据\nnewline',
]


class _Return(Exception):  # noqa: N818 - dbt's return() is an exception too
    def __init__(self, value):
        self.value = value


def _spark_macros(data_dir: str) -> SimpleNamespace:
    """The project's SQL literal and source() override macros in plain Jinja, in dbt's context for Spark."""

    def dbt_return(value):
        raise _Return(value)

    macros = "".join(
        (DBT_PROJECT_DIR / "macros" / name).read_text(encoding="utf-8")
        for name in ("engine/sql_literals.sql", "overrides/override_source.sql")
    )
    fundcdp = SimpleNamespace()
    module = (
        jinja2.Environment(extensions=["jinja2.ext.do"])  # as dbt renders
        .from_string(macros)
        .make_module(
            {
                "return": dbt_return,
                "target": {"type": "spark"},
                "env_var": lambda name, default=None: data_dir if name == "FUNDCDP_DATA_DIR" else default,
                "builtins": {"source": lambda source_name, table_name: f"{source_name}.{table_name}"},
                "fundcdp": fundcdp,
            }
        )
    )
    fundcdp.spark_backquoted = module.spark_backquoted
    fundcdp.sql_string = module.default__sql_string  # what adapter.dispatch picks on Spark
    return fundcdp, module.source


def _call(macro, *args) -> str:
    try:
        return str(macro(*args))
    except _Return as returned:
        return str(returned.value)


@pytest.mark.parametrize("data_dir", SPARK_PATHS)
def test_spark_reads_the_data_directory_as_exactly_itself(data_dir: str) -> None:
    fundcdp, source = _spark_macros(data_dir)
    relation = _call(source, "crm", "customers")
    tree = sqlglot.parse_one(f"select * from {relation}", read="spark")
    table = tree.find(exp.Table)
    assert (table.db, table.name) == ("parquet", f"{data_dir}/raw/crm/customers")
    literal = _call(fundcdp.sql_string, data_dir)
    statements = sqlglot.parse(f"select {literal}", read="spark")
    assert len(statements) == 1
    assert statements[0].expressions[0].this == data_dir


@pytest.mark.parametrize(
    "data_dir", ["/srv/a[b]", "/srv/x*", "/srv/y?", "/srv/{name}", "/srv/c\\d", "/srv/n\x00"]
)
def test_a_data_directory_read_as_a_file_pattern_is_refused(data_dir: str) -> None:
    with pytest.raises(ValueError, match=r"^data directory .*: rename it$"):
        DataLayout.at(data_dir)


def test_a_data_directory_with_quotes_and_spaces_is_accepted(tmp_path: Path) -> None:
    assert DataLayout.at(tmp_path / "it's; a dir").root == tmp_path / "it's; a dir"
