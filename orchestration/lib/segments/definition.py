"""Segment definitions (``segments/<name>.yml``): parsing and validation against the tag catalog.

A definition is validated completely before anything runs; every problem is a :class:`SegmentError`
naming the file, the path inside it (e.g. ``rule.all[1].value``) and the reason.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orchestration.lib.rules import load_business_rules
from orchestration.paths import DBT_PROJECT_DIR, SEGMENTS_DIR

TAG_CATALOG_CSV = DBT_PROJECT_DIR / "seeds" / "tag_catalog.csv"
PURPOSES = ("marketing", "compliance")
PRODUCT_RISKS = ("R1", "R2", "R3", "R4", "R5")
REFRESHES = ("daily", "weekly", "monthly")
SPLIT_GROUPS = ("test", "control", "holdout")
OPERATORS_BY_TYPE = {
    "enum": {"=", "!=", "in", "not in", "is null", "is not null"},
    "text": {"=", "!=", "in", "not in", "is null", "is not null"},
    "number": {"=", "!=", ">=", "<=", "between", "in", "not in", "is null", "is not null"},
    "date": {"=", "!=", ">=", "<=", "between", "is null", "is not null"},
    "boolean": {"=", "!=", "is null", "is not null"},
}
ALL_OPERATORS = set().union(*OPERATORS_BY_TYPE.values())
RELATIVE_DATE = re.compile(r"^-?\d+d$")  # "-30d": 30 days before the as-of date; "0d": the as-of date
NAME = re.compile(r"^[a-z][a-z0-9_]{1,62}$")


class SegmentError(ValueError):
    """A definition problem: the file, the path inside it, the reason."""

    def __init__(self, file: Path | str, path: str, reason: str):
        self.file, self.path, self.reason = str(file), path, reason
        super().__init__(f"{file}: {path}: {reason}")


@dataclass(frozen=True)
class Tag:
    code: str
    table: str
    tag_type: str
    allowed_values: tuple[str, ...]


@dataclass(frozen=True)
class Catalog:
    """What a rule may reference: the tag catalog, the known events and their filterable properties."""

    tags: dict[str, Tag]
    events: frozenset[str]
    event_properties: frozenset[str]
    consent_channels: tuple[str, ...]

    @classmethod
    def load(cls, tag_catalog_csv: Path = TAG_CATALOG_CSV) -> Catalog:
        with tag_catalog_csv.open(newline="", encoding="utf-8") as handle:
            tags = {
                row["tag_code"]: Tag(
                    row["tag_code"],
                    row["tag_table"],
                    row["tag_type"],
                    tuple(v for v in (row["allowed_values"] or "").split("|") if v),
                )
                for row in csv.DictReader(handle)
            }
        rules = load_business_rules()["segments"]
        return cls(
            tags=tags,
            events=frozenset(rules["known_events"]),
            event_properties=frozenset(rules["event_properties"]),
            consent_channels=tuple(rules["consent_channels"]),
        )


@dataclass(frozen=True)
class Segment:
    """A validated definition. ``rule`` is the validated rule tree (plain dicts, see README "Segments")."""

    name: str
    owner: str
    description: str
    purpose: str
    channel: str | None
    promoted_product_risk: str | None
    refresh: str
    size_min: int
    size_max: int | None
    max_change: float | None
    split: dict[str, float] = field(default_factory=dict)
    rule: dict[str, Any] = field(default_factory=dict)
    file: str = ""


def load_segment(path: Path, catalog: Catalog) -> Segment:
    """Parse and validate one definition file."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as problem:
        raise SegmentError(path, "(file)", f"not valid YAML: {problem}") from problem
    if not isinstance(document, dict):
        raise SegmentError(path, "(file)", "a definition is a mapping of fields")
    known = {"name", "owner", "description", "purpose", "channel", "promoted_product_risk", "refresh", "size",
             "max_change", "split", "rule"}  # fmt: skip
    for key in document:
        if key not in known:
            raise SegmentError(path, str(key), f"unknown field (known: {', '.join(sorted(known))})")
    for required in ("name", "owner", "description", "purpose", "rule"):
        if not document.get(required):
            raise SegmentError(path, required, "required")
    name = document["name"]
    if not isinstance(name, str) or not NAME.match(name):
        raise SegmentError(path, "name", "lowercase letters, digits and underscores, starting with a letter")
    if name != path.stem:
        raise SegmentError(path, "name", f"must equal the file name ({path.stem})")
    purpose = document["purpose"]
    if purpose not in PURPOSES:
        raise SegmentError(path, "purpose", f"{purpose!r} is not one of {', '.join(PURPOSES)}")
    channel = document.get("channel")
    if purpose == "marketing":
        if channel not in catalog.consent_channels:
            raise SegmentError(
                path,
                "channel",
                f"a marketing segment needs a channel in {', '.join(catalog.consent_channels)}",
            )
    elif channel is not None:
        raise SegmentError(path, "channel", "only marketing segments have a channel")
    risk = document.get("promoted_product_risk")
    if risk is not None and risk not in PRODUCT_RISKS:
        raise SegmentError(path, "promoted_product_risk", f"{risk!r} is not one of R1..R5")
    refresh = document.get("refresh", "daily")
    if refresh not in REFRESHES:
        raise SegmentError(path, "refresh", f"{refresh!r} is not one of {', '.join(REFRESHES)}")
    size = document.get("size") or {}
    if not isinstance(size, dict) or set(size) - {"min", "max"}:
        raise SegmentError(path, "size", "a mapping with min and / or max")
    size_min, size_max = size.get("min", 0), size.get("max")
    for key, value in (("min", size_min), ("max", size_max)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise SegmentError(path, f"size.{key}", "a whole number >= 0")
    if size_max is not None and size_max < size_min:
        raise SegmentError(path, "size", "max is below min")
    max_change = document.get("max_change")
    if max_change is not None and (not isinstance(max_change, (int, float)) or max_change < 0):
        raise SegmentError(path, "max_change", "a share >= 0 of the previous version's size (e.g. 0.5)")
    split = document.get("split") or {}
    if not isinstance(split, dict):
        raise SegmentError(path, "split", "a mapping of group to share, e.g. {test: 0.9, control: 0.1}")
    for group, share in split.items():
        if group not in SPLIT_GROUPS:
            raise SegmentError(path, f"split.{group}", f"groups are {', '.join(SPLIT_GROUPS)}")
        if not isinstance(share, (int, float)) or isinstance(share, bool) or not 0 < share <= 1:
            raise SegmentError(path, f"split.{group}", "a share between 0 and 1")
    if split and abs(sum(split.values()) - 1) > 1e-9:
        raise SegmentError(path, "split", f"shares add up to {sum(split.values())}, not 1")
    validate_rule(document["rule"], catalog, path, "rule")
    return Segment(
        name=name,
        owner=str(document["owner"]),
        description=str(document["description"]).strip(),
        purpose=purpose,
        channel=channel,
        promoted_product_risk=risk,
        refresh=refresh,
        size_min=size_min,
        size_max=size_max,
        max_change=float(max_change) if max_change is not None else None,
        split={group: float(share) for group, share in split.items()},
        rule=document["rule"],
        file=str(path),
    )


def load_segments(directory: Path = SEGMENTS_DIR, catalog: Catalog | None = None) -> list[Segment]:
    """Every definition under ``directory``, validated; the first problem raises."""
    catalog = catalog or Catalog.load()
    return [load_segment(path, catalog) for path in sorted(directory.glob("*.yml"))]


def validate_all(directory: Path = SEGMENTS_DIR, catalog: Catalog | None = None) -> list[SegmentError]:
    """Every problem of every definition (one per file: validation stops at a file's first problem)."""
    catalog = catalog or Catalog.load()
    problems = []
    for path in sorted(directory.glob("*.yml")):
        try:
            load_segment(path, catalog)
        except SegmentError as problem:
            problems.append(problem)
    return problems


def validate_rule(node: Any, catalog: Catalog, file: Path, path: str) -> None:
    """Validate a rule node: ``all`` / ``any`` (lists), ``not`` (a node), or a tag / event / sequence leaf."""
    if not isinstance(node, dict) or len(node) == 0:
        raise SegmentError(file, path, "a rule node is a mapping: all, any, not, tag, event or sequence")
    if "all" in node or "any" in node:
        key = "all" if "all" in node else "any"
        if len(node) != 1:
            raise SegmentError(file, path, f"{key} stands alone in its node")
        children = node[key]
        if not isinstance(children, list) or not children:
            raise SegmentError(file, f"{path}.{key}", "a non-empty list of rule nodes")
        for index, child in enumerate(children):
            validate_rule(child, catalog, file, f"{path}.{key}[{index}]")
    elif "not" in node:
        if len(node) != 1:
            raise SegmentError(file, path, "not stands alone in its node")
        validate_rule(node["not"], catalog, file, f"{path}.not")
    elif "tag" in node:
        _validate_tag_condition(node, catalog, file, path)
    elif "event" in node:
        _validate_event_condition(node, catalog, file, path)
    elif "sequence" in node:
        _validate_sequence_condition(node, catalog, file, path)
    else:
        raise SegmentError(
            file, path, f"unknown node {sorted(node)}: use all, any, not, tag, event or sequence"
        )


def _validate_tag_condition(node: dict, catalog: Catalog, file: Path, path: str) -> None:
    extra = set(node) - {"tag", "op", "value"}
    if extra:
        raise SegmentError(file, f"{path}.{sorted(extra)[0]}", "a tag condition has tag, op and value")
    code = node["tag"]
    tag = catalog.tags.get(code)
    if tag is None:
        raise SegmentError(file, f"{path}.tag", f"unknown tag {code!r} (see the tag catalog)")
    operator = node.get("op")
    if operator not in ALL_OPERATORS:
        raise SegmentError(file, f"{path}.op", f"unknown operator {operator!r}")
    if operator not in OPERATORS_BY_TYPE[tag.tag_type]:
        raise SegmentError(
            file, f"{path}.op", f"operator {operator!r} does not fit {tag.tag_type} tag {code!r} "
            f"(use {', '.join(sorted(OPERATORS_BY_TYPE[tag.tag_type]))})",
        )  # fmt: skip
    if operator in ("is null", "is not null"):
        if "value" in node:
            raise SegmentError(file, f"{path}.value", f"{operator!r} takes no value")
        return
    if "value" not in node:
        raise SegmentError(file, f"{path}.value", f"{operator!r} needs a value")
    value = node["value"]
    if operator in ("in", "not in"):
        if not isinstance(value, list) or not value:
            raise SegmentError(file, f"{path}.value", f"{operator!r} needs a non-empty list")
        values = value
    elif operator == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise SegmentError(file, f"{path}.value", "between needs [low, high]")
        values = value
    else:
        if isinstance(value, list):
            raise SegmentError(file, f"{path}.value", f"{operator!r} needs a single value")
        values = [value]
    for index, item in enumerate(values):
        item_path = (
            f"{path}.value" if len(values) == 1 and not isinstance(value, list) else f"{path}.value[{index}]"
        )
        _validate_value(tag, item, file, item_path)


def _validate_value(tag: Tag, value: Any, file: Path, path: str) -> None:
    if tag.tag_type == "boolean":
        if not isinstance(value, bool):
            raise SegmentError(file, path, f"{tag.code} is a flag: true or false")
    elif tag.tag_type == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SegmentError(file, path, f"{tag.code} is a number, not {value!r}")
    elif tag.tag_type == "date":
        text = str(value)
        if not RELATIVE_DATE.match(text):
            try:
                from datetime import date

                date.fromisoformat(text)
            except ValueError:
                raise SegmentError(
                    file,
                    path,
                    f"{tag.code} is a date: YYYY-MM-DD, or '-30d' for 30 days before the as-of date",
                ) from None
    elif tag.tag_type == "enum":
        if str(value) not in tag.allowed_values:
            raise SegmentError(
                file,
                path,
                f"{value!r} is not an allowed value of {tag.code} ({', '.join(tag.allowed_values)})",
            )
    elif not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise SegmentError(file, path, f"{tag.code} is text, not {value!r}")


def _validate_event_condition(node: dict, catalog: Catalog, file: Path, path: str) -> None:
    extra = set(node) - {"event", "did", "at_least", "last_days", "where"}
    if extra:
        raise SegmentError(
            file,
            f"{path}.{sorted(extra)[0]}",
            "an event condition has event, did, at_least, last_days, where",
        )
    if node["event"] not in catalog.events:
        raise SegmentError(file, f"{path}.event", f"unknown event {node['event']!r}")
    _validate_event_common(node, catalog, file, path)
    at_least = node.get("at_least", 1)
    if isinstance(at_least, bool) or not isinstance(at_least, int) or at_least < 1:
        raise SegmentError(file, f"{path}.at_least", "a whole number >= 1")


def _validate_sequence_condition(node: dict, catalog: Catalog, file: Path, path: str) -> None:
    extra = set(node) - {"sequence", "within_days", "did", "last_days", "where"}
    if extra:
        raise SegmentError(
            file, f"{path}.{sorted(extra)[0]}", "a sequence has sequence, within_days, did, last_days, where"
        )
    steps = node["sequence"]
    if not isinstance(steps, list) or len(steps) != 2:
        raise SegmentError(file, f"{path}.sequence", "two events: [first, then]")
    for index, step in enumerate(steps):
        if step not in catalog.events:
            raise SegmentError(file, f"{path}.sequence[{index}]", f"unknown event {step!r}")
    within = node.get("within_days")
    if isinstance(within, bool) or not isinstance(within, int) or within < 1:
        raise SegmentError(file, f"{path}.within_days", "a whole number of days >= 1")
    _validate_event_common(node, catalog, file, path)


def _validate_event_common(node: dict, catalog: Catalog, file: Path, path: str) -> None:
    if not isinstance(node.get("did", True), bool):
        raise SegmentError(file, f"{path}.did", "true (did) or false (did not)")
    last_days = node.get("last_days")
    if isinstance(last_days, bool) or not isinstance(last_days, int) or last_days < 1:
        raise SegmentError(file, f"{path}.last_days", "a whole number of days >= 1")
    where = node.get("where") or {}
    if not isinstance(where, dict):
        raise SegmentError(file, f"{path}.where", "a mapping of event property to value (or list of values)")
    for prop, value in where.items():
        if prop not in catalog.event_properties:
            raise SegmentError(
                file,
                f"{path}.where.{prop}",
                f"unknown event property (use {', '.join(sorted(catalog.event_properties))})",
            )
        values = value if isinstance(value, list) else [value]
        if not values or any(isinstance(v, (dict, list, bool)) or v is None for v in values):
            raise SegmentError(file, f"{path}.where.{prop}", "a value or a non-empty list of values")
