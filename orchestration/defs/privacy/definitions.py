"""The privacy stage's definitions: the privacy step (deletion requests, retention), group ``privacy``."""

import dagster as dg

from orchestration.defs.privacy.assets import privacy

defs = dg.Definitions(assets=[privacy])
