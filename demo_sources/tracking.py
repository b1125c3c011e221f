"""Behaviour tracking: sessions of every person expanded into Sensors-style events (vectorised).

Sessions come from three places: daily browsing (Poisson on the person's browse rate), the acquisition
funnel (landing page -> app_activate -> sign_up -> open_account -> bind_card) and the business records
(every digitally placed order, card binding and SIP set-up gets a short session ending in its event at
exactly the record's time). A session expands into events with exponential gaps; the business event is
the session's anchor, so e.g. a purchase event's `time` equals the order's order_at.

The landing page and the app share the device's anonymous_id (the collector matches an H5 landing to
the later install, Sensors-style "App/H5 linking"), so each funnel is traceable per anonymous_id; the
landing view and app_activate carry the acquisition utm parameters.
Events are kept as integer-coded columns (`EventColumns`) plus string dictionaries (`Dictionaries`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from demo_sources import reference as ref
from demo_sources.config import DAY_MS, Window
from demo_sources.funds import Funds
from demo_sources.identifiers import Devices, PersonIds
from demo_sources.population import KIND_VISITOR, Population, diurnal_offsets_ms
from demo_sources.trades import NULL, Trades

EVENTS = [
    "app_activate",
    "app_start",
    "page_view",
    "click",
    "sign_up",
    "login",
    "open_account",
    "bind_card",
    "purchase",
    "sip_setup",
    "redeem",
]
EVENT_CODE = {name: i for i, name in enumerate(EVENTS)}
SCREEN = ref.SCREEN_INDEX
BROWSE_SCREENS = np.array([i for i, s in enumerate(ref.SCREENS) if s[3] > 0])
BROWSE_WEIGHTS = np.array([ref.SCREENS[i][3] for i in BROWSE_SCREENS]) / sum(
    ref.SCREENS[i][3] for i in BROWSE_SCREENS
)

# Session templates: fixed leading (event, screen) steps; BROWSE / LANDING / ACTIVATE continue with browsing.
BROWSE, LANDING, ACTIVATE, SIGNUP, OPEN, BIND, PURCHASE, REDEEM, CONVERT, SIP = range(10)
_E, _S = EVENT_CODE, SCREEN
TEMPLATES: dict[int, list[tuple[int, int]]] = {
    BROWSE: [],
    LANDING: [(_E["page_view"], _S["landing"])],
    ACTIVATE: [(_E["app_activate"], -1), (_E["app_start"], -1), (_E["page_view"], _S["home"])],
    SIGNUP: [
        (_E["page_view"], _S["register"]),
        (_E["click"], _S["register"]),
        (_E["sign_up"], _S["register"]),
        (_E["page_view"], _S["home"]),
    ],
    OPEN: [
        (_E["page_view"], _S["open_account"]),
        (_E["click"], _S["open_account"]),
        (_E["open_account"], _S["open_account"]),
    ],
    BIND: [(_E["page_view"], _S["bind_card"]), (_E["bind_card"], _S["bind_card"])],
    PURCHASE: [
        (_E["page_view"], _S["fund_detail"]),
        (_E["click"], _S["purchase_confirm"]),
        (_E["purchase"], _S["purchase_confirm"]),
    ],
    REDEEM: [
        (_E["page_view"], _S["my_assets"]),
        (_E["click"], _S["redeem_confirm"]),
        (_E["redeem"], _S["redeem_confirm"]),
    ],
    CONVERT: [(_E["page_view"], _S["my_assets"]), (_E["click"], _S["my_assets"])],
    SIP: [
        (_E["page_view"], _S["sip_plan"]),
        (_E["click"], _S["sip_setup"]),
        (_E["sip_setup"], _S["sip_setup"]),
    ],
}
# Position of the event whose time is the business record's time.
ANCHOR = {
    BROWSE: 0,
    LANDING: 0,
    ACTIVATE: 0,
    SIGNUP: 2,
    OPEN: 2,
    BIND: 1,
    PURCHASE: 2,
    REDEEM: 2,
    CONVERT: 1,
    SIP: 2,
}
FUND_SCREENS = np.array([_S["fund_detail"], _S["purchase_confirm"], _S["redeem_confirm"], _S["sip_setup"]])
NEVER = np.iinfo(np.int16).max
WEB_SDK = "js-1.26.3"  # what the landing pages and the mobile site run

COLUMN_DEFAULTS: dict[str, tuple[type, int]] = {
    "person": (np.int32, NULL),
    "device": (np.int32, NULL),
    "platform": (np.int8, NULL),
    "event": (np.int16, NULL),
    "time_ms": (np.int64, 0),
    "receive_ms": (np.int64, 0),
    "login": (np.int32, NULL),
    "screen": (np.int16, NULL),
    "fund": (np.int16, NULL),
    "amount_c": (np.int64, NULL),
    "order": (np.int32, NULL),
    "phone": (np.int32, NULL),
    "customer": (np.int32, NULL),
    "wx": (np.int32, NULL),
    "utm": (np.int16, NULL),
    "referrer": (np.int16, NULL),
    "sdk": (np.int16, NULL),
    "ua": (np.int32, NULL),
    "model": (np.int32, NULL),
    "session": (np.int32, NULL),
    "defect": (np.int16, NULL),
    "copy_of": (np.int32, NULL),
    "detail": (np.int32, NULL),  # index into the injector's list of defect details
}


class EventColumns(dict):
    """Events as equally long numpy columns; assignments are cast to the dtypes of COLUMN_DEFAULTS.

    Narrow integer types keep 10 million events within a few hundred MB.
    """

    def __setitem__(self, key: str, value: np.ndarray) -> None:
        super().__setitem__(key, np.asarray(value, dtype=COLUMN_DEFAULTS[key][0]))

    @classmethod
    def empty(cls, n: int) -> EventColumns:
        """`n` events with every column at its default."""
        return cls().complete(n)

    def complete(self, n: int) -> EventColumns:
        """Add every missing column, filled with its default."""
        for key, (dtype, default) in COLUMN_DEFAULTS.items():
            if key not in self:
                super().__setitem__(key, np.full(n, default, dtype=dtype))
        return self

    def __len__(self) -> int:
        return len(self["time_ms"])

    def take(self, idx: np.ndarray) -> EventColumns:
        """The events at `idx`, in that order."""
        return EventColumns({k: v[idx] for k, v in self.items()})

    @staticmethod
    def concat(parts: list[EventColumns]) -> EventColumns:
        """The events of several parts, in order."""
        return EventColumns({k: np.concatenate([p[k] for p in parts]) for k in COLUMN_DEFAULTS})


@dataclass
class Dictionaries:
    """String values that the integer event columns refer to; dirt appends extra values."""

    anonymous_id: list[str]
    login_id: list[str | None]
    phone: list[str | None]
    wx_openid: list[str | None]
    wx_unionid: list[str | None]
    sdk_version: list[str]
    user_agent: list[str]
    device_model: list[str]
    customer_no: list[str]
    order_id: list[str]
    fund_code: list[str]
    utm: list[tuple[str | None, str | None, str | None, str | None]]
    referrer: list[str]
    event: list[str] = field(default_factory=lambda: list(EVENTS))

    def add(self, name: str, value: object) -> int:
        """The code of a value in a dictionary, appending it if it is not there yet."""
        values = getattr(self, name)
        if value in values:
            return values.index(value)
        values.append(value)
        return len(values) - 1

    def extend(self, name: str, new_values: list) -> np.ndarray:
        """Append distinct new values (e.g. fresh device ids) and return their codes."""
        values = getattr(self, name)
        start = len(values)
        values.extend(new_values)
        return np.arange(start, len(values), dtype=np.int64)


@dataclass
class DeviceCodes:
    """Per device: codes of its SDK version, user agents and model in the dictionaries."""

    sdk: np.ndarray
    ua: np.ndarray
    browser_ua: np.ndarray
    model: np.ndarray


def _codes(values: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Sorted distinct values and the code of each value (hash-based, much faster than np.unique)."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), sort=True)
    return list(uniques), codes.astype(np.int64)


def build_dictionaries(
    pop: Population, pid: PersonIds, devices: Devices, trades: Trades, funds: Funds
) -> tuple[Dictionaries, DeviceCodes]:
    """String dictionaries for the event columns, in a deterministic order."""
    sdk = sorted(set(devices.sdk_version.tolist()) | {WEB_SDK})
    sdk_code = np.searchsorted(np.array(sdk), devices.sdk_version).astype(np.int64)
    uas, ua_code = _codes(np.concatenate([devices.user_agent, devices.browser_user_agent]))
    models, model_code = _codes(np.where(devices.device_model == None, "", devices.device_model))  # noqa: E711
    model_code = np.where(devices.device_model == None, NULL, model_code)  # noqa: E711
    utm: list[tuple[str | None, str | None, str | None, str | None]] = []
    for source, medium, campaigns, keywords, _ in ref.UTM_SOURCES:
        if source == ref.ORGANIC:
            continue
        for campaign in campaigns:
            for term in keywords or [None]:
                utm.append((source, medium, campaign, term))
    utm += [(s, m, c, None) for s, m, c in ref.REENGAGE_UTMS]
    referrers = [r for *_, r in ref.UTM_SOURCES if r] + [
        "https://www.xinyuanfund.com/",
        "https://m.xinyuanfund.com/",
    ]
    dictionaries = Dictionaries(
        anonymous_id=devices.anonymous_id.tolist(),
        login_id=pid.login_id.tolist(),
        phone=pid.reg_phone.tolist(),
        wx_openid=pid.wx_openid.tolist(),
        wx_unionid=pid.wx_unionid.tolist(),
        sdk_version=sdk,
        user_agent=uas,
        device_model=models,
        customer_no=pid.customer_no.tolist(),
        order_id=trades.orders.order_id.tolist(),
        fund_code=funds.code.tolist(),
        utm=utm,
        referrer=referrers,
    )
    m = devices.size
    return dictionaries, DeviceCodes(sdk=sdk_code, ua=ua_code[:m], browser_ua=ua_code[m:], model=model_code)


def utm_code(dictionaries: Dictionaries, pop: Population) -> np.ndarray:
    """Per person, the code of its acquisition utm combination (-1 for organic traffic)."""
    table = pd.DataFrame(dictionaries.utm, columns=["source", "medium", "campaign", "term"])
    table["code"] = np.arange(len(table))
    persons = pd.DataFrame(
        {
            "source": np.array([s[0] for s in ref.UTM_SOURCES])[pop.source],
            "medium": np.array([s[1] for s in ref.UTM_SOURCES])[pop.source],
            "campaign": pop.campaign,
            "term": pop.term,
        }
    )
    codes = persons.merge(table, how="left", on=["source", "medium", "campaign", "term"]).code
    return np.where(pop.in_window & pd.notna(pop.campaign), codes.fillna(NULL).to_numpy(), NULL).astype(
        np.int64
    )


def _sessions(**columns: np.ndarray) -> pd.DataFrame:
    n = len(columns["person"])
    defaults = {
        "template": BROWSE,
        "anchor_ms": 0,
        "n_events": 1,
        "logged_from": NEVER,
        "login_event": False,
        "fund": NULL,
        "amount_c": NULL,
        "order": NULL,
        "customer": NULL,
        "utm": NULL,
        "referrer": NULL,
        "browser_ua": False,
    }
    frame = {k: np.broadcast_to(np.asarray(v), (n,)).copy() for k, v in defaults.items()}
    frame.update(columns)
    return pd.DataFrame(frame)


def build_sessions(
    rng: np.random.Generator,
    pop: Population,
    pid: PersonIds,
    trades: Trades,
    cards: pd.DataFrame,
    window: Window,
    dictionaries: Dictionaries,
) -> pd.DataFrame:
    """All sessions of the window, one row each, in a deterministic order."""
    person_utm = utm_code(dictionaries, pop)
    parts = [_browse_sessions(rng, pop, pid, window), _funnel_sessions(rng, pop, pid, person_utm)]
    parts += _business_sessions(rng, pop, pid, trades, cards)
    sessions = pd.concat(parts, ignore_index=True)
    return sessions.sort_values(["anchor_ms", "person", "template"], kind="stable", ignore_index=True)


def _browse_sessions(
    rng: np.random.Generator, pop: Population, pid: PersonIds, window: Window
) -> pd.DataFrame:
    """Poisson sessions per person-day on the person's browse rate."""
    counts = rng.poisson(pop.browse_rate)
    person, day = np.nonzero(counts)
    reps = counts[person, day]
    person, day = np.repeat(person, reps), np.repeat(day, reps)
    n = len(person)
    start = window.start_ms + day * DAY_MS + diurnal_offsets_ms(rng, n)
    secondary = pop.secondary_platform[person]
    use_second = (secondary >= 0) & (rng.random(n) < 0.15)
    platform = np.where(use_second, secondary, pop.platform[person]).astype(np.int64)
    device = np.where(use_second, pid.secondary_device[person], pid.primary_device[person])
    # Visitors who never activated the app browse the mobile site.
    visitor = pop.kind[person] == KIND_VISITOR
    not_activated = (
        visitor & (platform <= 1) & ((pop.activate_ms[person] < 0) | (start < pop.activate_ms[person]))
    )
    platform = np.where(not_activated, 3, platform)
    registered = (pop.kind[person] != KIND_VISITOR) & (
        (pop.signup_ms[person] < 0) | (start > pop.signup_ms[person])
    )
    web = platform >= 2
    logged = registered & (~web | (platform == 4) | (rng.random(n) < 0.85))
    login_event = logged & np.where(web & (platform != 4), rng.random(n) < 0.35, rng.random(n) < 0.05)
    # Login tokens expire and app updates log users out: every person logs in (with the SMS-code phone)
    # at least once per device in the window, in the first logged-in session there.
    first_on_device = (
        pd.DataFrame({"person": person, "device": device, "start": start})[logged]
        .sort_values(["person", "device", "start"], kind="stable")
        .groupby(["person", "device"], sort=False)
        .head(1)
        .index.to_numpy()
    )
    login_event[first_on_device] = True
    n_events = 1 + rng.geometric(1 / 4.6, n) + login_event
    # A few sessions of existing users arrive from re-engagement campaigns (sms, push, WeChat).
    # (coded -2 - k: the k-th re-engagement utm, resolved in expand_events)
    reengage = ~pop.in_window[person] & (rng.random(n) < 0.03)
    reengage_utm = rng.integers(0, len(ref.REENGAGE_UTMS), n)
    sessions = _sessions(
        person=person,
        device=device,
        platform=platform,
        anchor_ms=start,
        n_events=n_events,
        logged_from=np.where(logged, 0, NEVER),
        login_event=login_event,
        utm=np.where(reengage, -2 - reengage_utm, NULL),
        browser_ua=not_activated,
    )
    # Persons acquired in the window do not browse before their funnel got them signed up.
    early = (
        (pop.kind[person] != KIND_VISITOR) & (pop.signup_ms[person] >= 0) & (start < pop.signup_ms[person])
    )
    return sessions[~early]


def _funnel_sessions(
    rng: np.random.Generator, pop: Population, pid: PersonIds, person_utm: np.ndarray
) -> pd.DataFrame:
    """Landing, activation, sign-up and account-opening sessions of persons acquired in the window."""
    parts = []
    landed = np.flatnonzero(pop.landing_ms >= 0)
    primary = pop.platform[landed]
    landing_platform = np.where(primary == 2, 2, 3)
    referrer = np.array([r is not None for *_, r in ref.UTM_SOURCES])
    ref_code = np.cumsum(referrer) - 1
    source = pop.source[landed]
    parts.append(
        _sessions(
            person=landed,
            device=pid.primary_device[landed],
            platform=landing_platform,
            template=LANDING,
            anchor_ms=pop.landing_ms[landed],
            n_events=1 + rng.geometric(1 / 1.8, len(landed)),
            utm=person_utm[landed],
            referrer=np.where(referrer[source], ref_code[source], NULL),
            browser_ua=primary != 2,
        )
    )
    activated = np.flatnonzero(pop.activate_ms >= 0)
    parts.append(
        _sessions(
            person=activated,
            device=pid.primary_device[activated],
            platform=pop.platform[activated],
            template=ACTIVATE,
            anchor_ms=pop.activate_ms[activated],
            n_events=3 + rng.geometric(1 / 2.5, len(activated)),
            utm=person_utm[activated],
        )
    )
    signed = np.flatnonzero(pop.signup_ms >= 0)
    parts.append(
        _sessions(
            person=signed,
            device=pid.primary_device[signed],
            platform=pop.platform[signed],
            template=SIGNUP,
            anchor_ms=pop.signup_ms[signed],
            n_events=4,
            logged_from=2,
        )
    )
    opened = np.flatnonzero(pop.in_window & (pop.open_ms >= 0))
    parts.append(
        _sessions(
            person=opened,
            device=pid.primary_device[opened],
            platform=pop.platform[opened],
            template=OPEN,
            anchor_ms=pop.open_ms[opened],
            n_events=3,
            logged_from=0,
            customer=pid.customer_index[opened],
        )
    )
    return pd.concat(parts, ignore_index=True)


def _device_for(pop: Population, pid: PersonIds, persons: np.ndarray, platform: np.ndarray) -> np.ndarray:
    return np.where(
        platform == pop.platform[persons], pid.primary_device[persons], pid.secondary_device[persons]
    )


def _business_sessions(
    rng: np.random.Generator, pop: Population, pid: PersonIds, trades: Trades, cards: pd.DataFrame
) -> list[pd.DataFrame]:
    """Short sessions ending in the business event of each digitally placed record."""
    customers = pid.customer_person
    orders = trades.orders
    digital = orders[orders.platform >= 0]
    template = digital.trade_type.map(
        {"purchase": PURCHASE, "subscription": PURCHASE, "redemption": REDEEM, "conversion": CONVERT}
    ).to_numpy()
    persons = customers[digital.customer.to_numpy()]
    platform = digital.platform.to_numpy()
    order_sessions = _sessions(
        person=persons,
        device=_device_for(pop, pid, persons, platform),
        platform=platform,
        template=template,
        anchor_ms=digital.order_ms.to_numpy(),
        n_events=np.array([len(TEMPLATES[t]) for t in template]),
        logged_from=0,
        fund=digital.fund.to_numpy(),
        amount_c=np.where(template == PURCHASE, digital.amount_c, NULL),
        order=digital.index.to_numpy(),
    )
    bound = cards[(cards.bind_platform >= 0) & (cards.card_status == "bound")]
    persons = customers[bound.customer.to_numpy()]
    platform = bound.bind_platform.to_numpy()
    bind_sessions = _sessions(
        person=persons,
        device=_device_for(pop, pid, persons, platform),
        platform=platform,
        template=BIND,
        anchor_ms=bound.bound_ms.to_numpy(),
        n_events=2,
        logged_from=0,
    )
    setups = trades.sip_versions[trades.sip_versions.platform >= 0]
    persons = customers[setups.customer.to_numpy()]
    platform = setups.platform.to_numpy()
    sip_sessions = _sessions(
        person=persons,
        device=_device_for(pop, pid, persons, platform),
        platform=platform,
        template=SIP,
        anchor_ms=setups.updated_ms.to_numpy(),
        n_events=3,
        logged_from=0,
        fund=setups.fund.to_numpy(),
        amount_c=setups.amount_c.to_numpy(),
    )
    return [order_sessions, bind_sessions, sip_sessions]


def expand_events(
    rng: np.random.Generator,
    sessions: pd.DataFrame,
    pop: Population,
    pid: PersonIds,
    funds: Funds,
    window: Window,
    device_codes: DeviceCodes,
    dictionaries: Dictionaries,
) -> EventColumns:
    """One row per event: codes, client time and collector receive time; events outside the window dropped."""
    n_events = sessions.n_events.to_numpy()
    total = int(n_events.sum())
    session = np.repeat(np.arange(len(sessions)), n_events)
    first = np.cumsum(n_events) - n_events
    pos = np.arange(total) - np.repeat(first, n_events)
    ev = EventColumns()
    ev["session"] = session

    def per_event(column: str) -> np.ndarray:
        return sessions[column].to_numpy()[session]

    template = per_event("template")
    person = per_event("person")
    platform = per_event("platform")
    ev["person"], ev["device"], ev["platform"] = person, per_event("device"), platform

    # Times: exponential gaps (3 s minimum), shifted so that the anchor event sits at the anchor time.
    gaps = 3000 + rng.exponential(18_000, total).astype(np.int64)
    gaps[pos == 0] = 0
    cum = np.cumsum(gaps)
    cum -= np.repeat(cum[first], n_events)
    anchor_pos = np.vectorize(ANCHOR.get)(sessions.template.to_numpy())
    anchor_offset = cum[first + anchor_pos]
    ev["time_ms"] = per_event("anchor_ms") + cum - anchor_offset[session]

    # Event names and screens: template steps first, then browsing.
    max_len = max(len(t) for t in TEMPLATES.values())
    step_event = np.full((len(TEMPLATES), max_len + 1), NULL, dtype=np.int64)
    step_screen = np.full((len(TEMPLATES), max_len + 1), NULL, dtype=np.int64)
    for t, steps in TEMPLATES.items():
        for k, (e, s) in enumerate(steps):
            step_event[t, k], step_screen[t, k] = e, s
    in_template = pos < max_len
    event = np.where(in_template, step_event[template, np.minimum(pos, max_len)], NULL)
    screen = np.where(in_template, step_screen[template, np.minimum(pos, max_len)], NULL)
    free = event < 0
    is_app = platform <= 1
    browse_start = free & (template == BROWSE) & (pos == 0)
    event[browse_start] = np.where(is_app[browse_start], EVENT_CODE["app_start"], EVENT_CODE["page_view"])
    login_pos = per_event("login_event") & (pos == np.where(is_app, 1, 0)) & (template == BROWSE)
    event[login_pos] = EVENT_CODE["login"]
    rest = event < 0
    event[rest] = np.where(rng.random(int(rest.sum())) < 0.62, EVENT_CODE["page_view"], EVENT_CODE["click"])
    page = (event == EVENT_CODE["page_view"]) & (screen < 0)
    screen[page] = rng.choice(BROWSE_SCREENS, size=int(page.sum()), p=BROWSE_WEIGHTS)
    # A click happens on the screen of the event before it.
    click = (event == EVENT_CODE["click"]) & (screen < 0)
    last_screen_idx = np.maximum.accumulate(np.where(screen >= 0, np.arange(total), 0))
    screen[click] = screen[last_screen_idx[click]]
    screen[click & (pos == 0)] = SCREEN["home"]
    ev["event"], ev["screen"] = event, screen

    fund = np.full(total, NULL, dtype=np.int64)
    session_fund = per_event("fund")
    on_fund_screen = np.isin(screen, FUND_SCREENS)
    fund[on_fund_screen] = session_fund[on_fund_screen]
    browse_fund = on_fund_screen & (fund < 0)
    popularity = funds.popularity / funds.popularity.sum()
    fund[browse_fund] = rng.choice(funds.size, size=int(browse_fund.sum()), p=popularity)
    ev["fund"] = fund
    anchor = pos == anchor_pos[session]
    ev["amount_c"] = np.where(
        anchor & np.isin(event, [EVENT_CODE["purchase"], EVENT_CODE["sip_setup"]]),
        per_event("amount_c"),
        NULL,
    )
    ev["order"] = np.where(
        anchor & np.isin(event, [EVENT_CODE["purchase"], EVENT_CODE["redeem"]]), per_event("order"), NULL
    )
    ev["customer"] = np.where(event == EVENT_CODE["open_account"], per_event("customer"), NULL)
    # Once a person has a fund account, the app attaches the customer number to the login event
    # (the "my account" profile it loads after login).
    customer_of_person = np.full(len(pop.kind), NULL, dtype=np.int64)
    customer_of_person[pid.customer_person] = np.arange(len(pid.customer_person))
    account_open = (customer_of_person[person] >= 0) & (pop.open_ms[person] >= 0)
    login_with_account = (
        (event == EVENT_CODE["login"]) & account_open & (pop.open_ms[person] <= ev["time_ms"])
    )
    ev["customer"] = np.where(login_with_account, customer_of_person[person], ev["customer"])
    # Sign-up carries the registration phone; a login carries it too (SMS-code login, as fund apps do).
    ev["phone"] = np.where(np.isin(event, [EVENT_CODE["sign_up"], EVENT_CODE["login"]]), person, NULL)

    logged = pos >= per_event("logged_from")
    ev["login"] = np.where(logged, person, NULL)
    has_wx = pd.notna(pid.wx_openid)[person]
    ev["wx"] = np.where(logged & (platform == 4) & has_wx, person, NULL)
    session_utm = per_event("utm")
    # Acquisition utm (>= 0) on the landing view and app_activate; re-engagement utm (<= -2) on a first event.
    reengage_base = len(dictionaries.utm) - len(ref.REENGAGE_UTMS)
    utm = np.where(
        (session_utm >= 0) & ((pos == 0) & np.isin(template, [LANDING, ACTIVATE])), session_utm, NULL
    )
    utm = np.where((session_utm <= -2) & (pos == 0), reengage_base + (-2 - session_utm), utm)
    ev["utm"] = utm
    ev["referrer"] = np.where((pos == 0) & (template == LANDING), per_event("referrer"), NULL)

    device = ev["device"]
    ev["sdk"] = device_codes.sdk[device]
    web_sdk = dictionaries.sdk_version.index(WEB_SDK)
    landing_on_app_device = (template == LANDING) & (pop.platform[person] != 2)
    ev["sdk"] = np.where(
        landing_on_app_device | ((platform == 3) & (pop.platform[person] <= 1)), web_sdk, ev["sdk"]
    )
    ev["ua"] = np.where(
        per_event("browser_ua") | landing_on_app_device,
        device_codes.browser_ua[device],
        device_codes.ua[device],
    )
    ev["model"] = np.where(is_app, device_codes.model[device], NULL)

    # Receive time: web beacons arrive within a second, app SDKs flush in batches (up to a minute).
    latency = np.where(is_app, 200 + rng.exponential(4000, total), 40 + rng.exponential(250, total)).astype(
        np.int64
    )
    ev["receive_ms"] = np.minimum(ev["time_ms"] + latency, window.end_ms)
    keep = (ev["time_ms"] >= window.start_ms) & (ev["time_ms"] <= window.end_ms)
    return ev.complete(total).take(np.flatnonzero(keep))
