"""Transports: how bytes get from a sensor to the host (serial, BLE, capture replay, virtual)."""

from firmware_bridge.transports.base import (
    SERIAL_SRC,
    Command,
    PayloadQueue,
    RawPayload,
    Transport,
    TransportEnded,
    TransportError,
    TransportLost,
    normalize_uuid,
)

__all__ = [
    "Command",
    "PayloadQueue",
    "RawPayload",
    "SERIAL_SRC",
    "Transport",
    "TransportEnded",
    "TransportError",
    "TransportLost",
    "normalize_uuid",
]
