"""Every identifier and piece of personal data of every person, and their devices.

A person has one primary device (its anonymous_id on its main platform) and possibly a secondary one
(a desktop browser or the WeChat mini-program). Registered persons have a login_id and a registration
phone; customers also have a customer_no, a fund_account_id and CRM personal data whose gender and
birth date agree with the 18-digit ID number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from demo_sources import ids
from demo_sources import reference as ref
from demo_sources.population import KIND_CUSTOMER, KIND_VISITOR, Population

DEVICE_PREFIX = ["d-", "d-", "b-", "b-", "m-"]


@dataclass
class Devices:
    """One row per device (anonymous_id)."""

    person: np.ndarray
    platform: np.ndarray  # int8 platform index
    anonymous_id: np.ndarray  # str
    sdk_version: np.ndarray  # str
    user_agent: np.ndarray  # str: what the device's SDK sends on its own platform
    browser_user_agent: np.ndarray  # str: the phone's browser (H5 landing pages)
    device_model: np.ndarray  # object: str or None

    @property
    def size(self) -> int:
        """Number of devices."""
        return len(self.person)


@dataclass
class PersonIds:
    """Identifiers and personal data per person; None where a person has no such identifier."""

    person_key: np.ndarray
    login_id: np.ndarray
    reg_phone: np.ndarray
    wx_openid: np.ndarray
    wx_unionid: np.ndarray
    primary_device: np.ndarray  # device index
    secondary_device: np.ndarray  # device index or -1
    customer_index: np.ndarray  # position among customers or -1
    # the following arrays are per customer (ordered like Population customers)
    customer_person: np.ndarray
    customer_no: np.ndarray
    fund_account_id: np.ndarray
    name: np.ndarray
    id_type: np.ndarray
    id_number: np.ndarray
    mobile: np.ndarray
    email: np.ndarray
    region: np.ndarray  # index into reference.REGIONS
    other_phone: np.ndarray  # a second phone of the person (old number) used by some records


def build_person_ids(rng: np.random.Generator, pop: Population) -> tuple[PersonIds, Devices]:
    """Draw all identifiers; unique where they must be, deterministic for the generator."""
    n = pop.size
    person_key = ids.numbered("P", rng.permutation(n) + 1, 8)
    registered = pop.kind != KIND_VISITOR
    login_id = np.full(n, None, dtype=object)
    login_id[registered] = ids.numbered("U", rng.choice(10**8, size=int(registered.sum()), replace=False), 8)

    forbidden_phones = set(ref.JUNK_PHONES) | set(ref.TEST_PHONE_NUMBERS)
    customers = np.flatnonzero(pop.kind == KIND_CUSTOMER)
    n_cust = len(customers)
    phones = ids.mobiles(rng, int(registered.sum()) + n_cust, forbidden_phones)
    reg_phone = np.full(n, None, dtype=object)
    reg_phone[registered] = phones[: int(registered.sum())]
    other_phone = phones[int(registered.sum()) :]

    uses_wechat = registered & ((pop.platform == 4) | (pop.secondary_platform == 4))
    wx_openid = np.full(n, None, dtype=object)
    wx_unionid = np.full(n, None, dtype=object)
    wx = ids.wx_ids(rng, 2 * int(uses_wechat.sum()))
    wx_openid[uses_wechat] = wx[: int(uses_wechat.sum())]
    wx_unionid[uses_wechat] = wx[int(uses_wechat.sum()) :]

    devices, primary, secondary = _devices(rng, pop)
    customer_index = np.full(n, -1, dtype=np.int64)
    customer_index[customers] = np.arange(n_cust)

    is_male = pop.is_male[customers]
    birth = pop.birth_day[customers]
    region_weights = np.array([w for *_, w in ref.REGIONS])
    region = rng.choice(len(ref.REGIONS), size=n_cust, p=region_weights / region_weights.sum())
    codes = np.array([r[0] for r in ref.REGIONS])[region]
    ymd = np.char.replace(np.datetime_as_string(birth.astype("datetime64[D]")), "-", "")
    id_type = rng.choice(["ID_CARD", "PASSPORT", "HK_MACAO_PERMIT"], size=n_cust, p=[0.99, 0.006, 0.004])
    id_number = ids.prc_id_numbers(rng, codes, ymd, is_male).astype(object)
    passport = id_type == "PASSPORT"
    id_number[passport] = np.char.add("E", ids.digit_strings(rng, int(passport.sum()), 8))
    permit = id_type == "HK_MACAO_PERMIT"
    id_number[permit] = np.char.add(
        rng.choice(["H", "M"], size=int(permit.sum())), ids.digit_strings(rng, int(permit.sum()), 8)
    )
    # Most customers keep their registration phone in the CRM; a few gave the CRM another number.
    mobile = reg_phone[customers].copy()
    changed = rng.random(n_cust) < 0.06
    mobile[changed] = other_phone[changed]
    email = np.full(n_cust, None, dtype=object)
    has_email = rng.random(n_cust) < 0.6
    email[has_email] = ids.emails(rng, int(has_email.sum()))

    person_ids = PersonIds(
        person_key=person_key,
        login_id=login_id,
        reg_phone=reg_phone,
        wx_openid=wx_openid,
        wx_unionid=wx_unionid,
        primary_device=primary,
        secondary_device=secondary,
        customer_index=customer_index,
        customer_person=customers,
        customer_no=ids.numbered("C", rng.choice(9 * 10**8, size=n_cust, replace=False) + 10**8, 9),
        fund_account_id=ids.numbered("FA", rng.choice(10**10, size=n_cust, replace=False), 10),
        name=ids.chinese_names(rng, is_male),
        id_type=id_type,
        id_number=id_number,
        mobile=mobile,
        email=email,
        region=region,
        other_phone=other_phone,
    )
    return person_ids, devices


def _devices(rng: np.random.Generator, pop: Population) -> tuple[Devices, np.ndarray, np.ndarray]:
    """Primary devices for everyone, secondary ones for persons with a second platform."""
    n = pop.size
    has_second = pop.secondary_platform >= 0
    owner = np.concatenate([np.arange(n), np.flatnonzero(has_second)])
    platform = np.concatenate([pop.platform, pop.secondary_platform[has_second]]).astype(np.int8)
    primary = np.arange(n)
    secondary = np.full(n, -1, dtype=np.int64)
    secondary[has_second] = n + np.arange(int(has_second.sum()))
    m = len(owner)

    anonymous_id = np.char.add(np.array(DEVICE_PREFIX)[platform], ids.hex_ids(rng, m, 16).astype(str))
    sdk = np.empty(m, dtype=object)
    for p, versions in ref.SDK_VERSIONS.items():
        idx = np.flatnonzero(platform == p)
        weights = np.array(ref.SDK_WEIGHTS[: len(versions)])
        sdk[idx] = np.array(versions)[rng.choice(len(versions), size=len(idx), p=weights / weights.sum())]

    is_ios = (platform == 0) | ((platform >= 3) & (rng.random(m) < 0.4))
    ios_ver = np.array(ref.IOS_VERSIONS)[rng.integers(0, len(ref.IOS_VERSIONS), m)]
    android_ver = np.array(ref.ANDROID_VERSIONS)[rng.integers(0, len(ref.ANDROID_VERSIONS), m)]
    ios_model = np.array(ref.IOS_MODELS)[rng.integers(0, len(ref.IOS_MODELS), m)]
    android_model = np.array(ref.ANDROID_MODELS)[rng.integers(0, len(ref.ANDROID_MODELS), m)]
    model = np.where(is_ios, ios_model, android_model)
    ios_browser = np.char.add(
        np.char.add("Mozilla/5.0 (iPhone; CPU iPhone OS ", np.char.replace(ios_ver, ".", "_")),
        " like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    )
    android_browser = np.char.add(
        np.char.add(np.char.add("Mozilla/5.0 (Linux; Android ", android_ver), "; "),
        np.char.add(
            android_model, ") AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36"
        ),
    )
    browser = np.where(is_ios, ios_browser, android_browser)
    app_version = np.char.replace(
        np.char.replace(np.char.replace(sdk.astype(str), "ios-", ""), "android-", ""), "js-", ""
    )
    ios_app = np.char.add(
        np.char.add(np.char.add("XinyuanFund/", app_version), " (iPhone; iOS "),
        np.char.add(ios_ver, "; Scale/3.00)"),
    )
    android_app = np.char.add(
        np.char.add(np.char.add("XinyuanFund/", app_version), " (Linux; Android "),
        np.char.add(np.char.add(android_ver, "; "), np.char.add(android_model, ")")),
    )
    desktop = np.array(ref.DESKTOP_UAS)[rng.integers(0, len(ref.DESKTOP_UAS), m)]
    wechat = np.char.add(browser, " MicroMessenger/8.0.49 NetType/WIFI Language/zh_CN MiniProgramEnv/")
    wechat = np.char.add(wechat, np.where(is_ios, "iOS", "android"))
    user_agent = np.select(
        [platform == 0, platform == 1, platform == 2, platform == 3],
        [ios_app, android_app, desktop, browser],
        wechat,
    )
    device_model = np.where(platform <= 1, model, None).astype(object)
    devices = Devices(
        person=owner,
        platform=platform,
        anonymous_id=anonymous_id,
        sdk_version=sdk.astype(str),
        user_agent=user_agent,
        browser_user_agent=browser,
        device_model=device_model,
    )
    return devices, primary, secondary
