"""The trade system: fund accounts, orders, SIP agreements and the holdings they add up to.

Money is integer throughout (amounts and shares in hundredths, NAV in 0.0001), so holdings snapshots
equal initial holdings plus confirmed trades exactly. Rules the data follows:

* trade date T = the order day if it is a trading day and the order came before 15:00, else the next
  trading day; confirm_date = T + 1 trading day (QDII T + 2); the confirmation NAV is the NAV of T.
  NFO subscriptions confirm on the fund's inception date at NAV 1.0000.
* confirmed and failed orders are delivered on their confirm date, cancelled ones on their order day;
  orders that would be delivered after the window end are not generated (nor their tracking events).
* purchase / subscription / SIP deduction: shares = round((amount - fee) / nav, 2), fee included in amount.
* redemption: amount = round(shares * nav, 2) - fee. Redemptions and conversions only take shares the
  account held at the window start, so no position ever goes negative.
* conversion: shares leave fund_code, amount = round(shares * nav, 2), and round((amount - fee) / NAV of
  target_fund_code on the trading day before confirm_date, 2) shares arrive in target_fund_code.
* dividend (bond-like funds, one ex-date): amount = shares held on the record day (trading day before the
  ex-date) x dividend per share; half the holdings reinvest (shares = round(amount / nav, 2)), the others
  take cash (shares 0.00).
* channel: where the order was placed (app, web, h5, wechat, branch); `system` for SIP deductions and
  dividends.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from demo_sources import ids
from demo_sources import reference as ref
from demo_sources.config import DAY_MS, SHANGHAI_OFFSET_MS, TradingCalendar, Window, local_day
from demo_sources.funds import NAV_UNIT, Funds
from demo_sources.identifiers import PersonIds
from demo_sources.population import (
    CHURNED,
    CHURNING,
    DORMANT,
    GROWING,
    MATURE,
    Population,
    diurnal_offsets_ms,
    sample_days,
)

NULL = -1
NO_DAY = -1_000_000  # null epoch day (-1 is a real day: 1969-12-31, a birthday)
# Expected purchases in 90 days by archetype (mature, growing, churning, dormant, churned).
PURCHASES_PER_90_DAYS = np.array([2.5, 3.0, 1.2, 0.15, 0.0])
REDEMPTION_FEE_PPM = {"money_market": 0, "bond": 1000, "fixed_income_plus": 2500}
EQUITY_REDEMPTION_FEE_PPM = 5000
CONVERSION_FEE_PPM = 1000


@dataclass
class Trades:
    """Everything the trade system holds about the window."""

    initial_holdings: pd.DataFrame  # customer, fund, shares_c (at the window start)
    orders: pd.DataFrame
    sip_versions: pd.DataFrame  # one row per agreement state change
    account_versions: pd.DataFrame  # one row per account state change
    snapshot_days: np.ndarray


def div_round(numerator: np.ndarray, denominator: np.ndarray | int) -> np.ndarray:
    """Integer division rounding half up (all operands non-negative)."""
    numerator = np.asarray(numerator, dtype=np.int64)
    denominator = np.asarray(denominator, dtype=np.int64)
    return (2 * numerator + denominator) // (2 * denominator)


def local_ms(day: np.ndarray, ms_of_day: np.ndarray | int) -> np.ndarray:
    """UTC epoch ms of a local (Asia/Shanghai) day and time of day."""
    return np.asarray(day, dtype=np.int64) * DAY_MS - SHANGHAI_OFFSET_MS + ms_of_day


def pick_funds(
    rng: np.random.Generator, risk_level: np.ndarray, funds: Funds, allowed: np.ndarray, mismatch: float
) -> np.ndarray:
    """A fund per request by popularity; within the risk tolerance except for a `mismatch` share.

    A mismatch picks a fund rated above the customer's risk level (when there is one).
    """
    out = np.zeros(len(risk_level), dtype=np.int64)
    wrong = rng.random(len(risk_level)) < mismatch
    for level in range(1, 6):
        for above in (False, True):
            idx = np.flatnonzero((risk_level == level) & (wrong == above))
            if len(idx) == 0:
                continue
            ok = allowed & ((funds.risk > level) if above else (funds.risk <= level))
            if not ok.any():
                ok = allowed & (funds.risk <= level)
            if not ok.any():  # nothing fits (e.g. C1 and no R1 fund allowed): the least risky allowed ones
                ok = allowed & (funds.risk == funds.risk[allowed].min())
            weights = np.where(ok, funds.popularity, 0.0)
            out[idx] = rng.choice(funds.size, size=len(idx), p=weights / weights.sum())
    return out


def build_trades(
    rng: np.random.Generator,
    pop: Population,
    pid: PersonIds,
    funds: Funds,
    window: Window,
    calendar: TradingCalendar,
    card_from_ms: np.ndarray,
) -> Trades:
    """Generate initial holdings, all orders of the window, SIP agreements and account states.

    `card_from_ms` is, per customer, when the first bank card was bound (-1 = never): no purchase before.
    """
    customers = pid.customer_person
    initial = _initial_holdings(rng, pop, customers, funds, window)
    purchases = _purchases(rng, pop, customers, funds, window, card_from_ms)
    outflows = _outflows(rng, pop, customers, funds, window, initial)
    sip_versions, deductions = _sip(rng, pop, customers, funds, window, calendar, card_from_ms)
    orders = pd.concat([purchases, outflows, deductions], ignore_index=True)
    orders = _settle(rng, orders, funds, window, calendar)
    orders = pd.concat([orders, _dividends(rng, orders, initial, funds, window, calendar)], ignore_index=True)
    orders = _assign_order_ids(rng, orders)
    snapshot_days = window.month_end_days()
    accounts = _account_versions(rng, pop, pid, window, initial, orders)
    return Trades(initial, orders, sip_versions, accounts, snapshot_days)


def _initial_holdings(
    rng: np.random.Generator, pop: Population, customers: np.ndarray, funds: Funds, window: Window
) -> pd.DataFrame:
    """Positions at the window start; high net worth customers hold millions."""
    arch = pop.archetype[customers]
    pre = ~pop.in_window[customers]
    hnw = pop.is_hnw[customers]
    n = len(customers)
    value_cny = np.where(
        hnw,
        np.maximum(rng.lognormal(np.log(2.5e6), 0.6, n), 1.3e6),
        np.clip(rng.lognormal(np.log(25_000), 1.2, n), 100, 800_000),
    )
    churned = arch == CHURNED
    value_cny = np.where(
        churned, np.where(rng.random(n) < 0.4, rng.lognormal(np.log(2000), 1.0, n), 0), value_cny
    )
    holds = pre & (value_cny >= 100)
    k = np.minimum(1 + rng.poisson(1.3, n) + np.where(hnw, 2, 0), 8)
    k = np.where(holds, k, 0)
    owner = np.repeat(np.arange(n), k)
    allowed = funds.buyable() & (funds.inception_day < window.start_day)
    fund = pick_funds(rng, pop.risk_level[customers][owner], funds, allowed, mismatch=0.05)
    share = rng.gamma(1.0, 1.0, len(owner))
    share /= np.bincount(owner, weights=share, minlength=n)[owner]
    value_c = np.round(value_cny[owner] * share * 100).astype(np.int64)
    nav = funds.nav_asof(fund, np.full(len(fund), window.start_day - 1))
    shares_c = div_round(value_c * NAV_UNIT, nav)
    frame = pd.DataFrame({"customer": owner, "fund": fund, "shares_c": shares_c})
    frame = frame[frame.shares_c > 0].groupby(["customer", "fund"], as_index=False)["shares_c"].sum()
    return frame.sort_values(["customer", "fund"], ignore_index=True)


def _order_frame(
    customer: np.ndarray,
    fund: np.ndarray,
    trade_type: str | np.ndarray,
    order_ms: np.ndarray,
    **extra: np.ndarray,
) -> pd.DataFrame:
    n = len(customer)
    frame = pd.DataFrame(
        {
            "customer": customer.astype(np.int64),
            "fund": fund.astype(np.int64),
            "trade_type": np.broadcast_to(np.asarray(trade_type, dtype=object), (n,)).copy(),
            "order_ms": order_ms.astype(np.int64),
            "amount_c": np.full(n, NULL, dtype=np.int64),
            "shares_c": np.full(n, NULL, dtype=np.int64),
            "target_fund": np.full(n, NULL, dtype=np.int64),
            "sip": np.full(n, NULL, dtype=np.int64),
            "platform": np.full(n, NULL, dtype=np.int64),
            "channel": np.full(n, "system", dtype=object),
        }
    )
    for key, value in extra.items():
        frame[key] = value
    return frame


def _session_platform(rng: np.random.Generator, pop: Population, persons: np.ndarray) -> np.ndarray:
    """Platform a person acts on: mostly the primary one, sometimes the secondary."""
    secondary = pop.secondary_platform[persons]
    use_second = (secondary >= 0) & (rng.random(len(persons)) < 0.15)
    return np.where(use_second, secondary, pop.platform[persons]).astype(np.int64)


def _purchases(
    rng: np.random.Generator,
    pop: Population,
    customers: np.ndarray,
    funds: Funds,
    window: Window,
    card_from_ms: np.ndarray,
) -> pd.DataFrame:
    """Purchases (and NFO subscriptions) placed in digital channels or at a branch."""
    n = len(customers)
    arch = pop.archetype[customers]
    pre = ~pop.in_window[customers]
    has_card = card_from_ms >= 0
    expected = np.where(pre & (arch <= CHURNED), PURCHASES_PER_90_DAYS[np.minimum(arch, 4)], 0.0)
    expected = expected * window.days / 90 * np.where(pop.is_hnw[customers], 1.5, 1.0)
    count = np.where(pre & has_card & (card_from_ms < window.start_ms), rng.poisson(expected), 0)
    owner = np.repeat(np.arange(n), count)
    day = sample_days(rng, pop.browse_rate, customers[owner])
    owner, day = owner[day >= 0], day[day >= 0]
    order_ms = window.start_ms + day * DAY_MS + diurnal_offsets_ms(rng, len(day))

    # New customers: the planned first purchase, then repeats on active days after it.
    first = pop.first_purchase_ms[customers]
    buyers = np.flatnonzero(first >= 0)
    repeat = buyers[pop.repeat_buyer[customers[buyers]]]
    repeat_count = rng.poisson(2.0 * window.days / 90, len(repeat)) + 1
    rep_owner = np.repeat(repeat, repeat_count)
    first_day = (first[rep_owner] - window.start_ms) // DAY_MS
    later = pop.browse_rate[customers[repeat]].copy()
    later[np.arange(window.days)[None, :] <= ((first[repeat] - window.start_ms) // DAY_MS)[:, None]] = 0
    rep_day = sample_days(rng, later, np.repeat(np.arange(len(repeat)), repeat_count))
    keep = rep_day > first_day
    rep_owner, rep_day = rep_owner[keep], rep_day[keep]
    rep_ms = window.start_ms + rep_day * DAY_MS + diurnal_offsets_ms(rng, len(rep_day))

    owner = np.concatenate([owner, buyers, rep_owner])
    order_ms = np.concatenate([order_ms, first[buyers], rep_ms])
    persons = customers[owner]
    hnw = pop.is_hnw[persons]
    amount_cny = np.where(
        hnw, rng.lognormal(np.log(80_000), 0.9, len(owner)), rng.lognormal(np.log(3000), 1.0, len(owner))
    )
    amount_c = np.maximum(np.round(amount_cny / 100), 1).astype(np.int64) * 100 * 100
    allowed = funds.buyable()
    fund = pick_funds(rng, pop.risk_level[persons], funds, allowed, mismatch=0.04)
    trade_type = np.full(len(owner), "purchase", dtype=object)
    # During an NFO offering period a share of purchases subscribe to the new fund instead.
    order_day = local_day(order_ms)
    for nfo in np.flatnonzero(funds.offer_start >= 0):
        offering = (order_day >= funds.offer_start[nfo]) & (order_day <= funds.offer_end[nfo])
        take = offering & (pop.risk_level[persons] >= funds.risk[nfo]) & (rng.random(len(owner)) < 0.3)
        fund[take] = nfo
        trade_type[take] = "subscription"
    platform = _session_platform(rng, pop, persons)
    at_branch = pre[owner] & (rng.random(len(owner)) < 0.03)
    channel = np.where(at_branch, "branch", np.array(ref.PLATFORM_CHANNEL, dtype=object)[platform])
    platform = np.where(at_branch, NULL, platform)
    return _order_frame(
        owner, fund, trade_type, order_ms, amount_c=amount_c, platform=platform, channel=channel
    )


def _outflows(
    rng: np.random.Generator,
    pop: Population,
    customers: np.ndarray,
    funds: Funds,
    window: Window,
    initial: pd.DataFrame,
) -> pd.DataFrame:
    """Redemptions and conversions, sized on the shares held at the window start.

    Churning customers redeem everything shortly before they go quiet.
    """
    owner = initial.customer.to_numpy()
    fund = initial.fund.to_numpy()
    persons = customers[owner]
    arch = pop.archetype[persons]
    m = len(owner)
    draw = rng.random(m)
    churning = arch == CHURNING
    redeem = (
        churning | (np.isin(arch, [MATURE, GROWING]) & (draw < 0.07)) | ((arch == DORMANT) & (draw < 0.03))
    )
    convertible = np.isin(funds.fund_type[fund], ["bond", "fixed_income_plus", "hybrid", "equity", "index"])
    convert = ~redeem & np.isin(arch, [MATURE, GROWING]) & convertible & (draw > 0.975)
    fraction = np.where(churning, 1.0, rng.uniform(0.2, 1.0, m))
    fraction = np.where(rng.random(m) < 0.4, 1.0, fraction)
    # high net worth customers trim positions rather than leave: they stay above 1,000,000 CNY
    fraction = np.where(pop.is_hnw[persons], np.minimum(fraction, 0.3), fraction)
    shares_c = np.where(
        fraction >= 1.0, initial.shares_c.to_numpy(), np.floor(initial.shares_c.to_numpy() * fraction)
    ).astype(np.int64)

    quiet = pop.quiet_day[persons]
    churn_day = np.maximum(quiet - rng.integers(1, 13, m), 0)
    sampled = sample_days(rng, pop.browse_rate, persons)
    day = np.where(churning, churn_day, sampled)
    acting = (redeem | convert) & (day >= 0) & (shares_c > 0)

    # Conversion target: another fund of the same company that is on sale.
    target = np.full(m, NULL, dtype=np.int64)
    buyable = funds.buyable() & (funds.fund_type != "qdii")
    for i in np.flatnonzero(convert & acting):
        options = np.flatnonzero(
            buyable & (funds.company == funds.company[fund[i]]) & (np.arange(funds.size) != fund[i])
        )
        if len(options):
            target[i] = options[rng.integers(0, len(options))]
    convert &= target >= 0
    acting &= redeem | convert
    idx = np.flatnonzero(acting)
    order_ms = window.start_ms + day[idx] * DAY_MS + diurnal_offsets_ms(rng, len(idx))
    platform = _session_platform(rng, pop, persons[idx])
    at_branch = rng.random(len(idx)) < 0.03
    channel = np.where(at_branch, "branch", np.array(ref.PLATFORM_CHANNEL, dtype=object)[platform])
    trade_type = np.where(convert[idx], "conversion", "redemption").astype(object)
    return _order_frame(
        owner[idx],
        fund[idx],
        trade_type,
        order_ms,
        shares_c=shares_c[idx],
        target_fund=target[idx],
        platform=np.where(at_branch, NULL, platform),
        channel=channel,
    )


def _sip(
    rng: np.random.Generator,
    pop: Population,
    customers: np.ndarray,
    funds: Funds,
    window: Window,
    calendar: TradingCalendar,
    card_from_ms: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """SIP agreements (versions of their state) and the deductions they trigger in the window."""
    n = len(customers)
    arch = pop.archetype[customers]
    pre = ~pop.in_window[customers]
    has_card = card_from_ms >= 0
    rate_pre = np.select([np.isin(arch, [MATURE, GROWING, CHURNING]), arch == DORMANT], [0.25, 0.15], 0.0)
    count_pre = np.where(pre & has_card & (rng.random(n) < rate_pre), 1 + (rng.random(n) < 0.2), 0)
    owner_pre = np.repeat(np.arange(n), count_pre)
    setup_pre = window.start_ms - (rng.uniform(10, 720, len(owner_pre)) * DAY_MS).astype(np.int64)

    # New agreements in the window: a fifth of new first-time buyers, 3 % of active pre-existing customers.
    first = pop.first_purchase_ms[customers]
    new_setup = (first >= 0) & (rng.random(n) < 0.2)
    active_pre = pre & has_card & np.isin(arch, [MATURE, GROWING]) & (rng.random(n) < 0.03 * window.days / 90)
    owner_new = np.concatenate([np.flatnonzero(new_setup), np.flatnonzero(active_pre)])
    after = np.concatenate([first[new_setup], np.full(int(active_pre.sum()), window.start_ms)])
    room = np.maximum(window.end_ms - after, 0)
    setup_new = after + (room * rng.uniform(0.05, 0.6, len(owner_new))).astype(np.int64)

    owner = np.concatenate([owner_pre, owner_new])
    setup_ms = np.concatenate([setup_pre, setup_new])
    in_window = np.concatenate([np.zeros(len(owner_pre), bool), np.ones(len(owner_new), bool)])
    m = len(owner)
    persons = customers[owner]
    sip_friendly = funds.buyable() & np.isin(funds.fund_type, ["index", "hybrid", "equity", "bond", "qdii"])
    fund = pick_funds(rng, pop.risk_level[persons], funds, sip_friendly, mismatch=0.03)
    hnw = pop.is_hnw[persons]
    amount_c = np.where(hnw, rng.integers(10, 200, m), rng.integers(1, 30, m)) * 100 * 100
    frequency = rng.choice(["monthly", "weekly", "biweekly"], size=m, p=[0.65, 0.20, 0.15])
    start_day = calendar.nth_after(local_day(setup_ms), 1)

    # State at the window start, then at most one change inside the window.
    status0 = np.where(
        in_window, "active", rng.choice(["active", "paused", "stopped"], size=m, p=[0.85, 0.1, 0.05])
    )
    changed0_day = np.where(
        status0 != "active", np.maximum(start_day + 7, window.start_day - rng.integers(5, 300, m)), NO_DAY
    )
    changed0_day = np.minimum(changed0_day, window.start_day - 1)
    is_active = status0 == "active"
    churner = pop.archetype[persons] == CHURNING
    draw = rng.random(m)
    change_status = np.where(churner, "stopped", np.where(draw < 0.05, "paused", "stopped"))
    changes = is_active & (churner | (draw < 0.09))
    quiet_day = window.start_day + pop.quiet_day[persons] - rng.integers(0, 10, m)
    random_day = window.start_day + rng.integers(0, window.days, m)
    change_day = np.where(churner, quiet_day, random_day)
    change_day = np.maximum(change_day, np.maximum(start_day + 1, window.start_day))
    changes &= change_day <= window.end_day
    agreement_ids = ids.numbered("SIP", rng.choice(10**9, size=m, replace=False), 9)

    versions = pd.DataFrame(
        {
            "sip": np.arange(m),
            "sip_agreement_id": agreement_ids,
            "customer": owner,
            "fund": fund,
            "amount_c": amount_c,
            "frequency": frequency,
            "start_day": start_day,
            "sip_status": "active",
            "status_changed_day": np.full(m, NO_DAY),
            "updated_ms": setup_ms,
            "setup_in_window": in_window,
            "platform": np.where(in_window, _session_platform(rng, pop, persons), NULL),
        }
    )
    pre_change = versions[status0 != "active"].copy()
    pre_change["sip_status"] = status0[status0 != "active"]
    pre_change["status_changed_day"] = changed0_day[status0 != "active"]
    pre_change["updated_ms"] = local_ms(pre_change.status_changed_day, 9 * 3_600_000)
    pre_change["setup_in_window"] = False
    win_change = versions[changes].copy()
    win_change["sip_status"] = change_status[changes]
    win_change["status_changed_day"] = change_day[changes]
    win_change["updated_ms"] = local_ms(
        win_change.status_changed_day, diurnal_offsets_ms(rng, int(changes.sum()))
    )
    win_change["setup_in_window"] = False
    all_versions = pd.concat([versions, pre_change, win_change], ignore_index=True)
    all_versions["platform"] = np.where(all_versions.setup_in_window, all_versions.platform, NULL)

    # Deductions: every scheduled date while the agreement is active inside the window.
    first_active = np.maximum(start_day, window.start_day)
    last_active = np.where(changes, change_day - 1, window.end_day)
    last_active = np.where(is_active, last_active, NO_DAY)
    sched_sip, sched_day = _schedule(frequency, start_day, first_active, last_active, window)
    trade_day = calendar.on_or_after(sched_day)
    keep = trade_day <= last_active[sched_sip]
    sched_sip, trade_day = sched_sip[keep], trade_day[keep]
    order_ms = local_ms(trade_day, 9 * 3_600_000 + rng.integers(0, 3_600_000, len(trade_day)))
    deductions = _order_frame(
        owner[sched_sip],
        fund[sched_sip],
        "sip_deduction",
        order_ms,
        amount_c=amount_c[sched_sip],
        sip=sched_sip,
    )
    return all_versions, deductions


def _schedule(
    frequency: np.ndarray, start_day: np.ndarray, first: np.ndarray, last: np.ndarray, window: Window
) -> tuple[np.ndarray, np.ndarray]:
    """Scheduled deduction days (before moving to a trading day) of each agreement within [first, last]."""
    period = np.where(frequency == "weekly", 7, 14)
    periodic = np.flatnonzero((frequency != "monthly") & (last >= first))
    k0 = np.ceil((first[periodic] - start_day[periodic]) / period[periodic]).astype(np.int64)
    steps = window.days // 7 + 2
    grid = start_day[periodic, None] + (k0[:, None] + np.arange(steps)[None, :]) * period[periodic, None]
    mask = (grid >= first[periodic, None]) & (grid <= last[periodic, None])
    sip_a = np.repeat(periodic, mask.sum(axis=1))
    day_a = grid[mask]

    monthly = np.flatnonzero((frequency == "monthly") & (last >= first))
    start_dates = start_day[monthly].astype("datetime64[D]")
    dom = np.minimum((start_dates - start_dates.astype("datetime64[M]")).astype(np.int64), 27)
    months = np.arange(
        np.datetime64(window.start, "M") - np.timedelta64(1, "M"),
        np.datetime64(window.end, "M") + np.timedelta64(2, "M"),
    )
    grid_m = months.astype("datetime64[D]").astype(np.int64)[None, :] + dom[:, None]
    mask_m = (grid_m >= first[monthly, None]) & (grid_m <= last[monthly, None])
    sip_b = np.repeat(monthly, mask_m.sum(axis=1))
    day_b = grid_m[mask_m]
    return np.concatenate([sip_a, sip_b]), np.concatenate([day_a, day_b]).astype(np.int64)


def _settle(
    rng: np.random.Generator, orders: pd.DataFrame, funds: Funds, window: Window, calendar: TradingCalendar
) -> pd.DataFrame:
    """Trade date, confirmation, status, NAV, fee, shares and amounts; drop orders delivered too late."""
    fund = orders.fund.to_numpy()
    order_ms = orders.order_ms.to_numpy()
    trade_type = orders.trade_type.to_numpy()
    order_day = local_day(order_ms)
    hour = ((order_ms + SHANGHAI_OFFSET_MS) % DAY_MS) // 3_600_000
    same_day = np.isin(order_day, calendar.trading_days) & (hour < 15)
    trade_day = np.where(same_day, order_day, calendar.nth_after(order_day, 1))
    confirm_day = calendar.nth_after(trade_day, funds.confirm_lag[fund])
    subscription = trade_type == "subscription"
    trade_day = np.where(subscription, order_day, trade_day)
    confirm_day = np.where(subscription, funds.inception_day[fund], confirm_day)

    n = len(orders)
    draw = rng.random(n)
    is_sip = trade_type == "sip_deduction"
    status = np.where(
        is_sip,
        np.where(draw < 0.05, "failed", "confirmed"),
        np.select([draw < 0.025, draw < 0.055], ["cancelled", "failed"], "confirmed"),
    )
    deliver_day = np.where(status == "cancelled", order_day, confirm_day)
    keep = deliver_day <= window.end_day
    orders = orders.assign(
        trade_day=trade_day, confirm_day=confirm_day, order_status=status, deliver_day=deliver_day
    )[keep].reset_index(drop=True)

    fund = orders.fund.to_numpy()
    trade_type = orders.trade_type.to_numpy()
    confirmed = orders.order_status.to_numpy() == "confirmed"
    nav = np.where(trade_type == "subscription", NAV_UNIT, funds.nav_asof(fund, orders.trade_day.to_numpy()))
    amount_c = orders.amount_c.to_numpy().copy()
    shares_c = orders.shares_c.to_numpy().copy()
    fee_c = np.full(len(orders), NULL, dtype=np.int64)
    target_shares = np.full(len(orders), NULL, dtype=np.int64)

    buying = np.isin(trade_type, ["purchase", "subscription", "sip_deduction"]) & confirmed
    fee_ppm = np.round(funds.purchase_fee_rate[fund] * 1e6).astype(np.int64)
    fee_c[buying] = div_round(amount_c[buying] * fee_ppm[buying], 1_000_000 + fee_ppm[buying])
    shares_c[buying] = div_round((amount_c[buying] - fee_c[buying]) * NAV_UNIT, nav[buying])

    selling = np.isin(trade_type, ["redemption", "conversion"]) & confirmed
    gross = div_round(shares_c[selling] * nav[selling], NAV_UNIT)
    redemption_ppm = np.array([REDEMPTION_FEE_PPM.get(t, EQUITY_REDEMPTION_FEE_PPM) for t in funds.fund_type])
    ppm = np.where(trade_type[selling] == "conversion", CONVERSION_FEE_PPM, redemption_ppm[fund[selling]])
    fee = div_round(gross * ppm, 1_000_000)
    fee_c[selling] = fee
    amount_c[selling] = np.where(trade_type[selling] == "conversion", gross, gross - fee)
    conv = selling & (trade_type == "conversion")
    target = orders.target_fund.to_numpy()
    target_nav = funds.nav_asof(target[conv], orders.trade_day.to_numpy()[conv])
    target_shares[conv] = div_round((amount_c[conv] - fee_c[conv]) * NAV_UNIT, target_nav)

    return orders.assign(
        nav_u=np.where(confirmed, nav, NULL),
        amount_c=amount_c,
        shares_c=shares_c,
        fee_c=fee_c,
        target_shares_c=target_shares,
    )


def share_deltas(initial: pd.DataFrame, orders: pd.DataFrame) -> pd.DataFrame:
    """Position changes (customer, fund, day, shares_c) of the initial holdings and every confirmed order.

    Initial holdings carry day -1 (before everything).
    """
    confirmed = orders[orders.order_status == "confirmed"]
    sign = np.where(confirmed.trade_type.isin(["redemption", "conversion"]), -1, 1)
    parts = [
        pd.DataFrame(
            {"customer": initial.customer, "fund": initial.fund, "day": -1, "shares_c": initial.shares_c}
        ),
        pd.DataFrame(
            {
                "customer": confirmed.customer,
                "fund": confirmed.fund,
                "day": confirmed.confirm_day,
                "shares_c": sign * confirmed.shares_c.to_numpy(),
            }
        ),
    ]
    conv = confirmed[confirmed.trade_type == "conversion"]
    parts.append(
        pd.DataFrame(
            {
                "customer": conv.customer,
                "fund": conv.target_fund,
                "day": conv.confirm_day,
                "shares_c": conv.target_shares_c,
            }
        )
    )
    return pd.concat(parts, ignore_index=True)


def positions_on(deltas: pd.DataFrame, day: int) -> pd.DataFrame:
    """Shares per (customer, fund) after everything confirmed on or before `day`, positive ones only."""
    upto = deltas[deltas.day <= day]
    pos = upto.groupby(["customer", "fund"], as_index=False)["shares_c"].sum()
    return pos[pos.shares_c > 0].sort_values(["customer", "fund"], ignore_index=True)


def _dividends(
    rng: np.random.Generator,
    orders: pd.DataFrame,
    initial: pd.DataFrame,
    funds: Funds,
    window: Window,
    calendar: TradingCalendar,
) -> pd.DataFrame:
    """Dividend orders for holders on each fund's record day; half reinvest, half take cash."""
    deltas = share_deltas(initial, orders)
    frames = []
    for fund in np.flatnonzero(funds.dividend_day >= 0):
        ex_day = int(funds.dividend_day[fund])
        record_day = int(calendar.on_or_before(np.array([ex_day - 1]))[0])
        pos = positions_on(deltas[deltas.fund == fund], record_day)
        if pos.empty:
            continue
        amount_c = div_round(pos.shares_c.to_numpy() * funds.dividend_per_share[fund], NAV_UNIT)
        pos = pos[amount_c > 0].assign(amount_c=amount_c[amount_c > 0])
        nav = int(funds.nav_asof(np.array([fund]), np.array([ex_day]))[0])
        reinvest = rng.random(len(pos)) < 0.5
        frame = _order_frame(
            pos.customer.to_numpy(),
            pos.fund.to_numpy(),
            "dividend",
            np.full(len(pos), local_ms(ex_day, 16 * 3_600_000)),
            amount_c=pos.amount_c.to_numpy(),
        )
        confirm = int(calendar.nth_after(np.array([ex_day]), 1)[0])
        frames.append(
            frame.assign(
                trade_day=ex_day,
                confirm_day=confirm,
                deliver_day=confirm,
                order_status="confirmed",
                nav_u=nav,
                fee_c=0,
                shares_c=np.where(reinvest, div_round(pos.amount_c.to_numpy() * NAV_UNIT, nav), 0),
                target_shares_c=NULL,
            )
        )
    if not frames:
        return orders.iloc[0:0]
    dividends = pd.concat(frames, ignore_index=True)
    return dividends[dividends.deliver_day <= window.end_day]


def _assign_order_ids(rng: np.random.Generator, orders: pd.DataFrame) -> pd.DataFrame:
    """Order ids `<order date><10 digits>`, in a stable order of the orders."""
    orders = orders.sort_values(
        ["order_ms", "customer", "fund", "trade_type"], kind="stable", ignore_index=True
    )
    day_text = np.char.replace(
        np.datetime_as_string(local_day(orders.order_ms.to_numpy()).astype("datetime64[D]")), "-", ""
    )
    serial = rng.choice(10**10, size=len(orders), replace=False)
    orders["order_id"] = np.char.add(day_text, np.char.zfill(serial.astype(str), 10))
    return orders


def _account_versions(
    rng: np.random.Generator,
    pop: Population,
    pid: PersonIds,
    window: Window,
    initial: pd.DataFrame,
    orders: pd.DataFrame,
) -> pd.DataFrame:
    """Account states: opening, closures of emptied churner accounts, a few judicial freezes."""
    customers = pid.customer_person
    n = len(customers)
    open_ms = pop.open_ms[customers]
    pre = ~pop.in_window[customers]
    platform_channel = np.array(ref.PLATFORM_CHANNEL, dtype=object)[pop.platform[customers]]
    channel = np.where(pre & (rng.random(n) < 0.15), "branch", platform_channel)
    base = pd.DataFrame(
        {
            "customer": np.arange(n),
            "open_channel": channel,
            "account_status": "normal",
            "updated_ms": open_ms,
            "open_day": local_day(open_ms),
        }
    )
    final = positions_on(share_deltas(initial, orders), window.end_day)
    holding = np.zeros(n, dtype=bool)
    holding[final.customer.to_numpy()] = True
    arch = pop.archetype[customers]
    draw = rng.random(n)

    churned_closed = (arch == CHURNED) & ~holding & (draw < 0.3)
    close_before = base[churned_closed].assign(
        account_status="closed",
        updated_ms=window.start_ms
        - (rng.uniform(5, 200, int(churned_closed.sum())) * DAY_MS).astype(np.int64),
    )
    close_day = window.start_day + pop.quiet_day[customers] + rng.integers(1, 6, n)
    churning_closed = (arch == CHURNING) & ~holding & (draw < 0.5) & (close_day <= window.end_day)
    close_in = base[churning_closed].assign(
        account_status="closed",
        updated_ms=local_ms(close_day[churning_closed], diurnal_offsets_ms(rng, int(churning_closed.sum()))),
    )
    freeze = ~churned_closed & ~churning_closed & pre & (rng.random(n) < 0.003)
    freeze_day = window.start_day + rng.integers(0, window.days, n)
    frozen = base[freeze].assign(
        account_status="frozen",
        updated_ms=local_ms(
            freeze_day[freeze], 10 * 3_600_000 + rng.integers(0, 7 * 3_600_000, int(freeze.sum()))
        ),
    )
    return pd.concat([base, close_before, close_in, frozen], ignore_index=True)
