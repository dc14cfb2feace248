"""Names for BLE sensors: ``tremorscope pair left-wrist AA:BB:...`` then ``--device left-wrist``.

A small JSON file, owner-only (0600) in a private folder, because a sensor address tied
to a person's name is personal data. The caller chooses the path (the application
keeps it in the per-user data folder).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

_MAC = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
_UUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")


class PairingError(ValueError):
    """A bad name, address or pairing file."""


@dataclass(frozen=True)
class Pairing:
    """A user-chosen name for one sensor: its address and which protocol it speaks."""

    name: str
    address: str
    device: str


def looks_like_address(text: str) -> bool:
    """A Bluetooth MAC (Linux, Windows) or a CoreBluetooth UUID (macOS)."""
    return bool(_MAC.match(text) or _UUID.match(text))


class PairingStore:
    """Read and write the pairing file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def all(self) -> dict[str, Pairing]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return {k: Pairing(**v) for k, v in data.get("devices", {}).items()}
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise PairingError(
                f"{self.path}: unreadable pairing file ({type(exc).__name__}); "
                "fix or delete it, then pair again"
            ) from None

    def get(self, name: str) -> Pairing | None:
        return self.all().get(name.strip().lower())

    def add(self, name: str, address: str, device: str) -> Pairing:
        key = name.strip().lower()
        if not key or not re.match(r"^[a-z0-9][a-z0-9._-]{0,39}$", key):
            raise PairingError(f"name {name!r}: use 1-40 letters, digits, '.', '_' or '-' (e.g. left-wrist)")
        if not looks_like_address(address):
            raise PairingError(
                f"address {address!r}: expected AA:BB:CC:DD:EE:FF (or a macOS device UUID); "
                "`tremorscope scan` lists nearby sensors"
            )
        entries = self.all()
        entries[key] = Pairing(key, address.upper() if _MAC.match(address) else address, device)
        self._write(entries)
        return entries[key]

    def remove(self, name: str) -> bool:
        entries = self.all()
        if entries.pop(name.strip().lower(), None) is None:
            return False
        self._write(entries)
        return True

    def _write(self, entries: dict[str, Pairing]) -> None:
        folder = self.path.parent
        old = os.umask(0o077)
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".pairing-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"devices": {k: asdict(v) for k, v in entries.items()}}, fh, indent=2)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        finally:
            os.umask(old)
