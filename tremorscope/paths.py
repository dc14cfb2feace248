"""Default data locations: where the episode log lives unless the user says otherwise.

The log holds health data, so it goes in the per-user data directory (never a shared
or temporary place) and any directory we create for it is private (0700).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "tremorscope"
DB_FILENAME = "tremorscope.db"
#: Environment variable that overrides the default log location (``--db`` wins over it).
DB_ENV_VAR = "TREMORSCOPE_DB"


def user_data_dir() -> Path:
    """The per-user data directory for tremorscope on this platform.

    Linux and other Unix: ``$XDG_DATA_HOME/tremorscope`` (default ``~/.local/share/tremorscope``);
    macOS: ``~/Library/Application Support/tremorscope``; Windows: ``%LOCALAPPDATA%\\tremorscope``.
    """
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / APP_NAME
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP_NAME
    xdg = os.environ.get("XDG_DATA_HOME", "").strip()
    # The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return base / APP_NAME


def default_db_path() -> Path:
    """The default episode log file, inside :func:`user_data_dir`."""
    return user_data_dir() / DB_FILENAME


def resolve_db_path(flag: str | os.PathLike[str] | None = None) -> Path:
    """The log file to use: the ``--db`` flag, else ``$TREMORSCOPE_DB``, else the default."""
    if flag is not None and str(flag).strip():
        return Path(flag).expanduser()
    env = os.environ.get(DB_ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    return default_db_path()


def make_private_dirs(path: Path) -> None:
    """Create ``path`` and any missing parents with mode 0700 (existing ones are left alone)."""
    if path.is_dir():
        return
    old = os.umask(0o077)
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    finally:
        os.umask(old)


def source_tree_root() -> Path | None:
    """The project checkout this package runs from, or ``None`` for an installed wheel."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() else None


def bundled_recording(name: str) -> Path | None:
    """A recording shipped in the source tree's ``recordings/`` folder, if present."""
    root = source_tree_root()
    if root is None:
        return None
    path = root / "recordings" / name
    return path if path.is_file() else None
