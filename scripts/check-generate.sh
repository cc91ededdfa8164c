#!/usr/bin/env bash
# make check-generate: regenerate (buf + sqlc) and fail if that changed any generated file
# (internal/gen/**, **/*.sql.go), i.e. if the committed or working-tree code is stale.
#
# It compares the generated files before and after `make generate` rather than asking git, so a
# developer whose regenerated files are not committed yet is not told they are stale; in CI (a
# fresh clone) the two are the same thing. The git diff --stat is printed for context.
set -euo pipefail
cd "$(dirname "$0")/.."

# Every generated file: tracked, untracked and ignored alike (buf's `clean: true` deletes and
# recreates internal/gen, so new and vanished files count too).
snapshot() {
  {
    [[ -d internal/gen ]] && find internal/gen -type f -print
    find . -path ./.tools -prune -o -path ./.data -prune -o -path ./.git -prune -o \
      -type f -name '*.sql.go' -print
  } | sed 's#^\./##' | LC_ALL=C sort -u | while IFS= read -r f; do
    printf '%s  %s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$f"
  done
}

before=$(snapshot)
make --no-print-directory generate >&2
after=$(snapshot)

if [[ "$before" == "$after" ]]; then
  echo "check-generate: generated code is up to date" >&2
  exit 0
fi

{
  echo
  echo "check-generate: FAILED: generated code is stale. Run 'make generate' and commit the result."
  echo "Files that generation changed, added or removed:"
  { diff <(echo "$before") <(echo "$after") || true; } | sed -n 's/^[<>] [0-9a-f]*  //p' | LC_ALL=C sort -u | sed 's/^/  /'
  echo
  echo "git diff --stat (generated paths):"
  git diff --stat -- internal/gen ':(glob)**/*.sql.go' 2>/dev/null || true
  echo "git status (generated paths):"
  git status --porcelain -- internal/gen ':(glob)**/*.sql.go' 2>/dev/null || true
} >&2
exit 1
