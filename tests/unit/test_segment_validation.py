"""Segment validation for a marketer (issue 33): every error of a file at once with "did you mean", an
invalid file set aside while the others load, warnings for rules that can never match (derived from the tag
rules under vars: fundcdp: tags:), the change floor min_changed_persons, product properties in `where:`,
and the segments' lines of a run summary."""

from pathlib import Path

import pytest

from orchestration.defs.segments.contradictions import empty_preview_warning, rule_warnings, silent_windows
from orchestration.defs.segments.definition import (
    Catalog,
    SegmentError,
    SegmentErrors,
    load_segment,
    load_valid_segments,
    parse_segment,
)
from orchestration.defs.segments.summary import summary_lines
from orchestration.defs.segments.versions import change_problem
from orchestration.lib.paths import SEGMENTS_DIR

CATALOG = Catalog.load()

MANY_MISTAKES = """\
name: many
ownr: tester
description: every kind of mistake at once
purpose: marketing
channel: smss
rule:
  all:
    - {tag: lifecycle_stag, op: "=", value: dormant}
    - {tag: value_tier, op: in, value: [afluent]}
    - {event: purchse, last_days: 30}
    - {event: purchase, last_days: 30, where: {fund_typ: equity}}
    - {tag: age, op: "=<", value: 3}
"""


def test_every_error_of_a_file_is_reported_with_its_path_and_a_did_you_mean(tmp_path):
    path = tmp_path / "many.yml"
    path.write_text(MANY_MISTAKES)
    with pytest.raises(SegmentErrors) as raised:
        load_segment(path, CATALOG)
    found = {(problem.path, problem.reason.split("; did you mean ")[-1]) for problem in raised.value.problems}
    assert found == {
        ("owner", "required"),
        ("ownr", "'owner'?"),
        ("channel", "'sms'?"),
        ("rule.all[0].tag", "'lifecycle_stage'?"),
        ("rule.all[1].value[0]", "'affluent'?"),
        ("rule.all[2].event", "'purchase'?"),
        ("rule.all[3].where.fund_typ", "'fund_type'?"),
        ("rule.all[4].op", "'<='?"),  # the same characters in another order
    }
    assert all(problem.file == str(path) for problem in raised.value.problems)
    # the message lists each one on its own line, file: path: reason
    lines = str(raised.value).splitlines()
    assert len(lines) == 8
    assert f"{path}: rule.all[0].tag: unknown tag 'lifecycle_stag' (see the tag catalog); did you mean " \
        "'lifecycle_stage'?" in lines  # fmt: skip


def test_a_name_far_from_every_known_one_gets_no_suggestion(tmp_path):
    path = tmp_path / "far.yml"
    path.write_text(MANY_MISTAKES.replace("lifecycle_stag", "shoe_size").replace("name: many", "name: far"))
    reasons = {problem.path: problem.reason for problem in pytest.raises(SegmentError, load_segment, path,
                                                                         CATALOG).value.problems}  # fmt: skip
    assert reasons["rule.all[0].tag"] == "unknown tag 'shoe_size' (see the tag catalog)"


def test_an_invalid_file_is_set_aside_and_the_others_load(tmp_path):
    for name in ("dormant_high_value", "high_net_worth"):
        (tmp_path / f"{name}.yml").write_bytes((SEGMENTS_DIR / f"{name}.yml").read_bytes())
    (tmp_path / "many.yml").write_text(MANY_MISTAKES)
    (tmp_path / "not_yaml.yml").write_text("name: [unclosed\n")
    files = load_valid_segments(tmp_path, CATALOG)
    assert [segment.name for segment in files.valid] == ["dormant_high_value", "high_net_worth"]
    assert sorted(files.invalid) == ["many", "not_yaml"]
    assert len(files.invalid["many"]) == 8
    assert [problem.path for problem in files.invalid["not_yaml"]] == ["(file)"]
    assert len(files.problems()) == 9


def segment(rule: dict, name: str = "probe"):
    document = {"name": name, "owner": "t", "description": "t", "purpose": "compliance", "rule": rule}
    return parse_segment(document, CATALOG, f"{name}.yml")


DORMANT = {"tag": "lifecycle_stage", "op": "=", "value": "dormant"}
BROWSED_14 = {"event": "page_view", "last_days": 14}


def test_dormant_and_browsed_in_the_last_14_days_can_never_match():
    (warning,) = rule_warnings(segment({"all": [DORMANT, BROWSED_14]}), CATALOG)
    assert (warning.file, warning.path) == ("probe.yml", "rule.all[1]")
    assert warning.reason == (
        "never matches: lifecycle_stage dormant (rule.all[0]) means no event for 30 days "
        "(vars fundcdp.tags.*_after_days), but this needs a page_view event in the last 14 days"
    )


@pytest.mark.parametrize(
    "rule",
    [
        {"all": [DORMANT, {"event": "page_view", "last_days": 60}]},  # longer than the silence: possible
        {"all": [DORMANT, {"not": BROWSED_14}]},  # did not browse: what dormant means
        {"all": [DORMANT, {**BROWSED_14, "did": False}]},
        {"any": [DORMANT, BROWSED_14]},  # either one
        {"all": [{"tag": "lifecycle_stage", "op": "in", "value": ["dormant", "mature"]}, BROWSED_14]},
    ],
)
def test_rules_that_can_match_get_no_warning(rule):
    assert rule_warnings(segment(rule), CATALOG) == []


def test_the_silence_comes_from_the_tag_rules_not_from_a_list_of_pairs():
    # churned (90 days) or dormant (30 days): silent for at least 30 days
    stages = {"tag": "lifecycle_stage", "op": "in", "value": ["dormant", "churned"]}
    sequence = {"sequence": ["sign_up", "purchase"], "within_days": 7, "last_days": 30}
    (warning,) = rule_warnings(segment({"all": [stages, {"all": [sequence]}]}), CATALOG)
    assert warning.path == "rule.all[1].all[0]"
    assert "churned, dormant" in warning.reason and "the sequence sign_up then purchase" in warning.reason
    assert silent_windows(CATALOG) == {"dormant": 30, "churned": 90}
    # a shorter dormant rule in the vars: 14 days of browsing no longer contradict it, 7 days still do
    short = {"dormant_after_days": 10, "churned_after_days": 90}
    assert rule_warnings(segment({"all": [DORMANT, BROWSED_14]}), CATALOG, short) == []
    seven = {"event": "page_view", "last_days": 7}
    assert len(rule_warnings(segment({"all": [DORMANT, seven]}), CATALOG, short)) == 1


def test_disjoint_values_of_an_enum_tag_can_never_match():
    growth = {"tag": "lifecycle_stage", "op": "in", "value": ["growth", "mature"]}
    (warning,) = rule_warnings(segment({"not": {"all": [DORMANT, growth]}}), CATALOG)
    assert (warning.path, warning.reason) == (
        "rule.not.all[1]",
        "never matches: lifecycle_stage cannot meet rule.not.all[0] and rule.not.all[1] at once",
    )
    not_dormant = {"tag": "lifecycle_stage", "op": "!=", "value": "dormant"}
    assert len(rule_warnings(segment({"all": [DORMANT, not_dormant]}), CATALOG)) == 1


def test_an_empty_preview_warns_and_says_why():
    probe = segment(DORMANT)
    assert empty_preview_warning(probe, 3, 5) is None
    assert empty_preview_warning(probe, 0, 0).reason == "0 members as of the build: the rule matches no one"
    assert (
        empty_preview_warning(probe, 0, 4).reason == "0 members as of the build: all 4 matches are excluded"
    )


def test_the_starter_library_has_no_warning():
    files = load_valid_segments(catalog=CATALOG)
    assert files.invalid == {}
    assert [w for s in files.valid for w in rule_warnings(s, CATALOG)] == []


@pytest.mark.parametrize(
    ("floor", "entered", "exited", "previous", "blocks"),
    [
        (None, 1, 1, 3, True),  # 67 % of 3 members: a share alone blocks
        (10, 1, 1, 3, False),  # 2 persons: below the floor
        (10, 6, 4, 3, True),  # 10 persons, 333 %: both reached
        (10, 6, 4, 100, False),  # 10 %: within max_change
    ],
)
def test_min_changed_persons_is_a_floor_under_max_change(floor, entered, exited, previous, blocks):
    document = {
        "name": "probe",
        "owner": "t",
        "description": "t",
        "purpose": "compliance",
        "max_change": 0.5,
        "rule": DORMANT,
        **({"min_changed_persons": floor} if floor else {}),
    }
    probe = parse_segment(document, CATALOG)  # fmt: skip
    assert probe.min_changed_persons == floor
    assert (change_problem(probe, entered, exited, previous) is not None) == blocks
    if floor is None:
        assert change_problem(probe, 1, 1, 3) == (
            "1 entered and 1 exited: a change of 67% of the previous version's 3 members exceeds "
            "max_change 50%"
        )


def test_min_changed_persons_needs_max_change_and_the_starters_use_it():
    document = {"name": "probe", "owner": "t", "description": "t", "purpose": "compliance",
                "min_changed_persons": 5, "rule": DORMANT}  # fmt: skip
    with pytest.raises(SegmentError) as raised:
        parse_segment(document, CATALOG)
    assert (raised.value.path, raised.value.reason) == (
        "min_changed_persons", "a floor of max_change: set max_change too",
    )  # fmt: skip
    starters = {
        s.name: (s.max_change, s.min_changed_persons) for s in load_valid_segments(catalog=CATALOG).valid
    }
    assert starters["dormant_high_value"] == (0.5, 20)
    assert all(floor is not None for share, floor in starters.values() if share is not None)


def test_product_properties_are_allowed_in_where_with_their_type():
    where = {"fund_type": "equity", "fund_risk_rating": ["R4", "R5"]}
    browsed = segment({"event": "page_view", "last_days": 30, "where": where})
    assert CATALOG.product_properties == {"fund_type": "text", "fund_risk_rating": "text"}
    assert browsed.rule.where.fund_type == "equity"
    with pytest.raises(SegmentError) as raised:
        segment({"event": "page_view", "last_days": 30, "where": {"fund_type": 3}})
    assert raised.value.path == "rule.where.fund_type"


def test_the_run_summary_names_blocked_and_invalid_segments_and_how_to_approve():
    metadata = {
        "segments": {
            "a": {"status": "published"},
            "b": {"status": "unchanged"},
            "dormant_high_value": {"status": "blocked", "pending_version": 2,
                                   "reason": "1 entered and 1 exited: a change of 67% ..."},
            "gated": {"status": "blocked", "pending_version": 4,
                      "reason": "the data's quality gates did not pass"},
        },
        "invalid": {"many": ["owner: required", "ownr: unknown field"]},
    }  # fmt: skip
    assert summary_lines(metadata) == [
        "segments: 2 blocked, 1 published, 1 unchanged, 1 invalid (skipped)",
        "  BLOCKED dormant_high_value: 1 entered and 1 exited: a change of 67% ...",
        "    to publish it: python -m orchestration.cli segments approve dormant_high_value --version 2 "
        '--reason "..."',
        "  BLOCKED gated: the data's quality gates did not pass",
        "  INVALID segments/many.yml skipped: owner: required (and 1 more)",
    ]


def test_the_cli_validate_lists_every_problem_and_warning(tmp_path, monkeypatch, capsys):
    from orchestration import cli
    from orchestration.defs.segments import definition

    (tmp_path / "many.yml").write_text(MANY_MISTAKES)
    (tmp_path / "silent.yml").write_text(
        "name: silent\nowner: t\ndescription: t\npurpose: compliance\nrule:\n  all:\n"
        "    - {tag: lifecycle_stage, op: '=', value: dormant}\n    - {event: page_view, last_days: 14}\n"
    )
    monkeypatch.setattr(definition, "SEGMENTS_DIR", Path(tmp_path))
    assert cli.main(["segments", "validate"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("INVALID ") for line in out) == 8
    assert [line.split(": ")[1] for line in out if line.startswith("WARNING ")] == ["rule.all[1]"]


def test_the_run_summary_of_make_run_names_invalid_files_and_the_approval(tmp_path):
    from orchestration.defs.automation.summary import BuildOutcome, _outcome_lines
    from orchestration.lib.layout import DataLayout

    outcome = BuildOutcome(
        segments_published=9,
        segments_blocked="dormant_high_value",
        segments_invalid="broken",
        segments_approvable=True,
    )
    lines = _outcome_lines(DataLayout.at(tmp_path), outcome)
    assert lines == [
        "Segments: 9 published, blocked: dormant_high_value (why: segment_versions in segments.duckdb)",
        '  to publish a blocked one: python -m orchestration.cli segments approve NAME --reason "..."',
        "  INVALID segment file(s) skipped: broken (alert segment_invalid; `python -m orchestration.cli "
        "segments",
        "    validate` lists every problem)",
    ]
