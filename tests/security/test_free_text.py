"""Personal data typed into free text (URLs, utm parameters, search terms, names of places) is replaced by
typed placeholders at ingestion: raw/ never holds it, the manifest counts it."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestration.defs.ingest.land import land_table_day
from orchestration.defs.ingest.loader import parse_file, read_file
from orchestration.lib import pii
from orchestration.lib.free_text import PLACEHOLDERS, PREFILTER, redact, redact_table
from orchestration.lib.layout import DataLayout
from orchestration.lib.rules import JunkRules, load_business_rules
from orchestration.lib.sources import ALL_TABLES, TABLES_BY_KEY
from tests.landing_builder import event, write_delivery

KEY = b"free-text-test-key"
JUNK = JunkRules.from_rules(load_business_rules())
DAY = "2026-06-30"
YMD = "20260630"
EVENTS = TABLES_BY_KEY[("tracking", "events")]


def luhn_complete(first: str) -> str:
    """``first`` followed by its Luhn check digit."""
    return next(first + d for d in "0123456789" if pii.is_valid_card_number(first + d))


def id_complete(first17: str) -> str:
    return first17 + pii.id_check_char(first17)


PHONE = "13812345678"
ID_NUMBER = id_complete("34010419590618976")
ID_NUMBER_X = next(
    n for n in (id_complete(f"1101011990030712{i}") for i in range(10)) if n.endswith("X")
)  # an ID whose check character is X
EMAIL = "li.si@example.com"
CARD = luhn_complete("622202123456789")  # 16 digits, UnionPay
CARD_19 = luhn_complete("621660554892107624")  # 19 digits
FULL_WIDTH = str.maketrans(
    "0123456789@.abcdefghijklmnopqrstuvwxyz",
    "０１２３４５６７８９＠．ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ",
)

# The forms a value is written in, one set per free-text column in turn (column i takes FORMS[i % 5]).
FORMS = [
    {"phone": PHONE, "id": ID_NUMBER, "email": EMAIL, "card": CARD},
    {"phone": "+86 138 1234 5678", "id": "340104 19590618 " + ID_NUMBER[14:], "email": "li.si%40example.com",
     "card": " ".join(CARD[i : i + 4] for i in range(0, 16, 4))},
    {"phone": "0086-138-1234-5678", "id": ID_NUMBER_X.lower(), "email": EMAIL.upper(), "card": CARD_19},
    {"phone": PHONE.translate(FULL_WIDTH), "id": ID_NUMBER.translate(FULL_WIDTH),
     "email": EMAIL.translate(FULL_WIDTH), "card": CARD.translate(FULL_WIDTH)},
    {"phone": "138%201234%205678", "id": ID_NUMBER_X, "email": EMAIL.replace("@", "＠"), "card": "-".join(
        CARD[i : i + 4] for i in range(0, 16, 4))},
]  # fmt: skip
# What must stay exactly as delivered.
WRONG_CHECK_ID = ID_NUMBER[:17] + str((int(ID_NUMBER[17]) + 1) % 10 if ID_NUMBER[17] != "X" else 0)
NOT_LUHN = CARD[:15] + str((int(CARD[15]) + 1) % 10)
ORDER_ID = "202606109263332544"
TIMESTAMP_MS = "1781020868831"
FUND_CODE = "016023"
NON_MATCHES = f"id={WRONG_CHECK_ID}&card={NOT_LUHN}&order={ORDER_ID}&t={TIMESTAMP_MS}&fund={FUND_CODE}"
# The cores that must not be found anywhere in raw/.
PLANTED_CORES = [PHONE, ID_NUMBER, ID_NUMBER_X, ID_NUMBER_X.lower(), CARD, CARD_19, "li.si", "example.com"]
PLANTED_CORES += [form[kind] for form in FORMS for kind in form]


def planted(position: int) -> str:
    form = FORMS[position % len(FORMS)]
    return f"tel {form['phone']}, id:{form['id']}/{form['email']}?card={form['card']}"


REDACTED = "tel [phone], id:[id_number]/[email]?card=[card_number]"
FREE_TEXT = {spec.key: [c.name for c in spec.columns if c.free_text] for spec in ALL_TABLES}


def test_free_text_columns_are_declared_where_outside_text_arrives() -> None:
    assert FREE_TEXT[("tracking", "events")] == [
        "platform", "sdk_version", "screen_name", "url", "app_section", "referrer", "utm_source",
        "utm_medium", "utm_campaign", "utm_term", "user_agent", "device_model",
    ]  # fmt: skip
    assert FREE_TEXT[("crm", "customers")] == ["province", "city"]
    assert FREE_TEXT[("crm", "bank_cards")] == ["bank_name"]
    assert FREE_TEXT[("trade", "fund_products")] == ["fund_name", "management_company"]
    # Keys, codes and identifiers are not free text (an order id must never be rewritten).
    declared = {name for names in FREE_TEXT.values() for name in names}
    assert not declared & {"order_id", "fund_code", "customer_no", "event_id", "login_id", "anonymous_id"}


def delivery_rows() -> dict[str, list[dict]]:
    """One row a table with every free-text column planted, and one with the non-matches."""
    tracking = FREE_TEXT[("tracking", "events")]
    props_planted = {name: planted(i) for i, name in enumerate(tracking)}
    props_clean = {name: NON_MATCHES for name in tracking}
    return {
        "events": [
            event("e1", "page_view", "2026-06-30 10:00:00", "d-1", None, **props_planted),
            event("e2", "page_view", "2026-06-30 10:00:01", "d-1", None, **props_clean),
        ],
        "customers": [
            {
                "customer_no": "C1",
                "province": planted(0),
                "city": planted(1),
                "updated_at": "2026-06-30 10:00:00",
            },
            {"customer_no": "C2", "province": NON_MATCHES, "city": NON_MATCHES},
        ],
        "bank_cards": [
            {"card_id": "B1", "customer_no": "C1", "bank_name": planted(2)},
            {"card_id": "B2", "customer_no": "C2", "bank_name": NON_MATCHES},
        ],
        "fund_products": [
            {"fund_code": "000001", "fund_name": planted(3), "management_company": planted(4)},
            {"fund_code": "000002", "fund_name": NON_MATCHES, "management_company": NON_MATCHES},
        ],
    }


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> tuple[DataLayout, dict]:
    """Every table of every source delivered and loaded for one day: the layout and the outcomes."""
    layout = DataLayout.at(tmp_path_factory.mktemp("free_text") / "data")
    layout.ensure()
    write_delivery(layout, DAY, delivery_rows())
    return layout, {spec.key: land_table_day(layout, spec, DAY, KEY, JUNK, 0.5) for spec in ALL_TABLES}


@pytest.fixture(scope="module")
def loaded(landed) -> DataLayout:
    return landed[0]


@pytest.fixture(scope="module")
def outcomes(landed) -> dict:
    return landed[1]


def raw_table(layout: DataLayout, source: str, table: str) -> pa.Table:
    return pq.read_table(layout.raw_partition(source, table, DAY) / f"{table}_{YMD}.parquet")


@pytest.mark.parametrize("key", [k for k, names in FREE_TEXT.items() if names])
def test_planted_values_are_replaced_and_non_matches_kept(loaded: DataLayout, key: tuple[str, str]) -> None:
    rows = raw_table(loaded, *key).sort_by("_source_line").to_pylist()
    assert len(rows) == 2
    for name in FREE_TEXT[key]:
        assert rows[0][name] == REDACTED, name
        assert rows[1][name] == NON_MATCHES, name


@pytest.mark.parametrize("key", sorted(TABLES_BY_KEY))
def test_the_manifest_and_the_outcome_count_each_replacement(
    loaded: DataLayout, outcomes: dict, key: tuple[str, str]
) -> None:
    source, table = key
    manifest = pq.read_table(
        loaded.raw
        / "ingest"
        / "load_manifest"
        / f"arrival_date={DAY}"
        / f"{source}__{table}__{table}_{YMD}.parquet"
    ).to_pylist()
    columns = len(FREE_TEXT[key])
    assert [row["free_text_redactions"] for row in manifest] == [4 * columns]
    outcome = outcomes[key]
    expected = {kind: columns for kind in PLACEHOLDERS} if columns else {}
    assert outcome.free_text_redactions == expected


def test_raw_holds_none_of_the_planted_values(loaded: DataLayout) -> None:
    found = []
    files = sorted(p for p in loaded.raw.rglob("*.parquet") if "archive" not in p.parts)
    assert len(files) == 3 * len(ALL_TABLES)  # rows, quarantine and manifest of each table
    for path in files:
        table = pq.read_table(path)
        for name in table.column_names:
            if pa.types.is_string(table.schema.field(name).type):
                for value in table.column(name).to_pylist():
                    found += [(path.name, name, core) for core in PLANTED_CORES if value and core in value]
    assert found == []
    # ... and the scan does find them where they are: the landing file as delivered.
    delivered = gzip.decompress(
        (loaded.landing_day("tracking", DAY) / f"events_{YMD}.jsonl.gz").read_bytes()
    ).decode("utf-8")
    assert all(core in delivered for core in (PHONE, ID_NUMBER, CARD, EMAIL))


def test_a_tracking_file_with_a_malformed_line_is_redacted_too(tmp_path: Path) -> None:
    # The careful (line-by-line) parsing path, taken when a line is not clean JSON.
    first = event("e1", "page_view", "2026-06-30 10:00:00", "d-1", None, utm_term=planted(0))
    third = event("e3", "page_view", "2026-06-30 10:00:01", "d-1", None, url=planted(3))
    lines = [json.dumps(first), '{"event_id": "e2", "event": broken', json.dumps(third)]
    path = tmp_path / f"events_{YMD}.jsonl.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode("utf-8")))
    parsed = parse_file(read_file(path, EVENTS), EVENTS, path.name)
    assert parsed.rows.column("utm_term").to_pylist() == [REDACTED, None]
    assert parsed.rows.column("url").to_pylist() == [None, REDACTED]
    assert parsed.rows_quarantined == 1
    assert parsed.free_text_redactions == Counter({kind: 2 for kind in PLACEHOLDERS})


def test_redact_table_leaves_other_columns_alone() -> None:
    table = pa.table(
        {
            "utm_term": [PHONE, "基金定投", None, PHONE, f"{EMAIL} {CARD}"],
            "order_id": [PHONE, "x", None, "y", "z"],
        }
    )
    redacted, counts = redact_table(table, EVENTS)
    assert redacted.column("utm_term").to_pylist() == [
        "[phone]",
        "基金定投",
        None,
        "[phone]",
        "[email] [card_number]",
    ]
    assert redacted.column("order_id").to_pylist() == [PHONE, "x", None, "y", "z"]
    assert counts == Counter({"phone": 2, "email": 1, "card_number": 1})  # each row's replacements


@pytest.mark.parametrize(
    ("text", "expected", "counts"),
    [
        (f"https://m.x.com/s?q={PHONE}&from=app", "https://m.x.com/s?q=[phone]&from=app", {"phone": 1}),
        (f"{PHONE} {PHONE[:-1]}9", "[phone] [phone]", {"phone": 2}),
        (f"tel{PHONE}", "tel[phone]", {"phone": 1}),
        (f"%2B86{PHONE}", "[phone]", {"phone": 1}),
        (f"q=a%20{PHONE}", "q=a%20[phone]", {"phone": 1}),
        (f"{PHONE}0", f"{PHONE}0", {}),  # 12 digits: no phone
        (f"u=a%40b.cn&v={EMAIL}", "u=[email]&v=[email]", {"email": 2}),
        (NON_MATCHES, NON_MATCHES, {}),
        ("XinyuanFund/4.6.2 (iPhone; iOS 17.5.1; Scale/3.00)", None, {}),
        (f"{TIMESTAMP_MS}000", None, {}),  # microseconds
        (ORDER_ID[:-1], None, {}),
    ],
)
def test_redact_examples(text: str, expected: str | None, counts: dict[str, int]) -> None:
    found: Counter[str] = Counter()
    assert redact(text, found) == (text if expected is None else expected)
    assert found == Counter(counts)


# ------------------------------------------------------------------------------ property test

_PROVINCES = ["11", "31", "34", "44", "51", "65", "81"]


@st.composite
def phones(draw) -> tuple[str, str]:
    core = "1" + draw(st.sampled_from("3456789")) + draw(st.text("0123456789", min_size=9, max_size=9))
    form = draw(st.sampled_from(["plain", "+86", "0086", "spaced", "dashed", "full", "url"]))
    written = {
        "plain": core,
        "+86": "+86 " + core,
        "0086": "0086" + core,
        "spaced": f"{core[:3]} {core[3:7]} {core[7:]}",
        "dashed": f"{core[:3]}-{core[3:7]}-{core[7:]}",
        "full": core.translate(FULL_WIDTH),
        "url": f"{core[:3]}%20{core[3:7]}%20{core[7:]}",
    }[form]
    return written, core


@st.composite
def id_numbers(draw) -> tuple[str, str]:
    born = draw(st.dates(min_value=__import__("datetime").date(1930, 1, 1)))
    first17 = (
        draw(st.sampled_from(_PROVINCES))
        + draw(st.text("0123456789", min_size=4, max_size=4))
        + born.strftime("%Y%m%d")
        + draw(st.text("0123456789", min_size=3, max_size=3))
    )
    core = id_complete(first17)
    return draw(st.sampled_from([core, core.lower(), core.translate(FULL_WIDTH)])), core


@st.composite
def cards(draw) -> tuple[str, str]:
    prefix = draw(st.sampled_from(["62", "4", "51", "9558", "37"]))
    length = draw(st.integers(16, 19)) if prefix in ("62", "9558") else 16
    core = luhn_complete(prefix + draw(st.text("0123456789", min_size=length - len(prefix) - 1,
                                               max_size=length - len(prefix) - 1)))  # fmt: skip
    grouped = " ".join(core[i : i + 4] for i in range(0, len(core), 4))
    return draw(st.sampled_from([core, grouped])), core


@st.composite
def emails(draw) -> tuple[str, str]:
    alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
    local = draw(st.text(alnum, min_size=1, max_size=12)) + draw(
        st.sampled_from(["", ".x", "_y", "+z", "-w"])
    )
    domain = (
        draw(st.text(alnum, min_size=1, max_size=10)) + "." + draw(st.sampled_from(["com", "cn", "com.cn"]))
    )
    core = f"{local}@{domain}"
    return draw(
        st.sampled_from([core, core.upper(), core.replace("@", "%40"), core.replace("@", "＠")])
    ), core


# A boundary between the value and the text around it (a digit or a letter would make it part of a longer
# number or address).
BOUNDARIES = st.sampled_from([" ", "/", "=", "&", "，", "：", "(", ")", '"', "\n", "?"])


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    value=st.one_of(phones(), id_numbers(), cards(), emails()),
    before=st.text(max_size=40),
    after=st.text(max_size=40),
    left=BOUNDARIES,
    right=BOUNDARIES,
)
def test_an_embedded_personal_value_never_comes_out(
    value: tuple[str, str], before: str, after: str, left: str, right: str
) -> None:
    written, core = value
    text = before + left + written + right + after
    out = redact(text)
    assert written not in out
    assert core not in out
    assert core.upper() not in pii.fold_width(out).upper()
    assert prefilter_selects(text)  # the vectorised prefilter lets every such value through


def prefilter_selects(text: str) -> bool:
    return pc.match_substring_regex(pa.array([text]), PREFILTER)[0].as_py()


DIGITS_AND_SEPARATORS = st.text(alphabet="0123456789０１２３４５６７８９ -+%2XxA@.", max_size=60)


@settings(max_examples=400, deadline=None)
@given(st.one_of(DIGITS_AND_SEPARATORS, st.text(max_size=60)))
def test_the_prefilter_selects_every_value_the_scanner_would_change(text: str) -> None:
    if redact(text) != text:
        assert prefilter_selects(text)


@pytest.mark.parametrize(
    "text", [TIMESTAMP_MS, f"t={TIMESTAMP_MS}000", ORDER_ID, f"?code={FUND_CODE}&o={ORDER_ID}"]
)
def test_the_prefilter_passes_over_timestamps_and_order_ids(text: str) -> None:
    assert not prefilter_selects(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="0123456789０１２３４５６７８９@＠%")))
def test_text_without_digits_or_at_signs_is_unchanged(text: str) -> None:
    assert redact(text) == text
