"""The privacy step of every run, before the raw loads: honour pending deletion requests, then purge what
is past its retention (see :mod:`orchestration.defs.privacy.step`)."""

from datetime import date

import dagster as dg
import duckdb

from orchestration.defs.ingest.loader import LoadError
from orchestration.defs.privacy.step import RetentionRules, apply_retention, honour_pending_requests
from orchestration.lib.asset_keys import DELETION_REQUESTS, IDENTITY_LINK_ARCHIVE
from orchestration.lib.asset_metadata import row_count_and_as_of
from orchestration.lib.partitions import DUCKDB_WRITER_POOL, days, run_as_of_date
from orchestration.lib.retries import TRANSIENT_RETRIES, is_transient_error, retry_wait_seconds
from orchestration.lib.rules import load_business_rules
from orchestration.lib.settings import FundcdpSettings


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            DELETION_REQUESTS,
            description="Deletion requests honoured (landing/deletion_requests/ or `cli erase`): the person "
            "tombstoned, their rows cut from landing/, raw/ and private.duckdb, the derived stores and "
            "exports purged; the deletion log in raw/ingest/deletion_log/ holds counts only.",
            group_name="privacy",
            kinds={"parquet"},
        ),
        dg.AssetSpec(
            IDENTITY_LINK_ARCHIVE,
            description="Retention: raw tracking events and quarantine rows past vars fundcdp.retention are "
            "purged from raw/, landing/ and private.duckdb; the identity links of the purged events are "
            "archived here first, so no person id changes.",
            group_name="privacy",
            kinds={"parquet"},
        ),
    ],
    partitions_def=days,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=DUCKDB_WRITER_POOL,
    can_subset=False,
)
def privacy(context: dg.AssetExecutionContext, settings: FundcdpSettings):
    try:
        yield from _privacy(context, settings)
    except (OSError, duckdb.Error) as error:
        # private.duckdb or the warehouse locked by another process (an analyst's session, `cli erase
        # --now`): retried like the raw loads (each erasure and purge is idempotent). Anything else fails
        # the step as it is.
        if not is_transient_error(str(error)):
            raise
        context.log.warning(f"privacy step: {error}; retrying in {retry_wait_seconds():g} s")
        raise dg.RetryRequested(
            max_retries=TRANSIENT_RETRIES, seconds_to_wait=retry_wait_seconds()
        ) from error


def _privacy(context: dg.AssetExecutionContext, settings: FundcdpSettings):
    layout = settings.layout()
    layout.ensure()
    rules = load_business_rules()
    honoured = honour_pending_requests(layout, settings.hash_key_bytes(), rules)
    for row in honoured:
        if row.get("status_reason"):  # held: nobody erased (erasure.hold_request alerted)
            context.log.warning(f"deletion request {row['request_id']} held: {row['status_reason']}")
            continue
        context.log.info(
            f"deletion request {row['request_id']} honoured: {row['persons_found']} person(s), "
            f"{row['raw_rows_removed']} raw rows, {row['derived_rows_removed']} derived rows, "
            f"{row['export_rows_removed']} export rows removed"
        )
    as_of = (
        settings.as_of_override()
        or run_as_of_date(context.run.tags)
        or date.fromisoformat(context.partition_keys[-1])
    )
    retention = RetentionRules.from_rules(rules)
    try:
        purged = apply_retention(layout, as_of, retention)
        skipped = None
    except LoadError as error:
        purged, skipped = None, str(error)
        context.log.warning(skipped)
    yield dg.MaterializeResult(
        asset_key=DELETION_REQUESTS,
        metadata={
            # the requests this run handled (honoured or held), as of the run's day
            **row_count_and_as_of(len(honoured), as_of),
            "requests_honoured": dg.MetadataValue.int(sum(1 for r in honoured if not r.get("status_reason"))),
            "requests_held": dg.MetadataValue.int(sum(1 for r in honoured if r.get("status_reason"))),
            "raw_rows_removed": dg.MetadataValue.int(sum(r["raw_rows_removed"] for r in honoured)),
            "derived_rows_removed": dg.MetadataValue.int(sum(r["derived_rows_removed"] for r in honoured)),
        },
    )
    yield dg.MaterializeResult(
        asset_key=IDENTITY_LINK_ARCHIVE,
        metadata={
            # the identity links this run archived
            **row_count_and_as_of((purged or {}).get("identity_links_archived", 0), as_of),
            "event_days_purged": dg.MetadataValue.text((purged or {}).get("event_days_purged") or ""),
            "event_rows_purged": dg.MetadataValue.int((purged or {}).get("event_rows_purged", 0)),
            "identity_links_archived": dg.MetadataValue.int((purged or {}).get("identity_links_archived", 0)),
            "quarantine_rows_purged": dg.MetadataValue.int((purged or {}).get("quarantine_rows_purged", 0)),
            **({"retention_skipped": dg.MetadataValue.text(skipped)} if skipped else {}),
        },
    )
