"""Every file a control file lists is read, or the day fails naming it (issue 31); and the bad files and
lines found beside it: a header repeated inside a CSV file, broken gzip files, "no value" placeholders
outside keys.

Each case is a small delivery made for it. The loader (land_table_day, which ``cli day``, backfills and
history imports call) and the delivery sensor (inspect_day) share one reconciliation (reconcile_delivery):
the tests assert both say the same.
"""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from orchestration.defs.ingest.deliveries import inspect_day
from orchestration.defs.ingest.land import land_table_day
from orchestration.defs.ingest.loader import LoadError
from orchestration.defs.ingest.reconcile import reconcile_delivery
from orchestration.lib.layout import DataLayout
from orchestration.lib.rules import JunkRules, load_business_rules
from orchestration.lib.sources import TABLES_BY_KEY, tables_of
from tests.foreign_data import write_source_day
from tests.unit.test_ingest import ORDER_HEADER, order_line, raw_rows, write_day
from tests.unit.test_text_hygiene import event

KEY = b"reconcile-test-key"
JUNK = JunkRules.from_rules(load_business_rules())
ORDERS = TABLES_BY_KEY[("trade", "trade_orders")]
NAV = TABLES_BY_KEY[("trade", "nav")]
EVENTS = TABLES_BY_KEY[("tracking", "events")]
DAY, YMD = "2026-07-01", "20260701"


@pytest.fixture
def layout(tmp_path: Path) -> DataLayout:
    layout = DataLayout.at(tmp_path / "data")
    layout.ensure()
    return layout


def land(layout: DataLayout, spec, day: str = DAY):
    return land_table_day(layout, spec, day, KEY, JUNK, max_quarantine_share=0.5)


def trade_day(layout: DataLayout, orders: list[dict] | None = None) -> Path:
    """A whole trade delivery of DAY (every table, header-only but for ``orders``); its folder."""
    write_source_day(layout, "trade", DAY, {"trade_orders": orders or []})
    return layout.landing_day("trade", DAY)


def order(order_id: str, amount: str) -> dict:
    values = order_line(order_id, amount=amount, confirm_date=DAY).split(",")
    return dict(zip(ORDERS.column_names, values, strict=True))


def add_listed(folder: Path, name: str, text: str, rows: int, amount: str = "") -> None:
    """Put ``name`` beside the day's files and list it in the control file."""
    (folder / name).parent.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    control = folder / f"_control_{YMD}.csv"
    control.write_text(control.read_text(encoding="utf-8") + f"{name},{rows},{amount}\n", encoding="utf-8")


def sensor_problems(layout: DataLayout, source: str) -> list[str]:
    return [p for p in inspect_day(layout, DAY, {}).problems if p.startswith(f"{source}:")]


# 31 orders of the previous day, 648,500.00 CNY in all (the reported loss), as a second part file.
PREVIOUS_DAY_ORDERS = [
    order_line(f"Q{n:03d}", amount="20900.00" if n else "21500.00", confirm_date="2026-06-30")
    for n in range(31)
]


def test_a_listed_file_of_the_previous_day_fails_the_day_naming_it_loader_and_sensor_alike(layout):
    folder = trade_day(layout, [order("P1", "1200.00")])
    name = "trade_orders_20260630_part2.csv"
    add_listed(folder, name, "\n".join([ORDER_HEADER, *PREVIOUS_DAY_ORDERS]) + "\n", 31, "648500.00")

    with pytest.raises(LoadError) as failed:
        land(layout, ORDERS)
    assert str(failed.value) == (
        f"{folder}: {name!r}: listed in the control file but dated 2026-06-30, not 2026-07-01: no table of "
        "trade reads it"
    )
    assert not layout.raw_table("trade", "trade_orders").exists()  # nothing of the day written
    # the other tables of the source load: the file claims trade_orders only
    assert [f.status for f in land(layout, NAV).files] == ["loaded"]
    # the sensor holds the day back for the same reason, in the same words
    assert sensor_problems(layout, "trade") == [
        f"trade: {name!r}: listed in the control file but dated 2026-06-30, not 2026-07-01: no table of "
        "trade reads it"
    ]


@pytest.mark.parametrize(
    ("name", "where"),
    [
        (f".trade_orders_{YMD}_part2.csv", "hidden (a copy in progress?)"),
        (f"part2/trade_orders_{YMD}.csv", "not a file of the day's folder"),
    ],
)
def test_a_listed_file_no_table_reads_fails_every_table_of_the_source(layout, name, where):
    folder = trade_day(layout)
    add_listed(folder, name, "\n".join([ORDER_HEADER, order_line("P9", amount="700.00")]) + "\n", 1, "700.00")
    expected = (
        f"{name!r}: listed in the control file but {where}: no table of trade reads it (expected "
        f"<table>_<YYYYMMDD>[_<letters or digits>...] in {DAY}/)"
    )
    for spec in tables_of("trade"):
        with pytest.raises(LoadError) as failed:
            land(layout, spec)
        assert str(failed.value) == f"{folder}: {expected}"
    assert sensor_problems(layout, "trade") == [f"trade: {expected}"]
    assert not (layout.raw / "trade").exists()


def test_listed_missing_unlisted_and_other_day_files_are_each_named(layout):
    folder = trade_day(layout, [order("P1", "1200.00")])
    control = folder / f"_control_{YMD}.csv"
    control.write_text(control.read_text() + f"nav_{YMD}_part2.csv,4,\n")  # listed, never delivered
    one_order = "\n".join([ORDER_HEADER, order_line("P2", amount="3300.00", confirm_date=DAY)]) + "\n"
    (folder / f"trade_orders_{YMD}_late.csv").write_text(one_order)  # not listed, new content
    (folder / "trade_orders_20260702.csv").write_text(one_order)  # the next day's, not listed

    reconciliation = reconcile_delivery(layout, "trade", DAY, loaded_hashes=lambda spec: {})
    assert [(p.kind, p.file_name, p.table) for p in reconciliation.problems] == [
        ("listed_missing", f"nav_{YMD}_part2.csv", None),
        ("other_day", "trade_orders_20260702.csv", "trade_orders"),
        ("not_listed", f"trade_orders_{YMD}_late.csv", "trade_orders"),
    ]
    with pytest.raises(LoadError) as failed:
        land(layout, ORDERS)
    assert str(failed.value) == "; ".join(
        [
            f"{folder}: incomplete delivery, listed in the control file but missing: nav_{YMD}_part2.csv",
            f"{folder}: 'trade_orders_20260702.csv': a trade_orders file dated 2026-07-02, not 2026-07-01, "
            "in the folder of 2026-07-01 (not listed in the control file)",
            f"{folder}: 'trade_orders_{YMD}_late.csv': not listed in the control file _control_{YMD}.csv "
            "and not a copy of a listed or loaded file",
        ]
    )
    with pytest.raises(LoadError, match=rf"missing: nav_{YMD}_part2.csv$"):
        land(layout, NAV)  # a listed file missing stops every table; the others' files stop theirs only
    assert sensor_problems(layout, "trade") == [
        f"trade: nav_{YMD}_part2.csv not arrived",
        "trade: 'trade_orders_20260702.csv': a trade_orders file dated 2026-07-02, not 2026-07-01, in the "
        "folder of 2026-07-01 (not listed in the control file)",
        f"trade: 'trade_orders_{YMD}_late.csv': not listed in the control file _control_{YMD}.csv and not "
        "a copy of a listed or loaded file",
    ]


def test_an_unlisted_copy_of_a_listed_or_loaded_file_is_a_resend_for_both(layout):
    folder = trade_day(layout, [order("P1", "1200.00"), order("P2", "800.00")])
    shutil.copy(folder / f"trade_orders_{YMD}.csv", folder / f"trade_orders_{YMD}_resend.csv")
    reconciliation = reconcile_delivery(layout, "trade", DAY, loaded_hashes=lambda spec: {})
    assert reconciliation.problems == []
    assert reconciliation.files_of("trade_orders") == [
        f"trade_orders_{YMD}.csv",
        f"trade_orders_{YMD}_resend.csv",
    ]
    assert reconciliation.duplicates == {f"trade_orders_{YMD}_resend.csv": f"trade_orders_{YMD}.csv"}
    assert sensor_problems(layout, "trade") == []
    outcome = land(layout, ORDERS)
    assert [(f.file_name, f.status, f.rows_loaded) for f in outcome.files] == [
        (f"trade_orders_{YMD}.csv", "loaded", 2),
        (f"trade_orders_{YMD}_resend.csv", "duplicate", 0),
    ]
    assert raw_rows(layout, "trade", "trade_orders", "order_id") == [("P1",), ("P2",)]
    # The next day a copy of this day's file arrives unlisted beside the next day's own delivery: the
    # sensor finds it in the load manifest, as the loader does.
    write_source_day(layout, "trade", "2026-07-02", {})
    shutil.copy(
        folder / f"trade_orders_{YMD}.csv",
        layout.landing_day("trade", "2026-07-02") / "trade_orders_20260702_x.csv",
    )
    later = [p for p in inspect_day(layout, "2026-07-02", {}).problems if p.startswith("trade:")]
    assert later == []
    outcome = land(layout, ORDERS, "2026-07-02")
    assert [(f.file_name, f.status, f.duplicate_of) for f in outcome.files] == [
        ("trade_orders_20260702.csv", "loaded", None),
        ("trade_orders_20260702_x.csv", "duplicate", f"trade_orders_{YMD}.csv"),
    ]


# --- a header repeated inside a file -----------------------------------------------------------------------


def test_a_header_repeated_inside_a_file_is_quarantined_as_such(layout):
    # Two exports concatenated: the second one's header (with its BOM) sits on line 4.
    lines = [
        ORDER_HEADER,
        order_line("R1", amount="5000.00", confirm_date=DAY),
        order_line("R2", amount="2500.50", confirm_date=DAY),
        "\ufeff" + ORDER_HEADER,
        order_line("R3", amount="99.50", confirm_date=DAY),
    ]
    name = f"trade_orders_{YMD}.csv"
    write_day(layout, "trade", DAY, {name: "\n".join(lines) + "\n"}, {name: (4, "7600.00")})
    (file,) = land(layout, ORDERS).files
    assert (file.lines_read, file.rows_loaded, file.rows_quarantined) == (4, 3, 1)
    assert file.quarantined_by_reason == {"repeated_header": 1}
    assert raw_rows(layout, "trade", "trade_orders", "order_id, amount") == [
        ("R1", Decimal("5000.00")),
        ("R2", Decimal("2500.50")),
        ("R3", Decimal("99.50")),
    ]
    quarantine = str(layout.raw / "ingest" / "quarantine" / "*" / "*.parquet")
    assert duckdb.execute(
        "select line_number, reason, detail from read_parquet(?)", [quarantine]
    ).fetchall() == [(4, "repeated_header", "")]


def test_a_control_file_counting_only_data_lines_fails_naming_the_repeated_header(layout):
    lines = [
        ORDER_HEADER,
        order_line("R1", confirm_date=DAY),
        ORDER_HEADER,
        order_line("R2", confirm_date=DAY),
    ]
    name = f"trade_orders_{YMD}.csv"
    write_day(layout, "trade", DAY, {name: "\n".join(lines) + "\n"}, {name: (2, "2000.00")})
    with pytest.raises(LoadError) as failed:
        land(layout, ORDERS)
    assert str(failed.value).endswith(
        "control file says 2 rows, the file has 3 (difference +1); line(s) 3 repeat the header "
        "(quarantined as repeated_header)"
    )
    # the sensor counts lines the same way: the day waits
    assert sensor_problems(layout, "trade") == [f"trade: {name} has 3 of 2 rows"]


# --- broken gzip files -------------------------------------------------------------------------------------


def write_events(layout: DataLayout, data: bytes, rows: int) -> Path:
    name = f"events_{YMD}.jsonl.gz"
    folder = layout.landing_day("tracking", DAY)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    (folder / f"_control_{YMD}.csv").write_text(f"file_name,row_count,amount_total\n{name},{rows},\n")
    return folder / name


THREE_EVENTS = "".join(
    json.dumps(event(f"e{n}", receive=f"{DAY} 10:0{n}:00")) + "\n" for n in range(3)
).encode()


@pytest.mark.parametrize(
    ("kind", "data", "rows", "message"),
    [
        (
            "zero bytes",
            b"",
            0,
            "empty file (0 bytes), not a gzip file; a day without events is a gzip of no lines",
        ),
        (
            "truncated",
            gzip.compress(THREE_EVENTS, mtime=0)[:40],
            3,
            "not a readable gzip file (Compressed file ended before the end-of-stream marker was reached)",
        ),
        ("not gzip", THREE_EVENTS, 3, "not a readable gzip file (Not a gzipped file (b'{\"'))"),
    ],
)
def test_a_broken_gzip_file_fails_naming_the_file(layout, kind, data, rows, message):
    path = write_events(layout, data, rows)
    with pytest.raises(LoadError) as failed:
        land(layout, EVENTS)
    assert str(failed.value) == f"{path}: {message}"
    assert not layout.raw_table("tracking", "events").exists()
    assert sensor_problems(layout, "tracking") == [f"tracking: {path}: {message}"]


def test_a_gzip_file_padded_with_zeros_loads_every_event(layout):
    # Python's gzip reads past zero padding after the stream; DuckDB's reader refused it (an unhandled
    # IO Error before): the loader takes the line-by-line path.
    write_events(layout, gzip.compress(THREE_EVENTS, mtime=0) + b"\0" * 16, 3)
    (file,) = land(layout, EVENTS).files
    assert (file.status, file.lines_read, file.rows_loaded, file.rows_quarantined) == ("loaded", 3, 3, 0)
    assert raw_rows(layout, "tracking", "events", "event_id") == [("e0",), ("e1",), ("e2",)]


# --- "no value" placeholders outside keys ----------------------------------------------------------------


def test_a_placeholder_in_a_typed_column_outside_a_key_loads_as_null(layout):
    lines = [
        ORDER_HEADER,
        order_line("N1", amount="NULL", confirm_date=DAY),  # amount: a number column
        order_line("N2", amount="450.00", confirm_date="N/A"),  # confirm_date: a date column
        order_line("N3", amount="550.00", confirm_date=DAY).replace("2026-06-01 10:00:00", " none "),
        order_line("N4", amount="600.00", confirm_date=DAY).replace(",app", ",NULL"),  # text: kept
        order_line("NULL", amount="1.00", confirm_date=DAY),  # the key: missing_key
        order_line("N5", amount="n.a.", confirm_date=DAY),  # not a placeholder: bad_number
    ]
    name = f"trade_orders_{YMD}.csv"
    write_day(layout, "trade", DAY, {name: "\n".join(lines) + "\n"}, {name: (6, "1600.00")})
    (file,) = land(layout, ORDERS).files
    assert (file.lines_read, file.rows_loaded, file.rows_quarantined) == (6, 4, 2)
    assert file.quarantined_by_reason == {"missing_key": 1, "bad_number": 1}
    JULY_1, ORDERED = date(2026, 7, 1), datetime(2026, 6, 1, 10)  # noqa: N806
    assert raw_rows(layout, "trade", "trade_orders", "order_id, amount, confirm_date, order_at, channel") == [
        ("N1", None, JULY_1, ORDERED, "app"),
        ("N2", Decimal("450.00"), None, ORDERED, "app"),
        ("N3", Decimal("550.00"), JULY_1, None, "app"),
        ("N4", Decimal("600.00"), JULY_1, ORDERED, "NULL"),
    ]


# --- the manifest's invisible_characters_stripped, as analysts' staging model shows it ----------------------


def test_the_load_manifest_model_shows_the_invisible_characters_stripped(layout):
    lines = [ORDER_HEADER, order_line("V1\u200b", confirm_date=DAY), order_line("\ufeffV2", confirm_date=DAY)]
    name = f"trade_orders_{YMD}.csv"
    write_day(layout, "trade", DAY, {name: "\n".join(lines) + "\n"}, {name: (2, "2000.00")})
    land(layout, ORDERS)
    # The model's SQL, its source() read from this test's raw/ (the source's external_location does that).
    model = Path(__file__).parents[2] / "dbt_project/models/staging/ingest/stg_ingest__load_manifests.sql"
    sql = model.read_text(encoding="utf-8").replace(
        "{{ source('ingest', 'load_manifest') }}",
        "read_parquet($manifests, hive_partitioning = true, union_by_name = true)",
    )
    manifests = str(layout.raw / "ingest" / "load_manifest" / "*" / "*.parquet")
    rows = duckdb.execute(
        f"select file_name, lines_read, invisible_characters_stripped from ({sql})", {"manifests": manifests}
    ).fetchall()
    assert rows == [(name, 2, 2)]
