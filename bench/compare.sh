#!/usr/bin/env bash
# Side-by-side benchmark of kiln and Turborepo (the real `turbo` from npm) on generated
# monorepos, with hyperfine. See docs/benchmarks.md for what each scenario measures.
#
#   bench/compare.sh                       # sizes 50 500 2000, results in bench/results/
#   bench/compare.sh --sizes "50 500" --runs 5
#   bench/compare.sh --sizes 2000 --scenarios "warm dry"    # only some scenarios
#   bench/compare.sh --sizes 2000 --scenarios envmode       # kiln strict vs loose env mode
#
# Needs: hyperfine, python3, node, npm, git, /usr/bin/time; builds kiln in release mode and
# installs turbo into tools/turbo if missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
sizes="50 500 2000"
runs=5
cold_runs=""
scenarios="cold warm edit dry hash rss"
reuse=0
work="${TMPDIR:-/tmp}/kiln-bench"
gen="${KILN_GEN_MONOREPO:-$repo/../shared/bench/gen-monorepo.py}"
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) sizes="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --cold-runs) cold_runs="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    --scenarios) scenarios="$2"; shift 2 ;;
    --reuse) reuse=1; shift ;;   # keep the monorepos (and caches) of an earlier run in --work
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

cargo build --release --locked -p kiln --manifest-path "$repo/Cargo.toml" >&2
kiln="$repo/target/release/kiln"
[ -x "$repo/tools/turbo/node_modules/.bin/turbo" ] ||
  npm ci --prefix "$repo/tools/turbo" --no-audit --no-fund --loglevel=error
# The platform binary itself, not the Node.js shim in front of it (which adds a node start).
turbo=$(find "$repo/tools/turbo/node_modules/@turbo" -path '*/bin/turbo' -type f | head -n 1)
export TURBO_TELEMETRY_DISABLED=1 TURBO_NO_UPDATE_NOTIFIER=1 DO_NOT_TRACK=1

stamp=$(date -u +%Y%m%dT%H%M%SZ)
results="$here/results/$stamp"
mkdir -p "$results"
{
  echo "date: $stamp"
  echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr)"
  echo "kiln: $($kiln --version)"
  echo "turbo: $($turbo --version)"
  echo "node: $(node --version)"
} > "$results/env.txt"

for n in $sizes; do
  base="$work/base-$n"
  if [ "$reuse" = 0 ] || [ ! -d "$work/kiln-$n" ] || [ ! -d "$work/turbo-$n" ]; then
    python3 "$gen" gen "$base" --packages "$n" --force >/dev/null
    for tool in kiln turbo; do
      rm -rf "$work/$tool-$n"
      cp -a "$base" "$work/$tool-$n"
    done
  fi
  k="$work/kiln-$n"
  t="$work/turbo-$n"
  clean_k="rm -rf $k/.kiln $k/packages/*/dist $k/.bench-exec.log"
  clean_t="rm -rf $t/.turbo $t/node_modules/.cache $t/packages/*/dist $t/.bench-exec.log"
  run_k="$kiln --cwd $k run build"
  run_t="cd $t && $turbo run build"
  cr=${cold_runs:-$([ "$n" -ge 2000 ] && echo 1 || echo 3)}
  hf() {
    case " $scenarios " in *" $1 "*) ;; *) return 0 ;; esac
    hyperfine --style basic --export-json "$results/$1-$n.json" "${@:2}"
  }
  # warm, edit, dry, hash and rss need a built tree and a filled cache.
  case " $scenarios " in
    *" cold "*) ;;
    *" warm "* | *" edit "* | *" dry "* | *" hash "* | *" rss "*)
      sh -c "$run_k" >/dev/null 2>&1; sh -c "$run_t" >/dev/null 2>&1 ;;
  esac

  # What strict env mode (the default) costs: a full-cache rerun of one tree built in
  # strict mode against one built in loose mode (each mode has its own keys).
  case " $scenarios " in
    *" envmode "*)
      for mode in strict loose; do
        d="$work/kiln-$mode-$n"
        if [ "$reuse" = 0 ] || [ ! -d "$d" ]; then rm -rf "$d"; cp -a "$base" "$d"; fi
        "$kiln" --cwd "$d" run build --env-mode=$mode >/dev/null 2>&1
      done
      hyperfine --style basic --export-json "$results/envmode-$n.json" --runs "$runs" --warmup 1 \
        -n strict "$kiln --cwd $work/kiln-strict-$n run build --env-mode=strict" \
        -n loose "$kiln --cwd $work/kiln-loose-$n run build --env-mode=loose" ;;
  esac

  hf cold --runs "$cr" --prepare "$clean_k" -n kiln "$run_k" --prepare "$clean_t" -n turbo "$run_t"
  hf warm --runs "$runs" --warmup 1 -n kiln "$run_k" -n turbo "$run_t"
  # An edit of the most depended-on leaf rebuilds a large part of the graph: as costly as a
  # cold build at scale, so it gets as few runs.
  hf edit --runs "$cr" \
    --prepare "python3 $gen touch $k --package leaf --quiet" -n kiln "$run_k" \
    --prepare "python3 $gen touch $t --package leaf --quiet" -n turbo "$run_t"
  hf dry --runs "$runs" --warmup 1 -n kiln "$kiln --cwd $k run build --dry-run=json" \
    -n turbo "cd $t && $turbo run build --dry=json"
  # Hashing an unchanged tree: kiln's dry run (discover, plan, hash every task, look every key
  # up) against the floor of one lstat per file plus the directory walk (`find -printf %s`),
  # and against turbo's dry run. The hash phase alone is read from kiln's -vv span timings.
  floor="find $k \\( -name .git -o -name .kiln -o -name node_modules -o -name dist \\) -prune -o -type f -printf '%s\\n'"
  hf hash --runs "$runs" --warmup 2 -n stat-floor "$floor" \
    -n kiln "$kiln --cwd $k run build --dry-run=json" -n turbo "cd $t && $turbo run build --dry=json"
  case " $scenarios " in
    *" hash "*)
      files=$(sh -c "$floor" | wc -l)
      phases=$("$kiln" --cwd "$k" -vv run build --dry-run=json 2>&1 >/dev/null |
        grep -E 'discovered elapsed|planned elapsed|listed the workspace|input files digested|hashed elapsed' || true)
      printf 'files: %s\n%s\n' "$files" "$phases" > "$results/hash-phase-$n.txt" ;;
  esac

  # Peak memory (max RSS, KiB) of a full-cache rerun and of a cold build.
  case " $scenarios " in *" rss "*) ;; *) continue ;; esac
  for tool in kiln turbo; do
    if [ $tool = kiln ]; then run=$run_k; clean=$clean_k; else run=$run_t; clean=$clean_t; fi
    rss_file=$(mktemp)
    /usr/bin/time -f '%M' -o "$rss_file" sh -c "$run" >/dev/null 2>&1
    warm_rss=$(tail -n 1 "$rss_file")
    sh -c "$clean"
    /usr/bin/time -f '%M' -o "$rss_file" sh -c "$run" >/dev/null 2>&1
    cold_rss=$(tail -n 1 "$rss_file")
    rm -f "$rss_file"
    echo "{\"tool\": \"$tool\", \"warm_kib\": $warm_rss, \"cold_kib\": $cold_rss}" > "$results/rss-$tool-$n.json"
  done
done

python3 "$here/summarize.py" "$results" | tee "$results/summary.md"
