"""The fake hypervisor's framebuffer speaks enough RFB 3.8 for noVNC: the handshake with no
security, the client's pixel format, and a full update as one raw rectangle."""

from __future__ import annotations

import struct

from compute.drivers.fake_graphics import HEIGHT, VERSION, WIDTH, FakeFramebuffer


def test_the_handshake_then_a_full_update_in_the_clients_pixel_format():
    screen = FakeFramebuffer("web-1", power_state=1)
    assert screen.start() == VERSION
    assert screen.feed(b"RFB 003.008\n") == bytes([1, 1])  # one security type: None
    assert screen.feed(b"\x01") == b"\x00\x00\x00\x00"  # SecurityResult OK
    init = screen.feed(b"\x01")  # ClientInit, shared
    width, height = struct.unpack(">HH", init[:4])
    assert (width, height) == (WIDTH, HEIGHT)
    assert init[20:24] == struct.pack(">I", 5) and init[24:] == b"web-1"
    # noVNC's pixel format: 32 bpp, little endian, red at bit 0, blue at 16; its encodings.
    fmt = struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 0, 8, 16)
    encodings = struct.pack(">BxH", 2, 2) + struct.pack(">ii", 0, -223)
    assert screen.feed(b"\x00\x00\x00\x00" + fmt + encodings) == b""
    update = screen.feed(struct.pack(">BBHHHH", 3, 0, 0, 0, 4, 2))
    assert update[:4] == struct.pack(">BxH", 0, 1)
    assert struct.unpack(">HHHHi", update[4:16]) == (0, 0, 4, 2, 0)
    pixels = update[16:]
    assert len(pixels) == 4 * 2 * 4
    assert pixels[:4] == bytes([22, 48, 40, 0])  # r, g, b in the client's order
    # An incremental request waits (nothing changed); keys and pointer are read and dropped.
    assert screen.feed(struct.pack(">BBHHHH", 3, 1, 0, 0, 4, 2)) == b""
    assert screen.feed(struct.pack(">BBxxI", 4, 1, 0x61) + struct.pack(">BBHH", 5, 0, 1, 1)) == b""


def test_messages_split_across_frames_are_put_together():
    screen = FakeFramebuffer("vm", power_state=4)
    screen.start()
    assert screen.feed(b"RFB 003") == b""
    assert screen.feed(b".008\n") == bytes([1, 1])
    screen.feed(b"\x01")
    screen.feed(b"\x01")
    request = struct.pack(">BBHHHH", 3, 0, 0, 0, 1, 1)
    assert screen.feed(request[:5]) == b""
    assert len(screen.feed(request[5:])) == 4 + 12 + 4
