#!/usr/bin/env python3
"""How close kiln's cold builds come to the best any scheduler could do.

For a generated monorepo whose builds sleep a known time (`gen-monorepo.py --work-mode
sleep`), the lower bound of a build's wall time at concurrency C is

    max(critical path, total work / C)

computed from the task durations kiln itself measured in the same run (so process start-up
counts as work, not as scheduling loss). The script reports wall / bound for kiln at each
concurrency, for uniform and for uneven (log-normal) durations, kiln's first run (no history
yet) and later runs (durations known from history), and turbo's wall time on the same tree
against the same bound.

    bench/schedule.py                        # 60 packages, concurrency 2 4 8, 3 runs each
    bench/schedule.py --packages 120 --runs 5 --concurrency "2 8"

Needs python3, node, git and a release build of kiln (built here); turbo from tools/turbo.
"""
import argparse
import glob
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
GEN = os.environ.get("KILN_GEN_MONOREPO", os.path.join(REPO, "..", "shared", "bench", "gen-monorepo.py"))


def sh(cmd, cwd=None, env=None):
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def generate(root, packages, work_ms, uneven, seed):
    if os.path.exists(root):
        shutil.rmtree(root)
    sh(["python3", GEN, "gen", root, "--packages", str(packages), "--work-ms", str(work_ms),
        "--work-mode", "sleep", "--files-per-package", "3", "--seed", str(seed)])
    if uneven:
        # Log-normal durations with the same mean: a few long tasks, many short ones, as
        # in real repositories (one slow type-check, many small libraries).
        rng = random.Random(seed)
        sigma = 1.0
        mu = math.log(work_ms) - sigma * sigma / 2
        for build in glob.glob(os.path.join(root, "packages", "*", "build.js")):
            ms = max(10, int(rng.lognormvariate(mu, sigma)))
            text = open(build).read()
            text = re.sub(r"const WORK_MS = \d+;", f"const WORK_MS = {ms};", text)
            open(build, "w").write(text)
        sh(["git", "add", "-A"], cwd=root)
        sh(["git", "-c", "user.name=bench", "-c", "user.email=bench@kiln.invalid", "commit", "-qm", "uneven"], cwd=root)


def clean_outputs(root):
    for dist in glob.glob(os.path.join(root, "packages", "*", "dist")):
        shutil.rmtree(dist)
    for d in [".turbo", os.path.join("node_modules", ".cache")]:
        shutil.rmtree(os.path.join(root, d), ignore_errors=True)
    try:
        os.remove(os.path.join(root, ".bench-exec.log"))
    except FileNotFoundError:
        pass


def latest_record(root):
    records = sorted(glob.glob(os.path.join(root, ".kiln", "runs", "*.json")), key=os.path.getmtime)
    return json.load(open(records[-1]))


def bound(root, record, concurrency):
    """max(critical path, total / C) from the durations of `record`'s executed tasks."""
    meta = json.load(open(os.path.join(root, ".bench-monorepo.json")))
    secs = lambda d: d["secs"] + d["nanos"] / 1e9
    dur = {t["id"]["package"]: secs(t["duration"]) for t in record["tasks"]}
    deps = {p["name"]: p["deps"] for p in meta["packages"]}
    finish = {}

    def longest(name):
        if name not in finish:
            finish[name] = dur.get(name, 0.0) + max((longest(d) for d in deps.get(name, [])), default=0.0)
        return finish[name]

    critical = max(longest(n) for n in deps)
    total = sum(dur.values())
    return max(critical, total / concurrency), critical, total


def timed(cmd, cwd=None):
    start = time.monotonic()
    sh(cmd, cwd=cwd)
    return time.monotonic() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--packages", type=int, default=60)
    ap.add_argument("--work-ms", type=int, default=300)
    ap.add_argument("--concurrency", default="2 4 8")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--work", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "kiln-schedule"))
    ap.add_argument("--no-turbo", action="store_true")
    args = ap.parse_args()

    sh(["cargo", "build", "--release", "--locked", "-p", "kiln", "--manifest-path", os.path.join(REPO, "Cargo.toml")])
    kiln = os.path.join(REPO, "target", "release", "kiln")
    turbo = None
    if not args.no_turbo:
        found = glob.glob(os.path.join(REPO, "tools", "turbo", "node_modules", "@turbo", "*", "bin", "turbo"))
        turbo = found[0] if found else None
    os.environ.update(TURBO_TELEMETRY_DISABLED="1", TURBO_NO_UPDATE_NOTIFIER="1", DO_NOT_TRACK="1")

    rows = []
    for shape in ("uniform", "uneven"):
        root = os.path.join(args.work, shape)
        generate(root, args.packages, args.work_ms, shape == "uneven", seed=7)
        for c in [int(x) for x in args.concurrency.split()]:
            # The first run has no history: every task weighs the same.
            shutil.rmtree(os.path.join(root, ".kiln"), ignore_errors=True)
            clean_outputs(root)
            wall = timed([kiln, "--cwd", root, "run", "build", "--concurrency", str(c)])
            lb, cp, total = bound(root, latest_record(root), c)
            rows.append((shape, c, "kiln, no history", wall, lb, cp, total))
            # Later cold runs: outputs and cache gone, durations remembered.
            walls, bounds = [], []
            for _ in range(args.runs):
                clean_outputs(root)
                shutil.rmtree(os.path.join(root, ".kiln", "cache"), ignore_errors=True)
                walls.append(timed([kiln, "--cwd", root, "run", "build", "--concurrency", str(c)]))
                bounds.append(bound(root, latest_record(root), c))
            mean = sum(walls) / len(walls)
            lb = sum(b[0] for b in bounds) / len(bounds)
            rows.append((shape, c, "kiln, with history", mean, lb, bounds[-1][1], bounds[-1][2]))
            if turbo:
                twalls = []
                for _ in range(args.runs):
                    clean_outputs(root)
                    twalls.append(timed([turbo, "run", "build", f"--concurrency={c}", "--force"], cwd=root))
                rows.append((shape, c, "turbo", sum(twalls) / len(twalls), lb, bounds[-1][1], bounds[-1][2]))

    print(f"{args.packages} packages, mean work {args.work_ms} ms (sleep), {os.cpu_count()} CPUs; "
          f"bound = max(critical path, total work / concurrency) from kiln's measured task durations\n")
    print("| durations | concurrency | runner | wall (s) | bound (s) | wall / bound | critical path (s) | total work (s) |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for shape, c, who, wall, lb, cp, total in rows:
        print(f"| {shape} | {c} | {who} | {wall:.2f} | {lb:.2f} | {wall / lb:.2f} | {cp:.2f} | {total:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
