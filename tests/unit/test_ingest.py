"""Loading delivered files: every line accounted for, bad input quarantined or failing clearly."""

import gzip
import hashlib
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from orchestration.defs.ingest.land import land_table_day, prepare_day
from orchestration.defs.ingest.loader import (
    LoadError,
    parse_file,
    read_file,
    release_parsing_memory,
    scratch_database,
)
from orchestration.lib.layout import DataLayout
from orchestration.lib.rules import JunkRules, load_business_rules
from orchestration.lib.sources import TABLES_BY_KEY

KEY = b"unit-test-key"
JUNK = JunkRules.from_rules(load_business_rules())
ORDERS = TABLES_BY_KEY[("trade", "trade_orders")]
CUSTOMERS = TABLES_BY_KEY[("crm", "customers")]
EVENTS = TABLES_BY_KEY[("tracking", "events")]
ORDER_HEADER = ",".join(ORDERS.column_names)


def order_line(order_id: str, amount: str = "1000.00", confirm_date: str = "2026-06-02") -> str:
    return (
        f"{order_id},FA0000000001,110011,purchase,2026-06-01 10:00:00,{confirm_date},confirmed,"
        f"{amount},990.0990,1.0100,0.00,,,app"
    )


def write_day(layout: DataLayout, source: str, day: str, files: dict[str, str], control: dict | None = None):
    """Write a delivery day; the control file lists ``control`` (name -> (rows, amount)) or all files."""
    folder = layout.landing_day(source, day)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        data = text.encode("utf-8-sig" if source == "crm" else "utf-8")
        (folder / name).write_bytes(gzip.compress(data, mtime=0) if name.endswith(".gz") else data)
    if control is None:
        control = {
            name: (text.count("\n") - (0 if name.endswith(".gz") else 1), "") for name, text in files.items()
        }
    rows = ["file_name,row_count,amount_total"] + [f"{n},{c},{a}" for n, (c, a) in control.items()]
    (folder / f"_control_{day.replace('-', '')}.csv").write_text("\n".join(rows) + "\n")


@pytest.fixture
def layout(tmp_path: Path) -> DataLayout:
    layout = DataLayout.at(tmp_path / "data")
    layout.ensure()
    return layout


def land(layout: DataLayout, spec, day: str):
    return land_table_day(layout, spec, day, KEY, JUNK, max_quarantine_share=0.5)


def raw_rows(layout: DataLayout, source: str, table: str, columns: str = "*") -> list[tuple]:
    pattern = layout.raw_table(source, table) / "*" / "*.parquet"
    return duckdb.sql(
        f"select {columns} from read_parquet(?, hive_partitioning = true) order by all", params=[str(pattern)]
    ).fetchall()


def test_each_kind_of_bad_csv_line_is_quarantined_with_its_reason(layout):
    lines = [
        ORDER_HEADER,
        order_line("O1"),  # 2: good
        order_line("O2") + ",extra",  # 3: wrong column count
        order_line("O3").replace("purchase", '"purchase'),  # 4: unterminated quote
        order_line("O4", amount="12,3a.5").replace("12,3a.5", '"12,3a.5"'),  # 5: bad number
        order_line("O5", confirm_date="2026-02-30"),  # 6: impossible date
        order_line("O6", confirm_date="30/06/2026"),  # 7: wrong date format
        order_line(""),  # 8: no key
        order_line("O7", amount=""),  # 9: good, amount null
        '"O8",FA0000000001,110011,purchase,2026-06-01 10:00:00,2026-06-02,confirmed,"1,000.00",1,1,0,,,app',
    ]
    path = layout.root / "trade_orders_20260602.csv"
    path.write_text("\n".join(lines) + "\n")
    parsed = parse_file(read_file(path, ORDERS), ORDERS, path.name)
    quarantined = {(r["line_number"], r["reason"], r["detail"]) for r in parsed.quarantine.to_pylist()}
    assert quarantined == {
        (3, "wrong_column_count", "15 fields, header has 14"),
        (4, "unterminated_quote", ""),
        (5, "bad_number", "amount"),
        (6, "bad_date", "confirm_date"),
        (7, "bad_date", "confirm_date"),
        (8, "missing_key", "order_id"),
    }
    # line 10: a quoted "1,000.00" is normalised (tests/unit/test_text_hygiene.py)
    assert parsed.rows.column("order_id").to_pylist() == ["O1", "O7", "O8"]
    assert parsed.rows.column("amount").to_pylist() == [Decimal("1000.00"), None, Decimal("1000.00")]
    assert (parsed.lines_read, parsed.rows_loaded, parsed.rows_quarantined) == (9, 3, 6)


def test_an_unterminated_quote_does_not_swallow_the_following_lines(layout):
    path = layout.root / "trade_orders_20260602.csv"
    lines = [ORDER_HEADER, order_line("O1").replace(",app", ',"app'), order_line("O2"), order_line("O3")]
    path.write_text("\n".join(lines) + "\n")
    parsed = parse_file(read_file(path, ORDERS), ORDERS, path.name)
    assert parsed.rows.column("order_id").to_pylist() == ["O2", "O3"]
    assert parsed.quarantine.column("line_number").to_pylist() == [2]


def test_releasing_parsing_memory_closes_the_scratch_database_and_the_next_parse_reopens_it(layout):
    path = layout.root / "trade_orders_20260602.csv"
    path.write_text("\n".join([ORDER_HEADER, order_line("O1"), "O2,not,enough", order_line("O3")]) + "\n")
    before = parse_file(read_file(path, ORDERS), ORDERS, path.name)
    held = scratch_database()
    release_parsing_memory()
    with pytest.raises(duckdb.ConnectionException):
        held.execute("select 1")
    after = parse_file(read_file(path, ORDERS), ORDERS, path.name)
    assert scratch_database() is not held
    assert (
        after.rows.column("order_id").to_pylist()
        == ["O1", "O3"]
        == before.rows.column("order_id").to_pylist()
    )
    assert (
        after.quarantine.column("line_number").to_pylist()
        == [3]
        == before.quarantine.column("line_number").to_pylist()
    )


def test_malformed_json_lines_are_quarantined_and_good_ones_typed(layout):
    good = (
        '{"event_id":"e1","event":"page_view","time":1751245261123,"receive_time":1751245262001,'
        '"anonymous_id":"d1","login_id":null,"properties":{"platform":"ios","amount":null}}'
    )
    lines = [good, good.replace("e1", "e2")[:60], "[1,2]", good.replace("1751245261123", '"soon"'), ""]
    path = layout.root / "events_20260630.jsonl.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))
    parsed = parse_file(read_file(path, EVENTS), EVENTS, path.name)
    assert [(r["line_number"], r["reason"]) for r in parsed.quarantine.to_pylist()] == [
        (2, "malformed_json"),
        (3, "malformed_json"),
        (4, "bad_number"),
        (5, "malformed_json"),
    ]
    assert parsed.rows.column("client_time_ms").to_pylist() == [1751245261123]
    assert parsed.rows.column("platform").to_pylist() == ["ios"]


EVENT_LINE = (
    '{{"event_id":"{id}","event":"page_view","time":1751245261123,"receive_time":1751245262001,'
    '"anonymous_id":"d1","login_id":"U1","properties":{{"platform":"ios","amount":"12.50","phone":{phone}}}}}'
)


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        ("null", "malformed_json"),  # read_json gives a row of nulls for it
        ("", "malformed_json"),  # read_json skips a blank line
        (EVENT_LINE.format(id="x", phone="null") * 2, "malformed_json"),  # two objects on one line
        ('{"event_id":"x","event_id":"y"}', "missing_key"),  # duplicate key: read_json refuses it
        (
            '{"event_id":"x","event":"page_view","properties":"ios"}',
            "missing_key",
        ),  # properties not an object
        # a byte order mark before the object: the careful path strips it and loads the event
        ("\ufeff" + EVENT_LINE.format(id="x", phone="null"), None),
    ],
)
def test_a_clean_file_read_natively_gives_the_rows_of_the_line_by_line_path(layout, bad_line, reason):
    """A clean file is parsed by DuckDB's read_json straight from the file; one unusual line sends the whole
    file the careful way, and the clean lines come out the same either way."""
    clean = [
        EVENT_LINE.format(id=f"e{i}", phone='"138 0013 8000"' if i == 2 else "null") for i in range(1, 4)
    ]
    paths = {}
    for name, lines in (("clean", clean), ("unusual", [*clean[:2], bad_line, clean[2]])):
        paths[name] = layout.root / name / "events_20260630.jsonl.gz"
        paths[name].parent.mkdir()
        paths[name].write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))
    natively = parse_file(read_file(paths["clean"], EVENTS), EVENTS, "events_20260630.jsonl.gz")
    careful = parse_file(read_file(paths["unusual"], EVENTS), EVENTS, "events_20260630.jsonl.gz")
    assert natively.quarantine.num_rows == 0 and natively.lines_read == 3
    assert [(r["line_number"], r["reason"]) for r in careful.quarantine.to_pylist()] == (
        [(3, reason)] if reason else []
    )
    assert careful.lines_read == 4
    expected = natively.rows.to_pylist()
    assert [row["event_id"] for row in expected] == ["e1", "e2", "e3"]
    assert [row["_source_line"] for row in expected] == [1, 2, 3]
    assert [row["phone"] for row in expected] == [None, "138 0013 8000", None]
    assert str(expected[0]["amount"]) == "12.50" and expected[0]["client_time_ms"] == 1751245261123
    # the same values from both paths; only the line numbers after the unusual line differ
    assert [{**row, "_source_line": None} for row in careful.rows.to_pylist() if row["event_id"] != "x"] == [
        {**row, "_source_line": None} for row in expected
    ]


def test_unreadable_files_fail_naming_file_and_place(layout):
    bad_encoding = layout.root / "customers_20260602.csv"
    bad_encoding.write_bytes(",".join(CUSTOMERS.column_names).encode() + b"\nC1,\xd5\xc5\xc8\xfd\n")
    with pytest.raises(
        LoadError, match=r"customers_20260602.csv: unreadable utf-8-sig at byte \d+ \(line 2\)"
    ):
        read_file(bad_encoding, CUSTOMERS)
    bad_event = layout.root / "events_20260603.jsonl.gz"
    bad_event.write_bytes(gzip.compress(b'{"event_id":"e1","event":"\xd5\xc5"}\n', mtime=0))
    with pytest.raises(LoadError, match=r"events_20260603.jsonl.gz: unreadable utf-8 at byte \d+ \(line 1\)"):
        parse_file(read_file(bad_event, EVENTS), EVENTS, bad_event.name)
    not_gzip = layout.root / "events_20260602.jsonl.gz"
    not_gzip.write_text("{}")
    with pytest.raises(LoadError, match="events_20260602.jsonl.gz: not a readable gzip file"):
        read_file(not_gzip, EVENTS)
    missing_column = layout.root / "trade_orders_20260602.csv"
    missing_column.write_text(ORDER_HEADER.replace(",fee", "") + "\n")
    with pytest.raises(LoadError, match="trade_orders_20260602.csv: missing column\\(s\\) fee"):
        parse_file(read_file(missing_column, ORDERS), ORDERS, missing_column.name)


CUSTOMER_HEADER = ",".join(CUSTOMERS.column_names)
CUSTOMER = (
    "C001,张 三,F,1949-12-31,ID_CARD,11010519491231002x,+86 138-0013-8000,Zhang.San@QQ.com,北京,北京,C3,"
    "2026-01-05,verified,2020-03-01,app,2026-06-01 09:00:00"
)


def test_personal_data_is_hashed_before_it_reaches_raw_and_kept_only_in_private(layout):
    write_day(layout, "crm", "2026-06-02", {"customers_20260602.csv": f"{CUSTOMER_HEADER}\n{CUSTOMER}\n"})
    land(layout, CUSTOMERS, "2026-06-02")
    columns = duckdb.sql(
        "describe select * from read_parquet(?)",
        params=[str(layout.raw_table("crm", "customers") / "*" / "*.parquet")],
    ).fetchall()
    names = {c[0] for c in columns}
    assert {"name", "id_number", "mobile", "email"}.isdisjoint(names)
    (row,) = raw_rows(
        layout,
        "crm",
        "customers",
        "phone_hash, is_phone_valid, id_number_hash, is_id_number_valid, id_birth_date, id_gender, "
        "id_region_code, email_domain",
    )
    expected_phone = __import__("hmac").new(KEY, b"13800138000", hashlib.sha256).hexdigest()
    assert row[0] == expected_phone
    assert row[1:] == (True, row[2], True, __import__("datetime").date(1949, 12, 31), "F", "110105", "qq.com")
    private = duckdb.connect(str(layout.private_db), read_only=True)
    assert private.execute("select name, phone, id_number, email from pii_crm__customers").fetchall() == [
        ("张 三", "13800138000", "11010519491231002X", "zhang.san@qq.com")
    ]
    private.close()
    assert layout.private_db.stat().st_mode & 0o777 == 0o600


def test_reloading_a_day_leaves_raw_byte_identical(layout):
    lines = [ORDER_HEADER, order_line("O1"), order_line("O2") + ",x"]
    write_day(
        layout,
        "trade",
        "2026-06-02",
        {"trade_orders_20260602.csv": "\n".join(lines) + "\n"},
        {"trade_orders_20260602.csv": (2, "1000.00")},
    )
    first = land(layout, ORDERS, "2026-06-02")
    snapshot = {p: p.read_bytes() for p in layout.raw.rglob("*.parquet")}
    second = land(layout, ORDERS, "2026-06-02")
    assert [f.status for f in first.files] == ["loaded"]
    assert [f.status for f in second.files] == ["unchanged"]
    assert {p: p.read_bytes() for p in layout.raw.rglob("*.parquet")} == snapshot
    assert len(snapshot) == 4  # data, quarantine, manifest, and the empty identity-link archive of ensure()


def test_duplicate_delivery_is_skipped_and_correction_replaces_rows(layout):
    original = "\n".join([ORDER_HEADER, order_line("O1"), order_line("O2")]) + "\n"
    write_day(
        layout,
        "trade",
        "2026-06-02",
        {"trade_orders_20260602.csv": original, "trade_orders_20260602_resend.csv": original},
        {"trade_orders_20260602.csv": (2, "2000.00")},
    )
    outcome = land(layout, ORDERS, "2026-06-02")
    assert [(f.file_name, f.status, f.duplicate_of) for f in outcome.files] == [
        ("trade_orders_20260602.csv", "loaded", None),
        ("trade_orders_20260602_resend.csv", "duplicate", "trade_orders_20260602.csv"),
    ]
    assert raw_rows(layout, "trade", "trade_orders", "order_id") == [("O1",), ("O2",)]

    corrected = "\n".join([ORDER_HEADER, order_line("O1", amount="1500.00"), order_line("O3")]) + "\n"
    (layout.landing_day("trade", "2026-06-02") / "trade_orders_20260602_resend.csv").unlink()
    write_day(
        layout,
        "trade",
        "2026-06-02",
        {"trade_orders_20260602.csv": corrected},
        {"trade_orders_20260602.csv": (2, "2500.00")},
    )
    outcome = land(layout, ORDERS, "2026-06-02")
    assert [f.status for f in outcome.files] == ["corrected"]
    assert raw_rows(layout, "trade", "trade_orders", "order_id, amount") == [
        ("O1", Decimal("1500.00")),
        ("O3", Decimal("1000.00")),
    ]
    manifest = duckdb.sql(
        "select status, replaced_sha256 is not null from read_parquet(?) where file_name = ?",
        params=[f"{layout.raw}/ingest/load_manifest/*/*.parquet", "trade_orders_20260602.csv"],
    ).fetchall()
    assert manifest == [("corrected", True)]


def test_incomplete_or_unreconciled_day_fails_naming_file_and_difference(layout):
    text = "\n".join([ORDER_HEADER, order_line("O1"), order_line("O2")]) + "\n"
    write_day(
        layout,
        "trade",
        "2026-06-02",
        {"trade_orders_20260602.csv": text},
        {"trade_orders_20260602.csv": (2, "2000.00"), "nav_20260602.csv": (40, "")},
    )
    with pytest.raises(
        LoadError, match="incomplete delivery, listed in the control file but missing: nav_20260602.csv"
    ):
        land(layout, ORDERS, "2026-06-02")

    write_day(
        layout,
        "trade",
        "2026-06-03",
        {"trade_orders_20260603.csv": text},
        {"trade_orders_20260603.csv": (3, "2000.00")},
    )
    with pytest.raises(LoadError, match=r"control file says 3 rows, the file has 2 \(difference -1\)"):
        land(layout, ORDERS, "2026-06-03")

    write_day(
        layout,
        "trade",
        "2026-06-04",
        {"trade_orders_20260604.csv": text},
        {"trade_orders_20260604.csv": (2, "2000.50")},
    )
    with pytest.raises(LoadError, match=r"amount total 2000.50, loaded 2000.00 \(difference -0.50\)"):
        land(layout, ORDERS, "2026-06-04")
    written = [p for p in layout.raw.rglob("*.parquet") if "arrival_date=" in str(p)]
    assert written == [], "a failed day writes nothing"


def test_extra_delivered_columns_are_recorded_in_the_manifest(layout):
    header = ORDER_HEADER + ",promo_code"
    write_day(
        layout,
        "trade",
        "2026-06-02",
        {"trade_orders_20260602.csv": f"{header}\n{order_line('O1')},SPRING\n"},
        {"trade_orders_20260602.csv": (1, "1000.00")},
    )
    land(layout, ORDERS, "2026-06-02")
    (row,) = duckdb.sql(
        "select ignored_columns, rows_loaded from read_parquet(?)",
        params=[f"{layout.raw}/ingest/load_manifest/*/*.parquet"],
    ).fetchall()
    assert row == ("promo_code", 1)


def test_only_events_carrying_personal_data_reach_the_private_store(layout):
    lines = [
        EVENT_LINE.format(id=f"e{i}", phone='"+86 138 0013 8000"' if i == 2 else "null") for i in range(1, 5)
    ]
    write_day(layout, "tracking", "2026-06-30", {"events_20260630.jsonl.gz": "\n".join(lines) + "\n"})
    outcome = land(layout, EVENTS, "2026-06-30")
    assert outcome.rows_loaded == 4
    private = duckdb.connect(str(layout.private_db), read_only=True)
    assert private.execute("select _source_line, phone from pii_tracking__events").fetchall() == [
        (2, "13800138000")
    ]
    private.close()
    assert len(raw_rows(layout, "tracking", "events")) == 4


def test_a_file_parsed_ahead_is_used_only_while_it_is_unchanged(layout):
    day, name = "2026-06-02", "trade_orders_20260602.csv"
    write_day(layout, "trade", day, {name: f"{ORDER_HEADER}\n{order_line('O1')}\n"})
    prepared = prepare_day(layout, ORDERS, day)
    assert list(prepared) == [name] and prepared[name].parsed.rows_loaded == 1
    # re-delivered with a second order before its turn came: the early parse is stale
    write_day(layout, "trade", day, {name: f"{ORDER_HEADER}\n{order_line('O1')}\n{order_line('O2')}\n"})
    outcome = land_table_day(layout, ORDERS, day, KEY, JUNK, max_quarantine_share=0.5, prepared=prepared)
    assert outcome.rows_loaded == 2
    assert sorted(r[0] for r in raw_rows(layout, "trade", "trade_orders", "order_id")) == ["O1", "O2"]
    # a day that cannot be read is left to land_table_day, which names the failure
    broken = layout.landing_day("tracking", day)
    broken.mkdir(parents=True)
    (broken / "events_20260602.jsonl.gz").write_text("not gzip")
    assert prepare_day(layout, EVENTS, day) == {}


def test_file_writer_runs_nothing_after_a_failed_write():
    """A file's manifest row is handed over after its Parquet file: when that write fails, the manifest row
    must not be written, or the retry would skip the file as unchanged."""
    from orchestration.defs.ingest.land import FileWriter

    done: list[str] = []

    def parquet_write() -> None:
        raise OSError("No space left on device")

    with FileWriter() as writer:
        writer.submit(done.append, "first file's manifest row")
        writer.submit(parquet_write)
        writer.submit(done.append, "second file's manifest row")
        with pytest.raises(OSError, match="No space left on device"):
            writer.wait()
    assert done == ["first file's manifest row"]
