#!/usr/bin/env python3
"""Recording's instructions per proposal at the real node's own traffic, from its nodes run under
callgrind (`real_node --callgrind DIR`).

    benches/real_node_callgrind.py BINARY DIR [--summary FILE.tsv] [--rows R] [--root ROOT]

DIR holds a folder per cluster (`rate0`, ...), each with `phases.tsv` and the nodes' dumps, one per
node per phase and thread (`<dump>-01` is the node's loop, where every hook runs; the others serve
connections and the scrapes). A dump's instructions are attributed by address (`where.py`: the
binary's code only, each address to its innermost frame outside Rust's standard library); those
whose frame is in `raft-metrics-raftrs/src` or `raft-metrics/src` are the adapter's and the
library's, the rest (raft-rs, the node, protobuf) what the node does anyway. A phase's count is
divided by the proposals the node applied in it, and recording's cost is the count with recording
on less the count with it off in the same round: the code that runs either way (the recording
switch's test, the wrappers' calls of raft-rs) cancels, and what raft-rs does differently from
phase to phase (how the loop happened to batch) is not counted at all, which is why the whole
node's count could not tell recording's few dozen instructions from its thousands.

Prints, per offered rate, the median over rounds of that difference in the loop for the three
nodes together (the unit of the in-memory loop's `saturated_1000`, which has no scrapes either),
for the leader and per follower, the library's instructions on the other threads (the scrapes,
one every 15 s of recording, per proposal at the rate the node ran under callgrind: at saturation
about 14 times fewer proposals per second than natively, so about 14 times the native share), and
the leader's messages and turns per proposal, which callgrind's slowdown changes from the native
run's;
then, for the last rate, where the loop's difference goes by source line. With --summary, writes
`rate`, the loop's median for the three nodes, and the leader's messages per proposal as TSV, for
`real_node_bound.py`.
"""
import argparse
import collections
import glob
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import where  # noqa: E402

OURS = ("raft-metrics-raftrs/src/", "raft-metrics/src/")
STD = ("/rustc/", "/library/")


def owner(chain):
    """The frame an address is charged to: its innermost outside Rust's standard library (whose
    generic code is inlined into everyone's), or None."""
    own = [f for f in chain if f[1] != "??" and not any(s in f[1] for s in STD)]
    return own[0] if own else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("dir")
    parser.add_argument("--summary")
    parser.add_argument("--rows", type=int, default=15)
    parser.add_argument("--root", default=os.getcwd())
    args = parser.parse_args()
    root = os.path.realpath(args.root) + "/"

    clusters = sorted(d for d in os.listdir(args.dir) if os.path.isfile(os.path.join(args.dir, d, "phases.tsv")))
    phases, costs = [], {}
    for cluster in clusters:
        folder = os.path.join(args.dir, cluster)
        with open(os.path.join(folder, "phases.tsv")) as f:
            header = f.readline().rstrip("\n").split("\t")
            for line in f:
                row = dict(zip(header, line.rstrip("\n").split("\t")))
                row["path"] = os.path.join(folder, row["dump"])
                threads = sorted(glob.glob(glob.escape(row["path"]) + "-*"))
                loop = row["path"] + "-01"
                if loop not in threads:
                    sys.exit(f"{loop}: missing (the nodes run with --separate-threads=yes)")
                costs[row["path"]] = where.self_costs(loop, {}, binary=args.binary)
                others = collections.Counter()
                for thread in threads:
                    if thread != loop:
                        others.update(where.self_costs(thread, {}, binary=args.binary))
                costs[row["path"] + " others"] = others
                phases.append(row)
    frames = where.chains(args.binary, set().union(*costs.values()) if costs else set())
    charged = {}
    for addr, chain in frames.items():
        frame = owner(chain)
        if frame and frame[1].startswith(root) and frame[1][len(root) :].startswith(OURS):
            charged[addr] = (frame[1][len(root) :], frame[2])

    # (rate, round, node) -> recording -> (ours per proposal, our costs by line per proposal, phase)
    cells = collections.defaultdict(dict)
    for row in phases:
        applied = max(int(row["applied"]), 1)
        by_line = collections.Counter()
        for addr, cost in costs[row["path"]].items():
            if addr in charged:
                by_line[charged[addr]] += cost / applied
        others = sum(cost for addr, cost in costs[row["path"] + " others"].items() if addr in charged) / applied
        cells[(row["rate"], row["round"], row["node"])][row["recording"]] = (sum(by_line.values()), by_line, row, others)

    rates = list(dict.fromkeys(row["rate"] for row in phases))
    print("| offered | rounds | proposals per node per phase | leader messages / turns per proposal (off; on) | leader | per follower | scrapes (other threads), 3 nodes | loop, 3 nodes: median (min … max) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    summary, lines = [], collections.Counter()
    for rate in rates:
        rounds = sorted({r for (ra, r, _) in cells if ra == rate}, key=int)
        totals, leader, follower, applied, scrapes, pattern = [], [], [], [], [], {"off": [], "on": []}
        for r in rounds:
            nodes = [cells[(rate, r, n)] for (ra, rr, n) in sorted(cells) if ra == rate and rr == r]
            nodes = [n for n in nodes if "on" in n and "off" in n]
            if not nodes:
                continue
            total = 0.0
            scrapes.append(sum(node["on"][3] - node["off"][3] for node in nodes))
            for node in nodes:
                difference = node["on"][0] - node["off"][0]
                total += difference
                (leader if node["on"][2]["leader"] == "1" else follower).append(difference)
                applied.append(int(node["on"][2]["applied"]))
                for recording in ("off", "on"):
                    row = node[recording][2]
                    if row["leader"] == "1":
                        n = max(int(row["applied"]), 1)
                        pattern[recording].append((int(row["messages"]) / n, int(row["readies"]) / n))
                if rate == rates[-1]:
                    for line in set(node["on"][1]) | set(node["off"][1]):
                        lines[line] += (node["on"][1][line] - node["off"][1][line]) / len(rounds)
            totals.append(total)
        if not totals:
            continue

        def shape(recording):
            ps = pattern[recording]
            if not ps:
                return "?"
            return f"{statistics.median(m for m, _ in ps):.2f} / {statistics.median(t for _, t in ps):.4f}"

        def middle(values):
            # Empty when, in every round, no node led at the end of the phase with recording on.
            return f"{statistics.median(values):.1f}" if values else "?"

        median = statistics.median(totals)
        print(
            f"| {rate} | {len(totals)} | {statistics.median(applied):,.0f} | {shape('off')}; {shape('on')} "
            f"| {middle(leader)} | {middle(follower)} "
            f"| {statistics.mean(scrapes):.1f} (mean) | **{median:.1f}** ({min(totals):.1f} … {max(totals):.1f}) |"
        )
        messages = statistics.median(m for m, _ in pattern["off"]) if pattern["off"] else float("nan")
        summary.append(f"{rate}\t{median:.2f}\t{messages:.3f}\n")

    if not summary:
        sys.exit(f"{args.dir}: no round with both phases of every node")
    if lines:
        total = sum(lines.values())
        print()
        print(f"Where it goes at {rates[-1]} (the three nodes, per proposal, mean of the rounds; {total:.1f} in all):")
        print()
        print("| per proposal | where |")
        print("|---:|---|")
        for (file, line), cost in sorted(lines.items(), key=lambda kv: -abs(kv[1]))[: args.rows]:
            print(f"| {cost:.1f} | {file}:{line} |")
    if args.summary:
        with open(args.summary, "w") as f:
            f.writelines(summary)


if __name__ == "__main__":
    main()
