"""The CRM: customers, bound bank cards and marketing consents, as versions of each record.

Each table is a list of record versions with `updated_ms`; the writer turns them into the full snapshot
of day 1 and the daily deltas. Customer changes inside the window: risk re-assessments (5 %), new mobile
(1 %), new e-mail (1 %), expired KYC (1 %); 5 % of new customers stay `pending` for 1-3 days before
`verified`. Cards: 97 % of pre-existing customers have one or two; 2 % bind another card in the window
and 1.5 % of two-card holders unbind one. Consents: four channels per customer; 3 % withdraw one in the
window and 1 % grant one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from demo_sources import ids
from demo_sources import reference as ref
from demo_sources.config import DAY_MS, Window
from demo_sources.identifiers import PersonIds
from demo_sources.population import CHURNED, Population, diurnal_offsets_ms, sample_days
from demo_sources.trades import NULL, local_ms


@dataclass
class Crm:
    """Record versions of the three CRM tables (plus, per customer, the first card binding time)."""

    customer_versions: pd.DataFrame
    card_versions: pd.DataFrame
    consent_versions: pd.DataFrame


def build_bank_cards(
    rng: np.random.Generator, pop: Population, pid: PersonIds, window: Window
) -> pd.DataFrame:
    """Card versions: bindings before and inside the window, and a few unbindings.

    Columns: card (index), customer, card_id, bank, card_number, bound_ms, card_status, updated_ms,
    bind_platform (platform of an in-window binding, else -1).
    """
    customers = pid.customer_person
    n = len(customers)
    pre = ~pop.in_window[customers]
    open_ms = pop.open_ms[customers]
    count_pre = np.where(pre & (rng.random(n) < 0.97), 1 + (rng.random(n) < 0.18), 0)
    owner_pre = np.repeat(np.arange(n), count_pre)
    span = np.maximum(window.start_ms - open_ms[owner_pre], DAY_MS)
    bound_pre = open_ms[owner_pre] + (rng.random(len(owner_pre)) * span * 0.9).astype(np.int64)

    bind = pop.bind_ms[customers]
    owner_new = np.flatnonzero(bind >= 0)
    # A few active pre-existing customers add a card during the window.
    extra = pre & (count_pre > 0) & (pop.archetype[customers] < CHURNED) & (rng.random(n) < 0.02)
    owner_extra = np.flatnonzero(extra)
    day = sample_days(rng, pop.browse_rate, customers[owner_extra])
    owner_extra, day = owner_extra[day >= 0], day[day >= 0]
    bound_extra = window.start_ms + day * DAY_MS + diurnal_offsets_ms(rng, len(day))

    owner = np.concatenate([owner_pre, owner_new, owner_extra])
    bound_ms = np.concatenate([bound_pre, bind[owner_new], bound_extra])
    in_window = bound_ms >= window.start_ms
    m = len(owner)
    weights = np.array(ref.BANK_WEIGHTS, dtype=float)
    bank = rng.choice(len(ref.BANKS), size=m, p=weights / weights.sum())
    persons = customers[owner]
    secondary = pop.secondary_platform[persons]
    platform = np.where((secondary >= 0) & (rng.random(m) < 0.15), secondary, pop.platform[persons])
    cards = pd.DataFrame(
        {
            "card": np.arange(m),
            "customer": owner,
            "card_id": ids.numbered("BC", rng.choice(10**10, size=m, replace=False), 10),
            "bank_name": np.array([b[0] for b in ref.BANKS])[bank],
            "card_number": ids.card_numbers(rng, bank),
            "bound_ms": bound_ms,
            "card_status": "bound",
            "updated_ms": bound_ms,
            "bind_platform": np.where(in_window, platform, NULL),
        }
    )
    # Unbinding: only customers with two pre-window cards drop one, so everyone keeps a bound card.
    two = np.flatnonzero(count_pre == 2)
    drops = two[rng.random(len(two)) < 0.015 * 6]
    first_card = np.searchsorted(owner_pre, drops)
    unbind_day = window.start_day + rng.integers(0, window.days, len(drops))
    unbound = cards.iloc[first_card].assign(
        card_status="unbound",
        updated_ms=local_ms(unbind_day, diurnal_offsets_ms(rng, len(drops))),
        bind_platform=NULL,
    )
    return pd.concat([cards, unbound], ignore_index=True)


def first_card_ms(cards: pd.DataFrame, n_customers: int) -> np.ndarray:
    """Per customer, when the first card was bound (-1 = never)."""
    first = np.full(n_customers, np.iinfo(np.int64).max, dtype=np.int64)
    bound = cards[cards.card_status == "bound"]
    np.minimum.at(first, bound.customer.to_numpy(), bound.bound_ms.to_numpy())
    return np.where(first == np.iinfo(np.int64).max, -1, first)


def build_crm(
    rng: np.random.Generator,
    pop: Population,
    pid: PersonIds,
    window: Window,
    cards: pd.DataFrame,
    open_channel: np.ndarray,
) -> Crm:
    """Customer and consent versions; `open_channel` per customer comes from the fund accounts."""
    customers = pid.customer_person
    n = len(customers)
    pre = ~pop.in_window[customers]
    open_ms = pop.open_ms[customers]
    region = np.array(ref.REGIONS, dtype=object)[pid.region]
    # Last assessment within two years before the window (or at opening).
    assessed_back = (rng.uniform(1, 700, n) * DAY_MS).astype(np.int64)
    assessed_ms = np.where(pre, np.maximum(open_ms, window.start_ms - assessed_back), open_ms)
    kyc = np.where(pre, np.where(rng.random(n) < 0.05, "expired", "verified"), "verified")
    pending = ~pre & (rng.random(n) < 0.05)
    kyc = np.where(pending, "pending", kyc)
    last_update = np.where(pre, np.maximum(assessed_ms, open_ms + DAY_MS), open_ms)
    last_update = np.minimum(last_update, np.where(pre, window.start_ms - 3_600_000, open_ms))
    base = pd.DataFrame(
        {
            "customer": np.arange(n),
            "customer_no": pid.customer_no,
            "name": pid.name,
            "gender": np.where(pop.is_male[customers], "M", "F"),
            "birth_day": pop.birth_day[customers],
            "id_type": pid.id_type,
            "id_number": pid.id_number,
            "mobile": pid.mobile,
            "email": pid.email,
            "province": region[:, 1],
            "city": region[:, 2],
            "risk_level": pop.risk_level[customers].astype(np.int64),
            "risk_assessed_day": (assessed_ms + 8 * 3_600_000) // DAY_MS,
            "kyc_status": kyc,
            "open_day": (open_ms + 8 * 3_600_000) // DAY_MS,
            "open_channel": open_channel,
            "updated_ms": last_update,
        }
    )
    versions = [base]
    verified = base[pending].assign(kyc_status="verified")
    verified["updated_ms"] = open_ms[pending] + (rng.uniform(1, 3, int(pending.sum())) * DAY_MS).astype(
        np.int64
    )
    versions.append(verified[verified.updated_ms <= window.end_ms])

    # One change at most per pre-existing customer inside the window.
    draw = rng.random(n)
    change_day = window.start_day + rng.integers(0, window.days, n)
    change_ms = local_ms(change_day, diurnal_offsets_ms(rng, n))
    reassess = pre & (draw < 0.05)
    step = np.where(rng.random(n) < 0.5, -1, 1)
    new_level = np.clip(base.risk_level.to_numpy() + step, 1, 5)
    versions.append(
        base[reassess].assign(
            risk_level=new_level[reassess],
            risk_assessed_day=change_day[reassess],
            updated_ms=change_ms[reassess],
        )
    )
    new_mobile = pre & (draw >= 0.05) & (draw < 0.06) & (pid.mobile != pid.other_phone)
    versions.append(
        base[new_mobile].assign(mobile=pid.other_phone[new_mobile], updated_ms=change_ms[new_mobile])
    )
    new_email = pre & (draw >= 0.06) & (draw < 0.07)
    fresh = ids.emails(rng, int(new_email.sum()))
    taken = set(pid.email[pid.email != None].tolist())  # noqa: E711 - elementwise comparison
    fresh = np.array([e if e not in taken else "x" + e for e in fresh], dtype=object)
    versions.append(base[new_email].assign(email=fresh, updated_ms=change_ms[new_email]))
    expire = pre & (draw >= 0.07) & (draw < 0.08) & (kyc == "verified")
    versions.append(base[expire].assign(kyc_status="expired", updated_ms=change_ms[expire]))
    customer_versions = pd.concat(versions, ignore_index=True)

    consents = _consents(rng, pop, customers, window, open_ms)
    return Crm(customer_versions, cards, consents)


def _consents(
    rng: np.random.Generator, pop: Population, customers: np.ndarray, window: Window, open_ms: np.ndarray
) -> pd.DataFrame:
    """Consent versions per (customer, channel): the initial choice and a few changes in the window."""
    n = len(customers)
    k = len(ref.CONSENT_CHANNELS)
    customer = np.repeat(np.arange(n), k)
    channel = np.tile(np.arange(k), n)
    granted = rng.random(n * k) < np.tile(ref.CONSENT_GRANT_RATE, n)
    pre = ~pop.in_window[customers][customer]
    updated = np.where(
        pre,
        np.minimum(
            open_ms[customer] + (rng.uniform(0, 400, n * k) * DAY_MS).astype(np.int64),
            window.start_ms - 60_000,
        ),
        open_ms[customer] + 60_000,
    )
    base = pd.DataFrame(
        {
            "customer": customer,
            "channel": np.array(ref.CONSENT_CHANNELS)[channel],
            "consent_status": np.where(granted, "granted", "withdrawn"),
            "updated_ms": updated,
        }
    )
    draw = rng.random(n * k)
    change_day = window.start_day + rng.integers(0, window.days, n * k)
    flip = (granted & (draw < 0.03 / k * 1.5)) | (~granted & (draw < 0.01 / k * 3))
    change_ms = local_ms(change_day, diurnal_offsets_ms(rng, n * k))
    flip &= change_ms > updated
    changes = base[flip].assign(
        consent_status=np.where(granted[flip], "withdrawn", "granted"), updated_ms=change_ms[flip]
    )
    return pd.concat([base, changes], ignore_index=True)
