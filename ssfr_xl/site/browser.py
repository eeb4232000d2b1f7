"""Headless Chromium for the site: PNG copies of charts, page checks and screenshots.

`svg_to_png` needs only the `chromium` program (its --screenshot switch). `Browser` drives a
real page session over the DevTools protocol (a websocket, with the `websocket-client`
package from the test extras): console errors, failed loads, script evaluation (axe-core,
the library's search) and full-page screenshots at a given width.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

#: Console message types that count as errors.
CONSOLE_ERRORS = frozenset({"assert", "error"})

#: Program names tried in order (SSFR_XL_CHROMIUM names another).
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """Path of a Chromium (or Chrome) program, or None."""
    named = os.environ.get("SSFR_XL_CHROMIUM")
    if named:
        return shutil.which(named) or (named if os.path.exists(named) else None)
    return next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)


def _switches(profile: str) -> list[str]:
    switches = ["--headless=new", "--disable-gpu", "--hide-scrollbars", "--mute-audio",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-sync",
                "--disable-dev-shm-usage", f"--user-data-dir={profile}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        switches.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    return switches


def svg_to_png(svg: str, png: Path, scale: int = 2) -> None:
    """Render an SVG's text to a PNG at `scale` times its size, with Chromium."""
    chromium = find_chromium()
    if chromium is None:
        raise RuntimeError("Chromium is not installed")
    m = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg)
    width, height = (int(m.group(1)), int(m.group(2))) if m else (800, 600)
    with tempfile.TemporaryDirectory(prefix="ssfr-xl-png-") as tmp:
        page = Path(tmp) / "chart.svg"
        page.write_text(svg, encoding="utf-8")
        shot = Path(tmp) / "chart.png"
        subprocess.run([chromium, *_switches(str(Path(tmp) / "profile")),
                        f"--force-device-scale-factor={scale}",
                        f"--window-size={width},{height}", f"--screenshot={shot}",
                        page.as_uri()], check=True, capture_output=True, timeout=60)
        shutil.copyfile(shot, png)


class Browser:
    """A headless Chromium with its DevTools port open; use as a context manager."""

    def __init__(self, chromium: str | None = None, timeout: float = 30.0):
        self.chromium = chromium or find_chromium()
        if self.chromium is None:
            raise RuntimeError("Chromium is not installed (Debian package: chromium)")
        self.timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="ssfr-xl-chromium-")
        self._process = subprocess.Popen(
            [self.chromium, *_switches(self._profile), "--remote-debugging-port=0",
             "--remote-allow-origins=*", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.port = self._wait_port()

    def _wait_port(self) -> int:
        marker = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if marker.exists():
                text = marker.read_text().split()
                if text:
                    return int(text[0])
            if self._process.poll() is not None:
                break
            time.sleep(0.05)
        self.close()
        raise RuntimeError("Chromium did not open its DevTools port")

    def page(self, width: int = 1280, height: int = 900, mobile: bool = False) -> Page:
        """A new tab, at this viewport size."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/json/new?about:blank",
                                         method="PUT")
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            target = json.loads(response.read())
        page = Page(target["webSocketDebuggerUrl"], target["id"], self.port, self.timeout)
        page.viewport(width, height, mobile)
        return page

    def close(self) -> None:
        """Stop Chromium (the process this object started) and remove its profile."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Page:
    """One tab: navigate, evaluate, collect console errors and failed loads, screenshot."""

    def __init__(self, ws_url: str, target_id: str, port: int, timeout: float):
        import websocket  # websocket-client, from the test extras

        self._ws = websocket.create_connection(ws_url, timeout=timeout, suppress_origin=True)
        self._id = 0
        self._target, self._port = target_id, port
        self.timeout = timeout
        self.events: list[dict] = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")

    def send(self, method: str, **params: object) -> dict:
        """Call a DevTools method and return its result (events are kept in `events`)."""
        self._id += 1
        mine = self._id
        self._ws.send(json.dumps({"id": mine, "method": method, "params": params}))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            message = json.loads(self._ws.recv())
            if message.get("id") == mine:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)
        raise TimeoutError(method)

    def _wait_event(self, name: str, since: int) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if any(e["method"] == name for e in self.events[since:]):
                return
            message = json.loads(self._ws.recv())
            if "method" in message:
                self.events.append(message)
        raise TimeoutError(name)

    def viewport(self, width: int, height: int, mobile: bool = False) -> None:
        """Emulate a screen of this size (a phone with mobile=True)."""
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=mobile)

    def open(self, url: str) -> None:
        """Go to a URL and wait until it has loaded (images and styles included)."""
        self.events.clear()
        self.send("Page.navigate", url=url)
        self._wait_event("Page.loadEventFired", 0)

    def evaluate(self, expression: str, await_promise: bool = False) -> object:
        """The value of a script in the page."""
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=await_promise)
        if "exceptionDetails" in result:
            raise RuntimeError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed loads since the page was opened."""
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.consoleAPICalled" and p.get("type") in CONSOLE_ERRORS:
                out.append("console: " + " ".join(str(a.get("value", a.get("description")))
                                                  for a in p.get("args", [])))
            elif e["method"] == "Runtime.exceptionThrown":
                out.append("exception: " + json.dumps(p.get("exceptionDetails", {}))[:500])
            elif e["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                entry = p["entry"]
                out.append(f"log: {entry.get('text')} {entry.get('url', '')}")
            elif e["method"] == "Network.loadingFailed" and not p.get("canceled"):
                out.append(f"load failed: {p.get('errorText')} ({p.get('type')})")
        return out

    def screenshot(self, path: Path, width: int, mobile: bool = False) -> None:
        """A full-page PNG at this viewport width."""
        self.viewport(width, 800, mobile)
        metrics = self.send("Page.getLayoutMetrics")
        height = int(metrics.get("cssContentSize", metrics.get("contentSize"))["height"])
        self.viewport(width, max(400, min(height, 16000)), mobile)
        shot = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=False)
        Path(path).write_bytes(base64.b64decode(shot["data"]))
        self.viewport(width, 800, mobile)

    def close(self) -> None:
        """Close the tab."""
        try:
            self._ws.close()
        finally:
            try:
                urllib.request.urlopen(
                    f"http://127.0.0.1:{self._port}/json/close/{self._target}", timeout=5
                ).close()
            except OSError:
                pass

    def __enter__(self) -> Page:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
