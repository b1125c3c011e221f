"""The keys of the identity graph, computed in Python exactly as dbt computes them.

Each rule is written once here and once in SQL (``dbt_project/macros/identity/identity_keys.sql``):
``tests/integration/test_rule_agreement.py`` computes both on the same values and asserts they agree.

- identity hash of a system identifier (customer_no, login_id, fund_account_id, anonymous_id):
  ``sha256('<type>:<value>')`` as lower-case hex (personal identifiers are keyed hashes instead:
  :func:`orchestration.lib.pii.keyed_hash`);
- person id: ``'P'`` and the first 16 hex digits, upper case, of ``sha256('<anchor type>:<anchor hash>')``,
  with ``'#<epoch>'`` appended to the hashed text for an anchor in a later epoch of a reassigned phone
  (docs/identity.md).
"""

from __future__ import annotations

import hashlib

from orchestration.lib.sql import quote_literal


def identity_hash(identifier_type: str, value: str) -> str:
    """The identity-graph hash of a system identifier: lower-case hex sha256 of ``<type>:<value>``."""
    return hashlib.sha256(f"{identifier_type}:{value}".encode()).hexdigest()


def identity_hash_sql(identifier_type: str, quoted_value: str) -> str:
    """DuckDB SQL of :func:`identity_hash` over an expression (``quoted_value``: a quoted column or other
    SQL expression the caller built safely); the type becomes a quoted literal, never raw text."""
    return f"sha256({quote_literal(identifier_type + ':')} || {quoted_value})"


def person_id(anchor_type: str, anchor_hash: str, anchor_epoch: int | None = 0) -> str:
    """The person id derived from a person's anchor identifier (its type, identity hash and phone epoch)."""
    epoch = f"#{anchor_epoch}" if anchor_epoch and anchor_epoch > 0 else ""
    return "P" + hashlib.sha256(f"{anchor_type}:{anchor_hash}{epoch}".encode()).hexdigest()[:16].upper()
