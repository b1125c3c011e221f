"""Trade-only history deliveries for the history-import benchmark and tests: N days of daily deliveries,
or the same rows delivered as one day, in the exact landing formats (docs/source_formats.md).

The shape follows a real company's log (issue 30): one fund product, customers and their fund accounts
all delivered on the first day, orders spread evenly over the days, no tracking and no CRM deltas (their
files are delivered header-only, as a system with nothing to say writes them), one NAV row a day.

    python bench/history_data.py --data-dir /tmp/h --days 546 --customers 23000 --orders 200000
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import random
import sys
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from orchestration.lib.layout import DataLayout  # noqa: E402
from orchestration.lib.pii import id_check_char  # noqa: E402
from orchestration.lib.sources import ALL_TABLES  # noqa: E402

FUND_CODE = "000001"


def _birth_date(n: int) -> date:
    return date(1960 + n % 40, 1 + n // 40 % 9, 10 + n // 360 % 10)


def _id_number(n: int) -> str:
    """A valid, unique resident ID number (Shanghai, the customer's birth date, MOD 11-2 check)."""
    first17 = f"310101{_birth_date(n):%Y%m%d}{(n // 3600) % 1000:03d}"
    return first17 + id_check_char(first17)


def history_rows(first_day: date, days: int, customers: int, orders: int, seed: int = 7) -> dict:
    """Every row of the history by the day it belongs to: ``{day: {table: [row, ...]}}``."""
    rng = random.Random(seed)
    all_days = [(first_day + timedelta(days=n)).isoformat() for n in range(days)]
    by_day: dict[str, dict[str, list[dict]]] = {day: {} for day in all_days}
    first = all_days[0]
    by_day[first]["customers"] = [
        {
            "customer_no": f"C{n:09d}",
            "name": f"客户{n}",
            "gender": "FM"[(n // 3600) % 2],  # as the ID number's 17th digit says
            "birth_date": _birth_date(n).isoformat(),
            "id_type": "ID_CARD",
            "id_number": _id_number(n),
            "mobile": f"139{n:08d}",
            "email": "",
            "province": "上海市",
            "city": "上海市",
            "risk_level": f"C{1 + n % 5}",
            "risk_assessed_date": first,
            "kyc_status": "verified",
            "open_date": first,
            "open_channel": "app",
            "updated_at": f"{first} 09:00:00",
        }
        for n in range(customers)
    ]
    by_day[first]["fund_accounts"] = [
        {
            "fund_account_id": f"A{n:09d}",
            "customer_no": f"C{n:09d}",
            "open_date": first,
            "open_channel": "app",
            "account_status": "normal",
            "updated_at": f"{first} 09:00:00",
        }
        for n in range(customers)
    ]
    for index, day in enumerate(all_days):
        by_day[day]["fund_products"] = [
            {
                "fund_code": FUND_CODE,
                "fund_name": "历史货币基金",
                "fund_type": "money_market",
                "risk_rating": "R1",
                "management_company": "历史基金管理公司",
                "inception_date": "2015-01-01",
                "status": "active",
            }
        ]
        by_day[day]["nav"] = [
            {
                "fund_code": FUND_CODE,
                "nav_date": day,
                "nav": "1.0000",
                "accumulated_nav": f"{1 + index / 1e4:.4f}",
            }
        ]
        by_day[day]["trade_orders"] = []
    for n in range(orders):
        day = all_days[n * days // orders]
        amount = f"{rng.randint(1, 5000) * 10}.00"
        by_day[day]["trade_orders"].append(
            {
                "order_id": f"O{n:010d}",
                "fund_account_id": f"A{rng.randrange(customers):09d}",
                "fund_code": FUND_CODE,
                "trade_type": "purchase",
                "order_at": f"{day} 10:{n % 60:02d}:00",
                "confirm_date": day,
                "order_status": "confirmed",
                "amount": amount,
                "shares": amount.replace(".00", ".0000"),
                "nav": "1.0000",
                "fee": "0.00",
                "target_fund_code": "",
                "sip_agreement_id": "",
                "channel": "app",
            }
        )
    return by_day


def _amount(value: str | None) -> float:
    """An amount as the source system totals it: a value that is not a number counts nothing."""
    try:
        return float(value or 0)
    except ValueError:
        return 0.0


def write_day(layout: DataLayout, day: str, rows: dict[str, list[dict]]) -> None:
    """Deliver every table of every source for ``day`` (header-only where ``rows`` has none), with each
    source's control file."""
    ymd = day.replace("-", "")
    controls: dict[str, list[str]] = {}
    for spec in ALL_TABLES:
        folder = layout.landing_day(spec.source, day)
        folder.mkdir(parents=True, exist_ok=True)
        table_rows = rows.get(spec.name, [])
        if spec.file_format == "csv":
            name = f"{spec.name}_{ymd}.csv"
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=list(spec.column_names), lineterminator="\n")
            writer.writeheader()
            writer.writerows(table_rows)
            (folder / name).write_bytes(buffer.getvalue().encode(spec.encoding))
        else:
            name = f"{spec.name}_{ymd}.jsonl.gz"
            (folder / name).write_bytes(gzip.compress(b"", mtime=0))
        amount = ""
        if spec.amount_column:
            amount = f"{sum(_amount(r.get(spec.amount_column)) for r in table_rows):.2f}"
        controls.setdefault(spec.source, []).append(f"{name},{len(table_rows)},{amount}")
    for source, lines in controls.items():
        control = layout.landing_day(source, day) / f"_control_{ymd}.csv"
        control.write_text("file_name,row_count,amount_total\n" + "\n".join(lines) + "\n", encoding="utf-8")


def write_history(
    layout: DataLayout, first_day: date, days: int, customers: int, orders: int, one_delivery: bool
) -> list[str]:
    """Write the history as ``days`` daily deliveries, or (``one_delivery``) as one delivery on the last
    day holding the same rows. Returns the delivery days written."""
    by_day = history_rows(first_day, days, customers, orders)
    if not one_delivery:
        for day, rows in by_day.items():
            write_day(layout, day, rows)
        return list(by_day)
    last = max(by_day)
    merged: dict[str, list[dict]] = {}
    for day in sorted(by_day):
        for table, rows in by_day[day].items():
            if table == "fund_products" and day != last:
                continue  # the full list, delivered once
            merged.setdefault(table, []).extend(rows)
    write_day(layout, last, merged)
    return [last]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--first-day", default="2024-01-01")
    parser.add_argument("--days", type=int, default=546)
    parser.add_argument("--customers", type=int, default=23_000)
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--one-delivery", action="store_true")
    args = parser.parse_args()
    layout = DataLayout.at(args.data_dir)
    layout.ensure()
    written = write_history(
        layout, date.fromisoformat(args.first_day), args.days, args.customers, args.orders, args.one_delivery
    )
    print(f"{len(written)} delivery day(s) {written[0]} .. {written[-1]} under {layout.landing}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
