"""The answer key in `demo_truth/`: defects, identities, persons, initial holdings and the configuration.

Formats (CSV with header, UTF-8, LF, sorted):

* `defects.csv` - file,line,kind,detail: `file` relative to landing/, `line` 1-based physical line of the
  decompressed file (CSV header = line 1, JSONL first line = 1), empty for file-level kinds.
* `identities.csv` - person_key,identifier_type,identifier_value,is_junk,note: every identifier value
  a clean (not flagged) record ties to a real person, normalised (phone = 11 digits, ID upper-case);
  junk values, shared devices, QA test devices and bots have an empty person_key (note = junk,
  shared_device, test_device, bot).
* `persons.csv` - one row per person (see PERSON_COLUMNS).
* `initial_holdings.csv` - fund_account_id,fund_code,shares held at the start of the window.
* `config.json` - generation arguments and the DirtConfig used.
* `superseded/<source>/<YYYY-MM-DD>/<file>` - first versions of files re-delivered with corrections.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from demo_sources import reference as ref
from demo_sources.files import Defect
from demo_sources.population import ARCHETYPES, KIND_CUSTOMER, KIND_NAMES, Population

IDENTIFIER_TYPES = [
    "anonymous_id", "login_id", "phone", "id_number", "customer_no", "fund_account_id", "email", "wx_openid",
    "wx_unionid",
]  # fmt: skip
PERSON_COLUMNS = [
    "person_key", "is_customer", "is_hnw", "lifecycle_archetype", "acquisition_source", "birth_date", "person_kind",
    "acquired_in_window", "acquisition_campaign", "primary_platform", "customer_no", "login_id",
    "holdings_value_end", "quiet_from",
]  # fmt: skip
_FULL_WIDTH = str.maketrans("０１２３４５６７８９", "0123456789")


def normalise_phone(value: str) -> str:
    """11-digit national form of a phone written with +86, spaces, dashes or full-width digits."""
    digits = "".join(ch for ch in value.translate(_FULL_WIDTH) if ch.isdigit())
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits


def normalise(identifier_type: str, values: pd.Series) -> pd.Series:
    """Normalised identifier values of one type."""
    values = values.astype(str)
    if identifier_type == "phone":
        return values.map(normalise_phone)
    if identifier_type == "id_number":
        return values.str.strip().str.upper()
    return values


def junk_values(test_phones: tuple[str, ...]) -> set[str]:
    """Identifier values that belong to nobody."""
    return set(ref.JUNK_VALUES) | set(ref.JUNK_PHONES) | set(ref.JUNK_ID_NUMBERS) | set(test_phones)


def is_junk_value(values: pd.Series, junk: set[str]) -> pd.Series:
    """Known junk values, empty values and values made of one repeated digit."""
    same_digit = values.str.fullmatch(r"(\d)\1{5,}")
    return values.isin(junk) | (values.str.strip() == "") | same_digit


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    """Deterministic CSV (LF line ends, minimal quoting)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def write_defects(truth: Path, defects: list[Defect]) -> None:
    rows = sorted(
        ([d.file, "" if d.line is None else d.line, d.kind, d.detail] for d in defects),
        key=lambda r: (r[0], -1 if r[1] == "" else r[1], r[2]),
    )
    write_csv(truth / "defects.csv", ["file", "line", "kind", "detail"], rows)


def write_identities(
    truth: Path, observed: pd.DataFrame, unowned: pd.DataFrame, person_key: np.ndarray, test_phones: tuple[str, ...]
) -> int:
    """identities.csv from observations (person, identifier_type, value) and unowned ids (type, value, note).

    Values observed for a person that are junk go to the unowned list; unowned ids (shared/test/bot
    devices) are removed from every person.
    """
    junk = junk_values(test_phones)
    frames = []
    for identifier_type, group in observed.groupby("identifier_type", sort=True):
        values = normalise(str(identifier_type), group.identifier_value)
        frames.append(group.assign(identifier_value=values))
    obs = pd.concat(frames, ignore_index=True) if frames else observed
    obs = obs.drop_duplicates(["person", "identifier_type", "identifier_value"])
    junk_mask = is_junk_value(obs.identifier_value, junk)
    junk_rows = obs[junk_mask][["identifier_type", "identifier_value"]].assign(note="junk")
    owned = obs[~junk_mask]
    unowned_all = pd.concat([unowned, junk_rows], ignore_index=True).drop_duplicates(["identifier_type", "identifier_value"])
    owned = owned.merge(unowned_all[["identifier_type", "identifier_value"]], how="left", indicator=True)
    owned = owned[owned["_merge"] == "left_only"]
    rows = [[person_key[p], t, v, "false", ""] for p, t, v in owned[["person", "identifier_type", "identifier_value"]].itertuples(index=False)]
    rows += [["", t, v, "true" if n == "junk" else "false", n] for t, v, n in unowned_all[["identifier_type", "identifier_value", "note"]].itertuples(index=False)]
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    write_csv(truth / "identities.csv", ["person_key", "identifier_type", "identifier_value", "is_junk", "note"], rows)
    return len(rows)


def person_rows(
    pop: Population,
    person_key: np.ndarray,
    login_id: np.ndarray,
    customer_no: np.ndarray,
    holdings_value_c: np.ndarray,
    window_start_day: int,
) -> list[list[object]]:
    """Rows of persons.csv, sorted by person_key."""
    is_customer = pop.kind == KIND_CUSTOMER
    birth = np.datetime_as_string(pop.birth_day.astype("datetime64[D]"))
    quiet = np.datetime_as_string((window_start_day + pop.quiet_day).astype("datetime64[D]"))
    rows = []
    for p in np.argsort(person_key):
        value = int(holdings_value_c[p])
        rows.append([
            person_key[p],
            str(bool(is_customer[p])).lower(),
            str(value >= 100_000_000).lower(),
            ARCHETYPES[pop.archetype[p]],
            ref.UTM_SOURCES[pop.source[p]][0],
            birth[p] if is_customer[p] else "",
            KIND_NAMES[pop.kind[p]],
            str(bool(pop.in_window[p])).lower(),
            pop.campaign[p] or "",
            ref.PLATFORMS[pop.platform[p]],
            customer_no[p] or "",
            login_id[p] or "",
            f"{value // 100}.{value % 100:02d}" if is_customer[p] else "",
            quiet[p] if ARCHETYPES[pop.archetype[p]] == "churning" else "",
        ])  # fmt: skip
    return rows


def write_config(truth: Path, config: dict[str, object]) -> None:
    truth.mkdir(parents=True, exist_ok=True)
    (truth / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
