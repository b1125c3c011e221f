"""The ml stage's definitions: churn propensity, behaviour clusters and the model tags (group ``ml``), and
the churn model's AUC floor."""

import dagster as dg

from orchestration.defs.ml.assets import model_assets, model_checks

defs = dg.Definitions(assets=model_assets, asset_checks=model_checks)
