"""The module's CREATE step by step (bench/cluster.sh): reads the profile log (the module's
JSON replies, with `phases_ms`: ms since the start at the end of each step) and prints a
Markdown table of each step's own time (the difference to the step before), median over the
rounds, per server and size. Usage: cluster_phases.py PROFILE_LOG"""
import json
import re
import statistics
import sys

runs = {}
header = None
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    m = re.match(r"^(.*) masters=(\d+) \S+ create$", line.rstrip("\n"))
    if m:
        header = (m.group(1), int(m.group(2)))
        continue
    if header and line.startswith("  reply: "):
        try:
            phases = json.loads(line[len("  reply: "):]).get("phases_ms", {})
        except ValueError:
            phases = {}
        if phases:
            runs.setdefault(header, []).append(phases)
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
