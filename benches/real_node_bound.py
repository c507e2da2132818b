#!/usr/bin/env python3
"""The overhead a real node's recording implies, where the A/B measurement cannot resolve it:
the in-memory loop's metrics instructions per proposal per node (callgrind, instrumented -
disabled, each shape), converted to time at that loop's own rate (criterion's time of the
disabled loop / callgrind's instructions of it), divided by the real node's CPU per proposal
per node with recording off.

    benches/real_node_bound.py REAL_NODE.tsv RAFT_LOOP_INSTRUCTIONS.log CRITERION_DIR [MEASURED.tsv]

REAL_NODE.tsv is `real_node --summary`'s (rate, leader and follower us per proposal with
recording off, A/B overhead of all nodes in %, its 2 SE); the log is gungraun's output of
`raft_loop_instructions`; CRITERION_DIR holds the `raft_loop_*` groups. MEASURED.tsv, if given, is
`real_node_callgrind.py --summary`'s (rate, recording's instructions per proposal for the 3 nodes
measured in the node itself under callgrind, the leader's messages per proposal there): a last
column converts those at the slowest of the loops' rates. Prints a markdown table.
"""
import json, os, re, sys

PROPOSALS, NODES = 2000, 3
tsv, log, crit = sys.argv[1:4]
measured = {}
if len(sys.argv) > 4:
    for line in open(sys.argv[4]):
        rate, ir, _messages = line.rstrip("\n").split("\t")
        measured[rate] = float(ir) / NODES

instructions = {}
bench = None
for line in open(log):
    m = re.match(r"raft_loop_instructions::raft_loop_instructions::(\w+) (\w+):", line)
    if m:
        bench = m.groups()
    m = re.match(r"\s*Instructions:\s*(\d+)", line)
    if m and bench:
        instructions[bench] = int(m.group(1))
        bench = None


def loop_ns(shape):
    with open(os.path.join(crit, f"raft_loop_{shape}", "disabled", "new", "estimates.json")) as f:
        return json.load(f)["mean"]["point_estimate"]


cost = {}
for shape in ("one_per_turn", "batched_100", "saturated_1000"):
    if (shape, "disabled") not in instructions:
        continue
    disabled, instrumented = instructions[(shape, "disabled")], instructions[(shape, "instrumented")]
    ir = (instrumented - disabled) / PROPOSALS / NODES
    cost[shape] = (ir, ir * loop_ns(shape) / disabled)

head = " | ".join(f"implied by `{s}` ({ir:.0f} Ir ≈ {ns:.0f} ns)" for s, (ir, ns) in cost.items())
# The measured instructions at the slowest rate any of the loops ran at: a bound stays one.
ns_per_ir = max((ns / ir for ir, ns in cost.values() if ir > 0), default=0.0)
if measured:
    head += f" | measured in the node (callgrind, at {ns_per_ir:.3f} ns per Ir)"
print(f"| offered | CPU per proposal per node, off (mean of the 3) | A/B overhead (mean ± 2 SE) | {head} |")
print("|---|---:|---:|" + "---:|" * (len(cost) + bool(measured)))
idle = []
for line in open(tsv):
    rate, leader_us, follower_us, overhead, error = line.split("\t")
    if rate.startswith("idle-"):
        idle.append((rate, float(leader_us), float(overhead), float(error)))
        continue
    if rate.startswith("busy-"):
        # Proposals spread over many groups: `busy_lines.sh` counts that regime's instructions.
        continue
    node_ns = (float(leader_us) + 2 * float(follower_us)) / 3 * 1000
    bounds = " | ".join(f"{ns / node_ns * 100:.3f} %" for _, ns in cost.values())
    if measured:
        ir = measured.get(rate)
        bounds += " | –" if ir is None else f" | {ir * ns_per_ir / node_ns * 100:.3f} % ({ir:.0f} Ir)"
    print(f"| {rate} | {node_ns / 1000:.2f} µs | {float(overhead):+.2f} % ± {float(error):.2f} | {bounds} |")

# Idle groups: the instructions per replica-tick of `idle_ticks` (64 groups x 3 nodes x 100 ticks),
# at `one_per_turn`'s instructions per ns, against the real node's CPU per group tick.
IDLE_REPLICA_TICKS = 64 * 3 * 100
if idle and ("idle_ticks", "disabled") in instructions and "one_per_turn" in cost:
    d, i = instructions[("idle_ticks", "disabled")], instructions[("idle_ticks", "instrumented")]
    ir = (i - d) / IDLE_REPLICA_TICKS
    ns_per_ir = cost["one_per_turn"][1] / cost["one_per_turn"][0]
    print()
    print(f"| idle groups | CPU per group tick, off (all nodes) | A/B overhead (mean ± 2 SE) | implied by `idle_ticks` ({ir:.0f} Ir ≈ {ir * ns_per_ir:.0f} ns per replica-tick) |")
    print("|---|---:|---:|---:|")
    for rate, us, overhead, error in idle:
        print(f"| {rate[5:]} per node | {us * 1000:.0f} ns | {overhead:+.2f} % ± {error:.2f} | {ir * ns_per_ir / (us * 1000) * 100:.2f} % |")
