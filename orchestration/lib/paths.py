"""The one anchor for paths inside the repository.

Everything the project *writes* lives under the data directory (``FUNDCDP_DATA_DIR``), whose layout is
described by :class:`orchestration.lib.layout.DataLayout`; this module only knows where the code is.
"""

import functools
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
DBT_PROJECT_FILE = DBT_PROJECT_DIR / "dbt_project.yml"
DBT_PARSE_TARGET_DIR = DBT_PROJECT_DIR / "target"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
SEGMENTS_DIR = PROJECT_ROOT / "segments"
WORKSPACE_FILE = PROJECT_ROOT / "workspace.yaml"


@functools.cache
def location_name() -> str:
    """The code location's name in the UI (``workspace.yaml``'s one ``location_name``)."""
    [entry] = yaml.safe_load(WORKSPACE_FILE.read_text(encoding="utf-8"))["load_from"]
    return next(iter(entry.values()))["location_name"]
