"""Generation arguments, the dirt configuration and the calendar of the demo window."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field, fields
from datetime import date, timedelta

import numpy as np

DAY_MS = 86_400_000
# Asia/Shanghai has no daylight saving time: local = UTC + 8 h all year.
SHANGHAI_OFFSET_MS = 8 * 3_600_000
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class DirtConfig:
    """How much dirt to inject, one field per defect kind (names as in `demo_truth/defects.csv`).

    Rates are shares of the eligible records of the kind's source; whenever a rate is > 0 and something
    is eligible, at least one defect of the kind is injected, so even tiny demo sets show every kind.
    Counts are absolute. Defaults (and what they apply to):

    Unparseable (extra garbled copies of real lines, inserted right after them; the pipeline must
    quarantine them):
      malformed_json 0.0005 of tracking lines (truncated, or with a doubled comma);
      wrong_column_count 0.001, unterminated_quote 0.0005, bad_date 0.001 of the data lines of each trade
      and CRM table; bad_number 0.001 of the lines of the trade tables with numbers (trade_orders,
      sip_agreements, nav, holdings).
    Parse fine but must be flagged (extra events unless noted):
      duplicate_event 0.003 of events (the same event_id again, 1 s-36 h later, sometimes in a later
      day's file); retired_tracking_point 0.002; retired_sdk 0.002 (an old phone of a real person);
      clock_skew 0.001 (client time > 10 min after or > 7 days before receive_time);
      bot 0.001 of events, spread over `bot_ids` = 3 anonymous ids (>= 60 events each, ~30 a minute,
      crawler user agents); test_device 2 QA devices, each logging in >= 200 different login_ids;
      late_event 0.005 of events (real app events received 1-5 days late: valid, listed in the truth only).
    CRM customers (modify real rows unless noted): crm_duplicate_person 0.005 of customers (an extra
      record of the same person under a second customer_no); phone_noise 0.02 of rows; bad_id_check_digit
      0.002 of customers; stale_record 0.02 of delta rows (an extra older row just before its correction).
    Identifiers: junk_identifier 0.001 of logged-in tracking events (login_id), 0.01 of sign-ups (phone),
      0.003 of WeChat events (wx ids) and 0.003 of customer rows (mobile or id_number);
      shared_device 0.004 of pre-existing registered app users: families of 2-3 share one phone in the
      second half of the window.
    Files: duplicate_file 2 identical re-sent copies (`_resend` suffix, not in the control file);
      corrected_redelivery 2 trade_orders files re-delivered with the rows the first delivery lacked
      (first version in demo_truth/superseded/); incomplete_day 1 day (never the last) whose
      `incomplete_day_table` file is listed in the control file but missing.
    """

    malformed_json: float = 0.0005
    wrong_column_count: float = 0.001
    unterminated_quote: float = 0.0005
    bad_number: float = 0.001
    bad_date: float = 0.001
    duplicate_event: float = 0.003
    retired_tracking_point: float = 0.002
    retired_sdk: float = 0.002
    bot: float = 0.001
    bot_ids: int = 3
    test_device: int = 2
    clock_skew: float = 0.001
    late_event: float = 0.005
    crm_duplicate_person: float = 0.005
    phone_noise: float = 0.02
    bad_id_check_digit: float = 0.002
    stale_record: float = 0.02
    junk_identifier: float = 0.001
    shared_device: float = 0.004
    duplicate_file: int = 2
    corrected_redelivery: int = 2
    incomplete_day: int = 1
    incomplete_day_table: str = "marketing_consents"
    test_phone_numbers: tuple[str, ...] = field(default=("13800138000", "13900139000", "18888888888"))

    @classmethod
    def none(cls) -> DirtConfig:
        """A configuration that injects nothing: clean, fully consistent output."""
        zeroed = {f.name: 0 for f in fields(cls) if f.type in ("float", "int")}
        return cls(**zeroed)

    def as_dict(self) -> dict[str, object]:
        """The configuration as plain JSON-able values."""
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v for f in fields(self)}


def scaled_count(rate: float, eligible: int) -> int:
    """Number of defects for a rate: at least one whenever the rate is positive and anything is eligible."""
    if rate <= 0 or eligible <= 0:
        return 0
    return int(min(eligible, max(1, round(rate * eligible))))


def child_rng(seed: int, stream: str) -> np.random.Generator:
    """An independent, named random stream, so that e.g. dirt settings never change the clean data."""
    return np.random.default_rng([seed, zlib.crc32(stream.encode())])


@dataclass(frozen=True)
class Window:
    """The demo window: `days` calendar days ending at `end` (both inclusive), trading days = weekdays."""

    end: date
    days: int

    @property
    def start(self) -> date:
        """First day of the window."""
        return self.end - timedelta(days=self.days - 1)

    @property
    def start_day(self) -> int:
        """Start as days since 1970-01-01."""
        return (self.start - EPOCH).days

    @property
    def end_day(self) -> int:
        """End as days since 1970-01-01."""
        return (self.end - EPOCH).days

    @property
    def start_ms(self) -> int:
        """UTC epoch ms of local midnight opening the window."""
        return self.start_day * DAY_MS - SHANGHAI_OFFSET_MS

    @property
    def end_ms(self) -> int:
        """UTC epoch ms of the last local millisecond of the window."""
        return (self.end_day + 1) * DAY_MS - SHANGHAI_OFFSET_MS - 1

    def day_dates(self) -> list[date]:
        """Every calendar day of the window, oldest first."""
        return [self.start + timedelta(days=i) for i in range(self.days)]

    def month_end_days(self) -> np.ndarray:
        """Epoch days of holdings snapshots: each calendar month end in the window, plus the last day."""
        ends = [d for d in self.day_dates() if (d + timedelta(days=1)).day == 1]
        ends.append(self.end)
        return np.array(sorted({(d - EPOCH).days for d in ends}), dtype=np.int64)


def is_trading_day(epoch_days: np.ndarray) -> np.ndarray:
    """Weekdays are trading days (1970-01-01 was a Thursday)."""
    return (np.asarray(epoch_days) + 3) % 7 < 5


def local_day(ms: np.ndarray) -> np.ndarray:
    """Asia/Shanghai calendar day (days since epoch) of UTC epoch milliseconds."""
    return (np.asarray(ms) + SHANGHAI_OFFSET_MS) // DAY_MS


class TradingCalendar:
    """Lookups from any epoch day to the next trading day, on a range around the window."""

    def __init__(self, window: Window, before: int = 40, after: int = 20) -> None:
        self.first = window.start_day - before
        self.days = np.arange(self.first, window.end_day + after + 1, dtype=np.int64)
        trading = is_trading_day(self.days)
        self.trading_days = self.days[trading]
        # index of the first trading day >= each day
        self._on_or_after = np.searchsorted(self.trading_days, self.days, side="left")

    def on_or_after(self, day: np.ndarray) -> np.ndarray:
        """The first trading day on or after `day`."""
        return self.trading_days[self._on_or_after[np.asarray(day) - self.first]]

    def nth_after(self, day: np.ndarray, n: np.ndarray | int) -> np.ndarray:
        """The n-th trading day strictly after `day` (n >= 1)."""
        idx = np.searchsorted(self.trading_days, np.asarray(day), side="right") + np.asarray(n) - 1
        return self.trading_days[idx]

    def on_or_before(self, day: np.ndarray) -> np.ndarray:
        """The last trading day on or before `day`."""
        idx = np.searchsorted(self.trading_days, np.asarray(day), side="right") - 1
        return self.trading_days[idx]
