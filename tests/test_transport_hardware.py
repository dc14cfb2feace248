"""Optional tests against real hardware; skipped unless an adapter or device is present.

- Bluetooth: runs where a Bluetooth adapter exists (Linux: /sys/class/bluetooth/hci*).
  With TREMORSCOPE_TEST_BLE_ADDRESS and TREMORSCOPE_TEST_BLE_DEVICE (e.g. witmotion) set,
  it also streams 5 s from that sensor.
- Serial: TREMORSCOPE_TEST_PORT (and TREMORSCOPE_TEST_SERIAL_DEVICE, default reference)
  streams 5 s from a board running the reference firmware or a text sketch.
"""

from __future__ import annotations

import glob
import os
import sys

import pytest

from firmware_bridge.live import LiveSource
from firmware_bridge.protocols.registry import make_protocol


def _has_bt_adapter() -> bool:
    if sys.platform.startswith("linux"):
        return bool(glob.glob("/sys/class/bluetooth/hci*"))
    return bool(os.environ.get("TREMORSCOPE_TEST_BLE"))


def _stream(transport, device: str, seconds: float = 5.0) -> LiveSource:
    src = LiveSource(transport, make_protocol(device), duration_s=seconds, first_connect_timeout_s=30)
    n = sum(len(b) for b in src)
    assert n > 0, f"no samples from {device} in {seconds} s"
    return src


@pytest.mark.skipif(not _has_bt_adapter(), reason="no Bluetooth adapter on this machine")
def test_real_ble_scan_runs():
    from firmware_bridge.transports.ble import scan

    found = scan(5.0)
    assert isinstance(found, list)


@pytest.mark.skipif(
    not (_has_bt_adapter() and os.environ.get("TREMORSCOPE_TEST_BLE_ADDRESS")),
    reason="set TREMORSCOPE_TEST_BLE_ADDRESS and TREMORSCOPE_TEST_BLE_DEVICE to test a real sensor",
)
def test_real_ble_sensor_streams():
    from firmware_bridge.transports.ble import BleTransport

    t = BleTransport(os.environ["TREMORSCOPE_TEST_BLE_ADDRESS"])
    try:
        src = _stream(t, os.environ.get("TREMORSCOPE_TEST_BLE_DEVICE", "witmotion"))
        assert src.stats.effective_rate_hz and src.stats.effective_rate_hz > 5
    finally:
        t.shutdown()


@pytest.mark.skipif(
    not os.environ.get("TREMORSCOPE_TEST_PORT"), reason="set TREMORSCOPE_TEST_PORT to test a real board"
)
def test_real_serial_board_streams():
    from firmware_bridge.transports.serial import SerialTransport

    device = os.environ.get("TREMORSCOPE_TEST_SERIAL_DEVICE", "reference")
    src = _stream(SerialTransport(os.environ["TREMORSCOPE_TEST_PORT"]), device)
    assert src.stats.crc_errors <= 1
