"""Device name -> protocol. The list ``tremorscope devices`` prints and ``scan`` matches.

Each protocol module defines ``DEVICES``: a list of :class:`DeviceSpec`. To add a
device, write its module and append the module path to ``PROTOCOL_MODULES``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from firmware_bridge.protocols.base import Protocol
from firmware_bridge.transports.base import normalize_uuid

#: Modules that define ``DEVICES``; imported lazily, in this order.
PROTOCOL_MODULES: list[str] = [
    "firmware_bridge.protocols.reference",
    "firmware_bridge.protocols.serial_text",
    "firmware_bridge.protocols.witmotion",
    "firmware_bridge.protocols.movesense",
    "firmware_bridge.protocols.polar_pmd",
    "firmware_bridge.protocols.microbit",
    "firmware_bridge.protocols.metamotion",
]


class UnknownDevice(KeyError):
    """No device is registered under that name."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown device"


@dataclass(frozen=True)
class DeviceSpec:
    """A supported device: how to build its protocol and how to recognise it in a scan.

    ``factory(**options)`` builds the protocol; options arrive as strings from the CLI
    (``-o key=value``) and the factory converts them. ``options_help`` documents them.
    """

    name: str
    title: str
    factory: Callable[..., Protocol]
    transports: tuple[str, ...]
    ble_service_uuids: tuple[str, ...] = ()
    ble_name_prefixes: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    options_help: str = ""
    default_baud: int = 115200


def devices() -> list[DeviceSpec]:
    """All supported devices, in registry order."""
    out: list[DeviceSpec] = []
    for mod_name in PROTOCOL_MODULES:
        mod = importlib.import_module(mod_name)
        out.extend(getattr(mod, "DEVICES", []))
    return out


def get_device(name: str) -> DeviceSpec:
    """The device registered as ``name`` (or one of its aliases), case-insensitive."""
    key = name.strip().lower()
    for spec in devices():
        if key == spec.name or key in spec.aliases:
            return spec
    known = ", ".join(s.name for s in devices())
    raise UnknownDevice(f"unknown device {name!r}; supported: {known} (see `tremorscope devices`)")


def make_protocol(name: str, **options: str) -> Protocol:
    """Build the protocol for device ``name`` with CLI-style string options."""
    spec = get_device(name)
    try:
        return spec.factory(**options)
    except TypeError as exc:
        raise ValueError(
            f"bad option for {spec.name}: {exc}; options: {spec.options_help or 'none'}"
        ) from exc


def match_advertisement(local_name: str | None, service_uuids: Iterable[str]) -> DeviceSpec | None:
    """The supported device advertising this (by service UUID, then name), or ``None``."""
    uuids = {normalize_uuid(u) for u in service_uuids}
    specs = [s for s in devices() if "ble" in s.transports]
    for spec in specs:
        if uuids & {normalize_uuid(u) for u in spec.ble_service_uuids}:
            return spec
    if local_name:
        for spec in specs:
            if any(local_name.startswith(p) for p in spec.ble_name_prefixes):
                return spec
    return None
