#!/usr/bin/env bash
# Runs every fuzz target of the module for a bounded number of inputs each
# (FUZZTIME, default 20000x: a count of inputs, since a duration can fail
# spuriously with "context deadline exceeded", golang/go#75804): the parsers
# of untrusted bytes must not panic.
# The seed corpora run as ordinary tests in `go test` too.
set -euo pipefail
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-20000x}
status=0
while IFS=: read -r file _ rest; do
  name=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/' <<<"$rest")
  pkg=./$(dirname "$file")
  echo "fuzz $pkg $name ($FUZZTIME)"
  start=$SECONDS
  if ! "$GO" test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" >/tmp/wgbench-fuzz.log 2>&1; then
    cat /tmp/wgbench-fuzz.log
    status=1
  fi
  echo "  done in $((SECONDS - start)) s"
done < <(git ls-files '*_test.go' | xargs grep -n '^func Fuzz' | sort)
rm -f /tmp/wgbench-fuzz.log
exit $status
