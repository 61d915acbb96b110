"""Headless Chromium driven through the DevTools protocol over a pipe.

Chromium started with ``--remote-debugging-pipe`` reads protocol commands from its file
descriptor 3 and writes replies and events to descriptor 4, one JSON message per NUL-terminated
chunk: the standard library is enough, no driver and no websocket client.

Also the command that regenerates the README's screenshots of the leaderboard site::

    python -m tests.chromium docs/      # writes docs/site-index.png and docs/site-board.png
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: Executables tried in this order (``GIBENCH_CHROMIUM`` first when set).
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: Console and log levels that fail a page.
ERROR_LEVELS = ("error", "assert")


def find_chromium() -> str | None:
    """The Chromium executable, or ``None`` when none is installed."""
    given = os.environ.get("GIBENCH_CHROMIUM")
    if given:
        return shutil.which(given) or (given if Path(given).is_file() else None)
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


class ProtocolError(RuntimeError):
    pass


class Chromium:
    """One headless browser with one page (a tab), at ``width`` × ``height`` CSS pixels."""

    def __init__(self, executable: str, width: int = 1200, height: int = 800,
                 timeout: float = 30.0) -> None:
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="gibench-chromium-")
        self._log = tempfile.TemporaryFile()  # Chromium's stderr (a pipe could fill and block)
        child_in, self._out = os.pipe()   # we write commands, Chromium reads them on fd 3
        self._in, child_out = os.pipe()   # Chromium writes on fd 4, we read

        def onto_3_and_4() -> None:  # in the child, before exec
            a = fcntl.fcntl(child_in, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(child_out, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [executable, "--headless", "--remote-debugging-pipe", "--disable-gpu",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--hide-scrollbars", "--force-color-profile=srgb", "--font-render-hinting=none",
                f"--user-data-dir={self.profile}", f"--window-size={width},{height}"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to sandbox as root (CI containers)
        # close_fds=False: the child keeps its new 3 and 4 (inheritable, from dup2); every
        # other descriptor of ours is close-on-exec already (PEP 446)
        self.proc = subprocess.Popen(args + ["about:blank"], preexec_fn=onto_3_and_4,
                                     close_fds=False, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self._log)
        os.close(child_in)
        os.close(child_out)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        try:
            target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            self.session = self.send("Target.attachToTarget",
                                     {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log"):
                self.page(f"{domain}.enable")
            self.page("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 1,
                       "mobile": False})
        except BaseException:
            self.close()
            raise

    # -- the protocol -------------------------------------------------------------------------
    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._in], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                self._log.seek(0)
                err = self._log.read().decode(errors="replace")
                raise ProtocolError(f"Chromium closed the pipe: {err[-2000:]}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None) -> dict[str, Any]:
        """Send a command and return its result; events that arrive meanwhile are kept."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method,
                                   "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise ProtocolError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def page(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.send(method, params, self.session)

    def wait_for(self, event: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        for i, seen in enumerate(self.events):
            if seen["method"] == event:
                return self.events.pop(i)
        while True:
            message = self._read_message(deadline)
            if message.get("method") == event:
                return message
            if "method" in message:
                self.events.append(message)

    # -- what a test does -----------------------------------------------------------------------
    def open(self, url: str) -> None:
        """Load ``url`` and wait for its ``load`` event."""
        self.events = [e for e in self.events if e["method"] != "Page.loadEventFired"]
        result = self.page("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise ProtocolError(f"cannot open {url}: {result['errorText']}")
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.page("Runtime.evaluate", {"expression": expression,
                                                "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise ProtocolError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A real mouse click (pressed, released) at the centre of the element."""
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " if (!e) return null; e.scrollIntoView({block: 'center'});"
            " const r = e.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()")
        if box is None:
            raise ProtocolError(f"no element matches {selector!r}")
        for kind in ("mousePressed", "mouseReleased"):
            self.page("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1],
                                                   "button": "left", "clickCount": 1})

    def errors(self) -> list[str]:
        """The console errors, uncaught exceptions and error log entries seen so far."""
        found = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ERROR_LEVELS:
                found.append("console: " + " ".join(str(a.get("value", a.get("description")))
                                                    for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                found.append("exception: " + str(details.get("exception", {}).get(
                    "description", details.get("text"))))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                found.append(f"log ({entry.get('source')}): {entry.get('text')} "
                             f"{entry.get('url', '')}")
        return found

    def screenshot(self, path: Path) -> Path:
        data = self.page("Page.captureScreenshot", {"format": "png"})["data"]
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                try:
                    self.send("Browser.close")
                except (ProtocolError, TimeoutError, OSError):
                    pass
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        finally:
            for fd in (self._in, self._out):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._log.close()
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: The board shown in the README's screenshot.
SCREENSHOT_BOARD = "genimage-cross-generator"


def _small_png(path: Path) -> Path:
    """Rewrite the PNG at ``path`` with a 64-colour palette (a page is flat colours and
    text: a third of the bytes, no visible change)."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(64, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)
    return path


def screenshots(out: Path, leaderboards: Path = Path("leaderboards")) -> list[Path]:
    """Build the site of ``leaderboards`` and write ``site-index.png`` and ``site-board.png``
    (the board :data:`SCREENSHOT_BOARD`) into ``out``."""
    from gibench.leaderboard.site import build_site, page_name
    from gibench.registry import get_registry

    executable = find_chromium()
    if executable is None:
        raise SystemExit("no Chromium found: apt-get install chromium (or set GIBENCH_CHROMIUM)")
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        build_site(leaderboards, site, get_registry())
        written = []
        with Chromium(executable, width=1100, height=640) as browser:
            for page, name in (("index.html", "site-index.png"),
                               (f"board-{page_name(SCREENSHOT_BOARD)}.html", "site-board.png")):
                browser.open((site / page).resolve().as_uri())
                written.append(_small_png(browser.screenshot(Path(out) / name)))
            if browser.errors():
                raise SystemExit("the pages logged errors: " + "; ".join(browser.errors()))
    return written


if __name__ == "__main__":  # pragma: no cover
    for shot in screenshots(Path(sys.argv[1] if len(sys.argv) > 1 else "docs")):
        print(f"wrote {shot}")
