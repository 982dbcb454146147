#!/usr/bin/env python3
"""Bridges a TUN device and an emulated xTR (Node has no ioctl, so it cannot open a TUN itself).

tun.py DEV LISTEN_PORT XTR_PORT LIFETIME_S
  packets the kernel routes into DEV  -> UDP 127.0.0.1:XTR_PORT (the xTR encapsulates them)
  UDP datagrams to 127.0.0.1:LISTEN_PORT -> written to DEV (decapsulated packets for the site)
Raw IPv4 packets both ways (IFF_NO_PI). Exits by itself after LIFETIME_S seconds.
"""
import fcntl
import os
import select
import socket
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def main() -> int:
    dev, listen_port, xtr_port, lifetime = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", dev.encode(), IFF_TUN | IFF_NO_PI))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", listen_port))
    xtr = ("127.0.0.1", xtr_port)
    print("ready", flush=True)
    deadline = time.monotonic() + lifetime
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return 0
        readable, _, _ = select.select([fd, sock], [], [], min(left, 1.0))
        for r in readable:
            if r is fd:
                packet = os.read(fd, 65535)
                if packet and packet[0] >> 4 == 4:
                    sock.sendto(packet, xtr)
            else:
                packet, _ = sock.recvfrom(65535)
                try:
                    os.write(fd, packet)
                except OSError:
                    pass  # e.g. no route for a VM that left: the packet is lost, as on a real site


if __name__ == "__main__":
    sys.exit(main())
