"""The ledger's rules on facts laid down by hand (manifest file names, landing folders, recorded failures),
and how the summary and the UI show it."""

from __future__ import annotations

import shutil
from datetime import date

import pytest

from orchestration.defs.ingest.completeness import (
    WaiverError,
    _days,
    build_ledger,
    held_days,
    held_key,
    held_list,
    held_text,
    ledger_lines,
    ledger_markdown,
    mark_loads_started,
    record_load_attempts,
    waive,
    waive_days,
    waive_planted_demo_days,
    waivers,
    withdraw_waiver,
)
from orchestration.defs.ingest.delivery_schedule import DeliverySchedule
from orchestration.lib.layout import DataLayout
from orchestration.lib.sources import tables_of

SCHEDULE = DeliverySchedule({"trade": frozenset(range(7)), "crm": frozenset({0}), "tracking": frozenset()})
# 2026-03-02 is a Monday


def loaded(layout: DataLayout, source: str, day: str, tables: list[str] | None = None) -> None:
    folder = layout.raw / "ingest" / "load_manifest" / f"arrival_date={day}"
    folder.mkdir(parents=True, exist_ok=True)
    for table in tables or [spec.name for spec in tables_of(source)]:
        (folder / f"{source}__{table}__{table}_{day.replace('-', '')}.parquet").write_bytes(b"")


def delivered(layout: DataLayout, source: str, day: str) -> None:
    layout.landing_day(source, day).mkdir(parents=True, exist_ok=True)


def company(tmp_path) -> DataLayout:
    layout = DataLayout.at(tmp_path / "data")
    layout.ensure()
    for day in ("2026-03-02", "2026-03-03", "2026-03-04"):
        delivered(layout, "trade", day)
    loaded(layout, "trade", "2026-03-02")
    loaded(layout, "trade", "2026-03-03", ["trade_orders"])  # one table only: not loaded
    delivered(layout, "crm", "2026-03-02")
    loaded(layout, "crm", "2026-03-02")
    loaded(layout, "tracking", "2026-03-04")  # delivered though never due, landing since removed
    return layout


def statuses(layout: DataLayout, as_of: str = "2026-03-05", purged=()) -> list[str]:
    return [e.describe() for e in build_ledger(layout, "2026-01-01", as_of, SCHEDULE, purged)]


def test_statuses_per_source_and_day(tmp_path):
    layout = company(tmp_path)
    assert statuses(layout) == [
        "trade 2026-03-02 loaded", "trade 2026-03-03 delivered", "trade 2026-03-04 delivered",
        "trade 2026-03-05 missing",
        "crm 2026-03-02 loaded", "crm 2026-03-03 not_due", "crm 2026-03-04 not_due", "crm 2026-03-05 not_due",
        "tracking 2026-03-02 not_due", "tracking 2026-03-03 not_due", "tracking 2026-03-04 loaded",
        "tracking 2026-03-05 not_due",
    ]  # fmt: skip
    # nothing before the first delivery, nothing after the as-of day, nothing at all before any delivery
    assert statuses(layout, "2026-03-02")[0] == "trade 2026-03-02 loaded"
    assert build_ledger(layout, "2026-03-04", "2026-03-04", SCHEDULE)[0].day == "2026-03-04"
    assert build_ledger(DataLayout.at(tmp_path / "empty"), "2026-01-01", "2026-03-05", SCHEDULE) == []


def test_a_failure_wins_over_an_earlier_load_until_a_later_load_and_a_waiver_answers_it(tmp_path):
    layout = company(tmp_path)
    record_load_attempts(layout, "crm", "customers", {"2026-03-02": "bad control total"}, [])
    assert statuses(layout)[4] == "crm 2026-03-02 failed (customers: bad control total)"
    waive(layout, "crm", "2026-03-02", "CRM confirmed the total", who="li")
    assert statuses(layout)[4] == "crm 2026-03-02 waived (CRM confirmed the total)"
    withdraw_waiver(layout, "crm", "2026-03-02", who="li")
    record_load_attempts(layout, "crm", "customers", {}, ["2026-03-02"])
    assert statuses(layout)[4] == "crm 2026-03-02 loaded"
    # a waiver of a day delivered but not loaded, and of a missing day
    waive(layout, "trade", "2026-03-05", "exchange closed", who="li")
    assert statuses(layout)[3] == "trade 2026-03-05 waived (exchange closed)"


def test_a_day_purged_by_retention_counts_as_loaded(tmp_path):
    layout = company(tmp_path)
    schedule = DeliverySchedule.daily()
    purged = build_ledger(layout, "2026-01-01", "2026-03-03", schedule, purged_days={"2026-03-03"})
    assert [e.describe() for e in purged if e.source == "tracking"] == [
        "tracking 2026-03-02 missing",
        "tracking 2026-03-03 loaded (purged by retention)",
    ]


def test_summary_lines_and_markdown(tmp_path):
    layout = company(tmp_path)
    record_load_attempts(layout, "crm", "bank_cards", {"2026-03-02": "listed but missing: x.csv"}, [])
    record_load_attempts(layout, "crm", "customers", {"2026-03-02": "listed but missing: x.csv"}, [])
    record_load_attempts(layout, "crm", "marketing_consents", {"2026-03-02": "bad control total"}, [])
    ledger = build_ledger(layout, "2026-01-01", "2026-03-05", SCHEDULE)
    assert ledger_lines(ledger) == [
        "trade    2026-03-02 .. 2026-03-05: 1 loaded, 0 not due, 0 waived, 2 delivered, 1 missing",
        "  trade 2026-03-03 .. 2026-03-04 delivered",  # consecutive days, one status: one line
        "  trade 2026-03-05 missing",
        "crm      2026-03-02 .. 2026-03-05: 0 loaded, 3 not due, 0 waived, 1 failed",
        "  crm 2026-03-02 failed (bank_cards, customers: listed but missing: x.csv; marketing_consents: bad "
        "control total)",
        "tracking 2026-03-02 .. 2026-03-05: 1 loaded, 3 not due, 0 waived",
    ]
    markdown = ledger_markdown(ledger).splitlines()
    assert markdown[:5] == [
        "| source | loaded | not_due | waived | failed | delivered | missing |",
        "|---|---|---|---|---|---|---|",
        "| trade | 1 | 0 | 0 | 0 | 2 | 1 |",
        "| crm | 0 | 3 | 0 | 1 | 0 | 0 |",
        "| tracking | 1 | 3 | 0 | 0 | 0 | 0 |",
    ]
    assert (
        "| crm | 2026-03-02 | failed | bank_cards, customers: listed but missing: x.csv; marketing_consents: "
        "bad control total |"
    ) in markdown
    assert "| trade | 2026-03-03 .. 2026-03-04 | delivered |  |" in markdown
    held = [e for e in ledger if e.status in ("failed", "missing")]
    assert held_text(held) == (
        "held: trade 2026-03-05 missing, crm 2026-03-02 failed (bank_cards, customers: listed but missing: "
        "x.csv; marketing_consents: bad control total)"
    )
    assert held_text(held, limit=1) == "held: trade 2026-03-05 missing and 1 more"
    assert held_key(held) == held_key(list(held)) != held_key(held[:1])


def test_runs_of_days_are_one_line_and_held_lists_are_capped(tmp_path):
    """Half a year of waived CRM days before it went live (one reason), one day waived with another reason
    inside them, and 120 missing trade days every other day: the summary, the UI table and the held list
    stay short."""
    layout = DataLayout.at(tmp_path / "data")
    delivered(layout, "trade", "2026-01-01")
    waive_days(layout, "crm", _days("2026-01-01", "2026-06-29"), "CRM went live 2026-06-30", who="li")
    withdraw_waiver(layout, "crm", "2026-03-01", who="li")
    waive(layout, "crm", "2026-03-01", "ticket 9", who="li")
    schedule = DeliverySchedule(
        {"trade": frozenset({0, 2, 4}), "crm": frozenset({0}), "tracking": frozenset()}
    )
    ledger = build_ledger(layout, "2026-01-01", "2026-06-29", schedule)
    lines = ledger_lines(ledger)
    crm = lines[lines.index(next(line for line in lines if line.startswith("crm "))) :][:5]
    assert crm == [
        "crm      2026-01-01 .. 2026-06-29: 0 loaded, 0 not due, 180 waived",
        "  crm 2026-01-01 .. 2026-02-28 waived (CRM went live 2026-06-30)",
        "  crm 2026-03-01 waived (ticket 9)",
        "  crm 2026-03-02 .. 2026-06-29 waived (CRM went live 2026-06-30)",
        "tracking 2026-01-01 .. 2026-06-29: 0 loaded, 180 not due, 0 waived",
    ]
    # trade: delivered on the first day, then due Mon/Wed/Fri and missing on each, never two days in a
    # row: 78 runs, 50 named
    trade = [line for line in lines if line.startswith("  trade ")]
    assert len(trade) == 50 and lines[lines.index(trade[-1]) + 1] == "  and 28 more"
    assert "| crm | 2026-01-01 .. 2026-02-28 | waived | CRM went live 2026-06-30 |" in ledger_markdown(ledger)
    assert len(ledger_markdown(ledger).splitlines()) == 5 + 3 + 50 + 1 + 3
    held = held_days(ledger)
    assert len(held) == 78
    listed = held_list(held)
    assert (len(listed), listed[0], listed[-1]) == (51, "trade 2026-01-01 delivered", "and 28 more")
    assert held_list(held[:3]) == [
        "trade 2026-01-01 delivered", "trade 2026-01-02 missing", "trade 2026-01-05 missing",
    ]  # fmt: skip


def test_the_demos_planted_day_is_waived_once_from_the_generators_truth(tmp_path, monkeypatch):
    monkeypatch.setenv("FUNDCDP_DEMO_TRUTH_DIR", str(tmp_path / "truth"))
    layout = DataLayout.at(tmp_path / "data")
    layout.demo_truth.mkdir(parents=True)
    (layout.demo_truth / "defects.csv").write_text(
        "file,line,kind,detail\n"
        "crm/2026-06-12/marketing_consents_20260612.csv,,incomplete_day,listed in _control_20260612.csv "
        "(41 rows) but missing\n"
        "trade/2026-06-13/trade_orders_20260613.csv,7,bad_number,amount=abc\n",
        encoding="utf-8",
    )
    (waiver,) = waive_planted_demo_days(layout)
    assert (waiver.source, waiver.day, waiver.waived_by) == ("crm", "2026-06-12", "demo generator")
    assert waiver.reason == (
        "planted by the demo generator: marketing_consents_20260612.csv listed in _control_20260612.csv "
        "(41 rows) but missing"
    )
    assert waive_planted_demo_days(layout) == []
    withdraw_waiver(layout, "crm", "2026-06-12")
    assert waive_planted_demo_days(layout) == []  # an engineer's withdrawal stands


def test_a_day_is_loaded_only_when_every_file_its_control_file_lists_has_a_manifest(tmp_path):
    """A crash (or a full disk) after part1's manifest and before part2's: the trade day is not loaded."""
    layout = company(tmp_path)
    folder = layout.landing_day("trade", "2026-03-02")
    (folder / "_control_20260302.csv").write_text(
        "file_name,row_count,amount_total\n"
        "trade_orders_20260302.csv,3,\ntrade_orders_20260302_part2.csv,2,\n"
        "nav_20260302.csv,1,\n",
        encoding="utf-8",
    )
    assert statuses(layout)[0] == (
        "trade 2026-03-02 delivered (listed but not loaded: trade_orders_20260302_part2.csv)"
    )
    loaded(layout, "trade", "2026-03-02", ["trade_orders"])  # the same name again: nothing new
    manifests = layout.raw / "ingest" / "load_manifest" / "arrival_date=2026-03-02"
    (manifests / "trade__trade_orders__trade_orders_20260302_part2.parquet").write_bytes(b"")
    assert statuses(layout)[0] == "trade 2026-03-02 loaded"
    # without its landing folder (retention, a moved archive) the manifests alone decide
    (manifests / "trade__trade_orders__trade_orders_20260302_part2.parquet").unlink()
    shutil.rmtree(folder)
    assert statuses(layout)[0] == "trade 2026-03-02 loaded"


def test_a_waiver_answers_only_the_failures_before_it(tmp_path):
    layout = company(tmp_path)
    record_load_attempts(layout, "crm", "customers", {"2026-03-02": "bad control total"}, [])
    waive(layout, "crm", "2026-03-02", "CRM confirmed the total", who="li")
    # the same failure again (a re-run of the same delivery): still answered
    record_load_attempts(layout, "crm", "customers", {"2026-03-02": "bad control total"}, [])
    assert statuses(layout)[4] == "crm 2026-03-02 waived (CRM confirmed the total)"
    # a new failure after the waiver (a corrected re-delivery failing otherwise): held again
    record_load_attempts(layout, "crm", "customers", {"2026-03-02": "missing column(s) phone"}, [])
    (waiver,) = waivers(layout)
    assert statuses(layout)[4] == (
        "crm 2026-03-02 failed (customers: missing column(s) phone; the waiver (CRM confirmed the total; "
        f"li, {waiver.waived_at[:19]}) predates this failure)"
    )
    # a load started after the waiver that never finished holds it too
    record_load_attempts(layout, "crm", "customers", {}, ["2026-03-02"])
    waive(layout, "trade", "2026-03-03", "trade re-sends tomorrow", who="li")
    assert statuses(layout)[1] == "trade 2026-03-03 waived (trade re-sends tomorrow)"
    mark_loads_started(layout, "trade", "nav", ["2026-03-03"])
    assert statuses(layout)[1].startswith(
        "trade 2026-03-03 failed (nav: load did not finish (crashed?); the waiver (trade re-sends"
    )


def test_a_day_after_today_is_not_waived(tmp_path, monkeypatch):
    import orchestration.defs.ingest.completeness as completeness

    monkeypatch.setattr(completeness, "_today", lambda: date(2026, 3, 5))
    layout = company(tmp_path)
    with pytest.raises(WaiverError, match=r"2026-03-06 is after today \(2026-03-05, Asia/Shanghai\)"):
        waive(layout, "trade", "2026-03-06", "holiday", who="li")
    with pytest.raises(WaiverError, match=r"2026-03-06 \.\. 2026-03-08 is after today \(2026-03-05"):
        waive_days(layout, "trade", _days("2026-03-04", "2026-03-08"), "holiday", who="li")
    assert waivers(layout, include_withdrawn=True) == []
    waive(layout, "trade", "2026-03-05", "exchange closed", who="li")  # today: allowed
    assert [w.day for w in waivers(layout)] == ["2026-03-05"]


def test_a_table_added_later_is_required_from_its_first_load_or_listing_only(tmp_path):
    """The trade system starts sending holdings on 03-04: the days before it are loaded without them;
    from 03-04 on they are required, and a control file listing one earlier requires it that day."""
    layout = DataLayout.at(tmp_path / "data")
    without_holdings = [spec.name for spec in tables_of("trade") if spec.name != "holdings"]
    for day in ("2026-03-02", "2026-03-03", "2026-03-05"):
        delivered(layout, "trade", day)
        loaded(layout, "trade", day, without_holdings)
    delivered(layout, "trade", "2026-03-04")
    loaded(layout, "trade", "2026-03-04")
    (layout.landing_day("trade", "2026-03-03") / "_control_20260303.csv").write_text(
        "file_name,row_count,amount_total\nholdings_20260303.csv,4,\n", encoding="utf-8"
    )
    assert statuses(layout)[:4] == [
        "trade 2026-03-02 loaded",
        "trade 2026-03-03 delivered (listed but not loaded: holdings_20260303.csv)",
        "trade 2026-03-04 loaded",
        "trade 2026-03-05 delivered",  # holdings required since 03-04
    ]
