# SPDX-License-Identifier: GPL-2.0
# Build stages shared by check.sh, run.sh and bench.sh. Sourced, never executed.
# shellcheck shell=bash
# Needs config.sh sourced first.

# Where one target keeps its outputs (initramfs, logs, selftest binaries).
run_dir() {
	local d="$MMN_CACHE/run/$1"
	mkdir -p "$d"
	echo "$d"
}

# lock_run_dir DIR: one run at a time per run directory (two runs of one
# target sharing $MMN_CACHE would delete each other's files). The second run
# fails at once, it never waits. Held until the script and its children end.
lock_run_dir() {
	exec 8>>"$1/.lock"
	flock -n 8 || die "another run is using $1 (pid $(cat "$1/.lock" 2>/dev/null || echo ?), or a child of it that outlived it, such as a QEMU under its timeout): wait for it, or give this one its own MMN_CACHE"
	echo $$ >"$1/.lock"
}

# Default kernel build directory: the cached test kernel (built if missing).
kernel_dir() {
	"$MMN_ROOT/scripts/build-kernel.sh" "$@"
}

# make -C KDIR M=<repo> with the toolchain; extra args passed through. A
# patched build (build-kernel.sh --patches) is used through the view it was
# built in: its source tree over $KSRC, itself over the unpatched build.
module_make() {
	local kdir="$1" psrc base; shift
	if [[ -f "$kdir/.mmn-view" ]]; then
		{ read -r psrc; read -r base; } <"$kdir/.mmn-view"
		in_view "$psrc" "$kdir" "$base" make -C "$base" M="${MMN_MODULE_DIR:-$MMN_ROOT}" "${KMAKE_FLAGS[@]}" "$@"
		return
	fi
	make -C "$kdir" M="${MMN_MODULE_DIR:-$MMN_ROOT}" "${KMAKE_FLAGS[@]}" "$@"
}

# Builds mmn_stopgap.ko against $1 with CLIPPY=1 and fails on any warning.
build_module() {
	local kdir="$1" out
	out=$(module_make "$kdir" CLIPPY=1 modules 2>&1) || { echo "$out" >&2; return 1; }
	if grep -qE '^(warning|error)' <<<"$out"; then
		echo "$out" >&2
		log "module: the build printed warnings (CLIPPY=1); fix them"
		return 1
	fi
	log "module: $(stat -c %s "$MMN_ROOT/mmn_stopgap.ko") bytes, clippy clean"
}

# rustfmt --check with the kernel's configuration, on the whole crate.
check_rustfmt() {
	/usr/bin/rustfmt --config-path "$KSRC/.rustfmt.toml" --check \
		"$MMN_ROOT/rust/mmn_stopgap.rs" || {
		log "rustfmt: run 'make fmt'"
		return 1
	}
	log "rustfmt: clean"
}

# Builds the kselftests statically into $1.
build_selftests() {
	local out="$1"
	rm -rf "$out"
	mkdir -p "$out"
	make -B -s -C "$MMN_ROOT/tools/testing/selftests/mmn_stopgap" \
		KSRC="$KSRC" OUTPUT="$out" MMN_WERROR=1 >/dev/null
	log "selftests: $(find "$out" -maxdepth 1 -type f | wc -l) binaries in $out"
}

# Packs the initramfs $1 with the module, test_hmm and the tests in $3 (kernel $2).
build_initramfs() {
	local out="$1" kdir="$2" tests="${3:-}" mods=("$MMN_ROOT/mmn_stopgap.ko")
	[[ -f "$kdir/lib/test_hmm.ko" ]] && mods+=("$kdir/lib/test_hmm.ko")
	local args=(--out "$out")
	for m in "${mods[@]}"; do args+=(--module "$m"); done
	[[ -n "$tests" ]] && args+=(--tests "$tests")
	"$MMN_ROOT/scripts/initramfs.sh" "${args[@]}"
}

# Stage timing: stage_begin NAME; ...; stage_end
STAGE_TIMES=()
stage_begin() {
	STAGE_NAME="$1"
	STAGE_START=$(date +%s.%N)
	log "== $1"
}
stage_end() {
	local secs
	secs=$(awk -v a="$STAGE_START" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	STAGE_TIMES+=("$STAGE_NAME ${secs}s")
	log "== $STAGE_NAME done in ${secs}s"
}

# Boots the guest job MODE on kernel build $1 with initramfs $2, logs in the
# directory $3; extra qemu-run.sh arguments come from the array BOOT_ARGS.
# Streams the results port through `grep ${STREAM_FILTER[@]}` while it runs.
# Returns the guest job's exit status (qemu-run.sh's).
BOOT_ARGS=()
STREAM_FILTER=(-v -E '^MMN-(BOOTED|EXIT)')
STREAM_PREFIX=""
boot_guest() {
	local mode="$1" kdir="$2" initrd="$3" dir="$4" timeout="$5" pid rc=0
	: >"$dir/results.log"
	"$MMN_ROOT/scripts/qemu-run.sh" --kernel "$kdir/arch/x86/boot/bzImage" \
		--initrd "$initrd" --mode "$mode" --timeout "$timeout" --quiet \
		--log "$dir/console.log" --results "$dir/results.log" "${BOOT_ARGS[@]}" &
	pid=$!
	tail --pid="$pid" -n +1 -F "$dir/results.log" 2>/dev/null | tr -d '\r' |
		grep -a --line-buffered "${STREAM_FILTER[@]}" | sed -u "s/^/$STREAM_PREFIX/" || true
	wait "$pid" || rc=$?
	return "$rc"
}

# setup + kernel + module + selftests + initramfs for a guest job; prints
# the kernel build directory. Arguments after the run directory go to
# build-kernel.sh (ignored when KDIR is set).
prepare_guest() {
	local dir="$1" kdir
	shift
	"$MMN_ROOT/scripts/setup.sh" >&2
	select_kernel # setup may have installed a newer kernel source
	kdir="${KDIR:-$(kernel_dir "$@")}"
	build_module "$kdir" >&2
	build_selftests "$dir/selftests" >&2
	build_initramfs "$dir/initramfs.cpio" "$kdir" "$dir/selftests" >&2
	echo "$kdir"
}

# vng_run VNG_BIN KDIR TIMEOUT APPEND RWDIR EXEC...: the vng runner's one
# command line (make check RUNNER=vng and make boot-soak): the host's root over
# 9p, TCG (KVM hangs here), the guest CPU of every runner, the console on
# stdout (--verbose: without it vng boots "quiet loglevel=0" and the splat
# scan would see nothing), the runner's NUMA nodes.
vng_run() {
	local bin="$1" kdir="$2" secs="$3" append="$4" rwdir="$5"
	local cpu="${MMN_QEMU_CPU:-$MMN_TCG_CPU}"
	shift 5
	# As in qemu-run.sh: the guest checks that the la57=off pin took.
	[[ "$cpu" == *la57=off* ]] && append+=" mmn.nola57"
	PATH="$bin:$PATH" timeout -k 10 "$secs" vng --verbose --run "$kdir" \
		--disable-kvm --force-9p --cpus 2 --memory 1G --rwdir "$rwdir" \
		--append "numa=fake=2 $append" \
		--qemu-opts="-cpu $cpu" --exec "$*"
}
