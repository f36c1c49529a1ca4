#!/usr/bin/env python3
"""Summarise a bench/compare.sh results directory as a Markdown table with kiln/turbo ratios."""
import glob
import json
import os
import re
import sys

results = sys.argv[1]
rows = {}
for path in glob.glob(os.path.join(results, "*.json")):
    name = os.path.basename(path)[:-5]
    m = re.fullmatch(r"(cold|warm|edit|dry)-(\d+)", name)
    if m:
        data = json.load(open(path))
        times = {r["command"]: (r["mean"], r["stddev"] or 0.0) for r in data["results"]}
        rows.setdefault(int(m.group(2)), {})[m.group(1)] = times
    m = re.fullmatch(r"hash-(\d+)", name)
    if m:
        data = json.load(open(path))
        times = {r["command"]: (r["mean"], r["stddev"] or 0.0) for r in data["results"]}
        rows.setdefault(int(m.group(1)), {})["hash"] = times
    m = re.fullmatch(r"envmode-(\d+)", name)
    if m:
        data = json.load(open(path))
        times = {r["command"]: (r["mean"], r["stddev"] or 0.0) for r in data["results"]}
        rows.setdefault(int(m.group(1)), {})["envmode"] = times
    m = re.fullmatch(r"rss-(kiln|turbo)-(\d+)", name)
    if m:
        rows.setdefault(int(m.group(2)), {}).setdefault("rss", {})[m.group(1)] = json.load(open(path))

print(open(os.path.join(results, "env.txt")).read())
print("| packages | scenario | kiln | turbo | turbo / kiln |")
print("|---:|---|---:|---:|---:|")
labels = {"cold": "cold build", "warm": "full-cache rerun", "edit": "rerun after leaf edit", "dry": "dry run (JSON)"}
for n in sorted(rows):
    for s in ("cold", "warm", "edit", "dry"):
        t = rows[n].get(s)
        if not t:
            continue
        (km, ks), (tm, ts) = t["kiln"], t["turbo"]
        print(f"| {n} | {labels[s]} | {km:.3f} s ± {ks:.3f} | {tm:.3f} s ± {ts:.3f} | {tm / km:.1f}× |")
    h = rows[n].get("hash")
    if h and "stat-floor" in h:
        (fm, fs), (km, ks), (tm, ts) = h["stat-floor"], h["kiln"], h["turbo"]
        print(f"| {n} | unchanged tree: dry run vs one stat per file ({fm:.3f} s ± {fs:.3f}) | {km:.3f} s ± {ks:.3f} ({km / fm:.1f}× the floor) | {tm:.3f} s ± {ts:.3f} | {tm / km:.1f}× |")
    rss = rows[n].get("rss")
    if rss and "kiln" in rss and "turbo" in rss:
        for phase in ("warm", "cold"):
            k, t = rss["kiln"][f"{phase}_kib"], rss["turbo"][f"{phase}_kib"]
            print(f"| {n} | peak RSS, {labels['warm' if phase == 'warm' else 'cold']} | {k / 1024:.0f} MiB | {t / 1024:.0f} MiB | {t / k:.1f}× |")
    e = rows[n].get("envmode")
    if e:
        (sm, ss), (lm, ls) = e["strict"], e["loose"]
        print(f"| {n} | kiln full-cache rerun, strict env mode vs loose | {sm:.3f} s ± {ss:.3f} (strict) | {lm:.3f} s ± {ls:.3f} (loose) | strict / loose {sm / lm:.2f} |")
