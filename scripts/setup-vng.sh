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
	# Debian splits venv (ensurepip) out of python3.
	if [[ $(dpkg-query -W -f='${Status}' python3-venv 2>/dev/null || true) != "install ok installed" ]]; then
		log "setup: apt-get install python3-venv"
		apt_get 600 install -y -q --no-install-recommends python3-venv >/dev/null
	fi
	python3 -m venv "$venv" >&2
	timeout 600 "$venv/bin/pip" install -q "virtme-ng>=1.42" >&2
fi
log "setup: $("$venv/bin/vng" --version 2>&1 | first 1)"
echo "$venv/bin"
