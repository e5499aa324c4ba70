#!/usr/bin/env python3
"""Counts the instructions each server executes per keep-alive request, with callgrind.

Performance's "Where the time goes" measures the server by what it executes, not by the clock:
valgrind's callgrind counts user-space instructions exactly, whatever else the machine is
doing. Each server (the fast build, the plain build, the floor) is started under callgrind on
loopback, CLIENTS threads send keep-alive `search morpheus` requests in the original client's
form, once FEW in all and once MANY, and the difference of the two totals divided by
MANY - FEW is one request's share (start-up and shutdown cancel out).

Writes target/tmp/instructions.json, which scripts/bench-charts.py turns into the chapter's
table and chart (`cargo make bench-instructions` runs both). Needs valgrind, and the release
builds the load bench makes (`cargo bench -p selector-server --bench load` builds all three).
"""

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

CLIENTS = 5
FEW, MANY = 10_000, 30_000
ROOT = Path(__file__).resolve().parent.parent


def request():
    content = json.dumps({"action": "search", "value": "morpheus"}).encode()
    header = json.dumps(
        {
            "byteorder": "little",
            "content-type": "text/json",
            "content-encoding": "utf-8",
            "content-length": len(content),
            "keep-alive": True,
        }
    ).encode()
    return struct.pack(">H", len(header)) + header + content


def read_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise RuntimeError("the server closed the connection")
        data += chunk
    return data


def client(addr, count, errors):
    try:
        with socket.create_connection(addr, timeout=120) as sock:
            message = request()
            for _ in range(count):
                sock.sendall(message)
                (length,) = struct.unpack(">H", read_exactly(sock, 2))
                header = json.loads(read_exactly(sock, length))
                read_exactly(sock, header["content-length"])
    except Exception as e:  # reported by the caller
        errors.append(repr(e))


def instructions(command, env, requests):
    """Total instructions of `command` under callgrind, after `requests` requests."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        proc = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **env},
            text=True,
        )
        try:
            line = proc.stdout.readline().strip()
            if not line.startswith("listening on "):
                raise RuntimeError(f"{command[0]}: no listening line, got {line!r}")
            host, port = line.removeprefix("listening on ").rsplit(":", 1)
            addr = (host.strip("[]"), int(port))
            errors = []
            threads = [
                threading.Thread(target=client, args=(addr, requests // CLIENTS, errors))
                for _ in range(CLIENTS)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            if errors:
                raise RuntimeError(f"{command[0]}: {errors[0]}")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=120)
        for text in out.read_text().splitlines():
            if text.startswith("summary:") or text.startswith("totals:"):
                return int(text.split()[1])
        raise RuntimeError(f"{out}: no totals")


def main():
    release = ROOT / "target" / "release"
    plain = Path(os.environ.get("LOAD_PLAIN_SERVER", ROOT / "target/plain-path/release/server"))
    # The floor is the load bench's own binary, run as a server.
    benches = sorted(
        (p for p in (release / "deps").glob("load-*") if os.access(p, os.X_OK) and p.suffix == ""),
        key=lambda p: p.stat().st_mtime,
    )
    if not benches:
        sys.exit("instructions: no load bench binary: run `cargo bench -p selector-server --bench load` first")
    args = ["-P", "0", "-q", "-c", "100", "--timeout", "60"]
    servers = [
        ("server", [str(release / "server"), *args], {}),
        ("plain build", [str(plain), *args], {}),
        ("floor", [str(benches[-1])], {"FLOOR_SERVER": "1", "FLOOR_THREADS": "1"}),
    ]
    results = {"clients": CLIENTS, "few": FEW, "many": MANY, "servers": []}
    for name, command, env in servers:
        if not Path(command[0]).exists():
            sys.exit(f"instructions: {command[0]} is missing: run the load bench first")
        few = instructions(command, env, FEW)
        many = instructions(command, env, MANY)
        per = (many - few) / (MANY - FEW)
        print(f"{name:<12} {per:>9,.0f} instructions per keep-alive request")
        results["servers"].append({"name": name, "few": few, "many": many, "per_request": per})
    path = Path(os.environ.get("INSTRUCTIONS_RESULTS", ROOT / "target/tmp/instructions.json"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"instructions: written to {path}")


if __name__ == "__main__":
    main()
