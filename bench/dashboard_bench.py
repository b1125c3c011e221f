"""Render time of every dashboard board, in Debian's chromium, on a built data directory.

    python bench/dashboard_bench.py --data-dir data/bench/runs/sf1-<time> --label sf1 [--repeats 3]

Starts the dashboard app (``python -m orchestration.cli dashboards serve``) over the directory's
``analytics.duckdb`` and opens each board ``--repeats`` times in headless chromium (Playwright driving
Debian's build). A board's render time runs from the navigation to the moment every panel has drawn: its
"<rows> rows · <ms> ms" caption is there and every chart has its canvas. The sum of its queries' times
(the captions' ms) is reported beside it. Also the daily HTML report's render time (both languages,
``write_report``). Writes ``bench/results/<date>-dashboards-<label>.json`` and prints a table; the issue's
bar is 2 s per board at SF1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from orchestration.dashboards.drawn import wait_until_drawn  # noqa: E402
from orchestration.defs.publish.boards import load_boards  # noqa: E402
from orchestration.defs.publish.report import write_report  # noqa: E402

TARGET_S = 2.0
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(data_dir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "FUNDCDP_DATA_DIR": str(data_dir)}
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "dashboards", "serve", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5):
                return process
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit("the dashboard app did not start")


def render_once(page, url: str, board) -> tuple[float, int]:
    started = time.perf_counter()
    page.goto(f"{url}/?board={board.id}&lang=en")
    captions = wait_until_drawn(page, board, timeout_ms=120_000)
    return time.perf_counter() - started, sum(ms for _, ms in captions)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="a data directory with analytics.duckdb")
    parser.add_argument("--label", required=True, help="names the result file (sf1, demo…)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    args = parser.parse_args(argv)
    analytics = args.data_dir / "analytics.duckdb"
    if not analytics.exists():
        raise SystemExit(f"no analytics.duckdb in {args.data_dir}")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise SystemExit("needs Debian's chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    boards = [found.board for found in load_boards()[0]]
    port = free_port()
    app = start_app(args.data_dir, port)
    results = {}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=ARGS)
            page = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
            render_once(page, f"http://127.0.0.1:{port}", boards[0])  # the first page loads the front end
            for board in boards:
                runs = [render_once(page, f"http://127.0.0.1:{port}", board) for _ in range(args.repeats)]
                results[board.id] = {
                    "panels": len(board.panels),
                    "render_s": [round(s, 3) for s, _ in runs],
                    "median_s": round(statistics.median(s for s, _ in runs), 3),
                    "query_ms_median": statistics.median(ms for _, ms in runs),
                }
                print(f"{board.id:28} {results[board.id]['median_s']:6.2f} s  queries "
                      f"{results[board.id]['query_ms_median']:6.0f} ms", flush=True)  # fmt: skip
            browser.close()
    finally:
        app.send_signal(signal.SIGINT)
        app.wait(timeout=30)
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        write_report(analytics, Path(scratch))
        report_s = time.perf_counter() - started
        report_bytes = sum(p.stat().st_size for p in Path(scratch).glob("latest*.html"))
    slowest = max(r["median_s"] for r in results.values())
    result = {
        "date": date.today().isoformat(),
        "label": args.label,
        "data_dir": str(args.data_dir),
        "analytics_mib": round(analytics.stat().st_size / 2**20, 1),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "repeats": args.repeats,
        "boards": results,
        "slowest_board_s": slowest,
        "target_s": TARGET_S,
        "report_s": round(report_s, 2),
        "report_kib": round(report_bytes / 1024),
    }
    print(f"slowest board {slowest:.2f} s (bar {TARGET_S} s); report (en + zh) {report_s:.1f} s, "
          f"{result['report_kib']} KiB")  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{result['date']}-dashboards-{args.label}.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
