"""Where a dbt model lives in ``warehouse.duckdb``: the one place Python learns it, from dbt's manifest.

dbt decides each model's schema (``+schema`` in ``dbt_project.yml`` through ``generate_schema_name``) and
identifier (the model name, or its alias); ``dbt parse`` writes them to ``dbt_project/target/manifest.json``
(``make prepare``, or ``DbtProject.prepare_if_dev()``). Python reads them here instead of writing
``schema.table`` strings of its own, so that moving a model to another folder or schema changes nothing in
Python. Names come back quoted by :func:`orchestration.lib.sql.quote_identifier`, or as sqlglot tables.

Python reads only DuckDB files: the manifest must be parsed for the DuckDB target (the Spark builds parse
into target paths of their own). Tables that Python itself writes are not dbt models and are not here
(the model assets' tables: ``orchestration.defs.ml.store``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlglot import exp

from orchestration.lib.paths import DBT_PARSE_TARGET_DIR
from orchestration.lib.sql import quote_qualified

MANIFEST_FILE = DBT_PARSE_TARGET_DIR / "manifest.json"
# Resource types that become a relation in the warehouse (tests and analyses do not).
RELATION_TYPES = ("model", "seed", "snapshot")


class UnknownModelError(LookupError):
    """A model name the manifest does not know."""


@dataclass(frozen=True)
class ModelRelation:
    """Where one dbt model (or seed) lives: ``schema`` and ``identifier`` as DuckDB names them, and the
    ``custom_schema`` of its folder (``marts``, ``intermediate``…; None for the target's own schema), from
    which other engines' schema names follow."""

    model: str
    schema: str
    identifier: str
    custom_schema: str | None

    @property
    def quoted(self) -> str:
        """``"schema"."identifier"``, ready for SQL text."""
        return quote_qualified(self.schema, self.identifier)

    def in_catalog(self, catalog: str) -> str:
        """``"catalog"."schema"."identifier"``: the relation in a database attached as ``catalog``."""
        return quote_qualified(catalog, self.schema, self.identifier)

    def table(self, alias: str | None = None) -> exp.Table:
        """The relation as a sqlglot table node (quoted identifiers), for queries built as syntax trees."""
        return exp.Table(
            this=exp.to_identifier(self.identifier, quoted=True),
            db=exp.to_identifier(self.schema, quoted=True),
            alias=exp.TableAlias(this=exp.to_identifier(alias)) if alias else None,
        )


def relations_of_manifest(manifest: dict, source: str = "the manifest") -> dict[str, ModelRelation]:
    """Model name -> :class:`ModelRelation` for every model, seed and snapshot of the root project in a
    parsed dbt ``manifest`` (``source`` names it in errors).

    Raises:
        ValueError: the manifest was parsed for another engine than DuckDB.
    """
    metadata = manifest.get("metadata", {})
    adapter = metadata.get("adapter_type")
    if adapter not in (None, "duckdb"):
        raise ValueError(
            f"{source} was parsed for the {adapter} target; Python reads the DuckDB warehouse: run "
            "`cd dbt_project && dbt parse --target-path target` with the default (duckdb) target"
        )
    project = metadata.get("project_name")
    relations = {}
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") not in RELATION_TYPES:
            continue
        if project and node.get("package_name") != project:
            continue
        relations[node["name"]] = ModelRelation(
            model=node["name"],
            schema=node["schema"],
            identifier=node.get("alias") or node["name"],
            custom_schema=(node.get("config") or {}).get("schema"),
        )
    return relations


@lru_cache(maxsize=4)
def _relations(manifest_file: Path) -> dict[str, ModelRelation]:
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{manifest_file} does not exist: parse the dbt project first "
            "(`make prepare`, or `cd dbt_project && dbt parse --target-path target`)"
        ) from None
    return relations_of_manifest(manifest, str(manifest_file))


def model_relation(model: str, manifest_file: Path = MANIFEST_FILE) -> ModelRelation:
    """Where the dbt model (or seed) ``model`` lives, from the parsed manifest (read once per process).

    Raises:
        UnknownModelError: naming the model and the manifest when the project has no such model.
    """
    relations = _relations(manifest_file)
    try:
        return relations[model]
    except KeyError:
        raise UnknownModelError(
            f"dbt model {model!r} is not in {manifest_file} (no model, seed or snapshot of that name; "
            "renamed or removed? re-run `dbt parse` after adding a model)"
        ) from None


def relation(model: str, manifest_file: Path = MANIFEST_FILE) -> str:
    """``"schema"."identifier"`` of the dbt model ``model`` in ``warehouse.duckdb`` (see
    :func:`model_relation`)."""
    return model_relation(model, manifest_file).quoted


def existing_models(con, *models: str, manifest_file: Path = MANIFEST_FILE) -> set[str]:
    """Those of ``models`` whose relation exists in the DuckDB database ``con`` is connected to (a
    warehouse built before a model was added lacks it). Names are bound, never SQL text."""
    relations = [model_relation(model, manifest_file) for model in models]
    found = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_catalog = current_database() and table_schema in (select unnest(?)) "
        "and table_name in (select unnest(?))",
        [sorted({r.schema for r in relations}), sorted({r.identifier for r in relations})],
    ).fetchall()
    return {r.model for r in relations if (r.schema, r.identifier) in set(found)}


def clear_cache() -> None:
    """Forget the manifests read so far (after ``dbt parse`` rewrote one in this process)."""
    _relations.cache_clear()
