"""Erasure at ingestion: tombstoned persons are cut from a delivery before it is loaded, the landing file
and its control entry are rewritten to match, and requests are read strictly."""

import gzip
import json
from datetime import datetime
from decimal import Decimal

import duckdb
import pytest

from orchestration.defs.ingest.land import land_table_day
from orchestration.defs.ingest.loader import LoadError
from orchestration.defs.privacy import erasure
from orchestration.defs.privacy.erasure import ErasureScope
from orchestration.defs.privacy.erasure import purge as erasure_purge
from orchestration.defs.privacy.erasure import scope as erasure_scope
from orchestration.lib import pii
from orchestration.lib.tombstones import (
    Tombstones,
    add_tombstones,
    identity_hash,
    load_tombstones,
    mentions_tombstoned,
    tombstone,
)
from tests.unit.test_ingest import (
    CUSTOMERS,
    EVENTS,
    JUNK,
    KEY,
    ORDER_HEADER,
    ORDERS,
    layout,
    order_line,
    write_day,
)

__all__ = ["layout"]  # the fixture

CUSTOMER_HEADER = ",".join(CUSTOMERS.column_names)


def customer_line(customer_no: str, mobile: str, id_number: str = "") -> str:
    return (
        f"{customer_no},张三,M,1990-01-01,ID_CARD,{id_number},{mobile},x{customer_no}@example.cn,北京,北京,C3,"
        "2026-01-05,verified,2020-03-01,app,2026-06-01 08:00:00"
    )


def write_tombstones(layout, pairs):
    add_tombstones(layout, "R1", pairs, now=datetime(2026, 7, 1))
    return load_tombstones(layout)


def control_row(layout, source, day, name):
    control = layout.landing_day(source, day) / f"_control_{day.replace('-', '')}.csv"
    return next(
        line for line in control.read_text(encoding="utf-8-sig").splitlines() if line.startswith(name)
    )


def test_a_tombstoned_customer_is_cut_from_the_delivery_before_loading(layout):
    lines = [
        customer_line("C1", "13811112222"),
        customer_line("C2", "13833334444"),
        customer_line("C3", "1390000"),
    ]
    write_day(
        layout, "crm", "2026-06-01", {"customers_20260601.csv": "\n".join([CUSTOMER_HEADER, *lines]) + "\n"}
    )
    tombstones = write_tombstones(layout, [("phone", "13833334444")])

    outcome = land_table_day(layout, CUSTOMERS, "2026-06-01", KEY, JUNK, 0.5, tombstones=tombstones)

    assert (outcome.rows_loaded, outcome.rows_erased, [f.status for f in outcome.files]) == (2, 1, ["loaded"])
    landed = (layout.landing_day("crm", "2026-06-01") / "customers_20260601.csv").read_bytes()
    assert landed.startswith(b"\xef\xbb\xbf")  # the CRM's BOM kept
    assert b"13833334444" not in landed and b"C2," not in landed and landed.count(b"\n") == 3
    assert control_row(layout, "crm", "2026-06-01", "customers_20260601.csv") == "customers_20260601.csv,2,"
    customers = layout.raw / "crm" / "customers" / "*" / "*.parquet"
    raw = duckdb.sql(f"select customer_no, _source_line from read_parquet('{customers}') order by 1")
    raw = raw.fetchall()
    assert raw == [("C1", 2), ("C3", 3)]  # line numbers of the rewritten file
    con = duckdb.connect(str(layout.private_db), read_only=True)
    phones = con.execute("select phone from pii_crm__customers order by 1").fetchall()
    assert phones == [("13811112222",), ("1390000",)]
    con.close()


def test_reloading_a_loaded_file_with_a_new_tombstone_redacts_it(layout):
    text = "\n".join(
        [ORDER_HEADER, order_line("O1"), order_line("O2", "250.50").replace("FA0000000001", "FA2")]
    )
    write_day(
        layout,
        "trade",
        "2026-06-02",
        {"trade_orders_20260602.csv": text + "\n"},
        {"trade_orders_20260602.csv": (2, "1250.50")},
    )
    assert land_table_day(layout, ORDERS, "2026-06-02", KEY, JUNK, 0.5).rows_loaded == 2
    tombstones = write_tombstones(layout, [("fund_account_id", "FA2")])

    again = land_table_day(layout, ORDERS, "2026-06-02", KEY, JUNK, 0.5, tombstones=tombstones)
    assert [(f.status, f.rows_loaded, f.rows_erased) for f in again.files] == [("unchanged", 2, 0)]

    reloaded = land_table_day(
        layout, ORDERS, "2026-06-02", KEY, JUNK, 0.5, tombstones=tombstones,
        reload_files=frozenset({"trade_orders_20260602.csv"}),
    )  # fmt: skip
    assert [(f.status, f.rows_loaded, f.rows_erased) for f in reloaded.files] == [("redacted", 1, 1)]
    assert control_row(layout, "trade", "2026-06-02", "trade_orders_20260602.csv") == (
        "trade_orders_20260602.csv,1,1000.00"
    )
    manifest = duckdb.sql(
        f"select status, rows_loaded, amount_loaded, replaced_sha256 is not null "
        f"from read_parquet('{layout.raw}/ingest/load_manifest/*/*.parquet')"
    ).fetchall()
    assert manifest == [("redacted", 1, Decimal("1000.00"), True)]
    # Loading again changes nothing: the redacted file is the loaded one.
    assert [f.status for f in land_table_day(layout, ORDERS, "2026-06-02", KEY, JUNK, 0.5).files] == [
        "unchanged"
    ]


# 2026-06-03 10:00 Asia/Shanghai: a receive time on the delivery day (an epoch near 0 is an implausible date).
AT_MS = 1_780_452_000_000


def test_a_tombstoned_device_erases_only_its_anonymous_events(layout):
    events = [
        {
            "event_id": "e1",
            "event": "page_view",
            "time": AT_MS,
            "receive_time": AT_MS + 1000,
            "anonymous_id": "D1",
            "login_id": None,
        },
        {
            "event_id": "e2",
            "event": "page_view",
            "time": AT_MS,
            "receive_time": AT_MS + 1000,
            "anonymous_id": "D1",
            "login_id": "U2",
        },
        {
            "event_id": "e3",
            "event": "page_view",
            "time": AT_MS,
            "receive_time": AT_MS + 1000,
            "anonymous_id": "D2",
            "login_id": None,
        },
    ]
    text = "".join(json.dumps(e) + "\n" for e in events)
    write_day(layout, "tracking", "2026-06-03", {"events_20260603.jsonl.gz": text})
    tombstones = write_tombstones(layout, [("anonymous_id", "D1")])

    outcome = land_table_day(layout, EVENTS, "2026-06-03", KEY, JUNK, 0.5, tombstones=tombstones)

    assert outcome.rows_erased == 1
    landed = gzip.decompress(
        (layout.landing_day("tracking", "2026-06-03") / "events_20260603.jsonl.gz").read_bytes()
    )
    assert [json.loads(line)["event_id"] for line in landed.decode().splitlines()] == ["e2", "e3"]


def test_tombstones_equal_no_stored_hash_and_keep_their_secret(layout):
    tombstones = write_tombstones(layout, [("phone", "13833334444")])
    [value] = tombstones.values
    assert value != pii.keyed_hash(KEY, "13833334444") and len(tombstones.secret) == 32
    assert tombstones.covers("phone", "13833334444") and not tombstones.covers("login_id", "13833334444")
    # A second request reuses the secret: earlier tombstones stay valid.
    assert write_tombstones(layout, [("customer_no", "C1")]).covers("phone", "13833334444")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("request_id,identifier_type,identifier_value\nR1,phone,138\n", r"lacks column\(s\) requested_at"),
        (
            "request_id,identifier_type,identifier_value,requested_at\nR1,name,x,2026-07-01 10:00:00\n",
            "line 2",
        ),
        (
            "request_id,identifier_type,identifier_value,requested_at\nR1,phone,,2026-07-01 10:00:00\n",
            "required",
        ),
        (
            "request_id,identifier_type,identifier_value,requested_at\nR1,phone,138,yesterday\n",
            "not a timestamp",
        ),
    ],
)
def test_a_malformed_request_file_is_refused_with_its_line(layout, content, message):
    folder = erasure.requests_dir(layout)
    folder.mkdir(parents=True)
    (folder / "bad.csv").write_text(content, encoding="utf-8")
    with pytest.raises(LoadError, match=message):
        erasure.read_requests(layout)


def test_a_submitted_request_is_read_back_and_private_to_its_owner(layout):
    request = erasure.submit_request(layout, "customer_no", "C1", "DR1")
    assert request.path.stat().st_mode & 0o777 == 0o600
    [read] = erasure.read_requests(layout)
    assert (read.request_id, read.identifier_type, read.identifier_value) == ("DR1", "customer_no", "C1")


def test_derived_rows_are_matched_by_person_id_system_id_and_hash():
    scope = ErasureScope(person_ids={"P1"})
    scope.add("customer_no", identity_hash("customer_no", "C1"))
    scope.add("phone", "ab" * 32)
    con = duckdb.connect()
    erasure_scope.register_ids(con, scope)
    erasure_purge._register_persons(con, scope)
    con.execute(
        "create table t as select * from (values ('P1', 'C9', null), ('P2', 'C1', null), ('P3', 'C9', ?), "
        "('P4', 'C9', 'cd')) as v(old_person_id, customer_no, phone_hash)",
        ["ab" * 32],
    )
    columns = {"old_person_id": "VARCHAR", "customer_no": "VARCHAR", "phone_hash": "VARCHAR"}
    predicate = erasure_purge._derived_predicate(columns, scope)
    kept = con.execute(f"select old_person_id from t where not ({predicate})").fetchall()
    assert kept == [("P4",)]


def test_a_phone_other_customers_also_carry_is_neither_erased_nor_tombstoned(layout):
    """A family phone on C1's and C2's records: erasing C1 keeps the phone (it is C2's too)."""
    lines = [
        customer_line("C1", "13811112222"),
        customer_line("C2", "13811112222"),
        customer_line("C3", "13899990000"),
    ]
    write_day(
        layout, "crm", "2026-06-01", {"customers_20260601.csv": "\n".join([CUSTOMER_HEADER, *lines]) + "\n"}
    )
    land_table_day(layout, CUSTOMERS, "2026-06-01", KEY, JUNK, 0.5)
    scope = ErasureScope()
    scope.add("customer_no", identity_hash("customer_no", "C1"))
    scope.add("phone", pii.keyed_hash(KEY, "13811112222"))  # as the identity graph may assign it to C1
    scope.add("customer_no", identity_hash("customer_no", "C3"))
    scope.add("phone", pii.keyed_hash(KEY, "13899990000"))
    con = duckdb.connect()
    erasure_scope._drop_shared_identifiers(layout, con, scope)
    assert scope.hashes["phone"] == {pii.keyed_hash(KEY, "13899990000")}
    # What gets tombstoned: the customer numbers, and only the phone that is theirs alone.
    assert erasure.clear_identifiers(layout, scope) == {
        ("customer_no", "C1"), ("customer_no", "C3"), ("phone", "13899990000"),
    }  # fmt: skip


def event_line(event_id: str, login_id: str, phone: str | None = None) -> str:
    properties = {"platform": "ios"} | ({"phone": phone} if phone else {})
    return json.dumps(
        {"event_id": event_id, "event": "page_view", "time": 1782777600000, "receive_time": 1782777601000,
         "anonymous_id": f"d-{event_id}", "login_id": login_id, "properties": properties},
    )  # fmt: skip


def private_rows(layout, sql):
    con = duckdb.connect(str(layout.private_db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_quarantined_line_with_a_tombstoned_identifier_is_cut_when_its_file_is_reloaded(layout):
    """A malformed tracking line carrying the person's phone (written with spaces) is quarantined at the
    first load; once the phone is tombstoned, the reload of its file cuts the line from the landing file,
    its control entry and quarantined_lines, and read = loaded + quarantined still holds."""
    day, name = "2026-06-30", "events_20260630.jsonl.gz"
    malformed = event_line("e2", "U2", "+86 138 3333 4444")[:-12]  # cut short: not JSON
    lines = [event_line("e1", "U1"), malformed, event_line("e3", "U3"), '{"event_id": "e4", broken U1']
    write_day(layout, "tracking", day, {name: "\n".join(lines) + "\n"})
    first = land_table_day(layout, EVENTS, day, KEY, JUNK, 0.9)
    assert [(f.lines_read, f.rows_loaded, f.rows_quarantined) for f in first.files] == [(4, 2, 2)]
    assert private_rows(layout, "select line_number from quarantined_lines order by 1") == [(2,), (4,)]

    tombstones = write_tombstones(layout, [("phone", "13833334444"), ("login_id", "U2")])
    assert erasure.quarantined_files(layout, tombstones) == {("tracking", "events", day, name)}
    again = land_table_day(
        layout, EVENTS, day, KEY, JUNK, 0.9, tombstones=tombstones, reload_files=frozenset({name})
    )
    [outcome] = again.files
    assert (outcome.status, outcome.lines_read, outcome.rows_loaded, outcome.rows_quarantined) == (
        "redacted", 3, 2, 1,
    )  # fmt: skip
    assert outcome.rows_erased == 1
    landed = gzip.decompress((layout.landing_day("tracking", day) / name).read_bytes())
    assert b"3333 4444" not in landed and b"U2" not in landed and landed.count(b"\n") == 3
    assert control_row(layout, "tracking", day, name) == f"{name},3,"
    assert private_rows(layout, "select line_number, line_text from quarantined_lines") == [
        (3, '{"event_id": "e4", broken U1')
    ]
    # A second load of the rewritten file brings nothing back.
    third = land_table_day(layout, EVENTS, day, KEY, JUNK, 0.9, tombstones=tombstones)
    assert [f.status for f in third.files] == ["unchanged"]
    assert private_rows(layout, "select count(*) from quarantined_lines") == [(1,)]


def test_line_text_matching_finds_identifiers_in_any_written_form():
    tombstones = Tombstones(
        b"s",
        frozenset(
            tombstone(b"s", kind, value)
            for kind, value in (
                ("phone", "13833334444"),
                ("id_number", "11010519491231002X"),
                ("email", "a.b@x.cn"),
                ("login_id", "U2"),
            )
        ),  # fmt: skip
    )
    for text in ('{"p":"+86 138-3333-4444"', "x,11010519491231002x,y", "mailto:A.B@X.CN", "url=/a?u=U2&b=1"):
        assert mentions_tombstoned(text, tombstones), text
    for text in ('{"p":"13833334445"', "U22,U3", "a.b@x.cn.evil"):
        assert not mentions_tombstoned(text, tombstones), text


def test_honouring_a_request_cleans_deliveries_never_loaded(layout):
    """A loaded CRM day; a later day that never loaded (its
    control file lists a file that is missing) with the person's row, and a stray file named with a quote
    holding it too. The person's lines go from all three, other lines stay, nothing of theirs is left in
    raw/ or private.duckdb, and the log counts the lines cut from files never loaded."""
    from orchestration.defs.privacy.step import honour
    from orchestration.lib.rules import load_business_rules

    person, other = customer_line("C2", "13833334444"), customer_line("C1", "13811112222")
    name = "customers_20260601.csv"
    write_day(layout, "crm", "2026-06-01", {name: "\n".join([CUSTOMER_HEADER, other, person]) + "\n"})
    assert land_table_day(layout, CUSTOMERS, "2026-06-01", KEY, JUNK, 0.5).rows_loaded == 2
    later = customer_line("C2", "138 3333 4444").replace("2026-06-01 08:00:00", "2026-06-02 08:00:00")
    kept = customer_line("C3", "13899990000")
    write_day(
        layout, "crm", "2026-06-02",
        {"customers_20260602.csv": "\n".join([CUSTOMER_HEADER, later, kept]) + "\n",
         "customers_20260602_it's.csv": "\n".join([CUSTOMER_HEADER, kept, person]) + "\n"},
        {"customers_20260602.csv": (2, ""), "bank_cards_20260602.csv": (0, "")},
    )  # fmt: skip
    with pytest.raises(LoadError):
        land_table_day(layout, CUSTOMERS, "2026-06-02", KEY, JUNK, 0.5)

    # By customer number: without a warehouse to resolve the person, a phone alone is not known to be theirs.
    request = erasure.submit_request(layout, "customer_no", "C2", "DR-Q1", datetime(2026, 7, 1))
    row = honour(layout, KEY, request, load_business_rules(), datetime(2026, 7, 1, 9))

    assert (row["landing_files_rewritten"], row["raw_rows_removed"], row["unloaded_lines_removed"]) == (
        3,
        1,
        2,
    )
    texts = {
        path.name: path.read_text(encoding="utf-8-sig").splitlines()
        for path in layout.landing.glob("crm/*/customers_*.csv")
    }
    assert texts == {
        name: [CUSTOMER_HEADER, other],
        "customers_20260602.csv": [CUSTOMER_HEADER, kept],
        "customers_20260602_it's.csv": [CUSTOMER_HEADER, kept],
    }
    assert control_row(layout, "crm", "2026-06-02", "customers_20260602.csv") == "customers_20260602.csv,1,"
    raw = layout.raw_partition("crm", "customers", "2026-06-01") / "customers_20260601.parquet"
    assert duckdb.sql("select customer_no from read_parquet(?)", params=[str(raw)]).fetchall() == [("C1",)]
    assert private_rows(layout, "select phone from pii_crm__customers") == [("13811112222",)]
    [logged] = erasure.read_log(layout)
    assert (logged["request_id"], logged["unloaded_lines_removed"]) == ("DR-Q1", 2)


def test_a_day_that_no_longer_loads_still_loses_the_persons_lines_in_landing(layout):
    """A loaded CRM day beside which an old-pattern copy (``customers_<day>-resend.csv``) was dropped
    later: the day no longer loads as a whole (the name is refused), so the erasure cannot reload it. The
    person's lines still leave both landing files, their rows leave raw/, and the log says one day could
    not be reloaded, with the lines cut from it (a count, never the identifier)."""
    from orchestration.defs.privacy.step import honour
    from orchestration.lib.rules import load_business_rules
    from tests.privacy_scan import files_holding

    day, name, stray = "2026-06-01", "customers_20260601.csv", "customers_20260601-resend.csv"
    person, other = (
        customer_line("C2", "13833334444", "11010519491231002X"),
        customer_line("C1", "13811112222"),
    )
    write_day(layout, "crm", day, {name: "\n".join([CUSTOMER_HEADER, other, person]) + "\n"})
    assert land_table_day(layout, CUSTOMERS, day, KEY, JUNK, 0.5).rows_loaded == 2
    (layout.landing_day("crm", day) / stray).write_bytes(
        "\n".join([CUSTOMER_HEADER, person, other]).encode("utf-8-sig") + b"\n"
    )
    with pytest.raises(LoadError, match="resend"):
        land_table_day(layout, CUSTOMERS, day, KEY, JUNK, 0.5)
    needles = ["13833334444", "11010519491231002X", "xC2@example.cn"]
    assert files_holding(layout.landing, needles) == sorted([f"crm/{day}/{name}", f"crm/{day}/{stray}"])

    request = erasure.submit_request(layout, "customer_no", "C2", "DR-S1", datetime(2026, 7, 1))
    row = honour(layout, KEY, request, load_business_rules(), datetime(2026, 7, 1, 9))

    assert files_holding(layout.landing, needles) == []
    texts = {
        path.name: path.read_text(encoding="utf-8-sig").splitlines()
        for path in layout.landing_day("crm", day).glob("customers_*.csv")
    }
    assert texts == {name: [CUSTOMER_HEADER, other], stray: [CUSTOMER_HEADER, other]}
    assert control_row(layout, "crm", day, name) == f"{name},1,"
    raw = layout.raw_partition("crm", "customers", day) / "customers_20260601.parquet"
    assert duckdb.sql("select customer_no from read_parquet(?)", params=[str(raw)]).fetchall() == [("C1",)]
    assert private_rows(layout, "select phone from pii_crm__customers") == [("13811112222",)]
    [logged] = erasure.read_log(layout)
    counts = (
        "landing_files_rewritten", "raw_rows_removed", "unloaded_lines_removed", "days_not_reloaded",
        "not_reloaded_lines_removed",
    )  # fmt: skip
    expected = (2, 1, 1, 1, 1)  # both files; the loaded row; the stray copy's line; the day; its file's line
    assert tuple(row[c] for c in counts) == tuple(logged[c] for c in counts) == expected
    assert "C2" not in json.dumps({k: str(v) for k, v in logged.items() if k != "request_id"})


def test_a_raw_file_named_with_a_quote_is_purged_without_its_landing_copy(layout):
    """raw/ rows of a file whose name holds a quote (loaded before file names were checked), its landing
    copy gone: the person's rows leave the Parquet file and private.duckdb."""
    lines = [customer_line("C1", "13811112222"), customer_line("C2", "13833334444")]
    write_day(
        layout, "crm", "2026-06-01", {"customers_20260601.csv": "\n".join([CUSTOMER_HEADER, *lines]) + "\n"}
    )
    land_table_day(layout, CUSTOMERS, "2026-06-01", KEY, JUNK, 0.5)
    folder = layout.raw_partition("crm", "customers", "2026-06-01")
    quoted = "customers_20260601_it's.csv"
    con = duckdb.connect()
    con.execute(
        "copy (select * replace (? as _source_file) from read_parquet(?)) to ? (format parquet)",
        [quoted, str(folder / "customers_20260601.parquet"), str(folder / "customers_20260601_it's.parquet")],
    )
    (folder / "customers_20260601.parquet").unlink()
    private = duckdb.connect(str(layout.private_db))
    private.execute("update pii_crm__customers set _source_file = ?", [quoted])
    private.close()
    scope = ErasureScope()
    scope.add("customer_no", identity_hash("customer_no", "C2"))
    assert erasure.affected_files(layout, scope) == {("crm", "customers"): {"2026-06-01": {quoted}}}
    assert erasure.purge_raw_without_landing(layout, scope, ("crm", "customers"), "2026-06-01", quoted) == 1
    left = con.execute("select customer_no from read_parquet(?)", [str(folder / "*.parquet")]).fetchall()
    assert left == [("C1",)]
    assert private_rows(layout, "select phone, _source_file from pii_crm__customers") == [
        ("13811112222", quoted)
    ]


@pytest.mark.parametrize(
    "request_id", ["../../../../tmp/x", "a/b", "..", "a..b", ".hidden", "x" * 65, "DR 1", "DR\n1", ""]
)
def test_a_request_id_outside_the_pattern_is_refused_and_nothing_is_written(layout, request_id):
    with pytest.raises(ValueError, match="request id"):
        erasure.submit_request(layout, "phone", "13833334444", request_id or "'")
    assert not erasure.requests_dir(layout).exists()
    folder = erasure.requests_dir(layout)
    folder.mkdir(parents=True)
    (folder / "from-crm.csv").write_text(
        f'request_id,identifier_type,identifier_value,requested_at\n"{request_id}",phone,13833334444,'
        "2026-07-01 09:00:00\n",
        encoding="utf-8",
    )
    message = "required" if not request_id.strip() else "from-crm.csv: line 2: request refused: a request id"
    with pytest.raises(LoadError, match=message):
        erasure.read_requests(layout)


def test_a_request_id_inside_the_pattern_is_accepted(layout):
    for request_id in ("DR-2026-0042", "a", "R_1.v2", "x" * 64):
        assert (
            erasure.submit_request(layout, "phone", "13833334444", request_id).path.name
            == f"{request_id}.csv"
        )


def test_exports_are_rewritten_without_the_person_file_after_file(tmp_path):
    """Several exports, the first holding nobody of theirs (its count query must not block the next file's
    read), one in a folder whose name holds a quote."""
    folder = tmp_path / "outbox" / "it's" / "v0001"
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text("person_id,customer_no\nP9,C9\n")
    (folder / "b.csv").write_text("person_id,customer_no\nP1,C1\nP2,C2\n")
    duckdb.execute(
        "copy (select 'P1' as person_id union all select 'P3') to ? (format parquet)",
        [str(folder / "m.parquet")],
    )
    scope = ErasureScope(person_ids={"P1"})
    assert erasure.purge_exports(tmp_path / "outbox", scope) == 2
    assert (folder / "a.csv").read_text() == "person_id,customer_no\nP9,C9\n"
    assert (folder / "b.csv").read_text() == "person_id,customer_no\nP2,C2\n"
    assert duckdb.execute("select * from read_parquet(?)", [str(folder / "m.parquet")]).fetchall() == [
        ("P3",)
    ]
