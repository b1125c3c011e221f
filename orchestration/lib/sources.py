"""The raw tables: what each source delivers and how each column is typed.

One :class:`TableSpec` per raw table. The Dagster raw assets, the loader and the dbt sources
(``dbt_project/models/staging/*/_*__sources.yml``) all follow these specs; a test keeps the dbt sources
in step with them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

# Longest accepted landing file name: far above any real one (``marketing_consents_20260630_resend.csv``
# is 38), far below the file system's 255 bytes.
MAX_FILE_NAME_LENGTH = 100

ColumnKind = Literal["text", "int", "amount", "quantity", "date", "timestamp"]
PiiKind = Literal["name", "phone", "id_number", "email", "card_number", "wechat_id"]

# DuckDB / Parquet type of each kind. Amounts in CNY keep 2 decimals; shares and NAV keep 4.
SQL_TYPES: dict[str, str] = {
    "text": "VARCHAR",
    "int": "BIGINT",
    "amount": "DECIMAL(18,2)",
    "quantity": "DECIMAL(20,4)",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}


@dataclass(frozen=True)
class Column:
    """One delivered column.

    ``required`` columns are keys: a line without them cannot be placed and is quarantined.
    ``pii`` columns never reach ``raw/`` in the clear: see :mod:`orchestration.lib.personal_data`.
    ``json_path`` is where a tracking field sits in the event object.
    ``free_text`` columns carry text typed or assembled outside the source system's control (URLs,
    referrers, utm parameters, search terms, user agents, names of places): phones, ID numbers, e-mails
    and card numbers inside them are replaced by placeholders at ingestion
    (:mod:`orchestration.lib.free_text`). Keys, codes and identifiers are not free text.
    ``epoch_ms`` marks an ``int`` column holding an instant in epoch milliseconds whose (Shanghai) date is
    judged at ingestion like a date column's (``vars: fundcdp: ingest: dates``).
    """

    name: str
    kind: ColumnKind = "text"
    required: bool = False
    pii: PiiKind | None = None
    json_path: str | None = None
    free_text: bool = False
    epoch_ms: bool = False


@dataclass(frozen=True)
class TableSpec:
    """A raw table: source system, file format and columns (in delivery order for CSV)."""

    source: str
    name: str
    file_format: Literal["csv", "jsonl"]
    columns: tuple[Column, ...]
    amount_column: str | None = None
    description: str = ""
    encoding: str = "utf-8"
    _file_pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_file_pattern", re.compile(self.file_pattern, re.ASCII))

    @property
    def extension(self) -> str:
        return ".csv" if self.file_format == "csv" else ".jsonl.gz"

    @property
    def file_pattern(self) -> str:
        """The regular expression a landing file of this table must match in full: the table name, ``_``,
        the delivery date as 8 digits, an optional suffix of ``_`` + ASCII letters or digits (``_resend``,
        ``_part2``), the extension. Nothing else: no quote, space, dot, slash or non-ASCII character, at
        most :data:`MAX_FILE_NAME_LENGTH` characters (checked by :meth:`matches_file`)."""
        suffix = r"(?P<suffix>(?:_[A-Za-z0-9]+)*)"
        return rf"{re.escape(self.name)}_(?P<ymd>[0-9]{{8}}){suffix}{re.escape(self.extension)}"

    @property
    def file_pattern_text(self) -> str:
        """The pattern as a reader-friendly template, for error messages."""
        return f"{self.name}_<YYYYMMDD>[_<letters or digits>...]{self.extension}"

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def matches_file(self, file_name: str, day: str) -> bool:
        """True if ``file_name`` is a delivery of this table for ``day`` (YYYY-MM-DD): the whole name fits
        :attr:`file_pattern` and is at most :data:`MAX_FILE_NAME_LENGTH` characters long."""
        if len(file_name) > MAX_FILE_NAME_LENGTH:
            return False
        match = self._file_pattern.fullmatch(file_name)
        return match is not None and match.group("ymd") == day.replace("-", "")

    def delivery_day(self, file_name: str) -> str | None:
        """The delivery day (YYYY-MM-DD) a file name of this table carries; None if the name does not fit
        :attr:`file_pattern` or its 8 digits are not a date."""
        match = self._file_pattern.fullmatch(file_name)
        if match is None:
            return None
        ymd = match.group("ymd")
        day = f"{ymd[:4]}-{ymd[4:6]}-{ymd[6:]}"
        try:
            date.fromisoformat(day)
        except ValueError:
            return None
        return day

    def claims_file(self, file_name: str) -> bool:
        """True if ``file_name`` looks meant for this table (it starts with the table name, in any case),
        whether or not it fits the pattern: such a file that does not fit is refused, not ignored."""
        return file_name.casefold().startswith(self.name)


def _c(name: str, kind: ColumnKind = "text", **options: object) -> Column:
    return Column(name, kind, **options)  # type: ignore[arg-type]


TRADE_TABLES = (
    TableSpec(
        "trade",
        "fund_products",
        "csv",
        (
            _c("fund_code", required=True),
            _c("fund_name", free_text=True),
            _c("fund_type"),
            _c("risk_rating"),
            _c("management_company", free_text=True),
            _c("inception_date", "date"),
            _c("status"),
        ),
        description="Fund products, the full list every day.",
    ),
    TableSpec(
        "trade",
        "fund_accounts",
        "csv",
        (
            _c("fund_account_id", required=True),
            _c("customer_no"),
            _c("open_date", "date"),
            _c("open_channel"),
            _c("account_status"),
            _c("updated_at", "timestamp"),
        ),
        description="Fund (trading) accounts and the CRM customer each belongs to.",
    ),
    TableSpec(
        "trade",
        "trade_orders",
        "csv",
        (
            _c("order_id", required=True),
            _c("fund_account_id"),
            _c("fund_code"),
            _c("trade_type"),
            _c("order_at", "timestamp"),
            _c("confirm_date", "date"),
            _c("order_status"),
            _c("amount", "amount"),
            _c("shares", "quantity"),
            _c("nav", "quantity"),
            _c("fee", "amount"),
            _c("target_fund_code"),
            _c("sip_agreement_id"),
            _c("channel"),
        ),
        amount_column="amount",
        description="Trade orders with their confirmation, delivered on the day they settle.",
    ),
    TableSpec(
        "trade",
        "sip_agreements",
        "csv",
        (
            _c("sip_agreement_id", required=True),
            _c("fund_account_id"),
            _c("fund_code"),
            _c("amount", "amount"),
            _c("frequency"),
            _c("start_date", "date"),
            _c("sip_status"),
            _c("status_changed_date", "date"),
            _c("updated_at", "timestamp"),
        ),
        amount_column="amount",
        description="Systematic investment plans (定投) and their status.",
    ),
    TableSpec(
        "trade",
        "nav",
        "csv",
        (
            _c("fund_code", required=True),
            _c("nav_date", "date", required=True),
            _c("nav", "quantity"),
            _c("accumulated_nav", "quantity"),
        ),
        description="Net asset value per fund and trading day.",
    ),
    TableSpec(
        "trade",
        "holdings",
        "csv",
        (
            _c("snapshot_date", "date", required=True),
            _c("fund_account_id", required=True),
            _c("fund_code", required=True),
            _c("shares", "quantity"),
            _c("market_value", "amount"),
        ),
        description="Holdings snapshots at month ends and on the last day of the window.",
    ),
)

CRM_TABLES = (
    TableSpec(
        "crm",
        "customers",
        "csv",
        (
            _c("customer_no", required=True),
            _c("name", pii="name"),
            _c("gender"),
            _c("birth_date", "date"),
            _c("id_type"),
            _c("id_number", pii="id_number"),
            _c("mobile", pii="phone"),
            _c("email", pii="email"),
            _c("province", free_text=True),
            _c("city", free_text=True),
            _c("risk_level"),
            _c("risk_assessed_date", "date"),
            _c("kyc_status"),
            _c("open_date", "date"),
            _c("open_channel"),
            _c("updated_at", "timestamp"),
        ),
        description="CRM customers: a full snapshot on the first day, then daily deltas.",
        encoding="utf-8-sig",
    ),
    TableSpec(
        "crm",
        "bank_cards",
        "csv",
        (
            _c("card_id", required=True),
            _c("customer_no"),
            _c("bank_name", free_text=True),
            _c("card_number", pii="card_number"),
            _c("bound_at", "timestamp"),
            _c("card_status"),
            _c("updated_at", "timestamp"),
        ),
        description="Bank cards bound to customers.",
        encoding="utf-8-sig",
    ),
    TableSpec(
        "crm",
        "marketing_consents",
        "csv",
        (
            _c("customer_no", required=True),
            _c("channel", required=True),
            _c("consent_status"),
            _c("updated_at", "timestamp"),
        ),
        description="Marketing consent per customer and channel (SMS, phone, app push, WeChat).",
        encoding="utf-8-sig",
    ),
)


def _p(name: str, kind: ColumnKind = "text", **options: object) -> Column:
    return Column(name, kind, json_path=f"$.properties.{name}", **options)  # type: ignore[arg-type]


TRACKING_TABLES = (
    TableSpec(
        "tracking",
        "events",
        "jsonl",
        (
            Column("event_id", required=True, json_path="$.event_id"),
            Column("event_name", required=True, json_path="$.event"),
            Column("client_time_ms", "int", required=True, json_path="$.time"),
            # The collector's clock: judged against the delivery day. The client clock (time) is not: phones
            # with wrong clocks are flagged downstream (stg_tracking__events, clock_skew), not quarantined.
            Column("receive_time_ms", "int", required=True, json_path="$.receive_time", epoch_ms=True),
            Column("anonymous_id", json_path="$.anonymous_id"),
            Column("login_id", json_path="$.login_id"),
            _p("platform", free_text=True),
            _p("sdk_version", free_text=True),
            _p("screen_name", free_text=True),
            _p("url", free_text=True),
            _p("app_section", free_text=True),
            _p("referrer", free_text=True),
            _p("utm_source", free_text=True),
            _p("utm_medium", free_text=True),
            _p("utm_campaign", free_text=True),
            _p("utm_term", free_text=True),
            _p("user_agent", free_text=True),
            _p("device_model", free_text=True),
            _p("fund_code"),
            _p("amount", "amount"),
            _p("order_id"),
            _p("customer_no"),
            _p("phone", pii="phone"),
            _p("wx_openid", pii="wechat_id"),
            _p("wx_unionid", pii="wechat_id"),
        ),
        description="Behaviour events from app, web, H5 and WeChat mini-program, by day received.",
    ),
)

ALL_TABLES: tuple[TableSpec, ...] = TRADE_TABLES + CRM_TABLES + TRACKING_TABLES
TABLES_BY_KEY: dict[tuple[str, str], TableSpec] = {spec.key: spec for spec in ALL_TABLES}


def tables_of(source: str) -> tuple[TableSpec, ...]:
    """The raw tables of one source system."""
    return tuple(spec for spec in ALL_TABLES if spec.source == source)
