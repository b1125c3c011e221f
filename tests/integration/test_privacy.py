"""Personal data and the hash key never leave ingestion / private.duckdb (issue 11, PIPL): clear values
only in private.duckdb, nowhere else the pipeline writes."""

import importlib.util
import re
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from orchestration.defs.publish.analytics import PUBLISHED_TABLES
from orchestration.defs.quality.gx_runner import DATA_DOCS_ASSETS_DIR
from orchestration.defs.segments.definition import load_segments
from orchestration.lib.layout import DataLayout
from orchestration.lib.paths import DBT_PARSE_TARGET_DIR, DBT_PROJECT_DIR
from orchestration.lib.rules import load_business_rules
from tests.conftest import CANARY, TEST_HASH_KEY, temp_instance
from tests.privacy_scan import (
    Allowed,
    Scan,
    VendorCopy,
    needles_in,
    scan_databases,
    scan_outbox,
    scan_parquet,
    scan_text_files,
)

pytestmark = pytest.mark.integration

# The canary's clear values. Its customer number is not among them: that is the business key analysts and
# segment exports are meant to carry.
CANARY_VALUES = [value for key, value in CANARY.items() if key != "customer_no"]

# The unit tests of the engine-dispatched macros (junk identifiers, masks) use synthetic phone numbers, ID
# numbers and e-mail addresses; they are in dbt's manifest, run results, compiled SQL and log. They are
# read from that file, so the allow-list follows it. (One was once the canary's own number, which made the
# canary impossible to look for in dbt's artefacts; the scanner refuses an allow-list covering a needle.)
UNIT_TEST_FILE = DBT_PROJECT_DIR / "models" / "macro_checks" / "_macro_checks__models.yml"


def unit_test_values() -> set[str]:
    """Every string value in the given and expected rows of the macro unit tests, and the e-mail addresses
    inside them (the malformed 'a@b@c.cn' holds 'b@c.cn')."""
    tests = yaml.safe_load(UNIT_TEST_FILE.read_text(encoding="utf-8"))["unit_tests"]
    rows = [row for test in tests for given in test["given"] for row in given.get("rows", [])]
    rows += [row for test in tests for row in test["expect"].get("rows", [])]
    values = {value for row in rows for value in row.values() if isinstance(value, str)}
    emails = {email for value in values for email in re.findall(r"[\w.%+-]+@[\w.-]+\.[a-z]{2,}", value)}
    return values | emails


# Great Expectations copies its Data Docs assets unchanged into every site: its HKGrotesk fonts carry
# the font designer's e-mail address in their metadata.
GX_DATA_DOCS_ASSETS = VendorCopy(
    re.compile(r"/data_docs/[^/]+/static/(?P<relative>.+)$"),
    Path(importlib.util.find_spec("great_expectations").submodule_search_locations[0])
    / "render"
    / "view"
    / "static",
)

# The CSS / JavaScript GX's pages load from CDNs, vendored in the repository and copied into every site.
GX_VENDORED_ASSETS = VendorCopy(
    re.compile(r"/data_docs/[^/]+/static/vendor/(?P<relative>.+)$"), DATA_DOCS_ASSETS_DIR
)


def allowed() -> Allowed:
    """The allow-list of the file scan: values that look like personal data and are not."""
    identity = load_business_rules()["identity"]
    return Allowed(
        # The test numbers of testers and branch staff are configuration: the junk rules compiled into
        # dbt's SQL and manifest list them.
        values=frozenset({str(number) for number in identity["test_phone_numbers"]} | unit_test_values()),
        vendor_copies=(GX_DATA_DOCS_ASSETS, GX_VENDORED_ASSETS),
    )


def scan_every_other_file(layout: DataLayout) -> Scan:
    """The file scan of the data directory and of the repository's dbt target (``make prepare``). Not of
    landing/ (the source systems' deliveries: clear personal data by nature, read by the pipeline, never
    written by it) nor of demo_truth/ (the demo generator's answer key, which stands apart from the
    pipeline)."""
    roots = [layout.root, DBT_PARSE_TARGET_DIR]
    return scan_text_files(roots, CANARY_VALUES, allowed(), skip=[layout.landing, layout.demo_truth])


def test_the_scan_finds_the_planted_canary_in_private_duckdb(built_warehouse):
    scan = scan_databases([built_warehouse.layout.private_db], CANARY_VALUES)
    for column in ("phone", "id_number", "email", "name"):
        assert any(hit.startswith(f"private.duckdb:main.pii_crm__customers.{column}: ") for hit in scan.hits)


def test_no_personal_data_in_any_table_or_export(built_warehouse):
    layout = built_warehouse.layout
    databases = [layout.warehouse_db, layout.analytics_db, layout.segments_db, layout.quality_db]
    tables = scan_databases(databases, CANARY_VALUES)
    raw = scan_parquet(layout.raw, CANARY_VALUES)
    exports = scan_outbox(layout.outbox, CANARY_VALUES)
    assert tables.hits == []
    assert raw.hits == []
    assert exports.hits == []
    # ... and the scan saw every file it is meant to see (a scan of nothing would pass as well)
    per_file = {
        path.name: sum(label.startswith(f"{path.name}:") for label in tables.scanned) for path in databases
    }
    assert per_file["warehouse.duckdb"] > 50
    assert per_file["analytics.duckdb"] > len(PUBLISHED_TABLES)  # with dq_results and the segment tables
    assert per_file["segments.duckdb"] == 4  # versions, members, diffs and blocked attempts' candidates
    assert per_file["quality.duckdb"] >= 1
    assert len(raw.scanned) > 300  # a file per table per delivery day
    versions = [folder for folder in (layout.outbox / "segments").glob("*/v*") if folder.is_dir()]
    assert len(versions) >= len(load_segments())  # every segment published at least once
    assert len(exports.scanned) == 2 * len(versions)  # members.csv and members.parquet of each


def test_no_personal_data_in_any_other_file(built_warehouse):
    layout = built_warehouse.layout
    assert {"13712340000", "13812340000", "li.ming@example.cn"} <= unit_test_values()  # the reader reads them
    scan = scan_every_other_file(layout)
    assert scan.hits == []
    names = {Path(path).name for path in scan.scanned}
    # logs, dbt's artefacts, GX's results and Data Docs, reports, exports' manifests, Dagster's storage
    # (its SQLite files hold every event and its metadata as plain UTF-8 JSON: scanned as bytes)
    for expected in ("dbt.log", "manifest.json", "run_results.json", "index.html", "latest.html", "runs.db"):
        assert expected in names, expected
    for folder in ("gx/gx/uncommitted/validations", "dagster_home/storage", "outbox/segments", "reports"):
        assert any(f"/{folder}/" in path for path in scan.scanned), folder
    assert any(path.startswith(str(DBT_PARSE_TARGET_DIR)) for path in scan.scanned)
    assert len(scan.scanned) > 300


def test_the_canary_is_loaded_as_hashes_with_derived_facts(built_warehouse):
    con = duckdb.connect(str(built_warehouse.layout.warehouse_db), read_only=True)
    row = con.execute(
        "select is_phone_valid, is_id_number_valid, id_birth_date::varchar, id_gender, email_domain "
        "from main_staging.stg_crm__customers where customer_no = ?",
        [CANARY["customer_no"]],
    ).fetchone()
    con.close()
    assert row == (True, True, "1949-12-31", "F", "example-canary.cn")


def test_private_duckdb_is_readable_by_its_owner_only(built_warehouse):
    assert built_warehouse.layout.private_db.stat().st_mode & 0o777 == 0o600


def test_hash_key_appears_in_no_file_and_no_dbt_artefact(built_warehouse):
    key = TEST_HASH_KEY.encode()
    roots = [built_warehouse.layout.root, DBT_PARSE_TARGET_DIR]
    checked = 0
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                checked += 1
                assert key not in path.read_bytes(), path
    assert checked > 50  # the data directory, Dagster's storage and dbt's artefacts were all there


def test_hash_key_and_canary_appear_in_no_dagster_event_or_run(built_warehouse):
    """Asset materialisations, check evaluations and their metadata, logs, run config and tags, read
    through Dagster's API (the file scan reads the same SQLite files as bytes)."""
    instance = temp_instance(built_warehouse.layout.dagster_home)  # the instance the build used
    runs = instance.get_runs()
    assert len(runs) >= 3  # load, earlier build, build
    events = 0
    kinds: set[str] = set()
    for run in runs:
        texts = [dg.serialize_value(run)]
        for entry in instance.all_logs(run.run_id):
            events += 1
            texts.append(dg.serialize_value(entry))
            if entry.dagster_event is not None:
                kinds.add(entry.dagster_event.event_type_value)
        for text in texts:
            assert TEST_HASH_KEY not in text, run.run_id
            assert needles_in(text.encode(), CANARY_VALUES) == [], run.run_id
    assert {"ASSET_MATERIALIZATION", "ASSET_CHECK_EVALUATION"} <= kinds
    assert events > 100


def test_no_model_reads_the_wall_clock(built_warehouse):
    compiled = list((built_warehouse.layout.dbt_target / "compiled").rglob("*.sql"))
    assert len(compiled) > 10
    wall_clock = re.compile(r"\b(current_date|current_timestamp|now\s*\(|getdate|sysdate|today\s*\()", re.I)
    offenders = [str(p) for p in compiled if wall_clock.search(p.read_text())]
    assert offenders == []
