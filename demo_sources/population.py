"""The people of the demo world, their acquisition funnel and how active they are day by day.

Population for N = `--customers` (ratios chosen to look like a mid-size fund app):

* N CRM customers: 70 % opened their account before the window ("pre-existing"), 30 % are acquired
  and open inside the window. Pre-existing archetypes: mature 40 %, growing 15 %, churning 15 % (activity
  decays exponentially until a quiet day between 30 % and 85 % of the window, then stops: the churn early
  warning), dormant 20 % (a session every month or two), churned 10 % (no activity in the window).
  3 % of all customers (pre-existing, not churning) are high net worth: 1.3-15 million CNY of holdings.
* 0.3 N registered app users who never opened an account (half signed up before the window).
* 0.5 N anonymous visitors who never signed up (a landing page view, some an app activation and a few
  anonymous sessions).
* Funnel of the 0.95 N persons acquired in the window: landing page view (h5/web, with utm) ->
  app_activate (68 % of app landers) -> sign_up (69 % of activations; 47 % of all landers) ->
  open_account (67 % of sign-ups) -> bind_card (85 %) -> first purchase (75 %) -> repeat purchase (60 %);
  channels differ in quality (see `reference.SOURCE_WEIGHTS`), campaigns run on parts of the window.
* Primary platforms: ios 30-35 %, android 40-45 %, web 8 %, h5 4-10 %, WeChat mini-program 8-12 %;
  a fifth of registered app users also use the website or the mini-program.
* Browsing: Poisson sessions per person-day on an archetype-shaped rate (weekends x 0.85, an evening
  peak), about 6 events per session: all events / N is about 100 over 90 days.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from demo_sources import reference as ref
from demo_sources.config import DAY_MS, Window, is_trading_day

KIND_CUSTOMER, KIND_REGISTERED, KIND_VISITOR = 0, 1, 2
KIND_NAMES = ["customer", "registered", "visitor"]
ARCHETYPES = [
    "mature",
    "growing",
    "churning",
    "dormant",
    "churned",
    "new_customer",
    "registered_only",
    "visitor",
]
MATURE, GROWING, CHURNING, DORMANT, CHURNED, NEW_CUSTOMER, REGISTERED_ONLY, VISITOR = range(8)
PRE_ARCHETYPE_WEIGHTS = [0.40, 0.15, 0.15, 0.20, 0.10]

# Local-hour profile of session starts: morning commute, lunch and a strong evening peak.
HOUR_WEIGHTS = np.array(
    [
        0.6,
        0.3,
        0.2,
        0.1,
        0.1,
        0.2,
        0.6,
        1.5,
        3.0,
        3.5,
        3.0,
        2.8,
        3.6,
        3.2,
        2.6,
        2.8,
        2.6,
        2.4,
        2.6,
        3.5,
        4.5,
        5.0,
        4.2,
        2.0,
    ]
)
HOUR_CDF = np.cumsum(HOUR_WEIGHTS) / HOUR_WEIGHTS.sum()
NO_TIME = np.int64(-1)


@dataclass
class Population:
    """All persons (customers, registered-only users, visitors) as column arrays indexed by person."""

    kind: np.ndarray  # int8 KIND_*
    archetype: np.ndarray  # int8 index into ARCHETYPES
    in_window: np.ndarray  # bool: acquired inside the window
    platform: np.ndarray  # int8 primary platform index into reference.PLATFORMS
    secondary_platform: np.ndarray  # int8, -1 = none
    source: np.ndarray  # int8 index into reference.UTM_SOURCES
    campaign: np.ndarray  # object: utm_campaign or None
    term: np.ndarray  # object: search keyword or None
    landing_ms: np.ndarray  # int64, -1 for pre-existing persons
    activate_ms: np.ndarray
    signup_ms: np.ndarray  # -1 = signed up before the window (registered/customers) or never
    open_ms: np.ndarray  # account opening (customers): before the window for pre-existing ones
    bind_ms: np.ndarray  # first card binding inside the window, -1 = none
    first_purchase_ms: np.ndarray  # planned first purchase of new customers, -1 = none
    repeat_buyer: np.ndarray  # bool
    quiet_day: np.ndarray  # churning: window day index after which the person is silent
    is_hnw: np.ndarray  # planned high net worth (holdings far above 1,000,000 CNY)
    risk_level: np.ndarray  # int8 1..5 (customers), 0 otherwise
    birth_day: np.ndarray  # epoch day of birth (customers and registered users)
    is_male: np.ndarray
    browse_rate: np.ndarray  # float32 (persons x days): expected browsing sessions per day

    @property
    def size(self) -> int:
        """Number of persons."""
        return len(self.kind)


def diurnal_offsets_ms(rng: np.random.Generator, n: int) -> np.ndarray:
    """Milliseconds after local midnight, following the session start profile."""
    hours = np.searchsorted(HOUR_CDF, rng.random(n), side="right")
    return hours * 3_600_000 + rng.integers(0, 3_600_000, n)


def _step_after(previous: np.ndarray, delay_ms: np.ndarray, end_ms: int) -> np.ndarray:
    """Next funnel step time: a sampled delay, squeezed so that the step still happens in the window."""
    room = np.maximum(end_ms - previous, 0)
    return previous + np.minimum(delay_ms, (room * 0.6).astype(np.int64)) + 1000


def _exp_ms(rng: np.random.Generator, mean_hours: float, n: int) -> np.ndarray:
    return (rng.exponential(mean_hours, n) * 3_600_000).astype(np.int64) + 30_000


def _campaign_days(rng: np.random.Generator, window: Window) -> dict[tuple[int, str], tuple[int, int]]:
    """Each campaign runs on a stretch of the window; organic and referral traffic run all along."""
    days = window.days
    spans: dict[tuple[int, str], tuple[int, int]] = {}
    for s, (_, _, campaigns, _, _) in enumerate(ref.UTM_SOURCES):
        for c in campaigns:
            start = int(rng.integers(0, max(1, int(days * 0.5))))
            length = int(rng.integers(max(1, int(days * 0.35)), days + 1))
            spans[(s, c)] = (start, min(days, start + length))
    return spans


def _acquisition(
    rng: np.random.Generator, window: Window, kind_name: str, n: int, in_window: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Source, campaign, keyword and (for in-window persons) acquisition day of `n` persons."""
    weights = np.array(ref.SOURCE_WEIGHTS[kind_name])
    source = rng.choice(len(ref.UTM_SOURCES), size=n, p=weights / weights.sum()).astype(np.int8)
    campaign = np.full(n, None, dtype=object)
    term = np.full(n, None, dtype=object)
    day = rng.integers(0, window.days, n)
    spans = _campaign_days(rng, window)
    for s, (_, _, campaigns, keywords, _) in enumerate(ref.UTM_SOURCES):
        idx = np.flatnonzero(source == s)
        if len(idx) == 0 or not campaigns:
            continue
        chosen = np.array(campaigns, dtype=object)[rng.integers(0, len(campaigns), len(idx))]
        campaign[idx] = chosen
        if keywords:
            term[idx] = np.array(keywords, dtype=object)[rng.integers(0, len(keywords), len(idx))]
        if in_window:
            for c in campaigns:
                sub = idx[chosen == c]
                lo, hi = spans[(s, c)]
                day[sub] = rng.integers(lo, max(lo + 1, hi), len(sub))
    return source, campaign, term, day


def build_population(rng: np.random.Generator, customers: int, window: Window) -> Population:
    """Create all persons with their funnel timeline and daily browsing intensity."""
    n_cust_new = round(0.30 * customers)
    n_cust_pre = customers - n_cust_new
    n_reg = round(0.30 * customers)
    n_reg_new = round(0.15 * customers)
    n_reg_pre = n_reg - n_reg_new
    n_vis = round(0.50 * customers)
    groups = [
        (KIND_CUSTOMER, False, n_cust_pre),
        (KIND_CUSTOMER, True, n_cust_new),
        (KIND_REGISTERED, False, n_reg_pre),
        (KIND_REGISTERED, True, n_reg_new),
        (KIND_VISITOR, True, n_vis),
    ]
    kind = np.concatenate([np.full(n, k, dtype=np.int8) for k, _, n in groups])
    in_window = np.concatenate([np.full(n, w, dtype=bool) for _, w, n in groups])
    total = len(kind)

    archetype = np.full(total, VISITOR, dtype=np.int8)
    pre_cust = (kind == KIND_CUSTOMER) & ~in_window
    archetype[pre_cust] = rng.choice(5, size=int(pre_cust.sum()), p=PRE_ARCHETYPE_WEIGHTS)
    archetype[(kind == KIND_CUSTOMER) & in_window] = NEW_CUSTOMER
    archetype[kind == KIND_REGISTERED] = REGISTERED_ONLY

    platform = np.where(
        in_window,
        rng.choice(5, size=total, p=ref.PLATFORM_WEIGHTS_NEW),
        rng.choice(5, size=total, p=ref.PLATFORM_WEIGHTS_OLD),
    ).astype(np.int8)
    is_app = platform <= 1
    secondary = np.full(total, -1, dtype=np.int8)
    gets_secondary = is_app & (kind != KIND_VISITOR) & (rng.random(total) < 0.2)
    secondary[gets_secondary] = np.where(rng.random(int(gets_secondary.sum())) < 0.6, 2, 4)

    source = np.zeros(total, dtype=np.int8)
    campaign = np.full(total, None, dtype=object)
    term = np.full(total, None, dtype=object)
    acq_day = np.full(total, -1, dtype=np.int64)
    offset = 0
    for k, w, n in groups:
        s, c, t, d = _acquisition(rng, window, KIND_NAMES[k], n, w)
        sl = slice(offset, offset + n)
        source[sl], campaign[sl], term[sl] = s, c, t
        if w:
            acq_day[sl] = d
        offset += n

    end_ms = window.end_ms
    landing_ms = np.full(total, -1, dtype=np.int64)
    landing_ms[in_window] = (
        window.start_ms + acq_day[in_window] * DAY_MS + diurnal_offsets_ms(rng, int(in_window.sum()))
    )
    landing_ms[in_window] = np.minimum(landing_ms[in_window], end_ms - 3_600_000)

    # App persons activate the app after the landing page; 40 % of app visitors stop right there.
    activates = in_window & is_app & ((kind != KIND_VISITOR) | (rng.random(total) < 0.4))
    activate_ms = np.where(activates, _step_after(landing_ms, _exp_ms(rng, 0.3, total), end_ms), -1)
    signs_up = in_window & (kind != KIND_VISITOR)
    before_signup = np.where(activates, activate_ms, landing_ms)
    signup_ms = np.where(signs_up, _step_after(before_signup, _exp_ms(rng, 6.0, total), end_ms), -1)

    is_customer = kind == KIND_CUSTOMER
    new_cust = is_customer & in_window
    # Pre-existing customers opened between 8 years and a week before the window.
    pre_open = window.start_ms - (rng.uniform(7, 8 * 365, total) * DAY_MS).astype(np.int64)
    open_ms = np.where(new_cust, _step_after(signup_ms, _exp_ms(rng, 36.0, total), end_ms), -1)
    open_ms = np.where(pre_cust, pre_open, open_ms)
    binds = new_cust & (rng.random(total) < 0.85)
    bind_ms = np.where(binds, _step_after(open_ms, _exp_ms(rng, 3.0, total), end_ms), -1)
    buys = binds & (rng.random(total) < 0.75)
    first_purchase_ms = np.where(buys, _step_after(bind_ms, _exp_ms(rng, 48.0, total), end_ms), -1)
    repeat_buyer = np.where(buys, rng.random(total) < 0.6, pre_cust & (archetype <= DORMANT))

    quiet_day = np.full(total, window.days, dtype=np.int64)
    churning = archetype == CHURNING
    quiet_day[churning] = rng.integers(
        int(window.days * 0.3), max(int(window.days * 0.85), 2), churning.sum()
    )

    # High net worth: 3 % of all customers (at least one), among active or dormant pre-existing ones.
    hnw_pool = np.flatnonzero(pre_cust & np.isin(archetype, [MATURE, GROWING, DORMANT]))
    is_hnw = np.zeros(total, dtype=bool)
    is_hnw[rng.choice(hnw_pool, size=min(len(hnw_pool), max(1, round(0.03 * customers))), replace=False)] = (
        True
    )
    risk_level = np.zeros(total, dtype=np.int8)
    risk_level[is_customer] = rng.choice(5, size=int(is_customer.sum()), p=ref.RISK_LEVEL_WEIGHTS) + 1
    # High net worth investors skew towards higher risk tolerance.
    risk_level[is_hnw] = np.maximum(risk_level[is_hnw], 3)

    # Ages 20-75, skewed to 28-45; birthdays uniform over the year.
    # (the clipped tails get a uniform year of jitter, so that no birth date is over-represented)
    age_years = np.clip(rng.gamma(6.0, 6.5, total) + 18, 20, 74) + rng.random(total)
    birth_day = (window.end_day - age_years * 365.25).astype(np.int64)
    is_male = rng.random(total) < 0.55

    population = Population(
        kind=kind,
        archetype=archetype,
        in_window=in_window,
        platform=platform,
        secondary_platform=secondary,
        source=source,
        campaign=campaign,
        term=term,
        landing_ms=landing_ms,
        activate_ms=activate_ms,
        signup_ms=signup_ms,
        open_ms=open_ms,
        bind_ms=bind_ms,
        first_purchase_ms=first_purchase_ms,
        repeat_buyer=repeat_buyer,
        quiet_day=quiet_day,
        is_hnw=is_hnw,
        risk_level=risk_level,
        birth_day=birth_day,
        is_male=is_male,
        browse_rate=np.zeros((0, 0), dtype=np.float32),
    )
    population.browse_rate = browse_rates(rng, population, window)
    return population


def browse_rates(rng: np.random.Generator, pop: Population, window: Window) -> np.ndarray:
    """Expected browsing sessions per person and window day, shaped by the lifecycle archetype."""
    days = np.arange(window.days, dtype=np.float32)[None, :]
    base = rng.gamma(2.0, 0.135, pop.size).astype(np.float32)[:, None]
    arch = pop.archetype[:, None]
    rate = np.zeros((pop.size, window.days), dtype=np.float32)
    rate = np.where(arch == MATURE, base, rate)
    rate = np.where(arch == GROWING, base * (0.3 + 1.4 * days / window.days), rate)
    quiet = pop.quiet_day[:, None].astype(np.float32)
    rate = np.where((arch == CHURNING) & (days < quiet), base * 1.3 * np.exp(-3.0 * days / quiet), rate)
    rate = np.where(arch == DORMANT, np.float32(0.02), rate)

    def day_of(ms: np.ndarray) -> np.ndarray:
        return ((ms - window.start_ms) // DAY_MS)[:, None].astype(np.float32)

    since_signup = days - day_of(pop.signup_ms)
    signed_up_pre = (pop.signup_ms < 0)[:, None]
    new_cust = arch == NEW_CUSTOMER
    rate = np.where(new_cust & (since_signup >= 0), base * (1.0 + 0.6 * np.exp(-since_signup / 10.0)), rate)
    reg = arch == REGISTERED_ONLY
    rate = np.where(reg & signed_up_pre, base * 0.15, rate)
    rate = np.where(reg & ~signed_up_pre & (since_signup >= 0), 0.3 * np.exp(-since_signup / 15.0), rate)
    # A third of visitors come back anonymously a few times within two weeks of landing.
    since_landing = days - day_of(pop.landing_ms)
    returns = (arch == VISITOR) & (rng.random(pop.size) < 0.3)[:, None]
    rate = np.where(returns & (since_landing > 0) & (since_landing <= 14), np.float32(0.12), rate)
    weekend = ~is_trading_day(np.arange(window.start_day, window.end_day + 1))
    rate[:, weekend] *= 0.85
    return rate.astype(np.float32)


def sample_days(rng: np.random.Generator, rate: np.ndarray, persons: np.ndarray) -> np.ndarray:
    """A window day for each requested person, drawn with probability proportional to its daily rate.

    Persons whose rate is zero on every day get -1.
    """
    n_days = rate.shape[1]
    flat = np.cumsum(rate.astype(np.float64).ravel())
    row_end = flat[(persons + 1) * n_days - 1]
    row_start = np.where(persons > 0, flat[np.maximum(persons * n_days - 1, 0)], 0.0)
    target = row_start + rng.random(len(persons)) * (row_end - row_start)
    cell = np.searchsorted(flat, target, side="right")
    day = np.clip(cell - persons * n_days, 0, n_days - 1)
    return np.where(row_end > row_start, day, -1)
