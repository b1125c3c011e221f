"""Foreign data: companies shaped unlike the demo, written into ``landing/`` in the exact source formats
(docs/source_formats.md: one folder per source and arrival day, every table of a delivered source as a file,
header-only where it has no rows, and a control file that matches). Issue 30's "foreign data" suite
(tests/integration/test_foreign_data.py) loads each one and runs the daily job on it.

Two companies, each combining several traits so that the suite stays cheap:

* :func:`write_history_company`, a trade-and-CRM-only company: three years of daily trade deliveries
  (1,095 days), a CRM that delivers on Mondays only, no tracking source at all, holiday weeks delivered as
  empty (header-only) folders, days without any folder, and 90 % of its customers churned long ago.
* :func:`write_tracked_company`, a small tracked company: one legitimate person whose 50,001 identifiers
  chain through 25,000 logins and 25,001 phones, and a recycled phone number (customer A's phone P moves
  to Q; after the configured reassignment period a stranger signs up in the app with P); the weeks between
  its deliveries are days with nothing delivered.

Each writer returns what it wrote (the truth the tests assert against), computed here, not read back.
"""

from __future__ import annotations

import copy
import csv
import gzip
import io
import json
from dataclasses import dataclass, field
from datetime import date, timedelta

from orchestration.lib import pii
from orchestration.lib.layout import DataLayout
from orchestration.lib.rules import load_business_rules
from orchestration.lib.sources import TableSpec, tables_of
from tests.landing_builder import epoch_ms

# --- the source formats ----------------------------------------------------------------------------------


def write_source_day(layout: DataLayout, source: str, day: str, rows: dict[str, list[dict]]) -> None:
    """Deliver one source system's tables for ``day``: a file per table (header-only where ``rows`` has
    none) and the control file listing each with its row count and amount total."""
    folder = layout.landing_day(source, day)
    folder.mkdir(parents=True, exist_ok=True)
    ymd = day.replace("-", "")
    lines = []
    for spec in tables_of(source):
        table_rows = rows.get(spec.name, [])
        name = _write_table_file(folder, spec, ymd, table_rows)
        amount = ""
        if spec.amount_column:
            amount = f"{sum(float(r.get(spec.amount_column) or 0) for r in table_rows):.2f}"
        lines.append(f"{name},{len(table_rows)},{amount}")
    (folder / f"_control_{ymd}.csv").write_text(
        "file_name,row_count,amount_total\n" + "\n".join(lines) + "\n", encoding="utf-8"
    )


def _write_table_file(folder, spec: TableSpec, ymd: str, rows: list[dict]) -> str:
    if spec.file_format == "csv":
        name = f"{spec.name}_{ymd}.csv"
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(spec.column_names), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        (folder / name).write_bytes(buffer.getvalue().encode(spec.encoding))
    else:
        name = f"{spec.name}_{ymd}.jsonl.gz"
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        (folder / name).write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=1, mtime=0))
    return name


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def id_number(sequence: int, birth: str) -> str:
    """A valid 18-character PRC ID number (Beijing Xicheng, ``birth`` YYYYMMDD, check character)."""
    first17 = f"110102{birth}{sequence % 1000:03d}"
    return first17 + pii.id_check_char(first17)


def card_number(sequence: int) -> str:
    """A 16-digit card number passing Luhn."""
    body = f"622202{sequence:09d}"
    total = 0
    for index, digit in enumerate(reversed(body)):
        value = int(digit) * (2 if index % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return body + str((10 - total % 10) % 10)


FUNDS = (
    ("519001", "外来股票精选", "equity", "R4"),
    ("519002", "外来纯债", "bond", "R2"),
    ("519003", "外来货币", "money_market", "R1"),
)


def fund_products() -> list[dict]:
    return [
        {"fund_code": code, "fund_name": name, "fund_type": kind, "risk_rating": risk,
         "management_company": "外来基金管理有限公司", "inception_date": "2015-01-05", "status": "active"}
        for code, name, kind, risk in FUNDS
    ]  # fmt: skip


def nav_of(code: str, day: date) -> str:
    """A NAV drifting slowly upward, distinct per fund and day (four decimals)."""
    base = {"519001": 1.5, "519002": 1.1, "519003": 1.0}[code]
    return f"{base + (day - date(2023, 1, 1)).days * 0.0001:.4f}"


def customer_row(number: int, customer_no: str, phone: str, updated_at: str, opened: str) -> dict:
    birth = f"{1960 + number % 40}{1 + number % 12:02d}{1 + number % 28:02d}"
    return {
        "customer_no": customer_no, "name": f"外来客户{number}", "gender": "M" if number % 2 else "F",
        "birth_date": f"{birth[:4]}-{birth[4:6]}-{birth[6:]}", "id_type": "ID_CARD",
        "id_number": id_number(number, birth), "mobile": phone, "email": f"f{number}@example.cn",
        "province": "北京", "city": "北京", "risk_level": f"C{1 + number % 5}",
        "risk_assessed_date": opened, "kyc_status": "verified", "open_date": opened,
        "open_channel": "app", "updated_at": updated_at,
    }  # fmt: skip


def fund_account_row(fund_account_id: str, customer_no: str, opened: str) -> dict:
    return {
        "fund_account_id": fund_account_id, "customer_no": customer_no, "open_date": opened,
        "open_channel": "app", "account_status": "normal", "updated_at": f"{opened} 09:00:00",
    }  # fmt: skip


def purchase_row(order_id: str, fund_account_id: str, fund_code: str, day: date, amount: float) -> dict:
    nav = nav_of(fund_code, day)
    return {
        "order_id": order_id, "fund_account_id": fund_account_id, "fund_code": fund_code,
        "trade_type": "purchase", "order_at": f"{day.isoformat()} 10:00:00", "confirm_date": day.isoformat(),
        "order_status": "confirmed", "amount": f"{amount:.2f}", "shares": f"{amount / float(nav):.2f}",
        "nav": nav, "fee": "0.00", "target_fund_code": "", "sip_agreement_id": "", "channel": "app",
    }  # fmt: skip


# --- company 1: three years of trade and a weekly CRM, no tracking, quiet days, mostly churned -----------

HISTORY_LAST = date(2026, 6, 28)  # a Sunday: the daily job runs for it
HISTORY_DAYS = 1095
HISTORY_FIRST = HISTORY_LAST - timedelta(days=HISTORY_DAYS - 1)  # 2023-06-30
HISTORY_CUSTOMERS = 300
# Spring Festival weeks: the trade system delivers a folder of header-only files (an empty delivery).
HOLIDAY_WEEKS = (date(2024, 2, 10), date(2025, 1, 28), date(2026, 2, 16))
# Days the trade system delivered nothing at all (no folder): National Day and the Saturday before the
# as-of date. The as-of date itself (a Sunday) is an empty folder: trades stop on Friday 2026-06-26.
NOTHING_DELIVERED = (date(2024, 10, 1), date(2025, 10, 1), date(2026, 6, 27))
CHURNED_EVERY = 10  # customers 1..300: every 10th stays active, the other 9 in 10 churned long ago


@dataclass
class HistoryCompany:
    """What :func:`write_history_company` delivered."""

    first_day: str
    last_day: str
    trade_days: list[str] = field(default_factory=list)  # trade folders (with rows or empty)
    empty_trade_days: list[str] = field(default_factory=list)  # trade folders with header-only files
    crm_days: list[str] = field(default_factory=list)
    missing_days: list[str] = field(default_factory=list)  # no folder of any source
    customers: int = 0
    churned_customers: int = 0
    orders: int = 0
    order_amount_total: float = 0.0
    # person (customer_no) -> lifecycle stage the rules give as of last_day
    lifecycle: dict[str, str] = field(default_factory=dict)
    rows_by_table: dict[str, int] = field(default_factory=dict)

    @property
    def delivery_days(self) -> list[str]:
        return sorted(set(self.trade_days) | set(self.crm_days))


# How the history company configures its deliveries (vars fundcdp.deliveries.schedule): the CRM exports on
# Mondays, there is no tracking source. Trade stays daily: it delivers a folder every day but holidays.
HISTORY_DELIVERY_SCHEDULE = {"trade": "daily", "crm": ["mon"], "tracking": "none"}


def history_company_rules() -> dict:
    """The project's business rules with the history company's delivery schedule (a deep copy: use it with
    orchestration.lib.rules.business_rules_overridden)."""
    rules = copy.deepcopy(load_business_rules())
    rules["deliveries"]["schedule"] = dict(HISTORY_DELIVERY_SCHEDULE)
    return rules


def _is_trading_day(day: date, empty: set[date]) -> bool:
    return day.isoweekday() <= 5 and day not in empty


def write_history_company(layout: DataLayout) -> HistoryCompany:
    """Write the trade-and-CRM-only company of three years (see the module docstring); returns its truth.

    Customer ``i`` (1..300) opens an account on day ``2 * i`` of the history and buys every 28 days from
    the next trading day on; every 10th customer keeps buying until the last trading week (mature), the
    others stop 100 to 800 days before the last day (churned: no contact for at least 90 days)."""
    empty = {start + timedelta(days=n) for start in HOLIDAY_WEEKS for n in range(7)} | {HISTORY_LAST}
    missing = set(NOTHING_DELIVERED)
    days = _days(HISTORY_FIRST, HISTORY_LAST)
    trading = [d for d in days if _is_trading_day(d, empty | missing)]
    truth = HistoryCompany(HISTORY_FIRST.isoformat(), HISTORY_LAST.isoformat())
    truth.missing_days = sorted(d.isoformat() for d in missing)

    def next_trading(day: date) -> date:
        return next(d for d in trading if d >= day)

    trade: dict[date, dict[str, list[dict]]] = {d: {} for d in days if d not in missing}
    crm_days = [d for d in days if d.isoweekday() == 1 and d not in missing]
    crm: dict[date, dict[str, list[dict]]] = {d: {} for d in crm_days}
    last_trading = trading[-1]
    for i in range(1, HISTORY_CUSTOMERS + 1):
        customer_no, account = f"F{i:06d}", f"FA{i:06d}"
        opened = next_trading(HISTORY_FIRST + timedelta(days=2 * i))
        trade[opened].setdefault("fund_accounts", []).append(
            fund_account_row(account, customer_no, opened.isoformat())
        )
        crm_day = next(d for d in crm_days if d >= opened)
        updated = f"{opened.isoformat()} 09:00:00"
        crm[crm_day].setdefault("customers", []).append(
            customer_row(i, customer_no, f"136{i:08d}", updated, opened.isoformat())
        )
        crm[crm_day].setdefault("bank_cards", []).append(
            {"card_id": f"K{i:06d}", "customer_no": customer_no, "bank_name": "工商银行",
             "card_number": card_number(i), "bound_at": updated, "card_status": "bound",
             "updated_at": updated}
        )  # fmt: skip
        crm[crm_day].setdefault("marketing_consents", []).append(
            {"customer_no": customer_no, "channel": "sms", "consent_status": "granted", "updated_at": updated}
        )
        churned = i % CHURNED_EVERY != 0
        first_buy = next_trading(opened + timedelta(days=1))
        stop = max(first_buy, HISTORY_LAST - timedelta(days=100 + (i * 7) % 700))
        buys = [first_buy]
        while buys[-1] + timedelta(days=28) <= (stop if churned else last_trading):
            buys.append(next_trading(buys[-1] + timedelta(days=28)))
        if not churned and buys[-1] != last_trading:
            buys.append(last_trading)  # active: bought in the last trading week
        for number, buy in enumerate(buys):
            amount = 1000 + (i % 9) * 250 + number
            trade[buy].setdefault("trade_orders", []).append(
                purchase_row(f"O{i:06d}{number:04d}", account, FUNDS[number % len(FUNDS)][0], buy, amount)
            )
            truth.orders += 1
            truth.order_amount_total += amount
        last_buy = buys[-1]
        truth.customers += 1
        truth.churned_customers += churned
        since_last = (HISTORY_LAST - last_buy).days
        truth.lifecycle[customer_no] = (
            "churned" if since_last >= 90 else "dormant" if since_last >= 30 else "mature"
        )
    for day in trading:
        trade[day]["nav"] = [
            {"fund_code": code, "nav_date": day.isoformat(), "nav": nav_of(code, day),
             "accumulated_nav": nav_of(code, day)}
            for code, *_ in FUNDS
        ]  # fmt: skip
    for day in days:
        if day not in missing and day not in empty:
            trade[day]["fund_products"] = fund_products()
    for day, rows in trade.items():
        write_source_day(layout, "trade", day.isoformat(), rows)
        truth.trade_days.append(day.isoformat())
        if not any(rows.values()):
            truth.empty_trade_days.append(day.isoformat())
        for table, table_rows in rows.items():
            truth.rows_by_table[f"trade.{table}"] = truth.rows_by_table.get(f"trade.{table}", 0) + len(
                table_rows
            )
    for day, rows in crm.items():
        write_source_day(layout, "crm", day.isoformat(), rows)
        truth.crm_days.append(day.isoformat())
        for table, table_rows in rows.items():
            truth.rows_by_table[f"crm.{table}"] = truth.rows_by_table.get(f"crm.{table}", 0) + len(table_rows)
    return truth


HISTORY_NEXT_DAY = HISTORY_LAST + timedelta(days=2)  # Tuesday 2026-06-30: trade only


def write_history_next_day(layout: DataLayout) -> dict[str, int]:
    """The history company's delivery of the Tuesday after its last day: trade only (no CRM: it delivers on
    Mondays; no tracking: the company has none), a purchase of every active customer. Rows per table."""
    rows: dict[str, list[dict]] = {"fund_products": fund_products()}
    rows["nav"] = [
        {"fund_code": code, "nav_date": HISTORY_NEXT_DAY.isoformat(), "nav": nav_of(code, HISTORY_NEXT_DAY),
         "accumulated_nav": nav_of(code, HISTORY_NEXT_DAY)}
        for code, *_ in FUNDS
    ]  # fmt: skip
    rows["trade_orders"] = [
        purchase_row(f"N{i:06d}", f"FA{i:06d}", FUNDS[0][0], HISTORY_NEXT_DAY, 3000.0)
        for i in range(CHURNED_EVERY, HISTORY_CUSTOMERS + 1, CHURNED_EVERY)
    ]
    write_source_day(layout, "trade", HISTORY_NEXT_DAY.isoformat(), rows)
    return {table: len(table_rows) for table, table_rows in rows.items()}


# --- company 2: a small tracked company with a 50,001-identifier chain and a recycled phone -------------

CHAIN_LOGINS = 25_000  # logins L0 .. L24999, phones P0 .. P25000: L_i signs in with P_i and P_(i+1)
TRACKED_CUSTOMERS = 30
RECYCLED_CUSTOMER = "T000001"  # customer A
STRANGER_LOGIN = "S-STRANGER-01"


def chain_phone(n: int) -> str:
    return f"150{n:08d}"


def tracked_phone(n: int) -> str:
    return f"137{n:08d}"


def login_event(event_id: str, name: str, at: str, device: str, login: str | None, **props) -> dict:
    return {
        "event_id": event_id, "event": name, "time": epoch_ms(at), "receive_time": epoch_ms(at) + 1000,
        "anonymous_id": device, "login_id": login,
        "properties": {"platform": "android", "sdk_version": "android-5.2.0", "app_section": "home", **props},
    }  # fmt: skip


@dataclass
class TrackedCompany:
    """What :func:`write_tracked_company` delivered."""

    delivery_days: list[str]
    as_of: str
    reassignment_days: int
    phone_moved_on: str  # d1: A's CRM record changes from P to Q
    stranger_signs_up_on: str  # d2 > d1 + reassignment period
    recycled_phone: str  # P
    new_phone: str  # Q
    customers: int
    chain_logins: int
    chain_phones: int

    @property
    def chain_identifiers(self) -> int:
        return self.chain_logins + self.chain_phones


def write_tracked_company(layout: DataLayout, reassignment_days: int) -> TrackedCompany:
    """Write the tracked company (see the module docstring); returns its truth.

    Deliveries (every source on each): d0 (CRM full snapshot, the accounts, sign-ups and first purchases,
    the chain), d0 + 1 (a quiet day: every file header-only), d1 = d0 + 7 (A's phone changes from P to Q),
    d2 = d1 + ``reassignment_days`` + 14 (the stranger signs up with P; everyone else is active and buys
    again); nothing is delivered on the days between. The daily job runs for d2."""
    d0 = date(2026, 3, 2)
    d1 = d0 + timedelta(days=7)  # after d1, A signs in with Q
    d2 = d1 + timedelta(days=reassignment_days + 14)
    recycled, moved_to = tracked_phone(1), tracked_phone(901)
    day0: dict[str, dict[str, list[dict]]] = {"trade": {}, "crm": {}, "tracking": {}}
    day2: dict[str, dict[str, list[dict]]] = {"trade": {}, "crm": {}, "tracking": {}}
    for source in (day0, day2):
        source["trade"]["fund_products"] = fund_products()
    for day, rows in ((d0, day0), (d2, day2)):
        rows["trade"]["nav"] = [
            {"fund_code": code, "nav_date": day.isoformat(), "nav": nav_of(code, day),
             "accumulated_nav": nav_of(code, day)}
            for code, *_ in FUNDS
        ]  # fmt: skip
    opened = (d0 - timedelta(days=400)).isoformat()
    for i in range(1, TRACKED_CUSTOMERS + 1):
        customer_no, account, login, device = f"T{i:06d}", f"TA{i:06d}", f"U{i:06d}", f"dev-t{i:04d}"
        updated = f"{d0.isoformat()} 08:00:00"
        day0["crm"].setdefault("customers", []).append(
            customer_row(500 + i, customer_no, tracked_phone(i), updated, opened)
        )
        day0["crm"].setdefault("marketing_consents", []).append(
            {"customer_no": customer_no, "channel": "sms", "consent_status": "granted", "updated_at": updated}
        )
        day0["trade"].setdefault("fund_accounts", []).append(fund_account_row(account, customer_no, opened))
        for day, rows in ((d0, day0), (d2, day2)):
            at = f"{day.isoformat()} 09:{i:02d}:00"
            rows["tracking"].setdefault("events", []).extend(
                [
                    login_event(f"t{day:%m%d}-{i}-a", "login", at, device, login,
                                phone=moved_to if (i, day) == (1, d2) else tracked_phone(i),
                                customer_no=customer_no),
                    login_event(f"t{day:%m%d}-{i}-b", "page_view", at.replace(":00", ":30", 1),
                                device, login, screen_name="fund_detail"),
                ]
            )  # fmt: skip
            rows["trade"].setdefault("trade_orders", []).append(
                purchase_row(f"TO{i:04d}{day:%m%d}", account, FUNDS[i % 3][0], day, 2000 + i)
            )
    # customer A's phone P moves to Q on d1 (a CRM delta of the same customer number)
    day1 = {
        "crm": {
            "customers": [
                customer_row(501, RECYCLED_CUSTOMER, moved_to, f"{d1.isoformat()} 10:00:00", opened)
            ]
        }
    }
    # the chain: L_i signs in with P_i, then with P_(i+1), on its own device
    chain = day0["tracking"]["events"]
    for n in range(CHAIN_LOGINS):
        at = f"{d0.isoformat()} {10 + n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}"
        device, login = f"dev-c{n:05d}", f"L{n:05d}"
        chain.append(login_event(f"c{n:05d}a", "login", at, device, login, phone=chain_phone(n)))
        chain.append(login_event(f"c{n:05d}b", "login", at, device, login, phone=chain_phone(n + 1)))
    # the stranger: a new device signs up with the recycled number P
    day2["tracking"]["events"].append(
        login_event("stranger-1", "sign_up", f"{d2.isoformat()} 11:00:00", "dev-stranger", STRANGER_LOGIN,
                    phone=recycled)
    )  # fmt: skip
    quiet = d0 + timedelta(days=1)
    deliveries = {d0: day0, quiet: {}, d1: day1, d2: day2}
    for day, rows in deliveries.items():
        for source in ("trade", "crm", "tracking"):
            write_source_day(layout, source, day.isoformat(), rows.get(source, {}))
    return TrackedCompany(
        delivery_days=[d.isoformat() for d in sorted(deliveries)],
        as_of=d2.isoformat(),
        reassignment_days=reassignment_days,
        phone_moved_on=d1.isoformat(),
        stranger_signs_up_on=d2.isoformat(),
        recycled_phone=recycled,
        new_phone=moved_to,
        customers=TRACKED_CUSTOMERS,
        chain_logins=CHAIN_LOGINS,
        chain_phones=CHAIN_LOGINS + 1,
    )
