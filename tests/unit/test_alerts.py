"""Alert delivery against a real local HTTP server and a real local SMTP server."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import urllib.parse
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from orchestration.lib import alerts
from orchestration.lib.alerts import (
    SKIPPED,
    Alert,
    Delivery,
    channels_from_env,
    content_key,
    redact_url,
    send_alert,
    sent_keys_path,
    was_skipped,
    wecom_markdown,
)
from orchestration.lib.paths import PROJECT_ROOT
from tests import alert_servers

# the local servers' fixtures, used by name
http_server, smtp_server = alert_servers.http_server, alert_servers.smtp_server
closed_port, no_proxy = alert_servers.closed_port, alert_servers.no_proxy

TOKEN = "tok-9d2e7c4b1a6f-must-not-be-logged"
DINGTALK_SECRET = "SECd41d8cd98f00b204e9800998ecf8427e-must-not-be-logged"
SMTP_PASSWORD = "smtp-pw-5e8b2c71-must-not-be-logged"
SECRETS = (TOKEN, DINGTALK_SECRET, SMTP_PASSWORD)

ALERT = Alert(
    kind="check_failed",
    summary="2 of 9 expectations failed on main_marts/person_profile (客户画像)",
    asset="main_marts/person_profile",
    partition="2026-06-30",
    run_id="3f9c2a1e-0b7d-4c55-9e3a-7d1f2b6c8a90",
    details={
        "failed_expectations": 2,
        "evaluated": 9,
        "failed": ["expect_column_values_to_be_between on share", "expect_x on aum"],
    },
)


@pytest.fixture(autouse=True)
def _no_proxy(no_proxy):
    """urllib honours proxy variables: keep requests to 127.0.0.1 local."""


def _smtp_env(server, **overrides) -> dict[str, str]:
    env = {
        "FUNDCDP_ALERT_SMTP_HOST": "127.0.0.1",
        "FUNDCDP_ALERT_SMTP_PORT": str(server.server_address[1]),
        "FUNDCDP_ALERT_SMTP_FROM": "fundcdp@example.com",
        "FUNDCDP_ALERT_SMTP_TO": "data-eng@example.com, oncall@example.com",
        "FUNDCDP_ALERT_SMTP_USER": "fundcdp",
        "FUNDCDP_ALERT_SMTP_PASSWORD": SMTP_PASSWORD,
    }
    env.update(overrides)
    return env


def _log_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _assert_no_secrets(path: Path, deliveries: list[Delivery]) -> None:
    logged = path.read_text(encoding="utf-8")
    errors = " ".join(d.error or "" for d in deliveries)
    for secret in SECRETS:
        assert secret not in logged
        assert secret not in errors
        assert urllib.parse.quote_plus(secret) not in logged


# --- tests ---------------------------------------------------------------------------------------


def test_channels_from_env():
    assert channels_from_env({}) == []
    blank_or_secret_only = {"FUNDCDP_ALERT_WEBHOOK_URL": "  ", "FUNDCDP_ALERT_DINGTALK_SECRET": "SEC1"}
    assert channels_from_env(blank_or_secret_only) == []
    everything = {
        "FUNDCDP_ALERT_SMTP_HOST": "mail.example.com",
        "FUNDCDP_ALERT_DINGTALK_WEBHOOK_URL": "https://oapi.dingtalk.com/robot/send?access_token=x",
        "FUNDCDP_ALERT_WECOM_WEBHOOK_URL": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x",
        "FUNDCDP_ALERT_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/x",
        "FUNDCDP_ALERT_WEBHOOK_URL": "https://alerts.example.com/hook",
    }
    assert channels_from_env(everything) == ["webhook", "slack", "wecom", "dingtalk", "email"]


def test_alert_text_and_json():
    text = ALERT.text()
    assert text.splitlines()[0] == f"[fundcdp] check_failed: {ALERT.summary}"
    for expected in (
        "asset: main_marts/person_profile",
        "partition: 2026-06-30",
        f"run id: {ALERT.run_id}",
        "failed_expectations: 2",
        "evaluated: 9",
        "- expect_x on aum",
    ):
        assert expected in text
    odd = Alert("stale_data", "late", None, None, None, {"as_of": date(2026, 6, 30), "aum": Decimal("1.5")})
    assert json.loads(json.dumps(odd.to_json())) == {
        "kind": "stale_data",
        "summary": "late",
        "asset": None,
        "partition": None,
        "run_id": None,
        "details": {"as_of": "2026-06-30", "aum": "1.5"},
    }
    assert "run id: -" in odd.text()


def test_no_channel_configured_writes_only_the_log_line(tmp_path):
    log_path = tmp_path / "nested" / "dir" / "alerts.jsonl"
    assert send_alert(ALERT, log_path, environ={}) == [Delivery("log", True, None)]
    send_alert(ALERT, log_path, environ={})
    lines = _log_lines(log_path)
    assert len(lines) == 2
    assert lines[0]["alert"] == ALERT.to_json()
    assert lines[0]["deliveries"] == []
    assert lines[0]["logged_at"]


def test_every_channel_delivers_exactly_the_alert(tmp_path, http_server, smtp_server):
    base = http_server.base
    env = {
        "FUNDCDP_ALERT_WEBHOOK_URL": f"{base}/generic/hook?token={TOKEN}",
        "FUNDCDP_ALERT_SLACK_WEBHOOK_URL": f"{base}/services/T0001/B0001/{TOKEN}",
        "FUNDCDP_ALERT_WECOM_WEBHOOK_URL": f"{base}/cgi-bin/webhook/send?key={TOKEN}",
        "FUNDCDP_ALERT_DINGTALK_WEBHOOK_URL": f"{base}/robot/send?access_token={TOKEN}",
        "FUNDCDP_ALERT_DINGTALK_SECRET": DINGTALK_SECRET,
        **_smtp_env(smtp_server),
    }
    log_path = tmp_path / "alerts.jsonl"
    before_ms = time.time() * 1000
    deliveries = send_alert(ALERT, log_path, environ=env, timeout_s=2)
    after_ms = time.time() * 1000

    assert deliveries == [
        Delivery(channel, True, None) for channel in ("webhook", "slack", "wecom", "dingtalk", "email", "log")
    ]
    requests = {request["path"]: request for request in http_server.requests}
    assert len(http_server.requests) == 4

    generic = requests["/generic/hook"]
    assert generic["query"] == f"token={TOKEN}"
    assert generic["content_type"].startswith("application/json")
    assert generic["body"] == ALERT.to_json()
    assert generic["body"]["asset"] == "main_marts/person_profile"
    assert generic["body"]["partition"] == "2026-06-30"
    assert generic["body"]["run_id"] == ALERT.run_id
    assert generic["body"]["details"]["failed_expectations"] == 2

    slack = requests[f"/services/T0001/B0001/{TOKEN}"]
    assert slack["body"] == {"text": ALERT.text()}
    for expected in (ALERT.run_id, "failed_expectations: 2", "evaluated: 9", "2026-06-30"):
        assert expected in slack["body"]["text"]

    wecom = requests["/cgi-bin/webhook/send"]
    assert wecom["query"] == f"key={TOKEN}"
    assert set(wecom["body"]) == {"msgtype", "markdown"}
    assert wecom["body"]["msgtype"] == "markdown"
    content = wecom["body"]["markdown"]["content"]
    assert set(wecom["body"]["markdown"]) == {"content"}
    assert content == wecom_markdown(ALERT)
    assert "[fundcdp] check_failed" in content and ALERT.summary in content
    assert f"> run id: {ALERT.run_id}" in content and "failed_expectations: 2" in content

    dingtalk = requests["/robot/send"]
    query = urllib.parse.parse_qs(dingtalk["query"], strict_parsing=True)
    assert set(query) == {"access_token", "timestamp", "sign"}
    assert query["access_token"] == [TOKEN]
    timestamp = query["timestamp"][0]
    assert before_ms - 1 <= int(timestamp) <= after_ms + 1
    expected_sign = base64.b64encode(
        hmac.new(
            DINGTALK_SECRET.encode(), f"{timestamp}\n{DINGTALK_SECRET}".encode(), hashlib.sha256
        ).digest()
    ).decode()
    assert query["sign"] == [expected_sign]
    assert f"&sign={urllib.parse.quote_plus(expected_sign)}" in dingtalk["query"]  # URL-encoded on the wire
    assert dingtalk["body"]["msgtype"] == "markdown"
    assert dingtalk["body"]["markdown"]["title"] == f"[fundcdp] check_failed: {ALERT.summary}"
    assert ALERT.run_id in dingtalk["body"]["markdown"]["text"]
    assert "failed_expectations: 2" in dingtalk["body"]["markdown"]["text"]

    [mail] = smtp_server.messages
    assert mail["mail_from"] == "FROM:<fundcdp@example.com>"
    assert mail["rcpt_to"] == ["TO:<data-eng@example.com>", "TO:<oncall@example.com>"]
    mechanism, _, response = mail["auth"].partition(" ")
    assert mechanism == "PLAIN"
    assert base64.b64decode(response) == f"\0fundcdp\0{SMTP_PASSWORD}".encode()
    message = email.message_from_bytes(mail["data"], policy=email.policy.default)
    assert message["Subject"] == f"[fundcdp] check_failed: {ALERT.summary}"
    assert message["From"] == "fundcdp@example.com"
    assert message["To"] == "data-eng@example.com, oncall@example.com"
    assert message.get_content_type() == "text/plain"
    # CRLF is the wire's line ending; the parser keeps it in the decoded text
    assert message.get_content().replace("\r\n", "\n") == ALERT.text() + "\n"
    assert all(byte < 128 for byte in mail["data"])  # 7-bit clean on the wire

    [line] = _log_lines(log_path)
    assert line["alert"] == ALERT.to_json()
    assert line["deliveries"] == [
        {"channel": channel, "ok": True, "error": None}
        for channel in ("webhook", "slack", "wecom", "dingtalk", "email")
    ]
    _assert_no_secrets(log_path, deliveries)


def test_broken_channels_fail_alone_and_are_logged(tmp_path, http_server, smtp_server, closed_port):
    base = http_server.base
    env = {
        "FUNDCDP_ALERT_WEBHOOK_URL": f"http://127.0.0.1:{closed_port}/hook?token={TOKEN}",
        "FUNDCDP_ALERT_SLACK_WEBHOOK_URL": f"{base}/fail500/services/T0001/B0001/{TOKEN}",
        "FUNDCDP_ALERT_WECOM_WEBHOOK_URL": f"{base}/cgi-bin/webhook/send?key={TOKEN}",
        "FUNDCDP_ALERT_DINGTALK_WEBHOOK_URL": f"{base}/errcode/robot/send?access_token={TOKEN}",
        "FUNDCDP_ALERT_DINGTALK_SECRET": DINGTALK_SECRET,
        **_smtp_env(smtp_server),
    }
    log_path = tmp_path / "alerts.jsonl"
    started = time.monotonic()
    deliveries = send_alert(ALERT, log_path, environ=env, timeout_s=2)
    assert time.monotonic() - started < 2

    by_channel = {d.channel: d for d in deliveries}
    assert [d.channel for d in deliveries] == ["webhook", "slack", "wecom", "dingtalk", "email", "log"]
    assert not by_channel["webhook"].ok
    assert by_channel["webhook"].error.startswith(f"http://127.0.0.1:{closed_port}/…: ")
    assert "refused" in by_channel["webhook"].error.lower()
    assert not by_channel["slack"].ok
    assert by_channel["slack"].error == f"{base}/…: HTTP 500 Internal Server Error: internal error"
    assert not by_channel["dingtalk"].ok
    assert by_channel["dingtalk"].error == f"{base}/…: errcode 310000: sign not match"
    assert by_channel["wecom"] == Delivery("wecom", True, None)
    assert by_channel["email"] == Delivery("email", True, None)
    assert by_channel["log"] == Delivery("log", True, None)

    # the healthy channels still got the alert
    assert "/cgi-bin/webhook/send" in [r["path"] for r in http_server.requests]
    assert len(smtp_server.messages) == 1

    [line] = _log_lines(log_path)
    assert line["deliveries"] == [
        {"channel": d.channel, "ok": d.ok, "error": d.error} for d in deliveries if d.channel != "log"
    ]
    _assert_no_secrets(log_path, deliveries)


def test_error_text_echoing_the_url_is_scrubbed(tmp_path, http_server):
    env = {"FUNDCDP_ALERT_WEBHOOK_URL": f"{http_server.base}/echo500/{TOKEN}/hook?token={TOKEN}"}
    log_path = tmp_path / "alerts.jsonl"
    [webhook, logged] = send_alert(ALERT, log_path, environ=env, timeout_s=2)
    assert not webhook.ok and logged.ok
    assert webhook.error.startswith(f"{http_server.base}/…: HTTP 500")
    assert "***" in webhook.error
    _assert_no_secrets(log_path, [webhook])


def test_timeout_is_a_failed_delivery(tmp_path, http_server):
    env = {"FUNDCDP_ALERT_SLACK_WEBHOOK_URL": f"{http_server.base}/slow/{TOKEN}"}
    started = time.monotonic()
    [slack, logged] = send_alert(ALERT, tmp_path / "alerts.jsonl", environ=env, timeout_s=0.3)
    assert time.monotonic() - started < 1.5
    assert slack == Delivery("slack", False, f"{http_server.base}/…: timed out after 0.3s")
    assert logged.ok


def test_email_problems_are_failed_deliveries(tmp_path, smtp_server, closed_port):
    log_path = tmp_path / "alerts.jsonl"
    missing = _smtp_env(smtp_server, FUNDCDP_ALERT_SMTP_TO=" ")
    [mail, _] = send_alert(ALERT, log_path, environ=missing, timeout_s=2)
    assert mail == Delivery("email", False, "not configured: FUNDCDP_ALERT_SMTP_TO not set")

    refused = _smtp_env(smtp_server, FUNDCDP_ALERT_SMTP_PORT=str(closed_port))
    [mail, _] = send_alert(ALERT, log_path, environ=refused, timeout_s=2)
    assert not mail.ok and mail.error.startswith(f"smtp://127.0.0.1:{closed_port}: ConnectionRefusedError")

    bad_flag = _smtp_env(smtp_server, FUNDCDP_ALERT_SMTP_STARTTLS="maybe")
    [mail, _] = send_alert(ALERT, log_path, environ=bad_flag, timeout_s=2)
    assert not mail.ok and "FUNDCDP_ALERT_SMTP_STARTTLS" in mail.error

    assert smtp_server.messages == []
    assert [line["deliveries"][0]["ok"] for line in _log_lines(log_path)] == [False, False, False]
    _assert_no_secrets(log_path, [])


def test_unwritable_log_does_not_raise(tmp_path, http_server):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the log directory should be")
    env = {"FUNDCDP_ALERT_WEBHOOK_URL": f"{http_server.base}/generic/hook?token={TOKEN}"}
    [webhook, logged] = send_alert(ALERT, blocker / "alerts.jsonl", environ=env, timeout_s=2)
    assert webhook.ok
    assert logged.channel == "log" and not logged.ok and logged.error
    assert len(http_server.requests) == 1


def test_wecom_content_is_cut_to_4096_bytes():
    long_alert = Alert(
        "check_failed", "大量期望失败", "main_marts/person_profile", "2026-06-30", "r1",
        {"failed": [f"expect_值_{i} on 份额" for i in range(400)]},
    )  # fmt: skip
    content = wecom_markdown(long_alert)
    assert 4090 <= len(content.encode("utf-8")) <= 4096
    assert content.endswith("…")
    assert content.startswith('**<font color="warning">[fundcdp] check_failed</font>**')
    assert len(wecom_markdown(ALERT).encode("utf-8")) < 4096 and not wecom_markdown(ALERT).endswith("…")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc", "https://qyapi.weixin.qq.com/…"),
        ("https://user:pw@hooks.slack.com/services/T/B/tok", "https://hooks.slack.com/…"),
        ("http://127.0.0.1:8080/hook#frag", "http://127.0.0.1:8080/…"),
        ("http://[::1]:9000/x", "http://[::1]:9000/…"),
        ("not a url", "<invalid url>"),
        ("http://host:notaport/x", "<invalid url>"),
    ],
)
def test_redact_url(url, shown):
    assert redact_url(url) == shown


# --- once per cause ------------------------------------------------------------------------------


def test_once_key_sends_once_and_a_new_key_again(tmp_path, http_server, smtp_server):
    env = {"FUNDCDP_ALERT_WEBHOOK_URL": f"{http_server.base}/generic/hook", **_smtp_env(smtp_server)}
    log_path = tmp_path / "logs" / "alerts.log"
    first = send_alert(ALERT, log_path, environ=env, timeout_s=2, once_key="run:abc")
    assert [d.channel for d in first] == ["webhook", "email", "log"] and all(d.ok for d in first)
    assert not was_skipped(first)
    repeat = send_alert(ALERT, log_path, environ=env, timeout_s=2, once_key="run:abc")
    assert repeat == [Delivery(SKIPPED, True, None)] and was_skipped(repeat)
    assert len(http_server.requests) == 1 and len(smtp_server.messages) == 1
    assert len(_log_lines(log_path)) == 1
    other = send_alert(ALERT, log_path, environ=env, timeout_s=2, once_key="run:def")
    assert not was_skipped(other)
    assert len(http_server.requests) == 2 and len(smtp_server.messages) == 2
    # no once_key: always sent
    send_alert(ALERT, log_path, environ=env, timeout_s=2)
    send_alert(ALERT, log_path, environ=env, timeout_s=2)
    assert len(http_server.requests) == 4 and len(_log_lines(log_path)) == 4
    # the keys are recorded as digests beside the log, never in clear
    sent = sent_keys_path(log_path)
    assert sent == tmp_path / "logs" / "alerts_sent.jsonl"
    recorded = [json.loads(line) for line in sent.read_text().splitlines()]
    assert [r["key_sha256"] for r in recorded] == [
        hashlib.sha256(b"run:abc").hexdigest(),
        hashlib.sha256(b"run:def").hexdigest(),
    ]
    assert "run:abc" not in sent.read_text()


def test_once_key_not_recorded_when_nothing_took_the_alert(tmp_path, closed_port):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the log directory should be")
    env = {"FUNDCDP_ALERT_WEBHOOK_URL": f"http://127.0.0.1:{closed_port}/hook"}
    # the log directory cannot exist: no record either, and the alert is attempted again next time
    first = send_alert(ALERT, blocker / "alerts.log", environ=env, timeout_s=2, once_key="k")
    second = send_alert(ALERT, blocker / "alerts.log", environ=env, timeout_s=2, once_key="k")
    assert [d.channel for d in first] == [d.channel for d in second] == ["webhook", "log"]
    assert not any(d.ok for d in first + second)
    # every configured channel failed, only the log line was written: nobody was told, not recorded,
    # so the next attempt sends again
    log_path = tmp_path / "alerts.log"
    down = send_alert(ALERT, log_path, environ=env, timeout_s=2, once_key="k")
    assert [(d.channel, d.ok) for d in down] == [("webhook", False), ("log", True)]
    assert not was_skipped(send_alert(ALERT, log_path, environ=env, timeout_s=2, once_key="k"))
    assert len(_log_lines(log_path)) == 2
    assert not sent_keys_path(log_path).read_text()


def test_once_key_recorded_when_one_configured_channel_took_the_alert(tmp_path, http_server, closed_port):
    env = {
        "FUNDCDP_ALERT_WEBHOOK_URL": f"{http_server.base}/generic/hook",
        "FUNDCDP_ALERT_SMTP_HOST": "127.0.0.1",
        "FUNDCDP_ALERT_SMTP_PORT": str(closed_port),
        "FUNDCDP_ALERT_SMTP_FROM": "cdp@example.com",
        "FUNDCDP_ALERT_SMTP_TO": "ops@example.com",
    }
    log_path = tmp_path / "alerts.log"
    first = send_alert(ALERT, log_path, environ=env, timeout_s=2, once_key="k")
    assert [(d.channel, d.ok) for d in first] == [("webhook", True), ("email", False), ("log", True)]
    assert was_skipped(send_alert(ALERT, log_path, environ=env, timeout_s=2, once_key="k"))
    # no channel configured: the log line is the delivery, recorded once written
    quiet = tmp_path / "quiet" / "alerts.log"
    assert send_alert(ALERT, quiet, environ={}, once_key="k") == [Delivery("log", True, None)]
    assert was_skipped(send_alert(ALERT, quiet, environ={}, once_key="k"))
    assert len(_log_lines(quiet)) == 1


def test_a_record_cut_short_by_a_crash_does_not_swallow_the_next_one(tmp_path):
    log_path = tmp_path / "alerts.log"
    send_alert(ALERT, log_path, environ={}, once_key="first")
    sent = sent_keys_path(log_path)
    whole = sent.read_text()
    sent.write_text(whole + whole[:30])  # a crash mid-write: a torn last line without newline
    send_alert(ALERT, log_path, environ={}, once_key="second")
    lines = sent.read_text().splitlines()
    assert lines[1] == whole[:30]
    assert json.loads(lines[2])["key_sha256"] == hashlib.sha256(b"second").hexdigest()
    assert was_skipped(send_alert(ALERT, log_path, environ={}, once_key="second"))
    assert was_skipped(send_alert(ALERT, log_path, environ={}, once_key="first"))


def test_a_large_sent_keys_file_drops_records_older_than_400_days(tmp_path, monkeypatch):
    log_path = tmp_path / "alerts.log"
    sent = sent_keys_path(log_path)

    def record(key: str, sent_at: str, stream: str | None = None) -> str:
        fields = {"key_sha256": hashlib.sha256(key.encode()).hexdigest(), "kind": "k", "sent_at": sent_at}
        if stream is not None:
            fields["stream_sha256"] = hashlib.sha256(stream.encode()).hexdigest()
        return json.dumps(fields) + "\n"

    now = datetime.now(UTC)
    old, recent = (now - timedelta(days=401)).isoformat(), (now - timedelta(days=399)).isoformat()
    sent.write_text(
        record("old", old) + "torn {\n" + record("recent", recent) + record("old-warning", old, "warnings")
    )
    monkeypatch.setattr(alerts, "SENT_KEYS_PRUNE_BYTES", 10_000)  # not yet past the size: nothing pruned
    send_alert(ALERT, log_path, environ={}, once_key="new")
    assert len(sent.read_text().splitlines()) == 5
    monkeypatch.setattr(alerts, "SENT_KEYS_PRUNE_BYTES", 100)
    send_alert(ALERT, log_path, environ={}, once_key="newer")
    kept = [json.loads(line)["key_sha256"] for line in sent.read_text().splitlines()]
    # the old record and the torn line gone; the last record of a stream stays whatever its age
    assert kept == [
        hashlib.sha256(key.encode()).hexdigest() for key in ("recent", "old-warning", "new", "newer")
    ]
    assert not was_skipped(send_alert(ALERT, log_path, environ={}, once_key="old"))
    assert was_skipped(send_alert(ALERT, log_path, environ={}, once_key="recent"))
    assert was_skipped(send_alert(ALERT, log_path, environ={}, once_key="old-warning", stream="warnings"))


def test_a_stream_sends_whenever_the_content_differs_from_the_last_sent(tmp_path, http_server):
    env = {"FUNDCDP_ALERT_WEBHOOK_URL": f"{http_server.base}/generic/hook"}
    log_path = tmp_path / "alerts.log"
    a = Alert("persons_quarantined", "3 persons quarantined", "main_marts/person_profile")
    b = Alert("persons_quarantined", "4 persons quarantined", "main_marts/person_profile")
    other = Alert("persons_quarantined", "3 persons quarantined", "main_marts/other")
    sent = [
        not was_skipped(send_alert(alert, log_path, environ=env, once_key=content_key(alert), stream=stream))
        for alert, stream in [(a, "q:p"), (a, "q:p"), (b, "q:p"), (a, "q:p"), (other, "q:o"), (a, "q:p")]
    ]
    assert sent == [True, False, True, True, True, False]
    assert [r["body"]["summary"] for r in http_server.requests] == [
        "3 persons quarantined",
        "4 persons quarantined",
        "3 persons quarantined",
        "3 persons quarantined",
    ]


def test_personal_data_in_an_alert_is_redacted_before_anything_is_sent(tmp_path, http_server, smtp_server):
    env = {"FUNDCDP_ALERT_WEBHOOK_URL": f"{http_server.base}/generic/hook", **_smtp_env(smtp_server)}
    log_path = tmp_path / "alerts.log"
    alert = Alert(
        "load_failed",
        "crm.customers for 2026-07-01 not loaded: line 2 has 13800138000",
        details={
            "error": "fields: C312004407, 张三, 110101198001011232, 13800138000, zs@example.com",
            "lines": ["id 110101198001011232", {"mobile": "138-0013-8000"}],
            "rows": 3,
        },
    )
    send_alert(alert, log_path, environ=env, timeout_s=2)
    body = http_server.requests[0]["body"]
    assert body["summary"] == "crm.customers for 2026-07-01 not loaded: line 2 has [phone]"
    assert body["details"] == {
        "error": "fields: C312004407, 张三, [id_number], [phone], [email]",
        "lines": ["id [id_number]", {"mobile": "[phone]"}],
        "rows": 3,
    }
    [mail] = alert_servers.received_mails(smtp_server)
    assert "line 2 has [phone]" in mail[
        "Subject"
    ] and "[id_number], [phone], [email]" in alert_servers.mail_text(mail)
    logged = log_path.read_text()
    for value in ("13800138000", "110101198001011232", "zs@example.com", "138-0013-8000"):
        assert value not in logged and value not in alert_servers.mail_text(mail)
    assert _log_lines(log_path)[0]["alert"] == body


def _send_from_another_process(log_path: str, url: str) -> bool:
    env = {"FUNDCDP_ALERT_WEBHOOK_URL": url}
    return was_skipped(send_alert(ALERT, Path(log_path), environ=env, timeout_s=2, once_key="same-cause"))


def test_once_key_is_sent_once_by_concurrent_processes(tmp_path, http_server):
    url = f"{http_server.base}/slow/hook"  # held until released: every process waits on the lock meanwhile
    # Plain interpreters (not multiprocessing's spawn, which cannot re-import pytest-xdist's worker __main__).
    script = (
        "import sys; from tests.unit.test_alerts import _send_from_another_process as send; "
        "print(send(sys.argv[1], sys.argv[2]))"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path / "alerts.log"), url],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(4)
    ]
    for _ in range(600):  # until one process holds the lock and is sending (bounded: never hangs)
        if http_server.requests:
            break
        time.sleep(0.05)
    http_server.release.set()
    outputs = [process.communicate(timeout=120) for process in processes]
    assert all(process.returncode == 0 for process in processes), [err for _, err in outputs]
    skipped = [out.strip() == "True" for out, _ in outputs]
    assert sorted(skipped) == [False, True, True, True]
    assert len(http_server.requests) == 1
    assert len(_log_lines(tmp_path / "alerts.log")) == 1


def test_content_key_ignores_run_and_partition_only(tmp_path):
    again = Alert(ALERT.kind, ALERT.summary, ALERT.asset, "2026-07-01", "another-run", dict(ALERT.details))
    assert content_key(again) == content_key(ALERT)
    changed = Alert(ALERT.kind, ALERT.summary, ALERT.asset, ALERT.partition, ALERT.run_id, {"evaluated": 10})
    assert content_key(changed) != content_key(ALERT)
    log_path = tmp_path / "alerts.log"
    assert not was_skipped(send_alert(ALERT, log_path, environ={}, once_key=content_key(ALERT)))
    assert was_skipped(send_alert(again, log_path, environ={}, once_key=content_key(again)))
    assert not was_skipped(send_alert(changed, log_path, environ={}, once_key=content_key(changed)))
    assert [line["alert"]["details"] for line in _log_lines(log_path)] == [
        ALERT.to_json()["details"],
        {"evaluated": 10},
    ]


def test_the_sent_keys_file_is_owner_only(tmp_path):
    old = os.umask(0o022)
    try:
        send_alert(ALERT, tmp_path / "alerts.log", environ={}, once_key="k")
    finally:
        os.umask(old)
    assert sent_keys_path(tmp_path / "alerts.log").stat().st_mode & 0o777 == 0o600
