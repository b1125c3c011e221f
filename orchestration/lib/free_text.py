"""Personal data typed into free text, replaced by typed placeholders at ingestion.

A phone number in a search term, an ID number in a URL, an e-mail address in a referrer: free-text
columns (``Column.free_text`` in :mod:`orchestration.lib.sources`) are scanned before anything is written
outside ``private.duckdb``, and each value found is replaced by ``[phone]``, ``[id_number]``, ``[email]``
or ``[card_number]``. What counts:

- **phone**: a mainland mobile number ``1[3-9]`` + 9 digits, optionally after ``+86`` / ``0086`` / ``86``,
  with single spaces or dashes between digit groups (``138 1234 5678``, ``+86-138-1234-5678``);
- **id_number**: 18 characters, 17 digits and a digit or ``X``, that pass
  :func:`orchestration.lib.pii.is_valid_id_number` (province, birth date, ISO 7064 MOD 11-2 check
  character); a wrong check character is not an ID number;
- **card_number**: 13–19 digits passing the Luhn check, starting as issued cards do (``3``–``6`` or
  ``9``: ISO/IEC 7812 industry digits of banking and UnionPay / Visa / Mastercard / Amex / JCB and
  Chinese domestic debit cards; ``2221``–``2720``: Mastercard's 2-series). A millisecond timestamp
  (``17…``) or an order id led by a date (``2026…``) is not a card number even when it passes Luhn;
- **email**: ``local@domain.tld``.

A number counts only as a whole: it is not preceded or followed by another digit (a phone inside a
longer digit string is not taken, letters around it do not matter: ``tel13812345678`` is a phone).
Full-width digits and letters (``１３８…``, ``＠``) and URL encoding (``%40`` for ``@``, ``%20`` / ``+``
/ ``%2D`` between digit groups, ``%2B86`` for ``+86``) are recognised in place, so the rest of a URL is
kept byte for byte. Not recognised: numbers spelled out in words or Chinese numerals, percent-encoded
full-width characters, digits split by other characters (``138.1234.5678``).

Cost: a cheap vectorised prefilter (Arrow's RE2 regex over each free-text column's distinct values)
selects the values holding a number shaped like one of the above (not a millisecond timestamp, not a
date-led order id) or an ``@``; only those go through the exact Python check (check character, Luhn).
"""

from __future__ import annotations

import re
from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc

from orchestration.lib import pii
from orchestration.lib.sources import TableSpec

PLACEHOLDERS = {
    "phone": "[phone]",
    "id_number": "[id_number]",
    "email": "[email]",
    "card_number": "[card_number]",
}
KINDS = tuple(PLACEHOLDERS)

_D = "0-9０-９"  # ASCII and full-width digits
# Between two digit groups: one space (also the ideographic space), dash (also full-width), a URL's
# encoded space (``+``, ``%20``) or dash (``%2D``).
_SEP = r"(?:[ \-\u3000－+]|%20|%2[Dd])"
# RE2 (Arrow) prefilter, a superset of what :func:`redact` replaces, shaped so that the usual long numbers
# of tracking data (millisecond timestamps, date-led order ids) do not select their values: a number not
# preceded by a digit (a ``%XX`` escape may precede it) and not followed by one, with at most one
# separator between any two digits, shaped like a phone (with its country code), an ID number (a province
# code first) or an issued card; or an at sign.
_S = r"(?:[ \-\x{3000}－+]|%20|%2[Dd])?"
_DIGIT = "[0-9０-９]"
_LEFT = r"(?:^|[^0-9０-９]|%[0-9A-Fa-f]{2})"
_RIGHT = r"(?:$|[^0-9０-９])"
_PHONE_SHAPE = rf"(?:(?:[0０]{_S}[0０]{_S})?[8８]{_S}[6６]{_S})?[1１]{_S}[3-9３-９](?:{_S}{_DIGIT}){{9}}"
_ID_SHAPE = (
    rf"(?:[1-46-8１-４６-８]{_S}[1-9１-９]|[5５]{_S}[0-4０-４])(?:{_S}{_DIGIT}){{15}}{_S}[0-9０-９XxＸｘ]"
)
_CARD_SHAPE = rf"(?:[3-69３-６９]|[2２]{_S}[2-7２-７])(?:{_S}{_DIGIT}){{12,18}}"
PREFILTER = rf"{_LEFT}(?:{_PHONE_SHAPE}|{_ID_SHAPE}|{_CARD_SHAPE}){_RIGHT}|[@＠]|%40"

# A digit token: groups of digits joined by single separators, an optional trailing X (ID numbers), an
# optional leading plus (``+86``). It starts neither after a digit nor inside a ``%XX`` escape (``%20``
# before it is fine) and ends before no digit.
_TOKEN = re.compile(
    rf"(?<!%)(?<!%[0-9A-Fa-f])(?:(?<=%[0-9A-Fa-f]{{2}})|(?<![{_D}]))"
    rf"(?P<plus>\+|＋|%2[Bb])?"
    rf"(?P<number>[{_D}]+(?:{_SEP}[{_D}]+)*(?:[XxＸｘ](?![A-Za-z0-9]))?)"
    rf"(?![{_D}])"
)
_GROUP_SPLIT = re.compile(rf"({_SEP})")
_WORD = "A-Za-z0-9ａ-ｚＡ-Ｚ０-９"
# Bounded like real addresses (local part up to 64 characters, labels up to 63, up to 8 of them): a
# hostile value of many dots or at signs costs linear time, not quadratic.
_EMAIL = re.compile(
    rf"(?<!%)(?<!%[0-9A-Fa-f])[{_WORD}._+\-．＿－]{{1,64}}(?:@|＠|%40)"
    rf"(?:[{_WORD}\-]{{1,63}}[.．]){{1,8}}[A-Za-zａ-ｚＡ-Ｚ]{{2,24}}(?![{_WORD}])"
)
_PHONE = re.compile(r"(?:0086|86)?1[3-9][0-9]{9}")
# How many digit groups of one token are tried together: a card in groups of four has at most five.
_MAX_GROUPS = 6


def _digits(text: str) -> str:
    """A digit group (or groups) as ASCII digits, full width folded, separators dropped, X upper case."""
    return re.sub(r"[^0-9X]", "", pii.fold_width(text).upper())


def _is_card(digits: str) -> bool:
    if not 13 <= len(digits) <= 19 or not digits.isdigit():
        return False
    issued = digits[0] in "345 69" or (len(digits) == 16 and 2221 <= int(digits[:4]) <= 2720)
    return issued and pii.is_valid_card_number(digits)


def classify_number(digits: str) -> str | None:
    """The kind of personal number ``digits`` (ASCII digits, maybe a final X) is, if any."""
    if len(digits) == 18 and pii.is_valid_id_number(digits):
        return "id_number"
    if _PHONE.fullmatch(digits):
        return "phone"
    if _is_card(digits):
        return "card_number"
    return None


def _redact_token(plus: str, number: str, counts: Counter[str]) -> str:
    """A digit token with its personal numbers replaced: the whole token, else the longest runs of its
    groups (left to right) that are one (``13812345678 13912345678`` is two phones)."""
    parts = _GROUP_SPLIT.split(number)  # group, separator, group, ...
    groups, separators = parts[0::2], parts[1::2]
    out: list[str] = []
    start = 0
    while start < len(groups):
        for end in range(min(len(groups), start + _MAX_GROUPS), start, -1):
            kind = classify_number(_digits("".join(groups[start:end])))
            if kind is not None:
                break
        else:
            kind, end = None, start + 1
        if kind is not None:
            out.append(PLACEHOLDERS[kind])
            counts[kind] += 1
        else:
            out.append(("" if start else plus) + groups[start])
        if end < len(groups):
            out.append(separators[end - 1])
        start = end
    return "".join(out)


def redact(text: str, counts: Counter[str] | None = None) -> str:
    """``text`` with every phone, ID number, e-mail and card number replaced by its placeholder; the
    replacements are added to ``counts`` by kind."""
    counts = Counter() if counts is None else counts

    def email(match: re.Match[str]) -> str:
        folded = pii.fold_width(match.group(0)).replace("%40", "@").lower()
        if not pii.is_valid_email(folded):
            return match.group(0)
        counts["email"] += 1
        return PLACEHOLDERS["email"]

    text = _EMAIL.sub(email, text)
    return _TOKEN.sub(lambda m: _redact_token(m.group("plus") or "", m.group("number"), counts), text)


def redact_table(table: pa.Table, spec: TableSpec) -> tuple[pa.Table, Counter[str]]:
    """``table`` with the free-text columns of ``spec`` redacted, and the replacements by kind (each row's
    replacements count). The prefilter runs over each column's distinct values (a day's events repeat a
    few hundred user agents and URLs); only the values it selects are checked exactly."""
    counts: Counter[str] = Counter()
    for column in spec.columns:
        if not column.free_text or column.name not in table.column_names or table.num_rows == 0:
            continue
        values = table.column(column.name)
        distinct = pc.unique(values)
        candidates = pc.filter(distinct, pc.fill_null(pc.match_substring_regex(distinct, PREFILTER), False))
        changed: dict[str, tuple[str, Counter[str]]] = {}
        for value in candidates.to_pylist():
            found: Counter[str] = Counter()
            redacted = redact(value, found)
            if found:
                changed[value] = (redacted, found)
        if not changed:
            continue  # candidates only: nothing personal after all
        keys = pa.array(list(changed), type=values.type)
        mask = pc.is_in(values, value_set=keys).combine_chunks()
        hit = pc.filter(values, mask)
        for entry in pc.value_counts(hit).to_pylist():
            for kind, number in changed[entry["values"]][1].items():
                counts[kind] += number * entry["counts"]
        replacements = pa.array([redacted for redacted, _ in changed.values()], type=values.type)
        new_values = pc.take(replacements, pc.index_in(hit, value_set=keys))
        replaced = pc.replace_with_mask(values.combine_chunks(), mask, new_values.combine_chunks())
        table = table.set_column(table.schema.get_field_index(column.name), column.name, replaced)
    return table, counts
