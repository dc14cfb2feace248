"""The report in a real browser: headless Chromium opens the file, sorts, screenshots, prints.

Chromium (Debian's ``chromium``; ``.ci/run`` installs it) is driven over the DevTools protocol
on a pipe (``--remote-debugging-pipe``: JSON messages ending in NUL on file descriptors 3 and
4), with the standard library only. The test asserts that every section is there, that every
image decoded (``naturalWidth > 0``), that the console logged no error and no exception was
thrown, that no network request was made, that the episode table sorts, and that a screenshot
and a PDF print come out. It is skipped, saying why, where no Chromium is installed.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from review_helpers import png_size, session_start, simulated_session

from dsp.events import Episode
from tremorscope.review.diary import add_note
from tremorscope.review.report import SECTIONS, build_report
from tremorscope.store import Store

#: A4 landscape (297 mm) minus the report's 10 mm print margins, in CSS px (96 per inch).
PRINT_WIDTH_PX = round((297 - 2 * 10) / 25.4 * 96)
#: Every table and figure: its right edge, and the scroll box around it (its own box if none).
LAYOUT_JS = """Array.from(document.querySelectorAll('table, img')).map(function (el) {
  var box = el.parentElement.classList.contains('scroll') ? el.parentElement : el;
  return {id: el.id || el.tagName, right: el.getBoundingClientRect().right,
          scroll: box.scrollWidth, client: box.clientWidth};
})"""
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 60.0


def find_chromium() -> str | None:
    env = os.environ.get("TREMORSCOPE_CHROMIUM")
    if env:
        return env
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium found (looked for chromium, chromium-browser, google-chrome; .ci/run installs "
    "Debian's chromium; set TREMORSCOPE_CHROMIUM to use another)",
)


class DevTools:
    """A minimal Chrome DevTools Protocol client over ``--remote-debugging-pipe``."""

    def __init__(self, exe: str, profile: Path) -> None:
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def fds() -> None:  # runs in the child: the protocol wants fds 3 (in) and 4 (out)
            high_r = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10)  # out of the way of 3 and 4 first
            high_w = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        args = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--disable-extensions",
            "--mute-audio",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        self.proc = subprocess.Popen(
            args,
            preexec_fn=fds,
            close_fds=False,  # keep 3 and 4; Python's own fds are close-on-exec (PEP 446)
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict[str, Any]:
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        want = self._next_id
        while True:
            reply = self._read()
            if reply.get("id") == want:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, session: str | None = None) -> dict[str, Any]:
        for i, ev in enumerate(self.events):
            if ev.get("method") == method and (session is None or ev.get("sessionId") == session):
                return self.events.pop(i)
        while True:
            ev = self._read()
            if ev.get("method") == method and (session is None or ev.get("sessionId") == session):
                self.events.append(dict(ev, _consumed=True))
                return ev
            self.events.append(ev)

    def _read(self) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT_S
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise TimeoutError("Chromium stopped answering on the DevTools pipe")
            ready, _, _ = select.select([self._from_child], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(self._from_child, 1 << 20)
                if not chunk:
                    raise TimeoutError("Chromium closed the DevTools pipe")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("browser")
    with Store(tmp / "log.db") as store:
        sid = simulated_session(store, tmp / "rec", "daily_mix", 240, seed=1)
        row = store.session(sid)
        start = session_start(store, sid)
        t0 = row["t_start_s"]
        for k, direction in enumerate(("flexion", "supination")):
            store.upsert_episode(
                sid,
                Episode(
                    800 + k,
                    "contraction",
                    t0 + 60 + 80 * k,
                    t0 + 100 + 80 * k,
                    t0 + 63 + 80 * k,
                    (start + timedelta(seconds=60 + 80 * k)).isoformat(),
                    peak_angle_deg=30.0 + 10 * k,
                    direction=direction,
                    co_contraction=0.0123,
                ),
                open=False,
            )
        store.commit()
        add_note(store, "levodopa 100 mg", "medication", start + timedelta(seconds=30))
        add_note(store, "stressful call", "stress", start + timedelta(seconds=150))
        return build_report(store, tmp / "report.html", session_id=sid)


def test_report_renders_in_headless_chromium(report_file: Path, tmp_path: Path) -> None:
    assert CHROMIUM is not None
    tools = DevTools(CHROMIUM, tmp_path / "profile")
    try:
        target = tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        s = tools.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            tools.send(f"{domain}.enable", session=s)
        tools.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            session=s,
        )
        url = report_file.resolve().as_uri()
        tools.send("Page.navigate", {"url": url}, session=s)
        tools.wait_event("Page.loadEventFired", s)

        def js(expr: str) -> Any:
            res = tools.send(
                "Runtime.evaluate",
                {"expression": expr, "awaitPromise": True, "returnByValue": True},
                session=s,
            )
            assert "exceptionDetails" not in res, res
            return res["result"].get("value")

        sections = js("Array.from(document.querySelectorAll('main > section')).map(s => s.id)")
        assert sections == [sid for sid, _ in SECTIONS]
        images = js(
            "Promise.all(Array.from(document.images).map(i => i.decode().then("
            "() => [i.naturalWidth, i.naturalHeight, i.complete], () => [0, 0, false])))"
        )
        assert len(images) == 4
        assert all(w > 0 and h > 0 and ok for w, h, ok in images), images
        # the sortable table: JavaScript turned headings into buttons; sort by duration, both ways
        heads = js("Array.from(document.querySelectorAll('#tremor-table th button')).map(b => b.textContent)")
        assert "duration" in heads
        col = heads.index("duration")
        keys = (
            f"Array.from(document.querySelectorAll('#tremor-table tbody tr'))"
            f".map(r => parseFloat(r.cells[{col}].dataset.sort))"
        )
        js(f"document.querySelectorAll('#tremor-table th button')[{col}].click()")
        up = js(keys)
        assert up == sorted(up) and len(up) >= 3
        assert (
            js(f"document.querySelectorAll('#tremor-table th')[{col}].getAttribute('aria-sort')")
            == "ascending"
        )
        js(f"document.querySelectorAll('#tremor-table th button')[{col}].click()")
        assert js(keys) == sorted(up, reverse=True)
        # a screenshot of the whole page
        size = tools.send("Page.getLayoutMetrics", session=s)["cssContentSize"]
        shot = tools.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": 1280, "height": min(size["height"], 12000), "scale": 1},
            },
            session=s,
        )
        png = base64.b64decode(shot["data"])
        (tmp_path / "report.png").write_bytes(png)
        w, h = png_size(png)
        assert w == 1280 and h > 2000
        assert len(png) > 100_000  # a blank page compresses to a few kB
        pdf = base64.b64decode(tools.send("Page.printToPDF", {"printBackground": True}, session=s)["data"])
        assert pdf.startswith(b"%PDF") and len(pdf) > 50_000
        # the episode table carries the CSV's co-contraction column
        heads = js("Array.from(document.querySelectorAll('#contraction-table th')).map(h => h.textContent)")
        assert any(h.startswith("co-contraction") for h in heads), heads
        col = next(i for i, h in enumerate(heads) if h.startswith("co-contraction"))
        cells = js(
            "Array.from(document.querySelectorAll('#contraction-table tbody tr'))"
            f".map(r => r.cells[{col}].textContent)"
        )
        assert "0.0123" in cells
        # layout at 1280 px, then as printed (A4 landscape inside 10 mm margins: 277 mm = 1047 px)
        for width, media in ((1280, "screen"), (PRINT_WIDTH_PX, "print")):
            tools.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
                session=s,
            )
            tools.send("Emulation.setEmulatedMedia", {"media": media}, session=s)
            assert js("document.documentElement.scrollWidth") <= width, media
            boxes = js(LAYOUT_JS)
            assert len(boxes) >= 6 and {"tremor-table", "contraction-table"} <= {b["id"] for b in boxes}, (
                boxes
            )
            for b in boxes:
                # nothing cut off on the right or hidden in a scroll box
                assert b["right"] <= width + 0.5 and b["scroll"] <= b["client"] + 1, (media, b)
        tools.send("Emulation.setEmulatedMedia", {"media": ""}, session=s)
        # nothing went wrong, and nothing left the machine
        errors = [e for e in tools.events if e.get("method") == "Runtime.exceptionThrown"]
        errors += [
            e
            for e in tools.events
            if e.get("method") == "Runtime.consoleAPICalled"
            and e["params"].get("type") in ("error", "assert")
        ]
        errors += [
            e
            for e in tools.events
            if e.get("method") == "Log.entryAdded" and e["params"]["entry"].get("level") == "error"
        ]
        assert errors == [], errors
        requests = [
            e["params"]["request"]["url"]
            for e in tools.events
            if e.get("method") == "Network.requestWillBeSent"
        ]
        assert requests and all(u == url or u.startswith("data:") for u in requests), requests
    finally:
        tools.close()
