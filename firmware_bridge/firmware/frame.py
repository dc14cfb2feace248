# The tremorscope reference frame ENCODER. Runs on the sensor (MicroPython) and, for
# the host tests, under CPython: only `struct` is used, no typing, no dataclasses.
# The host DECODER is firmware_bridge/protocols/reference.py, written independently;
# the tests run this encoder's output through that decoder.
#
# Frame (all little-endian), version 1:
#   offset size  field
#   0      1     version (= 1)
#   1      1     flags: bit 0 = gyro present
#   2      2     seq: frame counter, u16, wraps at 65536
#   4      4     t_us: sensor clock of the FIRST sample, u32 microseconds, wraps
#   8      4     rate_hz: float32, nominal sample rate
#   12     4     acc_lsb_per_g: float32 (MPU6050 at +-4 g: 8192)
#   16     4     gyro_lsb_per_dps: float32 (MPU6050 at +-500 deg/s: 65.5)
#   20     1     battery: percent 0..100, 255 = unknown
#   21     1     n: samples in this frame (1..40)
#   22     ...   n samples of int16: ax ay az [gx gy gz]
#   end    2     CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) of all bytes before it
# On a byte stream (USB serial, BLE Nordic UART) each frame is COBS-encoded and
# followed by one 0x00 delimiter, so a receiver can resynchronise on any 0x00.
# COBS: S. Cheshire, M. Baker, "Consistent Overhead Byte Stuffing", IEEE/ACM
# Trans. Networking 7(2), 1999.

import struct

VERSION = 1
FLAG_GYRO = 0x01
HEADER_FMT = "<BBHIfffBB"
HEADER_SIZE = 22
MAX_SAMPLES = 40
BATTERY_UNKNOWN = 255


def crc16_ccitt(data, crc=0xFFFF):
    """CRC-16/CCITT-FALSE, bit by bit (small and portable; frames are short)."""
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            if crc & 0x8000:
                crc = ((crc << 1) ^ 0x1021) & 0xFFFF
            else:
                crc = (crc << 1) & 0xFFFF
    return crc


def cobs_encode(data):
    """COBS-encode ``data`` (no trailing delimiter): the result contains no 0x00 byte."""
    out = bytearray()
    block = bytearray()
    for b in data:
        if b == 0:
            out.append(len(block) + 1)
            out.extend(block)
            block = bytearray()
        else:
            block.append(b)
            if len(block) == 254:
                out.append(255)
                out.extend(block)
                block = bytearray()
    out.append(len(block) + 1)
    out.extend(block)
    return bytes(out)


def encode_frame(seq, t_us, rate_hz, acc_lsb_per_g, gyro_lsb_per_dps, samples, battery=255):
    """One binary frame. ``samples`` is a list of 3-tuples (acc only) or 6-tuples of int16."""
    n = len(samples)
    if n < 1 or n > MAX_SAMPLES:
        raise ValueError("a frame holds 1 to 40 samples")
    width = len(samples[0])
    if width not in (3, 6):
        raise ValueError("samples must have 3 (acc) or 6 (acc + gyro) values")
    flags = FLAG_GYRO if width == 6 else 0
    head = struct.pack(
        HEADER_FMT,
        VERSION,
        flags,
        seq & 0xFFFF,
        t_us & 0xFFFFFFFF,
        rate_hz,
        acc_lsb_per_g,
        gyro_lsb_per_dps,
        battery,
        n,
    )
    body = bytearray(head)
    fmt = "<" + "h" * width
    for s in samples:
        if len(s) != width:
            raise ValueError("all samples in a frame must have the same width")
        body.extend(struct.pack(fmt, *s))
    crc = crc16_ccitt(body)
    body.extend(struct.pack("<H", crc))
    return bytes(body)


def encode_for_stream(frame):
    """A frame ready for a byte stream: COBS-encoded, then the 0x00 delimiter."""
    return cobs_encode(frame) + b"\x00"
