#!/usr/bin/env python3
"""The Real Python guide's app-client, libclient and libserver, reproduced for the tests.

The code below follows the guide's `app-client.py`, `libclient.py` and `libserver.py`
method for method: the request is built by `create_request` and `Message.queue_request`
(`json.dumps(..., ensure_ascii=False)`, header keys in the order byteorder, content-type,
content-encoding, content-length, `sys.byteorder`), sent and read through a `selectors`
loop, and printed by `_process_response_json_content` / `_process_response_binary_content`.
Only three things are added, all for testing: a bound on the loop (the original waits for
ever), a record of every byte sent and received, and a check that the reply is byte for
byte what the original libserver would have answered to the same request bytes.

usage:
  original_app_client.py client HOST PORT ACTION VALUE
      Run the original app-client against a server. After the original's output, check
      that the server sent exactly the original libserver's reply, then closed. Exit 1
      (with both byte strings on stderr) when it did not.
  original_app_client.py capture ACTION VALUE
      Play the original server for one connection on 127.0.0.1 (port printed first, as
      "listening on 127.0.0.1:PORT"): read one request, check that its bytes are exactly
      what the original app-client sends for ACTION VALUE, and answer it as libserver.
  original_app_client.py json HOST PORT CONTENT
      Send CONTENT (JSON text) as a text/json request framed as libclient frames it, and
      check that the reply is byte for byte the original libserver's answer to it: values
      that are not strings, objects as actions, key order. Exit 1 when it is not.
"""
import io
import json
import selectors
import socket
import struct
import sys
import time
import traceback

LOOP_BOUND_SECONDS = 10


# --- libserver.py: what the original server answers --------------------------------------

request_search = {
    "morpheus": "Follow the white rabbit. \U0001f430",
    "ring": "In the caves beneath the Misty Mountains. \U0001f48d",
    "\U0001f436": "\U0001f43e Playing ball! \U0001f3d0",
}


def _json_encode(obj, encoding):
    return json.dumps(obj, ensure_ascii=False).encode(encoding)


def _json_decode(json_bytes, encoding):
    tiow = io.TextIOWrapper(io.BytesIO(json_bytes), encoding=encoding, newline="")
    obj = json.load(tiow)
    tiow.close()
    return obj


def _create_message(*, content_bytes, content_type, content_encoding):
    jsonheader = {
        "byteorder": sys.byteorder,
        "content-type": content_type,
        "content-encoding": content_encoding,
        "content-length": len(content_bytes),
    }
    jsonheader_bytes = _json_encode(jsonheader, "utf-8")
    message_hdr = struct.pack(">H", len(jsonheader_bytes))
    return message_hdr + jsonheader_bytes + content_bytes


def _create_response_json_content(request):
    action = request.get("action")
    if action == "search":
        query = request.get("value")
        answer = request_search.get(query) or f"No match for '{query}'."
        content = {"result": answer}
    else:
        content = {"result": f"Error: invalid action '{action}'."}
    content_encoding = "utf-8"
    return {
        "content_bytes": _json_encode(content, content_encoding),
        "content_type": "text/json",
        "content_encoding": content_encoding,
    }


def _create_response_binary_content(request):
    return {
        "content_bytes": b"First 10 bytes of request: " + request[:10],
        "content_type": "binary/custom-server-binary-type",
        "content_encoding": "binary",
    }


def split_frame(data):
    """(jsonheader, content, rest) of the first complete frame in data, or None."""
    if len(data) < 2:
        return None
    hdrlen = struct.unpack(">H", data[:2])[0]
    if len(data) < 2 + hdrlen:
        return None
    jsonheader = _json_decode(data[2 : 2 + hdrlen], "utf-8")
    end = 2 + hdrlen + jsonheader["content-length"]
    if len(data) < end:
        return None
    return jsonheader, data[2 + hdrlen : end], data[end:]


def libserver_reply(request_bytes):
    """The bytes the original libserver sends in reply to request_bytes."""
    jsonheader, data, _ = split_frame(request_bytes)
    if jsonheader["content-type"] == "text/json":
        request = _json_decode(data, jsonheader["content-encoding"])
        response = _create_response_json_content(request)
    else:
        response = _create_response_binary_content(data)
    return _create_message(**response)


# --- app-client.py ------------------------------------------------------------------------


def create_request(action, value):
    if action == "search":
        return dict(
            type="text/json",
            encoding="utf-8",
            content=dict(action=action, value=value),
        )
    else:
        return dict(
            type="binary/custom-client-binary-type",
            encoding="binary",
            content=bytes(action + value, encoding="utf-8"),
        )


def app_client_request_bytes(action, value):
    """What the original app-client sends for ACTION VALUE."""
    message = Message(None, None, None, create_request(action, value))
    message.queue_request()
    return message._send_buffer


# --- libclient.py -------------------------------------------------------------------------


class Message:
    def __init__(self, selector, sock, addr, request):
        self.selector = selector
        self.sock = sock
        self.addr = addr
        self.request = request
        self._recv_buffer = b""
        self._send_buffer = b""
        self._request_queued = False
        self._jsonheader_len = None
        self.jsonheader = None
        self.response = None
        # For the test: every byte sent and received.
        self.sent = b""
        self.received = b""

    def _set_selector_events_mask(self, mode):
        if mode == "r":
            events = selectors.EVENT_READ
        elif mode == "w":
            events = selectors.EVENT_WRITE
        elif mode == "rw":
            events = selectors.EVENT_READ | selectors.EVENT_WRITE
        else:
            raise ValueError(f"Invalid events mask mode {mode!r}.")
        self.selector.modify(self.sock, events, data=self)

    def _read(self):
        try:
            data = self.sock.recv(4096)
        except BlockingIOError:
            pass
        else:
            if data:
                self._recv_buffer += data
                self.received += data
            else:
                raise RuntimeError("Peer closed.")

    def _write(self):
        if self._send_buffer:
            print(f"Sending {self._send_buffer!r} to {self.addr}")
            try:
                sent = self.sock.send(self._send_buffer)
            except BlockingIOError:
                pass
            else:
                self.sent += self._send_buffer[:sent]
                self._send_buffer = self._send_buffer[sent:]

    def _process_response_json_content(self):
        content = self.response
        result = content.get("result")
        print(f"Got result: {result}")

    def _process_response_binary_content(self):
        content = self.response
        print(f"Got response: {content!r}")

    def process_events(self, mask):
        if mask & selectors.EVENT_READ:
            self.read()
        if mask & selectors.EVENT_WRITE:
            self.write()

    def read(self):
        self._read()
        if self._jsonheader_len is None:
            self.process_protoheader()
        if self._jsonheader_len is not None:
            if self.jsonheader is None:
                self.process_jsonheader()
        if self.jsonheader:
            if self.response is None:
                self.process_response()

    def write(self):
        if not self._request_queued:
            self.queue_request()
        self._write()
        if self._request_queued:
            if not self._send_buffer:
                # Set selector to listen for read events, we're done writing.
                self._set_selector_events_mask("r")

    def close(self):
        print(f"Closing connection to {self.addr}")
        # For the test: before the original's close, whatever else the server sends up to
        # its own close, which must be nothing.
        self.sock.setblocking(True)
        self.sock.settimeout(5)
        while True:
            data = self.sock.recv(4096)
            if not data:
                break
            self.received += data
        try:
            self.selector.unregister(self.sock)
        except Exception as e:
            print(f"Error: selector.unregister() exception for {self.addr}: {e!r}")
        try:
            self.sock.close()
        except OSError as e:
            print(f"Error: socket.close() exception for {self.addr}: {e!r}")
        finally:
            # Delete reference to socket object for garbage collection
            self.sock = None

    def queue_request(self):
        content = self.request["content"]
        content_type = self.request["type"]
        content_encoding = self.request["encoding"]
        if content_type == "text/json":
            req = {
                "content_bytes": _json_encode(content, content_encoding),
                "content_type": content_type,
                "content_encoding": content_encoding,
            }
        else:
            req = {
                "content_bytes": content,
                "content_type": content_type,
                "content_encoding": content_encoding,
            }
        message = _create_message(**req)
        self._send_buffer += message
        self._request_queued = True

    def process_protoheader(self):
        hdrlen = 2
        if len(self._recv_buffer) >= hdrlen:
            self._jsonheader_len = struct.unpack(">H", self._recv_buffer[:hdrlen])[0]
            self._recv_buffer = self._recv_buffer[hdrlen:]

    def process_jsonheader(self):
        hdrlen = self._jsonheader_len
        if len(self._recv_buffer) >= hdrlen:
            self.jsonheader = _json_decode(self._recv_buffer[:hdrlen], "utf-8")
            self._recv_buffer = self._recv_buffer[hdrlen:]
            for reqhdr in (
                "byteorder",
                "content-length",
                "content-type",
                "content-encoding",
            ):
                if reqhdr not in self.jsonheader:
                    raise ValueError(f"Missing required header '{reqhdr}'.")

    def process_response(self):
        content_len = self.jsonheader["content-length"]
        if not len(self._recv_buffer) >= content_len:
            return
        data = self._recv_buffer[:content_len]
        self._recv_buffer = self._recv_buffer[content_len:]
        if self.jsonheader["content-type"] == "text/json":
            encoding = self.jsonheader["content-encoding"]
            self.response = _json_decode(data, encoding)
            print(f"Received response {self.response!r} from {self.addr}")
            self._process_response_json_content()
        else:
            self.response = data
            print(f"Received {self.jsonheader['content-type']} response from {self.addr}")
            self._process_response_binary_content()
        # Close when response has been processed
        self.close()


def run_client(host, port, action, value):
    sel = selectors.DefaultSelector()
    request = create_request(action, value)
    addr = (host, port)
    print(f"Starting connection to {addr}")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    sock.connect_ex(addr)
    events = selectors.EVENT_READ | selectors.EVENT_WRITE
    message = Message(sel, sock, addr, request)
    sel.register(sock, events, data=message)

    deadline = time.monotonic() + LOOP_BOUND_SECONDS
    try:
        while time.monotonic() < deadline:
            events = sel.select(timeout=1)
            for key, mask in events:
                message = key.data
                try:
                    message.process_events(mask)
                except Exception:
                    print(
                        f"Main: Error: Exception for {message.addr}:\n"
                        f"{traceback.format_exc()}"
                    )
                    message.close()
            # Check for a socket being monitored to continue.
            if not sel.get_map():
                break
        else:
            print("no complete reply in time", file=sys.stderr)
            return 1
    finally:
        sel.close()

    expected_request = app_client_request_bytes(action, value)
    expected_reply = libserver_reply(message.sent)
    if message.sent != expected_request or message.received != expected_reply:
        print(f"sent     {message.sent!r}", file=sys.stderr)
        print(f"received {message.received!r}", file=sys.stderr)
        print(f"expected {expected_reply!r}", file=sys.stderr)
        return 1
    return 0


def run_capture(action, value):
    """One connection as the original server: check the request bytes, answer them."""
    expected = app_client_request_bytes(action, value)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as lsock:
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind(("127.0.0.1", 0))
        lsock.listen()
        lsock.settimeout(LOOP_BOUND_SECONDS)
        print(f"listening on 127.0.0.1:{lsock.getsockname()[1]}", flush=True)
        conn, _ = lsock.accept()
        with conn:
            conn.settimeout(LOOP_BOUND_SECONDS)
            data = b""
            while split_frame(data) is None:
                chunk = conn.recv(4096)
                if not chunk:
                    print(f"closed after {data!r}", file=sys.stderr)
                    return 1
                data += chunk
            if data != expected:
                print(f"received {data!r}", file=sys.stderr)
                print(f"expected {expected!r}", file=sys.stderr)
                return 1
            conn.sendall(libserver_reply(data))
    print("the request is the original app-client's, byte for byte")
    return 0


def run_json(host, port, content):
    request = _create_message(
        content_bytes=content.encode("utf-8"),
        content_type="text/json",
        content_encoding="utf-8",
    )
    expected = libserver_reply(request)
    with socket.create_connection((host, port), timeout=LOOP_BOUND_SECONDS) as sock:
        sock.sendall(request)
        received = b""
        while True:
            data = sock.recv(4096)
            if not data:
                break
            received += data
    if received != expected:
        print(f"received {received!r}", file=sys.stderr)
        print(f"expected {expected!r}", file=sys.stderr)
        return 1
    print(split_frame(received)[1].decode("utf-8"))
    return 0


def main(argv):
    if len(argv) == 6 and argv[1] == "client":
        return run_client(argv[2], int(argv[3]), argv[4], argv[5])
    if len(argv) == 5 and argv[1] == "json":
        return run_json(argv[2], int(argv[3]), argv[4])
    if len(argv) == 4 and argv[1] == "capture":
        return run_capture(argv[2], argv[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
