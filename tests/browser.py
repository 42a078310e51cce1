"""Opens a report in headless Chromium and checks what a reader would see.

`check_report(path)` loads the page through the DevTools protocol (over
`--remote-debugging-pipe`, so no extra package and no port) and returns a `PageCheck`:

- the screenshot (a PNG of the whole page, saved beside the report as
  `report.screenshot.png`) and whether it is blank (near-uniform pixels);
- every `<img>`: whether the browser decoded it (`img.decode()` and a non-zero natural
  size), and, since Chromium shows a truncated PNG partially rather than refusing it,
  whether the embedded bytes of each `data:` image decode completely with Pillow;
- every request the page made: anything but `file:`, `data:` and `about:` URLs is a
  network fetch. The report's Content-Security-Policy is bypassed for the check, so a
  reference to the network is really attempted (and recorded) instead of silently
  blocked; host names resolve to nothing (`--host-resolver-rules`), so no packet leaves.

`chromium_or_skip()` returns Chromium's path; without it the test is skipped, unless
`PIPELINES_REQUIRE_BROWSER=1` (set by `.ci/run`), where it fails. `assert_report_renders`,
called in the middle of the pipelines' tests, only warns without Chromium, so that the rest of
the test still runs.

Example:
    >>> check = check_report(run_dir / "report.html")  # doctest: +SKIP
    >>> check.problems()  # doctest: +SKIP
    []
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
LOCAL_SCHEMES = ("file:", "data:", "about:")
TIMEOUT_SECONDS = 60.0


@dataclasses.dataclass
class PageCheck:
    """What the browser saw.

    Attributes:
        screenshot: The saved full-page PNG.
        is_blank: Fewer than 0.1 % of the pixels differ from the most common colour.
        text_length: Characters of visible text on the page.
        images: Number of `<img>` elements.
        broken_images: The `alt` text of every image the browser could not decode.
        network_requests: URLs requested with another scheme than file, data or about.
    """

    screenshot: Path
    is_blank: bool
    text_length: int
    images: int
    broken_images: list[str]
    network_requests: list[str]

    def problems(self) -> list[str]:
        """Human-readable failures; empty when the page passes every check."""
        out = []
        if self.is_blank or self.text_length == 0:
            out.append(f"blank page (screenshot {self.screenshot}, {self.text_length} characters of text)")
        if self.broken_images:
            out.append(f"{len(self.broken_images)} of {self.images} images do not decode: {self.broken_images}")
        if self.network_requests:
            out.append(f"the page requests the network: {self.network_requests}")
        return out


def find_chromium() -> str | None:
    """The path of a Chromium binary on PATH, or None."""
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


def chromium_or_skip() -> str:
    """Chromium's path; skips the test without it, or fails when PIPELINES_REQUIRE_BROWSER=1."""
    path = find_chromium()
    if path is None:
        message = "headless Chromium is not installed (apt-get install chromium)"
        if os.environ.get("PIPELINES_REQUIRE_BROWSER") == "1":
            pytest.fail(message + ", and PIPELINES_REQUIRE_BROWSER=1 requires the browser check")
        pytest.skip(message)
    return path


def assert_report_renders(html_path: Path, *, min_images: int = 1) -> PageCheck | None:
    """`check_report` plus the assertions every pipeline's report must pass.

    Without Chromium (and PIPELINES_REQUIRE_BROWSER unset) this warns and returns None rather
    than skipping: a skip would also drop the calling test's other assertions.
    """
    if find_chromium() is None and os.environ.get("PIPELINES_REQUIRE_BROWSER") != "1":
        warnings.warn(f"headless Chromium is not installed: {html_path} was not opened in a browser", stacklevel=2)
        return None
    check = check_report(html_path)
    assert not check.problems(), check.problems()
    assert check.images >= min_images, f"expected at least {min_images} images, the page has {check.images}"
    return check


def check_report(html_path: str | os.PathLike, *, width: int = 1280, height: int = 900) -> PageCheck:
    """Loads `html_path` in headless Chromium and inspects it (see the module docstring)."""
    html_path = Path(html_path).resolve()
    browser = chromium_or_skip()
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile, _Browser(browser, profile, width, height) as cdp:
        target = cdp.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = cdp.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for method, params in (("Network.enable", {}), ("Page.enable", {}), ("Page.setBypassCSP", {"enabled": True})):
            cdp.call(method, params, session)
        cdp.call("Page.navigate", {"url": html_path.as_uri()}, session)
        cdp.wait_for("Page.loadEventFired", session)
        result = cdp.call(
            "Runtime.evaluate", {"expression": _INSPECT_JS, "awaitPromise": True, "returnByValue": True}, session
        )
        page = result["result"]["value"]
        shot = cdp.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session)
        requests = [
            e["params"]["request"]["url"]
            for e in cdp.events
            if e.get("method") == "Network.requestWillBeSent" and e.get("sessionId") == session
        ]
    screenshot = html_path.with_suffix(".screenshot.png")
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    return PageCheck(
        screenshot=screenshot,
        is_blank=_is_blank(screenshot),
        text_length=int(page["text"]),
        images=int(page["images"]),
        broken_images=list(page["broken"])
        + [alt for alt, src in page["data"] if not _decodes(src) and alt not in page["broken"]],
        network_requests=[url for url in requests if not url.startswith(LOCAL_SCHEMES)],
    )


# Decodes every image (img.decode() rejects on a broken one) and measures the text.
_INSPECT_JS = """
(async () => {
  const images = Array.from(document.images);
  const broken = [];
  for (const img of images) {
    try { await img.decode(); } catch (e) { broken.push(img.alt || img.src.slice(0, 60)); continue; }
    if (!img.naturalWidth || !img.naturalHeight) broken.push(img.alt || img.src.slice(0, 60));
  }
  const data = images.filter(img => img.src.startsWith("data:")).map(img => [img.alt || img.src.slice(0, 60), img.src]);
  return {images: images.length, broken: broken, data: data,
          text: document.body ? document.body.innerText.trim().length : 0};
})()
"""


def _decodes(data_uri: str) -> bool:
    """Whether a base64 `data:` image decodes to its full size with Pillow."""
    import binascii
    import io

    from PIL import Image

    try:
        raw = base64.b64decode(data_uri.split(",", 1)[1], validate=True)
        with Image.open(io.BytesIO(raw)) as image:
            image.load()  # raises on truncated or corrupt data
        return True
    except (OSError, ValueError, binascii.Error, IndexError):
        return False


def _is_blank(png: Path) -> bool:
    from matplotlib.image import imread

    pixels = imread(str(png))[..., :3].reshape(-1, 3)
    pixels = np.round(pixels * 255).astype(np.int32)
    packed = pixels[:, 0] * 65536 + pixels[:, 1] * 256 + pixels[:, 2]
    most_common = np.bincount(packed).argmax()
    return float(np.mean(packed != most_common)) < 0.001


class _Browser:
    """A headless Chromium driven over the DevTools pipe (fd 3 in, fd 4 out)."""

    def __init__(self, binary: str, profile: str, width: int, height: int) -> None:
        self.args = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-sync",
            "--mute-audio",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost",
            f"--window-size={width},{height}",
            "about:blank",
        ]
        self.events: list[dict[str, Any]] = []
        self._next_id = 0
        self._buffer = b""

    def __enter__(self) -> _Browser:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def wire_pipes() -> None:  # in the child, before exec: Chromium expects fds 3 and 4
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.process = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(3, 4),
            preexec_fn=wire_pipes,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.call("Browser.close", {})
        except (RuntimeError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)

    def call(self, method: str, params: dict[str, Any], session: str | None = None) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method} failed: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, session: str) -> dict[str, Any]:
        for event in self.events:
            if event.get("method") == method and event.get("sessionId") == session:
                return event
        while True:
            event = self._read()
            self.events.append(event)
            if event.get("method") == method and event.get("sessionId") == session:
                return event

    def _read(self) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_chrome], [], [], max(left, 0))
            if not ready:
                raise RuntimeError(f"Chromium did not answer within {TIMEOUT_SECONDS:.0f} s")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium exited (status {self.process.poll()})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)
