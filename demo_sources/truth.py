"""The answer key (outside the data directory, see `demo_sources.generate`): defects, identities,
persons, initial holdings and the configuration.

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
    "anonymous_id",
    "login_id",
    "phone",
    "id_number",
    "customer_no",
    "fund_account_id",
    "email",
    "wx_openid",
    "wx_unionid",
]
PERSON_COLUMNS = [
    "person_key",
    "is_customer",
    "is_hnw",
    "lifecycle_archetype",
    "acquisition_source",
    "birth_date",
    "person_kind",
    "acquired_in_window",
    "acquisition_campaign",
    "primary_platform",
    "customer_no",
    "login_id",
    "holdings_value_end",
    "quiet_from",
]
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
    """defects.csv, sorted by file, line and kind (file-level rows first)."""
    rows = sorted(
        ([d.file, "" if d.line is None else d.line, d.kind, d.detail] for d in defects),
        key=lambda r: (r[0], -1 if r[1] == "" else r[1], r[2]),
    )
    write_csv(truth / "defects.csv", ["file", "line", "kind", "detail"], rows)


def write_identities(
    truth: Path,
    observed: pd.DataFrame,
    unowned: pd.DataFrame,
    person_key: np.ndarray,
    test_phones: tuple[str, ...],
) -> int:
    """identities.csv from observations (person, identifier_type, value) and unowned ids (type, value, note).

    Observed junk values go to the unowned list; unowned ids (shared / test / bot devices, QA logins) are
    removed from every person. Returns the number of rows.
    """
    junk = junk_values(test_phones)
    parts = [
        group.assign(identifier_value=normalise(str(identifier_type), group.identifier_value))
        for identifier_type, group in observed.groupby("identifier_type", sort=True)
    ]
    obs = pd.concat(parts, ignore_index=True).drop_duplicates(
        ["person", "identifier_type", "identifier_value"]
    )
    junk_mask = is_junk_value(obs.identifier_value, junk)
    junk_rows = obs[junk_mask][["identifier_type", "identifier_value"]].assign(note="junk")
    unowned_all = pd.concat([unowned, junk_rows], ignore_index=True)
    unowned_all = unowned_all.drop_duplicates(["identifier_type", "identifier_value"])
    owned = obs[~junk_mask].merge(
        unowned_all[["identifier_type", "identifier_value"]], how="left", indicator=True
    )
    owned = owned[owned["_merge"] == "left_only"]
    table = pd.concat(
        [
            pd.DataFrame(
                {
                    "person_key": person_key[owned.person.to_numpy()],
                    "identifier_type": owned.identifier_type.to_numpy(),
                    "identifier_value": owned.identifier_value.to_numpy(),
                    "is_junk": "false",
                    "note": "",
                }
            ),
            pd.DataFrame(
                {
                    "person_key": "",
                    "identifier_type": unowned_all.identifier_type.to_numpy(),
                    "identifier_value": unowned_all.identifier_value.to_numpy(),
                    "is_junk": np.where(unowned_all.note.to_numpy() == "junk", "true", "false"),
                    "note": unowned_all.note.to_numpy(),
                }
            ),
        ],
        ignore_index=True,
    ).sort_values(["person_key", "identifier_type", "identifier_value"], kind="stable")
    table.to_csv(truth / "identities.csv", index=False, lineterminator="\n", encoding="utf-8")
    return len(table)


def write_persons(
    truth: Path,
    pop: Population,
    person_key: np.ndarray,
    login_id: np.ndarray,
    customer_no: np.ndarray,
    holdings_value_c: np.ndarray,
    window_start_day: int,
) -> None:
    """persons.csv: one row per person, sorted by person_key (value = market value at the last snapshot)."""
    is_customer = pop.kind == KIND_CUSTOMER
    birth = np.datetime_as_string(pop.birth_day.astype("datetime64[D]"))
    quiet = np.datetime_as_string((window_start_day + pop.quiet_day).astype("datetime64[D]"))
    archetype = np.array(ARCHETYPES)[pop.archetype]
    value = np.char.add(
        np.char.add((holdings_value_c // 100).astype(str), "."),
        np.char.zfill((holdings_value_c % 100).astype(str), 2),
    )
    table = pd.DataFrame(
        {
            "person_key": person_key,
            "is_customer": np.where(is_customer, "true", "false"),
            "is_hnw": np.where(holdings_value_c >= 100_000_000, "true", "false"),
            "lifecycle_archetype": archetype,
            "acquisition_source": np.array([s[0] for s in ref.UTM_SOURCES])[pop.source],
            "birth_date": np.where(is_customer, birth, ""),
            "person_kind": np.array(KIND_NAMES)[pop.kind],
            "acquired_in_window": np.where(pop.in_window, "true", "false"),
            "acquisition_campaign": np.where(pd.isna(pop.campaign), "", pop.campaign),
            "primary_platform": np.array(ref.PLATFORMS)[pop.platform],
            "customer_no": np.where(pd.isna(customer_no), "", customer_no),
            "login_id": np.where(pd.isna(login_id), "", login_id),
            "holdings_value_end": np.where(is_customer, value, ""),
            "quiet_from": np.where(archetype == "churning", quiet, ""),
        }
    )[PERSON_COLUMNS].sort_values("person_key")
    table.to_csv(truth / "persons.csv", index=False, lineterminator="\n", encoding="utf-8")


def write_config(truth: Path, config: dict[str, object]) -> None:
    """config.json: generation arguments and the DirtConfig used."""
    truth.mkdir(parents=True, exist_ok=True)
    (truth / "config.json").write_text(
        json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    )
