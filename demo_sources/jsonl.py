"""Serialise tracking events into the daily `events_<YYYYMMDD>.jsonl.gz` files.

DuckDB renders each day's events to JSON lines (`to_json(struct_pack(...))`, keys in the documented
order); the lines are fetched as one Arrow array whose data buffer already is the file's text. Junk
(malformed) lines are spliced in, and a background thread gzips (level 1, mtime 0, no file name) and
writes the previous day while DuckDB renders the next one.
"""

from __future__ import annotations

import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from demo_sources import ids
from demo_sources import reference as ref
from demo_sources.config import Window, local_day
from demo_sources.files import DeliveredFile, Defect, concat_bytes, data_file_name, day_folder
from demo_sources.tracking import Dictionaries, EventColumns

EVENT_JSON_SQL = """
select to_json(struct_pack(
    event_id := event_id,
    event := event::varchar,
    "time" := "time",
    receive_time := receive_time,
    anonymous_id := anonymous_id::varchar,
    login_id := login_id::varchar,
    properties := struct_pack(
        platform := platform::varchar,
        sdk_version := sdk_version::varchar,
        screen_name := screen_name::varchar,
        url := case platform::varchar
            when 'web' then 'https://www.xinyuanfund.com/'
            when 'h5' then 'https://m.xinyuanfund.com/'
            when 'wechat_mp' then 'pages/'
        end || case when screen_path::varchar = 'landing' then 'landing/' || coalesce(utm_campaign::varchar, 'home')
                    else screen_path::varchar end
            || case when platform::varchar = 'wechat_mp' then '/index' else '' end
            || case when fund_code is not null then '?code=' || fund_code::varchar
                    when screen_path::varchar = 'landing' and utm_source is not null then
                        '?utm_source=' || utm_source::varchar || '&utm_medium=' || utm_medium::varchar
                        || '&utm_campaign=' || utm_campaign::varchar
                    else '' end,
        app_section := app_section::varchar,
        referrer := referrer::varchar,
        utm_source := utm_source::varchar,
        utm_medium := utm_medium::varchar,
        utm_campaign := utm_campaign::varchar,
        utm_term := utm_term::varchar,
        user_agent := user_agent::varchar,
        device_model := device_model::varchar,
        fund_code := fund_code::varchar,
        amount := (amount_c::decimal(18, 0) / 100)::decimal(18, 2),
        order_id := order_id::varchar,
        phone := phone::varchar,
        customer_no := customer_no::varchar,
        wx_openid := wx_openid::varchar,
        wx_unionid := wx_unionid::varchar
    )
)) || chr(10) as line
from day_events
order by line_no
"""


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


def _dict_column(codes: np.ndarray, values: list | np.ndarray, compact: bool) -> pa.DictionaryArray:
    """Arrow dictionary column for integer codes (-1 = null); large dictionaries are cut to the used values."""
    codes = np.asarray(codes, dtype=np.int64)
    valid = codes >= 0
    if compact:
        used, inverse = np.unique(codes[valid], return_inverse=True)
        dictionary = pa.array([values[i] for i in used], pa.string())
        indices = np.zeros(len(codes), dtype=np.int32)
        indices[valid] = inverse
    else:
        dictionary = pa.array(list(values), pa.string())
        indices = np.where(valid, codes, 0).astype(np.int32)
    return pa.DictionaryArray.from_arrays(pa.array(indices, pa.int32(), mask=~valid), dictionary)


def day_table(ev: EventColumns, event_ids: np.ndarray, lo: int, hi: int, dicts: Dictionaries) -> pa.Table:
    """The arrow table of events lo..hi (one delivery day) that the JSON query reads."""
    sl = slice(lo, hi)
    utm = ev["utm"][sl]
    utm_fields = list(zip(*dicts.utm, strict=True)) if dicts.utm else [[], [], [], []]
    screen = ev["screen"][sl]
    amount = ev["amount_c"][sl]
    return pa.table(
        {
            "line_no": pa.array(np.arange(hi - lo)),
            "event_id": ids.fixed_strings_to_arrow(event_ids[sl]),
            "event": _dict_column(ev["event"][sl], dicts.event, False),
            "time": pa.array(ev["time_ms"][sl]),
            "receive_time": pa.array(ev["receive_ms"][sl]),
            "anonymous_id": _dict_column(ev["device"][sl], dicts.anonymous_id, True),
            "login_id": _dict_column(ev["login"][sl], dicts.login_id, True),
            "platform": _dict_column(ev["platform"][sl], ref.PLATFORMS, False),
            "sdk_version": _dict_column(ev["sdk"][sl], dicts.sdk_version, False),
            "screen_name": _dict_column(screen, [s[0] for s in ref.SCREENS], False),
            "app_section": _dict_column(screen, [s[1] for s in ref.SCREENS], False),
            "screen_path": _dict_column(np.where(ev["platform"][sl] >= 2, screen, -1), [s[2] for s in ref.SCREENS], False),
            "referrer": _dict_column(ev["referrer"][sl], dicts.referrer, False),
            "utm_source": _dict_column(utm, utm_fields[0], False),
            "utm_medium": _dict_column(utm, utm_fields[1], False),
            "utm_campaign": _dict_column(utm, utm_fields[2], False),
            "utm_term": _utm_term(utm, utm_fields[3]),
            "user_agent": _dict_column(ev["ua"][sl], dicts.user_agent, True),
            "device_model": _dict_column(ev["model"][sl], dicts.device_model, False),
            "fund_code": _dict_column(ev["fund"][sl], dicts.fund_code, False),
            "amount_c": pa.array(amount, mask=amount < 0),
            "order_id": _dict_column(ev["order"][sl], dicts.order_id, True),
            "phone": _dict_column(ev["phone"][sl], dicts.phone, True),
            "customer_no": _dict_column(ev["customer"][sl], dicts.customer_no, True),
            "wx_openid": _dict_column(ev["wx"][sl], dicts.wx_openid, True),
            "wx_unionid": _dict_column(ev["wx"][sl], dicts.wx_unionid, True),
        }
    )


def _utm_term(utm: np.ndarray, terms: tuple) -> pa.DictionaryArray:
    """utm_term is null for campaigns without keywords."""
    has_term = np.array([t is not None for t in terms])
    codes = np.where((utm >= 0) & has_term[np.maximum(utm, 0)], utm, -1)
    return _dict_column(codes, [t or "" for t in terms], False)


def _write_gzip(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # wbits=31: gzip container with mtime 0 and no file name, i.e. reproducible bytes.
    path.write_bytes(zlib.compress(data, level=1, wbits=31))


def write_tracking(
    landing: Path,
    ev: EventColumns,
    event_ids: np.ndarray,
    dicts: Dictionaries,
    window: Window,
    malformed: dict[int, list[tuple[int, str]]],
) -> TrackingOutput:
    """Write one gzipped JSONL file per day; `malformed[day]` lists (event position in day, junk text maker).

    A junk line is a broken copy of the line of that event, inserted right after it.
    """
    deliver = local_day(ev["receive_ms"])
    bounds = np.searchsorted(deliver, np.arange(window.start_day, window.end_day + 2))
    event_file = np.empty(len(ev), dtype=object)
    event_line = np.zeros(len(ev), dtype=np.int64)
    files: list[DeliveredFile] = []
    defects: list[Defect] = []
    con = duckdb.connect()
    con.execute("set threads to 2")
    pending: list[Future] = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        for i, day in enumerate(range(window.start_day, window.end_day + 1)):
            lo, hi = int(bounds[i]), int(bounds[i + 1])
            name = data_file_name("events", day, "jsonl.gz")
            rel = f"tracking/{day_folder(day)}/{name}"
            table = day_table(ev, event_ids, lo, hi, dicts)
            con.register("day_events", table)
            lines = con.sql(EVENT_JSON_SQL).to_arrow_table().column("line").combine_chunks()
            con.unregister("day_events")
            line_no = np.arange(hi - lo) + 1
            junk = sorted(malformed.get(day, []))
            if not junk:
                data = concat_bytes(lines)
            else:
                pieces, cursor, inserted = [], 0, 0
                for pos, variant in junk:
                    pieces.append(concat_bytes(lines[cursor : pos + 1]))
                    line_no[cursor : pos + 1] += inserted
                    source_line = pos + 1 + inserted
                    inserted += 1
                    pieces.append(break_json_line(lines[pos].as_py(), variant).encode())
                    defects.append(Defect(rel, source_line + 1, "malformed_json", f"{variant} copy of line {source_line}"))
                    cursor = pos + 1
                pieces.append(concat_bytes(lines[cursor:]))
                line_no[cursor:] += inserted
                data = b"".join(pieces)
            event_file[lo:hi] = rel
            event_line[lo:hi] = line_no
            files.append(DeliveredFile("tracking", "events", day, name, b"", hi - lo + len(junk), ""))
            pending.append(pool.submit(_write_gzip, landing / rel, data))
            if len(pending) > 2:
                pending.pop(0).result()
        for future in pending:
            future.result()
    con.close()
    return TrackingOutput(files, event_file, event_line, defects)


def break_json_line(line: str, variant: str) -> str:
    """A JSON line that no parser accepts: truncated mid-object, or with a doubled comma."""
    body = line.rstrip("\n")
    if variant == "truncated":
        return body[: max(10, len(body) * 2 // 3)] + "\n"
    return body.replace(',"receive_time"', ',,"receive_time"', 1) + "\n"
