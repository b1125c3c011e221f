"""Value sets live in the dbt yml only: the committed GX suites are what the yml generates."""

from __future__ import annotations

import copy
import json
import shutil

import pytest

from orchestration.lib.paths import EXPECTATIONS_DIR
from orchestration.lib.rules import load_business_rules
from orchestration.lib.value_sets import (
    MODELS_DIR,
    ValueSetError,
    apply_value_sets,
    dbt_accepted_values,
    stale_suites,
    write_suites,
)


def suite_value_sets() -> dict[str, list]:
    """``"<suite>.<column>"`` -> the value set of each in-set expectation of the committed suites."""
    sets = {}
    for path in sorted(EXPECTATIONS_DIR.glob("*.json")):
        for expectation in json.loads(path.read_text(encoding="utf-8"))["expectations"]:
            if expectation["type"] == "expect_column_values_to_be_in_set":
                sets[f"{path.stem}.{expectation['kwargs']['column']}"] = expectation["kwargs"]["value_set"]
    return sets


def test_committed_suites_are_generated_from_the_dbt_yml():
    assert stale_suites() == [], "run: .venv/bin/python -m orchestration.lib.value_sets"


def test_the_gates_check_the_same_sets_as_before():
    # what the gates blocked on the demo data before the sets moved to the yml, value for value
    assert suite_value_sets() == {
        "int_events_valid.platform": ["ios", "android", "web", "h5", "wechat_mp"],
        "stg_crm__customers.id_number_valid": [1],
        "stg_crm__customers.phone_valid": [1],
        "stg_crm__customers.risk_level": ["C1", "C2", "C3", "C4", "C5"],
        "stg_crm__customers.kyc_status": ["pending", "verified", "rejected", "expired"],
        "stg_crm__customers.gender": ["M", "F"],
        "stg_trade__trade_orders.trade_type": [
            "subscription", "purchase", "redemption", "conversion", "dividend", "sip_deduction",
        ],
        "stg_trade__trade_orders.order_status": ["confirmed", "failed", "cancelled"],
        "stg_trade__trade_orders.channel": ["app", "web", "h5", "wechat", "branch", "system"],
    }  # fmt: skip


def test_a_changed_yml_set_makes_the_suite_stale_until_regenerated(tmp_path):
    models = tmp_path / "models"
    expectations = tmp_path / "expectations"
    shutil.copytree(MODELS_DIR, models, ignore=shutil.ignore_patterns("*.sql"))
    shutil.copytree(EXPECTATIONS_DIR, expectations)
    trade_yml = models / "staging" / "trade" / "_trade__models.yml"
    text = trade_yml.read_text(encoding="utf-8")
    trade_yml.write_text(
        text.replace("[app, web, h5, wechat, branch, system]", "[app, web, h5, wechat, branch, system, ivr]")
    )

    assert stale_suites(expectations, models) == ["stg_trade__trade_orders.json"]
    assert write_suites(expectations, models) == ["stg_trade__trade_orders.json"]
    assert stale_suites(expectations, models) == []
    channel = next(
        e["kwargs"]["value_set"]
        for e in json.loads((expectations / "stg_trade__trade_orders.json").read_text())["expectations"]
        if e["kwargs"].get("column") == "channel"
    )
    assert channel == ["app", "web", "h5", "wechat", "branch", "system", "ivr"]


def test_a_suite_holding_its_own_list_or_naming_an_unknown_set_is_refused():
    accepted = dbt_accepted_values()
    own_list = {
        "expectations": [
            {
                "type": "expect_column_values_to_be_in_set",
                "kwargs": {"column": "channel", "value_set": ["app"]},
            }
        ]
    }
    with pytest.raises(ValueSetError, match="holds its own value set"):
        apply_value_sets(own_list, accepted, "x.json")
    unknown = {
        "expectations": [
            {
                "type": "expect_column_values_to_be_in_set",
                "kwargs": {"column": "channel", "value_set": []},
                "meta": {"value_set_from": "stg_trade__trade_orders.no_such_column"},
            }
        ]
    }
    with pytest.raises(ValueSetError, match="no accepted_values test"):
        apply_value_sets(unknown, accepted, "x.json")
    flag = {
        "expectations": [
            {
                "type": "expect_column_values_to_be_in_set",
                "kwargs": {"column": "phone_valid", "value_set": [1]},
            }
        ]
    }
    assert apply_value_sets(flag, accepted, "x.json") == flag


def test_a_set_that_is_a_business_rule_is_read_from_the_var():
    rules = load_business_rules()
    accepted = dbt_accepted_values()
    assert accepted["stg_crm__marketing_consents.channel"] == ["sms", "phone", "app_push", "wechat"]
    assert accepted["stg_crm__marketing_consents.channel"] == rules["segments"]["consent_channels"]
    assert accepted["person_identifiers.identifier_type"] == rules["identity"]["type_priority"]
    changed = copy.deepcopy(rules)
    changed["segments"]["consent_channels"] = ["sms", "email"]
    assert dbt_accepted_values(rules=changed)["stg_crm__marketing_consents.channel"] == ["sms", "email"]
    del changed["segments"]["consent_channels"]
    with pytest.raises(ValueSetError, match="has no 'consent_channels'"):
        dbt_accepted_values(rules=changed)
