"""The segments stage's definitions: the segments asset (group ``segments``: segments.duckdb and the
outbox), its consent check and the job approving a blocked version (``approve_segment``)."""

import dagster as dg

from orchestration.defs.segments.approval import approve_segment_job
from orchestration.defs.segments.assets import segment_members_have_consent, segments

defs = dg.Definitions(
    assets=[segments], asset_checks=[segment_members_have_consent], jobs=[approve_segment_job]
)
