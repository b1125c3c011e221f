"""The segments stage's definitions: the segments asset (group ``segments``: segments.duckdb and the
outbox) and its consent check."""

import dagster as dg

from orchestration.defs.segments.assets import segment_members_have_consent, segments

defs = dg.Definitions(assets=[segments], asset_checks=[segment_members_have_consent])
