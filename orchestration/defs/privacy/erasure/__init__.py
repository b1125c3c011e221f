"""Deletion requests (PIPL Article 47): erase a person from every store, and keep them erased.

A request names one identifier of the person: a customer number, a phone number, an ID number, an
e-mail address or an app login id. It arrives as a CSV file in ``landing/deletion_requests/``
(``request_id,identifier_type,identifier_value,requested_at``) or through ``cli erase``. Honouring it:

1. **Resolve** the identifier to the person (``person_identifiers`` of the warehouse) and collect
   everything that is theirs: their identifiers (customer numbers, fund accounts, login ids, phone, ID
   number, e-mail, WeChat ids, bank cards) and the devices only they used. A personal identifier that
   another person's rows also carry (a shared family phone) is not theirs alone and is left in place.
   A phone reassigned between persons (one identity node per epoch) that more than one person held over
   time names nobody for sure: the request is **held** (logged with status ``held`` and the reason,
   alerted, nothing erased) until it is filed with a second identifier (:func:`hold_request`).
2. **Tombstone** each of them in ``private.duckdb``: ``HMAC(tombstone secret, "<type>|<clear value>")``
   with a random secret kept there too, so a tombstone equals no hash stored anywhere and survives a
   rotation of ``FUNDCDP_HASH_KEY``. Ingestion drops a delivered row that carries a
   tombstoned identifier before anything is written (and rewrites the landing file without it), so a
   re-sent delivery cannot re-create the person.
3. **Reload** every delivered file that held their rows: the landing file is rewritten without those
   lines (its control file entry adjusted), and the file is loaded again, replacing its ``raw/``
   Parquet, its quarantine rows, its manifest row and its ``private.duckdb`` rows. A day that no longer
   loads as a whole (a file missing since, a stray file name) is not reloaded: the person's rows leave
   its ``raw/`` Parquet and ``private.duckdb`` directly, and its landing files are cut line by line all
   the same (:mod:`orchestration.defs.privacy.erasure_landing`). A rewritten file the demo marker lists
   keeps its entry current.
4. **Purge** the derived stores: every table of ``warehouse.duckdb``, ``analytics.duckdb``,
   ``segments.duckdb`` and ``quality.duckdb`` loses the rows keyed on the person (person id, customer
   number, fund account, login id, their devices, their identifier hashes), each file is rewritten so
   that freed pages do not keep the old bytes, and every export under ``outbox/`` is rewritten without
   them. The next run rebuilds everything from the cleaned ``raw/`` layer.
5. **Log** the request in ``raw/ingest/deletion_log/`` (when it was requested and honoured, counts of
   what was removed and of the days that could not be reloaded, never the identifier) and delete the
   request file.

Other people are untouched: their rows, their identity links and their person ids stay as they were.

The package, in that order: :mod:`.requests` (the request files), :mod:`.scope` (1, resolving and
holding), :mod:`.purge` (3 and 4), :mod:`.log` (5); the tombstones (2) are
:mod:`orchestration.lib.tombstones`, read by the loader too;
the step that runs it all: :mod:`orchestration.defs.privacy.step`.
"""

from orchestration.defs.privacy.erasure.log import (
    HELD,
    HONOURED,
    hold_request,
    json_counts,
    read_log,
    write_log,
)
from orchestration.defs.privacy.erasure.purge import (
    affected_files,
    clear_identifiers,
    purge_database,
    purge_exports,
    purge_quarantined_lines,
    purge_raw_without_landing,
    quarantined_files,
    require_full_rebuild,
)
from orchestration.defs.privacy.erasure.requests import (
    REQUEST_TYPES,
    ErasureRequest,
    read_requests,
    remove_request_file,
    request_id_problem,
    requests_dir,
    submit_request,
)
from orchestration.defs.privacy.erasure.scope import ErasureScope, resolve

__all__ = [
    "HELD",
    "HONOURED",
    "REQUEST_TYPES",
    "ErasureRequest",
    "ErasureScope",
    "affected_files",
    "clear_identifiers",
    "hold_request",
    "json_counts",
    "purge_database",
    "purge_exports",
    "purge_quarantined_lines",
    "purge_raw_without_landing",
    "quarantined_files",
    "read_log",
    "read_requests",
    "remove_request_file",
    "request_id_problem",
    "require_full_rebuild",
    "requests_dir",
    "resolve",
    "submit_request",
    "write_log",
]
