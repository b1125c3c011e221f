"""Fund products and their NAV: about 40 funds over all 7 types and risk ratings R1-R5.

NAV is a random walk on trading days (weekdays) with a shared market factor for equity-like funds;
money market funds stay at 1.0000. Two new funds (NFO) take subscriptions during an offering period
inside the window and start their NAV at 1.0000 on the inception date; two old funds are closed (no NAV,
no trading). Some bond-like funds pay one dividend in the window: the NAV drops by the dividend on the
ex-date while the accumulated NAV goes on.
All NAVs are integers in units of 0.0001 CNY so that downstream arithmetic is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from demo_sources import ids
from demo_sources import reference as ref
from demo_sources.config import EPOCH, TradingCalendar, Window

NAV_UNIT = 10_000  # nav values are integers of 0.0001 CNY


@dataclass
class Funds:
    """Fund master data and NAV per (fund, trading day of the calendar)."""

    code: np.ndarray
    name: np.ndarray
    fund_type: np.ndarray
    risk: np.ndarray  # 1..5
    company: np.ndarray
    inception_day: np.ndarray  # epoch day
    status: np.ndarray
    popularity: np.ndarray  # float weights (0 for funds that cannot be bought)
    purchase_fee_rate: np.ndarray
    confirm_lag: np.ndarray  # trading days from trade date to confirmation
    offer_start: np.ndarray  # epoch day, -1 unless NFO
    offer_end: np.ndarray
    dividend_day: np.ndarray  # ex-date epoch day, -1 = none
    dividend_per_share: np.ndarray  # NAV units
    trading_days: np.ndarray  # epoch days (calendar columns of `nav`)
    nav: np.ndarray  # int64 (funds x trading days), 0 = no NAV that day
    accumulated_nav: np.ndarray

    @property
    def size(self) -> int:
        """Number of funds."""
        return len(self.code)

    def column(self, day: np.ndarray) -> np.ndarray:
        """Calendar column of the last trading day on or before each epoch day."""
        return np.searchsorted(self.trading_days, np.asarray(day), side="right") - 1

    def nav_asof(self, fund: np.ndarray, day: np.ndarray) -> np.ndarray:
        """NAV of each fund on its last trading day on or before `day` (0 if none yet)."""
        return self.nav[np.asarray(fund), self.column(day)]

    def buyable(self) -> np.ndarray:
        """Funds open for purchases (active, not in an NFO offering)."""
        return (self.status == "active") & (self.offer_start < 0)


def build_funds(rng: np.random.Generator, window: Window, calendar: TradingCalendar) -> Funds:
    """Create the fund list and NAV history covering the calendar (a little before and after the window)."""
    types, risks, vols, fees, names, companies = [], [], [], [], [], []
    company_weights = np.array([w for _, _, w in ref.FUND_COMPANIES])
    for fund_type, (count, risk_options, vol, fee, themes) in ref.FUND_TYPES.items():
        for i in range(count):
            c = int(rng.choice(len(ref.FUND_COMPANIES), p=company_weights / company_weights.sum()))
            share_class = "A" if rng.random() < 0.75 or fund_type == "money_market" else "C"
            types.append(fund_type)
            risks.append(int(rng.choice(risk_options)))
            vols.append(vol)
            fees.append(fee)
            companies.append(ref.FUND_COMPANIES[c][0])
            names.append(f"{ref.FUND_COMPANIES[c][1]}{themes[i % len(themes)]}{share_class}")
    n = len(types)
    fund_type = np.array(types)
    # every risk rating R1-R5 exists whatever the draws
    for rating, fund_kind in ((5, "equity"), (3, "hybrid"), (4, "index")):
        if rating not in risks:
            risks[types.index(fund_kind)] = rating
    leading = np.array(["0", "1", "2", "5", "9"])

    def draw(k: int) -> np.ndarray:
        return np.char.add(leading[rng.integers(0, len(leading), k)], ids.digit_strings(rng, k, 5))

    code = ids.unique_draw(draw, n)
    earliest = min((date(2012, 1, 1) - EPOCH).days, window.start_day - 3650)
    inception = rng.integers(earliest, window.start_day - 90, n)
    status = np.full(n, "active", dtype=object)
    offer_start = np.full(n, -1, dtype=np.int64)
    offer_end = np.full(n, -1, dtype=np.int64)

    # Two closed funds (liquidated before the window) and, if the window is long enough, two NFOs.
    candidates = np.flatnonzero(np.isin(fund_type, ["hybrid", "equity", "index"]))
    chosen = rng.choice(candidates, size=4, replace=False)
    status[chosen[:2]] = "closed"
    if window.days >= 30:
        for j, (lo, hi) in zip(chosen[2:], [(0.25, 0.40), (0.55, 0.70)], strict=True):
            start = window.start_day + int(window.days * lo)
            offer_start[j] = start
            offer_end[j] = window.start_day + int(window.days * hi)
            inception[j] = calendar.nth_after(np.array([offer_end[j] + 2]), 1)[0]

    popularity = rng.pareto(1.2, n) + 0.2
    popularity[fund_type == "money_market"] *= 3.0
    popularity[status == "closed"] = 0.0
    confirm_lag = np.where(fund_type == "qdii", 2, 1)

    dividend_day = np.full(n, -1, dtype=np.int64)
    dividend_per_share = np.zeros(n, dtype=np.int64)
    in_window_trading = calendar.trading_days[
        (calendar.trading_days >= window.start_day + 2) & (calendar.trading_days <= window.end_day - 3)
    ]
    payers = np.isin(fund_type, ["bond", "fixed_income_plus"]) & (rng.random(n) < 0.5) & (offer_start < 0)
    if len(in_window_trading):
        dividend_day[payers] = rng.choice(in_window_trading, size=int(payers.sum()))
        dividend_per_share[payers] = rng.integers(50, 300, int(payers.sum()))

    nav, acc = _nav_paths(
        rng,
        calendar.trading_days,
        fund_type,
        np.array(vols),
        inception,
        status,
        dividend_day,
        dividend_per_share,
    )
    return Funds(
        code=code,
        name=np.array(names),
        fund_type=fund_type,
        risk=np.array(risks),
        company=np.array(companies),
        inception_day=inception.astype(np.int64),
        status=status.astype(str),
        popularity=popularity,
        purchase_fee_rate=np.array(fees),
        confirm_lag=confirm_lag,
        offer_start=offer_start,
        offer_end=offer_end,
        dividend_day=dividend_day,
        dividend_per_share=dividend_per_share,
        trading_days=calendar.trading_days,
        nav=nav,
        accumulated_nav=acc,
    )


def _nav_paths(
    rng: np.random.Generator,
    trading_days: np.ndarray,
    fund_type: np.ndarray,
    vols: np.ndarray,
    inception: np.ndarray,
    status: np.ndarray,
    dividend_day: np.ndarray,
    dividend_per_share: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Random-walk NAV and accumulated NAV (NAV units) for every fund and trading day."""
    n, t = len(fund_type), len(trading_days)
    market = rng.normal(0.0003, 0.011, t)
    equity_like = np.isin(fund_type, ["hybrid", "equity", "index", "qdii"])
    beta = np.where(equity_like, rng.uniform(0.6, 1.1, n), 0.0)
    idio = rng.normal(0.0, 1.0, (n, t)) * (vols * np.where(equity_like, 0.55, 1.0))[:, None]
    drift = np.where(fund_type == "bond", 0.00012, np.where(fund_type == "fixed_income_plus", 0.0002, 0.0))
    log_returns = beta[:, None] * market[None, :] + idio + drift[:, None]
    started = trading_days[None, :] >= inception[:, None]
    # no return before the first NAV, so that an NFO starts at exactly 1.0000
    log_returns[trading_days[None, :] <= inception[:, None]] = 0.0
    log_returns[:, 0] = 0.0
    # NFOs (inception after the calendar start) begin at exactly 1.0000; older funds anywhere 0.9-3.2.
    first_day_known = inception < trading_days[0]
    start_nav = np.where(first_day_known, rng.uniform(0.9, 3.2, n), 1.0)
    path = start_nav[:, None] * np.exp(np.cumsum(log_returns, axis=1))
    acc_offset = np.where(first_day_known, rng.uniform(0.0, 1.2, n), 0.0)
    dividends = np.where(
        (dividend_day[:, None] >= 0) & (trading_days[None, :] >= dividend_day[:, None]),
        dividend_per_share[:, None],
        0,
    )
    nav = np.round(path * 10_000).astype(np.int64) - dividends
    acc = np.round((path + acc_offset[:, None]) * 10_000).astype(np.int64)
    money_market = fund_type == "money_market"
    nav[money_market] = 10_000
    acc[money_market] = 10_000
    nav[~started] = 0
    acc[~started] = 0
    closed = status == "closed"
    nav[closed] = 0
    acc[closed] = 0
    return nav, acc
