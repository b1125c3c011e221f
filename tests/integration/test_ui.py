"""The Dagster UI: the webserver started from Python (so it can be stopped) serves the code location with
every asset, quality gate, the daily job, its schedule and the sensors, as its GraphQL API reports them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from orchestration.lib.paths import PROJECT_ROOT, WORKSPACE_FILE
from orchestration.lib.sources import ALL_TABLES

QUERY = """
{
  workspaceOrError {
    ... on Workspace {
      locationEntries {
        name
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
  repositoriesOrError {
    ... on RepositoryConnection {
      nodes {
        name
        location { name }
        assetNodes {
          assetKey { path }
          isPartitioned
          assetChecksOrError { ... on AssetChecks { checks { name blocking } } }
        }
        jobs { name }
        schedules { name cronSchedule executionTimezone }
        sensors { name }
      }
    }
  }
}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@contextmanager
def running_webserver(env: dict[str, str]) -> Iterator[int]:
    """dagster-webserver on a free port of 127.0.0.1 serving workspace.yaml with ``env``, once it answers
    GraphQL; its port. Stopped (SIGINT, then killed) when the block ends."""
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-webserver")), "-w", str(WORKSPACE_FILE),
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if "version" in graphql(port, "{ version }").get("data", {}):
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"webserver did not answer: {process.stderr.read().decode()[-3000:]}")
            time.sleep(1)
        yield port
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    """Stop a server started for a test: SIGINT (it shuts down cleanly), killed after 30 s."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    home = tmp_path_factory.mktemp("ui")
    env = {**os.environ, "DAGSTER_HOME": str(home), "FUNDCDP_DATA_DIR": str(home / "data")}
    env.pop("FUNDCDP_DAILY_RUN_AT", None)
    with running_webserver(env) as port:
        yield port


def test_the_ui_serves_the_code_location_with_assets_checks_job_schedule_and_sensors(webserver):
    data = graphql(webserver, QUERY)["data"]
    [entry] = data["workspaceOrError"]["locationEntries"]
    assert (entry["name"], entry["locationOrLoadError"]["__typename"]) == ("fundcdp", "RepositoryLocation")
    [repository] = data["repositoriesOrError"]["nodes"]
    assets = {"/".join(node["assetKey"]["path"]): node for node in repository["assetNodes"]}
    for spec in ALL_TABLES:
        assert assets[f"{spec.source}/{spec.name}"]["isPartitioned"]
    for key in ("marts/person_profile", "marts/tags_value", "intermediate/int_daily_login_activity"):
        assert assets[key]["isPartitioned"]
    assert assets["analytics"]["isPartitioned"] and assets["segments"]["isPartitioned"]
    checks = {
        check["name"]: check["blocking"]
        for node in repository["assetNodes"]
        for check in (node["assetChecksOrError"] or {}).get("checks", [])
    }
    assert {name for name in checks if name.startswith("gx_")} >= {
        "gx_person_profile",
        "gx_tag_coverage",
        "gx_freshness_and_volume",
    }
    assert all(checks[name] for name in checks if name.startswith("gx_"))
    assert checks["segment_members_have_consent"] is True
    assert "fundcdp_daily" in {job["name"] for job in repository["jobs"]}
    assert repository["schedules"] == [
        {"name": "fundcdp_daily_schedule", "cronSchedule": "30 7 * * *", "executionTimezone": "Asia/Shanghai"}
    ]
    assert {sensor["name"] for sensor in repository["sensors"]} == {
        "alert_on_run_failure",
        "landing_delivery_sensor",
        "dead_run_reaper",
    }
