"""The one resource that reads fundcdp's deployment settings (``FUNDCDP_*`` environment variables).

Nothing reads the environment at import time: values are resolved when a run uses the resource,
and any of them can be overridden in run config (e.g. from the Launchpad).
"""

import os
import warnings
from datetime import date, time

import dagster as dg
from pydantic import Field

from orchestration.lib.layout import DataLayout

# Deliberately recognisable: a scan for it must find nothing, and a deployment must never run on it.
DEMO_HASH_KEY = "fundcdp-DEMO-hash-key-not-secret-set-FUNDCDP_HASH_KEY"


class DemoHashKeyWarning(UserWarning):
    """FUNDCDP_HASH_KEY is unset, so personal data is hashed with the public demo key."""


class FundcdpSettings(dg.ConfigurableResource):
    """Deployment settings: data directory, hash key, optional as-of date."""

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

    def layout(self) -> DataLayout:
        """The data directory, absolute."""
        return DataLayout.at(self.data_dir or os.environ.get("FUNDCDP_DATA_DIR") or "data")

    def hash_key_bytes(self) -> bytes:
        """The HMAC key; the demo key (with a warning) when none is configured."""
        key = self.hash_key or os.environ.get("FUNDCDP_HASH_KEY")
        if not key:
            warnings.warn(
                "FUNDCDP_HASH_KEY is not set: hashing personal data with the PUBLIC DEMO KEY. "
                "Set a secret key before loading real customer data.",
                DemoHashKeyWarning,
                stacklevel=2,
            )
            key = DEMO_HASH_KEY
        return key.encode("utf-8")

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
        """When a day's delivery is due, on the next day, Asia/Shanghai (FUNDCDP_DELIVERY_DEADLINE, default
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
            "TZ": "Asia/Shanghai",
        }


def parse_clock_time(value: str, name: str) -> time:
    """``HH:MM`` as a time of day; a clear error naming the setting otherwise."""
    try:
        hours, minutes = value.strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a time of day in HH:MM form") from None
