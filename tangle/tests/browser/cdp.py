#!/usr/bin/env python3
"""Loads pages of a built mdBook in headless Chromium and reports what the DOM holds.

Python standard library only. Serves DIR on a loopback HTTP server, starts Chromium with the
DevTools protocol on a pipe (--remote-debugging-pipe: fds 3 and 4, NUL-separated JSON), and for
each PAGE: navigates, waits for the load event, evaluates the JavaScript in --check (an
expression, possibly a promise, whose value must be JSON) and collects console errors,
uncaught exceptions and failed loads. Prints one JSON object: {"pages": {PAGE: {"result": ...,
"errors": [...]}}}.

usage: cdp.py --chromium PATH --root DIR --check FILE.js [--width PX] [--no-playground-stub]
              [--screenshot PAGE=OUT.png]... PAGE...

--width sets the window's width (1280 by default). --no-playground-stub lets a request to the
Rust playground fail as it does offline (a console error), instead of answering it.
"""

import argparse
import base64
import functools
import http.server
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
]


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class Browser:
    def __init__(self, chromium, profile):
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()

        def fds():
            a, b = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.log = os.path.join(profile, "chromium.log")
        self.proc = subprocess.Popen(
            [chromium, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(self.log, "wb"),
            close_fds=False,
            preexec_fn=fds,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self.next_id = 0
        self.side_base = 1 << 30
        self.side_id = self.side_base
        self.buf = b""
        self.events = []

    def _read_message(self, deadline):
        while True:
            while b"\0" not in self.buf:
                left = deadline - time.monotonic()
                # Wait for the pipe with the deadline: a read alone would block for ever.
                if left <= 0 or not select.select([self.from_child], [], [], left)[0]:
                    raise TimeoutError("no answer from Chromium")
                chunk = os.read(self.from_child, 1 << 16)
                if not chunk:
                    raise EOFError("Chromium closed the DevTools pipe")
                self.buf += chunk
            msg, self.buf = self.buf.split(b"\0", 1)
            m = json.loads(msg)
            if m.get("method") == "Fetch.requestPaused":
                self._answer_offline(m)
                continue
            if m.get("id", 0) > self.side_base:
                continue  # the answer to a Fetch.fulfillRequest
            return m
        raise AssertionError("unreachable")

    def _answer_offline(self, m):
        """The network is closed in tests: the Rust playground, which mdBook's book.js asks
        for its crate list when a page has runnable code, gets an empty list from here."""
        self.side_id += 1
        body = base64.b64encode(b'{"crates": []}').decode()
        msg = {
            "id": self.side_id,
            "method": "Fetch.fulfillRequest",
            "sessionId": m["sessionId"],
            "params": {
                "requestId": m["params"]["requestId"],
                "responseCode": 200,
                "responseHeaders": [
                    {"name": "Content-Type", "value": "application/json"},
                    {"name": "Access-Control-Allow-Origin", "value": "*"},
                    {"name": "Access-Control-Allow-Headers", "value": "*"},
                ],
                "body": body,
            },
        }
        os.write(self.to_child, json.dumps(msg).encode() + b"\0")

    def call(self, method, params=None, session=None, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def wait_event(self, method, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e["method"] == method:
                    return self.events.pop(i)
            self.events.append(self._read_message(deadline))

    def drain(self, seconds):
        """Reads events for `seconds` (late console messages)."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0 and b"\0" not in self.buf:
                return
            if b"\0" not in self.buf:
                ready, _, _ = select.select([self.from_child], [], [], max(left, 0))
                if not ready:
                    return
            self.events.append(self._read_message(time.monotonic() + 5))

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def errors_of(events):
    out = []
    for e in events:
        m, p = e["method"], e.get("params", {})
        if m == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            exc = d.get("exception", {}).get("description") or d.get("text")
            out.append(f"exception: {exc} at {d.get('url', '')}:{d.get('lineNumber', 0) + 1}")
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert", "warning"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            out.append(f"console.{p['type']}: {args}")
        elif m == "Log.entryAdded" and p["entry"].get("level") in ("error", "warning"):
            en = p["entry"]
            out.append(f"log {en['level']} ({en.get('source')}): {en.get('text')} {en.get('url', '')}")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chromium", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--check", required=True)
    ap.add_argument("--screenshot", action="append", default=[])
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--no-playground-stub", action="store_true")
    ap.add_argument("pages", nargs="+")
    args = ap.parse_args()
    check = open(args.check, encoding="utf-8").read()
    shots = dict(s.split("=", 1) for s in args.screenshot)

    handler = functools.partial(Quiet, directory=args.root)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"

    profile = tempfile.mkdtemp(prefix="tangle-chromium-")
    browser = Browser(args.chromium, profile)
    report = {"base": base, "pages": {}}
    try:
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            browser.call(f"{domain}.enable", session=session)
        if not args.no_playground_stub:
            browser.call(
                "Fetch.enable",
                {"patterns": [{"urlPattern": "https://play.rust-lang.org/*"}]},
                session=session,
            )
        # The print page calls window.print() on load: make it a no-op in the test.
        browser.call(
            "Page.addScriptToEvaluateOnNewDocument",
            {"source": "window.print = function () {};"},
            session=session,
        )
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": args.width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        for page in args.pages:
            browser.events = []
            browser.call("Page.navigate", {"url": base + page}, session=session)
            browser.wait_event("Page.loadEventFired")
            browser.drain(0.3)
            res = browser.call(
                "Runtime.evaluate",
                {"expression": check, "awaitPromise": True, "returnByValue": True},
                session=session,
            )
            if "exceptionDetails" in res:
                result = {"check_failed": res["exceptionDetails"].get("exception", {}).get("description")}
            else:
                result = res["result"].get("value")
            browser.drain(0.1)
            if page in shots:
                data = browser.call("Page.captureScreenshot", {"format": "png"}, session=session)["data"]
                with open(shots[page], "wb") as f:
                    f.write(base64.b64decode(data))
            report["pages"][page] = {"result": result, "errors": errors_of(browser.events)}
    except Exception:
        with open(browser.log, encoding="utf-8", errors="replace") as f:
            tail = f.read()[-4000:]
        print(f"--- Chromium's stderr (tail):\n{tail}", file=sys.stderr)
        raise
    finally:
        browser.close()
        server.shutdown()
        shutil.rmtree(profile, ignore_errors=True)
    json.dump(report, sys.stdout)
    print()


if __name__ == "__main__":
    main()
