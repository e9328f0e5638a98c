"""Waits until every node of a new cluster reports cluster_state:ok and as many replicas as
asked for have their link up (bench/cluster.sh, the end of a timed CREATE). Usage: cluster_ok.py TIMEOUT_S MASTERS PORT...
(the masters' ports first, then the replicas'). One process asks every node at once over kept
connections, every 5 ms: checking 50 nodes one after the other would add ~0.5 s to both tools'
times on a loaded machine. Exits 0 when ok, 1 at the timeout.

The script starts it before the timed step: it prints "ready", waits for a line on stdin (the
tool has returned) and then polls; when the nodes are ok it prints the wall clock in ms, the
end of the step. Started after the tool, Python's own start-up (0.25-0.45 s on the loaded
2-core machine) was timed in both tools' numbers."""
import socket
import sys
import time


def read_bulk(conn):
    head = b""
    while not head.endswith(b"\r\n"):
        chunk = conn.recv(1)
        if not chunk:
            raise OSError("closed")
        head += chunk
    if not head.startswith(b"$"):
        return head.decode(errors="replace")
    size = int(head[1:-2])
    body = b""
    while len(body) < size + 2:
        chunk = conn.recv(size + 2 - len(body))
        if not chunk:
            raise OSError("closed")
        body += chunk
    return body[:size].decode(errors="replace")


def main():
    timeout, masters = float(sys.argv[1]), int(sys.argv[2])
    ports = [int(p) for p in sys.argv[3:]]
    conns = {}
    print("ready", flush=True)
    sys.stdin.readline()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            for port in ports:
                if port not in conns:
                    conns[port] = socket.create_connection(("127.0.0.1", port), timeout=2)
                conns[port].sendall(b"CLUSTER INFO\r\nINFO replication\r\n")
            # Read every reply (all of them: a kept connection must not fall behind). A replica
            # may have been promoted meanwhile (a node timeout on a busy machine): count roles.
            ok, linked = True, 0
            for port in ports:
                ok = "cluster_state:ok" in read_bulk(conns[port]) and ok
                replication = read_bulk(conns[port])
                linked += "master_link_status:up" in replication
            if ok and linked == len(ports) - masters:
                print(int(time.time() * 1000), flush=True)
                return 0
        except OSError:
            for conn in conns.values():
                conn.close()
            conns = {}
        time.sleep(0.005)
    return 1


sys.exit(main())
