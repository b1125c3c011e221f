"""Raw assets: one per raw table, keyed like the dbt source it feeds, partitioned by arrival day."""

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import dagster as dg
import duckdb

from orchestration.defs.ingest.completeness import mark_loads_started, record_load_attempts
from orchestration.defs.ingest.delivery_schedule import DeliverySchedule
from orchestration.defs.ingest.land import (
    WRITTEN_STATUSES,
    DayOutcome,
    FileWriter,
    PreparedFile,
    ingest_limits,
    land_table_day,
    prepare_days,
    previous_manifest,
    private_store_session,
)
from orchestration.defs.ingest.loader import LoadError, release_parsing_memory
from orchestration.defs.ingest.raw_placeholder import ensure_raw_table
from orchestration.lib.asset_keys import DELETION_REQUESTS
from orchestration.lib.asset_metadata import row_count_and_as_of
from orchestration.lib.layout import DataLayout
from orchestration.lib.partitions import (
    DUCKDB_WRITER_POOL,
    days,
    import_days_of_run,
    is_history_import,
)
from orchestration.lib.privacy_records import purged_tracking_days
from orchestration.lib.retries import TRANSIENT_RETRIES, is_transient_error, retry_wait_seconds
from orchestration.lib.rules import JunkRules, load_business_rules
from orchestration.lib.settings import FundcdpSettings
from orchestration.lib.sources import ALL_TABLES, TableSpec
from orchestration.lib.tombstones import Tombstones, load_tombstones

# Batches of days parsed ahead, each on a thread of its own, while the current batch is written: parsing
# a day takes about twice as long as writing it, so two parsers and the writer keep both cores busy (SF1
# tracking, 20 days outside Dagster: 11.1 s with one day ahead, 7.8 s with two, 7.9 s with three).
PARSE_AHEAD_BATCHES = 2
# Days of a CSV table typed by one DuckDB statement (land.py prepare_days): a history import's small
# daily files cost a statement per batch, not per file. Tracking files are parsed a day at a time.
CSV_BATCH_DAYS = 32
# A run over more days than this logs one summary line per table instead of one line per day: each line
# is an event in Dagster's storage, and a history import would otherwise write thousands.
MAX_DAYS_LOGGED = 7


def _day_metadata(outcomes: list[DayOutcome]) -> dict[str, dg.MetadataValue]:
    not_due = sorted(o.day for o in outcomes if o.not_due)
    outcomes = [o for o in outcomes if not o.not_due]
    by_status = Counter(f.status for outcome in outcomes for f in outcome.files)
    reasons: Counter[str] = Counter()
    redactions: Counter[str] = Counter()
    for outcome in outcomes:
        redactions.update(outcome.free_text_redactions)
        for file in outcome.files:
            if file.status in WRITTEN_STATUSES:
                reasons.update(file.quarantined_by_reason)
    return {
        "days": dg.MetadataValue.int(len(outcomes)),
        "rows_loaded": dg.MetadataValue.int(sum(o.rows_loaded for o in outcomes)),
        "rows_quarantined": dg.MetadataValue.int(sum(o.rows_quarantined for o in outcomes)),
        "files_by_status": dg.MetadataValue.json(dict(sorted(by_status.items()))),
        "quarantined_by_reason": dg.MetadataValue.json(dict(sorted(reasons.items()))),
        "rows_erased": dg.MetadataValue.int(sum(o.rows_erased for o in outcomes)),
        # Phones, ID numbers, e-mails, card numbers found in free text and replaced by placeholders.
        "free_text_redactions": dg.MetadataValue.int(sum(redactions.values())),
        "free_text_redactions_by_kind": dg.MetadataValue.json(dict(sorted(redactions.items()))),
        # Days the source was not due (vars fundcdp.deliveries.schedule) and delivered nothing.
        "days_not_due": dg.MetadataValue.json(not_due),
    }


def _day_line(outcome: DayOutcome, schedule: DeliverySchedule) -> str:
    if outcome.not_due:
        return (
            f"{outcome.source}.{outcome.table} {outcome.day}: not due (schedule: "
            f"{schedule.describe(outcome.source)}) and nothing delivered; nothing to load"
        )
    return (
        f"{outcome.source}.{outcome.table} {outcome.day}: {outcome.rows_loaded} rows loaded, "
        f"{outcome.rows_quarantined} quarantined, files "
        + ", ".join(f"{f.file_name} ({f.status})" for f in outcome.files)
    )


def _run_line(spec: TableSpec, days_to_load: list[str], outcomes: list[DayOutcome]) -> str:
    """One line for a run over many days: totals, files by status, the days with quarantined rows."""
    by_status = Counter(f.status for outcome in outcomes for f in outcome.files)
    quarantined = [f"{o.day} ({o.rows_quarantined})" for o in outcomes if o.rows_quarantined]
    span = f"{days_to_load[0]} .. {days_to_load[-1]}" if days_to_load else "no day"
    not_due = sum(o.not_due for o in outcomes)
    return (
        f"{spec.source}.{spec.name} {span}: {len(outcomes) - not_due} of {len(days_to_load)} day(s) loaded"
        + (f" ({not_due} not due and not delivered)" if not_due else "")
        + ", "
        f"{sum(o.rows_loaded for o in outcomes)} rows loaded, "
        f"{sum(o.rows_quarantined for o in outcomes)} quarantined; files by status "
        f"{dict(sorted(by_status.items()))}"
        + (f"; quarantined rows on {', '.join(quarantined[:20])}" if quarantined else "")
        + (f" and {len(quarantined) - 20} more day(s)" if len(quarantined) > 20 else "")
    )


def _load_day(
    context: dg.AssetExecutionContext,
    settings: FundcdpSettings,
    spec: TableSpec,
    day: str,
    key: bytes,
    junk: JunkRules,
    rules: dict,
    history: list[dict],
    tombstones: Tombstones,
    prepared: dict[str, PreparedFile] | None,
    failures: dict[str, str],
    writer: FileWriter,
    schedule: DeliverySchedule,
) -> DayOutcome | None:
    """Load one day of the table; a refused or malformed delivery is recorded in ``failures`` (None)."""
    refusal = settings.demo_file_refusal(spec, day)  # the demo key on a file not the demo's
    if refusal is not None:
        failures[day] = refusal
        context.log.error(f"{spec.source}.{spec.name} {day}: {refusal}")
        return None
    try:
        return land_table_day(
            layout=settings.layout(),
            spec=spec,
            day=day,
            hash_key=key,
            junk=junk,
            **ingest_limits(rules),
            history=history,
            tombstones=tombstones,
            prepared=prepared,
            writer=writer,
            due=schedule.is_due(spec.source, day),
        )
    except LoadError as error:
        failures[day] = str(error)
        context.log.error(f"{spec.source}.{spec.name} {day}: {error}")
        return None
    except (OSError, duckdb.Error) as error:
        _retry_if_transient(context, f"{spec.source}.{spec.name} {day}", error)
        raise


def _retry_if_transient(context: dg.AssetExecutionContext, what: str, error: Exception) -> None:
    if is_transient_error(str(error)):
        # Each file is written atomically and idempotently: the retry redoes these days.
        context.log.warning(f"{what}: transient failure, retrying: {error}")
        raise dg.RetryRequested(
            max_retries=TRANSIENT_RETRIES, seconds_to_wait=retry_wait_seconds()
        ) from error


def _wait_for_writes(context: dg.AssetExecutionContext, spec: TableSpec, writer: FileWriter) -> None:
    try:
        writer.wait()
    except (OSError, duckdb.Error) as error:
        _retry_if_transient(context, f"{spec.source}.{spec.name}", error)
        raise


def _load_days(
    context: dg.AssetExecutionContext,
    settings: FundcdpSettings,
    spec: TableSpec,
    layout: DataLayout,
    batches: list[list[str]],
    loaded_days: set[str],
    key: bytes,
    junk: JunkRules,
    rules: dict,
    history: list[dict],
    tombstones: Tombstones,
    failures: dict[str, str],
    schedule: DeliverySchedule,
    outcomes: list[DayOutcome],
    finished: list[str],
    log_each_day: bool,
) -> None:
    """Load the batches of days; each day whose files are written is added to ``finished``."""
    # private.duckdb stays open across the days of this run (one writer: the raw assets share a pool).
    # The next batches of days never loaded before are parsed by other threads while this one is written.
    with (
        private_store_session(layout.private_db),
        ThreadPoolExecutor(max_workers=PARSE_AHEAD_BATCHES) as parser,
        FileWriter() as writer,
    ):
        ahead: dict[int, Future] = {}
        for index, batch in enumerate(batches):
            for following in range(index, min(index + 1 + PARSE_AHEAD_BATCHES, len(batches))):
                new_days = [day for day in batches[following] if day not in loaded_days]
                if following not in ahead and new_days:
                    ahead[following] = parser.submit(prepare_days, layout, spec, new_days)
            prepared_batch = ahead.pop(index).result() if index in ahead else {}
            written: list[str] = []
            for day in batch:
                outcome = _load_day(
                    context, settings, spec, day, key, junk, rules, history, tombstones,
                    prepared_batch.get(day), failures, writer, schedule,
                )  # fmt: skip
                if outcome is None:
                    continue
                outcomes.append(outcome)
                written.append(outcome.day)
                if log_each_day:
                    context.log.info(_day_line(outcome, schedule))
            # The batch's files are written (by the writer thread) before the next batch starts; only then
            # are its days finished.
            _wait_for_writes(context, spec, writer)
            finished.extend(written)


def _partition_metadata(day: str, outcomes: list[DayOutcome]) -> dict[str, dg.MetadataValue]:
    """What one partition's materialization says: the rows loaded (``dagster/row_count``, shown by the UI)
    and its day. In a run of one day (a history import too) that is the whole run's load."""
    return row_count_and_as_of(sum(o.rows_loaded for o in outcomes), day)


def _add_partition_metadata(context: dg.AssetExecutionContext, outcomes: list[DayOutcome]) -> None:
    """Each partition's own row count and day on the materializations Dagster records for the run's days
    (the run's metadata, the totals, on every one of them)."""
    keys = list(context.partition_keys)
    if len(keys) == 1:
        context.add_asset_metadata(_partition_metadata(keys[0], outcomes), partition_key=keys[0])
        return
    by_day: dict[str, list[DayOutcome]] = {}
    for outcome in outcomes:
        by_day.setdefault(outcome.day, []).append(outcome)
    for day in keys:
        context.add_asset_metadata(_partition_metadata(day, by_day.get(day, [])), partition_key=day)


def _materializations_of_loaded_days(
    context: dg.AssetExecutionContext,
    outcomes: list[DayOutcome],
    failures: dict[str, str],
) -> Iterator[dg.AssetMaterialization]:
    """On a run that failed some days: a materialization of each of the run's other partitions (a day
    loaded, not due, or purged by retention), so that only the failed days' partitions are failed.

    Dagster records a partition as failed when the run that planned it failed without materializing it
    (a single-run range step cannot otherwise fail part of its range). A range run plans every day;
    a history import plans only its last day, which is materialized here when it loaded (the days before
    it are not partitions of the run: their loads are in the load manifest and the completeness ledger)."""
    keys = list(context.partition_keys)
    if len(keys) == 1:
        day = keys[0]
        if day not in failures:
            yield dg.AssetMaterialization(
                asset_key=context.asset_key,
                partition=day,
                metadata={**_day_metadata(outcomes), **_partition_metadata(day, outcomes)},
            )
        return
    # Every other day of the range was written, not due, or purged by retention (an unexpected error
    # fails the run without reaching here).
    for day in keys:
        if day not in failures:
            of_day = [o for o in outcomes if o.day == day]
            yield dg.AssetMaterialization(
                asset_key=context.asset_key,
                partition=day,
                metadata={**_day_metadata(of_day), **_partition_metadata(day, of_day)},
            )


def build_raw_asset(spec: TableSpec) -> dg.AssetsDefinition:
    """The raw asset of one table: loads each requested arrival day from ``landing/``."""

    @dg.asset(
        key=dg.AssetKey([spec.source, spec.name]),
        group_name=f"raw_{spec.source}",
        partitions_def=days,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=DUCKDB_WRITER_POOL,
        kinds={"parquet"},
        description=spec.description,
        # The privacy step runs first: a person erased today is not loaded again today.
        deps=[DELETION_REQUESTS],
    )
    def raw_table(context: dg.AssetExecutionContext, settings: FundcdpSettings) -> Iterator:
        layout = settings.layout()
        layout.ensure()
        rules = load_business_rules()
        junk = JunkRules.from_rules(rules)
        schedule = DeliverySchedule.from_rules(rules)
        key = settings.loading_hash_key(context)  # refuses the demo key on real data, marks a demo load
        outcomes: list[DayOutcome] = []
        failures: dict[str, str] = {}
        history = previous_manifest(layout, spec)
        tombstones = load_tombstones(layout)
        purged = purged_tracking_days(layout) if spec.source == "tracking" else set()
        loaded_days = {str(row.get("arrival_date")) for row in history}
        # A history import (the tag fundcdp/history_from on a run of one day) loads every delivered day
        # from that day to the run's day (none for a source without any folder); any other run loads its
        # own days.
        if is_history_import(context.run.tags):
            run_days = import_days_of_run(context.run.tags, layout, spec.source)
        else:
            run_days = list(context.partition_keys)
        days_to_load = [day for day in run_days if day not in purged]
        for day in sorted(set(run_days) & purged):
            context.log.info(f"{spec.source}.{spec.name} {day}: purged by retention, not reloaded")
        log_each_day = len(days_to_load) <= MAX_DAYS_LOGGED
        batch_days = CSV_BATCH_DAYS if spec.file_format == "csv" else 1
        batches = [days_to_load[i : i + batch_days] for i in range(0, len(days_to_load), batch_days)]
        # The completeness ledger's facts: every day to load is "started, not finished" (failed, in one
        # transaction) until its files are written; a crash anywhere below (an unexpected error, transient
        # retries running out, kill -9) leaves it so, and an earlier load's manifests do not make it loaded.
        mark_loads_started(layout, spec.source, spec.name, days_to_load, context.run.run_id)
        finished: list[str] = []  # days whose files the writer has written
        try:
            _load_days(
                context, settings, spec, layout, batches, loaded_days, key, junk, rules, history,
                tombstones, failures, schedule, outcomes, finished, log_each_day,
            )  # fmt: skip
        finally:
            # Each failed day with its message, until a later load of it succeeds (a day not due and not
            # delivered supersedes an earlier failure too); the days not finished stay marked.
            record_load_attempts(layout, spec.source, spec.name, failures, finished, context.run.run_id)
            release_parsing_memory()  # the parsing threads are done: dbt runs next in this process
        if not log_each_day:
            context.log.info(_run_line(spec, days_to_load, outcomes))
        # A table the company never delivered (no tracking at all) gets an empty file for dbt to read.
        if ensure_raw_table(layout, spec, context.partition_keys[-1], key, junk) is not None:
            context.log.info(f"{spec.source}.{spec.name}: never delivered; an empty table stands in for it")
        if failures:
            # Good days are already in raw/ (each day is written atomically per file): their partitions are
            # recorded as materialized, so that the run's failure leaves only the failed days failed. The
            # failed days are named so that they can be re-delivered and re-run.
            yield from _materializations_of_loaded_days(context, outcomes, failures)
            raise dg.Failure(
                description=f"{spec.source}.{spec.name}: {len(failures)} day(s) not loaded: "
                + "; ".join(f"{day}: {message}" for day, message in sorted(failures.items())),
                metadata={**_day_metadata(outcomes), "failed_days": dg.MetadataValue.json(failures)},
            )
        _add_partition_metadata(context, outcomes)
        yield dg.MaterializeResult(metadata=_day_metadata(outcomes))

    return raw_table


raw_assets = [build_raw_asset(spec) for spec in ALL_TABLES]
