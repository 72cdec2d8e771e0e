#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Turns a benchmark guest log into bench/results.csv, bench/results.md,
# bench/overhead.png (gnuplot) and the table in README.md.
# Usage: bench-report.sh RESULTS_LOG KERNEL_NAME
set -euo pipefail
source "$(dirname "$0")/config.sh"
if [[ "${1:-}" == "--help" || $# -ne 2 ]]; then
	echo "usage: $0 RESULTS_LOG KERNEL_NAME"
	[[ "${1:-}" == "--help" ]] && exit 0 || exit 2
fi
log_file="$1" kname="$2"
dest="$MMN_ROOT/bench"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mkdir -p "$dest"

tr -d '\r' <"$log_file" | sed -n '/^MMN-CSV-BEGIN/,/^MMN-CSV-END/p' |
	grep -v '^MMN-CSV' >"$dest/results.csv"
[[ $(wc -l <"$dest/results.csv") -gt 5 ]] || die "no CSV in the benchmark output"

# The Markdown table.
awk -F, -v date="$(date -u +%Y-%m-%d)" -v kernel="$kname" '
NR == 1 { next }
$1 == "cycle" && $6 == "ratio_to_floor" { cyc[$3 "," $2] = $7; spread[$3 "," $2] = sprintf("%.3f-%.3f", $10, $11); order[$2] = ++n }
$1 == "gate" { gate[$3 "," $2] = $7 }
$1 == "reap" { reap[$2 "," $4 "," $5] = $7 }
$1 == "memory" { mem[$2] = $7 }
$1 == "teardown" { td[$2 "," $4 "," $6] = $7 }
END {
	printf "Measured %s on %s, QEMU TCG, 15 rounds; ratios to the no-notifier floor in the same round (median, interquartile range).\n\n", date, kernel
	printf "| config | 4 KiB cycle | 2 MiB cycle |\n|---|---|---|\n"
	split("floor-again paired-1 paired-2 paired-8 paired-64 gate+paired-1 gate+paired-2 gate+paired-8 gate+paired-64 test_hmm", cf, " ")
	for (i = 1; i in cf; i++) {
		c = cf[i]
		if (!(("4KiB," c) in cyc)) continue
		printf "| %s | %.3fx (%s) | %.3fx (%s) |\n", c, cyc["4KiB," c], spread["4KiB," c], cyc["2MiB," c], spread["2MiB," c]
	}
	printf "\nGate cost (gate+paired-N over paired-N, 4 KiB / 2 MiB): "
	split("1 2 8 64", ns, " ")
	for (i = 1; i in ns; i++) printf "N=%s %.3fx / %.3fx; ", ns[i], gate["4KiB,gate+paired-" ns[i]], gate["2MiB,gate+paired-" ns[i]]
	printf "\n\n| MiB freed of 256 | process_mrelease | OOM reaper |\n|---|---|---|\n"
	printf "| 1 subscriber, stopgap | %.0f | %.0f |\n", reap["process_mrelease,1,1"], reap["oom_reaper,1,1"]
	printf "| 3 subscribers, stopgap | %.0f | %.0f |\n", reap["process_mrelease,3,1"], reap["oom_reaper,3,1"]
	printf "| 1 subscriber, off | %.0f | %.0f |\n", reap["process_mrelease,1,0"], reap["oom_reaper,1,0"]
	printf "| 3 subscribers, off | %.0f | %.0f |\n", reap["process_mrelease,3,0"], reap["oom_reaper,3,0"]
	printf "\nMemory (ksize of the module allocations): %.0f bytes per subscriber, %.0f bytes per group, plus the core per-mm notifier table.\n", mem["subscriber"], mem["group"]
	printf "\n| teardown, per subscriber (ratio to attaching one) | attach 1 | attach 64 | attach 1024 | detach 1 | detach 64 | detach 1024 |\n|---|---|---|---|---|---|---|\n"
	split("sync deferred", tm, " ")
	for (i = 1; i in tm; i++)
		printf "| %s | %.3fx | %.3fx | %.3fx | %.3fx | %.3fx | %.3fx |\n", tm[i] == "sync" ? "before: sync (unregister, a grace period each)" : "after: deferred (put, one grace period for all)", td[tm[i] ",1,attach_per_sub"], td[tm[i] ",64,attach_per_sub"], td[tm[i] ",1024,attach_per_sub"], td[tm[i] ",1,detach_per_sub"], td[tm[i] ",64,detach_per_sub"], td[tm[i] ",1024,detach_per_sub"]
	p1 = (cyc["4KiB,paired-1"] - 1) * 100
	gmax = 0; gsum = 0
	for (i = 1; i in ns; i++) { g = (gate["4KiB,gate+paired-" ns[i]] - 1) * 100; gsum += g; if (g > gmax) gmax = g }
	hmm = (cyc["4KiB,test_hmm"] - 1) * 100
	printf "\nGoals on the 4 KiB cycle: one paired subscriber %.1f%% over the floor (goal 5%%: %s); ", p1, p1 <= 5 ? "met" : "missed"
	printf "gate %.1f%% on average over N, at most %.1f%% (goal 3%%: %s); ", gsum / 4, gmax, gsum / 4 <= 3 ? "met" : sprintf("missed by %.1f points", gsum / 4 - 3)
	if (("4KiB,test_hmm") in cyc) {
		g1 = (gate["4KiB,gate+paired-1"] - 1) * 100
		printf "the kernel C peer, test_hmm interval notifier, costs %.1f%%: our paired subscriber (%.1f%%) is %s, and our gate, an interval notifier too (%.1f%% at N=1), is %s.\n", hmm, p1, p1 <= hmm ? "no worse" : "worse", g1, g1 <= hmm ? "no worse" : "worse"
	} else
		printf "no test_hmm peer in this run.\n"
}' "$dest/results.csv" >"$dest/results.md"

# The plot: overhead over the floor against the subscriber count.
awk -F, '$1 == "cycle" && $6 == "ratio_to_floor" && $2 ~ /^(gate\+)?paired-/ {
	print $3, ($2 ~ /^gate/ ? "gate" : "nogate"), $4, ($7 - 1) * 100, ($10 - 1) * 100, ($11 - 1) * 100
}' "$dest/results.csv" | sort -k1,1 -k2,2 -k3,3n >"$out/plot.dat"
hmm4=$(awk -F, '$1 == "cycle" && $2 == "test_hmm" && $3 == "4KiB" { print ($7 - 1) * 100 }' "$dest/results.csv")
gnuplot <<GP
set terminal pngcairo size 900,560 font "sans,11"
set output "$dest/overhead.png"
set title "Invalidation cycle overhead over the no-notifier floor (QEMU TCG, median and interquartile range of 15 rounds)"
set xlabel "paired subscribers on the mm"
set ylabel "overhead (%)"
set logscale x 2
set xrange [0.8:80]
set key top left
set grid
plot "< grep '^4KiB nogate' $out/plot.dat" using 3:4:5:6 with yerrorlines title "4 KiB, no gate (policy off)", \
     "< grep '^4KiB gate' $out/plot.dat" using 3:4:5:6 with yerrorlines title "4 KiB, gate (policy stopgap)", \
     "< grep '^2MiB nogate' $out/plot.dat" using 3:4:5:6 with yerrorlines title "2 MiB, no gate", \
     "< grep '^2MiB gate' $out/plot.dat" using 3:4:5:6 with yerrorlines title "2 MiB, gate", \
     ${hmm4:-0} with lines dashtype 2 title "4 KiB, test\\\\_hmm C interval notifier"
GP

# README: replace the table between the markers.
python3 - "$MMN_ROOT/README.md" "$dest/results.md" <<'PY'
import sys
readme, table = sys.argv[1], open(sys.argv[2]).read().strip()
s = open(readme).read()
a, b = "<!-- bench:begin -->", "<!-- bench:end -->"
if a in s and b in s:
    s = s[: s.index(a) + len(a)] + "\n" + table + "\n" + s[s.index(b):]
    open(readme, "w").write(s)
PY
cat "$dest/results.md"
log "bench: wrote bench/results.csv, bench/results.md, bench/overhead.png and README.md"
