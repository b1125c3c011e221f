"""Approving a blocked segment version: the job ``approve_segment`` (Dagster UI, run config) and the command
``python -m orchestration.cli segments approve NAME [--version N] --reason "..."`` both call
:func:`~orchestration.defs.segments.versions.approve_segment`, which publishes the blocked version as a run
would (members, diffs, export) and records who approved it, when and why in ``segment_versions``."""

import getpass
import os

import dagster as dg

from orchestration.defs.segments.versions import ApprovalError, approve_segment
from orchestration.lib.partitions import DUCKDB_WRITER_POOL
from orchestration.lib.settings import FundcdpSettings

# Who approves, when neither the command line nor the run config says: this variable, else the OS user.
USER_ENV = "FUNDCDP_USER"


def current_user() -> str:
    """The approver's name: FUNDCDP_USER, else the operating system's user."""
    return os.environ.get(USER_ENV) or getpass.getuser()


class ApproveSegmentConfig(dg.Config):
    """The blocked version to publish and why."""

    segment: str
    reason: str
    # the version number it becomes (as the blocked alert says); left out: the one waiting
    version: int | None = None
    # who approves; left out: the run's user (tag dagster/user), else FUNDCDP_USER or the code server's user
    approved_by: str | None = None


@dg.op(
    pool=DUCKDB_WRITER_POOL,
    description="Publish a segment's blocked version (segments.duckdb, outbox export) and record who "
    "approved it, when and why.",
)
def approve_blocked_segment(
    context: dg.OpExecutionContext, config: ApproveSegmentConfig, settings: FundcdpSettings
) -> None:
    layout = settings.layout()
    approved_by = config.approved_by or context.run.tags.get("dagster/user") or current_user()
    try:
        outcome = approve_segment(
            layout.segments_db, layout.outbox, config.segment, config.reason, approved_by, config.version,
            layout.warehouse_db,
        )  # fmt: skip
    except ApprovalError as problem:
        raise dg.Failure(description=str(problem)) from problem
    context.log_event(
        dg.AssetObservation(
            asset_key=dg.AssetKey("segments"),
            metadata={
                "approved_segment": config.segment,
                "version": outcome.version,
                "dagster/row_count": outcome.size,
                "approved_by": approved_by,
                "reason": config.reason,
                "export": str(outcome.export_dir),
            },
        )
    )
    context.log.info(
        f"segment {config.segment}: version {outcome.version} ({outcome.size} members) published, "
        f"approved by {approved_by}"
    )


@dg.job(
    name="approve_segment",
    description="Approve a segment version the size or change bounds blocked: launch it with run config "
    "ops: {approve_blocked_segment: {config: {segment: NAME, reason: '...', version: N}}}.",
)
def approve_segment_job() -> None:
    approve_blocked_segment()
