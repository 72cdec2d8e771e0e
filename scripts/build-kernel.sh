#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the Rust-enabled test kernel: allnoconfig + a config fragment, merged
# with the kernel's merge_config.sh, olddefconfig, then a check that every
# requested option survived. The result is cached under
# $MMN_CACHE/build/<kernel version>-<config hash>/ and reused when present.
# Prints the build directory on stdout.
set -euo pipefail
source "$(dirname "$0")/config.sh"

usage() {
	cat <<USAGE
usage: $0 [--fragment FILE]... [--name NAME] [--patches DIR [--patch-fragment FILE]]
  Build (or reuse) the test kernel. Fragments default to the kselftest
  config; several may be given (merged in order). Prints the build dir.
  --patches DIR: apply DIR/*.patch to a copy of the source first. The build
  starts from a copy of the unpatched build of the same configuration (built
  first if missing), with the patched tree bind-mounted over the source path
  in a private mount namespace, so that only what the patches touch is
  rebuilt. --patch-fragment FILE: options that exist only once the patches
  are applied, merged (and verified) before the patched build.
USAGE
}

fragments=()
name="test"
patches=""
pfragment=""
while (( $# )); do
	case "$1" in
	--fragment) fragments+=("$(realpath "$2")"); shift 2 ;;
	--name) name="$2"; shift 2 ;;
	--patches) patches="$(realpath "$2")"; shift 2 ;;
	--patch-fragment) pfragment="$(realpath "$2")"; shift 2 ;;
	--help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
(( ${#fragments[@]} )) || fragments=("$MMN_ROOT/tools/testing/selftests/mmn_stopgap/config")

[[ -f "$KSRC/Makefile" ]] || die "no kernel source at $KSRC: run scripts/setup.sh"
kver=$(make -s -C "$KSRC" kernelversion)
hash=$( { echo "$kver"; /usr/bin/rustc --version; clang-19 --version | first 1;
	  cat "${fragments[@]}"; } | sha256sum | cut -c1-12)
out="$MMN_CACHE/build/${name}-${kver}-${hash}"
kmake=(make -C "$KSRC" O="$out" ARCH=x86_64 "${KMAKE_FLAGS[@]}")
ktimeout=${MMN_KERNEL_TIMEOUT:-3600}

# lock_build DIR: one build of DIR at a time (two runs sharing $MMN_CACHE,
# e.g. a check and a soak); bounded like the build itself, never forever.
lock_build() {
	mkdir -p "$MMN_CACHE/build"
	exec 9>"$1.lock"
	flock -w "$ktimeout" 9 || die "kernel: $1 is being built by another run for over ${ktimeout}s"
}

# verify_config CONFIG FRAGMENT...: every requested option must really be set
# (Kconfig silently drops options whose dependencies are not met).
verify_config() {
	local config="$1" line opt val got
	shift
	local -A want=()
	local order=() dropped=()
	while IFS= read -r line; do
		[[ "$line" =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]] || continue
		# A later fragment overrides an earlier one, as in merge_config.sh.
		[[ -v "want[${BASH_REMATCH[1]}]" ]] || order+=("${BASH_REMATCH[1]}")
		want[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
	done < <(cat "$@")
	for opt in "${order[@]}"; do
		val=${want[$opt]}
		if [[ "$val" == n ]]; then
			grep -q "^${opt}=" "$config" || continue
		elif grep -qx "${opt}=${val}" "$config"; then
			continue
		fi
		got=$(grep -E "^${opt}=|^# ${opt} is not set" "$config" || echo "absent")
		dropped+=("${opt}=${val} (got: ${got})")
	done
	if (( ${#dropped[@]} )); then
		printf '[mmn] kernel: Kconfig dropped %s\n' "${dropped[@]}" >&2
		die "kernel config incomplete (see above)"
	fi
	log "kernel: config verified ($(grep -c '=' "$config") options set)"
}

if [[ -n "$patches" ]]; then
	# The unpatched build of the same configuration, the starting point.
	fragargs=()
	for f in "${fragments[@]}"; do fragargs+=(--fragment "$f"); done
	base=$("$0" "${fragargs[@]}" --name "$name")
	# The key is what the patches change, not when they were made: the
	# "From <sha>" and "Date:" lines of a regenerated series differ every
	# time (make patches), and would make every run a new build.
	phash=$(cat "$patches"/*.patch ${pfragment:+"$pfragment"} |
		sed -E '/^From [0-9a-f]{40} /d; /^Date: /d' | sha256sum | cut -c1-12)
	out="$MMN_CACHE/build/${name}-${kver}-${hash}-patched-${phash}"
	lock_build "$out"
	if [[ -f "$out/.mmn-built" ]]; then
		log "kernel: reusing $out"
		echo "$out"
		exit 0
	fi
	psrc="$MMN_CACHE/src/linux-source-${kver}-patched-${phash}"
	# Shared by every configuration built with these patches: one creator.
	exec 7>"$psrc.lock"
	flock -w "$ktimeout" 7 || die "kernel: $psrc is being created by another run"
	if [[ ! -f "$psrc/.mmn-patched" ]]; then
		npatches=$(compgen -G "$patches/*.patch" | wc -l)
		log "kernel: patching a copy of the source ($npatches patches)"
		rm -rf "$psrc"
		# Hard links: GNU patch writes each patched file anew, the pristine
		# tree keeps its own.
		cp -al "$KSRC" "$psrc"
		for p in "$patches"/*.patch; do
			patch -d "$psrc" -p1 --quiet --forward <"$p" >&2 ||
				die "$(basename "$p") does not apply to $kver"
		done
		touch "$psrc/.mmn-patched"
	fi
	log "kernel: copying $(basename "$base") as the starting point"
	# A build that failed or was interrupted left $out without .mmn-built:
	# start again from the copy (mv into an existing directory would nest).
	rm -rf "$out.tmp" "$out"
	cp -a "$base" "$out.tmp"
	rm -f "$out.tmp/.mmn-built"
	mv "$out.tmp" "$out"
	start=$SECONDS
	# The build runs in a mount namespace of its own, with the patched tree
	# mounted over $KSRC and the new build directory over the unpatched
	# one: every path in every recorded command is the same as in the
	# unpatched build, so make rebuilds only what the patches changed.
	inview() {
		VIEW_TIMEOUT=$ktimeout in_view "$psrc" "$out" "$base" "$@"
	}
	if [[ -n "$pfragment" ]]; then
		# shellcheck disable=SC2016 # the inner bash expands $1..$3
		inview bash -c 'cd "$1" && "$2/scripts/kconfig/merge_config.sh" -m -O "$1" \
			"$1/.config" "$3" >/dev/null' _ "$base" "$KSRC" "$pfragment"
		inview "${kmake[@]/#O=*/O=$base}" -s olddefconfig >/dev/null
		verify_config "$out/.config" "${fragments[@]}" "$pfragment"
	fi
	if ! inview "${kmake[@]/#O=*/O=$base}" -j"$(nproc)" bzImage modules \
		>"$out/build.log" 2>&1; then
		tail -40 "$out/build.log" >&2
		die "patched kernel build failed (log: $out/build.log)"
	fi
	# Modules are built against it through the same view (stages.sh).
	printf '%s\n%s\n' "$psrc" "$base" >"$out/.mmn-view"
	touch "$out/.mmn-built"
	log "kernel: patched build in $(( SECONDS - start ))s ($(grep -cE '^  (CC|LD|AR)' "$out/build.log") steps)"
	echo "$out"
	exit 0
fi

lock_build "$out"
if [[ -f "$out/.mmn-built" ]]; then
	log "kernel: reusing $out"
	echo "$out"
	exit 0
fi

log "kernel: building $kver ($name, config $hash) in $out"
mkdir -p "$out"
"${kmake[@]}" -s allnoconfig >/dev/null
(cd "$out" && "$KSRC/scripts/kconfig/merge_config.sh" -m -O "$out" \
	"$out/.config" "${fragments[@]}" >/dev/null)
"${kmake[@]}" -s olddefconfig >/dev/null

verify_config "$out/.config" "${fragments[@]}"

# Build with a heartbeat: one progress line every 30 s.
jobs=$(nproc)
buildlog="$out/build.log"
start=$SECONDS
last=$SECONDS
"${kmake[@]}" -j"$jobs" bzImage modules >"$buildlog" 2>&1 &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
	sleep 2
	if (( SECONDS - last >= 30 )); then
		last=$SECONDS
		log "kernel: $(( SECONDS - start ))s, $(grep -cE '^  (CC|RUSTC|LD|AR)' "$buildlog" || true) steps, last: $(tail -1 "$buildlog" | cut -c1-70)"
	fi
	if (( SECONDS - start > ktimeout )); then
		kill "$pid"; die "kernel build timed out"
	fi
done
if ! wait "$pid"; then
	tail -40 "$buildlog" >&2
	die "kernel build failed (log: $buildlog)"
fi
touch "$out/.mmn-built"
log "kernel: built in $(( SECONDS - start ))s"
echo "$out"
