#!/bin/sh
# Seeds the fuzz corpora from the repository's fixtures and rules.
# Usage: fuzz/seed.sh   (from anywhere; writes fuzz/corpus/<target>/)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
corpus="$here/corpus"
seed() { # target, find expression...
    target=$1; shift
    mkdir -p "$corpus/$target"
    find "$root/fixtures" -type f "$@" | while read -r f; do
        # Name by content so re-seeding is idempotent.
        cp "$f" "$corpus/$target/seed-$(cksum < "$f" | cut -d' ' -f1)"
    done
}
seed parse_python -name '*.py'
seed parse_javascript \( -name '*.js' -o -name '*.mjs' -o -name '*.cjs' -o -name '*.jsx' \)
seed parse_typescript -name '*.ts'
seed parse_tsx \( -name '*.tsx' -o -name '*.ts' \)
seed parse_sql -name '*.sql'
seed pg_text \( -name '*.sql' -o -name '*.py' \)
mkdir -p "$corpus/rulebook"
for f in "$root"/rules/*.toml "$root"/fixtures/*/*/*.toml; do
    [ -f "$f" ] && cp "$f" "$corpus/rulebook/seed-$(cksum < "$f" | cut -d' ' -f1)"
done
seed suppressions \( -name '*.py' -o -name '*.js' -o -name '*.ts' -o -name '*.sql' \)
mkdir -p "$corpus/config"
find "$root/fixtures" "$root/tests" -type f \( -name 'msgscan.toml' -o -name '.msgscan.toml' -o -name 'pyproject.toml' \) \
    -not -path '*/target/*' | while read -r f; do
    cp "$f" "$corpus/config/seed-$(cksum < "$f" | cut -d' ' -f1)"
done
# And every ```toml block of the README (the documented configuration examples).
awk -v dir="$corpus/config" '/^```toml/ {n++; on=1; next} /^```/ {on=0} on {print > (dir "/readme-" n)}' "$root/README.md"
for t in "$corpus"/*; do
    echo "$(basename "$t"): $(ls "$t" | wc -l) seeds"
done
