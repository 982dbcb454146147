#!/usr/bin/env python3
"""Captures one LISP Map-Register from the underlay, as an attacker on the path could.

capture.py IFACE SRC_IP EID_IP OUT_FILE TIMEOUT_S
  Listens on IFACE (an AF_PACKET socket on the sender's bridge port: the bridge device itself
  only sees frames addressed to it)
  for an IPv4/UDP datagram from SRC_IP to port 4342 whose payload is a Map-Register (type 3)
  with a record for EID_IP/32, writes that UDP payload to OUT_FILE and exits 0; exits 1 when
  nothing matched within TIMEOUT_S seconds.
"""
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003


def record_has_eid(payload: bytes, eid: bytes) -> bool:
    # Map-Register: 4-byte header word (record count in the last byte), 8-byte nonce, key ID,
    # auth data length, auth data; then records: TTL(4) locator count(1) mask length(1) ...
    # reserved/map-version (4 more) then EID AFI(2) and the address.
    if len(payload) < 16 or payload[0] >> 4 != 3:
        return False
    count = payload[3]
    auth_len = struct.unpack('!H', payload[14:16])[0]
    pos = 16 + auth_len
    for _ in range(count):
        if pos + 12 > len(payload):
            return False
        locators, mask = payload[pos + 4], payload[pos + 5]
        afi = struct.unpack('!H', payload[pos + 10:pos + 12])[0]
        if afi != 1 or pos + 16 > len(payload):
            return False
        if mask == 32 and payload[pos + 12:pos + 16] == eid:
            return True
        pos += 16 + locators * 12  # IPv4 locators only: 6 bytes of fields + AFI(2) + address(4)
    return False


def main() -> int:
    iface, src, eid_text, out, timeout_s = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
    src_bytes, eid = socket.inet_aton(src), socket.inet_aton(eid_text)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    print('listening', flush=True)
    seen = 0
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            frame = s.recv(65535)
        except socket.timeout:
            break
        if len(frame) < 42 or frame[12:14] != b'\x08\x00':
            continue
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        if ip[9] != 17 or ip[12:16] != src_bytes:
            continue
        udp = ip[ihl:]
        if len(udp) < 8 or struct.unpack('!H', udp[2:4])[0] != 4342:
            continue
        payload = udp[8:struct.unpack('!H', udp[4:6])[0]]
        seen += 1
        if record_has_eid(payload, eid):
            with open(out, 'wb') as f:
                f.write(payload)
            print(f'captured {len(payload)} bytes', flush=True)
            return 0
    print(f'nothing captured ({seen} datagrams from {src} to port 4342 seen, none a Map-Register for {eid_text}/32)', file=sys.stderr)
    return 1


if __name__ == '__main__':
    sys.exit(main())
