"""The fake hypervisor's graphics: a tiny RFB 3.8 server (the VNC protocol), without I/O.

A fake guest has no frame buffer, but its VNC console must still open in noVNC, as a real
guest's would: this answers the handshake (security type None), the client's pixel format and
encodings, and every full update request with one raw rectangle — a plain screen in a colour
(the console socket passes the guest's power state). Key and pointer events are read and
dropped; the guest's text is on its serial console. ``feed`` takes what the client sent and
returns what to send back, so the socket that carries it is all the I/O there is.
"""

from __future__ import annotations

import struct

VERSION = b"RFB 003.008\n"
WIDTH, HEIGHT = 640, 400
#: Background colours by Nova power_state: running green-grey, paused amber, the rest slate.
COLOURS = {1: (22, 48, 40), 3: (92, 64, 14)}
DEFAULT_COLOUR = (30, 36, 52)
#: Client message type → its fixed length (0: variable, read below).
_FIXED = {0: 20, 3: 10, 4: 8, 5: 6}


class FakeFramebuffer:
    def __init__(self, name: str, power_state: int) -> None:
        self.name = name.encode("utf-8", "replace")[:255]
        self.colour = COLOURS.get(power_state, DEFAULT_COLOUR)
        self._buffer = b""
        self._stage = "version"
        # The client's pixel format (noVNC sends its own at once): 32 bpp, little endian.
        self._big_endian = False
        self._shifts = (16, 8, 0)
        self._bpp = 32

    def start(self) -> bytes:
        return VERSION

    def feed(self, data: bytes) -> bytes:
        self._buffer += data
        out = b""
        while True:
            step = self._step()
            if step is None:
                return out
            out += step

    def _take(self, n: int) -> bytes | None:
        if len(self._buffer) < n:
            return None
        taken, self._buffer = self._buffer[:n], self._buffer[n:]
        return taken

    def _step(self) -> bytes | None:
        if self._stage == "version":
            if self._take(12) is None:
                return None
            self._stage = "security"
            return bytes([1, 1])  # one security type: None
        if self._stage == "security":
            if self._take(1) is None:
                return None
            self._stage = "init"
            return struct.pack(">I", 0)  # SecurityResult: OK
        if self._stage == "init":
            if self._take(1) is None:  # ClientInit (shared flag)
                return None
            self._stage = "normal"
            return self._server_init()
        return self._message()

    def _server_init(self) -> bytes:
        pixel_format = struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)
        return (
            struct.pack(">HH", WIDTH, HEIGHT)
            + pixel_format
            + struct.pack(">I", len(self.name))
            + self.name
        )

    def _message(self) -> bytes | None:
        if not self._buffer:
            return None
        kind = self._buffer[0]
        if kind in _FIXED:
            message = self._take(_FIXED[kind])
            if message is None:
                return None
            if kind == 0:
                self._pixel_format(message[4:])
            elif kind == 3:
                incremental, x, y, w, h = struct.unpack(">BHHHH", message[1:])
                if not incremental:
                    return self._update(x, y, min(w, WIDTH - x), min(h, HEIGHT - y))
            return b""
        if kind == 2:  # SetEncodings
            if len(self._buffer) < 4:
                return None
            count = struct.unpack(">H", self._buffer[2:4])[0]
            return b"" if self._take(4 + 4 * count) is not None else None
        if kind == 6:  # ClientCutText
            if len(self._buffer) < 8:
                return None
            length = struct.unpack(">I", self._buffer[4:8])[0]
            return b"" if self._take(8 + length) is not None else None
        self._buffer = b""  # an unknown message: nothing after it can be framed
        return None

    def _pixel_format(self, fmt: bytes) -> None:
        bpp, _depth, big, _true, _rm, _gm, _bm, rs, gs, bs = struct.unpack(">BBBBHHHBBB3x", fmt)
        self._bpp, self._big_endian, self._shifts = bpp, bool(big), (rs, gs, bs)

    def _update(self, x: int, y: int, w: int, h: int) -> bytes:
        if w <= 0 or h <= 0:
            return struct.pack(">BxH", 0, 0)
        r, g, b = self.colour
        value = (r << self._shifts[0]) | (g << self._shifts[1]) | (b << self._shifts[2])
        size = max(1, self._bpp // 8)
        value &= (1 << (8 * size)) - 1
        pixel = value.to_bytes(size, "big" if self._big_endian else "little", signed=False)
        header = struct.pack(">BxH", 0, 1) + struct.pack(">HHHHi", x, y, w, h, 0)
        return header + pixel * (w * h)
