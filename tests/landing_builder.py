"""Write small, purpose-made deliveries into a landing zone, in the exact source formats."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import datetime
from zoneinfo import ZoneInfo

from orchestration.lib.layout import DataLayout
from orchestration.lib.sources import ALL_TABLES

SHANGHAI = ZoneInfo("Asia/Shanghai")


# One CRM customer row with every column, for tests that need a single valid delivery.
CUSTOMER: dict[str, str] = {
    "customer_no": "C000000001",
    "name": "张三",
    "gender": "M",
    "birth_date": "1990-03-07",
    "id_type": "ID_CARD",
    "id_number": "110101199003071234",
    "mobile": "13800000001",
    "email": "zhang@example.com",
    "province": "北京市",
    "city": "北京市",
    "risk_level": "C3",
    "risk_assessed_date": "2026-01-01",
    "kyc_status": "verified",
    "open_date": "2026-01-01",
    "open_channel": "app",
    "updated_at": "2026-06-30 10:00:00",
}


def epoch_ms(local: str) -> int:
    """Epoch milliseconds of an Asia/Shanghai local time 'YYYY-MM-DD HH:MM:SS'."""
    return int(datetime.strptime(local, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI).timestamp() * 1000)


def event(
    event_id: str, name: str, at: str, anonymous_id: str | None, login_id: str | None, **properties
) -> dict:
    """A tracking event received one second after it happened."""
    return {
        "event_id": event_id,
        "event": name,
        "time": epoch_ms(at),
        "receive_time": epoch_ms(at) + 1000,
        "anonymous_id": anonymous_id,
        "login_id": login_id,
        "properties": {"platform": "ios", "sdk_version": "ios-4.6.2", **properties},
    }


def write_delivery(layout: DataLayout, day: str, rows: dict[str, list[dict]]) -> None:
    """Deliver every table of every source for ``day`` (header-only where ``rows`` has none)."""
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
            text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in table_rows)
            (folder / name).write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
        amount = ""
        if spec.amount_column:
            amount = f"{sum(float(r.get(spec.amount_column) or 0) for r in table_rows):.2f}"
        controls.setdefault(spec.source, []).append(f"{name},{len(table_rows)},{amount}")
    for source, lines in controls.items():
        control = layout.landing_day(source, day) / f"_control_{ymd}.csv"
        control.write_text("file_name,row_count,amount_total\n" + "\n".join(lines) + "\n", encoding="utf-8")
