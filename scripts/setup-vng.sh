#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Installs virtme-ng (PyPI) into a virtualenv in the cache, once. Prints the
# virtualenv's bin directory.
set -euo pipefail
source "$(dirname "$0")/config.sh"
[[ "${1:-}" == "--help" ]] && { echo "usage: $0   (installs vng into \$MMN_CACHE/vng)"; exit 0; }
venv="$MMN_CACHE/vng/venv"
if [[ ! -x "$venv/bin/vng" ]]; then
	log "setup: pip install virtme-ng into $venv"
	mkdir -p "$MMN_CACHE/vng"
	python3 -m venv "$venv" >&2
	timeout 600 "$venv/bin/pip" install -q "virtme-ng>=1.42" >&2
fi
log "setup: $("$venv/bin/vng" --version 2>&1 | first 1)"
echo "$venv/bin"
