# SPDX-License-Identifier: GPL-2.0
#
# mmn-stopgap: `make run` (the demo) and `make check` (every test) are all a
# newcomer needs; `make help` lists the rest.
#
# KDIR selects the kernel build to compile against (default: the cached test
# kernel, built on first use). Example: make KDIR=/lib/modules/$(uname -r)/build

SHELL := /bin/bash
ROOT := $(CURDIR)
MMN_CACHE ?= $(HOME)/.cache/mmn-stopgap
export MMN_CACHE
ifneq ($(KDIR),)
export KDIR
endif
ifneq ($(RUNNER),)
export RUNNER
endif
ifneq ($(KVER),)
export KVER
endif
# The toolchain of scripts/config.sh's KMAKE_FLAGS.
TOOLCHAIN := LLVM=-19 RUSTC=/usr/bin/rustc HOSTRUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc \
	BINDGEN=$(MMN_CACHE)/cargo/bin/bindgen CLIPPY_DRIVER=/usr/bin/clippy-driver \
	RUSTFMT=/usr/bin/rustfmt
# Debian's cargo-web and rustc-web (scripts/setup.sh), never a cargo that
# happens to be first on PATH.
CARGO := RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc /usr/bin/cargo
# The kernel source scripts/config.sh selects (KVER=7.2 for another version).
KSRC = $(shell bash -c 'source scripts/config.sh && echo "$$KSRC"')

.PHONY: all modules module run check check-debug check-core boot-soak mutants patches api-check bench kernel setup clippy \
	fresh fresh-setup \
	fmt fmt-check \
	rust-analyzer host-test fuzz clean help

all: modules

help:
	@echo 'mmn-stopgap targets:'
	@echo '  make run          boot the test kernel in QEMU and run the demo'
	@echo '  make check        all tests: host tests, kselftests in QEMU, splat scan'
	@echo '                    (RUNNER=vng: boot with virtme-ng instead of the initramfs)'
	@echo '  make fresh        the newcomer path: a clean Debian 12 root (debootstrap), a clean'
	@echo '                    clone, an empty cache, then make run and make check in it'
	@echo '  make fresh-setup  the same up to setup and the host tests (what CI runs too)'
	@echo '  make check-debug  the same on a KASAN/kmemleak/debugobjects/failslab kernel'
	@echo '  make check-core   the raw-core reproducer: expected to wedge on the stock'
	@echo '                    kernel (known core bug), to pass with patches/ applied'
	@echo '  make mutants      apply each bug of scripts/mutants.list, run the suite:'
	@echo '                    killed N of M (long; not part of make check)'
	@echo '  make patches      the upstream series from the sources, checkpatch, in-tree build,'
	@echo '                    KUnit doctests, sample boot (long; not part of make check)'
	@echo '  make api-check    which kernel crate items the module uses are missing in KVER'
	@echo '                    (e.g. make api-check KVER=6.12; a static check, no build)'
	@echo '  make bench        benchmark in one boot: ratios, CSV, plot (bench/)'
	@echo '  make boot-soak    boot every project kernel 20 times, count boot-time splats'
	@echo '  make              build mmn_stopgap.ko (KDIR=... for your own kernel build)'
	@echo '  make kernel       build (or reuse) the cached Rust-enabled test kernel'
	@echo '  make setup        install packages, bindgen and the kernel source'
	@echo '  make clippy       build with CLIPPY=1'
	@echo '  make fmt          rustfmt the module (kernel rustfmt config)'
	@echo '  make host-test    cargo test of the parser and policy on the host'
	@echo '  make fuzz         fuzz the parser and policy (FUZZ_ITERATIONS, default 100 M)'
	@echo '  make rust-analyzer  write rust-project.json for editors'
	@echo '  make clean        remove build outputs from the tree'
	@echo 'Variables: KDIR=<kernel build dir>  MMN_CACHE=<cache dir, default ~/.cache/mmn-stopgap>'
	@echo '           KVER=7.2 (kernel version; default: the newest supported one available)'
	@echo '           MMN_TESTS=a_test,b_test (make check subset)  MMN_ACCEL=tcg|kvm|auto'

setup:
	@scripts/setup.sh

kernel: setup
	@scripts/build-kernel.sh >/dev/null

# The module. Without KDIR, builds (or reuses) the cached test kernel first.
modules module:
	@kdir="$${KDIR:-}"; \
	if [ -z "$$kdir" ]; then scripts/setup.sh && kdir=$$(scripts/build-kernel.sh); fi; \
	$(MAKE) -C "$$kdir" M=$(ROOT) $(TOOLCHAIN) modules

clippy:
	@kdir="$${KDIR:-}"; \
	if [ -z "$$kdir" ]; then scripts/setup.sh && kdir=$$(scripts/build-kernel.sh); fi; \
	$(MAKE) -C "$$kdir" M=$(ROOT) $(TOOLCHAIN) CLIPPY=1 modules

fmt:
	/usr/bin/rustfmt --config-path $(KSRC)/.rustfmt.toml rust/mmn_stopgap.rs

fmt-check:
	/usr/bin/rustfmt --config-path $(KSRC)/.rustfmt.toml --check rust/mmn_stopgap.rs

rust-analyzer:
	@kdir="$${KDIR:-}"; \
	if [ -z "$$kdir" ]; then scripts/setup.sh && kdir=$$(scripts/build-kernel.sh); fi; \
	$(MAKE) -s -C "$$kdir" M=$(ROOT) $(TOOLCHAIN) rust-analyzer && \
	scripts/rust-analyzer-extmod.py $(ROOT)/rust-project.json $(ROOT)

host-test:
	@scripts/setup.sh >/dev/null
	cd host && $(CARGO) test

FUZZ_ITERATIONS ?= 100000000
fuzz:
	@scripts/setup.sh >/dev/null
	cd host && $(CARGO) run --release --bin fuzz -- --iterations $(FUZZ_ITERATIONS)

run:
	@scripts/run.sh

check:
	@scripts/check.sh

fresh:
	@scripts/fresh.sh

fresh-setup:
	@scripts/fresh.sh --stage setup

check-debug:
	@scripts/check.sh --debug

check-core:
	@scripts/check-core.sh

boot-soak:
	@scripts/boot-soak.sh

mutants:
	@scripts/mutants.sh

patches:
	@scripts/patches.sh

api-check:
	@scripts/setup.sh >/dev/null && \
	bash -c 'source scripts/config.sh && echo "kernel $$KVER_MAJOR ($$KSRC):" && \
		scripts/kernel-api.py "$$KSRC" rust'

bench:
	@scripts/bench.sh

clean:
	@rm -f *.o *.ko *.mod *.mod.c .*.cmd rust/*.o rust/.*.cmd Module.symvers modules.order \
		rust/*.rmeta rust/*.d rust-project.json
	@rm -rf .tmp_versions host/target
