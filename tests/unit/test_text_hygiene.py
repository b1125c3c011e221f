"""Text hygiene at ingestion (issue 31): invisible characters, "no value" placeholders in keys, implausible
and future dates, amounts in export formats, and error messages that show what the file holds.

Each case is a small delivery made for it, unlike the demo's data; each asserts the exact rows loaded, the
lines quarantined with their reasons, and lines read = loaded + quarantined.
"""

import copy
import gzip
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from orchestration.defs.ingest.loader import (
    QUARANTINE_REASONS,
    LoadError,
    ParsedFile,
    TextHygiene,
    parse_csv_files,
    parse_file,
    read_file,
    visible,
)
from orchestration.lib.layout import DataLayout
from orchestration.lib.rules import business_rules_overridden, load_business_rules
from orchestration.lib.sources import TABLES_BY_KEY
from tests.unit.test_ingest import CUSTOMER_HEADER, ORDER_HEADER, land, order_line, write_day

ORDERS = TABLES_BY_KEY[("trade", "trade_orders")]
CUSTOMERS = TABLES_BY_KEY[("crm", "customers")]
CONSENTS = TABLES_BY_KEY[("crm", "marketing_consents")]
NAV = TABLES_BY_KEY[("trade", "nav")]
SIPS = TABLES_BY_KEY[("trade", "sip_agreements")]
EVENTS = TABLES_BY_KEY[("tracking", "events")]


@pytest.fixture
def layout(tmp_path: Path) -> DataLayout:
    layout = DataLayout.at(tmp_path / "data")
    layout.ensure()
    return layout


def customer_line(customer_no: str, birth_date: str = "1962-03-04") -> str:
    return (
        f"{customer_no},李四,M,{birth_date},ID_CARD,,,,上海,上海,C2,2026-01-05,verified,2019-07-01,web,"
        "2026-08-10 09:00:00"
    )


def shanghai_ms(text: str) -> int:
    """Epoch milliseconds of a Shanghai wall-clock time ``YYYY-MM-DD HH:MM:SS``."""
    local = datetime.fromisoformat(text).replace(tzinfo=UTC)
    return int(local.timestamp() * 1000) - 8 * 3_600_000


def event(
    event_id: str, *, login_id: object = "U77", time: object = None, receive: str = "2026-08-10 09:00:00"
):
    receive_ms = shanghai_ms(receive)
    return {
        "event_id": event_id,
        "event": "page_view",
        "time": receive_ms - 1500 if time is None else time,
        "receive_time": receive_ms,
        "anonymous_id": "dev-9",
        "login_id": login_id,
        "properties": {"platform": "android", "amount": None},
    }


def write_events(folder, name: str, lines: list[str]):
    path = folder / name
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))
    return path


def parsed_csv(folder, spec, name: str, lines: list[str], encoding: str = "utf-8") -> ParsedFile:
    path = folder / name
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return parse_file(read_file(path, spec), spec, name)


def quarantined(parsed: ParsedFile) -> list[tuple[int, str, str]]:
    return [(r["line_number"], r["reason"], r["detail"]) for r in parsed.quarantine.to_pylist()]


def counts(parsed: ParsedFile) -> tuple[int, int, int]:
    assert parsed.lines_read == parsed.rows_loaded + parsed.rows_quarantined
    return parsed.lines_read, parsed.rows_loaded, parsed.rows_quarantined


def test_a_bom_in_the_middle_of_a_crm_file_is_stripped_from_the_customer_number(layout):
    # Two exports concatenated: the second one's BOM sits at the start of line 4; another inside a field.
    text = "\n".join(
        [
            CUSTOMER_HEADER,
            customer_line("C312004406"),
            customer_line("C312004407\ufeff"),
            "\ufeff" + customer_line("C312004408"),
            customer_line("C3120\u200b04409"),
        ]
    )
    write_day(layout, "crm", "2026-08-10", {"customers_20260810.csv": text + "\n"})
    outcome = land(layout, CUSTOMERS, "2026-08-10")
    (file,) = outcome.files
    assert (file.lines_read, file.rows_loaded, file.rows_quarantined) == (4, 4, 0)
    assert file.invisible_characters_stripped == 3
    pattern = str(layout.raw_table("crm", "customers") / "*" / "*.parquet")
    assert duckdb.execute(
        "select customer_no from read_parquet(?) order by _source_line", [pattern]
    ).fetchall() == [("C312004406",), ("C312004407",), ("C312004408",), ("C312004409",)]
    manifest = str(layout.raw / "ingest" / "load_manifest" / "*" / "*.parquet")
    assert duckdb.execute(
        "select file_name, invisible_characters_stripped from read_parquet(?)", [manifest]
    ).fetchall() == [("customers_20260810.csv", 3)]


@pytest.mark.parametrize("natively", [True, False], ids=["clean file", "file with a malformed line"])
def test_zero_width_characters_in_a_login_id_are_stripped_on_both_json_paths(layout, natively):
    lines = [
        json.dumps(event("e1", login_id="U\u200b77"), ensure_ascii=False),  # written as such
        json.dumps(event("e2", login_id="\u2060U78\u200d")),  # written as JSON escapes
        json.dumps(event("e3", login_id="U79")),
    ]
    if not natively:
        lines.append("{not json")
    path = write_events(layout.root, "events_20260810.jsonl.gz", lines)
    parsed = parse_file(read_file(path, EVENTS), EVENTS, path.name)
    assert parsed.rows.column("login_id").to_pylist() == ["U77", "U78", "U79"]
    assert parsed.invisible_characters_stripped == 3
    assert counts(parsed) == ((3, 3, 0) if natively else (4, 3, 1))


def test_a_bom_before_a_json_object_no_longer_loses_the_event(layout):
    lines = [json.dumps(event("e1")), "\ufeff" + json.dumps(event("e2"))]
    path = write_events(layout.root, "events_20260810.jsonl.gz", lines)
    parsed = parse_file(read_file(path, EVENTS), EVENTS, path.name)
    assert parsed.rows.column("event_id").to_pylist() == ["e1", "e2"]
    assert (counts(parsed), parsed.invisible_characters_stripped) == ((2, 2, 0), 1)


def test_null_placeholders_in_each_kind_of_key_column_are_missing_keys(layout):
    # text key
    orders = parsed_csv(
        layout.root,
        ORDERS,
        "trade_orders_20260810.csv",
        [ORDER_HEADER, order_line("NULL"), order_line(" null "), order_line("None"), order_line("O4")],
    )
    assert quarantined(orders) == [
        (2, "missing_key", "order_id"),
        (3, "missing_key", "order_id"),
        (4, "missing_key", "order_id"),
    ]
    assert orders.rows.column("order_id").to_pylist() == ["O4"]
    # date key
    nav = parsed_csv(
        layout.root,
        NAV,
        "nav_20260810.csv",
        [
            "fund_code,nav_date,nav,accumulated_nav",
            "110011,null,1.2,1.3",
            "110011,2026-08-10,1.2,1.3",
            "N/A,2026-08-10,1,1",
        ],
    )
    assert quarantined(nav) == [(2, "missing_key", "nav_date"), (4, "missing_key", "fund_code")]
    # the second column of a two-column key (CRM, UTF-8 with BOM)
    consents = parsed_csv(
        layout.root,
        CONSENTS,
        "marketing_consents_20260810.csv",
        [
            "customer_no,channel,consent_status,updated_at",
            "C1,sms,granted,",
            "C1,#N/A,granted,",
            "C2,NONE,granted,",
        ],
        encoding="utf-8-sig",
    )
    assert quarantined(consents) == [(3, "missing_key", "channel"), (4, "missing_key", "channel")]
    # integer and text keys of an event
    lines = [
        json.dumps(event("null")),
        json.dumps({**event("e2"), "time": "None"}),
        json.dumps(event("e3")),
        json.dumps({**event("e4"), "event": "NULL"}),
    ]
    path = write_events(layout.root, "events_20260810.jsonl.gz", lines)
    events = parse_file(read_file(path, EVENTS), EVENTS, path.name)
    assert quarantined(events) == [
        (1, "missing_key", "event_id"),
        (2, "missing_key", "client_time_ms"),
        (4, "missing_key", "event_name"),
    ]
    assert [counts(p) for p in (orders, nav, consents, events)] == [
        (4, 1, 3),
        (3, 1, 2),
        (3, 1, 2),
        (4, 1, 3),
    ]


def test_a_placeholder_outside_a_key_is_kept_and_the_list_comes_from_the_rules(layout):
    lines = [ORDER_HEADER, order_line("O1").replace(",app", ",NULL"), order_line("MISSING")]
    project = parsed_csv(layout.root, ORDERS, "trade_orders_20260810.csv", lines)
    assert project.rows.column("channel").to_pylist() == ["NULL", "app"]
    rules = copy.deepcopy(load_business_rules())
    rules["ingest"]["null_placeholders"] = ["missing"]
    with business_rules_overridden(rules):
        company = parsed_csv(layout.root, ORDERS, "trade_orders_20260810.csv", lines)
    assert quarantined(company) == [(3, "missing_key", "order_id")]


def test_a_trade_dated_2099_and_dates_before_the_floor_are_implausible(layout):
    lines = [
        ORDER_HEADER,
        order_line("O1"),
        order_line("O2").replace("2026-06-01 10:00:00", "2099-06-01 10:00:00"),
        order_line("O3", confirm_date="2099-12-31"),
        order_line("O4").replace("2026-06-01 10:00:00", "1900-01-01 00:00:00"),
        order_line("O5", confirm_date="2026-08-11"),  # the day after delivery: within max_future_days
        order_line("O6", confirm_date="2026-08-12"),  # two days after
    ]
    orders = parsed_csv(layout.root, ORDERS, "trade_orders_20260810.csv", lines)
    assert quarantined(orders) == [
        (3, "implausible_date", "order_at"),
        (4, "implausible_date", "confirm_date"),
        (5, "implausible_date", "order_at"),
        (7, "future_date", "confirm_date"),
    ]
    assert orders.rows.column("order_id").to_pylist() == ["O1", "O5"]
    assert counts(orders) == (6, 2, 4)
    customers = parsed_csv(
        layout.root,
        CUSTOMERS,
        "customers_20260810.csv",
        [CUSTOMER_HEADER, customer_line("C1", "1931-05-06"), customer_line("C2", "1899-12-31")],
        encoding="utf-8-sig",
    )
    assert quarantined(customers) == [(3, "implausible_date", "birth_date")]  # 1931: before 1990, a person


def test_columns_allowed_in_the_future_reach_into_the_next_year_only(layout):
    header = ",".join(SIPS.column_names)
    line = "S{n},FA1,110011,500.00,monthly,{start},active,,2026-12-20 10:00:00"
    lines = [header] + [
        line.format(n=n, start=start) for n, start in enumerate(["2027-01-05", "2028-01-05"], 1)
    ]
    sips = parsed_csv(layout.root, SIPS, "sip_agreements_20261220.csv", lines)
    assert sips.rows.column("sip_agreement_id").to_pylist() == ["S1"]
    assert quarantined(sips) == [(3, "implausible_date", "start_date")]


def test_an_event_received_30_days_after_its_delivery_day_is_quarantined(layout):
    lines = [
        json.dumps(event("e1", receive="2026-08-10 23:59:59")),
        json.dumps(event("e2", receive="2026-09-09 10:00:00")),  # 30 days after delivery
        json.dumps(event("e3", receive="2026-08-11 23:00:00")),  # within max_future_days
        # a phone's clock 30 days ahead: flagged downstream as clock_skew, not quarantined here
        json.dumps(event("e4", time=shanghai_ms("2026-09-09 10:00:00"))),
        json.dumps(event("e5", receive="1970-01-01 08:00:00")),  # epoch 0
    ]
    path = write_events(layout.root, "events_20260810.jsonl.gz", lines)
    parsed = parse_file(read_file(path, EVENTS), EVENTS, path.name)
    assert quarantined(parsed) == [
        (2, "future_date", "receive_time_ms"),
        (5, "implausible_date", "receive_time_ms"),
    ]
    assert parsed.rows.column("event_id").to_pylist() == ["e1", "e3", "e4"]
    rules = copy.deepcopy(load_business_rules())
    rules["ingest"]["dates"]["max_future_days"] = 30
    lenient = parse_file(read_file(path, EVENTS), EVENTS, path.name, TextHygiene.from_rules(rules))
    assert quarantined(lenient) == [(5, "implausible_date", "receive_time_ms")]


def test_amounts_with_thousands_separators_and_full_width_digits_load(layout):
    lines = [
        ORDER_HEADER,
        order_line("O1", amount='"1,234.50"'),
        order_line("O2", amount="１２３.４５"),
        order_line("O3", amount='"１，０００．００"'),
        order_line("O4", amount='"1,2345.00"'),  # not grouped by three: still unparseable
        order_line("O5", amount="-５０"),
    ]
    write_day(
        layout,
        "trade",
        "2026-08-10",
        {"trade_orders_20260810.csv": "\n".join(lines) + "\n"},
        {"trade_orders_20260810.csv": (5, "2307.95")},
    )
    (file,) = land(layout, ORDERS, "2026-08-10").files
    assert (file.lines_read, file.rows_loaded, file.rows_quarantined) == (5, 4, 1)
    assert file.quarantined_by_reason == {"bad_number": 1}
    pattern = str(layout.raw_table("trade", "trade_orders") / "*" / "*.parquet")
    assert duckdb.execute(
        "select order_id, amount from read_parquet(?) order by 1", [pattern]
    ).fetchall() == [
        ("O1", Decimal("1234.50")),
        ("O2", Decimal("123.45")),
        ("O3", Decimal("1000.00")),
        ("O5", Decimal("-50.00")),
    ]


def test_a_control_total_difference_names_the_quarantined_lines(layout):
    lines = [ORDER_HEADER, order_line("O1"), order_line("O2", amount="12,3a.5"), order_line("O3")]
    write_day(
        layout,
        "trade",
        "2026-08-10",
        {"trade_orders_20260810.csv": "\n".join(lines) + "\n"},
        {"trade_orders_20260810.csv": (3, "3000.00")},
    )
    with pytest.raises(LoadError) as failure:
        land(layout, ORDERS, "2026-08-10")
    message = str(failure.value)
    assert "wrong_column_count" in message  # the unquoted comma splits the field
    assert message.endswith(
        "(difference -1000.00); quarantined lines: 3 (wrong_column_count 15 fields, header has 14)"
    )


def test_error_messages_show_invisible_characters_escaped(layout):
    header = ORDER_HEADER.replace("order_id", "\ufefforder_no")
    path = layout.root / "trade_orders_20260810.csv"
    path.write_text(header + "\n" + order_line("O1") + "\n")
    with pytest.raises(LoadError) as failure:
        parse_file(read_file(path, ORDERS), ORDERS, path.name)
    assert "missing column(s) order_id (header has: \\ufefforder_no, fund_account_id," in str(failure.value)
    assert "\ufeff" not in str(failure.value)
    assert visible("a\u200bb\x00c 张三") == "a\\u200bb\\x00c 张三"


def test_a_bom_before_a_trade_files_header_is_stripped_and_counted(layout):
    orders = parsed_csv(
        layout.root, ORDERS, "trade_orders_20260810.csv", ["\ufeff" + ORDER_HEADER, order_line("O1")]
    )
    assert orders.rows.column("order_id").to_pylist() == ["O1"]
    assert (counts(orders), orders.invisible_characters_stripped) == ((1, 1, 0), 1)


def test_a_history_import_batch_gives_each_file_the_outcome_parse_file_gives_it(layout):
    days = {
        "trade_orders_20260810.csv": [ORDER_HEADER, order_line("O1\u200b"), order_line("NULL")],
        "trade_orders_20260811.csv": [
            ORDER_HEADER,
            order_line("O2", amount='"1,000.00"'),
            order_line("O3", confirm_date="2099-01-01"),
        ],
    }
    contents = []
    for name, lines in days.items():
        (layout.root / name).write_text("\n".join(lines) + "\n")
        contents.append(read_file(layout.root / name, ORDERS))
    batch = parse_csv_files(contents, ORDERS)
    one_by_one = [parse_file(content, ORDERS, content.path.name) for content in contents]
    for together, alone in zip(batch, one_by_one, strict=True):
        assert together.rows.equals(alone.rows) and together.quarantine.equals(alone.quarantine)
        assert together.invisible_characters_stripped == alone.invisible_characters_stripped
    assert [(quarantined(p), p.invisible_characters_stripped) for p in batch] == [
        ([(3, "missing_key", "order_id")], 1),
        ([(3, "implausible_date", "confirm_date")], 0),
    ]


def test_every_new_reason_is_listed():
    assert {"implausible_date", "future_date"} <= set(QUARANTINE_REASONS)
