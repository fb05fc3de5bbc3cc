#!/usr/bin/python3
"""The wire is standard protobuf: frames captured between microtd and microt-sim decode with
Debian's python3-protobuf, from code protoc generates from proto/microt.proto, independently of
nanopb. A small pty proxy sits between the daemon and the simulated board and records both
directions; the frames are then unpacked here from docs/protocol.md alone (COBS, CRC-32 = zlib's,
14-byte header) and every payload must parse as microt.Message and re-serialize to the same bytes.
Exit 0 pass, 77 skip, 1 fail.
"""
import json, os, pty, select, shutil, signal, socket, struct, subprocess, sys, tempfile, threading
import time, tty, urllib.request, zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, os.environ.get("MICROT_BUILD", "build"))


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def cobs_decode(data):
    out, i = bytearray(), 0
    while i < len(data):
        code = data[i]
        if code == 0:
            raise ValueError("bad COBS code")
        block = data[i + 1:i + code]
        if len(block) != code - 1 or 0 in block:
            raise ValueError("bad COBS block")
        out += block
        i += code
        if code < 0xFF and i < len(data):
            out.append(0)
    return bytes(out)


def frames(stream):
    """Yields (type, src, dst, seq, ack, payload) of every intact frame in a byte stream."""
    for chunk in stream.split(b"\x00"):
        if not chunk:
            continue
        try:
            f = cobs_decode(chunk)
        except ValueError:
            continue
        if len(f) < 18:
            continue
        body, crc = f[:-4], struct.unpack("<I", f[-4:])[0]
        if zlib.crc32(body) != crc:
            continue
        typ, flags, src, dst, seq, ack = struct.unpack("<BBIIHH", body[:14])
        yield typ, src, dst, seq, ack, body[14:]


class Tap:
    """A pty the daemon opens, forwarding to and from the simulator's pty, recording both ways."""

    def __init__(self, board_path, tap_path):
        self.board = os.open(board_path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.board)
        self.master, slave = pty.openpty()
        tty.setraw(slave)
        self.slave = slave  # kept open so the master never sees a hang-up
        os.symlink(os.ttyname(slave), tap_path)
        self.to_board, self.from_board = bytearray(), bytearray()
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            r, _, _ = select.select([self.board, self.master], [], [], 0.1)
            for fd in r:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    continue
                if fd == self.master:
                    self.to_board += data
                    os.write(self.board, data)
                else:
                    self.from_board += data
                    os.write(self.master, data)


def main():
    try:
        from google.protobuf import __version__ as pbver  # noqa: F401
    except ImportError:
        print("SKIP: python3-protobuf is not installed")
        sys.exit(77)
    for prog in ("microtd", "microt-sim"):
        if not os.access(os.path.join(BUILD, prog), os.X_OK):
            fail(f"{prog} not built")
    tmp = tempfile.mkdtemp(prefix="microt-wire-")
    procs = []
    try:
        subprocess.run(["protoc", "-I", os.path.join(ROOT, "proto"), "--python_out", tmp,
                        "microt.proto"], check=True)
        sys.path.insert(0, tmp)
        import microt_pb2

        uid = "c0ffee000000000000000042"
        board_pty = os.path.join(tmp, "board")
        procs.append(subprocess.Popen([os.path.join(BUILD, "microt-sim"), "--pty", board_pty,
                                       "--board", "l4r5zi", "--uid", uid],
                                      stderr=subprocess.DEVNULL))
        for _ in range(100):
            if os.path.exists(board_pty):
                break
            time.sleep(0.02)
        tap = Tap(board_pty, os.path.join(tmp, "tap"))
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        token = "wire-test-token-0123456789abcdef"
        procs.append(subprocess.Popen([os.path.join(BUILD, "microtd"), "--http", f"127.0.0.1:{port}",
                                       "--db", os.path.join(tmp, "db"), "--state-dir", tmp,
                                       "--token", token, "--port", os.path.join(tmp, "tap")],
                                      stderr=subprocess.DEVNULL))
        base = f"http://127.0.0.1:{port}"
        online = False
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"{base}/api/devices/{uid}", timeout=2) as r:
                    if json.load(r).get("state") == "online":
                        online = True
                        break
            except OSError:
                pass
            time.sleep(0.05)
        if not online:
            fail("board never came online through the tap")
        req = urllib.request.Request(f"{base}/api/devices/{uid}/ping", method="POST",
                                     headers={"Authorization": f"Bearer {token}"}, data=b"")
        with urllib.request.urlopen(req, timeout=5) as r:
            if r.status != 200:
                fail(f"ping answered {r.status}")
        time.sleep(0.2)
        tap.stop = True
        tap.thread.join()

        seen = {}
        for direction, stream in (("to_board", bytes(tap.to_board)), ("from_board", bytes(tap.from_board))):
            n_data = 0
            for typ, src, dst, seq, ack, payload in frames(stream):
                if typ >> 4 != 1:
                    fail(f"link version {typ >> 4} in {direction}")
                if typ & 0xF != 1:
                    continue  # ACK frames carry no message
                n_data += 1
                msg = microt_pb2.Message.FromString(payload)
                if msg.SerializeToString() != payload:
                    fail(f"{direction}: payload is not canonical protobuf: {payload.hex()}")
                body = msg.WhichOneof("body")
                seen.setdefault((direction, body), msg)
            if n_data == 0:
                fail(f"no data frames captured {direction}")
        for need in (("to_board", "hello"), ("from_board", "device_info"), ("to_board", "ping"),
                     ("from_board", "pong")):
            if need not in seen:
                fail(f"no {need[1]} seen {need[0]}; saw {sorted(seen)}")
        info = seen[("from_board", "device_info")].device_info
        if info.uid.hex() != uid or info.board != microt_pb2.BOARD_L4R5ZI or info.cpu_hz != 120000000:
            fail(f"DeviceInfo decoded wrong: {info}")
        hello = seen[("to_board", "hello")].hello
        if hello.protocol_version != microt_pb2.PROTOCOL_VERSION_CURRENT:
            fail("Hello protocol version")
        print(f"ok: {len(seen)} kinds of message decoded by python3-protobuf; "
              f"{len(tap.to_board)} bytes to the board, {len(tap.from_board)} from it")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
