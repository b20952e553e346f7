#!/usr/bin/env bash
# Cold vs warm scan of a real corpus: the fact cache's speed-up.
#
#   crates/msgscan-cli/scripts/bench-cache.sh [CORPUS_DIR]   (default /tmp/corpus)
#
# Fetches sdists/tarballs of Django, Celery, Kombu, SQLAlchemy, Socket.IO, Express,
# BullMQ and TypeORM with pip and npm (nothing is committed), builds msgscan in release
# mode and times with hyperfine (apt-get install hyperfine):
#   no-cache  every file parsed, no cache read or written
#   cold      the cache removed before each run: parse everything and write the cache
#   warm      an unchanged tree: read and hash every file, parse none
set -euo pipefail
corpus="${1:-/tmp/corpus}"
repo="$(cd "$(dirname "$0")/../../.." && pwd)"
mkdir -p "$corpus/dl" "$corpus/src"
if [ -z "$(ls -A "$corpus/src")" ]; then
  (cd "$corpus/dl" &&
    pip download --quiet --no-deps --no-binary :all: \
      django==5.2.19 celery==5.7.0 kombu==5.7.0 sqlalchemy==2.1.9 -d . &&
    for p in socket.io@4.8.4 express@5.3.0 bullmq@6.7.0 typeorm@1.1.1; do npm pack --quiet "$p"; done)
  for f in "$corpus"/dl/*.tar.gz "$corpus"/dl/*.tgz; do
    d="$corpus/src/$(basename "${f%.t*gz}")"
    mkdir -p "$d" && tar xzf "$f" -C "$d"
  done
fi
(cd "$repo" && cargo build --release --quiet -p msgscan-cli)
bin="${CARGO_TARGET_DIR:-$repo/target}/release/msgscan"
src="$corpus/src"
echo "corpus: $(find "$src" -type f \( -name '*.py' -o -name '*.js' -o -name '*.mjs' -o -name '*.cjs' -o -name '*.ts' -o -name '*.tsx' -o -name '*.sql' \) | wc -l) source files"
"$bin" scan "$src" --fail-on never --no-cache | tail -4
# One --prepare per command (a single one would apply to all three).
hyperfine --warmup 1 --runs 5 --export-markdown "$corpus/bench-cache.md" \
  --prepare true --command-name no-cache "$bin scan $src --format json --fail-on never --no-cache" \
  --prepare "rm -rf $src/.msgscan-cache" --command-name cold "$bin scan $src --format json --fail-on never" \
  --prepare true --command-name warm "$bin scan $src --format json --fail-on never"
cat "$corpus/bench-cache.md"
