"""dbt models as Dagster assets, partitioned by day. Source keys equal the raw asset keys, so lineage
joins up.

A run of one day builds (run + test) every model as of that day. A run over a range of days builds the
days one after the other in date order, each as its own ``dbt build`` (history tables need every day); the
Dagster events come from the last day's build, which leaves the warehouse as of the range's last day.
Each model's materialization carries its row count, counted once dbt has finished (``dagster/row_count``),
and the as-of date of the build (``as_of_date``). When a day of a range fails, the days built before it are
recorded materialized, so that only that day and the days after it (not built) show as failed.

The data tests of the incremental models check only the rows their build wrote; a run tagged
``fundcdp/full_test_sweep=true`` (the daily job's weekly run, orchestration/defs/automation/jobs.py) passes
dbt the var ``full_test_sweep`` on its last day's build, and every data test checks its whole table
(docs/quality.md).
"""

import importlib.metadata
import json
import os
import shutil
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliInvocation, DbtCliResource, DbtProject, dbt_assets
from packaging import version

from orchestration.defs.transform import dbt_child
from orchestration.lib.asset_metadata import AS_OF_DATE, ROW_COUNT, row_count_and_as_of
from orchestration.lib.failpoints import crash_if_armed
from orchestration.lib.partitions import DUCKDB_WRITER_POOL, days
from orchestration.lib.paths import DBT_PARSE_TARGET_DIR, DBT_PROJECT_DIR, PROJECT_ROOT
from orchestration.lib.relations import relation
from orchestration.lib.retries import TRANSIENT_RETRIES, is_transient_error, retry_wait_seconds
from orchestration.lib.settings import FundcdpSettings
from orchestration.lib.sql import quote_identifier, quote_qualified

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, target_path=DBT_PARSE_TARGET_DIR)

# The failpoint `dbt_build` fires when this model has committed: an incremental aggregate is new, the tags
# built from it are not.
FAILPOINT_AFTER_MODEL = "model.fundcdp.int_daily_login_activity"
# A run with this tag set to "true" runs every data test over whole tables on its last day's build.
FULL_TEST_SWEEP_TAG = "fundcdp/full_test_sweep"
# dbt's launcher: dbt dies with the run and leads its own process group
# (orchestration/defs/transform/dbt_child.py).
DBT_LAUNCHER = PROJECT_ROOT / "orchestration" / "bin" / "dbt-child"


def _seed_partial_parse(target: Path) -> None:
    """Copy the project's partial-parse file into the run's target folder owner-only (dagster-dbt would copy
    it with ``shutil.copy``, keeping the repository file's 0644), so dbt starts from it."""
    source = DBT_PARSE_TARGET_DIR / "partial_parse.msgpack"
    destination = target / "partial_parse.msgpack"
    if source.is_file() and not destination.exists():
        target.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.copyfile(source, destination)  # a new file: the umask's mode (0600), not the source's
    if destination.exists():
        destination.chmod(0o600)


def dbt_variables(day: str, full_test_sweep: bool = False) -> dict[str, object]:
    """The vars of a build as of ``day``: with ``full_test_sweep`` the incremental models' data tests check
    their whole tables instead of the rows the build wrote (macro full_test_sweep)."""
    return {"as_of_date": day, **({"full_test_sweep": True} if full_test_sweep else {})}


def is_full_test_sweep(tags: Mapping[str, str]) -> bool:
    """A run's tags ask for the full sweep of the data tests (:data:`FULL_TEST_SWEEP_TAG`)."""
    return tags.get(FULL_TEST_SWEEP_TAG, "").strip().lower() == "true"


def _dbt_build(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    settings: FundcdpSettings,
    day: str,
    full_test_sweep: bool = False,
):
    _seed_partial_parse(settings.layout().dbt_target)
    # Unit tests check the SQL, not the data: they run in the test suite (DuckDB and Spark), not daily.
    variables = json.dumps(dbt_variables(day, full_test_sweep))
    invocation = dbt.cli(
        ["build", "--exclude-resource-type", "unit_test", "--vars", variables],
        context=context,
        target_path=settings.layout().dbt_target,
        raise_on_error=False,
    )
    return invocation


def _stop(invocation: DbtCliInvocation) -> None:
    """Make sure dbt is gone (its DuckDB lock released) before anything else opens the warehouse. (dbt
    leads its own process group, so a Ctrl-C in the terminal reaches only the run, which stops it here.)"""
    if invocation.process.poll() is None:
        invocation.process.terminate()
    invocation.process.wait()


def _raise_if_failed(invocation: DbtCliInvocation, day: str) -> None:
    """A retry for a transient failure (a lock held elsewhere), a Failure naming the day otherwise."""
    error = invocation.get_error()
    if error is None:
        return
    if is_transient_error(str(error)):
        raise dg.RetryRequested(
            max_retries=TRANSIENT_RETRIES, seconds_to_wait=retry_wait_seconds()
        ) from error
    raise dg.Failure(description=f"dbt build as of {day} failed", metadata={"error": str(error)[:4000]})


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    # The macro checks' fixture models (tag fixture) are no assets and not in the daily build (its dbt
    # build gets --exclude tag:fixture); tests/integration/test_dbt_unit_tests.py builds them.
    exclude="tag:fixture",
    partitions_def=days,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=DUCKDB_WRITER_POOL,
)
def fundcdp_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, settings: FundcdpSettings
) -> Iterator:
    """Build (run + test) the dbt models as of each day of the run, in date order."""
    build_days = sorted(context.partition_keys)
    # dbt runs as a subprocess that inherits this process's environment.
    os.environ.update(settings.dbt_environment())
    for index, day in enumerate(build_days[:-1]):
        context.log.info(f"dbt build as of {day} (range {build_days[0]} .. {build_days[-1]})")
        invocation = _dbt_build(context, dbt, settings, day)
        try:
            invocation.wait()
        finally:
            _stop(invocation)
        if _failed_for_good(invocation):
            # The days before it were built: only this day and the ones after it (never built) fail.
            yield from _built_days(context.selected_asset_keys, build_days[:index])
        _raise_if_failed(invocation, day)
    day = build_days[-1]
    # The full sweep once, on the last day: it checks every row the earlier days wrote too.
    full_test_sweep = is_full_test_sweep(context.run.tags)
    context.log.info(
        f"dbt build as of {day}" + (" (data tests over whole tables)" if full_test_sweep else "")
    )
    invocation = _dbt_build(context, dbt, settings, day, full_test_sweep)
    # Test results are passed on while dbt runs (Dagster records them on the other core); the models'
    # outputs wait until dbt has released the warehouse, to carry each model's row count.
    materialized = {}
    outputs: list[tuple[str, dg.Output]] = []
    try:
        for event in invocation.stream():
            unique_id = _unique_id(event)
            if unique_id == FAILPOINT_AFTER_MODEL:
                # Only the run is killed: dbt must die with it by itself (its parent-death signal).
                crash_if_armed("dbt_build")
            if isinstance(event, dg.Output):
                materialized[unique_id] = event.output_name
                outputs.append((unique_id, event))
                continue
            yield event
    finally:
        _stop(invocation)
    counts = row_counts(settings.layout().warehouse_db, [unique_id for unique_id, _ in outputs])
    for unique_id, output in outputs:
        yield output.with_metadata({**output.metadata, **_count_and_day(counts.get(unique_id), day)})
    # Rows each incremental model wrote in this run, per day of data: a daily run touches only the new day
    # and the days restated for late or corrected data. Counted once dbt has released the warehouse, so
    # recorded as an observation of the model beside its materialization.
    models = incremental_day_columns()
    written = rows_written(settings.layout().warehouse_db, day, models)
    for unique_id, per_day in written.items():
        if unique_id in materialized:
            yield dg.AssetObservation(
                asset_key=context.asset_key_for_output(materialized[unique_id]),
                partition=day,
                metadata={
                    "fundcdp/rows_written": dg.MetadataValue.int(sum(per_day.values())),
                    "fundcdp/days_written": dg.MetadataValue.json(per_day),
                },
            )
    stats = identity_stats(settings.layout().warehouse_db)
    if stats:
        context.log.info(f"ID-Mapping as of {day}: {stats}")
        yield dg.AssetObservation(
            asset_key=dg.AssetKey(["intermediate", "int_identity_components"]),
            partition=day,
            metadata={name: dg.MetadataValue.int(value) for name, value in stats.items()},
        )
    # After the events: the models that did build are recorded even when a test failed; those that did
    # not were built as of the range's earlier days.
    if _failed_for_good(invocation):
        built_today = {context.asset_key_for_output(name) for name in materialized.values()}
        yield from _built_days(context.selected_asset_keys - built_today, build_days[:-1])
    _raise_if_failed(invocation, day)


def _failed_for_good(invocation: DbtCliInvocation) -> bool:
    """dbt failed for a reason a retry would not cure (:func:`_raise_if_failed` raises a Failure)."""
    error = invocation.get_error()
    return error is not None and not is_transient_error(str(error))


def _built_days(keys: Iterable[dg.AssetKey], built: list[str]) -> Iterator[dg.AssetMaterialization]:
    """In a range run that failed on a later day: a materialization of each model for each day built
    before it, so that Dagster marks only the failed day and the days after it failed (it marks failed
    every planned partition a failed run did not materialize)."""
    for key in sorted(keys, key=lambda k: k.to_user_string()):
        for day in built:
            yield dg.AssetMaterialization(
                asset_key=key, partition=day, metadata={AS_OF_DATE: dg.MetadataValue.text(day)}
            )


def _count_and_day(row_count: int | None, day: str) -> dict[str, dg.MetadataValue]:
    metadata = row_count_and_as_of(row_count or 0, day)
    if row_count is None:  # not counted (the relation could not be read): the day alone
        del metadata[ROW_COUNT]
    return metadata


def row_counts(warehouse_db: Path, unique_ids: list[str]) -> dict[str, int]:
    """The rows of each model's relation after a build (views counted too: a staging view is a typed read
    of its raw files), by unique id; a relation that cannot be read is left out. One read-only
    connection, opened once dbt has released the warehouse."""
    manifest = json.loads(Path(dbt_project.manifest_path).read_text(encoding="utf-8"))
    counts: dict[str, int] = {}
    try:
        con = duckdb.connect(str(warehouse_db), read_only=True)
    except duckdb.Error:
        return counts
    try:
        for unique_id in unique_ids:
            node = manifest["nodes"].get(unique_id)
            if node is None or node.get("resource_type") != "model":
                continue
            try:
                [(count,)] = con.execute(
                    f"select count(*) from {quote_qualified(node['schema'], node['alias'])}"
                ).fetchall()
            except duckdb.Error:
                continue
            counts[unique_id] = int(count)
    finally:
        con.close()
    return counts


def _unique_id(event: object) -> str | None:
    value = (getattr(event, "metadata", None) or {}).get("unique_id")
    return getattr(value, "value", value)


def incremental_day_columns() -> dict[str, tuple[str, str]]:
    """Incremental models keyed by a day: unique id -> (quoted relation, quoted day column), from the manifest
    (``meta: {day_column: …}`` in each model's config)."""
    manifest = json.loads(Path(dbt_project.manifest_path).read_text(encoding="utf-8"))
    models = {}
    for unique_id, node in manifest["nodes"].items():
        config = node.get("config", {})
        day_column = config.get("meta", {}).get("day_column")
        if (
            node.get("resource_type") == "model"
            and config.get("materialized") == "incremental"
            and day_column
        ):
            models[unique_id] = (quote_qualified(node["schema"], node["alias"]), quote_identifier(day_column))
    return models


def rows_written(
    warehouse_db: Path, as_of: str, models: dict[str, tuple[str, str]]
) -> dict[str, dict[str, int]]:
    """Per incremental model, the rows written by the build as of ``as_of`` per day of data."""
    written: dict[str, dict[str, int]] = {}
    try:
        con = duckdb.connect(str(warehouse_db), read_only=True)
    except duckdb.Error:
        return written
    try:
        for unique_id, (relation, day_column) in models.items():
            try:
                rows = con.execute(
                    f"select cast({day_column} as varchar), count(*) from {relation} "
                    "where built_as_of_date = cast(? as date) group by 1 order by 1",
                    [as_of],
                ).fetchall()
            except duckdb.Error:
                continue
            written[unique_id] = {day: count for day, count in rows}
    finally:
        con.close()
    return written


def identity_stats(warehouse_db: Path) -> dict[str, int]:
    """Connected-components passes and graph size of the latest build (empty if not built)."""
    try:
        con = duckdb.connect(str(warehouse_db), read_only=True)
    except duckdb.Error:
        return {}
    try:
        passes, identifiers, persons = con.execute(
            "select max(passes), count(*), count(distinct cluster_node_id) "
            f"from {relation('int_identity_clusters')}"
        ).fetchone()
        (links,) = con.execute(f"select count(*) from {relation('int_identity_links')}").fetchone()
    except duckdb.Error:
        return {}
    finally:
        con.close()
    return {"cc_passes": passes or 0, "identifiers": identifiers, "links": links, "persons": persons}


class FundcdpDbtCliResource(DbtCliResource):
    """DbtCliResource without two start-up costs of every invocation that fundcdp has no use for (about 4 s
    of each dbt build): ``dbt --version`` in a subprocess (the version is the installed dbt-core's, the
    same virtual environment) and an in-process dbt adapter, which only ``fetch_row_counts`` and
    ``fetch_column_metadata`` use (fundcdp counts its rows itself, see :func:`row_counts` and
    :func:`rows_written`).

    dbt is started through ``orchestration/bin/dbt-child`` (:mod:`orchestration.defs.transform.dbt_child`):
    it dies
    with the process that started it, even on ``kill -9``, and runs in its own process group."""

    @property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):
        return None

    def cli(self, *args, **kwargs) -> DbtCliInvocation:
        """:meth:`DbtCliResource.cli`, with the launcher told which Python and dbt to use and which
        process dbt must die with (this one: the thread calling here waits for dbt)."""
        os.environ.update(dbt_launcher_environment())
        return super().cli(*args, **kwargs)


def real_dbt_executable() -> str:
    """dbt from the same virtual environment as Dagster, whatever the caller's PATH holds."""
    venv_dbt = Path(sys.executable).with_name("dbt")
    return str(venv_dbt) if venv_dbt.exists() else (shutil.which("dbt") or "dbt")


def dbt_launcher_environment() -> dict[str, str]:
    """What orchestration/bin/dbt-child reads: this Python, the real dbt, and this process's id."""
    return {
        dbt_child.PYTHON_ENV: sys.executable,
        dbt_child.EXECUTABLE_ENV: real_dbt_executable(),
        dbt_child.PARENT_PID_ENV: str(os.getpid()),
    }


def dbt_resource() -> DbtCliResource:
    """dbt (through its launcher) from the same virtual environment as Dagster."""
    return FundcdpDbtCliResource(
        project_dir=dbt_project,
        profiles_dir=str(DBT_PROJECT_DIR),
        dbt_executable=str(DBT_LAUNCHER),
    )
