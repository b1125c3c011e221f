"""The persons gate's quarantine warning is sent whenever it differs from the last one sent for its asset
(orchestration/defs/quality/checks.py): not once per content for ever."""

from __future__ import annotations

import json
import os

from orchestration.defs.quality.checks import send_quarantine_warning
from orchestration.defs.quality.quarantine import QuarantineSummary, quarantine_alert
from orchestration.lib.alerts import was_skipped

ASSET = "main_marts/person_profile"


def test_a_quarantine_going_a_a_b_a_sends_a_b_a(tmp_path, monkeypatch):
    for name in [n for n in os.environ if n.startswith("FUNDCDP_ALERT_")]:
        monkeypatch.delenv(name)  # no channel: the log line is the delivery
    a = QuarantineSummary(2, {"too_many_accounts": 2})
    b = QuarantineSummary(3, {"too_many_accounts": 2, "shared_phone": 1})
    log_path = tmp_path / "alerts.log"
    runs = [("run-1", "2026-07-01", a), ("run-2", "2026-07-02", a), ("run-3", "2026-07-03", b)]
    runs.append(("run-4", "2026-07-04", a))
    sent = [
        not was_skipped(send_quarantine_warning(quarantine_alert(summary, ASSET, day, run), log_path))
        for run, day, summary in runs
    ]
    assert sent == [True, False, True, True]
    logged = [json.loads(line)["alert"] for line in log_path.read_text().splitlines()]
    assert [(alert["run_id"], alert["summary"].split(":")[0]) for alert in logged] == [
        ("run-1", "2 persons quarantined (too_many_accounts (2))"),
        ("run-3", "3 persons quarantined (too_many_accounts (2), shared_phone (1))"),
        ("run-4", "2 persons quarantined (too_many_accounts (2))"),
    ]
    # another asset's warning is its own stream
    other = quarantine_alert(a, "main_marts/other", "2026-07-04", "run-4")
    assert not was_skipped(send_quarantine_warning(other, log_path))
