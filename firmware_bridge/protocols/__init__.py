"""Device protocols: byte layouts and start/stop commands, independent of the transport."""

from firmware_bridge.protocols.base import DecodeCounters, DecodedBatch, Protocol
from firmware_bridge.protocols.registry import (
    DeviceSpec,
    UnknownDevice,
    devices,
    get_device,
    make_protocol,
    match_advertisement,
)

__all__ = [
    "DecodeCounters",
    "DecodedBatch",
    "DeviceSpec",
    "Protocol",
    "UnknownDevice",
    "devices",
    "get_device",
    "make_protocol",
    "match_advertisement",
]
