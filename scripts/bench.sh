#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: one boot of the bench kernel runs tools/.../mmn_bench.c, which
# prints ratios measured side by side. The CSV lands in bench/results.csv,
# a Markdown table in bench/results.md (also pasted into README.md between
# the bench markers) and a plot in bench/overhead.png (gnuplot).
set -euo pipefail
source "$(dirname "$0")/config.sh"
source "$(dirname "$0")/stages.sh"

if [[ "${1:-}" == "--help" ]]; then
	echo "usage: $0   (environment: KDIR=<kernel build>, MMN_CACHE)"
	exit 0
fi

out=$(run_dir bench)
lock_run_dir "$out"
dest="$MMN_ROOT/bench"
mkdir -p "$dest"
# The bench kernel: the test kernel's configuration without lock debugging
# (lockdep and atomic-sleep checks would weigh on every notifier pass).
sel="$MMN_ROOT/tools/testing/selftests/mmn_stopgap"
kdir=$(prepare_guest "$out" --name bench --fragment "$sel/config" --fragment "$sel/config.bench")
log "bench: booting (about 5 minutes under TCG); kernel log in $out/console.log"
BOOT_ARGS=(--mem 2048)
STREAM_FILTER=(-v -E '^MMN-|^kind,|^(cycle|gate|reap|memory),')
rc=0
boot_guest bench "$kdir" "$out/initramfs.cpio" "$out" 3000 || rc=$?
(( rc == 0 )) || die "the benchmark guest failed (exit $rc); see $out/console.log"
"$MMN_ROOT/scripts/splat-check.sh" "$out/console.log" || die "kernel splat during the benchmark"

"$MMN_ROOT/scripts/bench-report.sh" "$out/results.log" "$(basename "$kdir")"
