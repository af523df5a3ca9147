#!/usr/bin/env python3
"""Writes the seed corpus in Fuzz/Corpus/<harness>/: small valid inputs for each harness.

Atrium messages come from the checked hex examples in docs/PROTOCOL.md (§15, `<!-- example: name -->`
blocks), so the seeds follow the protocol as the tests verify it. ENet datagrams and cookie datagrams are
built here byte by byte (ENet numbers big-endian, except CONNECT's connectID, which ENet 1.3.17 sends
unconverted; Atrium's cookie datagrams little-endian). Run from anywhere: python3 Fuzz/make-corpus.py
"""
import pathlib
import re
import struct

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = HERE / "Corpus"
PROTOCOL = HERE.parent / "docs" / "PROTOCOL.md"


def write(harness, name, data):
    folder = CORPUS / harness
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(bytes(data))


# ENet 1.3.17 datagrams -------------------------------------------------------------------------------

def header(peer=0xFFF, session=0, sent_time=0x1234):
    value = peer | session << 12 | (0x8000 if sent_time is not None else 0)
    return struct.pack(">H", value) + (struct.pack(">H", sent_time) if sent_time is not None else b"")


def command(number, flags, channel, sequence):
    return struct.pack(">BBH", number | flags, channel, sequence)


def connect(connect_id, data, channels=3, mtu=1400, window=65536):
    return (command(2, 0x80, 0xFF, 1) + struct.pack(">HBB", 0, 0xFF, 0xFF)
            + struct.pack(">IIIIIIII", mtu, window, channels, 0, 0, 5000, 2, 2)
            + struct.pack("<I", connect_id) + struct.pack(">I", data))


def reliable(channel, sequence, payload):
    return command(6, 0x80, channel, sequence) + struct.pack(">H", len(payload)) + payload


def unreliable(channel, sequence, useq, payload):
    return command(7, 0, channel, sequence) + struct.pack(">HH", useq, len(payload)) + payload


def unsequenced(channel, group, payload):
    return command(9, 0x40, channel, 0) + struct.pack(">HH", group, len(payload)) + payload


def fragment(channel, start, count, number, total, offset, payload, unreliable_fragment=False):
    n = 12 if unreliable_fragment else 8
    return (command(n, 0 if unreliable_fragment else 0x80, channel, start)
            + struct.pack(">HHIIII", start, len(payload), count, number, total, offset) + payload)


def ack(channel, sequence, received, sent_time):
    return command(1, 0, channel, sequence) + struct.pack(">HH", received, sent_time)


ping = command(5, 0x80, 0xFF, 3)
verify = (command(3, 0x80, 0xFF, 1) + struct.pack(">HBB", 0, 0, 0)
          + struct.pack(">IIIIIIII", 1400, 65536, 3, 0, 0, 5000, 2, 2) + struct.pack("<I", 0xA1B2C3D4))
disconnect = command(4, 0x80, 0xFF, 9) + struct.pack(">I", 0)

enet = {
    "connect": header() + connect(0xA1B2C3D4, 0x11223344),
    "connect-no-cookie": header() + connect(7, 0),
    "verify-connect": header(peer=0, session=1) + verify,
    "ping": header(peer=1, session=1) + ping,
    "ping-no-time": header(peer=1, session=2, sent_time=None) + ping,
    "reliable": header(peer=2) + reliable(0, 5, b"\x01\x02\x00\x02\x00\x00\x09expo-hall\x04Zo\xc3\xab"),
    "bundle": header(peer=2) + ack(0xFF, 1, 1, 0x1234) + ack(0, 2, 5, 0x1200)
              + unreliable(1, 0, 7, b"\x02" * 40) + unsequenced(2, 3, b"\x55" * 20),
    "fragments": header(peer=3) + fragment(0, 10, 2, 0, 2000, 0, b"\xAA" * 100)
                 + fragment(0, 10, 2, 1, 2000, 1000, b"\xBB" * 100),
    "unreliable-fragment": header(peer=3) + fragment(1, 11, 3, 2, 3000, 2000, b"\xCC" * 60, True),
    "disconnect": header(peer=4, session=3) + disconnect,
}
for name, data in enet.items():
    write("ENetInspector", name, data)

# Cookie datagrams (ConnectCookieDatagram) ------------------------------------------------------------

MAGIC = b"\xFF\xFF\x41\x54"
request = MAGIC + bytes([1, 1]) + struct.pack("<Q", 0x0102030405060708) + bytes(18)
reply = MAGIC + bytes([2, 1]) + struct.pack("<Q", 0x0102030405060708) + struct.pack("<IH", 0xAABBCCDD, 15)
assert len(request) == 32 and len(reply) == 20
write("CookieDatagram", "request", request)
write("CookieDatagram", "reply", reply)

# AdmissionFilter: 8 bytes of source/clock, then a datagram -----------------------------------------

source = bytes([0x00, 0x01, 0x9C, 0x40, 0x00, 0x10, 0x00, 0x00])
for name, data in [("cookie-request", request), ("connect", enet["connect"]), ("ping", enet["ping"]),
                   ("fragments", enet["fragments"]), ("reply", reply)]:
    write("AdmissionFilter", name, source + data)

# Atrium messages from docs/PROTOCOL.md -------------------------------------------------------------

text = PROTOCOL.read_text(encoding="utf-8")
examples = re.findall(r"<!-- example: ([a-z0-9_-]+) -->\s*```hex\n(.*?)```", text, re.S)
snapshots = []
for name, hexdump in examples:
    data = bytes.fromhex(" ".join(hexdump.split()))
    if not data:
        continue
    # §18's session-layer examples seed their own harnesses.
    if name.startswith("token_"):
        write("ConnectToken", name, data)
        continue
    if name.startswith("envelope_"):
        write("SessionEnvelope", name, bytes([1]) + data)  # channel 1, as the example is sealed
        continue
    if name.startswith("cookie_"):
        write("CookieDatagram", name, data)
        continue
    harness = "ClientMessage" if data[0] < 0x80 else "ServerMessage"
    write(harness, name, data)
    if data[0] == 0x83:
        snapshots.append((name, data))

def framed(*messages):
    return b"".join(struct.pack("<H", len(m)) + m for m in messages)

for name, data in snapshots:
    write("SnapshotReceiver", name, framed(data))
if len(snapshots) >= 2:
    write("SnapshotReceiver", "sequence", framed(*(d for _, d in snapshots)))

print(f"corpus: {sum(1 for _ in CORPUS.rglob('*') if _.is_file())} seeds in {CORPUS}")
