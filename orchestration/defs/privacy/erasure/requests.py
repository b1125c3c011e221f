"""Deletion requests: the request files in ``landing/deletion_requests/``, their ids, and ``cli erase``."""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from orchestration.defs.ingest.loader import LoadError
from orchestration.lib.layout import DataLayout
from orchestration.lib.rules import local_zone

REQUEST_COLUMNS = ("request_id", "identifier_type", "identifier_value", "requested_at")
REQUEST_TYPES = ("customer_no", "phone", "id_number", "email", "login_id")
# A request id names the request's file and its log file: letters, digits, ".", "_" and "-", starting with a
# letter or digit, at most 64 characters, never "..".
REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def request_id_problem(request_id: str) -> str | None:
    """Why ``request_id`` is not a usable request id (None when it is)."""
    if not REQUEST_ID.fullmatch(request_id):
        return (
            "a request id is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit "
            f"(got {request_id[:80]!r})"
        )
    if ".." in request_id:
        return f"a request id must not contain '..' (got {request_id!r})"
    return None


# ---------------------------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class ErasureRequest:
    request_id: str
    identifier_type: str
    identifier_value: str
    requested_at: datetime
    path: Path | None = None


def requests_dir(layout: DataLayout) -> Path:
    return layout.landing / "deletion_requests"


def read_requests(layout: DataLayout) -> list[ErasureRequest]:
    """Every pending request, oldest file first. A malformed file raises :class:`LoadError` naming the
    file and line; nothing is erased for it until it is corrected."""
    folder = requests_dir(layout)
    if not folder.is_dir():
        return []
    requests = []
    for path in sorted(folder.glob("*.csv")):
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = set(REQUEST_COLUMNS) - set(reader.fieldnames or ())
            if missing:
                raise LoadError(f"{path}: deletion request file lacks column(s) {', '.join(sorted(missing))}")
            for line, record in enumerate(reader, start=2):
                kind = (record["identifier_type"] or "").strip()
                value = (record["identifier_value"] or "").strip()
                request_id = (record["request_id"] or "").strip()
                if kind not in REQUEST_TYPES:
                    raise LoadError(
                        f"{path}: line {line}: identifier_type {kind!r} is not one of "
                        + ", ".join(REQUEST_TYPES)
                    )
                if not value or not request_id:
                    raise LoadError(f"{path}: line {line}: request_id and identifier_value are required")
                if problem := request_id_problem(request_id):
                    raise LoadError(f"{path}: line {line}: request refused: {problem}")
                try:
                    requested_at = datetime.fromisoformat((record["requested_at"] or "").strip())
                except ValueError:
                    raise LoadError(f"{path}: line {line}: requested_at is not a timestamp") from None
                requests.append(ErasureRequest(request_id, kind, value, requested_at, path))
    return requests


def submit_request(
    layout: DataLayout,
    identifier_type: str,
    value: str,
    request_id: str | None = None,
    now: datetime | None = None,
) -> ErasureRequest:
    """Write a request file into ``landing/deletion_requests/`` (what ``cli erase`` does)."""
    if identifier_type not in REQUEST_TYPES:
        raise ValueError(f"identifier type {identifier_type!r} is not one of {', '.join(REQUEST_TYPES)}")
    now = (now or datetime.now(local_zone())).replace(tzinfo=None, microsecond=0)
    request_id = request_id or f"DR{now:%Y%m%d%H%M%S}"
    if problem := request_id_problem(request_id):
        raise ValueError(problem)
    folder = requests_dir(layout)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{request_id}.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(REQUEST_COLUMNS)
        writer.writerow([request_id, identifier_type, value, now.isoformat(sep=" ")])
    os.chmod(path, 0o600)
    return ErasureRequest(request_id, identifier_type, value, now, path)


def remove_request_file(request: ErasureRequest) -> None:
    """A honoured request file holds the identifier in the clear: it goes once every request in it is done."""
    if request.path is not None and request.path.exists():
        request.path.unlink()
