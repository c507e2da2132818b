#!/usr/bin/env python3
"""Where the instructions two callgrind runs of one binary differ go, by source line.

    benches/where.py BINARY OFF.out ON.out [--per N] [--unit NAME] [--rows R] [--root DIR]

Both runs must come from BINARY with `--dump-instr=yes`, so that an address is the same
instruction in both. The per-address difference (ON - OFF) is attributed to the innermost inlined
frame whose file is under DIR (this workspace; `addr2line -i` lists a location's inline chain,
innermost first), else to the innermost frame; a shared library's difference goes to the library,
without lines (its addresses may equal the binary's). Prints two markdown tables: by source line
and by file, in instructions per N (the run's proposals or replica-ticks, named by --unit) and as
a share of the whole difference.
"""
import argparse
import collections
import os
import re
import subprocess


def self_costs(path, functions, events=("Ir",), binary=None, others=None):
    """Self cost per instruction address (the sum of `events`, `Ir` by default, of the lines that
    are not call costs); notes each address's function in `functions` (for code without line
    information). With `binary`, only the costs of code in that file, and those of the other
    objects by object in the Counter `others`: a shared library's code (libc's `memcpy`, say) has
    addresses of its own that may equal the binary's."""
    costs = collections.Counter()
    columns = [0]
    names = {}
    objects = {}
    kept = binary is None
    current = ""
    function = "??"
    addr = 0
    call_cost_next = False
    for line in open(path):
        if not line.strip() or line[0] == "#":
            continue
        if line.startswith("events:"):
            names_in_file = line.split()[1:]
            columns = [names_in_file.index(event) for event in events]
            continue
        if line[0].isalpha():
            call_cost_next = line.startswith("calls=")
            m = re.match(r"c?fn=\((\d+)\)(?: (.*))?", line.rstrip("\n"))
            if m:
                if m.group(2):
                    names[m.group(1)] = m.group(2)
                if line.startswith("fn="):
                    function = names.get(m.group(1), "??")
            m = re.match(r"(c?ob)=\((\d+)\)(?: (.*))?", line.rstrip("\n"))
            if m:
                if m.group(3):
                    objects[m.group(2)] = m.group(3)
                if m.group(1) == "ob" and binary is not None:
                    current = objects.get(m.group(2), "")
                    kept = os.path.realpath(current) == os.path.realpath(binary)
            continue
        fields = line.split()
        position = fields[0]
        if position[0] in "+-":
            step = position[1:]
            step = int(step, 16) if step.startswith("0x") else int(step)
            addr += step if position[0] == "+" else -step
        elif position != "*":
            addr = int(position, 16)
        if len(fields) < 3:
            continue
        if call_cost_next:
            # The inclusive cost of the call above, not this address's own.
            call_cost_next = False
            continue
        # Positions are `address line`, then the events in the header's order (trailing zeros
        # left out).
        cost = sum(int(fields[2 + c]) for c in columns if 2 + c < len(fields))
        if not kept:
            if others is not None:
                others[os.path.basename(current)] += cost
            continue
        costs[addr] += cost
        functions[addr] = function
    return costs


def chains(binary, addrs):
    """Each address's inline chain, innermost first: [(function, file, line)]."""
    result = {}
    addrs = sorted(addrs)
    for start in range(0, len(addrs), 2000):
        batch = addrs[start : start + 2000]
        out = subprocess.run(
            ["addr2line", "-a", "-i", "-f", "-C", "-e", binary] + [hex(a) for a in batch],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        current = None
        i = 0
        while i < len(out):
            if re.fullmatch(r"0x[0-9a-f]+", out[i]):
                current = int(out[i], 16)
                result[current] = []
                i += 1
                continue
            function, location = out[i], out[i + 1] if i + 1 < len(out) else "??:0"
            file, _, line = location.partition(" ")[0].rpartition(":")
            result[current].append((function, file, line))
            i += 2
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("off")
    parser.add_argument("on")
    parser.add_argument("--per", type=int, default=1)
    parser.add_argument("--unit", default="")
    parser.add_argument("--events", default="Ir", help="comma-separated callgrind events, summed")
    parser.add_argument("--rows", type=int, default=40)
    parser.add_argument("--root", default=os.getcwd())
    args = parser.parse_args()
    root = os.path.realpath(args.root) + "/"

    functions = {}
    events = args.events.split(",")
    off_others, on_others = collections.Counter(), collections.Counter()
    off = self_costs(args.off, functions, events, args.binary, off_others)
    on = self_costs(args.on, functions, events, args.binary, on_others)
    diff = {a: on.get(a, 0) - off.get(a, 0) for a in set(on) | set(off)}
    diff = {a: d for a, d in diff.items() if d}
    others = {o: on_others[o] - off_others[o] for o in set(on_others) | set(off_others)}
    others = {o: d for o, d in others.items() if d}
    total = sum(diff.values()) + sum(others.values())
    frames = chains(args.binary, diff)

    by_line, by_file = collections.Counter(), collections.Counter()
    for addr, d in diff.items():
        chain = [f for f in frames.get(addr, []) if f[1] != "??"] or [(functions.get(addr, "??"), "??", "?")]
        ours = [f for f in chain if f[1].startswith(root) and not f[1][len(root) :].startswith("target")]
        function, file, line = (ours or chain)[0]
        file = file[len(root) :] if file.startswith(root) else os.path.basename(file)
        name = re.sub(r"<[^<>]*>", "", re.sub(r"<[^<>]*>", "", function)).split("::")[-1]
        by_line[(name, file, line)] += d
        by_file[file if file != "??" else "(no line information: libraries)"] += d
    # Code in shared libraries (libc's `memcpy`, the loader) by object, without lines.
    for name, d in others.items():
        by_line[("", f"({name})", "?")] += d
        by_file[f"({name})"] += d

    def source(file, line):
        try:
            with open(os.path.join(root, file)) as f:
                return f.read().splitlines()[int(line) - 1].strip()
        except (OSError, ValueError, IndexError):
            return ""

    per = args.per
    unit = f" {args.unit}" if args.unit else ""
    what = "instructions" if events == ["Ir"] else " + ".join(events)
    print(f"Difference: {total:,} {what}, {total / per:.1f} per {per:,}{unit}.\n")
    print(f"| per {per:,} | share | where | line |")
    print("|---:|---:|---|---|")
    for (name, file, line), d in sorted(by_line.items(), key=lambda kv: -abs(kv[1]))[: args.rows]:
        text = source(file, line).replace("|", "\\|")
        print(f"| {d / per:.1f} | {d / total * 100:.1f} % | `{name}` {file}:{line} | `{text[:70]}` |")
    print(f"\n| per {per:,} | share | file |")
    print("|---:|---:|---|")
    for file, d in sorted(by_file.items(), key=lambda kv: -abs(kv[1])):
        if abs(d) / per >= 0.5:
            print(f"| {d / per:.1f} | {d / total * 100:.1f} % | {file} |")


if __name__ == "__main__":
    main()
