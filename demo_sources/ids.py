"""Vectorised construction of identifiers: hex ids, PRC resident ID numbers, mobiles, names, cards.

All of them come from a seeded numpy Generator (never uuid4 or the clock), so a seed reproduces them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

from demo_sources import reference as ref

_HEX_PAIRS = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2")
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK_CHARS = np.array(list("10X98765432"))


def hex_ids(rng: np.random.Generator, n: int, nbytes: int = 16) -> np.ndarray:
    """`n` random lower-case hex strings of 2*nbytes characters (numpy `S` array)."""
    raw = rng.integers(0, 256, size=(n, nbytes), dtype=np.uint8)
    return _HEX_PAIRS[raw].view(f"S{2 * nbytes}").ravel()


def fixed_strings_to_arrow(values: np.ndarray) -> pa.StringArray:
    """Zero-copy-ish conversion of an ASCII numpy `S<k>` array into an arrow string array."""
    width = values.dtype.itemsize
    offsets = np.arange(0, width * (len(values) + 1), width, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(
        len(values), pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(values).tobytes())
    ).cast(pa.string())


def unique_draw(draw: Callable[[int], np.ndarray], n: int, forbidden: set[str] | None = None) -> np.ndarray:
    """Draw `n` values with `draw(k)` and redraw duplicates (and forbidden values) until all are unique."""
    values = draw(n)
    forbidden_arr = np.array(sorted(forbidden or set()), dtype=values.dtype)
    for _ in range(100):
        _, first = np.unique(values, return_index=True)
        bad = np.ones(n, dtype=bool)
        bad[first] = False
        if len(forbidden_arr):
            bad |= np.isin(values, forbidden_arr)
        if not bad.any():
            return values
        values[bad] = draw(int(bad.sum()))
    raise RuntimeError("could not draw unique values")


def digit_strings(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    """`n` random strings of `width` decimal digits."""
    digits = rng.integers(0, 10, size=(n, width), dtype=np.uint8) + ord("0")
    return digits.view(f"S{width}").ravel().astype(str)


def numbered(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """Identifiers like `U00012345` from integers."""
    return np.char.add(prefix, np.char.zfill(np.asarray(numbers).astype(str), width))


def id_check_chars(first17: np.ndarray) -> np.ndarray:
    """ISO 7064 MOD 11-2 check characters for an (n, 17) digit matrix."""
    return _ID_CHECK_CHARS[(first17.astype(np.int64) @ _ID_WEIGHTS) % 11]


def prc_id_numbers(
    rng: np.random.Generator, region_codes: np.ndarray, birth_ymd: np.ndarray, is_male: np.ndarray
) -> np.ndarray:
    """18-digit resident ID numbers: region + birth date + sequence (odd = male) + check character.

    Duplicates are redrawn by changing the sequence number, so every person gets a distinct number.
    """
    n = len(region_codes)

    def draw(k: int, idx: np.ndarray) -> np.ndarray:
        seq = rng.integers(0, 500, size=k) * 2 + np.where(is_male[idx], 1, 0)
        first17 = np.char.add(
            np.char.add(region_codes[idx], birth_ymd[idx]), np.char.zfill(seq.astype(str), 3)
        )
        digits = np.frombuffer(first17.astype("S17").tobytes(), dtype=np.uint8).reshape(k, 17) - ord("0")
        return np.char.add(first17, id_check_chars(digits))

    values = draw(n, np.arange(n))
    for _ in range(100):
        _, first = np.unique(values, return_index=True)
        bad = np.ones(n, dtype=bool)
        bad[first] = False
        if not bad.any():
            return values
        idx = np.flatnonzero(bad)
        values[idx] = draw(len(idx), idx)
    raise RuntimeError("could not draw unique ID numbers")


def mobiles(rng: np.random.Generator, n: int, forbidden: set[str]) -> np.ndarray:
    """Unique 11-digit mobile numbers with real operator prefixes, avoiding test and junk numbers."""
    prefixes = np.array(ref.MOBILE_PREFIXES)

    def draw(k: int) -> np.ndarray:
        return np.char.add(prefixes[rng.integers(0, len(prefixes), size=k)], digit_strings(rng, k, 8))

    return unique_draw(draw, n, forbidden)


def chinese_names(rng: np.random.Generator, is_male: np.ndarray) -> np.ndarray:
    """Two- or three-character Chinese names whose given name fits the gender."""
    n = len(is_male)
    surnames = np.array(ref.SURNAMES)
    male, female = np.array(ref.GIVEN_MALE), np.array(ref.GIVEN_FEMALE)
    first = np.where(is_male, male[rng.integers(0, len(male), n)], female[rng.integers(0, len(female), n)])
    second = np.where(is_male, male[rng.integers(0, len(male), n)], female[rng.integers(0, len(female), n)])
    given = np.where(rng.random(n) < 0.7, np.char.add(first, second), first)
    return np.char.add(surnames[np.minimum(rng.zipf(1.3, n) - 1, len(surnames) - 1)], given)


def emails(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unique e-mail addresses: a letter-and-digit local part at a common Chinese mail domain."""
    domains = np.array(ref.EMAIL_DOMAINS)

    def draw(k: int) -> np.ndarray:
        letters = (rng.integers(0, 26, size=(k, 6), dtype=np.uint8) + ord("a")).view("S6").ravel().astype(str)
        local = np.char.add(letters, digit_strings(rng, k, 4))
        return np.char.add(np.char.add(local, "@"), domains[rng.integers(0, len(domains), k)])

    return unique_draw(draw, n)


def luhn_complete(body: np.ndarray) -> np.ndarray:
    """Append the Luhn check digit to digit strings of equal length."""
    width = len(body[0])
    digits = np.frombuffer(body.astype(f"S{width}").tobytes(), dtype=np.uint8).reshape(-1, width) - ord("0")
    digits = digits.astype(np.int64)
    # double every second digit counting from the right end of the body (the check digit comes next)
    doubled = digits[:, ::-1].copy()
    doubled[:, ::2] *= 2
    doubled[doubled > 9] -= 9
    check = (10 - doubled.sum(axis=1) % 10) % 10
    return np.char.add(body, check.astype(str))


def card_numbers(rng: np.random.Generator, bank_idx: np.ndarray) -> np.ndarray:
    """Unique bank card numbers with the bank's BIN prefix, its length and a valid Luhn digit."""
    out = np.empty(len(bank_idx), dtype=object)
    for b, (_, bin_prefix, length) in enumerate(ref.BANKS):
        idx = np.flatnonzero(bank_idx == b)
        if len(idx) == 0:
            continue

        def draw(k: int, bin_prefix: str = bin_prefix, length: int = length) -> np.ndarray:
            return luhn_complete(np.char.add(bin_prefix, digit_strings(rng, k, length - len(bin_prefix) - 1)))

        out[idx] = unique_draw(draw, len(idx))
    return out.astype(str)


def wx_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """WeChat-style 28-character open/union ids: `o` + 27 url-safe base64 characters."""
    alphabet = np.frombuffer(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", dtype=np.uint8
    )

    def draw(k: int) -> np.ndarray:
        body = alphabet[rng.integers(0, 64, size=(k, 27))].astype(np.uint8).view("S27").ravel().astype(str)
        return np.char.add("o", body)

    return unique_draw(draw, n)
