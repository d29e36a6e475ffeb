#!/usr/bin/env bash
# Adds the symbols the PublicApiAnalyzers report as undeclared (RS0016) to each project's PublicAPI.Unshipped.txt.
# Run it after a deliberate public API change, then review the diff.
set -euo pipefail
cd "$(dirname "$0")/.."
for project in src/*/; do
  out=$(dotnet build "$project" --no-incremental 2>&1 || true)
  # Only this project's errors: building it also builds (and reports on) the projects it references.
  echo "$out" | grep -F "$PWD/$project" | grep -oE "error RS0016: Symbol '[^']+'" | sed -E "s/error RS0016: Symbol '(.*)'/\1/" | sort -u > /tmp/rs0016.txt || true
  if [ -s /tmp/rs0016.txt ]; then
    cat "$project/PublicAPI.Unshipped.txt" /tmp/rs0016.txt | grep -v '^#nullable' | sort -u > /tmp/unshipped.txt
    { echo '#nullable enable'; cat /tmp/unshipped.txt; } > "$project/PublicAPI.Unshipped.txt"
    echo "$project: $(wc -l < /tmp/rs0016.txt) symbols added"
  fi
done
