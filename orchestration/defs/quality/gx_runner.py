"""Validate a pandas frame against a committed Great Expectations 1.x suite, without leaking row values.

The suites are JSON files in GX 1.x format (``{"name": ..., "expectations": [{"type", "kwargs", "meta"}],
"meta": {...}}``). GX's SQL datasource does not work on DuckDB, so a frame is validated through a pandas
dataframe asset. Three traps are handled here:

* GX silently drops (logs and skips) an expectation it cannot build when a suite is made from dicts: every
  expectation is built on its own first, and a bad one raises ``ValueError`` naming the file and the
  expectation (:func:`loaded_expectation_count`).
* Result formats that keep unexpected values write raw values (phones, IDs) into the result JSON and the
  Data Docs HTML: results are always requested as ``SUMMARY`` with ``partial_unexpected_count: 0`` and are
  then reduced to counts, to observed values of a statistic (never of a row value: see
  :data:`STATISTIC_OBSERVED_VALUES`) and to exception messages with quoted literals and digit runs removed.
  With a ``gx_dir`` the reduced result is what gets stored; GX's ``ValidationDefinition.run`` would store
  the unreduced one, so it is not used.
* ``import great_expectations`` is slow (seconds): it is imported inside the functions only.

Data Docs work offline: GX's pages load their CSS and JavaScript from CDNs, so :func:`build_data_docs` copies
the vendored files (``expectations/data_docs_assets/``) into the site and points every page at them. A
stored result is named by its run (``run_name``: the as-of date and the Dagster run id, see
:func:`data_docs_run_name`) instead of GX's ``__none__``.

GX objects are not thread-safe: calls are serialised by a module lock. One ``gx_dir`` should be written
by one process at a time (the data source lives in its ``great_expectations.yml``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from orchestration.lib.paths import EXPECTATIONS_DIR

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pandas

RESULT_FORMAT: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": 0}
DATASOURCE_NAME = "fundcdp_frames"
BATCH_DEFINITION_NAME = "whole_frame"

# Expectations whose observed value is a statistic of the column or table (a count, a mean, a type name,
# the column names), never one row's value. Any other observed value (min, max, median, quantiles, most
# common value, distinct values, ...) may be a personal value itself and is dropped.
STATISTIC_OBSERVED_VALUES = frozenset(
    {
        "expect_table_row_count_to_be_between",
        "expect_table_row_count_to_equal",
        "expect_table_row_count_to_equal_other_table",
        "expect_table_column_count_to_be_between",
        "expect_table_column_count_to_equal",
        "expect_table_columns_to_match_ordered_list",
        "expect_table_columns_to_match_set",
        "expect_column_to_exist",
        "expect_column_values_to_be_of_type",
        "expect_column_values_to_be_in_type_list",
        "expect_column_mean_to_be_between",
        "expect_column_stdev_to_be_between",
        "expect_column_sum_to_be_between",
        "expect_column_unique_value_count_to_be_between",
        "expect_column_proportion_of_unique_values_to_be_between",
        "expect_column_proportion_of_non_null_values_to_be_between",
        "expect_column_kl_divergence_to_be_less_than",
    }
)

# The keys of a SUMMARY result that hold counts and shares only.
_COUNT_KEYS = (
    "element_count",
    "missing_count",
    "missing_percent",
    "unexpected_count",
    "unexpected_percent",
    "unexpected_percent_total",
    "unexpected_percent_nonmissing",
)
# Quoted words an exception message may keep: Python / pandas type names (the frame's column names are
# added per call). Any other quoted literal may be a value and is redacted.
_SAFE_QUOTED = frozenset(
    {
        "str", "string", "int", "int64", "int32", "float", "float64", "bool", "boolean", "object",
        "NoneType", "datetime", "date", "Timestamp", "Decimal", "NaTType", "bytes", "list", "dict",
        "tuple", "mean", "median", "sum", "std", "min", "max",
    }
)  # fmt: skip
_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")
_DIGIT_RUN = re.compile(r"\d{5,}")
_MAX_MESSAGE = 300

# The vendored copies of the files GX's Data Docs load from CDNs (expectations/data_docs_assets/README.md),
# and where a built site gets them (beside GX's own static files).
DATA_DOCS_ASSETS_DIR = EXPECTATIONS_DIR / "data_docs_assets"
SITE_VENDOR_DIR = Path("static") / "vendor"
# Every CDN address in the templates of the pinned GX version -> its copy under DATA_DOCS_ASSETS_DIR.
CDN_ASSETS: dict[str, str] = {
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css":
        "bootstrap-table@1.19.1/dist/bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js":
        "bootstrap-table@1.19.1/dist/bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        "bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        "bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        "bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css":
        "bootstrap@4.3.1/dist/css/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js":
        "bootstrap@4.3.1/dist/js/bootstrap.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        "bootstrap-datepicker@1.9.0/dist/css/bootstrap-datepicker.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        "bootstrap-datepicker@1.9.0/dist/js/bootstrap-datepicker.min.js",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
        "forevolve-bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css":
        "fontawesome-free@6.6.0/css/all.min.css",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery@3.7.1/dist/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js":
        "popper.js@1.12.9/dist/umd/popper.min.js",
    "https://cdn.jsdelivr.net/npm/vega@5": "vega@5.33.1/build/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite@5.23.0/build/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed@6.29.0/build/vega-embed.min.js",
}  # fmt: skip
# The navigation bar's logo comes from GX's web assets bucket; GX copies it into the site's static/images.
GX_WEB_ASSETS = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"
# A relative address of GX's own static files (favicon, logo): GX counts the folders of a validation page one
# short for some of them, so every one is pointed at the site's static/ again.
_GX_STATIC_REFERENCE = re.compile(r"(?<=[\"'])(?:\./|(?:\.\./)+)static/")
# A stylesheet or script the page loads from the network (attributes in any order).
_REMOTE_ASSET = re.compile(r"<(?:link|script)\b[^>]*?\b(?:href|src)=[\"'](https?://[^\"']+)", re.IGNORECASE)

_LOCK = threading.RLock()
_CONTEXTS: dict[Path | None, Any] = {}


@dataclass(frozen=True)
class ExpectationOutcome:
    """The outcome of one expectation: counts and a statistic only, never unexpected values."""

    expectation_type: str
    column: str | None  # kwargs column ("column_A,column_B" for pairs, column_list joined), else None
    success: bool
    observed_value: str | None  # JSON of GX's observed value when it is a statistic, else None
    unexpected_count: int | None
    element_count: int | None


@dataclass(frozen=True)
class SuiteOutcome:
    """The outcome of validating one frame against one suite, expectations in the suite file's order."""

    suite_name: str
    success: bool
    expectations: tuple[ExpectationOutcome, ...]

    @property
    def evaluated(self) -> int:
        """How many expectations were evaluated."""
        return len(self.expectations)

    @property
    def failed(self) -> int:
        """How many expectations failed (including those that raised, e.g. on a missing column)."""
        return sum(not item.success for item in self.expectations)


def load_suite_json(path: Path) -> dict:
    """The suite document at ``path``.

    Raises:
        ValueError: naming the file, when it is not JSON, not an object, or lacks a non-empty string
            ``name`` or an ``expectations`` list of objects.
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as problem:
        raise ValueError(f"{path}: not valid JSON: {problem}") from problem
    if not isinstance(document, dict):
        raise ValueError(f"{path}: a suite must be a JSON object, not {type(document).__name__}")
    if not isinstance(document.get("name"), str) or not document["name"]:
        raise ValueError(f'{path}: the suite has no "name" (a non-empty string)')
    expectations = document.get("expectations")
    if not isinstance(expectations, list):
        raise ValueError(f'{path}: the suite has no "expectations" list')
    for index, item in enumerate(expectations):
        if not isinstance(item, dict):
            raise ValueError(f"{path}: expectation #{index} is not a JSON object")
    return document


def loaded_expectation_count(path: Path, parameters: Mapping[str, Any] | None = None) -> int:
    """How many expectations GX builds from the suite file at ``path`` (``parameters``: as for
    :func:`validate_frame`).

    Where GX itself would silently drop an expectation it cannot build (unknown type, misspelt or missing
    kwargs, a pre-1.0 ``expectation_type`` key), this raises instead, so the count always equals the number
    of expectations in the file.

    Raises:
        ValueError: naming the file and every expectation GX cannot build.
    """
    return len(_build_suite(Path(path), parameters).expectations)


def validate_frame(
    suite_path: Path,
    frame: pandas.DataFrame,
    gx_dir: Path | None = None,
    parameters: Mapping[str, Any] | None = None,
    run_name: str | None = None,
) -> SuiteOutcome:
    """Validate ``frame`` against the suite at ``suite_path``.

    A kwarg written ``{"$PARAMETER": "quality.person_profile.max_churned_share"}`` takes the value at that
    dotted path of ``parameters`` (default: the business rules, ``vars: fundcdp:`` of the dbt project), so
    a threshold lives in one place; a path that leads nowhere raises ``ValueError``.

    With ``gx_dir`` None an in-memory (ephemeral) GX context is used and nothing is written. With a
    ``gx_dir`` a file-backed GX context rooted there (created if missing) stores the suite and the reduced
    validation result, for :func:`build_data_docs`, under ``run_name`` (Data Docs list it as the run's name;
    :func:`data_docs_run_name`; None: GX's ``__none__``). Calling again with the same suite is fine: the data
    source, asset, batch definition and suite are reused or updated.

    An expectation on a column the frame lacks fails (it does not raise). An empty frame is validated:
    column-value expectations hold vacuously on no rows, so guard volume with a row-count expectation.
    ``observed_value`` is reported only for :data:`STATISTIC_OBSERVED_VALUES` (a max or a most common value
    may be a personal value).

    Raises:
        ValueError: the suite file is malformed or holds an expectation GX cannot build.
    """
    suite_path = Path(suite_path)
    with _LOCK:
        suite = _build_suite(suite_path, parameters)
        context = _context(gx_dir)
        suite = context.suites.add_or_update(suite)  # gives every expectation an id
        batch = _batch_definition(context, suite.name).get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(suite, result_format=RESULT_FORMAT)

        order = {expectation.id: index for index, expectation in enumerate(suite.expectations)}
        ordered = sorted(result.results, key=lambda item: order.get(item.expectation_config.id, len(order)))
        outcome = SuiteOutcome(
            suite_name=suite.name,
            success=bool(result.success),
            expectations=tuple(_expectation_outcome(item) for item in ordered),
        )
        allowed = {str(column) for column in frame.columns} | _kwarg_columns(suite)
        for item in result.results:
            _reduce(item, allowed)
        if gx_dir is not None:
            _store(context, result, suite.name, batch.id, run_name)
    return outcome


def data_docs_run_name(as_of_date: str, run_id: str) -> str:
    """The name a gate's result is stored and listed under in Data Docs: its as-of date and the Dagster run id
    as the Dagster UI shows it (the first 8 characters), e.g. ``2026-06-30_1a2b3c4d``."""
    return f"{as_of_date}_{run_id[:8]}"


def build_data_docs(gx_dir: Path) -> Path:
    """Build the GX Data Docs of the results stored in ``gx_dir``, readable offline; return the path of their
    index.html.

    GX's pages load CSS and JavaScript from CDNs: the vendored copies (:data:`DATA_DOCS_ASSETS_DIR`) are
    copied into the site and every page is pointed at them (:func:`make_data_docs_offline`).

    Raises:
        RuntimeError: GX reported no index, or a page still loads a stylesheet or script from the network
            (a GX upgrade with a CDN address missing from :data:`CDN_ASSETS`).
    """
    with _LOCK:
        context = _context(Path(gx_dir))
        sites = context.build_data_docs()
        url = sites.get("local_site") or next(iter(sites.values()))
        index = Path(unquote(urlparse(url).path))
        if not index.exists():
            raise RuntimeError(f"GX reported Data Docs at {url}, but {index} does not exist")
        make_data_docs_offline(index.parent)
    return index


def make_data_docs_offline(site: Path) -> None:
    """Copy the vendored assets into the Data Docs ``site`` (``static/vendor/``) and rewrite every page's CDN
    addresses (:data:`CDN_ASSETS`, GX's logo bucket) and its paths to GX's static files to relative paths that
    resolve from the page's folder. Idempotent.

    Raises:
        RuntimeError: naming the page and address, when a page still loads a stylesheet or script from the
            network after the rewrite.
    """
    site = Path(site)
    vendor = site / SITE_VENDOR_DIR
    shutil.copytree(DATA_DOCS_ASSETS_DIR, vendor, dirs_exist_ok=True, copy_function=shutil.copyfile)
    # owner-only, as everything under the data directory (copytree gives folders the checkout's modes)
    for path in (vendor, *vendor.rglob("*")):
        path.chmod(0o700 if path.is_dir() else 0o600)
    remaining: list[str] = []
    for page in sorted(site.rglob("*.html")):
        if SITE_VENDOR_DIR in page.relative_to(site).parents:
            continue
        static = Path(os.path.relpath(site / "static", page.parent)).as_posix()
        original = page.read_text(encoding="utf-8")
        text = _GX_STATIC_REFERENCE.sub(f"{static}/", original)
        for address, copy in CDN_ASSETS.items():
            # quoted, so that "vega@5" does not rewrite the start of a longer address
            for quote in ('"', "'"):
                text = text.replace(f"{quote}{address}{quote}", f"{quote}{static}/vendor/{copy}{quote}")
        text = text.replace(GX_WEB_ASSETS, f"{static}/images/")
        if text != original:
            page.write_text(text, encoding="utf-8")
        remaining += [f"{page.relative_to(site)}: {address}" for address in _REMOTE_ASSET.findall(text)]
    if remaining:
        raise RuntimeError(
            f"Data Docs pages still load {len(remaining)} stylesheets or scripts from the network (add them "
            "to CDN_ASSETS and expectations/data_docs_assets/): " + "; ".join(sorted(set(remaining))[:10])
        )


# --- internals ---------------------------------------------------------------------------------------


def _resolve_parameters(kwargs: dict, parameters: Mapping[str, Any]) -> dict:
    """``kwargs`` with each ``{"$PARAMETER": "a.b.c"}`` value replaced by ``parameters["a"]["b"]["c"]``.

    Raises:
        ValueError: a path that leads to no value.
    """
    resolved = {}
    for key, value in kwargs.items():
        if isinstance(value, dict) and set(value) == {"$PARAMETER"}:
            node: Any = parameters
            for part in str(value["$PARAMETER"]).split("."):
                if not isinstance(node, dict) or part not in node:
                    raise ValueError(f"{key}: parameter {value['$PARAMETER']!r} is not set in the rules")
                node = node[part]
            value = node
        resolved[key] = value
    return resolved


def _build_suite(path: Path, parameters: Mapping[str, Any] | None = None):
    """A GX ExpectationSuite with every expectation of the file (``$PARAMETER`` kwargs resolved from
    ``parameters``, default the business rules), or ValueError naming the bad ones."""
    _no_analytics()
    from great_expectations import ExpectationSuite
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    document = load_suite_json(path)
    if parameters is None:
        from orchestration.lib.rules import load_business_rules

        parameters = load_business_rules()
    built, problems = [], []
    for index, item in enumerate(document["expectations"]):
        item = {key: value for key, value in item.items() if key != "id"}  # a saved suite's ids
        try:
            if isinstance(item.get("kwargs"), dict):
                item["kwargs"] = _resolve_parameters(item["kwargs"], parameters)
            built.append(ExpectationConfiguration(**item).to_domain_obj())
        except Exception as problem:  # GX raises TypeError, pydantic ValidationError, GX errors
            kind = item.get("type", item.get("expectation_type"))
            problems.append(f"expectation #{index} ({kind}): {' '.join(str(problem).split())}")
    if problems:
        raise ValueError(
            f"{path}: {len(problems)} of {len(document['expectations'])} expectations cannot be built by GX "
            "(GX would silently drop them): " + "; ".join(problems)
        )
    suite = ExpectationSuite(
        name=document["name"],
        expectations=built,
        suite_parameters=document.get("suite_parameters"),
        meta=document.get("meta"),
        notes=document.get("notes"),
    )
    if len(suite.expectations) != len(built):  # pragma: no cover - a GX behaviour change
        raise ValueError(f"{path}: GX kept {len(suite.expectations)} of {len(built)} expectations")
    return suite


def _no_analytics() -> None:
    """GX sends usage analytics by default; a warehouse of personal data phones home to nobody (a user
    who wants them sets GX_ANALYTICS_ENABLED=True)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


def _context(gx_dir: Path | None):
    """The cached GX context for ``gx_dir`` (ephemeral for None), created on first use."""
    _no_analytics()
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    key = None if gx_dir is None else Path(gx_dir).resolve()
    context = _CONTEXTS.get(key)
    if context is not None and (key is None or (key / "gx" / "great_expectations.yml").exists()):
        return context
    if key is None:
        context = gx.get_context(mode="ephemeral")
    else:
        key.mkdir(parents=True, exist_ok=True)
        context = gx.get_context(mode="file", project_root_dir=str(key))
    # In memory only (not saved to great_expectations.yml): no tqdm bars in the pipeline's logs.
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    _CONTEXTS[key] = context
    return context


def _batch_definition(context, asset_name: str):
    """The whole-dataframe batch definition of the asset ``asset_name``, created if missing."""
    try:
        datasource = context.data_sources.get(DATASOURCE_NAME)
    except KeyError:
        datasource = context.data_sources.add_pandas(name=DATASOURCE_NAME)
    try:
        asset = datasource.get_asset(asset_name)
    except LookupError:
        asset = datasource.add_dataframe_asset(name=asset_name)
    try:
        return asset.get_batch_definition(BATCH_DEFINITION_NAME)
    except KeyError:
        return asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION_NAME)


def _column(kwargs: dict) -> str | None:
    if kwargs.get("column") is not None:
        return str(kwargs["column"])
    if kwargs.get("column_A") is not None and kwargs.get("column_B") is not None:
        return f"{kwargs['column_A']},{kwargs['column_B']}"
    if kwargs.get("column_list"):
        return ",".join(str(column) for column in kwargs["column_list"])
    return None


def _kwarg_columns(suite) -> set[str]:
    columns: set[str] = set()
    for expectation in suite.expectations:
        kwargs = expectation.configuration.kwargs
        for key in ("column", "column_A", "column_B"):
            if kwargs.get(key) is not None:
                columns.add(str(kwargs[key]))
        columns.update(str(column) for column in kwargs.get("column_list") or [])
    return columns


def _optional_int(value) -> int | None:
    return None if value is None else int(value)


def _expectation_outcome(item) -> ExpectationOutcome:
    config = item.expectation_config
    result = item.result or {}
    observed = None
    if config.type in STATISTIC_OBSERVED_VALUES and result.get("observed_value") is not None:
        observed = json.dumps(result["observed_value"], default=str)
    return ExpectationOutcome(
        expectation_type=config.type,
        column=_column(config.kwargs),
        success=bool(item.success),
        observed_value=observed,
        unexpected_count=_optional_int(result.get("unexpected_count")),
        element_count=_optional_int(result.get("element_count")),
    )


def _redact(message: str, allowed: set[str]) -> str:
    """``message`` with quoted literals (other than column and type names) and digit runs removed."""

    def keep_or_redact(match: re.Match) -> str:
        text = match.group(1) if match.group(1) is not None else match.group(2)
        safe = text in allowed or text in _SAFE_QUOTED or re.fullmatch(r"[^\w\s]{1,3}", text)
        return match.group(0) if safe else "'<redacted>'"

    message = _DIGIT_RUN.sub("<digits>", _QUOTED.sub(keep_or_redact, message))
    return message if len(message) <= _MAX_MESSAGE else message[:_MAX_MESSAGE] + "..."


def _reduce(item, allowed: set[str]) -> None:
    """Reduce one expectation result in place to what may be stored and rendered."""
    result = item.result or {}
    reduced = {key: result[key] for key in _COUNT_KEYS if key in result}
    if "unexpected_count" in reduced and "unexpected_percent" not in reduced:
        # e.g. distinct values: Data Docs' renderer fails on an unexpected_count without a percent.
        del reduced["unexpected_count"]
    if "partial_unexpected_list" in result:
        reduced["partial_unexpected_list"] = []
    if item.expectation_config.type in STATISTIC_OBSERVED_VALUES and "observed_value" in result:
        reduced["observed_value"] = result["observed_value"]
    item.result = reduced

    info = item.exception_info or {}
    if "raised_exception" not in info:  # {metric id: exception info} when a metric failed to resolve
        info = next(iter(info.values()), {})
    if not isinstance(info, dict):
        info = {key: getattr(info, key, None) for key in ("raised_exception", "exception_message")}
    raised = bool(info.get("raised_exception"))
    message = _redact(str(info.get("exception_message") or ""), allowed) if raised else None
    # The traceback is dropped: it repeats the message and adds nothing a reader of the docs needs.
    item.exception_info = {
        "raised_exception": raised,
        "exception_message": message,
        "exception_traceback": message,
    }


def _store(context, result, suite_name: str, batch_id: str, run_name: str | None = None) -> None:
    """Store the (reduced) suite result in the context's validation results store, as GX's
    ``ValidationDefinition.run`` does, so that Data Docs render it (under ``run_name``)."""
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    run_id = RunIdentifier(run_name=run_name, run_time=datetime.now(UTC))
    result.meta["run_id"] = run_id
    result.meta["validation_time"] = run_id.run_time
    result.meta["batch_parameters"] = {"dataframe": "<DATAFRAME>"}
    # An unkeyed hash of the frame: for a one-value frame (a phone) it is reversible by enumeration.
    result.meta.get("batch_markers", {}).pop("pandas_data_fingerprint", None)
    suite_id = ExpectationSuiteIdentifier(name=suite_name)
    context.validation_results_store.store_validation_results(
        suite_validation_result=result,
        suite_validation_result_identifier=ValidationResultIdentifier(
            expectation_suite_identifier=suite_id, run_id=run_id, batch_identifier=batch_id
        ),
        expectation_suite_identifier=suite_id,
    )
