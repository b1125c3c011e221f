"""Raw assets: one per raw table, keyed like the dbt source it feeds, partitioned by arrival day."""

from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor

import dagster as dg
import duckdb

from orchestration.defs.partitions import DUCKDB_WRITER_POOL, days
from orchestration.defs.privacy.assets import DELETION_REQUESTS
from orchestration.defs.resources import FundcdpSettings
from orchestration.lib.erasure import load_tombstones
from orchestration.lib.ingest import (
    WRITTEN_STATUSES,
    DayOutcome,
    ingest_limits,
    land_table_day,
    prepare_day,
    previous_manifest,
    private_store_session,
)
from orchestration.lib.loader import LoadError
from orchestration.lib.privacy import purged_tracking_days
from orchestration.lib.retries import TRANSIENT_RETRIES, is_transient_error, retry_wait_seconds
from orchestration.lib.rules import JunkRules, load_business_rules
from orchestration.lib.sources import ALL_TABLES, TableSpec

# Days parsed ahead, each on a thread of its own, while the current day is written: parsing a day takes
# about twice as long as writing it, so two parsers and the writer keep both cores busy (SF1 tracking,
# 20 days outside Dagster: 11.1 s with one day ahead, 7.8 s with two, 7.9 s with three).
PARSE_AHEAD_DAYS = 2


def _day_metadata(outcomes: list[DayOutcome]) -> dict[str, dg.MetadataValue]:
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
    }


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
    def raw_table(context: dg.AssetExecutionContext, settings: FundcdpSettings) -> dg.MaterializeResult:
        layout = settings.layout()
        layout.ensure()
        rules = load_business_rules()
        junk = JunkRules.from_rules(rules)
        key = settings.loading_hash_key(context)  # refuses the demo key on real data, marks a demo load
        outcomes: list[DayOutcome] = []
        failures: dict[str, str] = {}
        history = previous_manifest(layout, spec)
        tombstones = load_tombstones(layout)
        purged = purged_tracking_days(layout) if spec.source == "tracking" else set()
        loaded_days = {str(row.get("arrival_date")) for row in history}
        days_to_load = [day for day in context.partition_keys if day not in purged]
        for day in sorted(set(context.partition_keys) & purged):
            context.log.info(f"{spec.source}.{spec.name} {day}: purged by retention, not reloaded")
        # private.duckdb stays open across the days of this run (one writer: the raw assets share a pool).
        # The next days never loaded before are parsed by other threads while this one is written.
        with (
            private_store_session(layout.private_db),
            ThreadPoolExecutor(max_workers=PARSE_AHEAD_DAYS) as parser,
        ):
            ahead: dict[str, Future] = {}
            for index, day in enumerate(days_to_load):
                for following in days_to_load[index + 1 : index + 1 + PARSE_AHEAD_DAYS]:
                    if following not in ahead and following not in loaded_days:
                        ahead[following] = parser.submit(prepare_day, layout, spec, following)
                prepared = ahead.pop(day).result() if day in ahead else None
                refusal = settings.demo_file_refusal(spec, day)  # the demo key on a file not the demo's
                if refusal is not None:
                    failures[day] = refusal
                    context.log.error(f"{spec.source}.{spec.name} {day}: {refusal}")
                    continue
                try:
                    outcome = land_table_day(
                        layout,
                        spec,
                        day,
                        key,
                        junk,
                        **ingest_limits(rules),
                        history=history,
                        tombstones=tombstones,
                        prepared=prepared,
                    )
                except LoadError as error:
                    failures[day] = str(error)
                    context.log.error(f"{spec.source}.{spec.name} {day}: {error}")
                    continue
                except (OSError, duckdb.Error) as error:
                    if is_transient_error(str(error)):
                        # Each file is written atomically and idempotently: the retry redoes this day.
                        context.log.warning(
                            f"{spec.source}.{spec.name} {day}: transient failure, retrying: {error}"
                        )
                        raise dg.RetryRequested(
                            max_retries=TRANSIENT_RETRIES, seconds_to_wait=retry_wait_seconds()
                        ) from error
                    raise
                outcomes.append(outcome)
                context.log.info(
                    f"{spec.source}.{spec.name} {day}: {outcome.rows_loaded} rows loaded, "
                    f"{outcome.rows_quarantined} quarantined, files "
                    + ", ".join(f"{f.file_name} ({f.status})" for f in outcome.files)
                )
        if failures:
            # Good days are already in raw/ (each day is written atomically per file); the failed
            # days are named so that they can be re-delivered and re-run.
            raise dg.Failure(
                description=f"{spec.source}.{spec.name}: {len(failures)} day(s) not loaded: "
                + "; ".join(f"{day}: {message}" for day, message in sorted(failures.items())),
                metadata={**_day_metadata(outcomes), "failed_days": dg.MetadataValue.json(failures)},
            )
        return dg.MaterializeResult(metadata=_day_metadata(outcomes))

    return raw_table


raw_assets = [build_raw_asset(spec) for spec in ALL_TABLES]
