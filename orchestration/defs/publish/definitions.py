"""The publish stage's definitions: the analytics asset (group ``publish``), the one writer of
analytics.duckdb and the report, the last step of a run."""

import dagster as dg

from orchestration.defs.publish.assets import analytics

defs = dg.Definitions(assets=[analytics])
