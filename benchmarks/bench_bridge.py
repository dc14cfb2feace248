"""Per-packet overhead of the live bridge: decode + queue + timestamps + the real-time core.

Usage (from the repository root)::

    python benchmarks/bench_bridge.py                 # 10 minutes of 100 Hz data per device
    python benchmarks/bench_bridge.py --seconds 120 --json bench_bridge.json

For each device protocol, the signal (the real PD wrist recording in
``../shared/real-data`` when present, else a synthetic wrist with 5 Hz tremor) is
encoded exactly as the sensor sends it: WitMotion 20-byte packets, one per BLE
notification at 100 Hz; reference-firmware frames of 5 samples (COBS, CRC) at 20 per
second. The payloads are delivered through the production path (the transport's
bounded queue, :class:`LiveSource`, the protocol decoder, the session clock) into
``dsp.StreamingDetector``. CPU time (``time.process_time``) over the simulated duration
gives the share of one core the live path uses at 100 Hz; the bridge alone (without the
detector) is measured separately. Nothing is asserted: speed is reported, not tested.
"""

from __future__ import annotations

import argparse
import json
import platform
import struct
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from dsp import StreamingDetector  # noqa: E402
from firmware_bridge.live import LiveSource  # noqa: E402
from firmware_bridge.protocols.reference import ReferenceFrameProtocol  # noqa: E402
from firmware_bridge.protocols.witmotion import WitMotionProtocol  # noqa: E402
from firmware_bridge.transports.virtual import VirtualTransport  # noqa: E402

REAL = REPO.parent / "shared" / "real-data" / "pd_wrist_verily_12min.csv"
RATE_HZ = 100.0


def signal(seconds: float) -> tuple[np.ndarray, np.ndarray, str]:
    """acc (g) and gyro (deg/s) at 100 Hz: the real recording if available, else synthetic."""
    n = int(seconds * RATE_HZ)
    if REAL.exists():
        import pandas as pd

        df = pd.read_csv(REAL, comment="#")
        reps = int(np.ceil(n / len(df)))
        acc = np.tile(df[["acc_x", "acc_y", "acc_z"]].to_numpy(), (reps, 1))[:n]
        gyro = np.tile(df[["gyro_x", "gyro_y", "gyro_z"]].to_numpy(), (reps, 1))[:n]
        return acc, gyro, REAL.name
    t = np.arange(n) / RATE_HZ
    rng = np.random.default_rng(0)
    acc = np.column_stack([0.05 * np.sin(2 * np.pi * 5 * t), np.zeros(n), np.ones(n)])
    gyro = np.column_stack([np.zeros(n), 30 * np.sin(2 * np.pi * 5 * t), np.zeros(n)])
    return acc + rng.normal(0, 0.002, acc.shape), gyro + rng.normal(0, 0.3, gyro.shape), "synthetic"


def witmotion_payloads(acc: np.ndarray, gyro: np.ndarray, t0: float) -> list[tuple[float, bytes]]:
    a = np.clip(np.round(acc * 32768 / 16), -32768, 32767).astype(int)
    g = np.clip(np.round(gyro * 32768 / 2000), -32768, 32767).astype(int)
    out = []
    for k in range(len(a)):
        data = bytes([0x55, 0x61]) + struct.pack("<9h", *a[k], *g[k], 0, 0, 0)
        out.append((t0 + (k + 1) / RATE_HZ + 0.01, data))
    return out


def reference_payloads(acc: np.ndarray, gyro: np.ndarray, t0: float) -> list[tuple[float, bytes]]:
    from bridge_helpers import firmware_frame_module

    frame = firmware_frame_module()
    a = np.clip(np.round(acc * 8192), -32768, 32767).astype(int)
    g = np.clip(np.round(gyro * 65.5), -32768, 32767).astype(int)
    out = []
    for seq, i in enumerate(range(0, len(a) - 4, 5)):
        samples = [tuple(a[j]) + tuple(g[j]) for j in range(i, i + 5)]
        raw = frame.encode_frame(seq, i * 10_000, RATE_HZ, 8192.0, 65.5, samples, battery=90)
        out.append((t0 + (i + 5) / RATE_HZ + 0.01, frame.encode_for_stream(raw)))
    return out


def run_once(proto_factory, payloads, with_core: bool) -> dict:
    v = VirtualTransport(queue_len=len(payloads) + 10)
    src = LiveSource(v, proto_factory(), origin_s=payloads[0][0] - 1.0, watchdog_s=None, poll_s=0)
    src.connect()
    det = StreamingDetector(RATE_HZ) if with_core else None
    cpu0 = time.process_time()
    for t, data in payloads:  # what the notification callback / serial reader does
        v._deliver(data, "serial", t)
    n = 0
    total = sum(1 for _ in payloads)
    it = iter(src)
    for block in it:
        if len(block):
            n += len(block)
            if det is not None:
                det.push_block(block)
        if v.queue.dropped or len(v.queue) == 0:
            break
    if det is not None:
        det.flush()
    cpu = time.process_time() - cpu0
    src.stop()
    it.close()
    return {"cpu_s": cpu, "samples": n, "packets": total}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=600.0, help="Simulated duration per device.")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", default=None, help="Write the results here.")
    args = ap.parse_args()
    acc, gyro, source = signal(args.seconds)
    t0 = 1_700_000_000.0
    cases = {
        "witmotion (BLE, 1 sample/packet)": (WitMotionProtocol, witmotion_payloads(acc, gyro, t0)),
        "reference (serial/BLE, 5 samples/frame)": (
            ReferenceFrameProtocol,
            reference_payloads(acc, gyro, t0),
        ),
    }
    results = {}
    print(f"signal: {source}, {args.seconds:g} s at {RATE_HZ:g} Hz; {platform.python_version()}")
    for name, (factory, payloads) in cases.items():
        bridge = min(run_once(factory, payloads, False)["cpu_s"] for _ in range(args.repeat))
        full = [run_once(factory, payloads, True) for _ in range(args.repeat)]
        best = min(r["cpu_s"] for r in full)
        pkts = len(payloads)
        results[name] = {
            "packets": pkts,
            "samples": full[0]["samples"],
            "bridge_us_per_packet": 1e6 * bridge / pkts,
            "total_us_per_packet": 1e6 * best / pkts,
            "bridge_pct_of_core": 100.0 * bridge / args.seconds,
            "total_pct_of_core": 100.0 * best / args.seconds,
        }
        r = results[name]
        print(
            f"{name:<42} bridge {r['bridge_us_per_packet']:7.1f} us/packet "
            f"({r['bridge_pct_of_core']:.2f} % of a core); with the core "
            f"{r['total_us_per_packet']:7.1f} us/packet ({r['total_pct_of_core']:.2f} % of a core)"
        )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"signal": source, "seconds": args.seconds, **results}, indent=2)
        )


if __name__ == "__main__":
    main()
