#!/usr/bin/env bash
# Rebuilds the pinned real-code benchmark corpus in benches/corpus/ (git-ignored, never
# committed) from the package registries: PyPI sdists and npm tarballs, unpacked, plus the
# SQL migrations those packages ship. Idempotent: a package already unpacked is kept.
# Prints the corpus size per language at the end.
#
#   benches/corpus.sh            # build or complete the corpus
#   benches/corpus.sh --clean    # start over
#
# Pins: if a pinned version is not on the registry, the nearest existing one is used and
# recorded in benches/corpus/VERSIONS (the file lists what was actually downloaded).
set -euo pipefail
cd "$(dirname "$0")"
OUT="$PWD/corpus"
CACHE="$OUT/.downloads"

if [[ "${1:-}" == "--clean" ]]; then
  rm -rf "$OUT"
fi
mkdir -p "$OUT/python" "$OUT/npm" "$CACHE"

PYPI=(
  django==5.2.19 celery==5.7.0 kombu==5.7.0 flask==3.1.3 flask-socketio==5.7.0
  python-socketio==5.18.1 asyncpg==0.32.0 supabase==2.34.1 realtime==2.34.1
  sqlalchemy==2.1.9 redis==8.1.0 psycopg2==2.9.13
)
NPM=(
  express@5.3.0 socket.io@4.8.4 bullmq@6.7.0 pg@8.23.1 @supabase/supabase-js@2.119.1
  @supabase/realtime-js@2.119.1 eventemitter3@5.0.4 ws@8.23.0 typeorm@1.1.1
  graphile-worker@0.18.0 pg-boss@12.38.0 @nestjs/microservices@12.1.1 rxjs@7.8.2
)

VERSIONS="$OUT/VERSIONS"
touch "$VERSIONS"
record() { # name pinned actual
  grep -v "^$1 " "$VERSIONS" >"$VERSIONS.tmp" || true
  if [[ "$2" == "$3" ]]; then
    echo "$1 $3" >>"$VERSIONS.tmp"
  else
    echo "$1 $3 (pinned $2 not found; nearest existing)" >>"$VERSIONS.tmp"
  fi
  sort "$VERSIONS.tmp" >"$VERSIONS" && rm -f "$VERSIONS.tmp"
}

# The existing version nearest to $2 among the versions on stdin (one per line): the
# highest one not above it, else the lowest one above it.
nearest() {
  python3 -c '
import sys, re
want = sys.argv[1]
def key(v):
    return [int(x) if x.isdigit() else -1 for x in re.split(r"[.+-]", v)]
vs = [v.strip() for v in sys.stdin if re.fullmatch(r"[0-9][0-9.]*", v.strip())]
below = [v for v in vs if key(v) <= key(want)]
above = [v for v in vs if key(v) > key(want)]
print(max(below, key=key) if below else (min(above, key=key) if above else ""))
' "$1"
}

pypi_versions() { # name -> versions, one per line
  pip index versions "$1" 2>/dev/null | sed -n 's/^Available versions: //p' | tr ',' '\n' | tr -d ' '
}

unpack() { # archive destdir
  local tmp
  tmp="$(mktemp -d)"
  case "$1" in
    *.zip) python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$1" "$tmp" ;;
    *) tar -xzf "$1" -C "$tmp" ;;
  esac
  rm -rf "$2"
  mkdir -p "$(dirname "$2")"
  # Each archive has one top-level directory (`pkg-1.2.3/` or `package/`).
  mv "$tmp"/* "$2"
  rm -rf "$tmp"
}

# `--no-binary NAME` rather than `--no-binary :all:`: the latter also forces the packages'
# build backends (hatchling, maturin, ...) to be compiled from source just to read metadata.
for spec in "${PYPI[@]}"; do
  name="${spec%%==*}"
  want="${spec##*==}"
  dest="$OUT/python/$name"
  if [[ -d "$dest" ]]; then continue; fi
  version="$want"
  dl="$CACHE/pypi-$name"
  rm -rf "$dl" && mkdir -p "$dl"
  if ! pip download -q --no-deps --no-binary "$name" "$name==$want" -d "$dl" >/dev/null 2>&1; then
    version="$(pypi_versions "$name" | nearest "$want")"
    if [[ -z "$version" ]]; then
      echo "corpus: $name: no version on PyPI, skipped" >&2
      continue
    fi
    pip download -q --no-deps --no-binary "$name" "$name==$version" -d "$dl" >/dev/null
  fi
  unpack "$(ls "$dl"/* | head -n1)" "$dest"
  record "pypi:$name" "$want" "$version"
  echo "corpus: pypi $name $version"
done

for spec in "${NPM[@]}"; do
  name="${spec%@*}"
  want="${spec##*@}"
  safe="${name//\//__}"
  safe="${safe//@/}"
  dest="$OUT/npm/$safe"
  if [[ -d "$dest" ]]; then continue; fi
  version="$want"
  if ! npm view "$name@$want" version 2>/dev/null | grep -q .; then
    version="$(npm view "$name" versions --json 2>/dev/null | python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)))' | nearest "$want")"
    if [[ -z "$version" ]]; then
      echo "corpus: $name: no version on npm, skipped" >&2
      continue
    fi
  fi
  dl="$CACHE/npm-$safe"
  rm -rf "$dl" && mkdir -p "$dl"
  (cd "$dl" && npm pack --silent "$name@$version" >/dev/null 2>&1)
  unpack "$(ls "$dl"/*.tgz | head -n1)" "$dest"
  record "npm:$name" "$want" "$version"
  echo "corpus: npm $name $version"
done

# Trim to about 40-50 MB of code: drop the two largest framework test suites (Django's and
# SQLAlchemy's, 25 MB of tests with no messaging code) and duplicate builds of the same
# sources (typeorm's browser/ copy, rxjs's ES5 build).
for d in python/django/tests python/sqlalchemy/test npm/typeorm/browser npm/rxjs/dist/esm5; do
  rm -rf "${OUT:?}/$d"
done

# SQL: the migrations the packages ship (graphile-worker's sql/*.sql: functions, triggers,
# LISTEN/NOTIFY) stay where they are. That is little SQL (about 0.1 MB): pg-boss and the
# supabase packages keep their SQL inside JS/TS strings or ship none, so the SQL share of
# this corpus is small and SQL parsing speed is measured on little input.
rm -rf "$OUT/sql"
rm -rf "$CACHE"

echo
echo "corpus: $OUT"
python3 - "$OUT" <<'EOF'
import os, sys
root = sys.argv[1]
langs = {".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript",
         ".cjs": "javascript", ".jsx": "javascript", ".ts": "typescript", ".mts": "typescript",
         ".cts": "typescript", ".tsx": "tsx", ".sql": "sql"}
size, count, other = {}, {}, 0
for d, _, files in os.walk(root):
    for f in files:
        p = os.path.join(d, f)
        n = os.path.getsize(p)
        lang = langs.get(os.path.splitext(f)[1])
        if lang is None:
            other += n
            continue
        size[lang] = size.get(lang, 0) + n
        count[lang] = count.get(lang, 0) + 1
total = sum(size.values())
for lang in sorted(size):
    print(f"  {lang:<11} {count[lang]:>6} files {size[lang] / 1e6:>8.1f} MB")
print(f"  {'total':<11} {sum(count.values()):>6} files {total / 1e6:>8.1f} MB (plus {other / 1e6:.1f} MB of other files)")
EOF
