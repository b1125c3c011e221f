"""Render the trade and CRM tables into delivered CSV rows (text fields, delivery day, truth metadata).

Full-then-delta tables deliver, on day 1, the latest version of every record up to the end of day 1,
then each later day the latest version of every record changed that day (local Asia/Shanghai days).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from demo_sources.config import SHANGHAI_OFFSET_MS, Window, local_day
from demo_sources.crm import Crm
from demo_sources.funds import Funds
from demo_sources.identifiers import PersonIds
from demo_sources.trades import NO_DAY, NULL, Trades, positions_on, share_deltas

TRADE_COLUMNS = {
    "fund_products": [
        "fund_code",
        "fund_name",
        "fund_type",
        "risk_rating",
        "management_company",
        "inception_date",
        "status",
    ],
    "fund_accounts": [
        "fund_account_id",
        "customer_no",
        "open_date",
        "open_channel",
        "account_status",
        "updated_at",
    ],
    "trade_orders": [
        "order_id",
        "fund_account_id",
        "fund_code",
        "trade_type",
        "order_at",
        "confirm_date",
        "order_status",
        "amount",
        "shares",
        "nav",
        "fee",
        "target_fund_code",
        "sip_agreement_id",
        "channel",
    ],
    "sip_agreements": [
        "sip_agreement_id",
        "fund_account_id",
        "fund_code",
        "amount",
        "frequency",
        "start_date",
        "sip_status",
        "status_changed_date",
        "updated_at",
    ],
    "nav": ["fund_code", "nav_date", "nav", "accumulated_nav"],
    "holdings": ["snapshot_date", "fund_account_id", "fund_code", "shares", "market_value"],
}
CRM_COLUMNS = {
    "customers": [
        "customer_no",
        "name",
        "gender",
        "birth_date",
        "id_type",
        "id_number",
        "mobile",
        "email",
        "province",
        "city",
        "risk_level",
        "risk_assessed_date",
        "kyc_status",
        "open_date",
        "open_channel",
        "updated_at",
    ],
    "bank_cards": [
        "card_id",
        "customer_no",
        "bank_name",
        "card_number",
        "bound_at",
        "card_status",
        "updated_at",
    ],
    "marketing_consents": ["customer_no", "channel", "consent_status", "updated_at"],
}
SOURCE_TABLES = {"trade": TRADE_COLUMNS, "crm": CRM_COLUMNS}


@dataclass
class TableRows:
    """Delivered rows of one table, sorted by delivery day then the file's row order."""

    source: str
    table: str
    fields: dict[str, np.ndarray]  # column -> formatted text ('' = null), in header order
    deliver_day: np.ndarray
    person: np.ndarray  # person index behind the row, -1 if none
    amount_c: np.ndarray | None = None  # amounts for the control file, NULL = empty
    identifiers: dict[str, np.ndarray] = field(default_factory=dict)  # identifier type -> raw value per row
    defect: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))  # kind name or None
    detail: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))

    def __post_init__(self) -> None:
        n = len(self.deliver_day)
        if len(self.defect) != n:
            self.defect = np.full(n, None, dtype=object)
            self.detail = np.full(n, None, dtype=object)

    @property
    def header(self) -> list[str]:
        """Column names of the table, in the documented order."""
        return SOURCE_TABLES[self.source][self.table]

    def __len__(self) -> int:
        return len(self.deliver_day)

    def take(self, idx: np.ndarray) -> TableRows:
        """Rows at `idx`, in that order."""
        return TableRows(
            source=self.source,
            table=self.table,
            fields={k: v[idx] for k, v in self.fields.items()},
            deliver_day=self.deliver_day[idx],
            person=self.person[idx],
            amount_c=None if self.amount_c is None else self.amount_c[idx],
            identifiers={k: v[idx] for k, v in self.identifiers.items()},
            defect=self.defect[idx],
            detail=self.detail[idx],
        )

    @staticmethod
    def concat(parts: list[TableRows]) -> TableRows:
        """Rows of several parts of one table, in order."""
        first = parts[0]
        return TableRows(
            source=first.source,
            table=first.table,
            fields={k: np.concatenate([p.fields[k] for p in parts]) for k in first.fields},
            deliver_day=np.concatenate([p.deliver_day for p in parts]),
            person=np.concatenate([p.person for p in parts]),
            amount_c=None if first.amount_c is None else np.concatenate([p.amount_c for p in parts]),
            identifiers={k: np.concatenate([p.identifiers[k] for p in parts]) for k in first.identifiers},
            defect=np.concatenate([p.defect for p in parts]),
            detail=np.concatenate([p.detail for p in parts]),
        )


# --- text formats -------------------------------------------------------------------------------------


def money_text(cents: np.ndarray) -> np.ndarray:
    """Hundredths (amounts, shares) as `123.45`; NULL as ''."""
    cents = np.asarray(cents, dtype=np.int64)
    text = np.char.add(
        np.char.add((cents // 100).astype(str), "."), np.char.zfill((cents % 100).astype(str), 2)
    )
    return np.where(cents == NULL, "", text).astype(object)


def nav_text(units: np.ndarray) -> np.ndarray:
    """NAV units of 0.0001 as `1.2345`; NULL as ''."""
    units = np.asarray(units, dtype=np.int64)
    text = np.char.add(
        np.char.add((units // 10_000).astype(str), "."), np.char.zfill((units % 10_000).astype(str), 4)
    )
    return np.where(units == NULL, "", text).astype(object)


def date_text(days: np.ndarray) -> np.ndarray:
    """Epoch days as `YYYY-MM-DD`; NO_DAY as ''."""
    days = np.asarray(days, dtype=np.int64)
    text = np.datetime_as_string(days.astype("datetime64[D]"))
    return np.where(days == NO_DAY, "", text).astype(object)


def timestamp_text(ms: np.ndarray) -> np.ndarray:
    """UTC epoch ms as Asia/Shanghai local `YYYY-MM-DD HH:MM:SS`."""
    seconds = (np.asarray(ms, dtype=np.int64) + SHANGHAI_OFFSET_MS) // 1000
    return np.char.replace(np.datetime_as_string(seconds.astype("datetime64[s]")), "T", " ").astype(object)


def text(values: np.ndarray) -> np.ndarray:
    """Strings with None as '', quoted only when a comma or quote requires it."""
    values = np.asarray(values, dtype=object)
    out = np.where(pd.isna(values), "", values).astype(str)
    needs = np.char.find(out, ",") >= 0
    needs |= np.char.find(out, '"') >= 0
    if needs.any():
        out = out.astype(object)
        out[needs] = [quote(v) for v in out[needs]]
    return out.astype(object)


def quote(value: str) -> str:
    """CSV-quote one field (a quote inside is doubled)."""
    return '"' + value.replace('"', '""') + '"'


def quoted(values: np.ndarray) -> np.ndarray:
    """Always-quoted text (the trade system quotes fund names)."""
    values = np.asarray(values).astype(str)
    return np.char.add(np.char.add('"', np.char.replace(values, '"', '""')), '"').astype(object)


# --- tables -------------------------------------------------------------------------------------------


def full_then_delta(versions: pd.DataFrame, key: list[str], window: Window) -> pd.DataFrame:
    """Latest version per key up to day 1 (the full file), then per key and later change day."""
    day = local_day(versions.updated_ms.to_numpy())
    frame = versions.assign(deliver_day=np.maximum(day, window.start_day))[day <= window.end_day]
    frame = frame.sort_values(key + ["deliver_day", "updated_ms"], kind="stable")
    return frame.drop_duplicates(key + ["deliver_day"], keep="last")


def render_trade_tables(trades: Trades, funds: Funds, pid: PersonIds, window: Window) -> dict[str, TableRows]:
    """All six trade system tables."""
    customers = pid.customer_person
    account_id = pid.fund_account_id
    out: dict[str, TableRows] = {}

    days = np.arange(window.start_day, window.end_day + 1)
    order = np.argsort(funds.code)
    fund_idx = np.tile(order, len(days))
    product_day = np.repeat(days, len(order))
    out["fund_products"] = TableRows(
        "trade",
        "fund_products",
        {
            "fund_code": funds.code[fund_idx].astype(object),
            "fund_name": quoted(funds.name[fund_idx]),
            "fund_type": funds.fund_type[fund_idx].astype(object),
            "risk_rating": np.char.add("R", funds.risk[fund_idx].astype(str)).astype(object),
            "management_company": text(funds.company[fund_idx]),
            "inception_date": date_text(funds.inception_day[fund_idx]),
            "status": funds.status[fund_idx].astype(object),
        },
        product_day,
        np.full(len(fund_idx), NULL),
    )

    accounts = full_then_delta(trades.account_versions, ["customer"], window)
    accounts = accounts.assign(account_id=account_id[accounts.customer])
    accounts = accounts.sort_values(["deliver_day", "account_id"], kind="stable")
    acc_cust = accounts.customer.to_numpy()
    out["fund_accounts"] = TableRows(
        "trade",
        "fund_accounts",
        {
            "fund_account_id": account_id[acc_cust].astype(object),
            "customer_no": pid.customer_no[acc_cust].astype(object),
            "open_date": date_text(accounts.open_day),
            "open_channel": text(accounts.open_channel),
            "account_status": text(accounts.account_status),
            "updated_at": timestamp_text(accounts.updated_ms),
        },
        accounts.deliver_day.to_numpy(),
        customers[acc_cust],
        identifiers={"fund_account_id": account_id[acc_cust], "customer_no": pid.customer_no[acc_cust]},
    )

    orders = trades.orders.sort_values(["deliver_day", "order_ms", "order_id"], kind="stable")
    sip_ids = trades.sip_versions.drop_duplicates("sip").set_index("sip").sip_agreement_id
    sip = orders.sip.to_numpy()
    target = orders.target_fund.to_numpy()
    cancelled = orders.order_status.to_numpy() == "cancelled"
    out["trade_orders"] = TableRows(
        "trade",
        "trade_orders",
        {
            "order_id": orders.order_id.to_numpy().astype(object),
            "fund_account_id": account_id[orders.customer].astype(object),
            "fund_code": funds.code[orders.fund].astype(object),
            "trade_type": text(orders.trade_type),
            "order_at": timestamp_text(orders.order_ms),
            "confirm_date": date_text(np.where(cancelled, NO_DAY, orders.confirm_day)),
            "order_status": text(orders.order_status),
            "amount": money_text(orders.amount_c),
            "shares": money_text(orders.shares_c),
            "nav": nav_text(orders.nav_u),
            "fee": money_text(orders.fee_c),
            "target_fund_code": np.where(target >= 0, funds.code[np.maximum(target, 0)], "").astype(object),
            "sip_agreement_id": np.where(sip >= 0, sip_ids.reindex(sip).to_numpy(), "").astype(object),
            "channel": text(orders.channel),
        },
        orders.deliver_day.to_numpy(),
        customers[orders.customer],
        amount_c=orders.amount_c.to_numpy(),
    )

    sips = full_then_delta(trades.sip_versions, ["sip"], window)
    sips = sips.sort_values(["deliver_day", "sip_agreement_id"], kind="stable")
    out["sip_agreements"] = TableRows(
        "trade",
        "sip_agreements",
        {
            "sip_agreement_id": sips.sip_agreement_id.to_numpy().astype(object),
            "fund_account_id": account_id[sips.customer].astype(object),
            "fund_code": funds.code[sips.fund].astype(object),
            "amount": money_text(sips.amount_c),
            "frequency": text(sips.frequency),
            "start_date": date_text(sips.start_day),
            "sip_status": text(sips.sip_status),
            "status_changed_date": date_text(sips.status_changed_day),
            "updated_at": timestamp_text(sips.updated_ms),
        },
        sips.deliver_day.to_numpy(),
        customers[sips.customer],
        amount_c=sips.amount_c.to_numpy(),
    )

    in_window = (funds.trading_days >= window.start_day) & (funds.trading_days <= window.end_day)
    cols = np.flatnonzero(in_window)
    fund_grid, col_grid = np.meshgrid(order, cols)  # rows: day, then fund code
    fund_grid, col_grid = fund_grid.ravel(), col_grid.ravel()
    has_nav = funds.nav[fund_grid, col_grid] > 0
    fund_grid, col_grid = fund_grid[has_nav], col_grid[has_nav]
    out["nav"] = TableRows(
        "trade",
        "nav",
        {
            "fund_code": funds.code[fund_grid].astype(object),
            "nav_date": date_text(funds.trading_days[col_grid]),
            "nav": nav_text(funds.nav[fund_grid, col_grid]),
            "accumulated_nav": nav_text(funds.accumulated_nav[fund_grid, col_grid]),
        },
        funds.trading_days[col_grid],
        np.full(len(fund_grid), NULL),
    )

    out["holdings"] = _holdings(trades, funds, pid)
    return out


def holdings_frame(trades: Trades, funds: Funds) -> pd.DataFrame:
    """Snapshot rows: snapshot_day, customer, fund, shares_c, market_value_c (shares x NAV as of the day)."""
    deltas = share_deltas(trades.initial_holdings, trades.orders)
    frames = []
    for day in trades.snapshot_days:
        pos = positions_on(deltas, int(day))
        nav = funds.nav_asof(pos.fund.to_numpy(), np.full(len(pos), day))
        value = (pos.shares_c.to_numpy() * nav + 5000) // 10_000
        frames.append(pos.assign(snapshot_day=int(day), market_value_c=value))
    return pd.concat(frames, ignore_index=True)


def _holdings(trades: Trades, funds: Funds, pid: PersonIds) -> TableRows:
    frame = holdings_frame(trades, funds)
    frame = frame.assign(account=pid.fund_account_id[frame.customer], code=funds.code[frame.fund])
    frame = frame.sort_values(["snapshot_day", "account", "code"], kind="stable")
    return TableRows(
        "trade",
        "holdings",
        {
            "snapshot_date": date_text(frame.snapshot_day),
            "fund_account_id": frame.account.to_numpy().astype(object),
            "fund_code": frame.code.to_numpy().astype(object),
            "shares": money_text(frame.shares_c),
            "market_value": money_text(frame.market_value_c),
        },
        frame.snapshot_day.to_numpy(),
        pid.customer_person[frame.customer],
    )


def render_crm_tables(crm: Crm, pid: PersonIds, window: Window) -> dict[str, TableRows]:
    """The three CRM tables."""
    customers = pid.customer_person
    out: dict[str, TableRows] = {}
    cust = full_then_delta(crm.customer_versions, ["customer"], window)
    cust = cust.sort_values(["deliver_day", "customer_no", "updated_ms"], kind="stable")
    out["customers"] = customer_rows(cust, customers)

    cards = full_then_delta(crm.card_versions, ["card"], window)
    cards = cards.sort_values(["deliver_day", "card_id"], kind="stable")
    out["bank_cards"] = TableRows(
        "crm",
        "bank_cards",
        {
            "card_id": cards.card_id.to_numpy().astype(object),
            "customer_no": pid.customer_no[cards.customer].astype(object),
            "bank_name": text(cards.bank_name),
            "card_number": cards.card_number.to_numpy().astype(object),
            "bound_at": timestamp_text(cards.bound_ms),
            "card_status": text(cards.card_status),
            "updated_at": timestamp_text(cards.updated_ms),
        },
        cards.deliver_day.to_numpy(),
        customers[cards.customer],
        identifiers={"customer_no": pid.customer_no[cards.customer]},
    )

    consents = full_then_delta(crm.consent_versions, ["customer", "channel"], window)
    consents = consents.assign(customer_no=pid.customer_no[consents.customer])
    consents = consents.sort_values(["deliver_day", "customer_no", "channel"], kind="stable")
    out["marketing_consents"] = TableRows(
        "crm",
        "marketing_consents",
        {
            "customer_no": consents.customer_no.to_numpy().astype(object),
            "channel": text(consents.channel),
            "consent_status": text(consents.consent_status),
            "updated_at": timestamp_text(consents.updated_ms),
        },
        consents.deliver_day.to_numpy(),
        customers[consents.customer],
    )
    return out


def customer_rows(cust: pd.DataFrame, customers: np.ndarray) -> TableRows:
    """Customer rows from customer versions (also used for dirt rows built from versions)."""
    return TableRows(
        "crm",
        "customers",
        {
            "customer_no": cust.customer_no.to_numpy().astype(object),
            "name": text(cust.name),
            "gender": text(cust.gender),
            "birth_date": date_text(cust.birth_day),
            "id_type": text(cust.id_type),
            "id_number": text(cust.id_number),
            "mobile": text(cust.mobile),
            "email": text(cust.email),
            "province": text(cust.province),
            "city": text(cust.city),
            "risk_level": np.char.add("C", cust.risk_level.to_numpy().astype(str)).astype(object),
            "risk_assessed_date": date_text(cust.risk_assessed_day),
            "kyc_status": text(cust.kyc_status),
            "open_date": date_text(cust.open_day),
            "open_channel": text(cust.open_channel),
            "updated_at": timestamp_text(cust.updated_ms),
        },
        cust.deliver_day.to_numpy(),
        customers[cust.customer.to_numpy()],
        identifiers={
            "customer_no": cust.customer_no.to_numpy().astype(object),
            "phone": cust.mobile.to_numpy().astype(object),
            "id_number": cust.id_number.to_numpy().astype(object),
            "email": cust.email.to_numpy().astype(object),
        },
    )
