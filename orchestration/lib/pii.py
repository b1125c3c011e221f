"""Personal data: normalise, validate, derive what analysts may see, then replace by keyed hashes.

Clear values never leave ingestion except into ``private.duckdb``. Everything here is pure.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from datetime import date

# GB 11643-1999 / ISO 7064 MOD 11-2 weights and check characters of the 18-character PRC resident ID.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"
# First two digits of a resident ID: the province-level division (GB/T 2260), 71/81/82 for TW/HK/MO.
_PROVINCE_CODES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 "
    "71 81 82".split()
)
_MOBILE = re.compile(r"1[3-9]\d{9}")
_EMAIL = re.compile(r"[a-z0-9._%+\-]+@[a-z0-9\-]+(\.[a-z0-9\-]+)*\.[a-z]{2,}")
_NOT_DIGITS = re.compile(r"\D")
_WHITESPACE = re.compile(r"\s+")


def fold_width(value: str) -> str:
    """Fold full-width digits, letters and punctuation to ASCII (NFKC), e.g. ``１３８`` → ``138``."""
    return unicodedata.normalize("NFKC", value)


def _blank_to_none(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def normalise_phone(raw: str | None) -> str | None:
    """Digits only: full-width digits folded, separators dropped, the +86 / 0086 country code removed."""
    value = _blank_to_none(raw)
    if value is None:
        return None
    digits = _NOT_DIGITS.sub("", fold_width(value))
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) == 11 + len(prefix):
            digits = digits[len(prefix) :]
            break
    return digits or None


def is_valid_mobile(phone: str | None) -> bool:
    """An 11-digit mainland mobile number (``1[3-9]`` then 9 digits), after normalisation."""
    return phone is not None and _MOBILE.fullmatch(phone) is not None


def normalise_id_number(raw: str | None) -> str | None:
    """Full-width folded, separators and spaces removed, upper case (a check character may be ``x``)."""
    value = _blank_to_none(raw)
    if value is None:
        return None
    return re.sub(r"[\s\-]", "", fold_width(value)).upper() or None


def id_check_char(first17: str) -> str:
    """The check character of an 18-character resident ID from its first 17 digits."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


def id_birth_date(id_number: str | None) -> date | None:
    """Birth date encoded in positions 7–14 of an 18-character ID, or None if it is not a real date."""
    if id_number is None or len(id_number) != 18 or not id_number[6:14].isdigit():
        return None
    try:
        return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None


def is_valid_id_number(id_number: str | None) -> bool:
    """18 characters, a known province, a real birth date and a correct MOD 11-2 check character."""
    if id_number is None or len(id_number) != 18 or not id_number[:17].isdigit():
        return False
    if id_number[:2] not in _PROVINCE_CODES or id_birth_date(id_number) is None:
        return False
    return id_number[17] == id_check_char(id_number[:17])


def id_gender(id_number: str) -> str:
    """``M`` or ``F`` from the parity of the 17th digit (odd = male)."""
    return "M" if int(id_number[16]) % 2 else "F"


def normalise_email(raw: str | None) -> str | None:
    """Trimmed, full-width folded, lower case."""
    value = _blank_to_none(raw)
    return fold_width(value).lower() if value else None


def is_valid_email(email: str | None) -> bool:
    """A plausible address: local part, ``@``, a domain with a dot-separated top-level domain."""
    return email is not None and _EMAIL.fullmatch(email) is not None


def normalise_name(raw: str | None) -> str | None:
    """Full-width folded, inner whitespace collapsed, trimmed."""
    value = _blank_to_none(raw)
    return _WHITESPACE.sub(" ", fold_width(value)).strip() if value else None


def normalise_card_number(raw: str | None) -> str | None:
    """Digits only."""
    value = _blank_to_none(raw)
    if value is None:
        return None
    return _NOT_DIGITS.sub("", fold_width(value)) or None


def is_valid_card_number(card_number: str | None) -> bool:
    """12–19 digits passing the Luhn check."""
    if card_number is None or not card_number.isdigit() or not 12 <= len(card_number) <= 19:
        return False
    total = 0
    for position, digit in enumerate(reversed(card_number)):
        value = int(digit)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def keyed_hash(key: bytes, value: str | None) -> str | None:
    """HMAC-SHA256 of a normalised value as 64 hex characters; None stays None.

    Unkeyed SHA-256 of a phone number is reversible by enumerating the ~10^10 numbers; the key makes
    enumeration impossible without it.
    """
    if value is None:
        return None
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()
