"""Writes KEYS_PER_SLOT string keys into every slot of a cluster, through redis-cli --pipe to
each slot's master (bench/cluster.sh). Usage: cluster_populate.py REDIS_CLI PORT KEYS_PER_SLOT.
Prints the number of keys written."""
import subprocess
import sys

CRC16_TABLE = []
for byte in range(256):
    crc = byte << 8
    for _ in range(8):
        crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
    CRC16_TABLE.append(crc & 0xFFFF)


def key_slot(key):
    crc = 0
    for b in key:
        crc = ((crc << 8) & 0xFFFF) ^ CRC16_TABLE[((crc >> 8) ^ b) & 0xFF]
    return crc % 16384


def main():
    cli, port, per_slot = sys.argv[1], sys.argv[2], int(sys.argv[3])
    nodes = subprocess.run([cli, "-p", port, "cluster", "nodes"], capture_output=True,
                           text=True, check=True).stdout
    owner = [None] * 16384
    for line in nodes.splitlines():
        fields = line.split()
        if "master" not in fields[2]:
            continue
        addr = fields[1].split("@")[0]
        for part in fields[8:]:
            if part.startswith("["):
                continue
            first, _, last = part.partition("-")
            for slot in range(int(first), int(last or first) + 1):
                owner[slot] = addr
    # Fill each slot up to per_slot keys: key:N for increasing N until every slot is full.
    want = 16384 * per_slot
    filled = [0] * 16384
    bodies = {}
    n = written = 0
    while written < want:
        key = b"key:%d" % n
        n += 1
        slot = key_slot(key)
        if filled[slot] >= per_slot:
            continue
        filled[slot] += 1
        written += 1
        bodies.setdefault(owner[slot], []).append(
            b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$5\r\nvalue\r\n" % (len(key), key))
    for addr, parts in bodies.items():
        host, p = addr.rsplit(":", 1)
        subprocess.run([cli, "-h", host, "-p", p, "--pipe"], input=b"".join(parts),
                       capture_output=True, check=True)
    print(written)


main()
