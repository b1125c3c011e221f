"""Serialise tracking events into the daily `events_<YYYYMMDD>.jsonl.gz` files.

Each JSON line is assembled with pyarrow string kernels from pre-rendered fragments: every string
dictionary (devices, logins, orders, user agents, ...) is rendered once as `,"key":"value"` pieces, and a
day's lines are a `take` of those pieces per column plus one element-wise join, about twice as fast as
DuckDB's `to_json` for the same lines. The joined array's data buffer is the file's text; junk
(malformed) lines are spliced in, and background threads gzip (level 1, mtime 0, no file name) and write
earlier days while the next one is rendered.
"""

from __future__ import annotations

import json
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from demo_sources import ids
from demo_sources import reference as ref
from demo_sources.config import Window, local_day
from demo_sources.files import Defect, DeliveredFile, data_file_name, day_folder, lines_buffer
from demo_sources.tracking import Dictionaries, EventColumns

# gzip dominates the tracking phase; zlib releases the GIL, so writer threads overlap with rendering
GZIP_WORKERS = 2
_NEEDS_ESCAPE = r'["\\\x00-\x1f]'


@dataclass
class TrackingOutput:
    """Where every event ended up: file and line, plus the delivered files."""

    files: list[DeliveredFile]
    event_file: np.ndarray  # relative path per event
    event_line: np.ndarray  # 1-based line per event
    defects: list[Defect]  # malformed junk lines


def order_events(rng: np.random.Generator, ev: EventColumns) -> tuple[EventColumns, np.ndarray]:
    """Sort events into delivery order and give them event ids; duplicate copies reuse the original's id."""
    n = len(ev)
    deliver = local_day(ev["receive_ms"])
    order = np.lexsort((np.arange(n), ev["session"], ev["time_ms"], ev["receive_ms"], deliver))
    ev = ev.take(order)
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    copy_of = np.where(ev["copy_of"] >= 0, position[np.maximum(ev["copy_of"], 0)], -1)
    ev["copy_of"] = copy_of
    event_ids = ids.hex_ids(rng, n, 16)
    copies = np.flatnonzero(copy_of >= 0)
    event_ids[copies] = event_ids[copy_of[copies]]
    return ev, event_ids


def json_fragments(key: str, values: list[str | None], first: bool = False) -> pa.Array:
    """`,"key":"value"` for every value (JSON-escaped), plus a final `,"key":null` for missing codes."""
    prefix = ("" if first else ",") + json.dumps(key) + ":"
    array = pa.array(list(values) + [None], pa.string())
    escape = pc.fill_null(pc.match_substring_regex(array, _NEEDS_ESCAPE), False).to_numpy(
        zero_copy_only=False
    )
    if escape.any():
        plain = array.to_pylist()
        for i in np.flatnonzero(escape):
            plain[i] = json.dumps(plain[i], ensure_ascii=False)[1:-1]
        array = pa.array(plain, pa.string())
    quoted = pc.binary_join_element_wise(prefix + '"', array, '"', "")
    return pc.fill_null(quoted, prefix + "null")


class EventRenderer:
    """Renders events to JSON lines, keys in the documented order (Sensors-style event object)."""

    def __init__(self, dicts: Dictionaries, funds_code: list[str]) -> None:
        self.dicts = dicts
        utm = list(dicts.utm)
        utm_columns = list(zip(*utm, strict=True)) if utm else [(), (), (), ()]
        self.utm = utm
        self.frag = {
            "event": json_fragments("event", dicts.event, first=True),
            "anonymous_id": json_fragments("anonymous_id", dicts.anonymous_id),
            "login_id": json_fragments("login_id", dicts.login_id),
            "platform": json_fragments("platform", ref.PLATFORMS, first=True),
            "sdk_version": json_fragments("sdk_version", dicts.sdk_version),
            "screen_name": json_fragments("screen_name", [s[0] for s in ref.SCREENS]),
            "app_section": json_fragments("app_section", [s[1] for s in ref.SCREENS]),
            "referrer": json_fragments("referrer", dicts.referrer),
            "utm_source": json_fragments("utm_source", list(utm_columns[0])),
            "utm_medium": json_fragments("utm_medium", list(utm_columns[1])),
            "utm_campaign": json_fragments("utm_campaign", list(utm_columns[2])),
            "utm_term": json_fragments("utm_term", list(utm_columns[3])),
            "user_agent": json_fragments("user_agent", dicts.user_agent),
            "device_model": json_fragments("device_model", dicts.device_model),
            "fund_code": json_fragments("fund_code", funds_code),
            "order_id": json_fragments("order_id", dicts.order_id),
            "phone": json_fragments("phone", dicts.phone),
            "customer_no": json_fragments("customer_no", dicts.customer_no),
            "wx_openid": json_fragments("wx_openid", dicts.wx_openid),
            "wx_unionid": json_fragments("wx_unionid", dicts.wx_unionid),
        }
        self.n_funds = len(funds_code)
        self.funds_code = funds_code

    def _take(self, key: str, codes: np.ndarray) -> pa.Array:
        fragments = self.frag[key]
        return fragments.take(pa.array(np.where(codes >= 0, codes, len(fragments) - 1).astype(np.int32)))

    def _urls(self, platform: np.ndarray, screen: np.ndarray, fund: np.ndarray, utm: np.ndarray) -> pa.Array:
        """`,"url":...`: site + page path (+ fund code or landing utm query) for web, h5 and mini-program."""
        n_utm, n_screens = len(self.utm) + 1, len(ref.SCREENS)
        web = (platform >= 2) & (screen >= 0)
        key = (
            ((np.maximum(platform - 2, 0) * n_screens + screen) * (self.n_funds + 1) + fund + 1) * n_utm
            + utm
            + 1
        )
        key = np.where(web, key, -1)
        used, inverse = np.unique(key, return_inverse=True)
        texts = []
        for k in used.tolist():
            if k < 0:
                texts.append(',"url":null')
                continue
            rest, u = divmod(k, n_utm)
            rest, f = divmod(rest, self.n_funds + 1)
            p, s = divmod(rest, n_screens)
            texts.append(',"url":' + json.dumps(self._url(p + 2, s, f - 1, u - 1), ensure_ascii=False))
        return pa.array(texts, pa.string()).take(pa.array(inverse.astype(np.int32)))

    def _url(self, platform: int, screen: int, fund: int, utm: int) -> str:
        path = ref.SCREENS[screen][2]
        landing = path == "landing"
        if landing:
            path = "landing/" + (self.utm[utm][2] if utm >= 0 and self.utm[utm][2] else "home")
        url = ref.SITE_BASE[platform] + path + ("/index" if platform == 4 else "")
        if fund >= 0:
            return url + "?code=" + self.funds_code[fund]
        if landing and utm >= 0 and self.utm[utm][0]:
            source, medium, campaign, _ = self.utm[utm]
            return url + f"?utm_source={source}&utm_medium={medium}&utm_campaign={campaign}"
        return url

    def render(self, ev: EventColumns, event_ids: np.ndarray, lo: int, hi: int) -> pa.Array:
        """JSON lines (each ending in LF) of events lo..hi."""
        sl = slice(lo, hi)
        utm = ev["utm"][sl].astype(np.int64)
        has_term = np.array([u[3] is not None for u in self.utm] + [False])
        term = np.where(has_term[np.where(utm >= 0, utm, len(self.utm))], utm, -1)
        amount = ev["amount_c"][sl].astype(np.int64)
        amount_text = np.full(hi - lo, ',"amount":null', dtype=object)
        paid = amount >= 0
        amount_text[paid] = [f',"amount":{a // 100}.{a % 100:02d}' for a in amount[paid].tolist()]
        pieces = [
            '{"event_id":"',
            ids.fixed_strings_to_arrow(event_ids[sl]),
            '",',
            self._take("event", ev["event"][sl]),
            ',"time":',
            pc.cast(pa.array(ev["time_ms"][sl]), pa.string()),
            ',"receive_time":',
            pc.cast(pa.array(ev["receive_ms"][sl]), pa.string()),
            self._take("anonymous_id", ev["device"][sl]),
            self._take("login_id", ev["login"][sl]),
            ',"properties":{',
            self._take("platform", ev["platform"][sl]),
            self._take("sdk_version", ev["sdk"][sl]),
            self._take("screen_name", ev["screen"][sl]),
            self._urls(
                ev["platform"][sl].astype(np.int64),
                ev["screen"][sl].astype(np.int64),
                ev["fund"][sl].astype(np.int64),
                utm,
            ),
            self._take("app_section", ev["screen"][sl]),
            self._take("referrer", ev["referrer"][sl]),
            self._take("utm_source", utm),
            self._take("utm_medium", utm),
            self._take("utm_campaign", utm),
            self._take("utm_term", term),
            self._take("user_agent", ev["ua"][sl]),
            self._take("device_model", ev["model"][sl]),
            self._take("fund_code", ev["fund"][sl]),
            pa.array(amount_text, pa.string()),
            self._take("order_id", ev["order"][sl]),
            self._take("phone", ev["phone"][sl]),
            self._take("customer_no", ev["customer"][sl]),
            self._take("wx_openid", ev["wx"][sl]),
            self._take("wx_unionid", ev["wx"][sl]),
            "}}\n",
        ]
        if hi == lo:
            return pa.array([], pa.string())
        return pc.binary_join_element_wise(*pieces, "")


class TrackingWriter:
    """The daily tracking files, written from one or several batches of events (a batch is a run of
    sessions, in delivery order within itself): each day's file is one gzip stream (level 1, mtime 0, no
    file name, so reproducible) that every batch appends its lines of that day to; background threads
    compress while the next day is rendered. One batch gives exactly the bytes of rendering all events at
    once; with several, a day's file holds each batch's lines in turn.
    """

    def __init__(self, landing: Path, window: Window) -> None:
        self.landing, self.window = landing, window
        self.days = list(range(window.start_day, window.end_day + 1))
        self.lines: dict[int, int] = dict.fromkeys(self.days, 0)  # lines written per day
        self._streams: dict[int, tuple[BinaryIO, Any]] = {}
        self._last: dict[int, Future] = {}  # the latest compression of a day: a day's pieces stay in order
        self._pending: list[Future] = []
        self._pool = ThreadPoolExecutor(max_workers=GZIP_WORKERS)
        self.files: list[DeliveredFile] = []  # after close()

    def __enter__(self) -> TrackingWriter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @staticmethod
    def rel_path(day: int) -> str:
        return f"tracking/{day_folder(day)}/{data_file_name('events', day, 'jsonl.gz')}"

    def _stream(self, day: int) -> tuple[BinaryIO, Any]:
        if day not in self._streams:
            path = self.landing / self.rel_path(day)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._streams[day] = (path.open("wb"), zlib.compressobj(level=1, wbits=31))
        return self._streams[day]

    def _compress(self, day: int, pieces: list[pa.Buffer | bytes], after: Future | None) -> None:
        if after is not None:
            after.result()
        out, compressor = self._streams[day]
        for piece in pieces:
            out.write(compressor.compress(piece))

    def write(
        self,
        renderer: EventRenderer,
        ev: EventColumns,
        event_ids: np.ndarray,
        malformed: dict[int, list[tuple[int, str]]],
    ) -> tuple[np.ndarray, np.ndarray, list[Defect]]:
        """Append a batch (in delivery order); `malformed[day]` lists (event position in the batch's part
        of that day, junk text maker): a junk line is a broken copy of that event's line, right after it.
        Returns each event's file and 1-based line, and the junk lines' defects."""
        deliver = local_day(ev["receive_ms"])
        bounds = np.searchsorted(deliver, np.arange(self.window.start_day, self.window.end_day + 2))
        event_file = np.empty(len(ev), dtype=object)
        event_line = np.zeros(len(ev), dtype=np.int64)
        defects: list[Defect] = []
        for i, day in enumerate(self.days):
            lo, hi = int(bounds[i]), int(bounds[i + 1])
            rel = self.rel_path(day)
            lines = renderer.render(ev, event_ids, lo, hi)
            before = self.lines[day]
            line_no = np.arange(hi - lo) + 1 + before
            junk = sorted(malformed.get(day, []))
            pieces: list[pa.Buffer | bytes] = []
            cursor, inserted = 0, 0
            for pos, variant in junk:
                pieces.append(lines_buffer(lines[cursor : pos + 1]))
                line_no[cursor : pos + 1] += inserted
                source_line = before + pos + 1 + inserted
                inserted += 1
                pieces.append(break_json_line(lines[pos].as_py(), variant).encode())
                defects.append(
                    Defect(rel, source_line + 1, "malformed_json", f"{variant} copy of line {source_line}")
                )
                cursor = pos + 1
            pieces.append(lines_buffer(lines[cursor:]))
            line_no[cursor:] += inserted
            event_file[lo:hi] = rel
            event_line[lo:hi] = line_no
            self.lines[day] = before + hi - lo + len(junk)
            self._stream(day)
            future = self._pool.submit(self._compress, day, pieces, self._last.get(day))
            self._last[day] = future
            self._pending.append(future)
            if len(self._pending) > GZIP_WORKERS + 1:
                self._pending.pop(0).result()
        return event_file, event_line, defects

    def close(self) -> list[DeliveredFile]:
        """Finish every day's file (a day no batch wrote to gets an empty one); the delivered files."""
        try:
            for future in self._pending:
                future.result()
            self._pending = []
        finally:
            self._pool.shutdown(wait=True)
            for day in self.days:
                self._stream(day)
            for out, compressor in self._streams.values():
                if not out.closed:
                    out.write(compressor.flush())
                    out.close()
        self.files = [
            DeliveredFile("tracking", "events", day, data_file_name("events", day, "jsonl.gz"), b"",
                          self.lines[day], "")
            for day in self.days
        ]  # fmt: skip
        return self.files


def write_tracking(
    landing: Path,
    ev: EventColumns,
    event_ids: np.ndarray,
    dicts: Dictionaries,
    fund_codes: list[str],
    window: Window,
    malformed: dict[int, list[tuple[int, str]]],
) -> TrackingOutput:
    """Write one gzipped JSONL file per day from all events at once (see :class:`TrackingWriter`)."""
    writer = TrackingWriter(landing, window)
    try:
        renderer = EventRenderer(dicts, fund_codes)
        event_file, event_line, defects = writer.write(renderer, ev, event_ids, malformed)
    finally:
        files = writer.close()
    return TrackingOutput(files, event_file, event_line, defects)


def break_json_line(line: str, variant: str) -> str:
    """A JSON line that no parser accepts: truncated mid-object, or with a doubled comma."""
    body = line.rstrip("\n")
    if variant == "truncated":
        return body[: max(10, len(body) * 2 // 3)] + "\n"
    return body.replace(',"receive_time"', ',,"receive_time"', 1) + "\n"
