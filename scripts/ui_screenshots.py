"""Screenshots of the Dagster UI in headless Chromium, driven over the DevTools protocol.

Why not ``chromium --screenshot``: the UI is a single-page app that opens a welcome dialog
and collapses asset groups; this script dismisses the dialog, expands the groups and waits
for the page to settle before each capture. Only the standard library, ``websockets``
(installed with dagster) and Debian's ``chromium`` are needed.

    python scripts/ui_screenshots.py --base http://127.0.0.1:3000 --out /tmp/h6 \\
        graph=/asset-groups  mart=/assets/marts/scenario_flows \\
        'chart@impact_chart=/assets/marts/scenario_impact?view=partitions&partition=gold-sleeve'

``name@key`` opens the metadata entry ``key`` of the page (a markdown chart, a schema).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import websockets

DISMISS = """
(() => {
  for (const b of document.querySelectorAll('button')) {
    if (['Skip', 'Dismiss', 'Got it', 'Close'].includes(b.innerText.trim())) b.click();
  }
  return true;
})()
"""
EXPAND_GROUPS = """
(() => {
  let n = 0;
  for (const el of document.querySelectorAll('[data-testid], div, span')) {
    const t = (el.innerText || '').trim();
    if (el.children.length === 0 && el.closest('foreignObject') &&
        /^(raw|staging|marts|model|publish|report)$/.test(t)) { el.click(); n++; }
  }
  return n;
})()
"""


OPEN_ROW = """
((key) => {
  for (const tr of document.querySelectorAll('tr')) {
    const first = tr.querySelector('td');
    if (first && first.innerText.trim() === key) {
      const target = tr.querySelector('button, a, [role=button], u, span[style*=cursor]') ||
        [...tr.querySelectorAll('*')].find(e => /Show/.test(e.innerText || ''));
      if (target) { target.click(); return true; }
    }
  }
  return false;
})(%s)
"""


class Page:
    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.next_id = 0

    async def call(self, method: str, **params: object) -> dict:
        self.next_id += 1
        me = self.next_id
        await self.ws.send(json.dumps({"id": me, "method": method, "params": params}))
        while True:
            message = json.loads(await self.ws.recv())
            if message.get("id") == me:
                return message.get("result", {})

    async def eval(self, expression: str) -> object:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")


async def capture(base: str, shots: list[tuple[str, str]], out: Path, size: tuple[int, int],
                  port: int, settle: float) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("chromium not found (apt-get install -y chromium)")
    profile = tempfile.mkdtemp()
    proc = subprocess.Popen(
        [browser, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={profile}", f"--remote-debugging-port={port}",
         f"--window-size={size[0]},{size[1]}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(50):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as r:
                    targets = [t for t in json.load(r) if t["type"] == "page"]
                if targets:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        async with websockets.connect(targets[0]["webSocketDebuggerUrl"],
                                      max_size=64 * 1024 * 1024) as ws:
            page = Page(ws)
            await page.call("Page.enable")
            await page.call("Emulation.setDeviceMetricsOverride", width=size[0],
                            height=size[1], deviceScaleFactor=1, mobile=False)
            for name, path in shots:
                await page.call("Page.navigate", url=base.rstrip("/") + path)
                await asyncio.sleep(settle)
                await page.eval(DISMISS)
                if "@" in name:  # name@key: open the metadata entry `key` (a chart, a schema)
                    name, key = name.split("@", 1)
                    await page.eval(OPEN_ROW % json.dumps(key))
                    await asyncio.sleep(2)
                if name.endswith("+expand"):  # open every collapsed group of the graph
                    name = name.removesuffix("+expand")
                    await page.eval(EXPAND_GROUPS)
                    await asyncio.sleep(settle / 2)
                await asyncio.sleep(1)
                shot = await page.call("Page.captureScreenshot", format="png")
                target = out / f"{name}.png"
                target.write_bytes(base64.b64decode(shot["data"]))
                print(f"{target}  <- {base}{path}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:3000")
    parser.add_argument("--out", default=".")
    parser.add_argument("--size", default="1600x1000")
    parser.add_argument("--port", type=int, default=9229)
    parser.add_argument("--settle", type=float, default=8.0, help="seconds to let a page load")
    parser.add_argument("shots", nargs="+", help="name=/path")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    shots = [tuple(s.split("=", 1)) for s in args.shots]
    Path(args.out).mkdir(parents=True, exist_ok=True)
    asyncio.run(capture(args.base, shots, Path(args.out), (width, height), args.port,
                        args.settle))


if __name__ == "__main__":
    main()
