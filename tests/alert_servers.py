"""Local webhook and SMTP servers that record what the alert channels send them (pytest fixtures
``http_server``, ``smtp_server``, ``closed_port``, and the autouse-able ``no_proxy``)."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import socketserver
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

# --- a real HTTP server --------------------------------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    """Records path, query and JSON body; the path's first segment chooses the answer."""

    def do_POST(self):  # noqa: N802 - http.server's naming
        parts = urllib.parse.urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append(
            {
                "path": parts.path,
                "query": parts.query,
                "content_type": self.headers.get("Content-Type"),
                "body": json.loads(raw.decode("utf-8")),
            }
        )
        if parts.path.startswith("/fail500"):
            self._answer(500, b"internal error")
        elif parts.path.startswith("/echo500"):  # a server echoing the request URL in its error page
            self._answer(500, f"bad request to {self.path}".encode())
        elif parts.path.startswith("/errcode"):
            self._answer(200, b'{"errcode": 310000, "errmsg": "sign not match"}')
        elif parts.path.startswith("/slow"):
            self.server.release.wait(3)
            self._answer(200, b"{}")
        else:
            self._answer(200, b'{"errcode": 0, "errmsg": "ok"}')

    def _answer(self, status: int, body: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up (timeout test)

    def log_message(self, format, *args):  # noqa: A002 - keep pytest output quiet
        pass


@pytest.fixture()
def http_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.requests = []
    server.release = threading.Event()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    server.base = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


# --- a real (minimal) SMTP server ----------------------------------------------------------------


class _SmtpHandler(socketserver.StreamRequestHandler):
    def handle(self):
        record = {"mail_from": None, "rcpt_to": [], "auth": None, "data": None}
        self._send("220 localhost fundcdp-test ESMTP")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            command, _, argument = line.decode("ascii").rstrip("\r\n").partition(" ")
            command = command.upper()
            if command == "EHLO":
                self._send("250-localhost")
                self._send("250 AUTH PLAIN")
            elif command == "HELO":
                self._send("250 localhost")
            elif command == "AUTH":
                record["auth"] = argument
                self._send("235 2.7.0 authenticated")
            elif command == "MAIL":
                record["mail_from"] = argument
                self._send("250 ok")
            elif command == "RCPT":
                record["rcpt_to"].append(argument)
                self._send("250 ok")
            elif command == "DATA":
                self._send("354 end with <CRLF>.<CRLF>")
                lines = []
                while (data_line := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(data_line[1:] if data_line.startswith(b"..") else data_line)
                record["data"] = b"".join(lines)
                self.server.messages.append(record)
                record = {"mail_from": None, "rcpt_to": [], "auth": record["auth"], "data": None}
                self._send("250 queued")
            elif command in ("RSET", "NOOP"):
                self._send("250 ok")
            elif command == "QUIT":
                self._send("221 bye")
                return
            else:
                self._send("502 not implemented")

    def _send(self, reply: str) -> None:
        self.wfile.write(reply.encode("ascii") + b"\r\n")
        self.wfile.flush()


class _SmtpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture()
def smtp_server():
    server = _SmtpServer(("127.0.0.1", 0), _SmtpHandler)
    server.messages = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture()
def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def no_proxy(monkeypatch):
    """urllib honours proxy variables: keep requests to 127.0.0.1 local."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


def smtp_env(server, password: str = "smtp-password", **overrides) -> dict[str, str]:
    """The FUNDCDP_ALERT_SMTP_* settings of ``server`` (two recipients, a login)."""
    env = {
        "FUNDCDP_ALERT_SMTP_HOST": "127.0.0.1",
        "FUNDCDP_ALERT_SMTP_PORT": str(server.server_address[1]),
        "FUNDCDP_ALERT_SMTP_FROM": "fundcdp@example.com",
        "FUNDCDP_ALERT_SMTP_TO": "data-eng@example.com, oncall@example.com",
        "FUNDCDP_ALERT_SMTP_USER": "fundcdp",
        "FUNDCDP_ALERT_SMTP_PASSWORD": password,
    }
    env.update(overrides)
    return env


def received_mails(server) -> list[email.message.EmailMessage]:
    """The messages ``server`` received, parsed."""
    return [email.message_from_bytes(m["data"], policy=email.policy.default) for m in server.messages]


def mail_text(message: email.message.EmailMessage) -> str:
    """A received message's body, with the wire's CRLF line endings as LF."""
    return message.get_content().replace("\r\n", "\n")


def webhook_bodies(server) -> list[dict]:
    """The JSON bodies posted to ``server``, in order."""
    return [json.loads(json.dumps(request["body"])) for request in server.requests]
