"""fundcdp's Dagster code location, assembled in one place.

Each stage folder under ``orchestration/defs/`` exports its own definitions in its ``definitions.py``
(assets, checks, jobs, sensors); :func:`dg.load_defs` loads them all, stopping at each folder's
``definitions.py``, and this module adds what belongs to the deployment: the resources, the executor and
the daily schedule, whose time is the setting FUNDCDP_DAILY_RUN_AT. (``dg.load_from_defs_folder``, its
successor, does not stop there: it would load every module of a stage and find each asset twice.)
"""

import os
import warnings

import dagster as dg

import orchestration.defs
from orchestration.defs.automation.jobs import daily_schedule
from orchestration.defs.transform.dbt import dbt_resource
from orchestration.lib.layout import restrict_umask
from orchestration.lib.paths import PROJECT_ROOT
from orchestration.lib.settings import FundcdpSettings


def stage_definitions() -> dg.Definitions:
    """Every stage's ``defs`` (orchestration/defs/<stage>/definitions.py), merged."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=DeprecationWarning)  # load_defs: see the module docstring
        return dg.load_defs(defs_root=orchestration.defs, project_root=PROJECT_ROOT)


@dg.definitions
def defs() -> dg.Definitions:
    """Loaded when the code location loads (not at import): the schedule's time is a deployment setting."""
    # Owner-only files for everything the code location's processes write (run workers, dbt under them).
    restrict_umask()
    return dg.Definitions.merge(
        stage_definitions(),
        dg.Definitions(
            schedules=[daily_schedule(os.environ.get("FUNDCDP_DAILY_RUN_AT", "07:30"))],
            resources={"settings": FundcdpSettings(), "dbt": dbt_resource()},
            # One process per run: DuckDB files accept one writer at a time and dbt runs as a subprocess of
            # it. The pool duckdb_writer (limit 1) serialises the writing steps under any other executor too.
            executor=dg.in_process_executor,
        ),
    )
