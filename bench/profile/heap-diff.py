#!/usr/bin/env python3
"""What grew between two V8 heap snapshots (e.g. a worker idle, then with N sessions), by
constructor: count and self size.  python3 bench/profile/heap-diff.py BEFORE AFTER [--per N] [--top 30]"""
import argparse, collections, json

ap = argparse.ArgumentParser()
ap.add_argument('before')
ap.add_argument('after')
ap.add_argument('--per', type=int, default=1, help='divide by this many sessions')
ap.add_argument('--top', type=int, default=30)
a = ap.parse_args()

def load(path):
    snap = json.load(open(path))
    meta = snap['snapshot']['meta']
    fields = meta['node_fields']
    types = meta['node_types'][0]
    n = len(fields)
    it, iname, isize = fields.index('type'), fields.index('name'), fields.index('self_size')
    nodes, strings = snap['nodes'], snap['strings']
    size, count = collections.Counter(), collections.Counter()
    for i in range(0, len(nodes), n):
        t = types[nodes[i + it]]
        name = strings[nodes[i + iname]] if t in ('object', 'closure', 'native', 'hidden') else f'({t})'
        if t == 'closure':
            name = f'closure {name}'
        size[name] += nodes[i + isize]
        count[name] += 1
    return size, count

bs, bc = load(a.before)
as_, ac = load(a.after)
grown = collections.Counter({k: as_[k] - bs.get(k, 0) for k in as_})
total = sum(as_.values()) - sum(bs.values())
print(f"heap grew {total / 2**20:.1f} MB ({total / a.per / 1024:.0f} KB per session over {a.per})")
for k, v in grown.most_common(a.top):
    print(f"{v / a.per / 1024:9.1f} KB/session  {(ac[k] - bc.get(k, 0)) / a.per:8.1f} objects/session  {k[:80]}")
