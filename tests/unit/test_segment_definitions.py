"""Segment definitions: every kind of validation error names the file, the path in the rule and the reason."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from orchestration.defs.segments.definition import (
    Catalog,
    SegmentError,
    load_segment,
    load_segments,
    validate_all,
)
from orchestration.lib.paths import SEGMENTS_DIR

CATALOG = Catalog.load()

VALID = """
name: {name}
owner: tester
description: a test segment
purpose: marketing
channel: sms
rule:
{rule}
"""


def write(tmp_path: Path, rule: str, name: str = "probe", **fields) -> Path:
    text = VALID.format(name=name, rule=rule)
    for key, value in fields.items():
        text = (
            text.replace(f"{key}: ", f"{key}: {value} #", 1)
            if f"{key}: " in text
            else text + f"{key}: {value}\n"
        )
    path = tmp_path / f"{name}.yml"
    path.write_text(text)
    return path


def error_of(path: Path) -> SegmentError:
    with pytest.raises(SegmentError) as raised:
        load_segment(path, CATALOG)
    return raised.value


@pytest.mark.parametrize(
    ("rule", "path", "reason"),
    [
        ("  all:\n    - {tag: lifecycle_stage, op: '=', value: dormant}\n"
         "    - {tag: shoe_size, op: '=', value: 42}",
         "rule.all[1].tag", "unknown tag 'shoe_size'"),
        ("  {tag: lifecycle_stage, op: between, value: [growth, mature]}",
         "rule.op", "does not fit enum tag 'lifecycle_stage'"),
        ("  {tag: is_high_net_worth, op: '>=', value: true}", "rule.op", "does not fit boolean tag"),
        ("  {tag: value_tier, op: in, value: [affluent, billionaire]}",
         "rule.value[1]", "'billionaire' is not an allowed value of value_tier"),
        ("  {tag: aum_cny, op: '>=', value: lots}", "rule.value", "aum_cny is a number"),
        ("  {tag: registration_date, op: '>=', value: last-month}", "rule.value", "is a date"),
        ("  {tag: age, op: between, value: [30]}", "rule.value", "between needs [low, high]"),
        ("  {tag: age, op: is null, value: 3}", "rule.value", "takes no value"),
        ("  {tag: age, op: '~', value: 3}", "rule.op", "unknown operator"),
        ("  any:\n    - not: {event: teleport, last_days: 7}",
         "rule.any[0].not.event", "unknown event 'teleport'"),
        ("  {event: purchase, last_days: 7, where: {colour: red}}",
         "rule.where.colour", "unknown event property"),
        ("  {event: purchase}", "rule.last_days", "a whole number of days"),
        ("  {sequence: [sign_up, moonwalk], within_days: 7, last_days: 30}",
         "rule.sequence[1]", "unknown event 'moonwalk'"),
        ("  {all: []}", "rule.all", "a non-empty list"),
        ("  {maybe: [x]}", "rule", "unknown node"),
    ],
)  # fmt: skip
def test_rule_errors_name_the_file_the_path_and_the_reason(tmp_path, rule, path, reason):
    file = write(tmp_path, rule)
    problem = error_of(file)
    assert problem.file == str(file)
    assert problem.path == path
    assert reason in problem.reason


def test_malformed_file_and_field_errors(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("name: broken\nrule: {tag: [unclosed\n")
    assert error_of(broken).path == "(file)"
    assert error_of(write(tmp_path, "  {tag: age, op: is null}", purpose="advertising")).path == "purpose"
    assert error_of(write(tmp_path, "  {tag: age, op: is null}", channel="carrier_pigeon")).path == "channel"
    split = write(tmp_path, "  {tag: age, op: is null}", split="{test: 0.5, control: 0.4}")
    assert "add up to 0.9" in error_of(split).reason
    renamed = write(tmp_path, "  {tag: age, op: is null}", name="other")
    renamed.rename(tmp_path / "elsewhere.yml")
    assert error_of(tmp_path / "elsewhere.yml").path == "name"
    missing = tmp_path / "no_rule.yml"
    missing.write_text("name: no_rule\nowner: x\ndescription: y\npurpose: compliance\n")
    assert (error_of(missing).path, error_of(missing).reason) == ("rule", "required")


def test_a_compliance_segment_has_no_channel(tmp_path):
    path = tmp_path / "review.yml"
    path.write_text("name: review\nowner: x\ndescription: y\npurpose: compliance\nchannel: sms\n"
                    "rule: {tag: holds_fund_above_risk_tolerance, op: '=', value: true}\n")  # fmt: skip
    assert error_of(path).path == "channel"


def test_the_starter_library_is_valid_and_covers_the_required_audiences():
    assert validate_all() == []
    segments = {segment.name: segment for segment in load_segments()}
    assert len(segments) >= 8
    assert segments["holds_fund_above_risk_tolerance"].purpose == "compliance"
    assert segments["holds_fund_above_risk_tolerance"].channel is None
    required = {
        "dormant_high_value", "registered_never_invested", "sip_stopped_last_30_days",
        "birthday_next_7_days", "high_net_worth", "churn_early_warning", "new_users_without_card",
    }  # fmt: skip
    assert required <= set(segments)
    assert all(segment.channel for segment in segments.values() if segment.purpose == "marketing")


def test_the_committed_json_schema_is_the_one_the_models_generate():
    from orchestration.defs.segments.definition import SCHEMA_FILE, json_schema

    # The schema lists the catalogued tags: a new tag means regenerating it
    # (`.venv/bin/python -m orchestration.cli segments schema > segments/segment.schema.json`).
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == json_schema(CATALOG)


def test_the_cli_prints_the_schema(capsys):
    from orchestration.cli import run_segments

    assert run_segments("schema", None, "duckdb") == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["title"] == "fundcdp segment definition"
    assert printed["$defs"]["EventWhere"]["properties"]["amount_cny"]["anyOf"][0]["oneOf"][0] == {
        "maximum": 10**15, "minimum": -(10**15), "type": "number",
    }  # fmt: skip


def test_every_starter_segment_validates_against_the_json_schema_and_a_probe_does_not():
    schema = json.loads(SCHEMA_FILE_TEXT())
    validator = jsonschema.Draft202012Validator(schema)
    for path in sorted(SEGMENTS_DIR.glob("*.yml")):
        assert list(validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8")))) == [], path.name
    probe = yaml.safe_load(
        "name: probe\nowner: x\ndescription: y\npurpose: compliance\n"
        "rule: {event: purchase, last_days: 7, where: {amount_cny: '1; attach x'}}\n"
    )
    errors = list(validator.iter_errors(probe))
    assert len(errors) == 1 and list(errors[0].absolute_path) == ["rule"]


def SCHEMA_FILE_TEXT() -> str:  # noqa: N802
    from orchestration.defs.segments.definition import SCHEMA_FILE

    return SCHEMA_FILE.read_text(encoding="utf-8")


def test_event_properties_are_declared_with_their_types():
    assert CATALOG.event_properties["amount_cny"] == "number"
    assert CATALOG.event_properties["fund_code"] == "text"
    assert set(CATALOG.event_properties.values()) == {"text", "number"}


@pytest.mark.parametrize(
    ("where", "path", "reason"),
    [
        ("{amount_cny: '100'}", "rule.where.amount_cny", "a number, not '100'"),
        ("{amount_cny: [100, .nan]}", "rule.where.amount_cny[1]", "a finite number, not nan"),
        ("{amount_cny: true}", "rule.where.amount_cny", "a number, not True"),
        ("{fund_code: 000001}", "rule.where.fund_code", "a text (in quotes), not 1"),
        ("{fund_code: []}", "rule.where.fund_code", "a value or a list of 1 to 100 values"),
        ("{platform: \"ios\\0\"}", "rule.where.platform",
         "a text without control, format or surrogate characters (found '\\x00')"),
    ],
)  # fmt: skip
def test_where_values_have_the_declared_type(tmp_path, where, path, reason):
    problem = error_of(write(tmp_path, f"  {{event: purchase, last_days: 7, where: {where}}}"))
    assert (problem.path, problem.reason) == (path, reason)


def test_typed_where_values_compile_as_numbers_and_texts(tmp_path):
    from datetime import date

    from orchestration.defs.segments.compiler import DUCKDB, SPARK, compile_segment

    rule = '  {event: purchase, last_days: 7, where: {fund_code: ["0\'1"], amount_cny: [100, 2.5]}}'
    segment = load_segment(write(tmp_path, rule), CATALOG)
    duckdb_sql = compile_segment(segment, CATALOG, DUCKDB, date(2026, 6, 30))
    spark_sql = compile_segment(segment, CATALOG, SPARK, date(2026, 6, 30))
    assert "e.fund_code IN ('0''1')" in duckdb_sql and "e.amount_cny IN (100, 2.5)" in duckdb_sql
    assert "e.fund_code IN ('0\\'1')" in spark_sql and "e.amount_cny IN (100, 2.5)" in spark_sql


def test_yaml_anchors_depth_and_duplicates_are_refused(tmp_path):
    cases = {
        "anchors": ("rule: &r {tag: age, op: is null}\n", "anchors and aliases (&, *) are not allowed"),
        "depth": ("rule: " + "[" * 60 + "]" * 60 + "\n", "nested deeper than 40 levels"),
        "duplicate": (
            "rule: {tag: age, op: is null}\nrule: {tag: age, op: is null}\n",
            "duplicate key 'rule'",
        ),
    }
    for name, (text, reason) in cases.items():
        path = tmp_path / f"{name}.yml"
        path.write_text(f"name: {name}\nowner: x\ndescription: y\npurpose: compliance\n" + text)
        problem = error_of(path)
        assert problem.path == "(file)" and reason in problem.reason, name
    nested = write(tmp_path, "  " + "{not: " * 9 + "{tag: age, op: is null}" + "}" * 9)
    assert (error_of(nested).path, error_of(nested).reason) == (
        "rule" + ".not" * 8,
        "all / any / not nested deeper than 8 levels",
    )
