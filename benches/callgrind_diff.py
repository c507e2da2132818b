#!/usr/bin/env python3
"""Where the raft loop's metrics instructions go: the self cost (Ir) per function of the
instrumented callgrind run minus the disabled one, and the inclusive cost of the wrapper's hooks.

    benches/callgrind_diff.py DISABLED.out INSTRUMENTED.out [TOP]

The .out files are gungraun's, under
$CARGO_TARGET_DIR/gungraun/raft-metrics-benches/raft_loop_instructions/raft_loop_instructions/.
Functions are keyed by name (code inlined from another file is folded into its function).
"""
import re, subprocess, sys
def load(path, inclusive=False):
    args=['callgrind_annotate','--show=Ir','--threshold=100','--auto=no']
    if inclusive: args.append('--inclusive=yes')
    out=subprocess.run(args+[path],capture_output=True,text=True).stdout
    d={}
    started=False
    for line in out.splitlines():
        if 'file:function' in line: started=True; continue
        if not started: continue
        m=re.match(r'\s*([\d,]+)\s+\([^)]*\)\s+(.*)$',line)
        if not m: continue
        n=int(m.group(1).replace(',',''))
        name=m.group(2)
        name=re.sub(r'\s+\[[^\]]*\]$','',name)
        name=name.split(':',1)[1] if ':' in name.split('<')[0] or re.match(r'^[./]',name) else name
        d[name]=d.get(name,0)+n
    return d
dis, ins = sys.argv[1], sys.argv[2]
a=load(dis); b=load(ins)
tot=sum(b.values())-sum(a.values())
print(f"Self-cost difference (instrumented − disabled), total {tot:,} Ir:\n")
print("```")
diff=sorted(((b.get(k,0)-a.get(k,0),k) for k in set(a)|set(b)),reverse=True)
for d,k in diff[:int(sys.argv[3]) if len(sys.argv)>3 else 25]:
    print(f"{d:>12,} {d/tot*100:6.1f}%  {k[:160]}")
print("```")
print("\nInclusive cost of the wrapper's heaviest hooks in the instrumented run (% of the difference):\n")
print("```")
bi=load(ins,True)
for k,v in sorted(bi.items(),key=lambda x:-x[1]):
    if 'InstrumentedNode' in k and ('observe' in k or 'publish' in k or 'refresh' in k or 'committed' in k or 'after_propose' in k or 'unix_now' in k or 'peer' in k or 'rpc' in k) or 'unix_now' in k:
        print(f"{v:>12,} {v/tot*100:6.1f}%  {k[:160]}")
print("```")
