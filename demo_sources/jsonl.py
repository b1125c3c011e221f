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
from demo_sources.files import DeliveredFile, Defect, data_file_name, day_folder, lines_buffer
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


class ArrowDictionaries:
    """The (final) string dictionaries as arrow arrays, converted once and shared by all days."""

    NAMES = ["event", "anonymous_id", "login_id", "sdk_version", "referrer", "user_agent", "device_model", "fund_code",
             "order_id", "phone", "customer_no", "wx_openid", "wx_unionid"]  # fmt: skip

    def __init__(self, dicts: Dictionaries) -> None:
        self._arrays = {name: pa.array(getattr(dicts, name), pa.string()) for name in self.NAMES}
        self.utm_tuples = list(dicts.utm)
        columns = list(zip(*dicts.utm, strict=True)) if dicts.utm else [(), (), (), ()]
        self.utm_fields = [pa.array(list(c), pa.string()) for c in columns]

    def __getitem__(self, name: str) -> pa.Array:
        return self._arrays[name]


def _dict_column(codes: np.ndarray, dictionary: pa.Array, compact: bool) -> pa.DictionaryArray:
    """Arrow dictionary column for integer codes (-1 = null); large dictionaries are cut to the used values."""
    valid = codes >= 0
    if compact:
        used, inverse = np.unique(codes[valid], return_inverse=True)
        dictionary = dictionary.take(pa.array(used))
        indices = np.zeros(len(codes), dtype=np.int32)
        indices[valid] = inverse
    else:
        indices = np.where(valid, codes, 0).astype(np.int32)
    return pa.DictionaryArray.from_arrays(pa.array(indices, pa.int32(), mask=~valid), dictionary)


def _static(values: list[str | None]) -> pa.Array:
    return pa.array(values, pa.string())


PLATFORM_ARRAY = _static(ref.PLATFORMS)
SCREEN_NAME_ARRAY = _static([s[0] for s in ref.SCREENS])
APP_SECTION_ARRAY = _static([s[1] for s in ref.SCREENS])
SCREEN_PATH_ARRAY = _static([s[2] for s in ref.SCREENS])
DAY_BATCH_ROWS = 16_384  # several record batches per day let DuckDB render JSON on both cores


def day_table(ev: EventColumns, event_ids: np.ndarray, lo: int, hi: int, arrays: ArrowDictionaries) -> pa.Table:
    """The arrow table of events lo..hi (one delivery day) that the JSON query reads."""
    sl = slice(lo, hi)
    utm = ev["utm"][sl]
    screen = ev["screen"][sl]
    amount = ev["amount_c"][sl]
    utm_has_term = np.array([u[3] is not None for u in arrays.utm_tuples], dtype=bool)
    term = np.where((utm >= 0) & utm_has_term[np.maximum(utm, 0)], utm, -1) if len(utm_has_term) else utm
    table = pa.table(
        {
            "line_no": pa.array(np.arange(hi - lo)),
            "event_id": ids.fixed_strings_to_arrow(event_ids[sl]),
            "event": _dict_column(ev["event"][sl], arrays["event"], False),
            "time": pa.array(ev["time_ms"][sl]),
            "receive_time": pa.array(ev["receive_ms"][sl]),
            "anonymous_id": _dict_column(ev["device"][sl], arrays["anonymous_id"], True),
            "login_id": _dict_column(ev["login"][sl], arrays["login_id"], True),
            "platform": _dict_column(ev["platform"][sl], PLATFORM_ARRAY, False),
            "sdk_version": _dict_column(ev["sdk"][sl], arrays["sdk_version"], False),
            "screen_name": _dict_column(screen, SCREEN_NAME_ARRAY, False),
            "app_section": _dict_column(screen, APP_SECTION_ARRAY, False),
            "screen_path": _dict_column(np.where(ev["platform"][sl] >= 2, screen, -1), SCREEN_PATH_ARRAY, False),
            "referrer": _dict_column(ev["referrer"][sl], arrays["referrer"], False),
            "utm_source": _dict_column(utm, arrays.utm_fields[0], False),
            "utm_medium": _dict_column(utm, arrays.utm_fields[1], False),
            "utm_campaign": _dict_column(utm, arrays.utm_fields[2], False),
            "utm_term": _dict_column(term, arrays.utm_fields[3], False),
            "user_agent": _dict_column(ev["ua"][sl], arrays["user_agent"], True),
            "device_model": _dict_column(ev["model"][sl], arrays["device_model"], False),
            "fund_code": _dict_column(ev["fund"][sl], arrays["fund_code"], False),
            "amount_c": pa.array(amount, mask=amount < 0),
            "order_id": _dict_column(ev["order"][sl], arrays["order_id"], True),
            "phone": _dict_column(ev["phone"][sl], arrays["phone"], True),
            "customer_no": _dict_column(ev["customer"][sl], arrays["customer_no"], True),
            "wx_openid": _dict_column(ev["wx"][sl], arrays["wx_openid"], True),
            "wx_unionid": _dict_column(ev["wx"][sl], arrays["wx_unionid"], True),
        }
    )
    return pa.Table.from_batches(table.to_batches(max_chunksize=DAY_BATCH_ROWS))


def _write_gzip(path: Path, pieces: list[pa.Buffer | bytes]) -> None:
    """Compress the pieces in order into one gzip file: level 1, mtime 0, no file name (reproducible)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    compressor = zlib.compressobj(level=1, wbits=31)
    with path.open("wb") as out:
        for piece in pieces:
            out.write(compressor.compress(piece))
        out.write(compressor.flush())


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
    arrays = ArrowDictionaries(dicts)
    con = duckdb.connect()
    con.execute("set threads to 2")
    pending: list[Future] = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        for i, day in enumerate(range(window.start_day, window.end_day + 1)):
            lo, hi = int(bounds[i]), int(bounds[i + 1])
            name = data_file_name("events", day, "jsonl.gz")
            rel = f"tracking/{day_folder(day)}/{name}"
            table = day_table(ev, event_ids, lo, hi, arrays)
            con.register("day_events", table)
            lines = con.sql(EVENT_JSON_SQL).to_arrow_table().column("line").combine_chunks()
            con.unregister("day_events")
            line_no = np.arange(hi - lo) + 1
            junk = sorted(malformed.get(day, []))
            pieces: list[pa.Buffer | bytes] = []
            cursor, inserted = 0, 0
            for pos, variant in junk:
                pieces.append(lines_buffer(lines[cursor : pos + 1]))
                line_no[cursor : pos + 1] += inserted
                source_line = pos + 1 + inserted
                inserted += 1
                pieces.append(break_json_line(lines[pos].as_py(), variant).encode())
                defects.append(Defect(rel, source_line + 1, "malformed_json", f"{variant} copy of line {source_line}"))
                cursor = pos + 1
            pieces.append(lines_buffer(lines[cursor:]))
            line_no[cursor:] += inserted
            event_file[lo:hi] = rel
            event_line[lo:hi] = line_no
            files.append(DeliveredFile("tracking", "events", day, name, b"", hi - lo + len(junk), ""))
            pending.append(pool.submit(_write_gzip, landing / rel, pieces))
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
