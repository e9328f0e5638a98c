"""The module's steps phase by phase (bench/cluster.sh): reads the profile log (the module's
JSON replies and CLUSTER.JOBS entries) and prints Markdown tables, medians over the rounds, per
server and size: CREATE's steps (its reply's `phases_ms`: ms since the start at the end of each
step; each step's own time is the difference to the step before), then RESHARD's and
REBALANCE's phases (the job's `us_*` counters, wall time per phase summed over the batches, in
ms; `agreement_ms` and `elapsed_ms` from the reply). Usage: cluster_phases.py PROFILE_LOG"""
import json
import re
import statistics
import sys

runs = {}
moves = {}  # (step, label, masters) -> [{phase: ms}]
header = None
reply = None
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    m = re.match(r"^(.*) masters=(\d+) \S+ (\w+)$", line.rstrip("\n"))
    if m:
        header = (m.group(3), m.group(1), int(m.group(2)))
        reply = None
        continue
    if header and line.startswith("  reply: "):
        try:
            reply = json.loads(line[len("  reply: "):])
        except ValueError:
            reply = None
        if header[0] == "create" and reply and reply.get("phases_ms"):
            runs.setdefault(header[1:], []).append(reply["phases_ms"])
        continue
    if header and header[0] in ("reshard", "rebalance") and line.startswith("  job: "):
        try:
            counters = (json.loads(line[len("  job: "):]) or {}).get("counters", {})
        except ValueError:
            counters = {}
        if reply and counters:
            row = {k[3:]: v / 1000 for k, v in counters.items() if k.startswith("us_")}
            row["agreement"] = reply.get("agreement_ms", 0)
            row["total"] = reply.get("elapsed_ms", 0)
            row["slots"] = counters.get("slots_moved", 0)
            moves.setdefault(header, []).append(row)
        header = None

if runs:
    names = list(next(iter(runs.values()))[0].keys())
    print("| server | masters | " + " | ".join(names) + " | total |")
    print("|---|---:|" + "---:|" * (len(names) + 1))
    for (label, masters), rounds in runs.items():
        cells = []
        for k, name in enumerate(names):
            before = names[k - 1] if k else None
            steps = [r.get(name, 0) - (r.get(before, 0) if before else 0) for r in rounds]
            cells.append(str(int(statistics.median(steps))))
        total = int(statistics.median(r.get(names[-1], 0) for r in rounds))
        print(f"| {label} | {masters} | " + " | ".join(cells) + f" | {total} |")

MOVE_PHASES = ["importing", "migrating", "keys", "node_target", "node_others", "agreement", "total"]
if moves:
    print()
    print("| step | server | masters | slots | " + " | ".join(MOVE_PHASES) + " |")
    print("|---|---|---:|---:|" + "---:|" * len(MOVE_PHASES))
    for step in ("reshard", "rebalance"):
        for (s_, label, masters), rounds in moves.items():
            if s_ != step:
                continue
            cells = [str(int(statistics.median(r.get(p, 0) for r in rounds))) for p in ["slots"] + MOVE_PHASES]
            print(f"| {step} | {label} | {masters} | " + " | ".join(cells) + " |")
