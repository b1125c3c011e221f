"""The demo source generator: contract of landing/, determinism, consistency and the dirt truth.

One small dirty dataset and one clean dataset are generated per module and shared by the tests.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import re
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pyarrow as pa
import pytest

import demo_sources.generate as generator
from demo_sources.config import DirtConfig
from demo_sources.files import concat_bytes
from demo_sources.generate import generate, main
from orchestration.lib.layout import DEMO_MARKER, DEMO_TRUTH_ENV, demo_truth_dir

CUSTOMERS = 300
DAYS = 35
END = date(2026, 6, 30)
TABLES = {
    "trade": {"fund_products", "fund_accounts", "trade_orders", "sip_agreements", "nav", "holdings"},
    "crm": {"customers", "bank_cards", "marketing_consents"},
    "tracking": {"events"},
}
AMOUNT_TABLES = {"trade_orders", "sip_agreements"}
UNPARSEABLE = {"malformed_json", "wrong_column_count", "unterminated_quote", "bad_number", "bad_date"}
FILE_NAME = re.compile(
    r"^(?P<source>trade|crm|tracking)/(?P<day>\d{4}-\d{2}-\d{2})/"
    r"(?:_control_(?P<control_ymd>\d{8})\.csv|(?P<table>[a-z_]+?)_(?P<ymd>\d{8})(?P<suffix>_[a-z]+)?"
    r"\.(?P<ext>csv|jsonl\.gz))$"
)
ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


@pytest.fixture(scope="module")
def dirty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("dirty")
    generate(data_dir, customers=CUSTOMERS, seed=7, end_date=END, days=DAYS)
    return data_dir


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("clean")
    generate(data_dir, customers=CUSTOMERS, seed=7, end_date=END, days=DAYS, dirt=DirtConfig.none())
    return data_dir


# --- helpers ------------------------------------------------------------------------------------------


def landing_files(data_dir: Path) -> list[str]:
    """The delivered files (the demo marker is not a delivery)."""
    landing = data_dir / "landing"
    return sorted(
        p.relative_to(landing).as_posix() for p in landing.rglob("*") if p.is_file() and p.name != DEMO_MARKER
    )


def file_hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def defects(data_dir: Path) -> list[dict[str, str]]:
    with open(demo_truth_dir(data_dir) / "defects.csv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def defect_lines(data_dir: Path, kinds: set[str] | None = None) -> dict[str, dict[int, str]]:
    """file -> {line: kind} of line-level defects (optionally of some kinds only)."""
    out: dict[str, dict[int, str]] = defaultdict(dict)
    for d in defects(data_dir):
        if d["line"] and (kinds is None or d["kind"] in kinds):
            out[d["file"]][int(d["line"])] = d["kind"]
    return out


def csv_lines(path: Path) -> list[str]:
    """Physical lines of a CSV file (BOM stripped); lines[0] is the header (line 1)."""
    text = path.read_bytes().decode("utf-8-sig")
    assert text.endswith("\n")
    return text[:-1].split("\n")


def table_rows(data_dir: Path, source: str, table: str) -> list[tuple[str, int, dict[str, str]]]:
    """(file, line, row) of every parseable, not-junk data line of a table, re-sent copies excluded."""
    junk = defect_lines(data_dir, UNPARSEABLE)
    out = []
    for rel in landing_files(data_dir):
        match = FILE_NAME.match(rel)
        if not match or match["source"] != source or match["table"] != table or match["suffix"]:
            continue
        lines = csv_lines(data_dir / "landing" / rel)
        header = lines[0].split(",")
        for number, line in enumerate(lines[1:], start=2):
            if number not in junk[rel]:
                out.append((rel, number, dict(zip(header, next(csv.reader([line])), strict=True))))
    return out


def events(data_dir: Path) -> list[tuple[str, int, dict | None]]:
    """(file, line, event or None when the line is not JSON) of every tracking line."""
    out = []
    for rel in landing_files(data_dir):
        if rel.endswith(".jsonl.gz"):
            text = gzip.decompress((data_dir / "landing" / rel).read_bytes()).decode("utf-8")
            for number, line in enumerate(text.splitlines(), start=1):
                try:
                    out.append((rel, number, json.loads(line)))
                except json.JSONDecodeError:
                    out.append((rel, number, None))
    return out


def id_check_char(first17: str) -> str:
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


# --- determinism --------------------------------------------------------------------------------------


def test_same_arguments_give_byte_identical_files_and_another_seed_differs(
    dirty: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again"
    generate(again, customers=CUSTOMERS, seed=7, end_date=END, days=DAYS)
    other = tmp_path / "other"
    generate(other, customers=CUSTOMERS, seed=8, end_date=END, days=DAYS)

    truths = {name: file_hashes(demo_truth_dir(d)) for name, d in (("dirty", dirty), ("again", again))}
    first = file_hashes(dirty) | {f"truth/{k}": v for k, v in truths["dirty"].items()}
    second = file_hashes(again) | {f"truth/{k}": v for k, v in truths["again"].items()}
    assert len(first) > 400
    assert first == second
    different = file_hashes(other) | {f"truth/{k}": v for k, v in file_hashes(demo_truth_dir(other)).items()}
    for rel in [
        "landing/tracking/2026-06-30/events_20260630.jsonl.gz",
        "landing/crm/2026-05-27/customers_20260527.csv",
        "landing/DEMO_SOURCES.json",
        "truth/defects.csv",
    ]:
        assert first[rel] != different[rel], rel


def test_gzip_files_carry_no_timestamp_or_file_name(dirty: Path) -> None:
    path = dirty / "landing" / "tracking" / "2026-06-01" / "events_20260601.jsonl.gz"
    header = path.read_bytes()[:10]
    assert header[:3] == b"\x1f\x8b\x08"
    assert header[3] == 0  # FLG: no FNAME, no comment
    assert header[4:8] == b"\x00\x00\x00\x00"  # MTIME


# --- layout and contract ------------------------------------------------------------------------------


def test_every_landing_file_name_follows_the_contract(dirty: Path) -> None:
    names = landing_files(dirty)
    for rel in names:
        match = FILE_NAME.match(rel)
        assert match, rel
        folder_ymd = match["day"].replace("-", "")
        assert (match["control_ymd"] or match["ymd"]) == folder_ymd, rel
        if match["table"]:
            assert match["table"] in TABLES[match["source"]], rel
            assert match["ext"] == ("jsonl.gz" if match["source"] == "tracking" else "csv"), rel
            assert match["suffix"] in (None, "_resend"), rel
    resent = [n for n in names if "_resend" in n]
    assert len(resent) == DirtConfig().duplicate_file


def test_every_table_is_delivered_every_day_except_the_incomplete_day_file(dirty: Path) -> None:
    present = set(landing_files(dirty))
    (missing,) = [d["file"] for d in defects(dirty) if d["kind"] == "incomplete_day"]
    assert missing.endswith(".csv") and missing not in present
    assert missing.split("/")[1] != END.isoformat()
    for offset in range(DAYS):
        day = END - timedelta(days=offset)
        for source, tables in TABLES.items():
            ext = "jsonl.gz" if source == "tracking" else "csv"
            expected = {f"{source}/{day.isoformat()}/{t}_{day:%Y%m%d}.{ext}" for t in tables}
            expected.add(f"{source}/{day.isoformat()}/_control_{day:%Y%m%d}.csv")
            assert expected - present == ({missing} if missing in expected else set()), (source, day)


def test_csv_encodings_crm_with_bom_trade_without(dirty: Path) -> None:
    for rel in landing_files(dirty):
        if rel.endswith(".csv"):
            has_bom = (dirty / "landing" / rel).read_bytes().startswith(b"\xef\xbb\xbf")
            assert has_bom == rel.startswith("crm/"), rel


def test_csv_rows_have_the_header_column_count_except_documented_junk(dirty: Path) -> None:
    documented = defect_lines(dirty, {"wrong_column_count", "unterminated_quote"})
    found: dict[str, set[int]] = defaultdict(set)
    checked = 0
    for rel in landing_files(dirty):
        if not rel.endswith(".csv") or "_control_" in rel:
            continue
        lines = csv_lines(dirty / "landing" / rel)
        width = len(lines[0].split(","))
        for number, line in enumerate(lines[1:], start=2):
            checked += 1
            try:
                ok = len(next(csv.reader([line], strict=True))) == width
            except csv.Error:
                ok = False
            if not ok:
                found[rel].add(number)
    expected = {rel: set(lines) for rel, lines in documented.items()}
    for resend in (d["file"] for d in defects(dirty) if d["kind"] == "duplicate_file"):
        if resend.replace("_resend", "") in expected:  # a re-sent copy carries its original's junk lines
            expected[resend] = expected[resend.replace("_resend", "")]
    assert checked > 5_000
    assert sum(len(lines) for lines in expected.values()) >= 4
    assert found == expected


def test_crm_id_numbers_have_valid_check_digits_except_documented_ones(dirty: Path) -> None:
    documented = defect_lines(dirty, {"bad_id_check_digit", "junk_identifier"})
    bad_lines, valid = set(), 0
    for rel, line, row in table_rows(dirty, "crm", "customers"):
        number = row["id_number"]
        if row["id_type"] != "ID_CARD" or documented[rel].get(line) == "junk_identifier":
            continue
        assert re.fullmatch(r"\d{17}[\dX]", number), (rel, line)
        if id_check_char(number[:17]) != number[17]:
            bad_lines.add((rel, line))
            continue
        valid += 1
        assert number[6:14] == row["birth_date"].replace("-", ""), (rel, line)
        assert (int(number[16]) % 2 == 1) == (row["gender"] == "M"), (rel, line)
    expected = {
        (f, n) for f, lines in documented.items() for n, k in lines.items() if k == "bad_id_check_digit"
    }
    assert expected and bad_lines == expected
    assert valid > CUSTOMERS


def test_mobiles_are_eleven_digits_unless_documented_noise_or_junk(dirty: Path) -> None:
    documented = defect_lines(dirty, {"phone_noise", "junk_identifier"})
    noisy = 0
    for rel, line, row in table_rows(dirty, "crm", "customers"):
        if line in documented[rel]:
            noisy += documented[rel][line] == "phone_noise"
            continue
        assert re.fullmatch(r"1[3-9]\d{9}", row["mobile"]), (rel, line, row["mobile"])
    assert noisy > 0


def test_control_files_count_physical_lines_and_sum_real_amounts(dirty: Path) -> None:
    junk = defect_lines(dirty, UNPARSEABLE)
    missing = {d["file"] for d in defects(dirty) if d["kind"] == "incomplete_day"}
    listed = 0
    for rel in landing_files(dirty):
        if "_control_" not in rel:
            continue
        folder = rel.rsplit("/", 1)[0]
        with open(dirty / "landing" / rel, encoding="utf-8-sig", newline="") as handle:
            entries = list(csv.DictReader(handle))
        names = {e["file_name"] for e in entries}
        data_files = {
            p.name for p in (dirty / "landing" / folder).iterdir() if not p.name.startswith("_control")
        }
        assert names | {n for n in data_files if "_resend" in n} >= data_files, rel
        for entry in entries:
            path = f"{folder}/{entry['file_name']}"
            if path in missing:
                continue
            listed += 1
            if path.endswith(".gz"):
                lines = gzip.decompress((dirty / "landing" / path).read_bytes()).decode().splitlines()
                assert int(entry["row_count"]) == len(lines), path
                assert entry["amount_total"] == ""
                continue
            lines = csv_lines(dirty / "landing" / path)
            assert int(entry["row_count"]) == len(lines) - 1, path
            table = FILE_NAME.match(path)["table"]
            if table not in AMOUNT_TABLES:
                assert entry["amount_total"] == "", path
                continue
            column = lines[0].split(",").index("amount")
            amounts = [
                next(csv.reader([line]))[column]
                for n, line in enumerate(lines[1:], start=2)
                if n not in junk[path]
            ]
            assert Decimal(entry["amount_total"]) == sum(
                (Decimal(a) for a in amounts if a), Decimal("0.00")
            ), path
            assert re.fullmatch(r"\d+\.\d{2}", entry["amount_total"]), path
    assert listed == DAYS * (len(TABLES["trade"]) + len(TABLES["crm"]) + 1) - len(missing)


# --- clean output -------------------------------------------------------------------------------------


def test_clean_output_has_no_defects_and_every_json_line_parses(clean: Path) -> None:
    assert defects(clean) == []
    assert not [n for n in landing_files(clean) if "_resend" in n]
    tracked = events(clean)
    assert len(tracked) > 10_000
    assert all(event is not None for _, _, event in tracked)
    ids = Counter(event["event_id"] for _, _, event in tracked)
    assert ids.most_common(1)[0][1] == 1
    for rel, _, event in tracked:
        assert set(event) == {
            "event_id",
            "event",
            "time",
            "receive_time",
            "anonymous_id",
            "login_id",
            "properties",
        }
        assert 0 <= event["receive_time"] - event["time"] < 3_600_000, rel


def test_clean_and_dirty_runs_share_the_clean_records(clean: Path, dirty: Path) -> None:
    # dirt draws from its own random streams: NAV files carry no injected row defects but junk lines
    junk = defect_lines(dirty, UNPARSEABLE)
    rel = "trade/2026-06-30/nav_20260630.csv"
    dirty_lines = [
        line for n, line in enumerate(csv_lines(dirty / "landing" / rel), start=1) if n not in junk[rel]
    ]
    assert dirty_lines == csv_lines(clean / "landing" / rel)


def test_batched_generation_keeps_the_csv_files_and_writes_consistent_tracking_files(
    clean: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a large population is expanded into events a batch of sessions at a time (bounded memory)
    monkeypatch.setattr(generator, "SESSION_BATCH", 2_000)
    batched = tmp_path / "batched"
    summary = generate(batched, customers=CUSTOMERS, seed=7, end_date=END, days=DAYS, dirt=DirtConfig.none())
    one, many = file_hashes(clean / "landing"), file_hashes(batched / "landing")
    assert one.keys() == many.keys()
    csv_files = [rel for rel in one if rel.endswith(".csv") and "_control_" not in rel]
    assert len(csv_files) == DAYS * (len(TABLES["trade"]) + len(TABLES["crm"]))
    assert {rel: many[rel] for rel in csv_files} == {rel: one[rel] for rel in csv_files}
    tracked, reference = events(batched), events(clean)
    assert all(event is not None for _, _, event in tracked)
    assert Counter(event["event_id"] for _, _, event in tracked).most_common(1)[0][1] == 1
    assert summary["events"] == len(tracked)
    # the same sessions (device, person) are behind the events; only the draws within them differ
    for key in ("anonymous_id", "login_id"):
        assert {e[key] for _, _, e in tracked} == {e[key] for _, _, e in reference}, key
    per_file = Counter(rel for rel, _, _ in tracked)
    for rel in [r for r in many if r.startswith("tracking/") and "_control_" in r]:
        entries = list(csv.DictReader((batched / "landing" / rel).read_text(encoding="utf-8").splitlines()))
        assert [int(e["row_count"]) for e in entries] == [
            per_file[f"{rel.rsplit('/', 1)[0]}/{e['file_name']}"] for e in entries
        ]
    assert sum(per_file.values()) == len(tracked)
    # tracking dirt looks at all events at once: with batches, only clean output
    with pytest.raises(ValueError, match="--dirt none"):
        generate(tmp_path / "dirty", customers=CUSTOMERS, seed=7, end_date=END, days=DAYS)


# --- business consistency -----------------------------------------------------------------------------


def test_high_net_worth_customers_hold_at_least_a_million(dirty: Path) -> None:
    with open(demo_truth_dir(dirty) / "persons.csv", encoding="utf-8", newline="") as handle:
        persons = list(csv.DictReader(handle))
    hnw = {p["customer_no"] for p in persons if p["is_hnw"] == "true"}
    assert 0.01 * CUSTOMERS <= len(hnw) <= 0.1 * CUSTOMERS
    accounts = {
        row["fund_account_id"]: row["customer_no"]
        for _, _, row in table_rows(dirty, "trade", "fund_accounts")
    }
    value: Counter[str] = Counter()
    for _, _, row in table_rows(dirty, "trade", "holdings"):
        if row["snapshot_date"] == END.isoformat():
            value[accounts[row["fund_account_id"]]] += Decimal(row["market_value"])
    assert {c for c, v in value.items() if v >= 1_000_000} == hnw


def test_holdings_equal_initial_holdings_plus_confirmed_trades(dirty: Path) -> None:
    shares: dict[tuple[str, str], list[tuple[str, Decimal]]] = defaultdict(list)
    with open(demo_truth_dir(dirty) / "initial_holdings.csv", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            shares[(row["fund_account_id"], row["fund_code"])].append(("0000-00-00", Decimal(row["shares"])))
    nav = {
        (r["fund_code"], r["nav_date"]): Decimal(r["nav"]) for _, _, r in table_rows(dirty, "trade", "nav")
    }
    trading_days = sorted({d for _, d in nav})
    kinds = Counter()
    for _, _, order in table_rows(dirty, "trade", "trade_orders"):
        if order["order_status"] != "confirmed":
            continue
        key = (order["fund_account_id"], order["fund_code"])
        sign = -1 if order["trade_type"] in ("redemption", "conversion") else 1
        shares[key].append((order["confirm_date"], sign * Decimal(order["shares"])))
        kinds[order["trade_type"]] += 1
        if order["trade_type"] == "conversion":
            trade_day = max(d for d in trading_days if d < order["confirm_date"])
            credited = (Decimal(order["amount"]) - Decimal(order["fee"])) / nav[
                (order["target_fund_code"], trade_day)
            ]
            target = (order["fund_account_id"], order["target_fund_code"])
            shares[target].append((order["confirm_date"], credited.quantize(Decimal("0.01"), ROUND_HALF_UP)))
    assert {"purchase", "redemption", "sip_deduction", "dividend", "subscription"} <= set(kinds)
    snapshots: dict[str, dict[tuple[str, str], Decimal]] = defaultdict(dict)
    for _, _, row in table_rows(dirty, "trade", "holdings"):
        snapshots[row["snapshot_date"]][(row["fund_account_id"], row["fund_code"])] = Decimal(row["shares"])
    assert sorted(snapshots) == ["2026-05-31", "2026-06-30"]
    for day, held in snapshots.items():
        expected = {k: sum(s for d, s in v if d <= day) for k, v in shares.items()}
        assert held == {k: v for k, v in expected.items() if v > 0}, day


def test_some_customers_hold_funds_above_their_risk_tolerance(dirty: Path) -> None:
    risk = {
        r["fund_code"]: int(r["risk_rating"][1]) for _, _, r in table_rows(dirty, "trade", "fund_products")
    }
    owner = {
        r["fund_account_id"]: r["customer_no"] for _, _, r in table_rows(dirty, "trade", "fund_accounts")
    }
    tolerance = {
        r["customer_no"]: int(r["risk_level"][1]) for _, _, r in table_rows(dirty, "crm", "customers")
    }
    last = [r for _, _, r in table_rows(dirty, "trade", "holdings") if r["snapshot_date"] == END.isoformat()]
    above = [r for r in last if risk[r["fund_code"]] > tolerance[owner[r["fund_account_id"]]]]
    assert 0 < len(above) < 0.2 * len(last)


def local_text(epoch_ms: int) -> str:
    """Asia/Shanghai `YYYY-MM-DD HH:MM:SS` of epoch milliseconds."""
    return (datetime(1970, 1, 1) + timedelta(milliseconds=epoch_ms + 8 * 3_600_000)).strftime(
        "%Y-%m-%d %H:%M:%S"
    )


def test_business_events_match_trade_and_crm_records(dirty: Path) -> None:
    orders = {row["order_id"]: row for _, _, row in table_rows(dirty, "trade", "trade_orders")}
    customers = {row["customer_no"] for _, _, row in table_rows(dirty, "crm", "customers")}
    cards = {(row["customer_no"], row["bound_at"]) for _, _, row in table_rows(dirty, "crm", "bank_cards")}
    with open(demo_truth_dir(dirty) / "persons.csv", encoding="utf-8", newline="") as handle:
        customer_of_login = {
            p["login_id"]: p["customer_no"] for p in csv.DictReader(handle) if p["customer_no"]
        }
    documented = defect_lines(dirty)
    seen = Counter()
    for rel, line, event in events(dirty):
        if event is None or line in documented[rel]:
            continue
        props = event["properties"]
        if event["event"] == "purchase":
            order = orders[props["order_id"]]
            assert order["trade_type"] in ("purchase", "subscription")
            assert order["fund_code"] == props["fund_code"]
            assert Decimal(order["amount"]) == Decimal(str(props["amount"]))
            assert order["order_at"] == local_text(event["time"])
            assert customer_of_login[event["login_id"]] in customers
        elif event["event"] == "open_account":
            assert props["customer_no"] == customer_of_login[event["login_id"]]
            assert props["customer_no"] in customers
        elif event["event"] == "bind_card":
            assert (customer_of_login[event["login_id"]], local_text(event["time"])) in cards
        elif event["event"] == "sign_up":
            assert re.fullmatch(r"1[3-9]\d{9}", props["phone"])
        elif event["properties"]["platform"] == "wechat_mp" and event["login_id"]:
            assert props["wx_openid"] and props["wx_unionid"]
        seen[event["event"]] += 1
    assert (
        min(seen[e] for e in ("purchase", "open_account", "bind_card", "sign_up", "app_activate", "redeem"))
        > 0
    )


# --- the defects truth --------------------------------------------------------------------------------


def test_every_documented_kind_is_present(dirty: Path) -> None:
    kinds = Counter(d["kind"] for d in defects(dirty))
    expected = UNPARSEABLE | {
        "duplicate_event",
        "retired_tracking_point",
        "retired_sdk",
        "bot",
        "test_device",
        "clock_skew",
        "late_event",
        "crm_duplicate_person",
        "phone_noise",
        "bad_id_check_digit",
        "stale_record",
        "junk_identifier",
        "shared_device",
        "duplicate_file",
        "corrected_redelivery",
        "incomplete_day",
    }
    assert set(kinds) == expected
    assert kinds["incomplete_day"] == 1


def test_tracking_defect_lines_hold_what_they_claim(dirty: Path) -> None:
    documented = defect_lines(dirty)
    first_seen: dict[str, tuple[str, int]] = {}
    checked = Counter()
    logins_per_device: dict[str, set[str]] = defaultdict(set)
    for rel, line, event in events(dirty):
        kind = documented[rel].get(line)
        if event is None:
            assert kind == "malformed_json", (rel, line)
            continue
        assert kind != "malformed_json", (rel, line)
        skew = event["time"] - event["receive_time"]
        if kind == "duplicate_event":
            assert event["event_id"] in first_seen
        elif kind == "clock_skew":
            assert skew > 600_000 or skew < -7 * 86_400_000
        elif kind == "late_event":
            assert 86_400_000 <= -skew <= 5 * 86_400_000
        elif kind == "retired_tracking_point":
            assert event["event"] in {
                "banner_click_v1",
                "h5_old_pageview",
                "fund_share_v1",
                "home_popup_show_old",
            }
        elif kind == "retired_sdk":
            assert re.match(r"^(ios-2\.|android-3\.0\.)", event["properties"]["sdk_version"])
        elif kind == "test_device" and event["login_id"]:
            logins_per_device[event["anonymous_id"]].add(event["login_id"])
        elif kind is None:
            assert event["event_id"] not in first_seen, (rel, line)
            assert -600_000 <= skew <= 0
        checked[kind] += 1
        first_seen.setdefault(event["event_id"], (rel, line))
    assert all(len(logins) >= 200 for logins in logins_per_device.values()) and logins_per_device
    assert checked["duplicate_event"] > 0 and checked["late_event"] > 0


def test_unowned_identifiers_are_listed_without_a_person(dirty: Path) -> None:
    with open(demo_truth_dir(dirty) / "identities.csv", encoding="utf-8", newline="") as handle:
        identities = list(csv.DictReader(handle))
    by_note = Counter(row["note"] for row in identities if not row["person_key"])
    assert (
        by_note["test_device"] >= 2
        and by_note["bot"] == 3
        and by_note["shared_device"] >= 1
        and by_note["junk"] > 0
    )
    assert all(row["is_junk"] == ("true" if row["note"] == "junk" else "false") for row in identities)
    owned = [row for row in identities if row["person_key"]]
    phones = [row["identifier_value"] for row in owned if row["identifier_type"] == "phone"]
    assert phones and all(re.fullmatch(r"1[3-9]\d{9}", p) for p in phones)
    values = Counter((row["identifier_type"], row["identifier_value"]) for row in owned)
    # a person's identifier belongs to that person only (IDs, phones, customer numbers, devices)
    assert values.most_common(1)[0][1] == 1


# --- CLI ----------------------------------------------------------------------------------------------


def test_cli_refuses_a_non_empty_landing_unless_forced(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["--data-dir", str(tmp_path), "--customers", "40", "--days", "10", "--dirt", "none"]
    assert main(args) == 0
    marker = demo_truth_dir(tmp_path) / "stale.txt"
    marker.write_text("from an earlier run")
    assert main(args) == 2
    assert "--force" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0
    assert not marker.exists()
    assert "tracking events" in capsys.readouterr().out


def test_lines_buffer_joins_the_chunks_of_a_large_tables_lines() -> None:
    # past 2 GiB of text (SF10 holdings) pyarrow hands back a chunked array
    lines = pa.chunked_array([pa.array(["a\n", "bb\n"]), pa.array([], pa.string()), pa.array(["ccc\n"])])
    assert concat_bytes(lines) == b"a\nbb\nccc\n"
    assert concat_bytes(lines[1:3]) == b"bb\nccc\n"
    assert concat_bytes(lines[2:3]) == b"ccc\n"
    assert concat_bytes(lines[3:3]) == b""


def test_the_truth_is_written_outside_the_data_directory_and_landing_is_marked(tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    monkeypatch.delenv(DEMO_TRUTH_ENV, raising=False)
    generate(data_dir, customers=20, seed=3, end_date=END, days=8, dirt=DirtConfig.none())
    truth = tmp_path / "data.demo_truth"
    assert sorted(p.name for p in truth.iterdir()) == [
        "config.json", "defects.csv", "identities.csv", "initial_holdings.csv", "persons.csv",
    ]  # fmt: skip
    assert sorted(p.name for p in data_dir.iterdir()) == ["landing"]
    marker = json.loads((data_dir / "landing" / DEMO_MARKER).read_text(encoding="utf-8"))
    expected = {"generator": "fundcdp demo_sources", "seed": 3, "customers": 20, "days": 8}
    # ... and lists every delivered file with the SHA-256 of its content (what the demo key may load)
    delivered = file_hashes(data_dir / "landing")
    del delivered[DEMO_MARKER]
    assert marker == expected | {"end_date": END.isoformat(), "files": delivered}
    assert len(delivered) == len(landing_files(data_dir)) > 8
    # $FUNDCDP_DEMO_TRUTH_DIR chooses another place; a place inside the data directory is refused.
    monkeypatch.setenv(DEMO_TRUTH_ENV, str(tmp_path / "answers"))
    generate(data_dir, customers=20, seed=3, end_date=END, days=8, dirt=DirtConfig.none(), force=True)
    assert (tmp_path / "answers" / "persons.csv").is_file()
    with pytest.raises(ValueError, match="outside the data directory"):
        generate(data_dir, 20, 3, END, 8, DirtConfig.none(), force=True, truth_dir=data_dir / "truth")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("not a truth")
    with pytest.raises(FileExistsError, match="holds no demo truth"):
        generate(data_dir, 20, 3, END, 8, DirtConfig.none(), force=True, truth_dir=tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "not a truth"
