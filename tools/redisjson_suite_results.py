#!/usr/bin/env python3
"""Reads RLTest's output files (one per test file, run one test at a time) and the list of
failures we expect; prints each test that did not pass with its first assertion messages, then
`N passed, N failed`: a listed failure counts as neither, an unlisted one as failed. Exit 1 when
something unexpected failed (or no test ran at all).

    redisjson_suite_results.py EXPECTED_LIST OUTPUT...

EXPECTED_LIST: one `file:test  reason` per line; `#` starts a comment."""
import re
import sys

COLOUR = re.compile(r"\x1b\[[0-9;]*m")
STATUS = re.compile(r"^\t\[(PASS|FAIL|SKIP|ERROR)\]$")
SEVERITY = {"PASS": 0, "SKIP": 1, "FAIL": 2, "ERROR": 2}


def expected_failures(path):
    listed = {}
    for line in open(path, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, reason = line.partition(" ")
            listed[name] = reason.strip()
    return listed


def results(paths):
    """{test: status} in run order, {test: [messages]}, and the files that did not run to the
    end: a test's assertion lines come before its name and status; an unhandled exception is
    reported just after them. A file with no test status at all, or stopped by the timeout,
    is a failure of its own (`file:<name>`)."""
    status, messages = {}, {}
    for path in paths:
        lines = [COLOUR.sub("", line).rstrip("\r\n") for line in open(path, errors="replace")]
        try:
            code = int(open(path + ".status").read().strip())
        except (OSError, ValueError):
            code = None
        if not any(STATUS.match(line) for line in lines) or code == 124:
            name = "file:" + path.rsplit("/", 1)[-1].removesuffix(".out")
            status[name] = "ERROR"
            messages[name] = [f"RLTest exited {code} after {len(lines)} lines: the file did not run to the end"]
        pending, last = [], None
        for i, line in enumerate(lines):
            if line.startswith("Failed Tests Summary:"):
                break
            match = STATUS.match(line)
            if match and i > 0 and lines[i - 1].endswith(":"):
                name, state = lines[i - 1].strip()[:-1], match.group(1)
                if SEVERITY[state] >= SEVERITY.get(status.get(name), -1):
                    status[name] = state
                messages.setdefault(name, []).extend(pending)
                pending, last = [], name
            elif "(FAIL):" in line:
                pending.append(re.sub(r"^.*?\(FAIL\):\s*", "", line.strip()).replace("\t", " "))
            elif line.strip().startswith("Unhandled exception:") and last:
                messages.setdefault(last, []).append(line.strip())
    return status, messages


def main():
    listed = expected_failures(sys.argv[1])
    status, messages = results(sys.argv[2:])
    passed = sum(1 for s in status.values() if s == "PASS")
    skipped = sum(1 for s in status.values() if s == "SKIP")
    failing = [name for name, s in status.items() if SEVERITY[s] == 2]
    unexpected = [name for name in failing if name not in listed]
    for name in failing:
        tag = "listed difference" if name in listed else "UNEXPECTED"
        print(f"{status[name]:5} {name}  ({tag}: {listed.get(name, 'not in the list')})")
        for message in messages.get(name, [])[:2]:
            print("        " + (message if len(message) < 200 else message[:200] + "..."))
    for name in sorted(set(listed) - set(failing)):
        state = status.get(name, "not run")
        if state == "SKIP":
            continue  # e.g. a defrag test on a server without active defrag
        print(f"note: {name} is listed as a difference but {state}: update the list")
    print(
        f"redisjson suite: {len(status)} tests, {passed} passed, {len(failing)} failed "
        f"({len(failing) - len(unexpected)} listed differences, {len(unexpected)} unexpected), "
        f"{skipped} skipped"
    )
    print(f"{passed} passed, {len(unexpected)} failed")
    return 1 if unexpected or not status else 0


if __name__ == "__main__":
    sys.exit(main())
