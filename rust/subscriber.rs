// SPDX-License-Identifier: GPL-2.0

//! The subscribers: real hlist `mmu_notifier`s that keep start/end pairing state.
//!
//! - [`Paired`] behaves like the drivers of 2019: every `invalidate_range_start` opens a
//!   critical section (an in-flight count) that the matching
//!   `invalidate_range_end` closes. An end without an open start is counted as `unpaired`.
//!   It never fails and never sleeps, whatever the range.
//! - [`Eagain`] models a driver that cannot proceed without sleeping: it refuses every
//!   non-blockable start with `-EAGAIN`, and therefore has no end op (the core's contract).

use crate::{
    control::Kind,
    mmu_notifier::{
        MmuNotifier,
        MmuNotifierOps,
        Range, //
    },
    sys::mem::{
        self,
        KBoxed, //
    },
};
use core::fmt;
use kernel::{
    mm::MmWithUser,
    prelude::*,
    sync::atomic::{
        Atomic,
        Relaxed, //
    },
};

/// Counters shared by both kinds; all updates are single atomic operations, so callbacks on a
/// non-blockable range never sleep and never spin on a lock.
pub(crate) struct Counters {
    /// Starts accepted.
    starts: Atomic<u64>,
    /// Ends received.
    ends: Atomic<u64>,
    /// Starts on a non-blockable range (accepted by `paired`, refused by `eagain`).
    nonblock: Atomic<u64>,
    /// Open start/end pairs right now.
    in_flight: Atomic<i64>,
    /// Ends that found no open start.
    unpaired: Atomic<u64>,
    /// The mm went away (`release` ran).
    dead: Atomic<bool>,
}

impl Counters {
    fn new() -> Self {
        Self {
            starts: Atomic::new(0),
            ends: Atomic::new(0),
            nonblock: Atomic::new(0),
            in_flight: Atomic::new(0),
            unpaired: Atomic::new(0),
            dead: Atomic::new(false),
        }
    }

    /// Zeroes the event counters; the in-flight count and the dead flag are state, not events,
    /// and are kept.
    pub(crate) fn reset(&self) {
        self.starts.store(0, Relaxed);
        self.ends.store(0, Relaxed);
        self.nonblock.store(0, Relaxed);
        self.unpaired.store(0, Relaxed);
    }

    fn release(&self) {
        self.dead.store(true, Relaxed);
    }
}

/// The `paired` subscriber.
pub(crate) struct Paired {
    counters: Counters,
}

#[vtable]
impl MmuNotifierOps for Paired {
    fn invalidate_range_start(&self, range: &Range) -> Result {
        let c = &self.counters;
        c.starts.add(1, Relaxed);
        if !range.blockable() {
            c.nonblock.add(1, Relaxed);
        }
        c.in_flight.add(1, Relaxed);
        Ok(())
    }

    fn invalidate_range_end(&self, _range: &Range) {
        let c = &self.counters;
        c.ends.add(1, Relaxed);
        // Close one open pair; an end with none open is the bug this project exists to catch.
        let mut open = c.in_flight.load(Relaxed);
        loop {
            if open <= 0 {
                c.unpaired.add(1, Relaxed);
                return;
            }
            match c.in_flight.cmpxchg(open, open - 1, Relaxed) {
                Ok(_) => return,
                Err(now) => open = now,
            }
        }
    }

    fn release(&self) {
        self.counters.release();
    }
}

/// The `eagain` subscriber.
pub(crate) struct Eagain {
    counters: Counters,
}

#[vtable]
impl MmuNotifierOps for Eagain {
    fn invalidate_range_start(&self, range: &Range) -> Result {
        let c = &self.counters;
        if !range.blockable() {
            c.nonblock.add(1, Relaxed);
            return Err(EAGAIN);
        }
        c.starts.add(1, Relaxed);
        Ok(())
    }

    fn release(&self) {
        self.counters.release();
    }
}

/// A registered subscription of either kind.
enum Notifier {
    Paired(Pin<KBox<MmuNotifier<Paired>>>),
    Eagain(Pin<KBox<MmuNotifier<Eagain>>>),
}

/// A registered subscriber of either kind. Unregistered when dropped.
pub(crate) struct Subscriber {
    notifier: Notifier,
    /// What its allocation really takes (`ksize`).
    bytes: usize,
}

impl Subscriber {
    /// Registers a new subscriber of `kind` on `mm`.
    ///
    /// Allocates with `GFP_KERNEL` and takes the mm's locks: see [`MmuNotifier::new`].
    pub(crate) fn new(mm: &MmWithUser, kind: Kind) -> Result<Self> {
        let notifier = match kind {
            Kind::Paired => Notifier::Paired(KBox::pin_init(
                MmuNotifier::new(
                    mm,
                    Paired {
                        counters: Counters::new(),
                    },
                ),
                GFP_KERNEL,
            )?),
            Kind::Eagain => Notifier::Eagain(KBox::pin_init(
                MmuNotifier::new(
                    mm,
                    Eagain {
                        counters: Counters::new(),
                    },
                ),
                GFP_KERNEL,
            )?),
        };
        let bytes = match &notifier {
            Notifier::Paired(n) => mem::ksize(&KBoxed::pinned(n)),
            Notifier::Eagain(n) => mem::ksize(&KBoxed::pinned(n)),
        };
        Ok(Self { notifier, bytes })
    }

    /// Bytes of slab memory the subscriber's own allocation takes.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The subscriber's kind.
    pub(crate) fn kind(&self) -> Kind {
        match self.notifier {
            Notifier::Paired(_) => Kind::Paired,
            Notifier::Eagain(_) => Kind::Eagain,
        }
    }

    /// The subscriber's counters.
    pub(crate) fn counters(&self) -> &Counters {
        match &self.notifier {
            Notifier::Paired(n) => &n.data().counters,
            Notifier::Eagain(n) => &n.data().counters,
        }
    }

    /// Writes the subscriber's line of the `subscribers` file, with the `id` and `pid` it is
    /// listed under.
    pub(crate) fn show(&self, id: u64, pid: i32, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.counters();
        writeln!(
            f,
            "{:>6} {:>8} {:<6} {:>12} {:>12} {:>10} {:>9} {:>8} {}",
            id,
            pid,
            self.kind().name(),
            c.starts.load(Relaxed),
            c.ends.load(Relaxed),
            c.nonblock.load(Relaxed),
            c.in_flight.load(Relaxed),
            c.unpaired.load(Relaxed),
            if c.dead.load(Relaxed) { "dead" } else { "live" },
        )
    }
}

/// The header line of the `subscribers` file, aligned with [`Subscriber::show`].
pub(crate) fn show_header(f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(
        f,
        "{:>6} {:>8} {:<6} {:>12} {:>12} {:>10} {:>9} {:>8} state",
        "id", "pid", "kind", "starts", "ends", "nonblock", "in_flight", "unpaired"
    )
}
