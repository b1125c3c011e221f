"""Segment definitions: every kind of validation error names the file, the path in the rule and the reason."""

from pathlib import Path

import pytest

from orchestration.lib.segments.definition import (
    Catalog,
    SegmentError,
    load_segment,
    load_segments,
    validate_all,
)

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
