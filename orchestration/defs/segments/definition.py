"""Segment definitions (``segments/<name>.yml``): parsed into typed models, validated against the catalog.

A definition is validated completely before anything runs; every problem is a :class:`SegmentError`
naming the file, the path inside it (e.g. ``rule.all[1].where.amount_cny``) and the reason.

Two passes. The YAML (no anchors or aliases, nesting and size bounded) is parsed into strict pydantic
models built from the catalog (:func:`segment_model`): rule nodes are a discriminated union
(all / any / not / tag / event / sequence), tag codes, events, operators and channels are closed sets,
every ``where:`` value has the type the catalog declares for its event property, nothing is coerced
(``"5"`` is not a number, ``5`` is not a text) and every list and string is bounded. The second pass
checks what depends on a tag's type: the operator fits it, a value has the tag's type (and is one of an
enum's allowed values), and the rule is not nested too deep. The same models give the JSON Schema
(:func:`json_schema`, committed as ``segments/segment.schema.json``) that editors use.
"""

from __future__ import annotations

import csv
import difflib
import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    PrivateAttr,
    ValidationError,
    WithJsonSchema,
    create_model,
    model_validator,
)
from pydantic import Tag as UnionTag

from orchestration.lib.paths import DBT_PROJECT_DIR, SEGMENTS_DIR
from orchestration.lib.rules import load_business_rules

TAG_CATALOG_CSV = DBT_PROJECT_DIR / "seeds" / "tag_catalog.csv"
SCHEMA_FILE = SEGMENTS_DIR / "segment.schema.json"
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
OPERATORS = ("=", "!=", ">=", "<=", "between", "in", "not in", "is null", "is not null")
ALL_OPERATORS = set(OPERATORS)
PROPERTY_TYPES = ("text", "number")  # what vars: fundcdp: segments: event_properties may declare
# "-30d": 30 days before the as-of date; "0d": the as-of date (at most 99,999 days either way)
RELATIVE_DATE = re.compile(r"^-?\d{1,5}d$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
NAME = re.compile(r"^[a-z][a-z0-9_]{1,62}$")
SQL_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")  # a tag code, event property or channel: a column name

# Limits: a definition is small, and anything beyond these is a mistake or an attack.
MAX_FILE_BYTES = 64 * 1024
MAX_YAML_DEPTH = 40  # nested YAML mappings / lists
MAX_RULE_DEPTH = 8  # nested all / any / not
MAX_RULE_NODES = 200
MAX_LIST_ITEMS = 100  # children of all / any, values of in / not in / where
MAX_TEXT = 200  # a text value, owner
MAX_DESCRIPTION = 2000
MAX_NUMBER = 10**15  # |a number value|
MAX_DAYS = 3660  # last_days, within_days
MAX_AT_LEAST = 100_000
MAX_SIZE = 10**9  # size.min / size.max


class SegmentError(ValueError):
    """A definition problem: the file, the path inside it, the reason."""

    def __init__(self, file: Path | str, path: str, reason: str):
        self.file, self.path, self.reason = str(file), path, reason
        super().__init__(f"{file}: {path}: {reason}")

    @property
    def problems(self) -> list[SegmentError]:
        """Every problem of the file (this one alone; :class:`SegmentErrors` holds several)."""
        return [self]


class SegmentErrors(SegmentError):
    """Every problem of one file: ``problems`` in file order; ``path`` and ``reason`` are the first's."""

    def __init__(self, problems: list[SegmentError]):
        unique: list[SegmentError] = []
        for problem in problems:
            if all((p.path, p.reason) != (problem.path, problem.reason) for p in unique):
                unique.append(problem)
        first = unique[0]
        self.file, self.path, self.reason = first.file, first.path, first.reason
        self._problems = unique
        ValueError.__init__(self, "\n".join(f"{p.file}: {p.path}: {p.reason}" for p in unique))

    @property
    def problems(self) -> list[SegmentError]:
        return list(self._problems)


def _raise_all(problems: list[SegmentError]) -> None:
    """Raise the problems found (none: nothing), as one error; called inside ``except ValidationError``
    too, whose context would only repeat them."""
    if not problems:
        return
    error = problems[0] if len(problems) == 1 else SegmentErrors(problems)
    error.__suppress_context__ = True
    raise error


@dataclass(frozen=True)
class SegmentWarning:
    """A definition that is valid but will not do what it says: a rule that can never match."""

    file: str
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.reason}"


def did_you_mean(value: Any, known: Any) -> str:
    """ "; did you mean 'x'?" for the closest known name (difflib), or "" when none is close."""
    if not isinstance(value, str):
        return ""
    swapped = [str(name) for name in known if sorted(str(name)) == sorted(value) and str(name) != value]
    if swapped:  # the same characters in another order ("=<" for "<=")
        return f"; did you mean {swapped[0]!r}?"
    close = difflib.get_close_matches(value, [str(name) for name in known], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


@dataclass(frozen=True)
class Tag:
    code: str
    table: str
    tag_type: str
    allowed_values: tuple[str, ...]


@dataclass(frozen=True)
class Catalog:
    """What a rule may reference: the tag catalog, the known events, their filterable properties (name ->
    type, ``text`` or ``number``) and the consent channels. Every name here is checked to be a plain
    column name, as it is written into the compiled SQL."""

    tags: dict[str, Tag]
    events: frozenset[str]
    event_properties: dict[str, str]
    consent_channels: tuple[str, ...]
    # attributes of the event's fund (fund_products, by the event's fund_code): usable in `where:` too
    product_properties: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for kind, names in (
            ("tag", self.tags),
            ("event property", self.event_properties),
            ("product property", self.product_properties),
            ("consent channel", self.consent_channels),
        ):
            for name in names:
                if not SQL_NAME.match(name):
                    raise ValueError(f"catalog: {kind} {name!r} is not a plain column name")
        if overlap := set(self.event_properties) & set(self.product_properties):
            raise ValueError(f"catalog: {sorted(overlap)} are both event and product properties")
        for name, kind in {**self.event_properties, **self.product_properties}.items():
            if kind not in PROPERTY_TYPES:
                raise ValueError(
                    f"catalog: event property {name!r} has type {kind!r}, not one of {PROPERTY_TYPES}"
                )

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
            event_properties=dict(rules["event_properties"]),
            consent_channels=tuple(rules["consent_channels"]),
            product_properties=dict(rules.get("product_properties") or {}),
        )

    @property
    def where_properties(self) -> dict[str, str]:
        """Every property a `where:` may name (event properties, then the event's fund's), with its type."""
        return {**self.event_properties, **self.product_properties}

    @cached_property
    def models(self) -> dict[str, Any]:
        """The pydantic models of a definition for this catalog (built once)."""
        return _build_models(self)


# --- scalar types: each checks its input exactly (no coercion) and says what it wants -----------------


def _check_text(value: Any, max_length: int = MAX_TEXT, multiline: bool = False) -> str:
    if not isinstance(value, str):
        raise ValueError(f"a text (in quotes), not {_show(value)}")
    if not value:
        raise ValueError("an empty text")
    if len(value) > max_length:
        raise ValueError(f"a text of at most {max_length} characters, not {len(value)}")
    for character in value:
        if multiline and character in "\n\t":
            continue
        if unicodedata.category(character) in ("Cc", "Cf", "Cs", "Co"):
            raise ValueError(f"a text without control, format or surrogate characters (found {character!r})")
    return value


def _check_number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"a number, not {_show(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"a finite number, not {value!r}")
    if abs(value) > MAX_NUMBER:
        raise ValueError(f"a number between -{MAX_NUMBER:.0e} and {MAX_NUMBER:.0e}")
    return value


def _whole(low: int, high: int, what: str = "a whole number"):
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"{what} from {low} to {high}, not {_show(value)}")
        return value

    return check


def _check_share(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"a share between 0 and 1, not {_show(value)}")
    if not 0 < value <= 1:
        raise ValueError("a share between 0 and 1")
    return float(value)


def _check_max_change(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"a share >= 0 of the previous version's size (e.g. 0.5), not {_show(value)}")
    if not 0 <= value <= 1000:
        raise ValueError("a share >= 0 of the previous version's size (e.g. 0.5), at most 1000")
    return float(value)


def _check_tag_scalar(value: Any) -> bool | int | float | str | date:
    """A tag value before its tag's type is known: a flag, a number, a text or a date."""
    if isinstance(value, bool) or isinstance(value, date) and type(value) is date:
        return value
    if isinstance(value, (int, float)):
        return _check_number(value)
    if isinstance(value, str):
        return _check_text(value)
    raise ValueError(f"a flag, a number, a text or a date, not {_show(value)}")


def _show(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _typed(python_type: Any, check, schema: dict) -> Any:
    return Annotated[python_type, PlainValidator(check), WithJsonSchema(schema)]


Text = _typed(str, _check_text, {"type": "string", "minLength": 1, "maxLength": MAX_TEXT})
Description = _typed(
    str, lambda v: _check_text(v, MAX_DESCRIPTION, multiline=True),
    {"type": "string", "minLength": 1, "maxLength": MAX_DESCRIPTION},
)  # fmt: skip
Number = _typed(float, _check_number, {"type": "number", "minimum": -MAX_NUMBER, "maximum": MAX_NUMBER})
Days = _typed(
    int, _whole(1, MAX_DAYS, "a whole number of days"), {"type": "integer", "minimum": 1, "maximum": MAX_DAYS}
)
AtLeast = _typed(int, _whole(1, MAX_AT_LEAST), {"type": "integer", "minimum": 1, "maximum": MAX_AT_LEAST})
Size = _typed(int, _whole(0, MAX_SIZE), {"type": "integer", "minimum": 0, "maximum": MAX_SIZE})
Share = _typed(float, _check_share, {"type": "number", "exclusiveMinimum": 0, "maximum": 1})
MaxChange = _typed(float, _check_max_change, {"type": "number", "minimum": 0, "maximum": 1000})
Flag = _typed(
    bool, lambda v: v if isinstance(v, bool) else _fail(f"true or false, not {_show(v)}"), {"type": "boolean"}
)
TagScalar = _typed(
    Any, _check_tag_scalar,
    {"anyOf": [{"type": "boolean"}, {"type": "number"}, {"type": "string", "maxLength": MAX_TEXT}]},
)  # fmt: skip


def _fail(reason: str):
    raise ValueError(reason)


# Discriminator tags: they appear in pydantic's error locations and are dropped from a SegmentError's path.
NODE_KINDS = ("all", "any", "not", "tag", "event", "sequence")
ONE, MANY = "(one)", "(list)"
LOCATION_TAGS = {f"({kind})" for kind in NODE_KINDS} | {ONE, MANY}
NODE_FIELDS = {
    "all": "all",
    "any": "any",
    "not": "not",
    "tag": "tag, op and value",
    "event": "event, did, at_least, last_days and where",
    "sequence": "sequence, within_days, did, last_days and where",
}
NODE_ERROR = "a rule node is a mapping with exactly one of all, any, not, tag, event or sequence"


def _node_kind(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    kinds = [kind for kind in NODE_KINDS if kind in value]
    return f"({kinds[0]})" if len(kinds) == 1 else None


def _one_or_many(item_type: Any, max_items: int = MAX_LIST_ITEMS) -> Any:
    """A value or a non-empty list of values (``where: {platform: ios}`` or ``{platform: [ios, h5]}``)."""
    return Annotated[
        Annotated[item_type, UnionTag(ONE)]
        | Annotated[list[item_type], Field(min_length=1, max_length=max_items), UnionTag(MANY)],
        Discriminator(lambda v: MANY if isinstance(v, list) else ONE),
    ]


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, populate_by_name=False)


class _WhereBase(_Model):
    """Keeps the order of the file's properties (the compiled filters follow it)."""

    _order: tuple[str, ...] = PrivateAttr(default=())

    @model_validator(mode="wrap")
    @classmethod
    def _remember_order(cls, data: Any, handler):  # noqa: ANN206
        model = handler(data)
        if isinstance(data, dict):
            model._order = tuple(key for key in data if key in type(model).model_fields)
        return model


def _build_models(catalog: Catalog) -> dict[str, Any]:
    """The models of a definition whose closed sets (tags, events, properties, channels) come from
    ``catalog``."""
    tag_codes = Literal[tuple(sorted(catalog.tags))]  # type: ignore[valid-type]
    event_names = Literal[tuple(sorted(catalog.events))]  # type: ignore[valid-type]
    channels = Literal[tuple(catalog.consent_channels)]  # type: ignore[valid-type]
    property_types = {"text": Text, "number": Number}
    where_model = create_model(
        "EventWhere",
        __base__=_WhereBase,
        __doc__="Event property filters: each property's value (or list of values) has its declared type.",
        **{
            prop: (_one_or_many(property_types[kind]) | None, None)
            for prop, kind in catalog.where_properties.items()
        },
    )

    class AllNode(_Model):
        """Every child matches."""

        all: list[Rule] = Field(min_length=1, max_length=MAX_LIST_ITEMS)

    class AnyNode(_Model):
        """At least one child matches."""

        any: list[Rule] = Field(min_length=1, max_length=MAX_LIST_ITEMS)

    class NotNode(_Model):
        """The child does not match (a condition on a missing value never selects anyone)."""

        not_: Rule = Field(alias="not")

    class TagCondition(_Model):
        """A tag of the catalog compared with a value of the tag's type."""

        tag: tag_codes
        op: Literal[OPERATORS]  # type: ignore[valid-type]
        value: _one_or_many(TagScalar) | None = None

    class EventCondition(_Model):
        """An event did (or did not) happen at least ``at_least`` times in the last ``last_days`` days."""

        event: event_names
        did: Flag = True
        at_least: AtLeast = 1
        last_days: Days
        where: where_model | None = None

    class SequenceCondition(_Model):
        """Event A in the last ``last_days`` days, then event B within ``within_days`` days after it."""

        sequence: list[event_names] = Field(min_length=2, max_length=2)
        within_days: Days
        did: Flag = True
        last_days: Days
        where: where_model | None = None

    Rule = Annotated[
        Annotated[AllNode, UnionTag("(all)")]
        | Annotated[AnyNode, UnionTag("(any)")]
        | Annotated[NotNode, UnionTag("(not)")]
        | Annotated[TagCondition, UnionTag("(tag)")]
        | Annotated[EventCondition, UnionTag("(event)")]
        | Annotated[SequenceCondition, UnionTag("(sequence)")],
        Discriminator(_node_kind, custom_error_type="rule_node", custom_error_message=NODE_ERROR),
    ]

    class SegmentSize(_Model):
        """A version outside these bounds is not published."""

        min: Size = 0
        max: Size | None = None

    class SegmentFile(_Model):
        """A segment definition (segments/<name>.yml). See docs/segments.md."""

        model_config = ConfigDict(title="fundcdp segment definition")

        name: Annotated[str, Field(pattern=NAME.pattern)]
        owner: Text
        description: Description
        purpose: Literal[PURPOSES]  # type: ignore[valid-type]
        channel: channels | None = None
        promoted_product_risk: Literal[PRODUCT_RISKS] | None = None  # type: ignore[valid-type]
        refresh: Literal[REFRESHES] = "daily"  # type: ignore[valid-type]
        size: SegmentSize = SegmentSize()
        max_change: MaxChange | None = None
        # a change of fewer persons (entered + exited) never blocks, whatever its share of max_change
        min_changed_persons: Size | None = None
        split: dict[Literal[SPLIT_GROUPS], Share] = Field(default_factory=dict, max_length=3)  # type: ignore[valid-type]
        rule: Rule

    namespace = {"Rule": Rule}
    for model in (AllNode, AnyNode, NotNode):
        model.model_rebuild(_types_namespace=namespace)
    SegmentFile.model_rebuild(_types_namespace=namespace)
    from pydantic import TypeAdapter

    return {
        "file": SegmentFile,
        "rule": TypeAdapter(Rule),
        "all": AllNode,
        "any": AnyNode,
        "not": NotNode,
        "tag": TagCondition,
        "event": EventCondition,
        "sequence": SequenceCondition,
        "where": where_model,
    }


def node_kind(node: BaseModel) -> str:
    """all, any, not, tag, event or sequence."""
    for kind in ("all", "any", "tag", "event", "sequence"):
        if kind in type(node).model_fields:
            return kind
    return "not"


def children(node: BaseModel) -> list[BaseModel]:
    kind = node_kind(node)
    if kind in ("all", "any"):
        return list(getattr(node, kind))
    return [node.not_] if kind == "not" else []


def where_items(node: BaseModel) -> list[tuple[str, list]]:
    """An event or sequence condition's property filters: (property, values) in the file's order."""
    where = getattr(node, "where", None)
    if where is None:
        return []
    order = where._order or tuple(where.model_fields_set)
    values = [(prop, getattr(where, prop)) for prop in order]
    return [
        (prop, value if isinstance(value, list) else [value]) for prop, value in values if value is not None
    ]


@dataclass(frozen=True)
class Segment:
    """A validated definition. ``rule`` is the typed rule tree (see :func:`parse_rule`)."""

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
    min_changed_persons: int | None = None
    split: dict[str, float] = field(default_factory=dict)
    rule: Any = None
    file: str = ""


# --- YAML ------------------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader without anchors / aliases (no alias bombs, a definition needs none), with bounded
    nesting and without duplicate keys (the later one would silently win)."""

    def compose_node(self, parent, index):  # noqa: ANN001, ANN201
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "anchors and aliases (&, *) are not allowed", mark)
        event = self.peek_event()
        if getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases (&, *) are not allowed", event.start_mark
            )
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_YAML_DEPTH} levels", event.start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):  # noqa: ANN001, ANN201
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain value", key_node.start_mark
                ) from None
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
        return super().construct_mapping(node, deep=deep)


def read_document(path: Path) -> Any:
    """The YAML document of a definition file, or a SegmentError at path ``(file)``."""
    try:
        raw = path.read_bytes()
    except OSError as problem:
        raise SegmentError(path, "(file)", f"cannot be read: {problem.strerror}") from problem
    if len(raw) > MAX_FILE_BYTES:
        raise SegmentError(path, "(file)", f"larger than {MAX_FILE_BYTES} bytes ({len(raw)})")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as problem:
        raise SegmentError(path, "(file)", f"not UTF-8 ({problem.reason} at byte {problem.start})") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as problem:
        raise SegmentError(path, "(file)", f"not valid YAML: {_one_line(problem)}") from problem
    except RecursionError:
        raise SegmentError(path, "(file)", "not valid YAML: nested too deeply") from None


def _one_line(problem: Exception) -> str:
    return " ".join(str(problem).split())[:300]


# --- pydantic errors -> SegmentError ---------------------------------------------------------------

HINTS = {
    "last_days": "a whole number of days >= 1",
    "within_days": "a whole number of days >= 1",
    "sequence": "two events: [first, then]",
    "op": f"one of {', '.join(OPERATORS)}",
}


def _location(loc: tuple) -> str:
    parts: list[str] = []
    for item in loc:
        if item in LOCATION_TAGS or item == "[key]":
            continue
        if isinstance(item, int) and parts:
            parts[-1] += f"[{item}]"
        else:
            parts.append(str(item))
    return ".".join(parts) or "(file)"


def _node_of(loc: tuple) -> str | None:
    """The kind of the innermost rule node in a location (from its discriminator tag)."""
    kinds = [item[1:-1] for item in loc if isinstance(item, str) and item in LOCATION_TAGS - {ONE, MANY}]
    return kinds[-1] if kinds else None


def _reason(error: dict, catalog: Catalog, top_fields: list[str]) -> str:
    kind, loc = error["type"], error["loc"]
    names = [item for item in loc if isinstance(item, str) and item not in LOCATION_TAGS]
    last = names[-1] if names else ""
    value = error.get("input")
    if kind == "missing":
        return f"required: {HINTS[last]}" if last in HINTS else "required"
    if kind == "extra_forbidden":
        if "where" in names[:-1]:
            known = ", ".join(sorted(catalog.where_properties))
            return f"unknown event property (use {known}){did_you_mean(last, catalog.where_properties)}"
        node = _node_of(loc)
        if node is None:
            return f"unknown field (known: {', '.join(sorted(top_fields))}){did_you_mean(last, top_fields)}"
        article = "an" if node[0] in "aeiou" else "a"
        fields_of_node = re.split(r", | and ", NODE_FIELDS[node])
        suggestion = did_you_mean(last, fields_of_node)
        return f"unknown field: {article} {node} node has {NODE_FIELDS[node]}{suggestion}"
    if kind == "literal_error":
        if last == "tag" and _node_of(loc) == "tag":
            return f"unknown tag {_show(value)} (see the tag catalog){did_you_mean(value, catalog.tags)}"
        if last in ("event", "sequence") or (names[-2:-1] == ["sequence"] and isinstance(loc[-1], int)):
            known = ", ".join(sorted(catalog.events))
            return f"unknown event {_show(value)} (known: {known}){did_you_mean(value, catalog.events)}"
        if last == "op":
            return f"unknown operator {_show(value)} ({HINTS['op']}){did_you_mean(value, OPERATORS)}"
        if "split" in names:
            return f"groups are {', '.join(SPLIT_GROUPS)}{did_you_mean(value, SPLIT_GROUPS)}"
        if last == "channel":
            channels = catalog.consent_channels
            return f"{_show(value)} is not a channel: {', '.join(channels)}{did_you_mean(value, channels)}"
        expected = error["ctx"]["expected"]
        suggestion = did_you_mean(value, re.findall(r"'([^']*)'", expected))
        return f"{_show(value)} is not {expected}{suggestion}"
    if kind == "rule_node":
        if isinstance(value, dict):
            return f"unknown node {_show(sorted(map(str, value)))}: {NODE_ERROR}"
        return f"{NODE_ERROR}, not {_show(value)}"
    if kind == "too_short" and last in ("all", "any"):
        return "a non-empty list of rule nodes"
    if kind in ("too_short", "too_long") and (last == "value" or "where" in names[:-1]):
        return f"a value or a list of 1 to {MAX_LIST_ITEMS} values"
    if kind in ("too_short", "too_long") and last == "sequence":
        return HINTS["sequence"]
    if kind == "string_pattern_mismatch" and last == "name":
        return "lowercase letters, digits and underscores, starting with a letter (2 to 63 characters)"
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    hint = HINTS.get(last)
    message = error["msg"]
    return f"{hint}: {message}" if hint else message


def _all_errors(
    problem: ValidationError, file: Path | str, catalog: Catalog, top_fields: list[str], prefix: tuple = ()
) -> list[SegmentError]:
    """Every error pydantic collected, each with its path and reason."""
    found = []
    for error in problem.errors(include_url=False):
        loc = (*prefix, *error["loc"])
        found.append(SegmentError(file, _location(loc), _reason({**error, "loc": loc}, catalog, top_fields)))
    return found


# --- semantic checks (what depends on a tag's type) -------------------------------------------------


def _check_rule(
    node: BaseModel,
    catalog: Catalog,
    file: Path | str,
    path: str,
    depth: int,
    count: list[int],
    problems: list[SegmentError],
) -> None:
    """Append every problem of the rule tree to ``problems``."""
    count[0] += 1
    if count[0] > MAX_RULE_NODES:
        if count[0] == MAX_RULE_NODES + 1:
            problems.append(SegmentError(file, path, f"more than {MAX_RULE_NODES} rule nodes"))
        return
    kind = node_kind(node)
    if kind in ("all", "any", "not"):
        if depth >= MAX_RULE_DEPTH:
            problems.append(
                SegmentError(file, path, f"all / any / not nested deeper than {MAX_RULE_DEPTH} levels")
            )
            return
        if kind == "not":
            _check_rule(node.not_, catalog, file, f"{path}.not", depth + 1, count, problems)
        else:
            for index, child in enumerate(children(node)):
                _check_rule(child, catalog, file, f"{path}.{kind}[{index}]", depth + 1, count, problems)
    elif kind == "tag":
        try:
            _check_tag_condition(node, catalog, file, path)
        except SegmentError as problem:
            problems.append(problem)


def _check_tag_condition(node: BaseModel, catalog: Catalog, file: Path | str, path: str) -> None:
    tag = catalog.tags[node.tag]
    operator = node.op
    if operator not in OPERATORS_BY_TYPE[tag.tag_type]:
        raise SegmentError(
            file, f"{path}.op", f"operator {operator!r} does not fit {tag.tag_type} tag {tag.code!r} "
            f"(use {', '.join(sorted(OPERATORS_BY_TYPE[tag.tag_type]))})",
        )  # fmt: skip
    value = node.value
    if operator in ("is null", "is not null"):
        if value is not None:
            raise SegmentError(file, f"{path}.value", f"{operator!r} takes no value")
        return
    if value is None:
        raise SegmentError(file, f"{path}.value", f"{operator!r} needs a value")
    if operator in ("in", "not in"):
        if not isinstance(value, list):
            raise SegmentError(file, f"{path}.value", f"{operator!r} needs a non-empty list")
    elif operator == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise SegmentError(file, f"{path}.value", "between needs [low, high]")
    elif isinstance(value, list):
        raise SegmentError(file, f"{path}.value", f"{operator!r} needs a single value")
    items = value if isinstance(value, list) else [value]
    for index, item in enumerate(items):
        item_path = f"{path}.value[{index}]" if isinstance(value, list) else f"{path}.value"
        problem = tag_value_problem(tag, item)
        if problem:
            raise SegmentError(file, item_path, problem)


def tag_value_problem(tag: Tag, value: Any) -> str | None:
    """Why ``value`` is not a value of ``tag`` (None when it is). Nothing is coerced."""
    if tag.tag_type == "boolean":
        return None if isinstance(value, bool) else f"{tag.code} is a flag: true or false, not {_show(value)}"
    if tag.tag_type == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"{tag.code} is a number, not {_show(value)}"
        return None
    if tag.tag_type == "date":
        if type(value) is date:
            return None
        if isinstance(value, str) and RELATIVE_DATE.match(value):
            return None
        if isinstance(value, str) and ISO_DATE.match(value):
            try:
                date.fromisoformat(value)
                return None
            except ValueError:
                pass
        relative = "'-30d' for 30 days before the as-of date"
        return f"{tag.code} is a date: YYYY-MM-DD, or {relative}, not {_show(value)}"
    if not isinstance(value, str):
        kind = "an enum" if tag.tag_type == "enum" else "a text"
        return f"{tag.code} is {kind}: write {_show(str(value))} in quotes, not {_show(value)}"
    if tag.tag_type == "enum" and value not in tag.allowed_values:
        allowed = ", ".join(tag.allowed_values)
        suggestion = did_you_mean(value, tag.allowed_values)
        return f"{value!r} is not an allowed value of {tag.code} ({allowed}){suggestion}"
    return None


# --- loading ---------------------------------------------------------------------------------------


def parse_rule(rule: Any, catalog: Catalog, file: Path | str = "(inline)", path: str = "rule") -> BaseModel:
    """A rule tree (plain dicts, as in a file) as typed, validated rule nodes."""
    try:
        node = catalog.models["rule"].validate_python(rule)
    except ValidationError as problem:
        _raise_all(_all_errors(problem, file, catalog, [], prefix=(path,)))
    problems: list[SegmentError] = []
    _check_rule(node, catalog, file, path, 0, [0], problems)
    _raise_all(problems)
    return node


def _check_well_formed_parts(
    rule: Any, path: str, catalog: Catalog, file: Path | str, problems: list[SegmentError]
) -> None:
    """The semantic checks (:func:`_check_rule`) of every subtree of a rule that parses, when the whole
    does not: a file's tag-value problems are reported together with its other errors."""
    try:
        node = catalog.models["rule"].validate_python(rule)
    except ValidationError:
        if isinstance(rule, dict) and len(rule) == 1:
            (kind, value), *_ = rule.items()
            if kind in ("all", "any") and isinstance(value, list):
                for index, child in enumerate(value[:MAX_LIST_ITEMS]):
                    _check_well_formed_parts(child, f"{path}.{kind}[{index}]", catalog, file, problems)
            elif kind == "not":
                _check_well_formed_parts(value, f"{path}.not", catalog, file, problems)
        return
    _check_rule(node, catalog, file, path, 0, [0], problems)


def parse_segment(document: Any, catalog: Catalog, file: Path | str = "(inline)") -> Segment:
    """A definition document (the file's YAML as Python values) as a validated :class:`Segment`."""
    model = catalog.models["file"]
    if not isinstance(document, dict):
        raise SegmentError(file, "(file)", "a definition is a mapping of fields")
    for key in document:
        if not isinstance(key, str):
            raise SegmentError(file, _show(key), "a field name is a text")
    try:
        parsed = model.model_validate(document)
    except ValidationError as problem:
        problems = _all_errors(problem, file, catalog, list(model.model_fields))
        if "rule" in document:
            # the well-formed parts of the rule get their tag values checked too: every problem at once
            try:
                _check_well_formed_parts(document["rule"], "rule", catalog, file, problems)
            except RecursionError:
                pass
        _raise_all(problems)
    except RecursionError:
        raise SegmentError(file, "rule", "nested too deeply") from None
    problems = []
    if parsed.purpose == "marketing" and parsed.channel is None:
        channels = ", ".join(catalog.consent_channels)
        problems.append(SegmentError(file, "channel", f"a marketing segment needs a channel in {channels}"))
    if parsed.purpose != "marketing" and parsed.channel is not None:
        problems.append(SegmentError(file, "channel", "only marketing segments have a channel"))
    if parsed.size.max is not None and parsed.size.max < parsed.size.min:
        problems.append(SegmentError(file, "size", "max is below min"))
    if parsed.split and abs(sum(parsed.split.values()) - 1) > 1e-9:
        problems.append(SegmentError(file, "split", f"shares add up to {sum(parsed.split.values())}, not 1"))
    if parsed.min_changed_persons is not None and parsed.max_change is None:
        problems.append(
            SegmentError(file, "min_changed_persons", "a floor of max_change: set max_change too")
        )
    _check_rule(parsed.rule, catalog, file, "rule", 0, [0], problems)
    _raise_all(problems)
    return Segment(
        name=parsed.name,
        owner=parsed.owner,
        description=parsed.description.strip(),
        purpose=parsed.purpose,
        channel=parsed.channel,
        promoted_product_risk=parsed.promoted_product_risk,
        refresh=parsed.refresh,
        size_min=parsed.size.min,
        size_max=parsed.size.max,
        max_change=parsed.max_change,
        min_changed_persons=parsed.min_changed_persons,
        split=dict(parsed.split),
        rule=parsed.rule,
        file=str(file),
    )


def load_segment(path: Path, catalog: Catalog) -> Segment:
    """Parse and validate one definition file (a :class:`SegmentErrors` holds every problem it has)."""
    document = read_document(path)
    try:
        segment = parse_segment(document, catalog, path)
    except SegmentError as problem:
        name = document.get("name") if isinstance(document, dict) else None
        if isinstance(name, str) and name != path.stem:
            raise SegmentErrors(
                [*problem.problems, SegmentError(path, "name", f"must equal the file name ({path.stem})")]
            ) from None
        raise
    if segment.name != path.stem:
        raise SegmentError(path, "name", f"must equal the file name ({path.stem})")
    return segment


def load_segments(directory: Path | None = None, catalog: Catalog | None = None) -> list[Segment]:
    """Every definition under ``directory`` (default segments/), validated; an invalid file raises
    (:func:`load_valid_segments` skips it instead)."""
    catalog = catalog or Catalog.load()
    directory = directory or SEGMENTS_DIR
    return [load_segment(path, catalog) for path in sorted(directory.glob("*.yml"))]


@dataclass(frozen=True)
class SegmentFiles:
    """The definitions of a folder: the valid ones, and the invalid files with every problem of each."""

    valid: list[Segment]
    invalid: dict[str, list[SegmentError]]  # file stem -> its problems

    def problems(self) -> list[SegmentError]:
        return [problem for found in self.invalid.values() for problem in found]


def load_valid_segments(directory: Path | None = None, catalog: Catalog | None = None) -> SegmentFiles:
    """Every definition under ``directory``: an invalid file is set aside with its problems, so that one
    broken file stops no other segment."""
    catalog = catalog or Catalog.load()
    valid, invalid = [], {}
    for path in sorted((directory or SEGMENTS_DIR).glob("*.yml")):
        try:
            valid.append(load_segment(path, catalog))
        except SegmentError as problem:
            invalid[path.stem] = problem.problems
    return SegmentFiles(valid, invalid)


def validate_all(directory: Path | None = None, catalog: Catalog | None = None) -> list[SegmentError]:
    """Every problem of every definition (all of each file's, in file order)."""
    return load_valid_segments(directory, catalog).problems()


def json_schema(catalog: Catalog | None = None) -> dict:
    """The JSON Schema of a definition file (draft 2020-12), from the models of ``catalog``."""
    catalog = catalog or Catalog.load()
    schema = catalog.models["file"].model_json_schema(by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://fundcdp.local/segments/segment.schema.json",
        **schema,
    }
