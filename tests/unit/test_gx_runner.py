"""The GX runner: suites load completely or fail loudly, frames validate, and no row value leaks."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from orchestration.defs.quality.gx_runner import (
    ExpectationOutcome,
    build_data_docs,
    load_suite_json,
    loaded_expectation_count,
    validate_frame,
)

PHONE = "13812345678"


def expectation(kind: str, **kwargs) -> dict:
    return {"type": f"expect_{kind}", "kwargs": kwargs}


VALID_EXPECTATIONS = [
    {
        "type": "expect_column_values_to_be_between",
        "kwargs": {"column": "share", "min_value": 0, "max_value": 0.05},
        "meta": {"notes": "share of flagged rows"},
    },
    expectation("column_values_to_not_be_null", column="customer_no"),
    expectation("column_values_to_be_in_set", column="channel", value_set=["app", "web"]),
]


def write_suite(path: Path, expectations: list[dict], name: str | None = None) -> Path:
    document = {"name": name or path.stem, "expectations": expectations, "meta": {"guards": "test/x"}}
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("gx_runner")


@pytest.fixture(scope="module")
def gx_dir(workdir) -> Path:
    """One file-backed GX context shared by the module's tests (creating one costs time)."""
    return workdir / "gx_home"


@pytest.fixture(scope="module")
def suite_path(workdir) -> Path:
    return write_suite(workdir / "test_events.json", VALID_EXPECTATIONS)


def passing_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"share": [0.0, 0.01, 0.05], "customer_no": ["C1", "C2", "C3"], "channel": ["app", "web", "app"]}
    )


def failing_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "share": [0.01, 0.2, 0.3, 0.02],  # 2 above 0.05
            "customer_no": ["C1", None, "C3", "C4"],  # 1 null
            "channel": ["app", "web", "sms", "app"],  # 1 outside the set
        }
    )


def by_column(outcome) -> dict[str | None, ExpectationOutcome]:
    return {item.column: item for item in outcome.expectations}


# --- loading -------------------------------------------------------------------------------------------


def test_loaded_expectation_count_counts_every_valid_expectation(suite_path):
    assert loaded_expectation_count(suite_path) == 3


def test_gx_itself_silently_drops_an_invalid_expectation():
    """The trap the runner guards against: GX builds a suite of 2 from these 3 without raising."""
    import great_expectations as gx

    dicts = [VALID_EXPECTATIONS[0], expectation("nonsense", column="x"), VALID_EXPECTATIONS[1]]
    assert len(gx.ExpectationSuite(name="trap", expectations=dicts).expectations) == 2


def test_an_invalid_expectation_type_raises_naming_the_file_and_the_expectation(tmp_path):
    bad = [VALID_EXPECTATIONS[0], expectation("nonsense", column="x"), VALID_EXPECTATIONS[1]]
    path = write_suite(tmp_path / "bad_suite.json", bad)
    with pytest.raises(ValueError, match=r"bad_suite\.json.*#1 \(expect_nonsense\)"):
        loaded_expectation_count(path)
    with pytest.raises(ValueError, match="bad_suite.json"):
        validate_frame(path, passing_frame())


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (expectation("column_values_to_be_between", column="a", min_vlaue=0), "min_vlaue"),
        (expectation("column_values_to_be_in_set", column="a"), "value_set"),
        ({"expectation_type": "expect_column_values_to_not_be_null", "kwargs": {}}, "expectation_type"),
    ],
)
def test_misspelt_or_incomplete_expectations_raise(tmp_path, bad, reason):
    path = write_suite(tmp_path / "typo.json", [VALID_EXPECTATIONS[0], bad])
    with pytest.raises(ValueError, match=rf"typo\.json: 1 of 2 .*#1 .*{reason}"):
        loaded_expectation_count(path)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "not valid JSON"),
        ('{"expectations": []}', '"name"'),
        ('{"name": "x"}', '"expectations"'),
        ('{"name": "x", "expectations": ["expect_nonsense"]}', "#0 is not a JSON object"),
    ],
)
def test_malformed_suite_files_raise_naming_the_file(tmp_path, text, problem):
    path = tmp_path / "broken.json"
    path.write_text(text)
    with pytest.raises(ValueError, match="broken.json") as raised:
        load_suite_json(path)
    assert problem in str(raised.value)


# --- validating ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("use_gx_dir", [False, True], ids=["ephemeral", "file"])
def test_a_passing_frame_passes(suite_path, gx_dir, use_gx_dir):
    outcome = validate_frame(suite_path, passing_frame(), gx_dir if use_gx_dir else None)
    assert outcome.suite_name == "test_events"
    assert outcome.success is True
    assert (outcome.evaluated, outcome.failed) == (3, 0)
    assert [item.column for item in outcome.expectations] == ["share", "customer_no", "channel"]


def test_a_failing_frame_names_each_failing_expectation_and_counts(suite_path, gx_dir):
    outcome = validate_frame(suite_path, failing_frame(), gx_dir)
    assert outcome.success is False
    assert (outcome.evaluated, outcome.failed) == (3, 3)
    assert outcome.expectations == (
        ExpectationOutcome("expect_column_values_to_be_between", "share", False, None, 2, 4),
        ExpectationOutcome("expect_column_values_to_not_be_null", "customer_no", False, None, 1, 4),
        ExpectationOutcome("expect_column_values_to_be_in_set", "channel", False, None, 1, 4),
    )


def test_only_the_failing_expectation_fails(suite_path):
    frame = passing_frame()
    frame.loc[1, "share"] = 0.9
    outcome = validate_frame(suite_path, frame)
    assert (outcome.success, outcome.failed) == (False, 1)
    failing = [item for item in outcome.expectations if not item.success]
    assert failing == [ExpectationOutcome("expect_column_values_to_be_between", "share", False, None, 1, 3)]


def test_an_expectation_on_a_missing_column_fails_without_raising(tmp_path):
    path = write_suite(
        tmp_path / "missing_column.json",
        [*VALID_EXPECTATIONS, expectation("column_values_to_not_be_null", column="absent")],
    )
    outcome = validate_frame(path, passing_frame())
    assert (outcome.success, outcome.evaluated, outcome.failed) == (False, 4, 1)
    assert by_column(outcome)["absent"].success is False
    assert by_column(outcome)["absent"].unexpected_count is None


def test_observed_values_are_kept_for_statistics_and_dropped_for_row_values(tmp_path):
    path = write_suite(
        tmp_path / "observed.json",
        [
            expectation("table_row_count_to_be_between", min_value=1, max_value=10),
            expectation("column_mean_to_be_between", column="share", max_value=0.05),
            expectation("column_max_to_be_between", column="share", max_value=0.05),
            expectation("column_pair_values_a_to_be_greater_than_b", column_A="a", column_B="b"),
        ],
    )
    frame = pd.DataFrame({"share": [0.0, 0.03, 0.06], "a": [2, 3, 4], "b": [1, 2, 3]})
    outcome = validate_frame(path, frame)
    items = {item.expectation_type: item for item in outcome.expectations}
    assert items["expect_table_row_count_to_be_between"].observed_value == "3"
    assert json.loads(items["expect_column_mean_to_be_between"].observed_value) == pytest.approx(0.03)
    assert items["expect_column_max_to_be_between"].success is False
    assert items["expect_column_max_to_be_between"].observed_value is None  # a max is one row's value
    assert items["expect_column_pair_values_a_to_be_greater_than_b"].column == "a,b"
    assert items["expect_table_row_count_to_be_between"].column is None


def test_an_empty_frame_does_not_crash(suite_path, gx_dir):
    empty = passing_frame().iloc[0:0]
    outcome = validate_frame(suite_path, empty, gx_dir)
    assert outcome.evaluated == 3  # column-value expectations hold vacuously on no rows
    assert all(item.element_count == 0 for item in outcome.expectations)

    no_columns = validate_frame(suite_path, pd.DataFrame())
    assert (no_columns.success, no_columns.failed) == (False, 3)


def test_repeated_validation_is_idempotent_and_follows_suite_edits(workdir, gx_dir):
    path = write_suite(workdir / "edited.json", VALID_EXPECTATIONS[:2])
    for _ in range(3):
        assert validate_frame(path, passing_frame(), gx_dir).evaluated == 2
    write_suite(path, VALID_EXPECTATIONS)
    assert validate_frame(path, failing_frame(), gx_dir).failed == 3
    stored = list((gx_dir / "gx" / "uncommitted" / "validations" / "edited").rglob("*.json"))
    assert len(stored) == 4


# --- privacy and Data Docs -----------------------------------------------------------------------------


def files_containing(root: Path, needle: str) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file() and needle.encode() in path.read_bytes()]


def test_a_phone_in_a_failing_column_leaks_neither_into_the_outcome_nor_into_gx_files(workdir, gx_dir):
    path = write_suite(
        workdir / "phones.json",
        [
            expectation("column_values_to_match_regex", column="phone", regex=r"^1[3-9]\d{3}$"),
            expectation("column_values_to_be_in_set", column="phone", value_set=["x"]),
            expectation("column_values_to_be_unique", column="phone"),
            expectation("column_most_common_value_to_be_in_set", column="phone", value_set=["x"]),
            expectation("column_distinct_values_to_be_in_set", column="phone", value_set=["x"]),
            expectation("column_max_to_be_between", column="phone_number", max_value=100),
            expectation("column_mean_to_be_between", column="phone_object", max_value=0),
        ],
    )
    frame = pd.DataFrame(
        {
            "phone": [PHONE, PHONE, "13900000000"],
            "phone_number": [int(PHONE), 1, 2],
            "phone_object": pd.Series([PHONE + "x", 1, 2], dtype=object),  # GX raises quoting the value
        }
    )
    outcome = validate_frame(path, frame, gx_dir)
    assert (outcome.success, outcome.evaluated, outcome.failed) == (False, 7, 7)
    assert PHONE not in repr(outcome)

    index = build_data_docs(gx_dir)

    planted = workdir / "planted"
    planted.mkdir()
    (planted / "canary.html").write_text(f"<td>{PHONE}</td>")
    assert files_containing(planted, PHONE), "the scan must find a planted phone"
    assert files_containing(gx_dir, PHONE) == []
    assert "phones" in index.read_text()


def test_data_docs_index_is_built_under_gx_dir(suite_path, gx_dir):
    validate_frame(suite_path, failing_frame(), gx_dir)
    index = build_data_docs(gx_dir)
    assert index.name == "index.html" and index.exists()
    assert index.is_relative_to(gx_dir.resolve())
    assert index == gx_dir.resolve() / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    assert "test_events" in index.read_text()
    pages = list((index.parent / "validations" / "test_events").rglob("*.html"))
    assert pages


# --- thresholds from the rules (issue 30) ------------------------------------------------------------


def parameter_suite(path: Path) -> Path:
    return write_suite(
        path,
        [
            expectation(
                "column_values_to_be_between",
                column="share",
                min_value=0,
                max_value={"$PARAMETER": "quality.test.max_share"},
            ),
            expectation(
                "column_values_to_be_in_set",
                column="valid",
                value_set=[1],
                mostly={"$PARAMETER": "quality.test.min_valid_share"},
            ),
        ],
    )


def test_a_parameter_takes_its_value_from_the_rules_passed(tmp_path):
    path = parameter_suite(tmp_path / "parameters.json")
    frame = pd.DataFrame({"share": [0.1, 0.3], "valid": [1, 0]})
    strict = {"quality": {"test": {"max_share": 0.2, "min_valid_share": 0.9}}}
    lenient = {"quality": {"test": {"max_share": 0.5, "min_valid_share": 0.5}}}
    assert loaded_expectation_count(path, strict) == 2
    outcome = validate_frame(path, frame, parameters=strict)
    assert {item.column: (item.success, item.unexpected_count) for item in outcome.expectations} == {
        "share": (False, 1),
        "valid": (False, 1),
    }
    assert validate_frame(path, frame, parameters=lenient).success
    # a share rule ("mostly") on a day without rows holds vacuously: an empty delivery day passes
    empty = validate_frame(path, frame.iloc[0:0], parameters=strict)
    assert (empty.success, empty.evaluated, [item.element_count for item in empty.expectations]) == (
        True,
        2,
        [0, 0],
    )


def test_a_parameter_missing_from_the_rules_raises_naming_it(tmp_path):
    path = parameter_suite(tmp_path / "parameters.json")
    with pytest.raises(ValueError, match=r"#1 .*'quality\.test\.min_valid_share' is not set") as raised:
        loaded_expectation_count(path, {"quality": {"test": {"max_share": 0.2}}})
    assert "1 of 2 expectations" in str(raised.value)
