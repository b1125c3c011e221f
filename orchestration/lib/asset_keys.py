"""Asset keys one stage names of another: a dependency is declared by key, so a stage never imports
another stage's definitions to say it runs after it."""

import dagster as dg

# The privacy step's outputs (orchestration/defs/privacy/assets.py). The raw loads run after deletion
# requests are honoured: a person erased today is not loaded again today.
DELETION_REQUESTS = dg.AssetKey(["privacy", "deletion_requests"])
IDENTITY_LINK_ARCHIVE = dg.AssetKey(["archive", "identity_links"])
