"""Generate the demo source systems into `<data_dir>/landing/` and the answer key outside the data directory.

    python -m demo_sources.generate --data-dir DIR [--truth-dir T] [--customers N] [--seed S]
        [--end-date YYYY-MM-DD] [--days D] [--dirt default|none] [--force]

The answer key (every clear value of every demo person, the injected defects) goes to `--truth-dir`,
default `$FUNDCDP_DEMO_TRUTH_DIR`, else `<data dir>.demo_truth` beside the data directory: never inside
it, where the pipeline's erasure, scans and copies would have to know about it. landing/ gets a marker,
`landing/DEMO_SOURCES.json` (`orchestration.lib.layout.DEMO_MARKER`), saying these are demo sources and
listing each file written with its SHA-256 (without FUNDCDP_HASH_KEY, only those files load).

The same arguments always produce byte-identical files. See `docs/source_formats.md` for the landing
contract, `demo_sources.population` for the population ratios, `demo_sources.config.DirtConfig` for the
injected defects and `demo_sources.truth` for the truth formats.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from demo_sources.config import DirtConfig, TradingCalendar, Window, child_rng
from demo_sources.crm import Crm, build_bank_cards, build_crm, first_card_ms
from demo_sources.csv_tables import (
    TableRows,
    holdings_frame,
    money_text,
    render_crm_tables,
    render_trade_tables,
)
from demo_sources.dirt import DirtInjector, observed_identifiers
from demo_sources.files import Defect, DeliveredFile, build_csv_files, control_files, write_files
from demo_sources.funds import Funds, build_funds
from demo_sources.identifiers import PersonIds, build_person_ids
from demo_sources.jsonl import EventRenderer, TrackingWriter, order_events
from demo_sources.population import Population, build_population
from demo_sources.tracking import (
    DeviceCodes,
    Dictionaries,
    EventColumns,
    build_dictionaries,
    build_sessions,
    expand_events,
)
from demo_sources.trades import Trades, build_trades
from demo_sources.truth import write_config, write_defects, write_identities, write_persons
from orchestration.lib.layout import DEMO_MARKER, DEMO_MARKER_FILES, demo_marker_entries, demo_truth_dir

DEFAULT_END_DATE = date(2026, 6, 30)
# Sessions are expanded into events and written this many at a time, so that the tracking phase holds one
# batch of events (~87 bytes each plus the intermediates of their expansion), not all of them: SF1 (100k
# customers, ~2M sessions) is one batch, SF10 (1M customers) about eight.
SESSION_BATCH = 2_500_000


class _Stopwatch:
    """Records the seconds spent per phase (for the printed summary only, never in any file)."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings, self.last = timings, time.perf_counter()

    def __call__(self, phase: str) -> None:
        now = time.perf_counter()
        self.timings[phase] = round(now - self.last, 2)
        self.last = now


def prepare_output(data_dir: Path, force: bool, truth_dir: Path | None = None) -> tuple[Path, Path]:
    """Create landing/ and the truth folder; refuse a non-empty landing/ unless forced (then wipe it).

    The truth folder (default :func:`orchestration.lib.layout.demo_truth_dir`) must lie outside the data
    directory; it is always rebuilt from scratch (it describes exactly the landing/ written now), and is
    only ever wiped when it is empty or holds an earlier truth (its config.json). A ``demo_truth/`` left
    inside the data directory by an earlier version is removed.
    """
    data_dir = data_dir.expanduser().resolve()
    landing = data_dir / "landing"
    truth = truth_dir.expanduser().resolve() if truth_dir else demo_truth_dir(data_dir)
    if truth == data_dir or truth.is_relative_to(data_dir):
        raise ValueError(f"the demo truth folder {truth} must be outside the data directory {data_dir}")
    if truth.exists() and any(truth.iterdir()) and not (truth / "config.json").is_file():
        raise FileExistsError(f"{truth} is not empty and holds no demo truth; choose another --truth-dir")
    if landing.exists() and any(landing.iterdir()):
        if not force:
            raise FileExistsError(f"{landing} is not empty; pass --force to regenerate")
        shutil.rmtree(landing)
    for old in (truth, data_dir / "demo_truth"):
        if old.exists():
            shutil.rmtree(old)
    landing.mkdir(parents=True, exist_ok=True)
    truth.mkdir(parents=True, exist_ok=True)
    return landing, truth


def write_marker(landing: Path, config: dict[str, object]) -> Path:
    """``landing/DEMO_SOURCES.json``: these deliveries are the demo generator's (no real person's data),
    file by file: under ``files``, each file written (path relative to landing/ -> SHA-256 of its content).
    Without FUNDCDP_HASH_KEY only those files, with that content, load."""
    path = landing / DEMO_MARKER
    marker = {"generator": "fundcdp demo_sources", **config, DEMO_MARKER_FILES: demo_marker_entries(landing)}
    path.write_text(json.dumps(marker, sort_keys=True, indent=2) + "\n", encoding="utf-8")
    return path


@dataclass
class World:
    """Everything the source systems hold about the window, before dirt."""

    window: Window
    pop: Population
    pid: PersonIds
    funds: Funds
    trades: Trades
    crm: Crm
    dictionaries: Dictionaries
    device_codes: DeviceCodes
    sessions: pd.DataFrame  # expanded into events batch by batch


def build_world(seed: int, customers: int, window: Window) -> World:
    """Population, trade system, CRM and tracking sessions; each part draws from its own random stream.
    The sessions are expanded into events batch by batch (:func:`session_batches`) as they are written."""
    calendar = TradingCalendar(window)
    pop = build_population(child_rng(seed, "population"), customers, window)
    pid, devices = build_person_ids(child_rng(seed, "identifiers"), pop)
    funds = build_funds(child_rng(seed, "funds"), window, calendar)
    cards = build_bank_cards(child_rng(seed, "cards"), pop, pid, window)
    first_cards = first_card_ms(cards, len(pid.customer_person))
    trades = build_trades(child_rng(seed, "trades"), pop, pid, funds, window, calendar, first_cards)
    # the CRM records the channel the trade system opened the account through
    opening = trades.account_versions.drop_duplicates("customer").sort_values("customer")
    crm = build_crm(child_rng(seed, "crm"), pop, pid, window, cards, opening.open_channel.to_numpy())
    dictionaries, device_codes = build_dictionaries(pop, pid, devices, trades, funds)
    sessions = build_sessions(child_rng(seed, "sessions"), pop, pid, trades, cards, window, dictionaries)
    return World(window, pop, pid, funds, trades, crm, dictionaries, device_codes, sessions)


def session_batches(n_sessions: int, batch: int | None = None) -> list[tuple[int, int]]:
    """(first, end) session ranges expanded into events one at a time (``SESSION_BATCH`` each)."""
    batch = batch or SESSION_BATCH
    return [(lo, min(lo + batch, n_sessions)) for lo in range(0, max(n_sessions, 1), batch)]


def generate(
    data_dir: Path | str,
    customers: int = 2000,
    seed: int = 42,
    end_date: date = DEFAULT_END_DATE,
    days: int = 180,
    dirt: DirtConfig | None = None,
    force: bool = False,
    truth_dir: Path | str | None = None,
) -> dict[str, object]:
    """Write landing/ and the truth folder for the given arguments and return a summary.

    The summary holds `files` (landing files written), `rows` ({source: {table: data lines}}),
    `events` (tracking lines), `defects` (rows of defects.csv), `identities`, `persons`,
    `elapsed_seconds` and `phase_seconds`.
    """
    started = time.perf_counter()
    timings: dict[str, float] = {}
    lap = _Stopwatch(timings)
    dirt = DirtConfig() if dirt is None else dirt
    if customers < 10 or days < 7:
        raise ValueError("need at least 10 customers and 7 days")
    landing, truth = prepare_output(Path(data_dir), force, Path(truth_dir) if truth_dir else None)
    window = Window(end_date, days)
    world = build_world(seed, customers, window)
    lap("model")
    batches = session_batches(len(world.sessions))
    if len(batches) > 1 and dirt != DirtConfig.none():
        raise ValueError(
            f"{customers} customers make {len(world.sessions):,} sessions, more than one batch of "
            f"{batches[0][1]:,}: tracking dirt needs all events at once, so generate this size with "
            "--dirt none"
        )

    tables = render_trade_tables(world.trades, world.funds, world.pid, window)
    tables |= render_crm_tables(world.crm, world.pid, window)
    injector = DirtInjector(
        seed, dirt, window, world.pop, world.pid, world.dictionaries, world.device_codes, world.funds
    )
    tables = injector.crm_rows(tables, world.crm)
    csv_files, defects, superseded = _csv_deliveries(tables, injector, window)
    missing = {f.rel_path for f in csv_files if not f.present}
    # written and dropped before the tracking phase, which then has the memory (SF10: ~8 GiB less)
    observed_in_tables = observed_identifiers(EventColumns.empty(0), world.dictionaries, tables, missing)
    del tables
    written = write_files(landing, csv_files)
    csv_files = [replace(f, content=b"") for f in csv_files]
    lap("csv")

    codes = world.funds.code.tolist()
    events_rng, ids_rng = child_rng(seed, "events"), child_rng(seed, "event-ids")
    observed_parts, unowned_parts = [], []
    renderer, renderer_sizes = None, None
    with TrackingWriter(landing, window) as writer:
        for lo, hi in batches:
            events = expand_events(
                events_rng, world.sessions.iloc[lo:hi], world.pop, world.pid, world.funds, window,
                world.device_codes, world.dictionaries,
            )  # fmt: skip
            if lo:
                events["session"] = events["session"] + lo
            events, unowned = injector.tracking_events(events)
            events, event_ids = order_events(ids_rng, events)
            malformed = injector.malformed_lines(events)
            # dirt appends dictionary values: the fragments are rendered again only when it did
            sizes = tuple(len(values) for values in vars(world.dictionaries).values())
            if sizes != renderer_sizes:
                renderer, renderer_sizes = EventRenderer(world.dictionaries, codes), sizes
            event_file, event_line, junk = writer.write(renderer, events, event_ids, malformed)
            defects += junk
            defects += injector.tracking_defects(events, event_ids, event_file, event_line)
            observed_parts.append(observed_identifiers(events, world.dictionaries, {}, missing))
            unowned_parts.append(unowned)
            del events, event_ids, event_file, event_line
    all_files = csv_files + writer.files
    written += write_files(landing, control_files(all_files, window)) + len(writer.files)
    lap("tracking")

    for rel, content in superseded.items():
        path = truth / "superseded" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    observed_parts.append(observed_in_tables)
    observed = pd.concat(observed_parts, ignore_index=True)
    if len(batches) > 1:  # a person's identifier is seen in several batches
        observed = observed.drop_duplicates(ignore_index=True)
    unowned = pd.concat(unowned_parts, ignore_index=True) if len(unowned_parts) > 1 else unowned_parts[0]
    n_identities = write_identities(truth, observed, unowned, world.pid.person_key, dirt.test_phone_numbers)
    _write_persons(truth, world)
    _write_initial_holdings(truth, world)
    write_defects(truth, defects)
    config = {"customers": customers, "seed": seed, "end_date": end_date.isoformat(), "days": days}
    write_config(truth, config | {"window_start": window.start.isoformat(), "dirt": dirt.as_dict()})
    write_marker(landing, config)
    written += 1
    lap("truth")

    rows: dict[str, dict[str, int]] = {"trade": {}, "crm": {}, "tracking": {}}
    for f in all_files:
        if f.present and f.in_control:
            rows[f.source][f.table] = rows[f.source].get(f.table, 0) + f.row_count
    return {
        "files": written,
        "rows": rows,
        "events": int(sum(f.row_count for f in writer.files)),
        "defects": len(defects),
        "identities": n_identities,
        "persons": world.pop.size,
        "truth_dir": str(truth),
        "elapsed_seconds": round(time.perf_counter() - started, 2),
        "phase_seconds": timings,
    }


def _csv_deliveries(
    tables: dict[str, TableRows], injector: DirtInjector, window: Window
) -> tuple[list[DeliveredFile], list[Defect], dict[str, bytes]]:
    """Daily trade and CRM files with their junk lines and file-level dirt, and where the defects are."""
    defects: list[Defect] = []
    files: list[DeliveredFile] = []
    for name in sorted(tables):
        table_files, table_defects = build_csv_files(tables[name], window, injector.junk_lines(tables[name]))
        files += table_files
        defects += table_defects
    files, file_defects, superseded = injector.file_level(files, defects)
    missing = {f.rel_path for f in files if not f.present}
    # line defects of a file that never arrived are not in landing/: only the file-level row remains
    defects = [d for d in defects if d.file not in missing] + file_defects
    return files, defects, superseded


def _write_persons(truth: Path, world: World) -> None:
    """persons.csv, with each customer's holdings value at the last snapshot."""
    pop, pid = world.pop, world.pid
    frame = holdings_frame(world.trades, world.funds)
    last = frame[frame.snapshot_day == world.trades.snapshot_days[-1]]
    value = np.zeros(pop.size, dtype=np.int64)
    per_customer = last.groupby("customer").market_value_c.sum()
    value[pid.customer_person[per_customer.index.to_numpy()]] = per_customer.to_numpy()
    customer_no = np.full(pop.size, None, dtype=object)
    customer_no[pid.customer_person] = pid.customer_no
    write_persons(truth, pop, pid.person_key, pid.login_id, customer_no, value, world.window.start_day)


def _write_initial_holdings(truth: Path, world: World) -> None:
    """initial_holdings.csv: the positions the window starts from (holdings = these + confirmed trades)."""
    initial = world.trades.initial_holdings
    frame = pd.DataFrame(
        {
            "fund_account_id": world.pid.fund_account_id[initial.customer],
            "fund_code": world.funds.code[initial.fund],
            "shares": money_text(initial.shares_c),
        }
    ).sort_values(["fund_account_id", "fund_code"])
    frame.to_csv(truth / "initial_holdings.csv", index=False, lineterminator="\n")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command line arguments (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m demo_sources.generate", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument(
        "--truth-dir",
        type=Path,
        help="where the answer key goes (default $FUNDCDP_DEMO_TRUTH_DIR, else <data dir>.demo_truth); "
        "must be outside the data directory",
    )
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--end-date", type=date.fromisoformat, default=DEFAULT_END_DATE)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--dirt", choices=["default", "none"], default="default")
    parser.add_argument("--force", action="store_true", help="wipe landing/ and the truth folder first")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point: generate, print a summary; 2 when landing/ is not empty."""
    os.umask(0o077)  # owner-only files and folders, whatever the caller's umask (docs/data_directory.md)
    args = parse_args(argv)
    dirt = DirtConfig() if args.dirt == "default" else DirtConfig.none()
    try:
        summary = generate(
            args.data_dir,
            args.customers,
            args.seed,
            args.end_date,
            args.days,
            dirt,
            args.force,
            args.truth_dir,
        )
    except (FileExistsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"demo sources written to {args.data_dir / 'landing'} in {summary['elapsed_seconds']} s")
    print(f"  answer key (clear personal data of the demo persons): {summary['truth_dir']}")
    print(f"  files: {summary['files']}, tracking events: {summary['events']}, defects: {summary['defects']}")
    print("  seconds per phase: " + ", ".join(f"{k} {v}" for k, v in summary["phase_seconds"].items()))
    for source, tables in summary["rows"].items():
        print(f"  {source}: " + ", ".join(f"{table} {count}" for table, count in sorted(tables.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
