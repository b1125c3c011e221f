"""Landing file names are checked against a strict pattern per table: a file whose name does not fit is
not loaded, and the day's load fails naming it and the pattern expected, before anything is written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from orchestration.defs.ingest.deliveries import inspect_day
from orchestration.defs.ingest.land import land_table_day, refused_file_names
from orchestration.defs.ingest.loader import LoadError
from orchestration.lib.layout import DataLayout
from orchestration.lib.rules import JunkRules, load_business_rules
from orchestration.lib.sources import MAX_FILE_NAME_LENGTH, TABLES_BY_KEY
from tests.landing_builder import CUSTOMER, write_delivery

KEY = b"landing-names-test-key"
JUNK = JunkRules.from_rules(load_business_rules())
CUSTOMERS = TABLES_BY_KEY[("crm", "customers")]
BANK_CARDS = TABLES_BY_KEY[("crm", "bank_cards")]
EVENTS = TABLES_BY_KEY[("tracking", "events")]
DAY = "2026-06-30"
YMD = "20260630"


HOSTILE_NAMES = {
    "quote": f"customers_{YMD}_it's.csv",
    "double_quote": f'customers_{YMD}_"x".csv',
    "space": f"customers_{YMD} copy.csv",
    "semicolon": f"customers_{YMD}_x;drop table t.csv",
    "unicode_suffix": f"customers_{YMD}_客户.csv",
    "full_width_date": "customers_２０２６０６３０.csv",
    "dot_dot": f"customers_{YMD}..csv",
    "dot_dot_suffix": f"customers_{YMD}_..x.csv",
    "over_long": f"customers_{YMD}_{'a' * (MAX_FILE_NAME_LENGTH - len(f'customers_{YMD}_.csv') + 1)}.csv",
    "newline": f"customers_{YMD}.csv\n",
    "tab": f"customers_{YMD}\t.csv",
    "upper_case_extension": f"customers_{YMD}.CSV",
    "upper_case_table": f"CUSTOMERS_{YMD}.csv",
    "dash_suffix": f"customers_{YMD}-resend.csv",
    "trailing_underscore": f"customers_{YMD}_.csv",
    "double_extension": f"customers_{YMD}.csv.csv",
    "backslash": f"customers_{YMD}_a\\b.csv",
    "percent": f"customers_{YMD}_%27.csv",
}


@pytest.fixture
def layout(tmp_path: Path) -> DataLayout:
    layout = DataLayout.at(tmp_path / "data")
    layout.ensure()
    return layout


def land(layout: DataLayout, spec, day: str = DAY):
    return land_table_day(layout, spec, day, KEY, JUNK, max_quarantine_share=0.5)


def rename_delivery(layout: DataLayout, spec, new_name: str) -> None:
    """Rename the day's file of ``spec`` and its control file entry."""
    folder = layout.landing_day(spec.source, DAY)
    old_name = f"{spec.name}_{YMD}{spec.extension}"
    (folder / old_name).rename(folder / new_name)
    control = folder / f"_control_{YMD}.csv"
    control.write_text(control.read_text(encoding="utf-8").replace(old_name, new_name), encoding="utf-8")


def test_the_names_sources_deliver_fit() -> None:
    assert CUSTOMERS.matches_file(f"customers_{YMD}.csv", DAY)
    assert CUSTOMERS.matches_file(f"customers_{YMD}_resend.csv", DAY)
    assert CUSTOMERS.matches_file(f"customers_{YMD}_part2.csv", DAY)
    assert EVENTS.matches_file(f"events_{YMD}.jsonl.gz", DAY)
    assert EVENTS.matches_file(f"events_{YMD}_part12.jsonl.gz", DAY)
    assert not CUSTOMERS.matches_file(f"customers_{YMD}.csv", "2026-06-29")  # another day's
    assert not EVENTS.matches_file(f"events_{YMD}.csv", DAY)  # another format's extension
    assert not BANK_CARDS.matches_file(f"customers_{YMD}.csv", DAY)


@pytest.mark.parametrize("kind", sorted(HOSTILE_NAMES))
def test_hostile_names_do_not_fit(kind: str) -> None:
    assert not CUSTOMERS.matches_file(HOSTILE_NAMES[kind], DAY)


@pytest.mark.parametrize("kind", sorted(set(HOSTILE_NAMES) - {"newline"}))
def test_a_delivery_under_a_hostile_name_is_refused_naming_file_and_pattern(
    layout: DataLayout, kind: str
) -> None:
    name = HOSTILE_NAMES[kind]
    write_delivery(layout, DAY, {"customers": [CUSTOMER]})
    rename_delivery(layout, CUSTOMERS, name)

    with pytest.raises(LoadError) as refused:
        land(layout, CUSTOMERS)

    message = str(refused.value)
    assert repr(name) in message  # the file, exactly, even with quotes or control characters
    assert "customers_<YYYYMMDD>[_<letters or digits>...].csv" in message  # the pattern expected
    assert str(layout.landing_day("crm", DAY)) in message  # where
    # Nothing of it written: no rows, no manifest row, no quarantine, no private store.
    assert not layout.raw_table("crm", "customers").exists()
    assert not list(layout.raw.glob("ingest/*/*/crm__customers__*"))
    assert not layout.private_db.exists()
    # The sensor holds the day back for the same reason.
    problems = inspect_day(layout, DAY, {}).problems
    assert any(repr(name) in problem and "not accepted" in problem for problem in problems)


def test_a_name_with_a_newline_is_refused(layout: DataLayout) -> None:
    # A name ending in a newline fitted ``^…$`` (``$`` matches before a final newline); fullmatch does not.
    name = HOSTILE_NAMES["newline"]
    write_delivery(layout, DAY, {"customers": [CUSTOMER]})
    folder = layout.landing_day("crm", DAY)
    shutil.copy(folder / f"customers_{YMD}.csv", folder / name)

    assert refused_file_names(layout, CUSTOMERS, DAY) == [name]
    with pytest.raises(LoadError, match=r"customers_20260630\.csv\\n"):
        land(layout, CUSTOMERS)


def test_a_refused_name_stops_only_the_table_it_claims(layout: DataLayout) -> None:
    write_delivery(layout, DAY, {"customers": [CUSTOMER]})
    folder = layout.landing_day("crm", DAY)
    shutil.copy(folder / f"customers_{YMD}.csv", folder / HOSTILE_NAMES["quote"])

    with pytest.raises(LoadError, match="it's"):
        land(layout, CUSTOMERS)
    outcome = land(layout, BANK_CARDS)  # the other tables of the source load as usual
    assert [(f.file_name, f.status) for f in outcome.files] == [(f"bank_cards_{YMD}.csv", "loaded")]


def test_a_file_claiming_no_table_stops_every_table_of_the_source(layout: DataLayout) -> None:
    write_delivery(layout, DAY, {"customers": [CUSTOMER]})
    stray = "notes about it's.txt"
    (layout.landing_day("crm", DAY) / stray).write_text("?", encoding="utf-8")

    for spec in (CUSTOMERS, BANK_CARDS):
        with pytest.raises(LoadError) as refused:
            land(layout, spec)
        assert repr(stray) in str(refused.value)
    assert land(layout, EVENTS).files[0].status == "loaded"  # another source's folder is not concerned


def test_hidden_files_and_the_control_file_are_left_alone(layout: DataLayout) -> None:
    write_delivery(layout, DAY, {"customers": [CUSTOMER]})
    (layout.landing_day("crm", DAY) / f".customers_{YMD}.csv.part").write_text("copying", encoding="utf-8")

    assert refused_file_names(layout, CUSTOMERS, DAY) == []
    outcome = land(layout, CUSTOMERS)
    assert [(f.file_name, f.status, f.rows_loaded) for f in outcome.files] == [
        (f"customers_{YMD}.csv", "loaded", 1)
    ]
    assert inspect_day(layout, DAY, {}).problems == []


def test_a_data_directory_named_with_quotes_loads(tmp_path: Path) -> None:
    # The path reaches DuckDB as a bound parameter (read_json(?), read_parquet(?)), never as SQL text.
    layout = DataLayout.at(tmp_path / "d'a\"ta; select 1 -- 数据")
    layout.ensure()
    tracking_event = {
        "event_id": "e1",
        "event": "page_view",
        "time": 1782784800000,
        "receive_time": 1782784801000,
        "anonymous_id": "d-1",
        "login_id": None,
        "properties": {"platform": "ios", "utm_term": "基金定投"},
    }
    write_delivery(layout, DAY, {"customers": [CUSTOMER], "events": [tracking_event]})

    assert [f.rows_loaded for f in land(layout, CUSTOMERS).files] == [1]
    assert [f.rows_loaded for f in land(layout, EVENTS).files] == [1]
    assert [f.status for f in land(layout, EVENTS).files] == ["unchanged"]  # the manifest read back
