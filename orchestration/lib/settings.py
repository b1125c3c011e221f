"""The one resource that reads fundcdp's deployment settings (``FUNDCDP_*`` environment variables).

Nothing reads the environment at import time: values are resolved when a run uses the resource,
and any of them can be overridden in run config (e.g. from the Launchpad).
"""

import contextlib
import logging
import os
import socket
from collections.abc import Iterator
from datetime import date, time

import dagster as dg
from pydantic import Field

from orchestration.lib.layout import DEMO_MARKER, DataLayout, analytics_group_readable
from orchestration.lib.rules import local_time_zone_name
from orchestration.lib.run_lock import hold_run_lock
from orchestration.lib.sources import TableSpec

# Which process runs a run (written by the resource when the run starts): lets a later run, the reaper sensor
# and the command line recognise a run whose process is gone (orchestration/runner.py, alerting.py).
PID_TAG = "fundcdp/pid"
HOST_TAG = "fundcdp/host"
# The run whose own process wrote PID_TAG: a retried run is
# created with its parent's tags, dead pid included, and is not judged by them until its process re-tags it.
PID_RUN_TAG = "fundcdp/pid_of_run"

# Deliberately recognisable: a scan for it must find nothing, and a deployment must never run on it.
DEMO_HASH_KEY = "fundcdp-DEMO-hash-key-not-secret-set-FUNDCDP_HASH_KEY"
# What a demo-key run says, once: in the CLI's output and summary, and on the raw assets in the UI.
DEMO_KEY_NOTICE = (
    "DEMO KEY: FUNDCDP_HASH_KEY is not set, the demo sources are hashed with the public demo key "
    "(fine for the demo, never for real data)"
)
# The metadata entry that shows, on each raw asset in the UI, which kind of key hashed the load.
HASH_KEY_METADATA = "hash_key"


class FundcdpSettings(dg.ConfigurableResource):
    """Deployment settings: data directory, hash key, optional as-of date.

    Every step of every fundcdp run requires this resource, so it also holds the data directory's run
    lock (:mod:`orchestration.lib.run_lock`) for the run: under the in-process executor (the code
    location's, and ``execute_in_process`` / ``materialize``) a resource is set up once per run, before the
    first step, and torn down after the last, so two runs over one data directory never interleave,
    whoever launched them. Sensors, schedules and direct calls (no run) take no lock.
    """

    data_dir: str | None = Field(
        default=None, description="Root of everything fundcdp writes (FUNDCDP_DATA_DIR, default ./data)."
    )
    hash_key: str | None = Field(
        default=None,
        description="HMAC key for personal identifiers (FUNDCDP_HASH_KEY). Never logged.",
        json_schema_extra={"dagster__is_secret": True},
    )
    as_of_date: str | None = Field(
        default=None, description="Override of the as-of date, YYYY-MM-DD (FUNDCDP_AS_OF_DATE)."
    )

    @contextlib.contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator["FundcdpSettings"]:
        """Tag the run with the pid and host of the process that holds it, then hold the data directory's
        run lock from the run's start to its end (waiting for another run that holds it, with a log line
        naming it); outside a run, nothing to tag or hold.

        The tags let ``reap_dead_runs`` (the reaper sensor, the command line) see that a run's process is
        gone whoever launched it: the daemon's run worker too, which Dagster's run monitoring does not
        watch under the default run launcher. Written before waiting, so a run killed while waiting is
        reaped as well. A retried run's tags (copied from its dead parent) are replaced here, and marked as
        its own (``PID_RUN_TAG``): the reaper ignores a retry's pid until then."""
        if context.dagster_run is None:
            with super().yield_for_execution(context) as settings:
                yield settings
            return
        if context.instance is not None:
            context.instance.add_run_tags(
                context.run_id,
                {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname(), PID_RUN_TAG: context.run_id},
            )
        log = context.log.info if context.log is not None else logging.getLogger(__name__).info
        with hold_run_lock(self.layout().root, run=context.run_id, log=log):
            with super().yield_for_execution(context) as settings:
                yield settings

    def layout(self) -> DataLayout:
        """The data directory, absolute."""
        return DataLayout.at(self.data_dir or os.environ.get("FUNDCDP_DATA_DIR") or "data")

    def hash_key_bytes(self) -> bytes:
        """The HMAC key; the public demo key when none is configured (see :meth:`loading_hash_key`)."""
        key = self.hash_key or os.environ.get("FUNDCDP_HASH_KEY")
        return (key or DEMO_HASH_KEY).encode("utf-8")

    def uses_demo_key(self) -> bool:
        """No FUNDCDP_HASH_KEY: personal data would be hashed with the public demo key."""
        return not (self.hash_key or os.environ.get("FUNDCDP_HASH_KEY"))

    def demo_key_refusal(self) -> str | None:
        """Why nothing may be loaded (one line), or None: without FUNDCDP_HASH_KEY only the demo
        generator's output (landing/DEMO_SOURCES.json) loads; any other delivery needs a secret key. A
        marked landing is then checked file by file before each load (:meth:`demo_file_refusal`)."""
        if not self.uses_demo_key() or self.layout().is_demo_landing():
            return None
        return (
            f"refusing to load: FUNDCDP_HASH_KEY is not set and landing/ is not the demo sources (no "
            f"landing/{DEMO_MARKER}); set FUNDCDP_HASH_KEY to a secret key before loading real data"
        )

    def demo_file_refusal(self, spec: TableSpec, day: str) -> str | None:
        """Why one table's delivery of one day may not be loaded (one line naming the file), or None:
        without FUNDCDP_HASH_KEY each of its files must be one the demo generator wrote, as it wrote it
        (listed in landing/DEMO_SOURCES.json with its SHA-256). Only these files are hashed (cached by
        size and times), so the check costs one read of a file the load reads anyway."""
        if not self.uses_demo_key():
            return None
        layout = self.layout()
        folder = layout.landing_day(spec.source, day)
        if not folder.is_dir():
            return None  # the load names a missing delivery itself
        files = [p for p in folder.iterdir() if p.is_file() and spec.matches_file(p.name, day)]
        problem = layout.demo_file_problem(files)
        if problem is None:
            return None
        path, why = problem
        name = path.relative_to(layout.landing).as_posix()
        return (
            f"refusing to load landing/{name}: FUNDCDP_HASH_KEY is not set and this file is not the demo "
            f"generator's ({why}); set FUNDCDP_HASH_KEY to a secret key before loading real data"
        )

    def loading_hash_key(self, context: dg.AssetExecutionContext | None = None) -> bytes:
        """The key a raw load hashes with. Raises :class:`dagster.Failure` (one line) when the demo key
        would hash a real delivery (no demo marker; each day's files are then checked against it with
        :meth:`demo_file_refusal`); a demo-key load is marked on the asset (metadata ``hash_key``)."""
        refusal = self.demo_key_refusal()
        if refusal is not None:
            raise dg.Failure(description=refusal, allow_retries=False)
        if context is not None:
            context.add_output_metadata(self.hash_key_metadata())
        return self.hash_key_bytes()

    def hash_key_metadata(self) -> dict[str, str]:
        """``{"hash_key": …}``: which kind of key (never the key), for an asset's metadata in the UI."""
        return {HASH_KEY_METADATA: DEMO_KEY_NOTICE if self.uses_demo_key() else "secret (FUNDCDP_HASH_KEY)"}

    def group_readable(self) -> bool:
        """analytics.duckdb and reports/ readable by the owner's group, 0640 in 0750 folders
        (FUNDCDP_ANALYTICS_GROUP_READABLE, default false: 0600 in 0700 like everything else). Read from
        the environment only, like the data directory's layout (lib/layout.py) that applies it."""
        return analytics_group_readable()

    def as_of_override(self) -> date | None:
        """The configured as-of date, if any."""
        value = self.as_of_date or os.environ.get("FUNDCDP_AS_OF_DATE")
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"FUNDCDP_AS_OF_DATE={value!r} is not a date in YYYY-MM-DD form") from None

    def delivery_settle_seconds(self) -> float:
        """How long a day's files must stay unchanged before the sensor loads them
        (FUNDCDP_DELIVERY_SETTLE_SECONDS, default 300)."""
        return float(os.environ.get("FUNDCDP_DELIVERY_SETTLE_SECONDS", "300"))

    def delivery_deadline(self) -> time:
        """When a day's delivery is due, on the next day, local time (FUNDCDP_DELIVERY_DEADLINE, default
        09:00): a day still incomplete then is alerted."""
        return parse_clock_time(
            os.environ.get("FUNDCDP_DELIVERY_DEADLINE", "09:00"), "FUNDCDP_DELIVERY_DEADLINE"
        )

    def dbt_environment(self) -> dict[str, str]:
        """Variables the dbt subprocess needs: the absolute data directory and where dbt logs go."""
        layout = self.layout()
        return {
            "FUNDCDP_DATA_DIR": str(layout.root),
            "DBT_LOG_PATH": str(layout.logs / "dbt"),
            "TZ": local_time_zone_name(),
        }


def parse_clock_time(value: str, name: str) -> time:
    """``HH:MM`` as a time of day; a clear error naming the setting otherwise."""
    try:
        hours, minutes = value.strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a time of day in HH:MM form") from None
