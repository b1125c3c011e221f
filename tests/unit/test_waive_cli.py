"""``python -m orchestration.cli waive``: who waived which day and why, and the errors it refuses with."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest

from orchestration import cli
from orchestration.defs.ingest.completeness import _state, state_file, waivers
from orchestration.lib.layout import DataLayout


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> DataLayout:
    layout = DataLayout.at(tmp_path / "data")
    monkeypatch.setenv("FUNDCDP_DATA_DIR", str(layout.root))
    monkeypatch.setenv("DAGSTER_HOME", str(layout.dagster_home))
    monkeypatch.setenv("USER", "wang.engineer")
    return layout


def waive(*args: str) -> int:
    return cli.main(["waive", *args])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "erp", "--day", "2026-06-30", "--reason", "x"], "unknown source 'erp': expected one of "
         "trade, crm, tracking"),
        (["--source", "crm", "--day", "2026-6-30", "--reason", "x"], "'2026-6-30' is not a day in YYYY"),
        (["--source", "crm", "--day", "2026-02-30", "--reason", "x"], "'2026-02-30' is not a day"),
        (["--source", "crm", "--day", "2026-06-30"], "a waiver needs a reason"),
        (["--source", "crm", "--day", "2026-06-30", "--reason", " \t"], "a waiver needs a reason"),
        (["--source", "crm", "--day", "2026-06-30", "--withdraw"], "no active waiver for crm 2026-06-30"),
        (["--source", "crm", "--day", "2999-01-01", "--reason", "x"], "2999-01-01 is after today ("),
        (["--source", "crm", "--day", "2998-12-30", "--to", "2999-01-02", "--reason", "x"],
         "2998-12-30 .. 2999-01-02 is after today ("),
    ],
)  # fmt: skip
def test_a_refused_waiver_says_why_and_records_nothing(data_dir, capsys, args, message):
    assert waive(*args) == 2
    assert message in capsys.readouterr().err
    assert waivers(data_dir, include_withdrawn=True) == []


def test_source_and_day_are_required(data_dir, capsys):
    with pytest.raises(SystemExit) as exit_code:
        waive("--source", "crm", "--reason", "x")
    assert exit_code.value.code == 2
    assert "waive needs --source and --day (or --list)" in capsys.readouterr().err


def test_waive_is_idempotent_listed_and_withdrawn_with_who_and_when(data_dir, capsys):
    assert waive("--source", "crm", "--day", "2026-06-30", "--reason", "CRM outage, ticket 7") == 0
    assert waive("--source", "crm", "--day", "2026-06-30", "--reason", "another reason") == 0
    assert "already waived by wang.engineer" in capsys.readouterr().out
    (waiver,) = waivers(data_dir)
    assert (waiver.source, waiver.day, waiver.reason, waiver.waived_by) == (
        "crm", "2026-06-30", "CRM outage, ticket 7", "wang.engineer",
    )  # fmt: skip
    assert waiver.waived_at[:2] == "20" and waiver.withdrawn_at is None
    assert waive("--withdraw", "--source", "crm", "--day", "2026-06-30") == 0
    assert waivers(data_dir) == []
    # withdrawn, not forgotten; waiving again is a new waiver
    assert waive("--source", "crm", "--day", "2026-06-30", "--reason", "re-delivery refused") == 0
    capsys.readouterr()
    assert waive("--list") == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 2
    assert listed[0].startswith("crm 2026-06-30: CRM outage, ticket 7 (waived by wang.engineer at ")
    assert "; withdrawn by wang.engineer at " in listed[0]
    assert listed[1].startswith("crm 2026-06-30: re-delivery refused (") and listed[1].endswith("; active)")
    assert data_dir.root.joinpath("state", "completeness.sqlite").stat().st_mode & 0o777 == 0o600


def test_a_range_is_waived_day_by_day_keeping_earlier_waivers_and_withdrawn_as_a_range(data_dir, capsys):
    assert waive("--source", "crm", "--day", "2026-06-02", "--reason", "ticket 7") == 0
    assert (
        waive("--source", "crm", "--day", "2026-06-01", "--to", "2026-06-04", "--reason", "CRM began 06-05")
        == 0
    )
    assert (
        "waived crm 2026-06-01 .. 2026-06-04: 3 new waiver(s), 1 day(s) already waived"
        in capsys.readouterr().out
    )
    assert [(w.day, w.reason) for w in waivers(data_dir)] == [
        ("2026-06-01", "CRM began 06-05"),
        ("2026-06-02", "ticket 7"),
        ("2026-06-03", "CRM began 06-05"),
        ("2026-06-04", "CRM began 06-05"),
    ]
    assert waive("--withdraw", "--source", "crm", "--day", "2026-06-03", "--to", "2026-06-09") == 0
    assert [w.day for w in waivers(data_dir)] == ["2026-06-01", "2026-06-02"]


@pytest.mark.parametrize(
    ("to", "message"),
    [("2026-05-31", "--to 2026-05-31 is before --day 2026-06-01"),
     ("2046-06-01", "7306 days in 2026-06-01 .. 2046-06-01: at most 3660"),
     ("2026-6-9", "'2026-6-9' is not a day")],
)  # fmt: skip
def test_a_refused_range_records_nothing(data_dir, capsys, to, message):
    assert waive("--source", "crm", "--day", "2026-06-01", "--to", to, "--reason", "x") == 2
    assert message in capsys.readouterr().err
    assert waivers(data_dir, include_withdrawn=True) == []


def test_a_range_is_one_transaction_a_failure_halfway_waives_nothing(data_dir, capsys):
    """A write failing on the fifth day of the range (a trigger standing in for a full disk): no day of the
    range is waived, not the four before it."""
    state = data_dir.root / "state" / "completeness.sqlite"
    assert waive("--source", "crm", "--day", "2026-05-01", "--reason", "ticket 1") == 0  # creates the file
    with closing(sqlite3.connect(state)) as con, con:
        con.execute(
            "create trigger full_disk before insert on waivers when new.day = '2026-06-05' "
            "begin select raise(abort, 'database or disk is full'); end"
        )
    with pytest.raises(sqlite3.IntegrityError, match="disk is full"):
        waive("--source", "crm", "--day", "2026-06-01", "--to", "2026-06-09", "--reason", "CRM began 06-10")
    assert [w.day for w in waivers(data_dir, include_withdrawn=True)] == ["2026-05-01"]


def test_the_state_transaction_takes_the_write_lock_before_it_reads(tmp_path):
    """Checking for an active waiver and inserting one happen under one write lock: another writer cannot
    start between them."""
    layout = DataLayout.at(tmp_path / "data")
    with _state(layout) as con:
        con.execute("select count(*) from waivers").fetchone()  # a read only, so far
        with closing(sqlite3.connect(state_file(layout), timeout=0)) as other:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("begin immediate")
