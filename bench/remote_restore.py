#!/usr/bin/env python3
"""Full restore of a generated monorepo's build from each remote cache, against a local hit.

For one generated monorepo (500 packages by default) the script builds once per remote to
fill it, then times with hyperfine:

- `local hit`: outputs deleted, `.kiln/` kept: every task restored from the local cache;
- `<remote> restore`: outputs and `.kiln/` deleted (a clean clone): every task fetched from
  the remote on loopback, written into the local cache and restored from there;
- `no-op`: nothing deleted: every task's outputs are already right (fingerprint check only);
- with `--no-prefetch`, each remote again with `KILN_REMOTE_CACHE_PREFETCH=0`: artifacts
  fetched only by the tasks themselves, `--concurrency` at a time.

Each remote runs on 127.0.0.1 as the tests run it: redis-server, the npm
turborepo-remote-cache server, s3s-fs and BuildGrid (the last two when installed by .ci/run).

    bench/remote_restore.py                         # 500 packages, 5 runs each
    bench/remote_restore.py --packages 200 --runs 3 --stores "redis http"

Needs python3, node, git, hyperfine, the servers, and a release build of kiln (built here).
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TOOLS = os.path.join(REPO, "tools")
GEN = os.environ.get("KILN_GEN_MONOREPO", os.path.join(REPO, "..", "shared", "bench", "gen-monorepo.py"))
TOKEN = "kiln-bench-token"
S3_KEY, S3_SECRET = "kilnbench", "kilnbenchsecret"


def sh(cmd, cwd=None, env=None):
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, name):
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{name} exited early")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{name} did not listen")


def start(store, scratch):
    """Starts the server for `store`; returns (process, URL, extra env) or None if absent."""
    port = free_port()
    env = dict(os.environ)
    extra = {}
    if store == "redis":
        cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        url = f"redis://127.0.0.1:{port}"
    elif store == "http":
        cli = os.path.join(TOOLS, "remote-cache/node_modules/turborepo-remote-cache/dist/cli.js")
        cmd = ["node", cli]
        env.update(HOST="127.0.0.1", PORT=str(port), STORAGE_PROVIDER="local", STORAGE_PATH=scratch,
                   STORAGE_PATH_USE_TMP_FOLDER="false", TURBO_TOKEN=TOKEN, LOG_LEVEL="warn",
                   NODE_ENV="production", BODY_LIMIT=str(1 << 30))
        url = f"http://127.0.0.1:{port}"
        extra = {"KILN_REMOTE_CACHE_TOKEN": TOKEN}
    elif store == "s3":
        binary = os.path.join(TOOLS, "s3s/bin/s3s-fs")
        if not os.path.exists(binary):
            return None
        os.makedirs(os.path.join(scratch, "bench"), exist_ok=True)
        cmd = [binary, "--host", "127.0.0.1", "--port", str(port), "--access-key", S3_KEY,
               "--secret-key", S3_SECRET, scratch]
        url = f"s3://bench/kiln?endpoint=http://127.0.0.1:{port}&region=us-east-1"
        extra = {"AWS_ACCESS_KEY_ID": S3_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET}
    elif store == "reapi":
        bgd = os.path.join(TOOLS, "buildgrid/.venv/bin/bgd")
        template = os.path.join(TOOLS, "buildgrid/cas-ac.yml")
        if not os.path.exists(bgd):
            return None
        config = os.path.join(scratch, "bgd.yml")
        with open(template) as f:
            text = f.read().replace("@PORT@", str(port)).replace("@DIR@", scratch)
        with open(config, "w") as f:
            f.write(text)
        cmd = [bgd, "server", "start", config]
        url = f"grpc://127.0.0.1:{port}?instance=main"
    else:
        sys.exit(f"unknown store {store}")
    proc = subprocess.Popen(cmd, env=env, cwd=scratch, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(port, proc, store)
    return proc, url, extra


def hyperfine(label, command, prepare, cwd, runs, env, out):
    export = os.path.join(out, f"{label.replace(' ', '-')}.json")
    subprocess.run(["hyperfine", "--runs", str(runs), "--warmup", "1", "--prepare", prepare,
                    "--export-json", export, "-n", label, command],
                   cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    with open(export) as f:
        result = json.load(f)["results"][0]
    return result["mean"], result["stddev"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packages", type=int, default=500)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--stores", default="redis http s3 reapi")
    ap.add_argument("--no-prefetch", action="store_true",
                    help="also time each remote with prefetching off (KILN_REMOTE_CACHE_PREFETCH=0)")
    ap.add_argument("--out", default=os.path.join(HERE, "results", time.strftime("remote-%Y%m%dT%H%M%SZ", time.gmtime())))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    if not os.environ.get("KILN_BENCH_NO_BUILD"):
        sh(["cargo", "build", "--release", "--locked", "-p", "kiln", "--manifest-path", os.path.join(REPO, "Cargo.toml")])
    kiln = os.path.join(REPO, "target", "release", "kiln")
    work = tempfile.mkdtemp(prefix="kiln-remote-bench-")
    root = os.path.join(work, "repo")
    sh(["python3", GEN, "gen", root, "--packages", str(args.packages), "--files-per-package", "8", "--work-ms", "0"])
    env = dict(os.environ, TURBO_TELEMETRY_DISABLED="1", KILN_LIVE="0")
    wipe_outputs = "rm -rf packages/*/dist"
    rows = []

    sh([kiln, "run", "build"], cwd=root, env=env)
    outputs = subprocess.run(["du", "-sb", os.path.join(root, ".kiln", "cache")], capture_output=True, text=True).stdout.split()[0]
    rows.append(("local hit", *hyperfine("local hit", f"{kiln} run build", wipe_outputs, root, args.runs, env, args.out)))
    rows.append(("no-op", *hyperfine("no-op", f"{kiln} run build", "true", root, args.runs, env, args.out)))

    for store in args.stores.split():
        scratch = tempfile.mkdtemp(prefix=f"kiln-{store}-", dir=work)
        started = start(store, scratch)
        if started is None:
            print(f"{store}: server not installed, skipped", file=sys.stderr)
            continue
        proc, url, extra = started
        try:
            store_env = dict(env, **extra)
            sh(["rm", "-rf", ".kiln"], cwd=root)
            sh([kiln, "run", "build", "--force", "--remote-cache", url], cwd=root, env=store_env)
            label = f"{store} restore"
            rows.append((label, *hyperfine(label, f"{kiln} run build --remote-cache '{url}'",
                                           f"rm -rf .kiln && {wipe_outputs}", root, args.runs, store_env, args.out)))
            if args.no_prefetch:
                label = f"{store} restore, no prefetch"
                rows.append((label, *hyperfine(label, f"{kiln} run build --remote-cache '{url}'",
                                               f"rm -rf .kiln && {wipe_outputs}", root, args.runs,
                                               dict(store_env, KILN_REMOTE_CACHE_PREFETCH="0"), args.out)))
        finally:
            proc.terminate()
            proc.wait()

    local = rows[0][1]
    lines = [f"# Full restore of {args.packages} packages ({int(outputs) // 1024} KiB in the local cache), {args.runs} runs",
             "", "| what | mean | ± | ÷ local hit |", "|---|---|---|---|"]
    for label, mean, stddev in rows:
        lines.append(f"| {label} | {mean:.3f} s | {stddev:.3f} | {mean / local:.2f} |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, "summary.md"), "w") as f:
        f.write(text)
    print(text)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
