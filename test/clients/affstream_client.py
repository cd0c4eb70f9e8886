#!/usr/bin/env python3
"""A client for affstream's player-event protocol, written from docs/protocol.md alone.

It exists to prove that document sufficient: nothing here comes from the TypeScript sources.
Two transports (protocol.md §3 and §4):

  * msgpack over HTTP: POST /v1/events, signed with X-Signature, reply in msgpack;
  * the WebSocket stream: GET /v1/stream, frames {seq, events} pipelined up to the window of 64,
    answers matched to frames by order, unanswered frames resent after a disconnect.

Only the standard library and Debian's python3-msgpack; the WebSocket client is the minimal
RFC 6455 subset the protocol needs (binary messages, ping/pong, close).

Command line (reads events from a JSONL file, one object per line):

  affstream_client.py --url http://127.0.0.1:8080 --brand demo {http|ws} events.jsonl [--batch N]

The brand's postbackSecret comes from the environment variable AFFSTREAM_POSTBACK_SECRET (not
from the command line, where other users could read it). Prints one JSON object:
{"accepted", "duplicates", "rejected": [{"line", "code", "message"}], "requests"}.
Exit code 0 when nothing was rejected, 1 otherwise.
"""

import argparse
import base64
import collections
import hashlib
import hmac
import http.client
import json
import os
import socket
import struct
import sys
import urllib.parse

import msgpack

# protocol.md §3 and §4: at most this many events and bytes per batch or frame.
MAX_EVENTS = 10_000
MAX_BYTES = 1024 * 1024
# protocol.md §4, flow control.
WINDOW = 64
# RFC 6455 §1.3: the GUID hashed with the client's key into Sec-WebSocket-Accept.
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class AffstreamError(Exception):
    """A request or frame the server refused as a whole (protocol.md §7)."""

    def __init__(self, status, code, message):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class StreamClosed(Exception):
    """The WebSocket ended; unanswered frames must be resent (protocol.md §4, resend rule)."""


def sign(secret, body):
    """Hex HMAC-SHA256 of the exact bytes sent (protocol.md §3)."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Client:
    """Sends events of one brand to one edge."""

    def __init__(self, url, brand, secret, timeout=60):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http":
            raise ValueError("only http:// edges are supported by this test client")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.brand = brand
        self.secret = secret
        self.timeout = timeout

    # ---- msgpack over HTTP (protocol.md §3) ----

    def send_batch(self, events):
        """POSTs one batch; returns {accepted, duplicates, rejected} once the events are durable."""
        body = msgpack.packb({"brand": self.brand, "events": events}, use_bin_type=True)
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request("POST", "/v1/events", body=body, headers={
                "Content-Type": "application/msgpack",
                "Accept": "application/msgpack",
                "X-Signature": "sha256=" + sign(self.secret, body),
            })
            res = conn.getresponse()
            data = res.read()
        finally:
            conn.close()
        if res.status != 200:
            # Errors of a whole request are always JSON (protocol.md §3).
            err = json.loads(data).get("error", {})
            raise AffstreamError(res.status, err.get("code"), err.get("message"))
        return msgpack.unpackb(data, raw=False)

    # ---- WebSocket stream (protocol.md §4) ----

    def stream(self, batches, max_reconnects=3):
        """Sends every batch as one frame, at most WINDOW unanswered; returns the answers in batch order.

        An answer is the ack map, or the error map for a frame refused as a whole. Frames answered
        `unavailable`, and those unanswered when the connection ends, are sent again.
        """
        answers = [None] * len(batches)
        todo = collections.deque(range(len(batches)))
        reconnects = 0
        while todo:
            in_flight = collections.deque()  # batch indexes, in the order sent
            ws = None
            try:
                ws = WebSocket(self.host, self.port, f"/v1/stream?brand={urllib.parse.quote(self.brand)}", self.secret, self.timeout)
                while todo or in_flight:
                    while todo and len(in_flight) < WINDOW:
                        i = todo.popleft()
                        ws.send_binary(msgpack.packb({"seq": i, "events": batches[i]}, use_bin_type=True))
                        in_flight.append(i)
                    answer = msgpack.unpackb(ws.receive(), raw=False)
                    # Answers come in the order the frames were sent, errors included.
                    i = in_flight.popleft()
                    if "ack" in answer and answer["ack"] != i:
                        raise RuntimeError(f"answer for seq {answer['ack']} where {i} was due")
                    if answer.get("error", {}).get("code") == "unavailable":
                        todo.append(i)
                    else:
                        answers[i] = answer
                ws.close()
            except (StreamClosed, OSError):
                if ws:
                    ws.sock.close()
                reconnects += 1
                if reconnects > max_reconnects:
                    raise
                todo.extendleft(reversed(in_flight))
        return answers


class WebSocket:
    """The client side of RFC 6455 that the stream needs: binary messages, pings, close."""

    def __init__(self, host, port, path, token, timeout):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((
            f"GET {path} HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Key: {key}\r\n"
            f"Authorization: Bearer {token}\r\n"
            "\r\n"
        ).encode())
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        if status != 101:
            # A refused upgrade carries the JSON error of protocol.md §7.
            length = int(headers.get("content-length", "0"))
            while len(self.buf) < length:
                self._fill()
            err = json.loads(self.buf[:length] or b"{}").get("error", {})
            self.sock.close()
            raise AffstreamError(status, err.get("code"), err.get("message"))
        expected = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()
        if headers.get("sec-websocket-accept") != expected:
            raise StreamClosed("bad Sec-WebSocket-Accept")

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise StreamClosed("connection closed by the server")
        self.buf += chunk

    def _read(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send_frame(self, opcode, payload):
        # Client frames are always masked (RFC 6455 §5.3).
        head = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 1 << 16:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        # XOR as one big integer: a byte loop would take seconds for a 1 MiB frame.
        key = (mask * (n // 4 + 1))[:n]
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big") if n else b""
        self.sock.sendall(head + mask + masked)

    def send_binary(self, payload):
        self._send_frame(0x2, payload)

    def receive(self):
        """The next binary message; answers pings, raises StreamClosed on a close frame."""
        message = b""
        while True:
            b0, b1 = self._read(2)
            fin, opcode, n = b0 & 0x80, b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
            if opcode == 0x9:
                self._send_frame(0xA, payload)
            elif opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                raise StreamClosed(f"closed by the server: {code} {payload[2:].decode(errors='replace')}")
            elif opcode in (0x1, 0x2, 0x0):
                message += payload
                if fin:
                    return message

    def close(self):
        try:
            self._send_frame(0x8, struct.pack("!H", 1000))
        finally:
            self.sock.close()


def batches_of(events, size):
    """Splits (line, event) pairs into batches of at most `size` events and MAX_BYTES of envelope."""
    batch, nbytes = [], 64  # room for the envelope around the events
    for line, event in events:
        n = len(msgpack.packb(event, use_bin_type=True))
        if batch and (len(batch) == size or nbytes + n > MAX_BYTES):
            yield batch
            batch, nbytes = [], 64
        batch.append((line, event))
        nbytes += n
    if batch:
        yield batch


def main(argv):
    p = argparse.ArgumentParser(description="Send player events to affstream (docs/protocol.md).")
    p.add_argument("--url", required=True, help="the edge, e.g. http://127.0.0.1:8080")
    p.add_argument("--brand", required=True)
    p.add_argument("--batch", type=int, default=1000, help="events per batch or frame (≤ 10000)")
    p.add_argument("transport", choices=["http", "ws"])
    p.add_argument("file", help="JSONL, one event per line")
    args = p.parse_args(argv)
    secret = os.environ.get("AFFSTREAM_POSTBACK_SECRET")
    if not secret:
        p.error("set AFFSTREAM_POSTBACK_SECRET to the brand's postbackSecret")
    with open(args.file, encoding="utf-8") as f:
        events = [(n, json.loads(text)) for n, text in enumerate(f, 1) if text.strip()]
    batches = list(batches_of(events, min(args.batch, MAX_EVENTS)))
    client = Client(args.url, args.brand, secret)
    bodies = [[e for _, e in b] for b in batches]
    answers = [client.send_batch(b) for b in bodies] if args.transport == "http" else client.stream(bodies)
    total = {"accepted": 0, "duplicates": 0, "rejected": [], "requests": len(batches)}
    for batch, answer in zip(batches, answers):
        if "error" in answer:
            for line, _ in batch:
                total["rejected"].append({"line": line, "code": answer["error"]["code"], "message": answer["error"]["message"]})
            continue
        total["accepted"] += answer["accepted"]
        total["duplicates"] += answer["duplicates"]
        for r in answer["rejected"]:
            total["rejected"].append({"line": batch[r["index"]][0], "code": r["code"], "message": r["message"]})
    print(json.dumps(total))
    return 0 if not total["rejected"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
