#!/usr/bin/python3
"""What an unprivileged local process can send to a resolver, shaped to slip past an
inspector. Runs as uid 65534 under /usr/bin/python3 (standard library only).

Each command prints one line per answer it got: "answer id=N rcode=NAME a=ADDR,..."
(a= lists the A/AAAA addresses in the answer section), then "done". A connection that
was reset or closed early prints "closed after N answers".

  hostile_client.py pipeline SERVER NAME:TYPE...   one TCP write: every query, framed
  hostile_client.py split SERVER NAME:TYPE         length, then message, as two writes
  hostile_client.py bytewise SERVER NAME:TYPE      one byte per write (TCP_NODELAY)
  hostile_client.py onebyte SERVER                 a 1-byte TCP segment, then close
  hostile_client.py gso SERVER NAME:TYPE NAME:TYPE one UDP_SEGMENT sendmsg of both
  hostile_client.py udp SERVER NAME:TYPE [OPCODE]  one datagram (OPCODE: 0 QUERY, 4 NOTIFY...)
  hostile_client.py hold SERVER N SECONDS          N idle TCP connections, held open
  hostile_client.py stream SERVER SECONDS          UDP queries as fast as they go (bounded)
  hostile_client.py bind ADDRESS PORT              try to listen where the agent's proxy does
  hostile_client.py synflood SOURCE SERVER N       N bare SYNs from random ports (raw socket:
                                                   run as root; a half-open-flow flood)
  hostile_client.py interleave SERVER NAME:TYPE NAME:TYPE
                                                   the first query, and the second while
                                                   the first's answer is still arriving
"""
import socket
import struct
import sys
import time

TYPES = {"A": 1, "NS": 2, "NULL": 10, "TXT": 16, "AAAA": 28, "ANY": 255}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
UDP_SEGMENT = 103  # linux/udp.h
SOL_UDP = 17


def query(name, qtype, qid, opcode=0):
    flags = (opcode << 11) | 0x0100
    wire = struct.pack(">HHHHHH", qid, flags, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        wire += bytes([len(label)]) + label.encode()
    return wire + b"\0" + struct.pack(">HH", TYPES.get(qtype, 1) if not qtype.isdigit() else int(qtype), 1)


def parse_specs(specs):
    out = []
    for i, spec in enumerate(specs):
        name, _, qtype = spec.partition(":")
        out.append(query(name, qtype or "A", 0x1000 + i))
    return out


def skip_name(m, pos):
    while True:
        n = m[pos]
        if n & 0xC0 == 0xC0:
            return pos + 2
        if n == 0:
            return pos + 1
        pos += 1 + n


def describe(m):
    qid, flags, qd, an = struct.unpack(">HHHH", m[:8])
    pos = 12
    for _ in range(qd):
        pos = skip_name(m, pos) + 4
    addresses = []
    for _ in range(an):
        pos = skip_name(m, pos)
        rtype, _, _, length = struct.unpack(">HHIH", m[pos:pos + 10])
        data = m[pos + 10:pos + 10 + length]
        if rtype == 1:
            addresses.append(socket.inet_ntop(socket.AF_INET, data))
        elif rtype == 28:
            addresses.append(socket.inet_ntop(socket.AF_INET6, data))
        pos += 10 + length
    return "answer id=%d rcode=%s a=%s" % (qid, RCODES.get(flags & 0xF, str(flags & 0xF)), ",".join(addresses))


def family(server):
    return socket.AF_INET6 if ":" in server else socket.AF_INET


def tcp_connect(server):
    s = socket.socket(family(server), socket.SOCK_STREAM)
    s.settimeout(3)
    s.connect((server, 53))
    return s


def read_answers(s, expected):
    buf, got = b"", 0
    try:
        while got < expected:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            while len(buf) >= 2 and len(buf) >= 2 + struct.unpack(">H", buf[:2])[0]:
                length = struct.unpack(">H", buf[:2])[0]
                print(describe(buf[2:2 + length]), flush=True)
                buf = buf[2 + length:]
                got += 1
    except (ConnectionResetError, socket.timeout, OSError):
        pass
    if got < expected:
        print("closed after %d answers" % got)


def framed(m):
    return struct.pack(">H", len(m)) + m


def main():
    cmd, server = sys.argv[1], sys.argv[2]
    if cmd == "pipeline":
        messages = parse_specs(sys.argv[3:])
        s = tcp_connect(server)
        s.sendall(b"".join(framed(m) for m in messages))
        read_answers(s, len(messages))
    elif cmd in ("split", "bytewise"):
        m = parse_specs(sys.argv[3:4])[0]
        s = tcp_connect(server)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        data = framed(m)
        pieces = [data[:2], data[2:]] if cmd == "split" else [data[i:i + 1] for i in range(len(data))]
        try:
            for piece in pieces:
                s.send(piece)
                time.sleep(0.01)  # separate segments, not one coalesced write
        except OSError:
            pass
        read_answers(s, 1)
    elif cmd == "onebyte":
        s = tcp_connect(server)
        s.send(b"x")
        s.close()
    elif cmd == "gso":
        messages = parse_specs(sys.argv[3:5])
        if len(messages[0]) != len(messages[1]):
            sys.exit("gso: both queries must have the same length")
        s = socket.socket(family(server), socket.SOCK_DGRAM)
        s.settimeout(2)
        s.connect((server, 53))
        s.setsockopt(SOL_UDP, UDP_SEGMENT, len(messages[0]))
        s.send(messages[0] + messages[1])
        got = 0
        try:
            while got < 2:
                print(describe(s.recv(4096)), flush=True)
                got += 1
        except socket.timeout:
            print("no more answers after %d" % got)
    elif cmd == "udp":
        name, _, qtype = sys.argv[3].partition(":")
        opcode = int(sys.argv[4]) if len(sys.argv) > 4 else 0
        s = socket.socket(family(server), socket.SOCK_DGRAM)
        s.settimeout(2)
        s.connect((server, 53))
        s.send(query(name, qtype or "A", 0x2000, opcode))
        try:
            print(describe(s.recv(4096)))
        except socket.timeout:
            print("no answer")
    elif cmd == "stream":
        s = socket.socket(family(server), socket.SOCK_DGRAM)
        s.setblocking(False)
        s.connect((server, 53))
        deadline, sent = time.time() + float(sys.argv[3]), 0
        while time.time() < deadline and sent < 200000:
            try:
                s.send(query("www.example.test", "A", sent & 0xFFFF))
                sent += 1
            except OSError:
                time.sleep(0.001)
            try:
                while True:
                    s.recv(4096)
            except OSError:
                pass
        print("sent %d" % sent)
    elif cmd == "bind":
        s = socket.socket(family(server), socket.SOCK_STREAM)
        try:
            s.bind((server, int(sys.argv[3])))
            print("bound")
        except OSError as e:
            print("refused: %s" % e)
    elif cmd == "synflood":
        source, target, count = sys.argv[2], sys.argv[3], int(sys.argv[4])
        raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
        src, dst = socket.inet_aton(source), socket.inet_aton(target)
        for i in range(count):
            port = 20000 + i % 40000
            header = struct.pack(">HHIIBBHHH", port, 53, i * 7919, 0, 5 << 4, 0x02, 65535, 0, 0)
            pseudo = src + dst + struct.pack(">BBH", 0, 6, len(header))
            data = pseudo + header
            total = sum(struct.unpack(">%dH" % (len(data) // 2), data))
            while total >> 16:
                total = (total & 0xFFFF) + (total >> 16)
            header = header[:16] + struct.pack(">H", ~total & 0xFFFF) + header[18:]
            raw.sendto(header, (target, 0))
        print("sent %d" % count)
    elif cmd == "interleave":
        first, second = parse_specs(sys.argv[3:5])
        s = tcp_connect(server)
        s.settimeout(5)
        s.sendall(framed(first))
        time.sleep(0.3)
        s.sendall(framed(second))
        read_answers(s, 2)
    elif cmd == "hold":
        count, seconds = int(sys.argv[3]), float(sys.argv[4])
        held = []
        for _ in range(count):
            try:
                held.append(tcp_connect(server))
            except OSError:
                pass
        print("holding %d" % len(held), flush=True)
        time.sleep(seconds)
    print("done")


if __name__ == "__main__":
    main()
