"""The automation stage's definitions: the daily job and its two halves (the command line's runs), the
delivery sensor, the run-failure alerts and the dead-run reaper. The schedule is added where the
definitions are assembled (orchestration/definitions.py): its time is a deployment setting, read when
the code location loads."""

import dagster as dg

from orchestration.defs.automation.alerting import alert_on_run_failure
from orchestration.defs.automation.jobs import (
    build_job,
    daily_job,
    dead_run_reaper,
    landing_delivery_sensor,
    load_job,
)

defs = dg.Definitions(
    jobs=[daily_job, load_job, build_job],
    sensors=[alert_on_run_failure, landing_delivery_sensor, dead_run_reaper],
)
