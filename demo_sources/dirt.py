"""Inject the documented defects (see `DirtConfig`) and locate each of them for the truth files.

Rules: junk lines are EXTRA lines (garbled copies of real lines), so no real record is lost and trades
and holdings stay consistent; flagged tracking kinds are extra events too, except late events, junk
identifiers and shared devices, which alter real records without removing any. Every kind draws from
its own random stream, so the clean data never depends on the dirt settings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from demo_sources import ids
from demo_sources import reference as ref
from demo_sources.config import DAY_MS, DirtConfig, Window, child_rng, local_day, scaled_count
from demo_sources.crm import Crm
from demo_sources.csv_tables import TableRows, customer_rows, full_then_delta
from demo_sources.files import Defect, DeliveredFile, JunkLine, data_file_name, day_folder, day_stamp
from demo_sources.funds import Funds
from demo_sources.identifiers import PersonIds
from demo_sources.population import KIND_VISITOR, Population
from demo_sources.tracking import EVENT_CODE, NULL, SCREEN, WEB_SDK, DeviceCodes, Dictionaries, EventColumns

EVENT_DEFECTS = [
    "duplicate_event",
    "retired_tracking_point",
    "retired_sdk",
    "bot",
    "test_device",
    "clock_skew",
    "late_event",
    "junk_identifier",
    "shared_device",
]
DEFECT_CODE = {kind: i for i, kind in enumerate(EVENT_DEFECTS)}
# Flagged events must not count, nor link identities; late events, junk ids and shared devices stay valid.
FLAGGED = [DEFECT_CODE[k] for k in EVENT_DEFECTS[:6]]
UNPARSEABLE = {"malformed_json", "wrong_column_count", "unterminated_quote", "bad_number", "bad_date"}
BROWSING = [EVENT_CODE["page_view"], EVENT_CODE["click"], EVENT_CODE["app_start"]]
NUMERIC_COLUMNS = {
    "trade_orders": ["amount", "shares", "nav", "fee"],
    "sip_agreements": ["amount"],
    "nav": ["nav", "accumulated_nav"],
    "holdings": ["shares", "market_value"],
}
DATE_COLUMNS = {
    "fund_products": "inception_date",
    "fund_accounts": "open_date",
    "trade_orders": "confirm_date",
    "sip_agreements": "start_date",
    "nav": "nav_date",
    "holdings": "snapshot_date",
    "customers": "birth_date",
    "bank_cards": "bound_at",
    "marketing_consents": "updated_at",
}
BAD_NUMBERS = ['"12,3a.5"', "12.3.4", "1O0.00", '"1,234.5x"']
BAD_DATES = ["2026-02-30", "30/06/2026", "2026-13-01", "2026/06/31"]
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


class DirtInjector:
    """Applies one DirtConfig to the generated records and reports where each defect went."""

    def __init__(
        self,
        seed: int,
        config: DirtConfig,
        window: Window,
        pop: Population,
        pid: PersonIds,
        dictionaries: Dictionaries,
        device_codes: DeviceCodes,
        funds: Funds,
    ) -> None:
        self.seed, self.config, self.window = seed, config, window
        self.pop, self.pid, self.dicts, self.device_codes, self.funds = (
            pop,
            pid,
            dictionaries,
            device_codes,
            funds,
        )
        self.details: list[str] = []  # texts that the events' `detail` codes point to

    def detail_codes(self, texts: list[str] | np.ndarray | str, n: int) -> np.ndarray:
        """Store defect detail texts (one shared text, or one per event) and return their codes."""
        if isinstance(texts, str):
            self.details.append(texts)
            return np.full(n, len(self.details) - 1, dtype=np.int64)
        start = len(self.details)
        self.details.extend(str(t) for t in texts)
        return np.arange(start, len(self.details), dtype=np.int64)

    def rng(self, stream: str) -> np.random.Generator:
        """The random stream of one kind of dirt (independent of all others)."""
        return child_rng(self.seed, f"dirt-{stream}")

    # --- tracking ---------------------------------------------------------------------------------

    def tracking_events(self, ev: EventColumns) -> tuple[EventColumns, pd.DataFrame]:
        """Modify real events and append flagged extra events; also return ids owned by nobody."""
        unowned: list[tuple[str, str, str]] = []
        self._junk_logins(ev)
        unowned += self._shared_devices(ev)
        self._late_events(ev)
        extras = [
            self._duplicates(ev),
            self._retired_points(ev),
            self._retired_sdk(ev),
            self._clock_skew(ev),
        ]
        bots, bot_ids = self._bots(len(ev))
        tests, test_ids = self._test_devices()
        unowned += bot_ids + test_ids
        events = EventColumns.concat([ev, *extras, bots, tests])
        frame = pd.DataFrame(unowned, columns=["identifier_type", "identifier_value", "note"])
        return events, frame

    def _choose(
        self, rng: np.random.Generator, candidates: np.ndarray, rate: float, base: int | None = None
    ) -> np.ndarray:
        count = scaled_count(rate, len(candidates) if base is None else base)
        count = min(count, len(candidates))
        return np.sort(rng.choice(candidates, size=count, replace=False)) if count else candidates[:0]

    def _mark(
        self, ev: EventColumns, idx: np.ndarray, kind: str, detail: np.ndarray | str | None = None
    ) -> None:
        ev["defect"][idx] = DEFECT_CODE[kind]
        if detail is not None:
            ev["detail"][idx] = self.detail_codes(detail, len(idx))

    def _junk_logins(self, ev: EventColumns) -> None:
        """junk_identifier: SDK bugs writing junk into login_id, sign-up phone and WeChat ids."""
        rng = self.rng("junk-tracking")
        clean = ev["defect"] < 0
        logged = np.flatnonzero(clean & (ev["login"] >= 0) & np.isin(ev["event"], BROWSING))
        chosen = self._choose(rng, logged, self.config.junk_identifier)
        values = ref.JUNK_VALUES + ["00000000"]
        codes = np.array([self.dicts.add("login_id", v) for v in values])
        picks = rng.integers(0, len(values), len(chosen))
        ev["login"][chosen] = codes[picks]
        self._mark(
            ev, chosen, "junk_identifier", np.array([f"login_id={values[i]!r}" for i in picks], dtype=object)
        )

        signups = np.flatnonzero(clean & (ev["event"] == EVENT_CODE["sign_up"]))
        chosen = self._choose(rng, signups, self.config.junk_identifier * 10)
        phones = list(self.config.test_phone_numbers) + ref.JUNK_PHONES
        codes = np.array([self.dicts.add("phone", v) for v in phones])
        picks = rng.integers(0, len(phones), len(chosen))
        ev["phone"][chosen] = codes[picks]
        self._mark(
            ev, chosen, "junk_identifier", np.array([f"phone={phones[i]}" for i in picks], dtype=object)
        )

        # openid and unionid share the `wx` code: both dictionaries get the junk value at the same position
        wechat = np.flatnonzero(clean & (ev["wx"] >= 0) & np.isin(ev["event"], BROWSING))
        chosen = self._choose(rng, wechat, self.config.junk_identifier * 3)
        if len(chosen):
            code = int(self.dicts.extend("wx_openid", ["undefined"])[0])
            self.dicts.extend("wx_unionid", ["undefined"])
            ev["wx"][chosen] = code
            self._mark(ev, chosen, "junk_identifier", "wx_openid='undefined', wx_unionid='undefined'")

    def _shared_devices(self, ev: EventColumns) -> list[tuple[str, str, str]]:
        """shared_device: relatives use one phone at different times (logged in as themselves)."""
        rng = self.rng("shared-device")
        pop = self.pop
        eligible = (pop.kind != KIND_VISITOR) & (pop.platform <= 1) & ~pop.in_window
        families = scaled_count(self.config.shared_device / 2.5, int(eligible.sum()))
        mid = self.window.start_ms + self.window.days // 2 * DAY_MS
        # families are drawn among app users who browse on their own phone in the second half
        person = ev["person"]
        on_own_phone = (person >= 0) & (ev["device"] == self.pid.primary_device[np.maximum(person, 0)])
        active = on_own_phone & (ev["time_ms"] >= mid) & np.isin(ev["event"], BROWSING) & (ev["defect"] < 0)
        active_people = np.unique(person[active])
        active_people = active_people[eligible[active_people]]
        if families == 0 or len(active_people) < 3:
            return []
        people = rng.permutation(active_people)
        sizes = rng.integers(2, 4, families)
        sizes = sizes[np.cumsum(sizes) <= len(people)]
        starts = np.cumsum(sizes) - sizes
        owners = people[starts]
        # one pass over the events: each member's own phone is remapped to the family phone
        family_device = np.arange(len(self.dicts.anonymous_id), dtype=np.int64)
        family_of_device = np.full(len(family_device), NULL, dtype=np.int64)
        for f, (start, size) in enumerate(zip(starts, sizes, strict=True)):
            members = people[start + 1 : start + size]
            family_device[self.pid.primary_device[members]] = self.pid.primary_device[owners[f]]
            family_of_device[self.pid.primary_device[members]] = f
        device = ev["device"]
        moved = (family_device[device] != device) & (ev["time_ms"] >= mid)
        moved &= np.isin(ev["event"], BROWSING + [EVENT_CODE["login"]])
        idx = np.flatnonzero(moved)
        family = family_of_device[device[idx]]
        new_device = family_device[device[idx]]
        ev["device"][idx] = new_device
        ev["sdk"][idx] = self.device_codes.sdk[new_device]
        ev["ua"][idx] = self.device_codes.ua[new_device]
        ev["model"][idx] = self.device_codes.model[new_device]
        out = []
        for f in np.unique(family):
            in_family = idx[family == f]
            first = in_family[np.argmin(ev["receive_ms"][in_family])]
            start, size = starts[f], sizes[f]
            keys = ",".join(self.pid.person_key[people[start : start + size]])
            anonymous_id = self.dicts.anonymous_id[self.pid.primary_device[owners[f]]]
            self._mark(
                ev, np.array([first]), "shared_device", f"anonymous_id {anonymous_id} used by persons {keys}"
            )
            out.append(("anonymous_id", anonymous_id, "shared_device"))
        return out

    def _late_events(self, ev: EventColumns) -> None:
        """late_event: offline phones deliver events 1-5 days later (valid, in the receive day's file)."""
        rng = self.rng("late")
        app = ev["platform"] <= 1
        room = self.window.end_ms - ev["time_ms"]
        candidates = np.flatnonzero(
            (ev["defect"] < 0) & app & np.isin(ev["event"], BROWSING) & (room > 1.2 * DAY_MS)
        )
        chosen = self._choose(rng, candidates, self.config.late_event)
        delay = (rng.uniform(1.02, 5.0, len(chosen)) * DAY_MS).astype(np.int64)
        delay = np.minimum(delay, room[chosen])
        ev["receive_ms"][chosen] = ev["time_ms"][chosen] + delay
        detail = np.array(
            [f"received {d / DAY_MS:.2f} days after its client time" for d in delay], dtype=object
        )
        self._mark(ev, chosen, "late_event", detail)

    def _clones(self, ev: EventColumns, source: np.ndarray, keep_payload: bool = False) -> EventColumns:
        """Extra events copied from real ones (same person, device and context)."""
        clone = ev.take(source)
        clone["copy_of"] = np.full(len(source), NULL, dtype=np.int64)
        clone["detail"] = np.full(len(source), NULL, dtype=np.int64)
        clone["defect"] = np.full(len(source), NULL, dtype=np.int16)
        if not keep_payload:
            for column in ("amount_c", "order", "phone", "customer", "utm", "referrer"):
                clone[column] = np.full(len(source), NULL, dtype=clone[column].dtype)
        return clone

    def _duplicates(self, ev: EventColumns) -> EventColumns:
        """duplicate_event: SDK retries deliver the same event_id again, up to 36 h later."""
        rng = self.rng("duplicates")
        candidates = np.flatnonzero(ev["defect"] < 0)
        chosen = self._choose(rng, candidates, self.config.duplicate_event)
        copies = self._clones(ev, chosen, keep_payload=True)
        later = np.where(
            rng.random(len(chosen)) < 0.7,
            rng.integers(1000, 600_000, len(chosen)),
            rng.integers(3_600_000, 36 * 3_600_000, len(chosen)),
        )
        copies["receive_ms"] = np.minimum(copies["receive_ms"] + later, self.window.end_ms)
        copies["copy_of"] = chosen
        copies["defect"][:] = DEFECT_CODE["duplicate_event"]
        return copies

    def _retired_points(self, ev: EventColumns) -> EventColumns:
        """retired_tracking_point: old tracking code still firing beside the current events."""
        rng = self.rng("retired-points")
        candidates = np.flatnonzero((ev["defect"] < 0) & np.isin(ev["event"], BROWSING))
        chosen = self._choose(rng, candidates, self.config.retired_tracking_point, base=len(ev))
        clones = self._clones(ev, chosen)
        codes = np.array([self.dicts.add("event", name) for name in ref.RETIRED_EVENTS])
        clones["event"] = codes[rng.integers(0, len(codes), len(chosen))].astype(np.int16)
        shift = rng.integers(200, 5000, len(chosen))
        clones["time_ms"] = np.minimum(clones["time_ms"] + shift, self.window.end_ms)
        clones["receive_ms"] = np.minimum(clones["receive_ms"] + shift, self.window.end_ms)
        clones["defect"][:] = DEFECT_CODE["retired_tracking_point"]
        clones["detail"] = self.detail_codes("retired tracking point", len(chosen))
        return clones

    def _retired_sdk(self, ev: EventColumns) -> EventColumns:
        """retired_sdk: an old phone of the person still runs a retired SDK version."""
        rng = self.rng("retired-sdk")
        candidates = np.flatnonzero(
            (ev["defect"] < 0) & (ev["platform"] <= 1) & np.isin(ev["event"], BROWSING)
        )
        chosen = self._choose(rng, candidates, self.config.retired_sdk, base=len(ev))
        clones = self._clones(ev, chosen)
        persons = np.unique(clones["person"])
        old_ids = np.char.add("d-", ids.hex_ids(rng, len(persons), 16).astype(str)).tolist()
        old_device = dict(
            zip(persons.tolist(), self.dicts.extend("anonymous_id", old_ids).tolist(), strict=True)
        )
        clones["device"] = np.array([old_device[p] for p in clones["person"]], dtype=np.int64)
        retired = {
            0: [v for v in ref.RETIRED_SDK_VERSIONS if v.startswith("ios")],
            1: [v for v in ref.RETIRED_SDK_VERSIONS if v.startswith("android")],
        }
        version = [retired[int(p)][rng.integers(0, len(retired[int(p)]))] for p in clones["platform"]]
        clones["sdk"] = np.array([self.dicts.add("sdk_version", v) for v in version], dtype=np.int16)
        back = (rng.uniform(1, 48, len(chosen)) * 3_600_000).astype(np.int64)
        clones["time_ms"] = np.maximum(clones["time_ms"] - back, self.window.start_ms)
        clones["receive_ms"] = clones["time_ms"] + rng.integers(300, 5000, len(chosen))
        clones["defect"][:] = DEFECT_CODE["retired_sdk"]
        clones["detail"] = self.detail_codes([f"sdk_version {v}" for v in version], len(chosen))
        return clones

    def _clock_skew(self, ev: EventColumns) -> EventColumns:
        """clock_skew: phones with wrong clocks (time >10 min after, or >7 days before, receive_time)."""
        rng = self.rng("clock-skew")
        candidates = np.flatnonzero((ev["defect"] < 0) & np.isin(ev["event"], BROWSING))
        chosen = self._choose(rng, candidates, self.config.clock_skew, base=len(ev))
        clones = self._clones(ev, chosen)
        ahead = rng.random(len(chosen)) < 0.5
        offset = np.where(
            ahead,
            (rng.uniform(11, 3 * 24 * 60, len(chosen)) * 60_000),
            -(rng.uniform(8, 40, len(chosen)) * DAY_MS),
        ).astype(np.int64)
        clones["time_ms"] = clones["receive_ms"] + offset
        clones["defect"][:] = DEFECT_CODE["clock_skew"]
        clones["detail"] = self.detail_codes(
            [f"client time {o / 3_600_000:+.1f} h from receive_time" for o in offset], len(chosen)
        )
        return clones

    def _bots(self, n_events: int) -> tuple[EventColumns, list[tuple[str, str, str]]]:
        """bot: crawlers and scripts hammering the website at inhuman rates."""
        rng = self.rng("bots")
        total = scaled_count(self.config.bot, n_events)
        if total == 0 or self.config.bot_ids <= 0:
            return EventColumns.empty(0), []
        per_bot = max(60, total // self.config.bot_ids)
        parts, unowned = [], []
        web_sdk = self.dicts.add("sdk_version", WEB_SDK)
        for b in range(self.config.bot_ids):
            anonymous_id = "b-" + ids.hex_ids(rng, 1, 16)[0].decode()
            device = int(self.dicts.extend("anonymous_id", [anonymous_id])[0])
            ua = self.dicts.add("user_agent", ref.BOT_USER_AGENTS[b % len(ref.BOT_USER_AGENTS)])
            bot = EventColumns.empty(per_bot)
            start = (
                self.window.start_ms
                + rng.integers(0, self.window.days) * DAY_MS
                + rng.integers(0, DAY_MS - 2 * 3_600_000)
            )
            bot["time_ms"] = start + np.cumsum(rng.integers(800, 3000, per_bot))
            bot["time_ms"] = np.minimum(bot["time_ms"], self.window.end_ms - 1000)
            bot["receive_ms"] = bot["time_ms"] + rng.integers(20, 300, per_bot)
            bot["device"][:] = device
            bot["platform"][:] = 2 if b % 2 == 0 else 3
            bot["event"][:] = EVENT_CODE["page_view"]
            screens = np.array(
                [SCREEN["home"], SCREEN["fund_market"], SCREEN["fund_detail"], SCREEN["news_feed"]]
            )
            bot["screen"] = screens[rng.integers(0, len(screens), per_bot)].astype(np.int16)
            bot["fund"] = np.where(
                bot["screen"] == SCREEN["fund_detail"], rng.integers(0, self.funds.size, per_bot), NULL
            ).astype(np.int16)
            bot["sdk"][:] = web_sdk
            bot["ua"][:] = ua
            bot["session"][:] = -10 - b
            bot["defect"][:] = DEFECT_CODE["bot"]
            bot["detail"] = self.detail_codes(
                f"{per_bot} page views, about 30 a minute; user agent {ref.BOT_USER_AGENTS[b % 4][:40]}",
                per_bot,
            )
            parts.append(bot)
            unowned.append(("anonymous_id", anonymous_id, "bot"))
        return EventColumns.concat(parts), unowned

    def _test_devices(self) -> tuple[EventColumns, list[tuple[str, str, str]]]:
        """test_device: QA phones logging into hundreds of accounts (>= 200 login_ids each)."""
        rng = self.rng("test-devices")
        parts, unowned = [], []
        # QA staff log into accounts that already exist (signed up before the window)
        registered = np.flatnonzero((self.pop.kind != KIND_VISITOR) & (self.pop.signup_ms < 0))
        for t in range(self.config.test_device):
            anonymous_id = "d-" + ids.hex_ids(rng, 1, 16)[0].decode()
            device = int(self.dicts.extend("anonymous_id", [anonymous_id])[0])
            n_logins = 200 + int(rng.integers(0, 60))
            logins = rng.choice(registered, size=min(n_logins, len(registered)), replace=False)
            codes = logins.astype(np.int64).tolist()
            for q in range(n_logins - len(logins)):
                qa_login = f"QA{t:02d}{q:05d}"
                codes.append(self.dicts.add("login_id", qa_login))
                unowned.append(("login_id", qa_login, "test_device"))
            per_login = 1 + (rng.random(len(codes)) < 0.3)
            n = int(per_login.sum())
            login = np.repeat(np.array(codes, dtype=np.int64), per_login)
            first = np.r_[True, np.diff(np.repeat(np.arange(len(codes)), per_login)) != 0]
            test = EventColumns.empty(n)
            test["event"] = np.where(first, EVENT_CODE["login"], EVENT_CODE["page_view"]).astype(np.int16)
            test["screen"] = np.where(first, NULL, SCREEN["home"]).astype(np.int16)
            day = self.window.start_ms + rng.integers(0, self.window.days, len(codes)) * DAY_MS
            session_start = np.sort(day + rng.integers(2 * 3_600_000, 10 * 3_600_000, len(codes)))
            position = np.arange(n) - np.repeat(np.cumsum(per_login) - per_login, per_login)
            test["time_ms"] = np.repeat(session_start, per_login) + position * 15_000
            test["receive_ms"] = test["time_ms"] + rng.integers(100, 3000, n)
            test["device"][:] = device
            test["platform"][:] = 1
            test["login"] = login
            test["sdk"][:] = self.dicts.add("sdk_version", "android-5.1.0")
            test["ua"][:] = self.dicts.add("user_agent", "XinyuanFund/5.1.0 (Linux; Android 14; QA-Pixel-7)")
            test["model"][:] = self.dicts.add("device_model", "Pixel 7")
            test["session"][:] = -100 - t
            test["defect"][:] = DEFECT_CODE["test_device"]
            test["detail"] = self.detail_codes(f"QA device with {len(codes)} login_ids", n)
            parts.append(test)
            unowned.append(("anonymous_id", anonymous_id, "test_device"))
        return (EventColumns.concat(parts) if parts else EventColumns.empty(0)), unowned

    def malformed_lines(self, ev: EventColumns) -> dict[int, list[tuple[int, str]]]:
        """malformed_json: (day -> [(position in the day's file, variant)]) of lines to garble-copy."""
        rng = self.rng("malformed-json")
        candidates = np.flatnonzero(ev["defect"] < 0)
        chosen = self._choose(rng, candidates, self.config.malformed_json)
        day = local_day(ev["receive_ms"])
        first_of_day = np.searchsorted(day, day[chosen])
        out: dict[int, list[tuple[int, str]]] = {}
        for c, d, f in zip(chosen, day[chosen], first_of_day, strict=True):
            variant = "truncated" if rng.random() < 0.7 else "doubled-comma"
            out.setdefault(int(d), []).append((int(c - f), variant))
        return out

    def tracking_defects(
        self, ev: EventColumns, event_ids: np.ndarray, event_file: np.ndarray, event_line: np.ndarray
    ) -> list[Defect]:
        """Defect rows for every marked event, at its final file and line."""
        out = []
        for i in np.flatnonzero(ev["defect"] >= 0):
            kind = EVENT_DEFECTS[ev["defect"][i]]
            detail = self.details[ev["detail"][i]] if ev["detail"][i] >= 0 else kind
            if kind == "duplicate_event":
                original = ev["copy_of"][i]
                detail = (
                    f"event_id {event_ids[i].decode()} first delivered in {event_file[original]} "
                    f"line {event_line[original]}"
                )
            out.append(Defect(str(event_file[i]), int(event_line[i]), kind, detail))
        return out

    # --- CRM records ------------------------------------------------------------------------------

    def crm_rows(self, tables: dict[str, TableRows], crm: Crm) -> dict[str, TableRows]:
        """CRM customer dirt: duplicate persons, stale rows, noisy phones, bad check digits, junk ids."""
        customers = tables["customers"]
        customers = self._duplicate_persons(customers, crm)
        self._phone_noise(customers)
        self._bad_check_digits(customers)
        self._crm_junk(customers)
        customers = self._stale_rows(customers)
        order = np.lexsort(
            (customers.fields["updated_at"], customers.fields["customer_no"], customers.deliver_day)
        )
        return tables | {"customers": customers.take(order)}

    def _clean_rows(self, rows: TableRows) -> np.ndarray:
        return np.flatnonzero(rows.defect == None)  # noqa: E711 - elementwise

    def _duplicate_persons(self, rows: TableRows, crm: Crm) -> TableRows:
        """crm_duplicate_person: the same person again under a new customer_no (name typo)."""
        rng = self.rng("crm-duplicates")
        versions = crm.customer_versions.drop_duplicates("customer")
        id_card = versions[versions.id_type == "ID_CARD"]
        count = min(scaled_count(self.config.crm_duplicate_person, len(versions)), len(id_card))
        if count == 0:
            return rows
        chosen = id_card.iloc[np.sort(rng.choice(len(id_card), size=count, replace=False))].copy()
        taken = set(self.pid.customer_no.tolist())
        new_numbers = [
            n
            for n in ids.numbered("C", rng.choice(9 * 10**8, size=count * 2, replace=False) + 10**8, 9)
            if n not in taken
        ][:count]
        original_no = chosen.customer_no.to_numpy().copy()
        same_id = rng.random(count) < 0.5
        given = np.array(ref.GIVEN_MALE + ref.GIVEN_FEMALE)
        names = chosen.name.to_numpy().astype(str)
        typo = np.array(
            [
                n[:-1] + given[(given.tolist().index(n[-1]) + 1) % len(given)] if n[-1] in given else n + "0"
                for n in names
            ]
        )
        other = self.pid.other_phone[chosen.customer.to_numpy()]
        window = self.window
        open_ms = chosen.updated_ms.to_numpy()
        created = np.maximum(open_ms, window.start_ms) + (
            rng.uniform(0, 0.9, count) * (window.end_ms - np.maximum(open_ms, window.start_ms))
        ).astype(np.int64)
        # half of the duplicates of pre-existing customers were created before the window (day-1 snapshot)
        before = window.start_ms - (rng.uniform(2, 300, count) * DAY_MS).astype(np.int64)
        created = np.where((open_ms < window.start_ms) & (rng.random(count) < 0.5), before, created)
        chosen = chosen.assign(
            customer_no=new_numbers,
            name=typo,
            mobile=np.where(same_id, other, chosen.mobile.to_numpy()),
            id_type=np.where(same_id, "ID_CARD", None),
            id_number=np.where(same_id, chosen.id_number, None),
            email=None,
            open_channel="branch",
            kyc_status=np.where(same_id, "verified", "pending"),
            open_day=local_day(created),
            risk_assessed_day=local_day(created),
            updated_ms=created,
        )
        chosen = full_then_delta(chosen, ["customer"], window)
        extra = customer_rows(chosen, self.pid.customer_person)
        how = np.where(same_id, "same id_number", "same mobile, no ID")
        extra.defect[:] = "crm_duplicate_person"
        extra.detail[:] = [
            f"same person as {o} ({h}, name typo)" for o, h in zip(original_no, how, strict=True)
        ]
        return TableRows.concat([rows, extra])

    def _phone_noise(self, rows: TableRows) -> None:
        """phone_noise: +86 prefixes, spaces, dashes and full-width digits around the same number."""
        rng = self.rng("phone-noise")
        mobile = rows.fields["mobile"].astype(str)
        candidates = self._clean_rows(rows)
        candidates = candidates[np.char.str_len(mobile[candidates]) == 11]
        chosen = self._choose(rng, candidates, self.config.phone_noise)
        styles = [
            "+86 {a} {b} {c}",
            "{a}-{b}-{c}",
            "+86-{a}{b}{c}",
            "full-width",
            "86{a}{b}{c}",
            "{a} {b} {c}",
        ]
        for i, style in zip(chosen, rng.integers(0, len(styles), len(chosen)), strict=True):
            phone = mobile[i]
            text = (
                phone.translate(FULL_WIDTH)
                if styles[style] == "full-width"
                else styles[style].format(a=phone[:3], b=phone[3:7], c=phone[7:])
            )
            rows.fields["mobile"][i] = text
            rows.identifiers["phone"][i] = text
            rows.defect[i], rows.detail[i] = "phone_noise", f"mobile written as {text!r}"

    def _bad_check_digits(self, rows: TableRows) -> None:
        """bad_id_check_digit: a mistyped ID number whose check character no longer matches."""
        rng = self.rng("bad-id")
        id_number = rows.fields["id_number"].astype(str)
        candidates = self._clean_rows(rows)
        candidates = candidates[
            (rows.fields["id_type"][candidates] == "ID_CARD") & (np.char.str_len(id_number[candidates]) == 18)
        ]
        chosen = self._choose(
            rng, candidates, self.config.bad_id_check_digit, base=len(self.pid.customer_person)
        )
        checks = list("0123456789X")
        for i in chosen:
            good = id_number[i]
            wrong = checks[(checks.index(good[-1]) + 1 + int(rng.integers(0, 9))) % 11]
            rows.fields["id_number"][i] = good[:-1] + wrong
            rows.identifiers["id_number"][i] = good[:-1] + wrong
            rows.defect[i], rows.detail[i] = (
                "bad_id_check_digit",
                f"check character {wrong}, should be {good[-1]}",
            )

    def _crm_junk(self, rows: TableRows) -> None:
        """junk_identifier in the CRM: placeholder mobiles and ID numbers typed in by branch staff."""
        rng = self.rng("junk-crm")
        chosen = self._choose(rng, self._clean_rows(rows), self.config.junk_identifier * 3)
        phones = list(self.config.test_phone_numbers) + ref.JUNK_PHONES
        for i in chosen:
            if rng.random() < 0.6:
                value = phones[rng.integers(0, len(phones))]
                rows.fields["mobile"][i] = value
                rows.identifiers["phone"][i] = value
                rows.defect[i], rows.detail[i] = "junk_identifier", f"mobile={value}"
            else:
                value = ref.JUNK_ID_NUMBERS[rng.integers(0, len(ref.JUNK_ID_NUMBERS))]
                rows.fields["id_number"][i] = value
                rows.identifiers["id_number"][i] = value
                rows.defect[i], rows.detail[i] = "junk_identifier", f"id_number={value}"

    def _stale_rows(self, rows: TableRows) -> TableRows:
        """stale_record: an older version with a wrong value, delivered just before its correction."""
        rng = self.rng("stale")
        deltas = self._clean_rows(rows)
        deltas = deltas[rows.deliver_day[deltas] > self.window.start_day]
        chosen = self._choose(rng, deltas, self.config.stale_record)
        if len(chosen) == 0:
            return rows
        stale = rows.take(chosen)
        updated = pd.to_datetime(pd.Series(stale.fields["updated_at"].astype(str)))
        earlier = updated - pd.to_timedelta(rng.integers(3600, 20 * 3600, len(chosen)), unit="s")
        stale.fields["updated_at"] = earlier.dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy().astype(object)
        what = rng.integers(0, 3, len(chosen))
        for k in range(len(chosen)):
            if what[k] == 0 or not stale.fields["email"][k]:
                level = int(stale.fields["risk_level"][k][1])
                old = f"C{level - 1 if level > 1 else level + 1}"
                stale.fields["risk_level"][k] = old
                stale.detail[k] = f"risk_level {old} corrected by the next row"
            elif what[k] == 1:
                stale.fields["kyc_status"][k] = "pending"
                stale.detail[k] = "kyc_status pending corrected by the next row"
            else:
                stale.fields["email"][k] = "old_" + stale.fields["email"][k]
                stale.detail[k] = "outdated email corrected by the next row"
        stale.defect[:] = "stale_record"
        return TableRows.concat([rows, stale])

    # --- CSV junk lines ---------------------------------------------------------------------------

    def junk_lines(self, rows: TableRows) -> list[JunkLine]:
        """Unparseable extra lines for one table: garbled copies inserted after their source row."""
        out: list[JunkLine] = []
        if not len(rows):
            return out
        header = rows.header
        kinds = ["wrong_column_count", "unterminated_quote", "bad_date"]
        if rows.table in NUMERIC_COLUMNS:
            kinds.append("bad_number")
        for kind in kinds:
            rng = self.rng(f"{kind}-{rows.table}")
            chosen = self._choose(rng, np.arange(len(rows)), getattr(self.config, kind))
            for r in chosen:
                fields = [str(rows.fields[c][r]) for c in header]
                text, detail = self._garble(rng, kind, rows.table, header, fields)
                out.append(JunkLine(int(r), text, kind, detail))
        return out

    def _garble(
        self, rng: np.random.Generator, kind: str, table: str, header: list[str], fields: list[str]
    ) -> tuple[str, str]:
        if kind == "wrong_column_count":
            if rng.random() < 0.5:
                return ",".join(fields[:-1]), f"{len(header) - 1} columns instead of {len(header)}"
            return ",".join(fields + ["extra"]), f"{len(header) + 1} columns instead of {len(header)}"
        if kind == "unterminated_quote":
            i = int(rng.integers(1, len(fields)))
            fields[i] = '"' + fields[i].strip('"')
            return ",".join(fields), f"opening quote in column {header[i]} never closed"
        if kind == "bad_number":
            column = NUMERIC_COLUMNS[table][int(rng.integers(0, len(NUMERIC_COLUMNS[table])))]
            value = BAD_NUMBERS[int(rng.integers(0, len(BAD_NUMBERS)))]
            fields[header.index(column)] = value
            return ",".join(fields), f"{column}={value}"
        column = DATE_COLUMNS[table]
        value = BAD_DATES[int(rng.integers(0, len(BAD_DATES)))]
        if column.endswith("_at"):
            value += " 10:00:00"
        fields[header.index(column)] = value
        return ",".join(fields), f"{column}={value}"

    # --- whole files ------------------------------------------------------------------------------

    def file_level(
        self, files: list[DeliveredFile], line_defects: list[Defect]
    ) -> tuple[list[DeliveredFile], list[Defect], dict[str, bytes]]:
        """incomplete_day, corrected_redelivery, duplicate_file; returns superseded first versions by path."""
        rng = self.rng("files")
        defects: list[Defect] = []
        superseded: dict[str, bytes] = {}
        days = self.window.days
        if self.config.incomplete_day and days >= 3:
            day = self.window.start_day + int(rng.integers(1, days - 1))
            for f in files:
                if f.table == self.config.incomplete_day_table and f.day == day:
                    f.present = False
                    defects.append(
                        Defect(
                            f.rel_path,
                            None,
                            "incomplete_day",
                            f"listed in _control_{day_stamp(day)}.csv ({f.row_count} rows) but missing",
                        )
                    )
        # Corrections concern trade orders (a settlement run re-issued with the orders it had missed).
        junk_lines: dict[str, set[int]] = {}
        for d in line_defects:
            if d.line is not None and d.kind in UNPARSEABLE:
                junk_lines.setdefault(d.file, set()).add(d.line)
        candidates = [
            i
            for i, f in enumerate(files)
            if f.present
            and f.table == "trade_orders"
            and f.row_count - len(junk_lines.get(f.rel_path, ())) >= 3
        ]
        redelivered = rng.choice(
            len(candidates), size=min(self.config.corrected_redelivery, len(candidates)), replace=False
        )
        for i in sorted(candidates[int(k)] for k in redelivered):
            f = files[i]
            lines = f.content.split(b"\n")  # header, data lines..., '' after the final LF
            real = [n for n in range(2, len(lines)) if n not in junk_lines.get(f.rel_path, set())]
            dropped = set(rng.choice(real, size=1 + int(rng.integers(0, 2)), replace=False).tolist())
            first = b"\n".join(line for n, line in enumerate(lines[:-1], 1) if n not in dropped) + b"\n"
            superseded[f.rel_path] = first
            defects.append(
                Defect(
                    f.rel_path,
                    None,
                    "corrected_redelivery",
                    f"the first delivery lacked lines {sorted(dropped)}; it is in "
                    f"demo_truth/superseded/{f.rel_path}",
                )
            )
        taken = {i for i, f in enumerate(files) if f.rel_path in superseded}
        resend_candidates = [
            i for i, f in enumerate(files) if f.present and f.row_count > 0 and i not in taken
        ]
        resent = rng.choice(
            len(resend_candidates),
            size=min(self.config.duplicate_file, len(resend_candidates)),
            replace=False,
        )
        extra = []
        for i in sorted(resend_candidates[int(k)] for k in resent):
            f = files[i]
            name = f.name.replace(".csv", "_resend.csv")
            copy = DeliveredFile(
                f.source, f.table, f.day, name, f.content, f.row_count, f.amount_total, in_control=False
            )
            extra.append(copy)
            defects.append(Defect(copy.rel_path, None, "duplicate_file", f"identical re-send of {f.name}"))
        return files + extra, defects, superseded


def observed_identifiers(
    ev: EventColumns, dicts: Dictionaries, tables: dict[str, TableRows], missing: set[str]
) -> pd.DataFrame:
    """(person, identifier_type, identifier_value) of every identifier a valid record ties to a person."""
    valid = ~np.isin(ev["defect"], FLAGGED) & (ev["person"] >= 0)
    frames = []

    def from_codes(identifier_type: str, codes: np.ndarray, values: list, mask: np.ndarray) -> None:
        # one int64 key per (person, code) pair: a 1-d unique is far faster than unique(axis=1)
        width = np.int64(len(values) + 1)
        keys = np.unique(ev["person"][mask] * width + codes[mask])
        lookup = np.array(values, dtype=object)
        frames.append(
            pd.DataFrame(
                {
                    "person": keys // width,
                    "identifier_type": identifier_type,
                    "identifier_value": lookup[keys % width],
                }
            )
        )

    from_codes("anonymous_id", ev["device"], dicts.anonymous_id, valid)
    from_codes("login_id", ev["login"], dicts.login_id, valid & (ev["login"] >= 0))
    from_codes("phone", ev["phone"], dicts.phone, valid & (ev["phone"] >= 0))
    from_codes("customer_no", ev["customer"], dicts.customer_no, valid & (ev["customer"] >= 0))
    from_codes("wx_openid", ev["wx"], dicts.wx_openid, valid & (ev["wx"] >= 0))
    from_codes("wx_unionid", ev["wx"], dicts.wx_unionid, valid & (ev["wx"] >= 0))
    for rows in tables.values():
        if not rows.identifiers:
            continue
        paths = np.array(
            [
                f"{rows.source}/{day_folder(d)}/{data_file_name(rows.table, d)}"
                for d in np.unique(rows.deliver_day)
            ]
        )
        present_days = np.unique(rows.deliver_day)[~np.isin(paths, list(missing))]
        keep = np.isin(rows.deliver_day, present_days) & (rows.defect != "stale_record") & (rows.person >= 0)
        for identifier_type, values in rows.identifiers.items():
            has = keep & pd.notna(values) & (values.astype(str) != "None")
            frames.append(
                pd.DataFrame(
                    {
                        "person": rows.person[has],
                        "identifier_type": identifier_type,
                        "identifier_value": values[has].astype(object),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)
