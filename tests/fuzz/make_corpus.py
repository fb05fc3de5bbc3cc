#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/{fuzz_link,fuzz_proto}/.

usage: tests/fuzz/make_corpus.py   (from the repo root; needs protoc and python3-protobuf)

Seeds are real microt.Message encodings (made with protoc's Python code from proto/microt.proto,
independently of nanopb) and link frames built by the rules of docs/protocol.md: the 14-byte
header, CRC-32/IEEE (zlib.crc32) and COBS. Files are named by content hash, so re-running the
script is idempotent. The first byte of each fuzz_link seed is the mode (see fuzz_link.c).
"""
import hashlib, os, struct, subprocess, sys, tempfile, zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")


def cobs(data):
    out, block = bytearray(), bytearray()
    for b in data:
        if b == 0:
            out += bytes([len(block) + 1]) + block
            block = bytearray()
        else:
            block.append(b)
            if len(block) == 254:
                out += b"\xff" + block
                block = bytearray()
    out += bytes([len(block) + 1]) + block
    return bytes(out)


def frame_body(kind, src, dst, seq, ack, payload=b""):
    flags = 1 if dst is not None else 0
    return struct.pack("<BBIIHH", 0x10 | kind, flags, src, dst or 0, seq, ack) + payload


def wire(body):
    return b"\x00" + cobs(body + struct.pack("<I", zlib.crc32(body))) + b"\x00"


def messages():
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["protoc", "-I", os.path.join(ROOT, "proto"), "--python_out", tmp,
                        "microt.proto"], check=True)
        sys.path.insert(0, tmp)
        import microt_pb2 as pb
        m = []
        m.append(pb.Message(id=1, hello=pb.Hello(protocol_version=1)))
        m.append(pb.Message(id=2, ping=pb.Ping(nonce=0xDEADBEEF)))
        m.append(pb.Message(id=2, pong=pb.Pong(nonce=7, uptime_ms=123456)))
        m.append(pb.Message(id=3, get_stats=pb.GetStats()))
        m.append(pb.Message(id=1, device_info=pb.DeviceInfo(
            uid=bytes(range(12)), board=pb.BOARD_H7A3ZI, firmware_version="0.1.0",
            protocol_version=1, sram_bytes=1441792, flash_bytes=2097152, max_frame_bytes=1100,
            capabilities=7, cpu_hz=280000000, boot_count=3)))
        m.append(pb.Message(id=4, error=pb.Error(code=pb.ERR_BAD_REQUEST, message="bad offset")))
        m.append(pb.Message(id=5, transfer_chunk=pb.TransferChunk(offset=4096,
                                                                  data=bytes(range(256)) * 4)))
        m.append(pb.Message(id=6, tradeoff=pb.Tradeoff(points=[
            pb.TradeoffPoint(ratio=i / 20, accuracy=0.9, energy_uj=12.5, exit_fraction=0.4)
            for i in range(21)])))
        m.append(pb.Message(id=0, boot=pb.Boot(boot_count=9, firmware_version="0.1.0")))
        return [x.SerializeToString() for x in m]


def write(target, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def main():
    msgs = messages()
    a, b = 0x55667788, 0x11223344
    for p in msgs:
        write("fuzz_proto", p)
        write("fuzz_link", b"\x02" + p)                               # mode 2: payload
        body = frame_body(1, a, None, 0, 0, p)
        write("fuzz_link", b"\x00\x00" + wire(body))                  # mode 0: wire bytes
        write("fuzz_link", b"\x01" + struct.pack("<H", len(body)) + body)  # mode 1: body
    # mode 1: a short session: data without dst, then with dst, a duplicate, an ack, a restart
    recs = [frame_body(1, a, None, 0, 0, msgs[0]), frame_body(1, a, b, 1, 0, msgs[1]),
            frame_body(1, a, b, 1, 0, msgs[1]), frame_body(2, a, b, 0, 0),
            frame_body(1, a + 1, None, 0, 0, msgs[2]), frame_body(1, a, b, 5, 3, msgs[3])]
    write("fuzz_link", b"\x01" + b"".join(struct.pack("<H", len(r)) + r for r in recs))
    # mode 0: garbage and a truncated frame around a valid one
    w = wire(frame_body(1, a, None, 0, 0, msgs[1]))
    write("fuzz_link", b"\x00\x10" + b"\xa5" * 40 + w[: len(w) // 2] + w)
    return 0


if __name__ == "__main__":
    sys.exit(main())
