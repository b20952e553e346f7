#!/usr/bin/env bash
# Runs msgscan and its peers side by side on the benchmark corpus, in one go, with the
# tools' runs interleaved round by round (so load on a shared machine hits them alike),
# and prints medians, ratios, peak RSS and per-pattern match counts.
#
#   benches/corpus.sh && benches/compare.sh [--rounds N] [--semgrep-rounds N] [--no-semgrep]
#
# Tools, each with 1 and 2 threads:
#   msgscan-all   every built-in rule           (msgscan-bench scan, release build)
#   msgscan-10    the 10-rule subset below      (msgscan-bench scan --select ...)
#   ast-grep      the ten patterns of benches/peers/ast-grep/
#   semgrep       the same ten patterns, benches/peers/semgrep.yml, --metrics=off, local rules
# plus msgscan-all on the corpus doubled (linearity), and `msgscan-bench stages` (the
# per-stage medians and the full-work / parse-only ratio, one thread).
#
# Every tool sees the same files: the corpus is hard-linked into a scratch directory
# outside this repository (its .gitignore would hide it from ast-grep), and msgscan runs
# with --include-vendored because npm packages keep their code in dist/ and build/, which
# msgscan skips by default. Peers are installed into a virtualenv ($MSGSCAN_PEERS, default
# /tmp/msgscan-peers) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
ROUNDS=5
SEMGREP_ROUNDS=3
SEMGREP=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --semgrep-rounds) SEMGREP_ROUNDS="$2"; shift 2 ;;
    --no-semgrep) SEMGREP=0; shift ;;
    *) echo "usage: $0 [--rounds N] [--semgrep-rounds N] [--no-semgrep]" >&2; exit 2 ;;
  esac
done

CORPUS="${MSGSCAN_CORPUS:-$REPO/benches/corpus}"
if [[ ! -d "$CORPUS/python" ]]; then
  echo "compare: no corpus at $CORPUS; run benches/corpus.sh first" >&2
  exit 2
fi

PEERS="${MSGSCAN_PEERS:-/tmp/msgscan-peers}"
if [[ ! -x "$PEERS/bin/ast-grep" || ! -x "$PEERS/bin/semgrep" ]]; then
  echo "compare: installing ast-grep-cli and semgrep into $PEERS"
  python3 -m venv "$PEERS"
  "$PEERS/bin/pip" install -q ast-grep-cli semgrep
fi
export SEMGREP_SEND_METRICS=off SEMGREP_ENABLE_VERSION_CHECK=0

echo "compare: building msgscan-bench (release)"
cargo build -q --release -p msgscan-bench
BIN="$REPO/target/release/msgscan-bench"

SCRATCH="${TMPDIR:-/tmp}/msgscan-compare"
rm -rf "$SCRATCH"
mkdir -p "$SCRATCH/x2"
link_copy() { cp -al "$1" "$2" 2>/dev/null || cp -a "$1" "$2"; }
link_copy "$CORPUS" "$SCRATCH/corpus"
link_copy "$CORPUS" "$SCRATCH/x2/a"
link_copy "$CORPUS" "$SCRATCH/x2/b"
# semgrep's default ignore list skips tests/ and more; scan everything, like the others.
for d in "$SCRATCH/corpus" "$SCRATCH/x2"; do
  printf '# compare.sh: scan every file\n.downloads/\n' >"$d/.semgrepignore"
done

# Ten rules over the detector families of the ten patterns: Celery (01-03), Postgres
# LISTEN (04, 09), EventEmitter (05-08), Supabase postgres_changes (10). msgscan's cost is
# in parsing and detection, shared by all rules; the subset changes only the judging.
SUBSET=celery-pickle-serializer,celery-task-pickle-serializer,celery-unbounded-retries,pg-listen-on-pooled-connection,pg-listener-no-reconnect,node-emitter-missing-error-listener,node-emitter-async-listener,node-emitter-unbounded-max-listeners,supabase-subscribe-without-status-callback,supabase-postgres-changes-unfiltered

SG="$PEERS/bin/ast-grep scan -c $REPO/benches/peers/ast-grep/sgconfig.yml --json=compact"
SEM="$PEERS/bin/semgrep scan --metrics=off --disable-version-check --config $REPO/benches/peers/semgrep.yml --json --max-target-bytes 2097152 --timeout 0 -q"

python3 - "$ROUNDS" "$SEMGREP_ROUNDS" "$SEMGREP" "$BIN" "$SCRATCH" "$SUBSET" "$SG" "$SEM" <<'EOF'
import collections, json, os, re, shlex, statistics, subprocess, sys, time

rounds, sem_rounds, use_semgrep = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
binary, scratch, subset, sg, sem = sys.argv[4:9]
corpus, x2 = os.path.join(scratch, "corpus"), os.path.join(scratch, "x2")

def cmd(name, argv, cwd=None, rounds=rounds):
    return {"name": name, "argv": argv, "cwd": cwd, "rounds": rounds}

def msgscan(threads, target, select=None):
    argv = [binary, "scan", "--threads", str(threads), "--include-vendored"]
    if select:
        argv += ["--select", select]
    return argv + [target]

cmds = []
for t in (1, 2):
    cmds.append(cmd(f"msgscan-all -j{t}", msgscan(t, corpus)))
    cmds.append(cmd(f"msgscan-10 -j{t}", msgscan(t, corpus, subset)))
    cmds.append(cmd(f"ast-grep -j{t}", shlex.split(sg) + ["-j", str(t), corpus]))
    if use_semgrep:
        cmds.append(cmd(f"semgrep -j{t}", shlex.split(sem) + ["-j", str(t), "."], cwd=corpus, rounds=sem_rounds))
cmds.append(cmd("msgscan-all -j2 2x corpus", msgscan(2, x2)))

def run(c, capture=False):
    start = time.perf_counter()
    p = subprocess.Popen(c["argv"], cwd=c["cwd"], stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    out = p.stdout.read() if capture else b""
    _, status, usage = os.wait4(p.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        sys.exit(f"compare: {c['name']} failed: {shlex.join(c['argv'])}")
    return elapsed, usage.ru_maxrss * 1024, out

# Timed: interleaved rounds.
times, rss = collections.defaultdict(list), collections.defaultdict(list)
for r in range(rounds):
    print(f"compare: round {r + 1}/{rounds}", flush=True)
    order = cmds if r % 2 == 0 else list(reversed(cmds))
    for c in order:
        if r >= c["rounds"]:
            continue
        e, m, _ = run(c)
        times[c["name"]].append(e)
        rss[c["name"]].append(m)

# Counts: one untimed run of each tool (2 threads), outputs parsed. After the timed runs:
# a child's peak RSS (ru_maxrss) counts this process's RSS at the fork, and parsed outputs
# would make that tens of MB.
print("compare: per-pattern match counts (one untimed run each)", flush=True)
counts = collections.defaultdict(dict)
_, _, out = run(cmd("msgscan", msgscan(2, corpus) [:-1] + ["--counts", corpus]), capture=True)
summary = ""
for line in out.decode().splitlines():
    if line.startswith("count "):
        _, pat, n = line.split()
        counts[pat]["msgscan"] = n
    else:
        summary = line
_, _, out = run(cmd("ast-grep", shlex.split(sg) + ["-j", "2", corpus]), capture=True)
for m in json.loads(out or b"[]"):
    pat = m["ruleId"].split("--")[0]
    counts[pat]["ast-grep"] = counts[pat].get("ast-grep", 0) + 1
sem_errors = 0
if use_semgrep:
    _, _, out = run(cmd("semgrep", shlex.split(sem) + ["-j", "2", "."], cwd=corpus), capture=True)
    data = json.loads(out)
    for m in data["results"]:
        pat = m["check_id"].split(".")[-1]
        counts[pat]["semgrep"] = counts[pat].get("semgrep", 0) + 1
    sem_errors = len(data.get("errors", []))

def med(name):
    return statistics.median(times[name])

def size(path):
    exts = (".py", ".pyi", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx", ".sql")
    total = 0
    for d, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(d, f)) for f in files if f.endswith(exts))
    return total

print()
print(f"corpus: {size(corpus) / 1e6:.1f} MB of Python/JS/TS/SQL; msgscan: {summary}")
print(f"{'tool':<28} {'runs':>4} {'median s':>9} {'min s':>7} {'max s':>7} {'peak RSS MB':>11}")
for c in cmds:
    n = c["name"]
    print(f"{n:<28} {len(times[n]):>4} {med(n):>9.3f} {min(times[n]):>7.3f} {max(times[n]):>7.3f} {max(rss[n]) / 2**20:>11.1f}")

print()
print("ratios (medians of this run; > 1 means msgscan is faster)")
def ratio(a, b, target=None, below=False):
    if a not in times or b not in times:
        return
    v = med(a) / med(b)
    verdict = ""
    if target is not None:
        ok = v <= target if below else v >= target
        verdict = f"  target {'<=' if below else '>='} {target}: {'met' if ok else 'MISSED'}"
    print(f"  {a} / {b}: {v:.2f}{verdict}")
ratio("ast-grep -j2", "msgscan-all -j2", 3)
ratio("ast-grep -j1", "msgscan-all -j1")
ratio("ast-grep -j2", "msgscan-10 -j2")
ratio("semgrep -j2", "msgscan-all -j2", 20)
ratio("semgrep -j1", "msgscan-all -j1")
ratio("msgscan-all -j1", "msgscan-all -j2", 1.8)
ratio("ast-grep -j1", "ast-grep -j2")
ratio("msgscan-all -j2 2x corpus", "msgscan-all -j2", 2.1, below=True)
print(f"  peak RSS msgscan-all -j2: {max(rss['msgscan-all -j2']) / 2**20:.1f} MB (target < 150 MB); "
      f"2x corpus: {max(rss['msgscan-all -j2 2x corpus']) / 2**20:.1f} MB")

print()
print("per-pattern matches (2 threads; msgscan counts facts, which are semantic: see README)")
tools = ["msgscan", "ast-grep"] + (["semgrep"] if use_semgrep else [])
print(f"{'pattern':<32}" + "".join(f"{t:>10}" for t in tools))
for pat in sorted(counts):
    print(f"{pat:<32}" + "".join(f"{counts[pat].get(t, 0):>10}" for t in tools))
if sem_errors:
    print(f"(semgrep reported {sem_errors} errors: files it could not parse or timed out on)")
EOF

echo
echo "compare: per-stage medians, one thread (msgscan-bench stages)"
"$BIN" stages --repeat "$ROUNDS" --include-vendored "$SCRATCH/corpus"
rm -rf "$SCRATCH"
