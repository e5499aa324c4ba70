#!/usr/bin/env python3
"""A client written from the book's protocol chapter (docs/protocol.md) alone, in the style
of the Real Python app-client.

usage: interop_client.py HOST PORT ACTION VALUE [--password PW] [--keep-alive N]

Prints "Got result: ..." for text/json replies and "Got response: b'...'" for binary ones,
exactly as the original libclient does. Exits 1 when a reply carries an "error" code.
"""
import argparse
import json
import socket
import struct
import sys


def frame(header, content):
    header_bytes = json.dumps(header, ensure_ascii=False).encode("utf-8")
    return struct.pack(">H", len(header_bytes)) + header_bytes + content


def request(action, value, password=None, keep_alive=False):
    if action == "search":
        content = json.dumps({"action": action, "value": value}, ensure_ascii=False).encode("utf-8")
        ctype, enc = "text/json", "utf-8"
    else:
        content = bytes(action + value, encoding="utf-8")
        ctype, enc = "binary/custom-client-binary-type", "binary"
    header = {
        "byteorder": sys.byteorder,
        "content-type": ctype,
        "content-encoding": enc,
        "content-length": len(content),
    }
    if keep_alive:
        header["keep-alive"] = True
    if password is not None:
        header["password"] = password
    return frame(header, content)


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise RuntimeError("Peer closed.")
        data += chunk
    return data


def read_reply(sock):
    (hdrlen,) = struct.unpack(">H", recv_exact(sock, 2))
    header = json.loads(recv_exact(sock, hdrlen).decode("utf-8"))
    for key in ("byteorder", "content-length", "content-type", "content-encoding"):
        if key not in header:
            raise ValueError(f"Missing required header '{key}'.")
    content = recv_exact(sock, header["content-length"])
    return header, content


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("action")
    parser.add_argument("value")
    parser.add_argument("--password")
    parser.add_argument("--keep-alive", type=int, default=1)
    args = parser.parse_args()

    failed = False
    with socket.create_connection((args.host, args.port), timeout=10) as sock:
        for i in range(args.keep_alive):
            keep = i + 1 < args.keep_alive
            sock.sendall(request(args.action, args.value, args.password, keep))
            header, content = read_reply(sock)
            if header["content-type"] == "text/json":
                reply = json.loads(content.decode(header["content-encoding"]))
                print(f"Got result: {reply.get('result')}")
                if "error" in reply:
                    failed = True
                    break
            else:
                print(f"Got response: {content!r}")
            if keep and not header.get("keep-alive"):
                print("server did not keep the connection open", file=sys.stderr)
                failed = True
                break
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
