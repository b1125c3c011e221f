"""The quality stage's definitions: one blocking Great Expectations check per suite under expectations/,
on the asset it guards (the publish gate itself, :mod:`orchestration.defs.quality.publish_gate`, is read
by the publishers)."""

import dagster as dg

from orchestration.defs.quality.checks import quality_checks

defs = dg.Definitions(asset_checks=quality_checks)
