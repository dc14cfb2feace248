"""Close a session from another thread when the process must end now (a forced stop).

A stop signal that the running command does not honour within its deadline
(:mod:`tremorscope.signals`) ends the process with ``os._exit``. Just before, this marks the
session ``interrupted`` and commits the samples the store still buffers, from the watcher
thread, under the store's lock. If the lock is not free in time (the stuck thread is inside
the store), nothing is written here: the next open of the log marks the session interrupted
(:meth:`~tremorscope.store.log.Store.mark_dead_sessions`), as after kill -9.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tremorscope.store.log import Store
from tremorscope.store.schema import INTERRUPTED


def interrupt_now(
    store: Store, session_id: int, message: str, fields: Mapping[str, Any], wait_s: float
) -> bool:
    """Finish ``session_id`` as interrupted with ``message``; False when the store was busy or closed."""
    lock = store._lock  # the store's own lock: the same one every writer takes
    if not lock.acquire(timeout=wait_s):
        return False
    try:
        if store.conn is None:
            return False
        store.finish_session(session_id, INTERRUPTED, error=message, **dict(fields))
        return True
    except Exception:  # noqa: BLE001 - the process is ending; the next open repairs the row
        return False
    finally:
        lock.release()
