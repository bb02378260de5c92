#!/usr/bin/env bash
# Tempest against the project (see run_tempest.py): the short CI set by default, --full for all
# of tempest.api.compute, --regex R for any selection.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
exec python3 tests/conformance/run_tempest.py "$@"
