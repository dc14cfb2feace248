"""The episode log: one owner-only SQLite file (:class:`Store`).

``log`` opens and writes it, ``schema`` holds its migrations and session states, ``chunks`` the
raw sample codec, ``queries`` and ``records`` the read side and the diary and calibrations.
"""

from tremorscope.store.chunks import CHUNK_CODEC, decode_chunk, encode_chunk
from tremorscope.store.log import DEFAULT_CHUNK_ROWS, DEFAULT_COMMIT_INTERVAL_S, Store, pid_alive
from tremorscope.store.records import calibration_key
from tremorscope.store.rows import now_iso
from tremorscope.store.schema import (
    APPLICATION_ID,
    COMPLETE,
    INTERRUPTED,
    MIGRATIONS,
    RUNNING,
    SESSION_STATUSES,
    StoreError,
    migrate,
    schema_version,
)

__all__ = [
    "APPLICATION_ID",
    "CHUNK_CODEC",
    "COMPLETE",
    "DEFAULT_CHUNK_ROWS",
    "DEFAULT_COMMIT_INTERVAL_S",
    "INTERRUPTED",
    "MIGRATIONS",
    "RUNNING",
    "SESSION_STATUSES",
    "Store",
    "StoreError",
    "calibration_key",
    "decode_chunk",
    "encode_chunk",
    "migrate",
    "now_iso",
    "pid_alive",
    "schema_version",
]
