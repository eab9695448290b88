"""RFC 6455 frames and RFC 7692 payloads for the WebSocket tests, over any carrier.

    frame(OP_TEXT, "hi")                 a client frame (masked with a random key)
    frame(OP_TEXT, "hi", mask=False)     an unmasked one (the server must refuse it)
    parse_frame(buf, pos)                (Frame, new pos), or (None, pos) when incomplete
    deflate(b"...") / inflate(payload)   permessage-deflate bodies (no context takeover)
"""

import os
import struct
import zlib
from collections import namedtuple

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def mask_bytes(data, key):
    """XOR with the 4-byte key, as a client masks (RFC 6455 5.3)."""
    if not data:
        return b""
    n = len(data)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def frame(opcode, payload=b"", fin=True, rsv=0, mask=True, length=None, key=None):
    """One frame. rsv: the 3 RSV bits as a number (4 = RSV1, 2 = RSV2, 1 = RSV3).
    length: the announced length when it must differ from len(payload)."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    m = 0x80 if mask else 0
    if n < 126:
        head = bytes([b0, m | n])
    elif n < 65536:
        head = bytes([b0, m | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, m | 127]) + struct.pack("!Q", n)
    if mask:
        key = key or os.urandom(4)
        return head + key + mask_bytes(payload, key)
    return head + payload


def close_payload(code=None, reason=b""):
    if code is None:
        return b""
    if isinstance(reason, str):
        reason = reason.encode()
    return struct.pack("!H", code) + reason


class Frame(namedtuple("Frame", "fin rsv opcode payload masked", defaults=(False,))):
    @property
    def close_code(self):
        assert self.opcode == OP_CLOSE, self
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None

    @property
    def close_reason(self):
        return self.payload[2:]

    def __repr__(self):
        return "<Frame fin=%d rsv=%d op=%#x masked=%d len=%d %r>" % (
            self.fin, self.rsv, self.opcode, self.masked, len(self.payload), self.payload[:80])


def parse_frame(buf, pos=0):
    """(Frame, new pos) for the frame at buf[pos:], or (None, pos) if it is incomplete."""
    if len(buf) - pos < 2:
        return None, pos
    b0, b1 = buf[pos], buf[pos + 1]
    n = b1 & 0x7F
    i = pos + 2
    if n == 126:
        if len(buf) - i < 2:
            return None, pos
        n = struct.unpack("!H", bytes(buf[i:i + 2]))[0]
        i += 2
    elif n == 127:
        if len(buf) - i < 8:
            return None, pos
        n = struct.unpack("!Q", bytes(buf[i:i + 8]))[0]
        i += 8
    masked = bool(b1 & 0x80)
    key = None
    if masked:
        if len(buf) - i < 4:
            return None, pos
        key = bytes(buf[i:i + 4])
        i += 4
    if len(buf) - i < n:
        return None, pos
    payload = bytes(buf[i:i + n])
    if masked:
        payload = mask_bytes(payload, key)
    return Frame(b0 >> 7, (b0 >> 4) & 7, b0 & 0xF, payload, masked), i + n


def deflate(data):
    """A permessage-deflate payload: raw deflate, sync flush, without the 00 00 ff ff tail."""
    c = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def inflate(data):
    """A permessage-deflate payload inflated with a fresh context (no context takeover)."""
    d = zlib.decompressobj(-15)
    return d.decompress(data + b"\x00\x00\xff\xff") + d.flush()
