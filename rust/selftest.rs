// SPDX-License-Identifier: GPL-2.0

//! In-kernel unit tests of the module's pure logic, run at load with `selftest=1`.
//!
//! The kselftest `unit_test` loads the module that way and reads the results from the kernel
//! log: one `ok`/`not ok` line per test, then `selftest: N passed, M failed`. The host crate
//! tests `control.rs` and `policy.rs` with `cargo test`; these run the same rule inside the
//! kernel, and the parts that need kernel types (the pairing counters, the mirror's snapshot,
//! the command ranges), and the contracts of the mmu_notifier abstraction that hold at run
//! time (the registrar's teardown, a read sequence given to another notifier), on the mm of
//! the process that loads the module.

use crate::{
    control::{
        Pages,
        Policy, //
    },
    counters::Counters,
    mirror,
    mmu_notifier::{
        IntervalNotifier,
        IntervalNotifierOps,
        Invalidate,
        MmuNotifierOps,
        Pass,
        Refused,
        Registrar,
        Start,
        Subscription, //
    },
    policy::{
        decide,
        gate_needed,
        Verdict, //
    },
    state,
    sys::{
        mem,
        task, //
    },
};
use kernel::{
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        lock::mutex::MutexBackend,
    },
};

/// One test: its name and its body (`Ok` if it holds, `Err` with what failed).
type Test = (&'static str, fn() -> core::result::Result<(), &'static str>);

fn check(cond: bool, what: &'static str) -> core::result::Result<(), &'static str> {
    if cond {
        Ok(())
    } else {
        Err(what)
    }
}

fn pairing_counters() -> core::result::Result<(), &'static str> {
    let c = Counters::new();
    c.start(true);
    c.start(false);
    c.end();
    check(c.snapshot() == (2, 1, 1, 1, 0), "two starts, one end")?;
    c.end();
    c.end();
    check(
        c.snapshot() == (2, 3, 1, 0, 1),
        "an end with no open start is unpaired",
    )?;
    c.reset();
    check(
        c.snapshot() == (0, 0, 0, 0, 0),
        "reset keeps in_flight (0 here)",
    )?;
    c.start(true);
    c.reset();
    check(c.snapshot() == (0, 0, 0, 1, 0), "reset keeps an open pair")
}

fn mirror_clear() -> core::result::Result<(), &'static str> {
    let base = 16 * PAGE_SIZE;
    check(
        mirror::clear_pattern(base, 8, base + PAGE_SIZE, base + 3 * PAGE_SIZE) == 0b0000_0110,
        "pages 1 and 2 of 8",
    )?;
    check(
        mirror::clear_pattern(base, 8, base + PAGE_SIZE - 1, base + PAGE_SIZE) == 0b0000_0001,
        "a byte of page 0 clears page 0",
    )?;
    check(
        mirror::clear_pattern(base, 8, 0, base) == 0,
        "a range before the snapshot",
    )?;
    check(
        mirror::clear_pattern(base, 8, base + 8 * PAGE_SIZE, usize::MAX) == 0,
        "a range after the snapshot",
    )?;
    check(
        mirror::clear_pattern(base, 8, 0, usize::MAX) == 0xff,
        "the whole address space",
    )
}

fn command_ranges() -> core::result::Result<(), &'static str> {
    let page = PAGE_SIZE as u64;
    check(
        state::pages_to_range(Pages {
            addr: 2 * page,
            pages: 3,
        }) == Ok((2 * PAGE_SIZE, 3 * PAGE_SIZE)),
        "an aligned range",
    )?;
    check(
        state::pages_to_range(Pages {
            addr: 2 * page + 1,
            pages: 3,
        }) == Err(EINVAL),
        "unaligned",
    )?;
    check(
        state::pages_to_range(Pages {
            addr: !(page - 1),
            pages: 2,
        }) == Err(EINVAL),
        "past the end of the address space",
    )
}

fn rule() -> core::result::Result<(), &'static str> {
    for policy in [Policy::Stopgap, Policy::Off, Policy::Raw] {
        check(
            decide(policy, true, 64, 64) == Verdict::Allow,
            "blockable is never refused",
        )?;
    }
    check(
        decide(Policy::Stopgap, false, 2, 0) == Verdict::Refuse,
        "stopgap, several",
    )?;
    check(
        decide(Policy::Stopgap, false, 1, 0) == Verdict::Allow,
        "stopgap, one",
    )?;
    check(
        decide(Policy::Off, false, 8, 0) == Verdict::Allow,
        "off, no refuser",
    )?;
    check(
        decide(Policy::Off, false, 1, 1) == Verdict::Refuse,
        "off, a refuser",
    )?;
    check(decide(Policy::Raw, false, 8, 8) == Verdict::Allow, "raw")?;
    check(
        gate_needed(Policy::Stopgap, 0)
            && gate_needed(Policy::Off, 1)
            && !gate_needed(Policy::Off, 0)
            && !gate_needed(Policy::Raw, 1),
        "gates",
    )
}

fn kmalloc_classes() -> core::result::Result<(), &'static str> {
    check(
        mem::kmalloc_class(1) == 8 && mem::kmalloc_class(8) == 8,
        "8",
    )?;
    check(
        mem::kmalloc_class(65) == 96 && mem::kmalloc_class(97) == 128,
        "96, 128",
    )?;
    check(
        mem::kmalloc_class(193) == 256 && mem::kmalloc_class(1025) == 2048,
        "powers of two",
    )
}

/// Set by [`Probe::release`]: a `release` call is what `mmu_notifier_unregister()` makes of a
/// subscription whose mm is still alive.
static PROBE_RELEASED: Atomic<u32> = Atomic::new(0);

/// An hlist subscriber that only counts its `release` calls.
struct Probe;

#[vtable]
impl MmuNotifierOps for Probe {
    fn invalidate_range_start<'a>(&self, _start: Start<'a, Self>) -> Result<(), Refused<'a>> {
        Ok(())
    }

    fn release(&self) {
        PROBE_RELEASED.add(1, Relaxed);
    }
}

/// A registrar dropped while a subscription's handle still lives (as a leaked one would)
/// takes it out of the core itself, then refuses registrations before they reach the core; the
/// handle dropped after it only frees the memory.
fn registrar_teardown() -> core::result::Result<(), &'static str> {
    let mm = task::current_mm().map_err(|_| "the loading process has no mm")?;
    let mm = &*mm;
    let registrar = Registrar::new().map_err(|_| "no registrar")?;
    let late = registrar.clone();
    let outliving = Subscription::new(&registrar, mm, Probe).map_err(|_| "no subscription")?;
    let before = PROBE_RELEASED.load(Relaxed);
    drop(registrar);
    check(
        PROBE_RELEASED.load(Relaxed) == before + 1,
        "the dropped registrar unregisters a live subscription (release ran)",
    )?;
    drop(outliving);
    check(late.is_closed(), "the registrar is closed")?;
    let before = PROBE_RELEASED.load(Relaxed);
    check(
        matches!(Subscription::new(&late, mm, Probe), Err(e) if e == ENODEV),
        "registering through a dropped registrar fails with ENODEV",
    )?;
    // Refused before registering: a subscription registered, then taken back because the
    // registrar is gone, would have seen `release`.
    check(
        PROBE_RELEASED.load(Relaxed) == before,
        "registering through a dropped registrar never reaches the core",
    )
}

/// Invalidations seen by every [`Reader`].
static READER_CALLS: Atomic<u32> = Atomic::new(0);

/// An interval notifier whose read side is checked with another one's sequence, or after its
/// registrar is gone.
struct Reader;

#[vtable]
impl IntervalNotifierOps for Reader {
    type Locked = ();
    type Backend = MutexBackend;

    fn invalidate<'a>(&self, inv: Invalidate<'a, Self>) -> Result<Pass<'a>, Refused<'a>> {
        READER_CALLS.add(1, Relaxed);
        match inv {
            Invalidate::Blockable(b) => Ok(b.lock().done()),
            Invalidate::NonBlocking(nb) => match nb.try_lock() {
                Ok(guard) => Ok(guard.done()),
                Err(nb) => Err(nb.refuse()),
            },
        }
    }
}

/// A read sequence begun on one notifier always asks another one for a retry.
fn foreign_read_seq() -> core::result::Result<(), &'static str> {
    let mm = task::current_mm().map_err(|_| "the loading process has no mm")?;
    let mm = &*mm;
    let registrar = Registrar::new().map_err(|_| "no registrar")?;
    // Two pages at the top of the user address space, where nothing is mapped.
    let top = (usize::MAX & kernel::page::PAGE_MASK) - 4 * PAGE_SIZE;
    let a = KBox::pin_init(
        IntervalNotifier::new(&registrar, mm, top, PAGE_SIZE, Reader, new_mutex!((), "a")),
        GFP_KERNEL,
    )
    .map_err(|_| "no notifier a")?;
    let b = KBox::pin_init(
        IntervalNotifier::new(
            &registrar,
            mm,
            top + PAGE_SIZE,
            PAGE_SIZE,
            Reader,
            new_mutex!((), "b"),
        ),
        GFP_KERNEL,
    )
    .map_err(|_| "no notifier b")?;
    let seq = a.read_begin().map_err(|_| "read_begin failed")?;
    check(!a.lock().read_retry(seq), "its own notifier: no collision")?;
    check(b.lock().read_retry(seq), "another notifier: retry")?;
    check(
        b.check_retry(seq),
        "another notifier: check_retry says retry",
    )
}

/// A registrar dropped while an interval notifier's handle still lives takes the notifier out
/// of the core (invalidations no longer reach it) and marks it dead: a read side in progress
/// is told to retry although no invalidation collided with it, and a new one fails with
/// `ENODEV`.
fn registrar_teardown_interval() -> core::result::Result<(), &'static str> {
    let mm = task::current_mm().map_err(|_| "the loading process has no mm")?;
    let mm = &*mm;
    let registrar = Registrar::new().map_err(|_| "no registrar")?;
    let addr = mem::map_anon(2 * PAGE_SIZE).map_err(|_| "no mapping")?;
    let n = KBox::pin_init(
        IntervalNotifier::new(
            &registrar,
            mm,
            addr,
            2 * PAGE_SIZE,
            Reader,
            new_mutex!((), "t"),
        ),
        GFP_KERNEL,
    );
    let Ok(n) = n else {
        let _ = mem::unmap(addr, 2 * PAGE_SIZE);
        return Err("no notifier");
    };
    let calls = READER_CALLS.load(Relaxed);
    let _ = mem::unmap(addr, PAGE_SIZE);
    let seen = READER_CALLS.load(Relaxed) > calls;
    let seq = n
        .read_begin()
        .map_err(|_| "read_begin failed while registered")?;
    let fresh = !n.lock().read_retry(seq);
    drop(registrar);
    let calls = READER_CALLS.load(Relaxed);
    let _ = mem::unmap(addr + PAGE_SIZE, PAGE_SIZE);
    check(
        seen,
        "registered: a munmap of its range reaches the notifier",
    )?;
    check(fresh, "registered: no collision right after read_begin")?;
    check(
        READER_CALLS.load(Relaxed) == calls,
        "the dropped registrar takes the notifier out of the core (a munmap no longer reaches it)",
    )?;
    check(
        n.lock().read_retry(seq),
        "after the registrar's teardown, read_retry asks for a retry",
    )?;
    check(n.check_retry(seq), "and so does check_retry")?;
    check(
        matches!(n.read_begin(), Err(e) if e == ENODEV),
        "a new read side fails with ENODEV",
    )
}

const TESTS: [Test; 8] = [
    ("pairing_counters", pairing_counters),
    ("mirror_clear", mirror_clear),
    ("command_ranges", command_ranges),
    ("rule", rule),
    ("kmalloc_classes", kmalloc_classes),
    ("registrar_teardown", registrar_teardown),
    ("registrar_teardown_interval", registrar_teardown_interval),
    ("foreign_read_seq", foreign_read_seq),
];

/// Runs every test, printing one line each and a summary. Returns the number that failed.
pub(crate) fn run() -> usize {
    let mut failed = 0;
    for (i, (name, test)) in TESTS.iter().enumerate() {
        match test() {
            Ok(()) => pr_info!("selftest: ok {} {}\n", i + 1, name),
            Err(what) => {
                failed += 1;
                pr_err!("selftest: not ok {} {}: {}\n", i + 1, name, what);
            }
        }
    }
    pr_info!(
        "selftest: {} passed, {} failed\n",
        TESTS.len() - failed,
        failed
    );
    failed
}
