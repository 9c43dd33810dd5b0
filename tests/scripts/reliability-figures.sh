#!/usr/bin/env bash
# Regenerates docs/RELIABILITY.md, figures included: runs the reliability suite at default and at
# full sizes (each scenario records its figures in the target dir), then blesses the document.
# Takes a few minutes (the full-size probe flood alone writes 270,000 rows).
set -euo pipefail
cd "$(dirname "$0")/../.."
target=$(cargo metadata --format-version 1 --no-deps \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
rm -rf "$target/tmp/reliability-figures"
cargo test -p testrium-tests --test reliability -- --skip reliability_doc_is_current
TESTRIUM_RELIABILITY_FULL=1 cargo test -p testrium-tests --test reliability -- --skip reliability_doc_is_current
TESTRIUM_BLESS=1 cargo test -p testrium-tests --test reliability reliability_doc_is_current
git --no-pager diff --stat -- docs/RELIABILITY.md
