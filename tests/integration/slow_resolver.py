#!/usr/bin/python3
"""A TCP DNS server for tests: every query gets a 3 KB TXT answer written in two parts,
the second DELAY seconds after the first (the way a resolver's large answer can arrive in
pieces). Usage: slow_resolver.py ADDRESS DELAY"""
import socket
import struct
import sys
import threading
import time


def answer(query):
    end = 12
    while query[end] != 0:
        end += 1 + query[end]
    end += 5  # the root label, type and class
    text = b"".join(bytes([200]) + b"t" * 200 for _ in range(15))
    record = b"\xc0\x0c" + struct.pack(">HHIH", 16, 1, 60, len(text)) + text
    message = query[:2] + b"\x81\x80" + struct.pack(">HHHH", 1, 1, 0, 0) + query[12:end] + record
    return struct.pack(">H", len(message)) + message


def serve(conn, delay):
    pending = b""
    try:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            pending += data
            while len(pending) >= 2 and len(pending) >= 2 + struct.unpack(">H", pending[:2])[0]:
                length = struct.unpack(">H", pending[:2])[0]
                reply = answer(pending[2:2 + length])
                pending = pending[2 + length:]
                conn.sendall(reply[:700])
                time.sleep(delay)
                conn.sendall(reply[700:])
    except OSError:
        pass
    conn.close()


def main():
    address, delay = sys.argv[1], float(sys.argv[2])
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((address, 53))
    listener.listen(512)
    print("listening", flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, delay), daemon=True).start()


if __name__ == "__main__":
    main()
