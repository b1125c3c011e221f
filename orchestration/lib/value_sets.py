"""Value sets live once, in the dbt model yml; the Great Expectations suites take theirs from there.

A set of accepted values (a channel, an order status, a gender ...) is written as an ``accepted_values``
data test on the model column in ``dbt_project/models/**/_*__models.yml``. A suite expectation checking
the same set names its source instead of repeating it: ``"meta": {"value_set_from": "<model>.<column>"}``;
:func:`generate_suites` fills its ``value_set`` from the yml, and the committed JSON is the generated file
(``python -m orchestration.lib.value_sets`` rewrites the suites; ``tests/unit/test_value_sets.py`` fails
while a committed suite differs from what the yml gives). A value set an expectation holds without a
source is only allowed for a 0/1 flag (a share of valid records, ``value_set: [1]``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from orchestration.lib.paths import DBT_PROJECT_DIR, EXPECTATIONS_DIR
from orchestration.lib.rules import load_business_rules

MODELS_DIR = DBT_PROJECT_DIR / "models"
# Expectation types whose value_set is a set of accepted values.
VALUE_SET_TYPES = frozenset(
    {
        "expect_column_values_to_be_in_set",
        "expect_column_distinct_values_to_be_in_set",
        "expect_column_distinct_values_to_contain_set",
        "expect_column_distinct_values_to_equal_set",
        "expect_column_most_common_value_to_be_in_set",
    }
)
# A flag's set (a share of rows with flag 1): not a list of business values, kept in the suite.
FLAG_VALUE_SETS = ([1], [0, 1], [True], [False, True])


# A set that is also a business rule is read from the var in the yml (dbt renders it into a list):
# values: "{{ var('fundcdp')['segments']['consent_channels'] }}".
_VAR_REFERENCE = re.compile(r"^\{\{\s*var\(\s*'fundcdp'\s*\)((?:\[\s*'\w+'\s*\])+)\s*\}\}$")
_VAR_KEY = re.compile(r"'(\w+)'")


class ValueSetError(ValueError):
    """A suite names a value set the dbt yml does not define (or defines twice)."""


def _resolve_var(values: Any, rules: dict[str, Any], origin: str) -> Any:
    """``values`` as dbt renders it: a ``{{ var('fundcdp')[...] }}`` reference becomes the var's list."""
    if not isinstance(values, str):
        return values
    reference = _VAR_REFERENCE.match(values.strip())
    if reference is None:
        raise ValueSetError(f"{origin}: accepted_values {values!r} is neither a list nor a fundcdp var")
    resolved: Any = rules
    for key in _VAR_KEY.findall(reference.group(1)):
        if not isinstance(resolved, dict) or key not in resolved:
            raise ValueSetError(
                f"{origin}: accepted_values names vars fundcdp {values!r}, which has no {key!r}"
            )
        resolved = resolved[key]
    return resolved


def dbt_accepted_values(
    models_dir: Path = MODELS_DIR, rules: dict[str, Any] | None = None
) -> dict[str, list[Any]]:
    """``"<model>.<column>"`` -> the values of its ``accepted_values`` data test, from every model yml (a
    reference to a var read from ``rules``, default the project's ``vars: fundcdp:``)."""
    rules = load_business_rules() if rules is None else rules
    accepted: dict[str, list[Any]] = {}
    for path in sorted(models_dir.rglob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for model in document.get("models") or []:
            for column in model.get("columns") or []:
                for test in column.get("data_tests") or column.get("tests") or []:
                    if not isinstance(test, dict) or "accepted_values" not in test:
                        continue
                    spec = test["accepted_values"] or {}
                    values = (spec.get("arguments") or {}).get("values", spec.get("values"))
                    key = f"{model['name']}.{column['name']}"
                    values = _resolve_var(values, rules, f"{path}: {key}")
                    if key in accepted:
                        raise ValueSetError(f"{path}: {key} has two accepted_values tests")
                    if not isinstance(values, list):
                        raise ValueSetError(f"{path}: {key} accepted_values has no list of values")
                    accepted[key] = values
    return accepted


def apply_value_sets(document: dict[str, Any], accepted: dict[str, list[Any]], origin: str) -> dict[str, Any]:
    """The suite ``document`` with every ``value_set_from`` expectation's value set taken from ``accepted``
    (a new dict; ``origin`` names the suite in errors). An unsourced value set other than a flag's is an
    error: it would be a second copy of a rule."""
    result = json.loads(json.dumps(document))
    for index, expectation in enumerate(result.get("expectations", [])):
        if expectation.get("type") not in VALUE_SET_TYPES:
            continue
        source = (expectation.get("meta") or {}).get("value_set_from")
        kwargs = expectation.setdefault("kwargs", {})
        if source is None:
            if kwargs.get("value_set") in FLAG_VALUE_SETS:
                continue
            raise ValueSetError(
                f"{origin}: expectation {index} ({kwargs.get('column')}) holds its own value set; write it "
                "as an accepted_values test in the dbt yml and name it with meta.value_set_from"
            )
        if source not in accepted:
            raise ValueSetError(
                f"{origin}: value_set_from {source!r} has no accepted_values test in the dbt yml"
            )
        kwargs["value_set"] = list(accepted[source])
    return result


def render_suite(document: dict[str, Any]) -> str:
    """A suite as committed: two-space JSON, ASCII, one trailing newline."""
    return json.dumps(document, indent=2) + "\n"


def generate_suites(
    expectations_dir: Path = EXPECTATIONS_DIR, models_dir: Path = MODELS_DIR
) -> dict[Path, str]:
    """Every suite that checks a value set, as generated from the dbt yml: path -> file text."""
    accepted = dbt_accepted_values(models_dir)
    generated = {}
    for path in sorted(expectations_dir.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        if any(e.get("type") in VALUE_SET_TYPES for e in document.get("expectations", [])):
            generated[path] = render_suite(apply_value_sets(document, accepted, path.name))
    return generated


def stale_suites(expectations_dir: Path = EXPECTATIONS_DIR, models_dir: Path = MODELS_DIR) -> list[str]:
    """Names of the committed suites that differ from what the dbt yml generates (empty: up to date)."""
    return [
        path.name
        for path, text in generate_suites(expectations_dir, models_dir).items()
        if path.read_text(encoding="utf-8") != text
    ]


def write_suites(expectations_dir: Path = EXPECTATIONS_DIR, models_dir: Path = MODELS_DIR) -> list[str]:
    """Rewrite the suites whose value sets differ from the dbt yml; their names."""
    written = []
    for path, text in generate_suites(expectations_dir, models_dir).items():
        if path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path.name)
    return written


if __name__ == "__main__":
    changed = write_suites()
    print("rewrote " + ", ".join(changed) if changed else "suites up to date")
