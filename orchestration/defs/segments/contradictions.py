"""Warnings for valid segment rules that can never match, where the tag definitions show it.

Two kinds, both read from the definitions rather than from a list of known bad pairs:

- **Disjoint values of an enum tag** under one ``all``: the allowed values each condition leaves (the tag
  catalog's allowed values narrowed by ``=``, ``in``, ``!=`` and ``not in``) have nothing in common, e.g.
  ``lifecycle_stage = dormant`` and ``lifecycle_stage in [growth, mature]``.
- **A silent lifecycle stage and a recent event**: a lifecycle stage ``<stage>`` with a window
  ``<stage>_after_days`` under ``vars: fundcdp: tags:`` means no event (and no trade) for that many days
  (dormant: 30, churned: 90); an event or sequence that must have happened (``did: true``) within that many
  days under the same ``all`` contradicts it, e.g. "dormant and browsed in the last 14 days".

A warning does not stop a segment: the rule is valid, and its version is simply empty.
"""

from __future__ import annotations

from typing import Any

from orchestration.defs.segments.definition import Catalog, Segment, SegmentWarning, children, node_kind
from orchestration.lib.rules import load_business_rules

LIFECYCLE_TAG = "lifecycle_stage"


def silent_windows(catalog: Catalog, tag_rules: dict | None = None) -> dict[str, int]:
    """Lifecycle stage -> the days without any event it means (``<stage>_after_days`` in the tag rules)."""
    tag_rules = tag_rules if tag_rules is not None else load_business_rules()["tags"]
    tag = catalog.tags.get(LIFECYCLE_TAG)
    if tag is None:
        return {}
    return {
        stage: int(tag_rules[f"{stage}_after_days"])
        for stage in tag.allowed_values
        if isinstance(tag_rules.get(f"{stage}_after_days"), int)
    }


def rule_warnings(segment: Segment, catalog: Catalog, tag_rules: dict | None = None) -> list[SegmentWarning]:
    """Every part of ``segment``'s rule that can never match (see the module docstring)."""
    windows = silent_windows(catalog, tag_rules)
    found: list[SegmentWarning] = []
    _walk(segment.rule, "rule", segment.file or segment.name, catalog, windows, found)
    return found


def empty_preview_warning(segment: Segment, size: int, matched: int) -> SegmentWarning | None:
    """A warning for a preview (or evaluation) with no member, saying whether the rule or the exclusions
    left no one."""
    if size:
        return None
    why = "the rule matches no one" if not matched else f"all {matched} matches are excluded"
    return SegmentWarning(segment.file or segment.name, "rule", f"0 members as of the build: {why}")


def _conjuncts(node: Any, path: str) -> list[tuple[Any, str]]:
    """The conditions an ``all`` node requires, with nested ``all`` nodes flattened."""
    found = []
    for index, child in enumerate(children(node)):
        child_path = f"{path}.all[{index}]"
        if node_kind(child) == "all":
            found += _conjuncts(child, child_path)
        else:
            found.append((child, child_path))
    return found


def _walk(node: Any, path: str, file: str, catalog: Catalog, windows: dict, found: list) -> None:
    kind = node_kind(node)
    if kind == "all":
        found += _contradictions(_conjuncts(node, path), file, catalog, windows)
    if kind == "not":
        _walk(node.not_, f"{path}.not", file, catalog, windows, found)
    elif kind in ("all", "any"):
        for index, child in enumerate(children(node)):
            _walk(child, f"{path}.{kind}[{index}]", file, catalog, windows, found)


def _allowed(node: Any, values: tuple[str, ...]) -> set[str] | None:
    """The values of an enum tag a condition leaves, or None for an operator that says nothing here."""
    chosen = node.value if isinstance(node.value, list) else [node.value]
    if node.op in ("=", "in"):
        return set(chosen)
    if node.op in ("!=", "not in"):
        return set(values) - set(chosen)
    return None


def _contradictions(conditions: list, file: str, catalog: Catalog, windows: dict) -> list[SegmentWarning]:
    found = []
    narrowed: dict[str, tuple[set[str], list[str]]] = {}  # tag -> (values left, condition paths)
    for node, path in conditions:
        if node_kind(node) != "tag" or catalog.tags[node.tag].tag_type != "enum":
            continue
        allowed = _allowed(node, catalog.tags[node.tag].allowed_values)
        if allowed is None:
            continue
        values, paths = narrowed.get(node.tag, (set(catalog.tags[node.tag].allowed_values), []))
        narrowed[node.tag] = (values & allowed, [*paths, path])
    for tag, (values, paths) in narrowed.items():
        if not values and len(paths) > 1:
            found.append(
                SegmentWarning(
                    file, paths[-1], f"never matches: {tag} cannot meet {' and '.join(paths)} at once"
                )
            )
    stages, stage_paths = narrowed.get(LIFECYCLE_TAG, (set(), []))
    if not stages or not stages <= set(windows):
        return found
    silent_days = min(windows[stage] for stage in stages)
    shown = ", ".join(sorted(stages))
    for node, path in conditions:
        kind = node_kind(node)
        if kind not in ("event", "sequence") or not node.did or node.last_days > silent_days:
            continue
        what = f"a {node.event} event" if kind == "event" else f"the sequence {' then '.join(node.sequence)}"
        found.append(
            SegmentWarning(
                file,
                path,
                f"never matches: {LIFECYCLE_TAG} {shown} ({stage_paths[-1]}) means no event for "
                f"{silent_days} days (vars fundcdp.tags.*_after_days), but this needs {what} in the last "
                f"{node.last_days} days",
            )
        )
    return found
