"""Credentials never reach a log in any encoding, even when a server echoes them back.

A tiny SMTP server (a socket server in a thread; Python 3.11 has no smtpd and aiosmtpd is not installed)
answers the login with a 535 reply that echoes what it was sent — the AUTH PLAIN / AUTH LOGIN base64, the
password in clear, URL-encoded, or base64-encoded inside a longer sentence — and a webhook answers 500
with its token echoed the same ways. ``logs/alerts.log``, the deliveries (what Dagster metadata shows) and
the Python log must hold 0 occurrences of the credential in any of these forms, while the failure is still
reported with its status code.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import socketserver
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from orchestration.lib.alerts import Alert, send_alert

USER = "fundcdp-alerts"
# ASCII (smtplib sends the login as ASCII) with the characters each encoding changes: / + = % & " and space.
PASSWORD = 'S3cr3t/Pa+ss=w%rd&"q x'
TOKEN = "hook-T0K3N-9f8e7d6c5b4a3210zz"
ALERT = Alert(kind="check_failed", summary="gx_persons failed", asset="persons", partition="2026-06-30")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# What the server echoes in its 535 reply, by mode (``sent`` is the AUTH argument it received).
ECHOES = {
    "auth_argument": lambda sent: f"5.7.8 bad credentials {sent}",
    "clear": lambda sent: f"5.7.8 password {PASSWORD} rejected for {USER}",
    "url_encoded": lambda sent: (
        f"5.7.8 rejected {urllib.parse.quote(PASSWORD, safe='')} {urllib.parse.quote_plus(PASSWORD)}"
    ),
    "base64_password": lambda sent: f"5.7.8 rejected {_b64(PASSWORD)}",
    "base64_sentence": lambda sent: "5.7.8 " + _b64(f"user {USER} sent password {PASSWORD} which is wrong"),
    "base64_plain_login": lambda sent: f"5.7.8 {_b64(chr(0) + USER + chr(0) + PASSWORD)} refused",
}


class _EchoingSmtp(socketserver.StreamRequestHandler):
    """EHLO advertises AUTH (PLAIN or LOGIN, per server); AUTH fails with a reply echoing the login."""

    def handle(self) -> None:
        self._send("220 localhost echo-test ESMTP")
        pending_login: list[str] = []
        while line := self.rfile.readline():
            text = line.decode("ascii").rstrip("\r\n")
            command, _, argument = text.partition(" ")
            if pending_login:  # AUTH LOGIN: this line is the base64 password
                self._send(f"535 {ECHOES[self.server.echo](text)}")
                pending_login.clear()
                continue
            command = command.upper()
            if command == "EHLO":
                self._send("250-localhost")
                self._send(f"250 AUTH {self.server.mechanism}")
            elif command == "AUTH" and argument.upper().startswith("LOGIN"):
                pending_login.append(argument)
                self._send("334 " + _b64("Password:"))
            elif command == "AUTH":
                self._send(f"535 {ECHOES[self.server.echo](argument)}")
            elif command == "QUIT":
                self._send("221 bye")
                return
            else:
                self._send("250 ok")

    def _send(self, reply: str) -> None:
        self.wfile.write(reply.encode("ascii") + b"\r\n")
        self.wfile.flush()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture()
def smtp_server():
    server = _Server(("127.0.0.1", 0), _EchoingSmtp)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


class _EchoingHook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = (
            f"no such hook {self.path} token={TOKEN} b64={_b64(TOKEN)} "
            f"again={_b64('the token ' + TOKEN + ' is unknown')}"
        ).encode()
        self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass


@pytest.fixture()
def hook_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoingHook)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


def occurrences(text: str, secret: str, user: str = USER) -> int:
    """How many times ``secret`` shows in ``text``: in clear, JSON-escaped, URL-encoded, or inside any
    base64 token (decoded at each of the four alignments)."""
    forms = {
        secret,
        json.dumps(secret)[1:-1],
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
        _b64(secret),
        _b64(secret).rstrip("="),
        _b64(f"\0{user}\0{secret}"),
    }
    count = sum(text.count(form) for form in forms)
    count += sum(urllib.parse.unquote_plus(token).count(secret) for token in re.findall(r"\S*%\S*", text))
    for token in re.findall(r"[A-Za-z0-9+/=_-]{8,}", text):
        for shift in range(4):
            body = token[shift:].rstrip("=")
            body += "=" * (-len(body) % 4)
            for decode in (base64.b64decode, base64.urlsafe_b64decode):
                try:
                    count += decode(body).count(secret.encode())
                except (binascii.Error, ValueError):
                    pass
    return count


def test_the_counter_finds_every_planted_form() -> None:
    """The scan below proves nothing unless it finds the credential in each form a server may echo."""
    for name, echo in ECHOES.items():
        assert occurrences(echo(_b64(f"\0{USER}\0{PASSWORD}")), PASSWORD) >= 1, name


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
@pytest.mark.parametrize("echo", sorted(ECHOES))
def test_an_smtp_reply_echoing_the_password_leaves_no_trace(
    tmp_path: Path, smtp_server, caplog: pytest.LogCaptureFixture, mechanism: str, echo: str
) -> None:
    smtp_server.mechanism, smtp_server.echo = mechanism, echo
    env = {
        "FUNDCDP_ALERT_SMTP_HOST": "127.0.0.1",
        "FUNDCDP_ALERT_SMTP_PORT": str(smtp_server.server_address[1]),
        "FUNDCDP_ALERT_SMTP_FROM": "fundcdp@example.com",
        "FUNDCDP_ALERT_SMTP_TO": "oncall@example.com",
        "FUNDCDP_ALERT_SMTP_USER": USER,
        "FUNDCDP_ALERT_SMTP_PASSWORD": PASSWORD,
    }
    log_path = tmp_path / "logs" / "alerts.log"
    with caplog.at_level(logging.WARNING, logger="orchestration.lib.alerts"):
        [mail, logged] = send_alert(ALERT, log_path, environ=env, timeout_s=5)

    # the failure is still reported, with its status codes
    assert not mail.ok and logged.ok
    assert mail.error == (
        f"smtp://127.0.0.1:{smtp_server.server_address[1]}: SMTPAuthenticationError: 535 5.7.8 "
        "(server reply not logged)"
    )
    [line] = log_path.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["deliveries"] == [{"channel": "email", "ok": False, "error": mail.error}]
    assert "SMTPAuthenticationError" in caplog.text
    for text in (log_path.read_text(encoding="utf-8"), mail.error, caplog.text):
        assert occurrences(text, PASSWORD) == 0


def test_a_webhook_reply_echoing_its_token_leaves_no_trace(
    tmp_path: Path, hook_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    env = {"FUNDCDP_ALERT_WEBHOOK_URL": f"{hook_server}/hooks/{TOKEN}?key={TOKEN}"}
    log_path = tmp_path / "alerts.log"
    with caplog.at_level(logging.WARNING, logger="orchestration.lib.alerts"):
        [hook, logged] = send_alert(ALERT, log_path, environ=env, timeout_s=5)
    assert not hook.ok and logged.ok
    assert hook.error.startswith(f"{hook_server}/…: HTTP 500")
    # every echo of the token was found and replaced: the path, the query, the clear and both base64 forms
    assert hook.error.count("***") >= 4
    for text in (log_path.read_text(encoding="utf-8"), hook.error, caplog.text):
        assert occurrences(text, TOKEN, user="") == 0
