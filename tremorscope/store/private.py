"""Keep the episode log owner-only: tighten an existing log file that others can read.

The log is health data. A file created by tremorscope is 0600 from the start (see
:mod:`~tremorscope.store.log`), but a log copied in, restored from a backup or made by an older
version may be 0644. Opening it tightens it and its SQLite companions (``-wal``, ``-shm``,
which SQLite creates with the main file's mode) to 0600, and says which ones it changed, so
the caller can tell the user once (the next open finds nothing to change).
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

#: Permission bits an episode log may have: read and write for its owner only.
PRIVATE_FILE_MODE = 0o600
#: The SQLite files that make up one log (WAL mode): the database and its two companions.
LOG_SUFFIXES = ("", "-wal", "-shm")


@dataclass(frozen=True)
class Tightened:
    """One file whose mode was changed: its path and the mode it had."""

    path: Path
    old_mode: int

    def describe(self) -> str:
        """``'/x/log.db was 0644'``."""
        return f"{self.path} was {self.old_mode:04o}"


def tighten_log_files(db_path: Path) -> list[Tightened]:
    """chmod 0600 the log and its companions where group or others have any access.

    POSIX only (on Windows the mode bits do not control access; the per-user data folder does).
    A file that cannot be changed (not ours) is left as it is and not reported as changed.
    """
    if sys.platform == "win32":
        return []
    changed = []
    for suffix in LOG_SUFFIXES:
        path = Path(str(db_path) + suffix)
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except OSError:  # absent (no -wal yet) or unreadable: nothing to tighten
            continue
        if mode & 0o077 == 0:
            continue
        try:
            os.chmod(path, PRIVATE_FILE_MODE)
        except OSError:
            continue
        changed.append(Tightened(path, mode))
    return changed


def tightened_note(changed: list[Tightened]) -> str:
    """The one line telling the user what was changed (empty when nothing was)."""
    if not changed:
        return ""
    files = "; ".join(t.describe() for t in changed)
    return f"note: the episode log was readable by others ({files}); it is now owner-only (0600)"
