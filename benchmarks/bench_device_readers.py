"""Measure the research-device readers on the real files: samples read, |acc| at rest, rate,
time and peak memory, per library and file (the basis of the choice in firmware_bridge/io/devices.py).

    python benchmarks/bench_device_readers.py [--devices ../shared/real-data/devices] [--repeat 3]
    python benchmarks/bench_device_readers.py --scale 100,1000   # actfast's memory by file size

``--scale`` measures how actfast's peak memory grows with the file, since neither library can
stream: a CWA file made of the real AX3 file's header and its 145 data sectors repeated N times
(byte copies, so the sectors' timestamps repeat: actfast decodes every sample, but the file is
no recording to analyse, and tremorscope's reader rejects it for time going back).

Each read runs in a fresh process, so the peak resident memory is that read's own (minus the
interpreter with the library imported, measured the same way).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DEVICES = REPO.parent / "shared" / "real-data" / "devices"
LICENCES = {"actfast": "MIT", "pygt3x": "GPL-3.0-or-later"}

_PROBE = r"""
import json, resource, sys, time
import numpy as np
lib, path = sys.argv[1], sys.argv[2]
if lib == "actfast":
    import actfast
    read = lambda: actfast.read(path, lenient=True)
elif lib == "tremorscope":  # our CWA reader: the library's read plus its own hand-on of blocks
    import actfast
    from firmware_bridge.io.devices import CwaReader
    def read():
        r = CwaReader(path)
        try:
            for _ in r:
                pass
        except Exception:  # a scaled file's repeated sectors send time back: the read is what counts
            pass
        return r
else:
    from pygt3x.reader import FileReader
    def read():
        with FileReader(path) as r:
            return r.acceleration, r.calibrate_acceleration(r.acceleration[:, 1:4])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if path == "-":
    print(json.dumps({"base_kib": base})); sys.exit()
t = time.perf_counter()
out = read()
dt = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if lib == "tremorscope":
    print(json.dumps({"samples": int(out._t_ns.size), "seconds": dt, "peak_kib": peak})); sys.exit()
if lib == "actfast":
    ts = out["timeseries"]
    hf = ts.get("high_frequency") or ts.get("acceleration") or {}
    acc = np.asarray(hf.get("acceleration", np.zeros((0, 3)))).reshape(-1, 3)
    t_ns = np.asarray(hf.get("datetime", np.zeros(0)))
    step = np.median(np.diff(t_ns)) / 1e9 if t_ns.size > 1 else float("nan")
else:
    raw, acc = out
    step = np.median(np.diff(raw[:, 0])) if len(raw) > 1 else float("nan")
norm = float(np.median(np.linalg.norm(acc, axis=1))) if len(acc) else float("nan")
print(json.dumps({"samples": int(len(acc)), "g": norm, "rate_hz": 1 / step if step == step else None,
                  "seconds": dt, "peak_kib": peak}))
"""


def probe(lib: str, path: str) -> dict:
    p = subprocess.run(
        [sys.executable, "-c", _PROBE, lib, path], capture_output=True, text=True, timeout=600, cwd=REPO
    )
    if p.returncode != 0:
        return {"error": " ".join(p.stderr.strip().splitlines()[-1:])}
    return json.loads(p.stdout.strip().splitlines()[-1])


#: OpenMovement cwa.h: a 1024-byte header packet, then 512-byte data sectors.
CWA_HEADER_BYTES = 1024


def scaled_cwa(source: Path, reps: int, folder: Path) -> Path:
    """``source``'s header, then its data sectors ``reps`` times (see the module docstring)."""
    data = source.read_bytes()
    out = folder / f"{source.stem}_x{reps}.cwa"
    with open(out, "wb") as fh:
        fh.write(data[:CWA_HEADER_BYTES])
        for _ in range(reps):
            fh.write(data[CWA_HEADER_BYTES:])
    return out


def scale_table(devices: Path, reps_list: list[int]) -> None:
    """actfast's and our CWA reader's peak memory against file size (one fresh process per read)."""
    import tempfile

    source = devices / "ax3_testfile.cwa"
    base = probe("actfast", "-").get("base_kib", 0)
    ours_base = probe("tremorscope", "-").get("base_kib", 0)
    print(
        "| file | MiB | samples | time s | actfast peak MiB above import | bytes per sample "
        "| tremorscope reader peak MiB | bytes per sample |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="tremorscope-cwa-scale-") as tmp:
        for reps in [1, *reps_list]:
            f = source if reps == 1 else scaled_cwa(source, reps, Path(tmp))
            r = probe("actfast", str(f))
            if "error" in r:
                print(f"| {f.name} | error: {r['error']} | | | | |")
                continue
            extra = (r["peak_kib"] - base) * 1024
            per = extra / r["samples"] if r["samples"] else float("nan")
            ours = probe("tremorscope", str(f))
            ours_extra = (ours.get("peak_kib", float("nan")) - ours_base) * 1024
            print(
                f"| {f.name} | {f.stat().st_size / 2**20:.1f} | {r['samples']:,} | {r['seconds']:.2f} | "
                f"{extra / 2**20:.0f} | {per:.0f} | {ours_extra / 2**20:.0f} | "
                f"{ours_extra / r['samples'] if r['samples'] else float('nan'):.0f} |"
            )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--devices", type=Path, default=DEFAULT_DEVICES)
    ap.add_argument("--repeat", type=int, default=3, help="reads per file; the fastest is reported")
    ap.add_argument("--scale", default=None, help="comma-separated repeat counts: actfast memory by size")
    args = ap.parse_args()
    if not args.devices.is_dir():
        print(f"no device files at {args.devices}", file=sys.stderr)
        return 1
    if args.scale:
        scale_table(args.devices, [int(x) for x in args.scale.split(",")])
        return 0
    files = sorted(p for p in args.devices.iterdir() if p.suffix.lower() in (".cwa", ".bin", ".gt3x"))
    print("| library (licence) | file | samples | median abs(acc) g | rate Hz | time s | peak MiB |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for lib in ("actfast", "pygt3x"):
        base = probe(lib, "-").get("base_kib", 0)
        for f in files:
            if lib == "pygt3x" and f.suffix.lower() != ".gt3x":
                continue  # pygt3x reads GT3X only
            runs = [probe(lib, str(f)) for _ in range(max(1, args.repeat))]
            if "error" in runs[0]:
                print(f"| {lib} ({LICENCES[lib]}) | {f.name} | error: {runs[0]['error']} | | | | |")
                continue
            best = min(runs, key=lambda r: r["seconds"])
            rate = "-" if best["rate_hz"] is None else f"{best['rate_hz']:.1f}"
            print(
                f"| {lib} ({LICENCES[lib]}) | {f.name} | {best['samples']:,} | {best['g']:.3f} | {rate} | "
                f"{best['seconds']:.3f} | {(best['peak_kib'] - base) / 1024:.1f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
