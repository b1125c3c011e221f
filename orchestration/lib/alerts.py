"""Notify engineers when a data-quality gate fails, a run fails or data is stale.

:func:`send_alert` delivers one :class:`Alert` to every channel configured in the environment, then
appends one JSON line to the alert log (always, even with no channel configured). Delivery is best
effort: a broken channel (refused connection, timeout, non-2xx answer, robot ``errcode``, SMTP error,
misconfiguration) becomes ``Delivery(ok=False, error=...)``, is recorded in the log line and logged as a
warning; no exception escapes, so alerting never fails the pipeline. Channels are contacted in
parallel, so a slow channel costs about ``timeout_s`` once, not once per channel.

Personal data typed into an alert's text (a delivered value quoted in an error message) is replaced
before anything is sent or logged: the summary and every text in the details go through
:func:`orchestration.lib.free_text.redact` (phones, ID numbers, e-mail addresses, card numbers become
``[phone]``, ``[id_number]``, ...). A safety net: the messages themselves are built not to quote data.

Delivery uses the standard library (``urllib.request``, ``smtplib``, ``email``). HTTP(S) requests honour
the usual ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY`` variables.

Environment variables (unset or blank = not configured):

``FUNDCDP_ALERT_WEBHOOK_URL``
    Generic JSON webhook: ``POST`` with body :meth:`Alert.to_json`. Any 2xx answer is success.
``FUNDCDP_ALERT_SLACK_WEBHOOK_URL``
    Slack-compatible incoming webhook (also Mattermost, Rocket.Chat, ...): ``POST {"text": alert.text()}``.
``FUNDCDP_ALERT_WECOM_WEBHOOK_URL``
    WeCom (企业微信) group robot, ``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...``:
    ``POST {"msgtype": "markdown", "markdown": {"content": ...}}``; the content is truncated to the
    robot's limit of 4096 UTF-8 bytes. An answer ``{"errcode": <non-zero>}`` is a failed delivery.
``FUNDCDP_ALERT_DINGTALK_WEBHOOK_URL``
    DingTalk (钉钉) custom robot, ``https://oapi.dingtalk.com/robot/send?access_token=...``:
    ``POST {"msgtype": "markdown", "markdown": {"title": ..., "text": ...}}``. An answer
    ``{"errcode": <non-zero>}`` is a failed delivery. A robot secured by keyword needs a keyword that
    every alert contains, e.g. ``fundcdp``.
``FUNDCDP_ALERT_DINGTALK_SECRET``
    Optional ``SEC...`` secret of a DingTalk robot secured by signature ("加签"): the URL gets
    ``&timestamp=<ms>&sign=<urlencode(base64(HMAC-SHA256(key=secret, msg="<ms>\\n<secret>")))>``.
``FUNDCDP_ALERT_SMTP_HOST``
    SMTP server; setting it enables e-mail. ``FUNDCDP_ALERT_SMTP_FROM`` and ``FUNDCDP_ALERT_SMTP_TO``
    are then required (a missing one is reported as a failed ``email`` delivery).
``FUNDCDP_ALERT_SMTP_PORT``
    SMTP port, default 25 (plain SMTP, optionally upgraded by STARTTLS; implicit-TLS port 465 is not
    supported).
``FUNDCDP_ALERT_SMTP_FROM`` / ``FUNDCDP_ALERT_SMTP_TO``
    Sender address; comma-separated recipient addresses.
``FUNDCDP_ALERT_SMTP_USER`` / ``FUNDCDP_ALERT_SMTP_PASSWORD``
    Optional SMTP login (sent in clear unless STARTTLS is on).
``FUNDCDP_ALERT_SMTP_STARTTLS``
    ``true``/``false`` (also ``1/0``, ``yes/no``, ``on/off``), default ``false``.

The e-mail is plain text with subject ``[fundcdp] <kind>: <summary>`` and body :meth:`Alert.text`.

Secrets never reach the log line, the ``Delivery.error`` texts or the Python log: webhook URLs are shown
as ``scheme://host[:port]/…``; an SMTP server's reply is never logged, only its status codes (``535
5.7.8``); and any configured URL, token, DingTalk secret or SMTP password appearing in an error message —
in clear, URL-encoded, or base64-encoded alone or inside a longer base64 text (the AUTH PLAIN
``\0user\0password`` and AUTH LOGIN forms) — is replaced by ``***``.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import json
import logging
import math
import os
import re
import smtplib
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid
from pathlib import Path

from orchestration.lib.free_text import redact

log = logging.getLogger(__name__)

KINDS = (
    "check_failed",
    "run_failed",
    "stale_data",
    "model_unavailable",
    "persons_quarantined",
    "load_failed",
    "run_crashed",
    "delivery_missing",
    "publish_held",
    "segment_invalid",
)
CHANNELS = ("webhook", "slack", "wecom", "dingtalk", "email")
SKIPPED = "skipped"
"""The channel of the one :class:`Delivery` returned when an alert's ``once_key`` was already sent."""
SENT_KEYS_FILE = "alerts_sent.jsonl"
# Past this size the sent-keys file drops records older than SENT_KEYS_KEEP_DAYS (the last of each
# stream kept): a cause that has not recurred for over a year (a day's load, a run id) will not, and the
# file, read whole by every keyed alert, stays small.
SENT_KEYS_PRUNE_BYTES = 1_000_000
SENT_KEYS_KEEP_DAYS = 400

ENV_WEBHOOK_URL = "FUNDCDP_ALERT_WEBHOOK_URL"
ENV_SLACK_WEBHOOK_URL = "FUNDCDP_ALERT_SLACK_WEBHOOK_URL"
ENV_WECOM_WEBHOOK_URL = "FUNDCDP_ALERT_WECOM_WEBHOOK_URL"
ENV_DINGTALK_WEBHOOK_URL = "FUNDCDP_ALERT_DINGTALK_WEBHOOK_URL"
ENV_DINGTALK_SECRET = "FUNDCDP_ALERT_DINGTALK_SECRET"
ENV_SMTP_HOST = "FUNDCDP_ALERT_SMTP_HOST"
ENV_SMTP_PORT = "FUNDCDP_ALERT_SMTP_PORT"
ENV_SMTP_FROM = "FUNDCDP_ALERT_SMTP_FROM"
ENV_SMTP_TO = "FUNDCDP_ALERT_SMTP_TO"
ENV_SMTP_USER = "FUNDCDP_ALERT_SMTP_USER"
ENV_SMTP_PASSWORD = "FUNDCDP_ALERT_SMTP_PASSWORD"
ENV_SMTP_STARTTLS = "FUNDCDP_ALERT_SMTP_STARTTLS"

_URL_ENV = {
    "webhook": ENV_WEBHOOK_URL,
    "slack": ENV_SLACK_WEBHOOK_URL,
    "wecom": ENV_WECOM_WEBHOOK_URL,
    "dingtalk": ENV_DINGTALK_WEBHOOK_URL,
}
WECOM_MARKDOWN_MAX_BYTES = 4096
_MAX_RESPONSE_BYTES = 64 * 1024
_MAX_ERROR_CHARS = 300
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Alert:
    """One notification: what failed, where, in which run, and the numbers behind it.

    ``kind`` is one of :data:`KINDS` (``check_failed``, ``run_failed``, ``stale_data``, ``model_unavailable``
    (a warning: a model gives no tags for the day), ``persons_quarantined`` (a warning: persons left out of
    the segments by the persons gate's quarantine, the others published), ``load_failed`` (a source
    table's day did not load), ``run_crashed`` (a run's process died), ``delivery_missing`` (a day still
    incomplete past its deadline), ``publish_held`` (publishing held back by the completeness ledger),
    ``segment_invalid`` (a segment file that does not validate, skipped while the others publish); not
    enforced, so a typo never stops an alert). ``details`` holds JSON-friendly values (failing counts,
    names of failed checks); anything else is rendered with ``str``.
    """

    kind: str
    summary: str
    asset: str | None = None
    partition: str | None = None
    run_id: str | None = None
    details: Mapping[str, object] = field(default_factory=dict)

    def text(self) -> str:
        """Human-readable multi-line text used by every channel."""
        lines = [
            f"[fundcdp] {self.kind}: {_one_line(self.summary)}",
            f"asset: {self.asset or '-'}",
            f"partition: {self.partition or '-'}",
            f"run id: {self.run_id or '-'}",
        ]
        if self.details:
            lines.append("details:")
            lines.extend(f"  {line}" for line in _detail_lines(self.details))
        return "\n".join(lines)

    def to_json(self) -> dict:
        """A JSON-serialisable dict: kind, summary, asset, partition, run_id, details."""
        return {
            "kind": self.kind,
            "summary": self.summary,
            "asset": self.asset,
            "partition": self.partition,
            "run_id": self.run_id,
            "details": _jsonable(dict(self.details)),
        }


@dataclass(frozen=True)
class Delivery:
    """The outcome of one channel: ``channel`` is one of :data:`CHANNELS` or ``"log"``, or :data:`SKIPPED`
    (the alert's ``once_key`` was sent before: nothing delivered, nothing logged)."""

    channel: str
    ok: bool
    error: str | None = None


def channels_from_env(environ: Mapping[str, str]) -> list[str]:
    """The configured channels, in the fixed order of :data:`CHANNELS`.

    A webhook channel counts when its URL variable is set; ``email`` counts when
    ``FUNDCDP_ALERT_SMTP_HOST`` is set (missing sender/recipients then show up as a failed delivery).
    """
    channels = [channel for channel, var in _URL_ENV.items() if _get(environ, var)]
    if _get(environ, ENV_SMTP_HOST):
        channels.append("email")
    return channels


def send_alert(
    alert: Alert,
    log_path: Path,
    environ: Mapping[str, str] | None = None,
    timeout_s: float = 5.0,
    once_key: str | None = None,
    stream: str | None = None,
) -> list[Delivery]:
    """Deliver ``alert`` to every configured channel, then append it with the outcomes to ``log_path``.

    Returns one :class:`Delivery` per configured channel (order of :data:`CHANNELS`) followed by the
    ``log`` delivery. Never raises for delivery or log-writing problems.

    With a ``once_key`` (one cause: a run id, a source, table, day and message, ...) the alert is sent at
    most once per key: the keys sent are recorded (as SHA-256) in :data:`SENT_KEYS_FILE` beside the alert
    log, under an exclusive file lock held while sending, so concurrent processes do not both send. A key
    already recorded sends nothing, logs nothing and returns ``[Delivery(SKIPPED, True, None)]``
    (:func:`was_skipped`). A key is recorded once a configured channel took the alert (with no channel
    configured: once the log line was written); when every configured channel failed it is not, so the
    next attempt tries again (the log line alone reaches nobody).

    With a ``stream`` too (one warning's name, e.g. ``persons_quarantined:<asset>``), the key is compared
    only with the last key sent on that stream: the alert is sent whenever what it says differs from the
    last one sent, so a warning going A, A, B, A sends A, B, A.

    The summary and the details' texts are redacted first (:func:`redact_alert`).
    """
    alert = redact_alert(alert)
    if once_key is None:
        return _send(alert, log_path, environ, timeout_s)
    return _send_once(alert, log_path, environ, timeout_s, once_key, stream)


def redact_alert(alert: Alert) -> Alert:
    """``alert`` with phones, ID numbers, e-mail addresses and card numbers in its summary and in every
    text of its details (keys, values, list items) replaced by placeholders (:mod:`orchestration.lib.
    free_text`)."""
    return Alert(
        kind=alert.kind,
        summary=redact(str(alert.summary)),
        asset=alert.asset,
        partition=alert.partition,
        run_id=alert.run_id,
        details={redact(str(key)): _redacted(value) for key, value in alert.details.items()},
    )


def _redacted(value: object) -> object:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact(str(key)): _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redacted(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value))  # rendered with str anyway (Decimal, date, ...)


def was_skipped(deliveries: list[Delivery]) -> bool:
    """Whether :func:`send_alert` skipped the alert because its ``once_key`` was sent before."""
    return [d.channel for d in deliveries] == [SKIPPED]


def content_key(alert: Alert) -> str:
    """A ``once_key`` of what an alert says (kind, summary, asset, details), not of when or where it was
    raised (run id, partition): a warning that every run would repeat unchanged is sent once, and again
    when it changes."""
    content = {"kind": alert.kind, "summary": alert.summary, "asset": alert.asset, "details": alert.details}
    return "content:" + json.dumps(_jsonable(content), sort_keys=True, ensure_ascii=False)


def sent_keys_path(log_path: Path) -> Path:
    """Where the ``once_key`` s sent are recorded: :data:`SENT_KEYS_FILE` beside the alert log."""
    return Path(log_path).with_name(SENT_KEYS_FILE)


def _key_digest(once_key: str) -> str:
    return hashlib.sha256(once_key.encode("utf-8", errors="surrogatepass")).hexdigest()


def _send_once(
    alert: Alert,
    log_path: Path,
    environ: Mapping[str, str] | None,
    timeout_s: float,
    once_key: str,
    stream: str | None = None,
) -> list[Delivery]:
    digest = _key_digest(once_key)
    stream_digest = _key_digest(stream) if stream is not None else None
    path = sent_keys_path(log_path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # owner-only like everything in the data directory, whatever the umask of the process
        handle = os.fdopen(
            os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600),
            "a+",
            encoding="utf-8",
            errors="replace",
        )
    except OSError as exc:  # no record possible: better a repeated alert than a lost one
        log.warning("fundcdp alert: cannot record sent alerts in %s: %s", path, _describe(exc))
        return _send(alert, log_path, environ, timeout_s)
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
        handle.seek(0)
        lines = handle.readlines()
        records = [record for record in map(_sent_record, lines) if record is not None]
        if stream_digest is None:
            sent_before = any(record.get("key_sha256") == digest for record in records)
        else:
            on_stream = [record for record in records if record.get("stream_sha256") == stream_digest]
            sent_before = bool(on_stream) and on_stream[-1].get("key_sha256") == digest
        if sent_before:
            return [Delivery(SKIPPED, True, None)]
        deliveries = _send(alert, log_path, environ, timeout_s)
        if _taken(deliveries):
            record = {
                "key_sha256": digest,
                "kind": alert.kind,
                "run_id": alert.run_id,
                "sent_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            if stream_digest is not None:
                record["stream_sha256"] = stream_digest
            try:
                if os.fstat(handle.fileno()).st_size > SENT_KEYS_PRUNE_BYTES:
                    _rewrite_pruned(handle, records)
                elif lines and not lines[-1].endswith("\n"):
                    handle.write("\n")  # a crash cut the last line short: the new record on its own line
                handle.write(json.dumps(record) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            except OSError as exc:
                log.warning("fundcdp alert: cannot record the sent alert in %s: %s", path, _describe(exc))
        return deliveries


def _taken(deliveries: list[Delivery]) -> bool:
    """Whether someone got the alert: a configured channel took it, or (none configured) the log line
    was written."""
    channels = [d for d in deliveries if d.channel != "log"]
    return any(d.ok for d in channels) if channels else any(d.ok for d in deliveries)


def _sent_record(line: str) -> dict | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None  # a torn line (a crash mid-write) is ignored, not fatal
    return record if isinstance(record, dict) else None


def _rewrite_pruned(handle, records: list[dict]) -> None:
    """Rewrite the sent-keys file (in place, under its lock) without records older than
    :data:`SENT_KEYS_KEEP_DAYS`; the last record of each stream stays whatever its age."""
    cutoff = datetime.now(UTC).timestamp() - SENT_KEYS_KEEP_DAYS * 86400
    last_of_stream = {
        record["stream_sha256"]: index for index, record in enumerate(records) if "stream_sha256" in record
    }
    kept = [
        record
        for index, record in enumerate(records)
        if _sent_at(record) >= cutoff or last_of_stream.get(record.get("stream_sha256")) == index
    ]
    handle.seek(0)
    handle.truncate()
    handle.write("".join(json.dumps(record) + "\n" for record in kept))


def _sent_at(record: dict) -> float:
    try:
        return datetime.fromisoformat(str(record.get("sent_at"))).timestamp()
    except ValueError:
        return 0.0  # no readable time: old


def _send(
    alert: Alert, log_path: Path, environ: Mapping[str, str] | None, timeout_s: float
) -> list[Delivery]:
    env = os.environ if environ is None else environ
    secrets = secret_forms(env)
    channels = channels_from_env(env)
    deliveries: list[Delivery] = []
    if channels:
        try:
            with ThreadPoolExecutor(max_workers=len(channels), thread_name_prefix="fundcdp-alert") as pool:
                futures = [pool.submit(_deliver, ch, alert, env, timeout_s, secrets) for ch in channels]
                deliveries = [future.result() for future in futures]
        except RuntimeError:  # no new threads (interpreter shutting down): one channel after the other
            deliveries = [_deliver(ch, alert, env, timeout_s, secrets) for ch in channels]
    for delivery in deliveries:
        if not delivery.ok:
            log.warning("fundcdp alert delivery via %s failed: %s", delivery.channel, delivery.error)

    record = {
        "logged_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "alert": alert.to_json(),
        "deliveries": [{"channel": d.channel, "ok": d.ok, "error": d.error} for d in deliveries],
    }
    try:
        line = json.dumps(record, ensure_ascii=False, default=str)
        line = _scrub(line, secrets)
        log_path = Path(log_path)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        # One write of one line in append mode: concurrent writers do not interleave within a line.
        with open(log_path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
        deliveries.append(Delivery("log", True, None))
    except Exception as exc:  # alerting must never fail the caller
        error = _scrub(f"{log_path}: {_describe(exc)}", secrets)
        log.warning("fundcdp alert could not be written to the alert log: %s", error)
        deliveries.append(Delivery("log", False, error))
    return deliveries


# --- channels -------------------------------------------------------------------------------------


def _deliver(
    channel: str, alert: Alert, env: Mapping[str, str], timeout_s: float, secrets: SecretForms
) -> Delivery:
    try:
        error = _SENDERS[channel](alert, env, timeout_s)
    except Exception as exc:  # alerting must never fail the caller
        error = _describe(exc, timeout_s, with_type=True)
    if error is None:
        return Delivery(channel, True, None)
    return Delivery(channel, False, _clip(_scrub(error, secrets)))


def _send_webhook(alert: Alert, env: Mapping[str, str], timeout_s: float) -> str | None:
    return _post_json(_get(env, ENV_WEBHOOK_URL), alert.to_json(), timeout_s, check_errcode=False)


def _send_slack(alert: Alert, env: Mapping[str, str], timeout_s: float) -> str | None:
    return _post_json(_get(env, ENV_SLACK_WEBHOOK_URL), {"text": alert.text()}, timeout_s, False)


def _send_wecom(alert: Alert, env: Mapping[str, str], timeout_s: float) -> str | None:
    body = {"msgtype": "markdown", "markdown": {"content": wecom_markdown(alert)}}
    return _post_json(_get(env, ENV_WECOM_WEBHOOK_URL), body, timeout_s, check_errcode=True)


def _send_dingtalk(alert: Alert, env: Mapping[str, str], timeout_s: float) -> str | None:
    url = _get(env, ENV_DINGTALK_WEBHOOK_URL)
    secret = _get(env, ENV_DINGTALK_SECRET)
    if secret:
        timestamp = str(round(time.time() * 1000))
        sign = urllib.parse.quote_plus(dingtalk_sign(timestamp, secret))
        url = f"{url}{'&' if '?' in url else '?'}timestamp={timestamp}&sign={sign}"
    title = _truncate_bytes(f"[fundcdp] {alert.kind}: {_one_line(alert.summary)}", 200)
    body = {"msgtype": "markdown", "markdown": {"title": title, "text": dingtalk_markdown(alert)}}
    return _post_json(url, body, timeout_s, check_errcode=True)


def _send_email(alert: Alert, env: Mapping[str, str], timeout_s: float) -> str | None:
    host = _get(env, ENV_SMTP_HOST)
    sender = _get(env, ENV_SMTP_FROM)
    recipients = [addr.strip() for addr in _get(env, ENV_SMTP_TO).split(",") if addr.strip()]
    missing = [var for var, value in ((ENV_SMTP_FROM, sender), (ENV_SMTP_TO, recipients)) if not value]
    if missing:
        return f"not configured: {', '.join(missing)} not set"
    port_text = _get(env, ENV_SMTP_PORT) or "25"
    try:
        port = int(port_text)
    except ValueError:
        return f"invalid {ENV_SMTP_PORT}: {port_text!r}"
    starttls_text = _get(env, ENV_SMTP_STARTTLS).lower()
    if starttls_text not in _TRUE | _FALSE:
        return f"invalid {ENV_SMTP_STARTTLS}: {starttls_text!r} (use true or false)"
    user = _get(env, ENV_SMTP_USER)
    password = env.get(ENV_SMTP_PASSWORD, "")

    message = EmailMessage(policy=SMTP_POLICY)
    message["Subject"] = _truncate_bytes(f"[fundcdp] {alert.kind}: {_one_line(alert.summary)}", 900)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="fundcdp.alerts")
    # Quoted-printable keeps the body 7-bit clean for old relays while the ASCII parts stay readable.
    message.set_content(alert.text(), cte="quoted-printable")

    where = f"smtp://{_host_port(host, port)}"
    try:
        with smtplib.SMTP(host, port, timeout=timeout_s) as smtp:
            smtp.ehlo()
            if starttls_text in _TRUE:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if user:
                smtp.login(user, password)
            refused = smtp.send_message(message, from_addr=sender, to_addrs=recipients)
    except smtplib.SMTPRecipientsRefused as exc:
        return f"{where}: SMTPRecipientsRefused: {_refused(exc.recipients)}"
    except smtplib.SMTPResponseException as exc:
        # The server's reply is not logged (a server may echo what it was sent): its codes say enough.
        return f"{where}: {type(exc).__name__}: {_smtp_status(exc.smtp_code, exc.smtp_error)}"
    except (smtplib.SMTPException, OSError) as exc:
        return f"{where}: {_describe(exc, timeout_s, with_type=True)}"
    if refused:
        return f"{where}: recipients refused: {_refused(refused)}"
    return None


def _smtp_status(code: int, reply: bytes | str) -> str:
    """``535 5.7.8``: the reply code and the enhanced status code (RFC 3463) of a reply, not its text."""
    text = reply.decode("ascii", errors="replace") if isinstance(reply, bytes) else str(reply)
    enhanced = re.match(r"\s*([245]\.\d{1,3}\.\d{1,3})\b", text)
    return f"{code}{f' {enhanced.group(1)}' if enhanced else ''} (server reply not logged)"


def _refused(recipients: Mapping[str, tuple[int, bytes]]) -> str:
    return ", ".join(
        f"{address} ({_smtp_status(code, reply)})" for address, (code, reply) in recipients.items()
    )


_SENDERS: dict[str, Callable[[Alert, Mapping[str, str], float], str | None]] = {
    "webhook": _send_webhook,
    "slack": _send_slack,
    "wecom": _send_wecom,
    "dingtalk": _send_dingtalk,
    "email": _send_email,
}


def _post_json(url: str, body: object, timeout_s: float, check_errcode: bool) -> str | None:
    """POST ``body`` as JSON; ``None`` on success, else an error text naming only the redacted URL."""
    where = redact_url(url)
    request = urllib.request.Request(
        url,
        data=json.dumps(body, ensure_ascii=False, default=str).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "fundcdp-alerts"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            status = response.status
            payload = response.read(_MAX_RESPONSE_BYTES)
    except urllib.error.HTTPError as exc:
        snippet = _decode(exc.read(_MAX_ERROR_CHARS) if exc.fp else b"")
        return f"{where}: HTTP {exc.code} {exc.reason}" + (f": {snippet}" if snippet else "")
    except urllib.error.URLError as exc:
        return f"{where}: {_describe(exc.reason, timeout_s)}"
    except (OSError, ValueError) as exc:  # timeouts while reading, dropped connections, bad URLs, ...
        return f"{where}: {_describe(exc, timeout_s, with_type=True)}"
    if not 200 <= status < 300:
        return f"{where}: HTTP {status}"
    if check_errcode:
        try:
            answer = json.loads(payload.decode("utf-8"))
        except ValueError:
            return None  # not the robot's JSON (a proxy?): the 2xx stands
        if isinstance(answer, dict) and answer.get("errcode") not in (None, 0, "0"):
            return f"{where}: errcode {answer.get('errcode')}: {answer.get('errmsg', '')}"
    return None


# --- message formats -------------------------------------------------------------------------------


def wecom_markdown(alert: Alert) -> str:
    """The WeCom robot markdown content, at most :data:`WECOM_MARKDOWN_MAX_BYTES` UTF-8 bytes."""
    lines = [
        f'**<font color="warning">[fundcdp] {alert.kind}</font>**',
        _one_line(alert.summary),
        f"> asset: {alert.asset or '-'}",
        f"> partition: {alert.partition or '-'}",
        f"> run id: {alert.run_id or '-'}",
    ]
    if alert.details:
        lines.append("details:")
        lines.extend(_detail_lines(alert.details))
    return _truncate_bytes("\n".join(lines), WECOM_MARKDOWN_MAX_BYTES)


def dingtalk_markdown(alert: Alert) -> str:
    """The DingTalk robot markdown text (DingTalk needs blank lines or list items for line breaks)."""
    parts = [
        f"#### [fundcdp] {alert.kind}",
        _one_line(alert.summary),
        "\n".join(
            [
                f"- asset: {alert.asset or '-'}",
                f"- partition: {alert.partition or '-'}",
                f"- run id: {alert.run_id or '-'}",
            ]
        ),
    ]
    if alert.details:
        parts.append("details:")
        parts.append("\n".join(f"- {line}" for line in _detail_lines(alert.details)))
    return _truncate_bytes("\n\n".join(parts), 18000)


def dingtalk_sign(timestamp: str, secret: str) -> str:
    """DingTalk's signature (before URL-encoding): base64(HMAC-SHA256(secret, "<timestamp>\\n<secret>"))."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def redact_url(url: str) -> str:
    """``scheme://host[:port]/…``: no user info, path, query or fragment (they may carry tokens)."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return "<invalid url>"
    if not parts.scheme or not host:
        return "<invalid url>"
    return f"{parts.scheme}://{_host_port(host, port)}/…"


# --- helpers ---------------------------------------------------------------------------------------


def _get(environ: Mapping[str, str], name: str) -> str:
    return (environ.get(name) or "").strip()


def _host_port(host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}" if port is not None else shown


def _secrets(env: Mapping[str, str]) -> list[str]:
    """Strings that must never be logged, in clear: full URLs, their paths / queries / token values,
    secrets (see :func:`secret_forms` for their encodings)."""
    found: set[str] = set()
    for var in (ENV_DINGTALK_SECRET, ENV_SMTP_PASSWORD):
        if env.get(var):
            found.add(env[var])
            found.add(env[var].strip())
    for var in _URL_ENV.values():
        url = _get(env, var)
        if not url:
            continue
        found.add(url)
        try:
            parts = urllib.parse.urlsplit(url)
        except ValueError:
            continue
        if parts.query:
            found.add(parts.query)
            for _, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
                found.add(value)
                found.add(urllib.parse.quote_plus(value))
        if len(parts.path) > 1:
            found.add(parts.path)
            # Tokens in the path (Slack: /services/T…/B…/<token>); short words like "send" stay readable.
            found.update(segment for segment in parts.path.split("/") if len(segment) >= 12)
        if parts.password:
            found.add(parts.password)
    # Longest first, so a URL is replaced whole before its parts; very short values would mangle text.
    return sorted((s for s in found if len(s) >= 4), key=len, reverse=True)


def _b64_forms(raw: bytes) -> set[str]:
    encoded = base64.b64encode(raw).decode("ascii")
    urlsafe = base64.urlsafe_b64encode(raw).decode("ascii")
    return {encoded, encoded.rstrip("="), urlsafe, urlsafe.rstrip("=")}


@dataclass(frozen=True)
class SecretForms:
    """What :func:`_scrub` removes: every secret in clear and in its usual encodings (``forms``, longest
    first), and the clear secrets to look for inside any base64 or percent-encoded token (``clear``)."""

    forms: tuple[str, ...]
    clear: tuple[bytes, ...]


def secret_forms(env: Mapping[str, str]) -> SecretForms:
    """The configured secrets (:func:`_secrets`) with their URL-encoded and base64 forms, and the SMTP
    login as smtplib sends it: AUTH PLAIN ``base64("\\0user\\0password")``, AUTH LOGIN base64 of each."""
    clear = _secrets(env)
    forms: set[str] = set(clear)
    for secret in clear:
        forms.update({urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)})
        forms.update({json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]})  # the log line
        forms.update(_b64_forms(secret.encode("utf-8")))
    password = env.get(ENV_SMTP_PASSWORD) or ""
    if password:
        user = _get(env, ENV_SMTP_USER)
        for login in {f"\0{user}\0{password}", f"{user}\0{password}", f"\0{user}\0{password.strip()}"}:
            forms.update(_b64_forms(login.encode("utf-8")))
    return SecretForms(
        tuple(sorted((f for f in forms if len(f) >= 4), key=len, reverse=True)),
        tuple(secret.encode("utf-8") for secret in clear),
    )


# A run of base64 (standard or URL-safe) or percent-encoded text that may carry a secret inside it.
_BASE64_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{8,}={0,2}")
_PERCENT_TOKEN = re.compile(r"[^\s\"'<>]*%[0-9A-Fa-f]{2}[^\s\"'<>]*")


def _decodes_to_secret(token: str, clear: tuple[bytes, ...]) -> bool:
    """``token`` (or the token shifted by one or two characters, when it is cut out of a longer base64
    text) decodes, as standard or URL-safe base64, to bytes containing a secret."""
    for shift in range(4):
        body = token[shift:].rstrip("=")
        body += "=" * (-len(body) % 4)
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                raw = decode(body.encode("ascii"))
            except ValueError:
                continue
            if any(secret in raw for secret in clear):
                return True
    return False


def _scrub(text: str, secrets: SecretForms | list[str]) -> str:
    """``text`` with every secret, in any of its forms, replaced by ``***``."""
    if isinstance(secrets, list):
        secrets = SecretForms(tuple(secrets), tuple(s.encode("utf-8") for s in secrets))
    for form in secrets.forms:
        if form in text:
            text = text.replace(form, "***")
    if not secrets.clear:
        return text

    def percent(match: re.Match) -> str:
        decoded = urllib.parse.unquote_plus(match.group(0)).encode("utf-8", errors="replace")
        return "***" if any(secret in decoded for secret in secrets.clear) else match.group(0)

    def base64_token(match: re.Match) -> str:
        return "***" if _decodes_to_secret(match.group(0), secrets.clear) else match.group(0)

    text = _PERCENT_TOKEN.sub(percent, text)
    return _BASE64_TOKEN.sub(base64_token, text)


def _describe(exc: BaseException | str, timeout_s: float | None = None, with_type: bool = False) -> str:
    if isinstance(exc, TimeoutError) and timeout_s is not None:
        return f"timed out after {timeout_s:g}s"
    text = str(exc)
    if isinstance(exc, BaseException) and (with_type or not text):
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text


def _decode(raw: bytes | str) -> str:
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
    return _clip(" ".join(text.split()))


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 1] + "…"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _truncate_bytes(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, on a character boundary, marked with "…"."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    marker = "…"
    keep = raw[: limit - len(marker.encode("utf-8"))].decode("utf-8", errors="ignore")
    return keep + marker


def _detail_lines(details: Mapping[str, object]) -> list[str]:
    lines: list[str] = []
    for key, value in details.items():
        if isinstance(value, list | tuple | set | frozenset):
            lines.append(f"{key}:")
            lines.extend(f"  - {_one_line(_scalar(item))}" for item in value)
        else:
            lines.append(f"{key}: {_one_line(_scalar(value))}")
    return lines


def _scalar(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return json.dumps(_jsonable(value), ensure_ascii=False)
    return str(value)


def _jsonable(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # NaN / inf are not JSON
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return str(value)
