"""Serial transport over a pseudo-terminal: a simulated device, unplug and replug.

The device side holds the pty master; the port the transport opens is a symlink to the
slave (like a udev name such as /dev/serial/by-id/...). Unplugging closes the master
(reads on the slave then fail with EIO, as with a vanished USB adapter); replugging opens
a new pty and points the symlink at it.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest
from bridge_helpers import reference_stream, sample_ids

from firmware_bridge.live import LiveSource
from firmware_bridge.protocols.reference import ReferenceFrameProtocol
from firmware_bridge.protocols.serial_text import SerialTextProtocol
from firmware_bridge.transports.base import Command, TransportError
from firmware_bridge.transports.serial import SerialTransport

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals need POSIX")


class PtyDevice:
    """A simulated USB-serial device behind a stable port name."""

    def __init__(self, link: str, raw: bool = False) -> None:
        self.link = link
        self.raw = raw
        self.master: int | None = None
        self.slave: int | None = None
        self.plug()

    def plug(self) -> None:
        self.master, self.slave = os.openpty()
        if self.raw:  # bytes sent before the host opens the port are not line-edited (a new pty is
            import tty  # cooked: ^U, ^W, ^C and echo would mangle them; a USB adapter's are not)

            tty.setraw(self.slave)
        tmp = self.link + ".new"
        os.symlink(os.ttyname(self.slave), tmp)
        os.replace(tmp, self.link)

    def unplug(self) -> None:
        os.close(self.master)
        os.close(self.slave)
        os.unlink(self.link)
        self.master = self.slave = None

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def read_available(self) -> bytes:
        import select

        out = b""
        while select.select([self.master], [], [], 0.2)[0]:
            out += os.read(self.master, 1024)
        return out


def wait_for(cond, timeout_s=5.0):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False


def test_reference_frames_survive_unplug_and_replug(tmp_path):
    dev = PtyDevice(str(tmp_path / "ttyESP32"))
    transport = SerialTransport(dev.link, 115200)
    src = LiveSource(transport, ReferenceFrameProtocol(), backoff_s=(0.05, 0.2), watchdog_s=None)
    opened = []
    orig_open = transport.open
    transport.open = lambda subs=(): (orig_open(subs), opened.append(1))
    frame_s = 5 / 500.0  # 5 samples at 500 Hz per frame, sent in real time
    sent: list[int] = []

    def device():
        assert wait_for(lambda: len(opened) == 1)
        start = time.monotonic()

        def stream(n_frames):
            for _ in range(n_frames):
                seq = int((time.monotonic() - start) / frame_s)  # the device clock runs on
                if sent and seq <= sent[-1]:
                    seq = sent[-1] + 1
                    time.sleep(max(0.0, start + seq * frame_s - time.monotonic()))
                dev.write(reference_stream(seq, rate_hz=500.0))
                sent.append(seq)

        stream(30)
        time.sleep(0.3)  # the last bytes are on the host before the cable is pulled
        dev.unplug()
        time.sleep(0.3)  # frames produced now are lost
        dev.plug()
        assert wait_for(lambda: len(opened) == 2)
        stream(20)
        time.sleep(0.3)
        src.stop()

    th = threading.Thread(target=device)
    th.start()
    ids = sample_ids([b for b in src if len(b)])
    th.join()
    expected = [seq * 5 + i for seq in sent for i in range(5)]
    assert ids == expected  # nothing sent before the unplug is lost, nothing duplicated
    st = src.stats
    assert st.reconnects == 1
    (gap,) = st.gaps
    before, after = sent[29], sent[30]
    assert gap["reason"] == "disconnected"
    assert gap["lost_samples"] == (after - before - 1) * 5 > 0
    assert gap["end_s"] - gap["start_s"] == pytest.approx((after * 5 - (before * 5 + 4)) / 500.0)
    assert st.malformed == 0 and st.crc_errors == 0


def test_text_lines_with_boot_noise_and_units(tmp_path):
    dev = PtyDevice(str(tmp_path / "ttyACM0"))
    proto = SerialTextProtocol(acc_unit="m/s2", time_unit="ms")
    transport = SerialTransport(dev.link, 9600)
    src = LiveSource(transport, proto, watchdog_s=None)
    src.connect()
    dev.write(b"\xe0\x00rst:0x1 (POWERON)\r\nt,ax,ay,az\r\n")
    for k in range(50):
        dev.write(f"{k * 10},0,0,9.80665\r\n".encode())
    dev.write(b"oops,1\r\n")
    blocks = []
    for b in src:
        blocks.append(b)
        if sum(len(x) for x in blocks) >= 50:
            src.stop()
    acc_z = [v for b in blocks for v in b.acc[:, 2]]
    assert len(acc_z) == 50 and all(abs(v - 1.0) < 1e-12 for v in acc_z)
    assert proto.counters.malformed >= 1  # boot noise counted, never fatal


def test_commands_reach_the_device(tmp_path):
    dev = PtyDevice(str(tmp_path / "ttyUSB0"))
    transport = SerialTransport(dev.link, 115200)
    transport.open(["serial"])
    try:
        transport.write(Command("serial", b"rate 100\n"))
        assert dev.read_available() == b"rate 100\n"
    finally:
        transport.close()


def test_missing_port_is_a_clear_error(tmp_path):
    with pytest.raises(TransportError, match="cannot open"):
        SerialTransport(str(tmp_path / "nothing-here")).open(["serial"])


def test_nothing_sent_after_a_replug_is_lost(tmp_path):
    """Issue 14 item 9: after a long unplug the port is reopened within RETRY_MAX_S of coming
    back (the default backoff would have grown to seconds), and frames the device sent before
    the host reopened it are delivered, not flushed."""
    from firmware_bridge.transports.serial import RETRY_MAX_S

    dev = PtyDevice(str(tmp_path / "ttyUSB0"), raw=True)
    transport = SerialTransport(dev.link, 115200)
    src = LiveSource(transport, ReferenceFrameProtocol(), watchdog_s=None)  # the CLI's default backoff
    opened: list[float] = []
    orig_open = transport.open
    transport.open = lambda subs=(): (orig_open(subs), opened.append(time.monotonic()))
    sent_before: list[int] = []
    sent_after: list[int] = []
    plugged_at: list[float] = []

    def device():
        assert wait_for(lambda: len(opened) == 1)
        for seq in range(20):
            dev.write(reference_stream(seq))
            sent_before.append(seq)
            time.sleep(0.05)
        time.sleep(0.3)
        dev.unplug()
        time.sleep(3.0)  # long enough for an uncapped backoff to wait 2-4 s after the replug
        dev.plug()
        plugged_at.append(time.monotonic())
        for seq in range(1000, 1030):  # from the first instant the port exists again
            dev.write(reference_stream(seq))
            sent_after.append(seq)
            time.sleep(0.02)
        time.sleep(0.5)
        src.stop()

    th = threading.Thread(target=device)
    th.start()
    ids = sample_ids([b for b in src if len(b)])
    th.join()
    assert len(opened) == 2
    assert opened[1] - plugged_at[0] <= RETRY_MAX_S + 0.2  # reopened promptly
    after = [seq * 5 + i for seq in sent_after for i in range(5)]
    assert ids[-len(after) :] == after  # every frame sent once the port was back arrived
    assert ids[: len(sent_before) * 5] == [seq * 5 + i for seq in sent_before for i in range(5)]
