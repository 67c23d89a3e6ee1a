#!/usr/bin/env python3
"""Where a process's CPU time went, from a V8 .cpuprofile (see cpu-profile.cjs).
   python3 bench/profile/summarize.py FILE.cpuprofile [--skip-ms N] [--until-ms N] [--top N]
Prints self time by package and by function, and inclusive time (the function and what it called)
by function; --skip-ms leaves out start-up (module loading) at the head of the profile."""
import argparse, collections, json, re

ap = argparse.ArgumentParser()
ap.add_argument('file')
ap.add_argument('--skip-ms', type=float, default=0)
ap.add_argument('--until-ms', type=float, default=float('inf'))
ap.add_argument('--top', type=int, default=25)
a = ap.parse_args()

prof = json.load(open(a.file))
nodes = {n['id']: n for n in prof['nodes']}
parent = {}
for n in prof['nodes']:
    for c in n.get('children', []):
        parent[c] = n['id']

def pkg(url):
    m = re.search(r'node_modules/((?:@[^/]+/)?[^/]+)', url)
    if m:
        return m.group(1)
    m = re.search(r'/work/main/((?:src/[^/]+/)?[^/]+)', url)
    if m:
        return m.group(1)
    if url.startswith('node:'):
        return 'node:' + url[5:].split('/')[0]
    return url[-40:] or '(native)'

def key(nid):
    cf = nodes[nid]['callFrame']
    name = cf['functionName'] or '(anonymous)'
    if not cf['url']:
        return name, name
    return f"{name} {pkg(cf['url'])}:{cf['lineNumber'] + 1}", pkg(cf['url'])

self_fn, self_pkg, incl = collections.Counter(), collections.Counter(), collections.Counter()
t = 0.0
total = 0
for sid, dt in zip(prof['samples'], prof['timeDeltas']):
    t += dt / 1000
    if t < a.skip_ms or t > a.until_ms:
        continue
    total += dt
    k, p = key(sid)
    self_fn[k] += dt
    self_pkg[p] += dt
    seen = set()
    n = sid
    while n in nodes:
        kk = key(n)[0]
        if kk not in seen:
            incl[kk] += dt
            seen.add(kk)
        n = parent.get(n)

busy = total - self_fn.get('(idle)', 0)
print(f"window {a.skip_ms:.0f}..{min(t, a.until_ms):.0f} ms: sampled {total / 1000:.0f} ms, busy {busy / 1000:.0f} ms")
for title, c in (('self time by package', self_pkg), ('self time by function', self_fn), ('inclusive time by function', incl)):
    print(f"-- {title} (% of busy) --")
    for k, us in c.most_common(a.top):
        if k in ('(idle)', '(root)'):
            continue
        print(f"{us / 1000:9.1f} ms {100 * us / max(busy, 1):5.1f}%  {k}")
