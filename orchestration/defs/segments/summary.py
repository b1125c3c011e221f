"""The segments' lines of a run summary, from the segments asset's metadata (plain values)."""

from __future__ import annotations

from typing import Any


def summary_lines(metadata: dict[str, Any]) -> list[str]:
    """What the run did with the segments: published, unchanged and blocked counts, how to approve a blocked
    version, and each invalid file skipped with its first problem (every problem is in the alert)."""
    segments = metadata.get("segments") or {}
    by_status: dict[str, list[str]] = {}
    for name, item in segments.items():
        by_status.setdefault(item["status"], []).append(name)
    counts = ", ".join(f"{len(names)} {status}" for status, names in sorted(by_status.items()))
    invalid = metadata.get("invalid") or {}
    lines = [
        f"segments: {counts or 'none evaluated'}" + (f", {len(invalid)} invalid (skipped)" if invalid else "")
    ]
    for name in sorted(by_status.get("blocked", [])):
        item = segments[name]
        lines.append(f"  BLOCKED {name}: {item.get('reason')}")
        if (
            item.get("pending_version") is not None
            and item.get("reason") != "the data's quality gates did not pass"
        ):
            lines.append(
                f"    to publish it: python -m orchestration.cli segments approve {name} "
                f'--version {item["pending_version"]} --reason "..."'
            )
    for name in sorted(invalid):
        problems = invalid[name]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        lines.append(f"  INVALID segments/{name}.yml skipped: {problems[0]}{more}")
    return lines
