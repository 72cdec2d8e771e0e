// SPDX-License-Identifier: GPL-2.0

//! The subscribers: real MMU notifier subscriptions that keep start/end pairing state.
//!
//! - [`Paired`] behaves like the drivers of 2019: every `invalidate_range_start` opens a
//!   critical section (an in-flight count) that the matching `invalidate_range_end` closes. An
//!   end without an open start is counted as `unpaired`. It never fails and never sleeps,
//!   whatever the range.
//! - [`Eagain`] models a driver that cannot proceed without sleeping (nouveau SVM): it refuses
//!   every non-blockable start with `-EAGAIN`, and therefore has no end op (the core's
//!   contract, a build error otherwise).
//! - `mirror` (`crate::mirror`) is an interval notifier that mirrors pages of the target.

use crate::{
    control::Kind,
    mirror::MirrorSub,
    mmu_notifier::{
        MmuNotifierOps,
        Range,
        Refused,
        Start,
        Subscription, //
    },
};
use core::fmt;
use kernel::{
    mm::MmWithUser,
    prelude::*,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        Arc,
    },
};

/// Counters shared by every kind; all updates are single atomic operations, so callbacks on a
/// non-blockable range never sleep and never spin on a lock.
///
/// For a `mirror`, a start is an invalidation's first pass and an end its second pass.
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
    pub(crate) fn new() -> Self {
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

    /// Opens a pair.
    pub(crate) fn start(&self, blockable: bool) {
        self.starts.add(1, Relaxed);
        if !blockable {
            self.nonblock.add(1, Relaxed);
        }
        self.in_flight.add(1, Relaxed);
    }

    /// Closes a pair; an end with none open is the bug this project exists to catch.
    pub(crate) fn end(&self) {
        self.ends.add(1, Relaxed);
        let mut open = self.in_flight.load(Relaxed);
        loop {
            if open <= 0 {
                self.unpaired.add(1, Relaxed);
                return;
            }
            match self.in_flight.cmpxchg(open, open - 1, Relaxed) {
                Ok(_) => return,
                Err(now) => open = now,
            }
        }
    }

    /// Counts a refused non-blockable start.
    fn refused(&self) {
        self.nonblock.add(1, Relaxed);
    }

    /// The mm went away.
    pub(crate) fn release(&self) {
        self.dead.store(true, Relaxed);
    }

    /// `(starts, ends, nonblock, in_flight, unpaired)`, for the in-kernel unit tests.
    pub(crate) fn snapshot(&self) -> (u64, u64, u64, i64, u64) {
        (
            self.starts.load(Relaxed),
            self.ends.load(Relaxed),
            self.nonblock.load(Relaxed),
            self.in_flight.load(Relaxed),
            self.unpaired.load(Relaxed),
        )
    }
}

/// The `paired` subscriber.
pub(crate) struct Paired {
    counters: Counters,
}

#[vtable]
impl MmuNotifierOps for Paired {
    fn invalidate_range_start<'a>(&self, start: Start<'a, Self>) -> Result<(), Refused<'a>> {
        self.counters.start(matches!(start, Start::Blockable(_)));
        Ok(())
    }

    fn invalidate_range_end(&self, _range: &Range) {
        self.counters.end();
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
    const MAY_REFUSE: bool = true;

    fn invalidate_range_start<'a>(&self, start: Start<'a, Self>) -> Result<(), Refused<'a>> {
        match start {
            Start::NonBlocking(nb) => {
                self.counters.refused();
                Err(nb.refuse())
            }
            Start::Blockable(_) => {
                self.counters.starts.add(1, Relaxed);
                Ok(())
            }
        }
    }

    fn release(&self) {
        self.counters.release();
    }
}

/// A registered subscription of some kind.
enum Notifier {
    Paired(Subscription<Paired>),
    Eagain(Subscription<Eagain>),
    Mirror(Arc<MirrorSub>),
}

/// One subscriber. Dropping it unregisters it without waiting (see [`Subscription`]).
pub(crate) struct Subscriber {
    notifier: Notifier,
    /// What its allocation really takes (`ksize`).
    bytes: usize,
}

impl Subscriber {
    /// Registers a new subscriber of `kind` on `mm`; a `mirror` over `interval`
    /// (`(start, len)`, `None`: the whole address space).
    ///
    /// Allocates with `GFP_KERNEL` and takes the mm's locks: see [`Subscription::new`].
    pub(crate) fn new(
        mm: &MmWithUser,
        kind: Kind,
        interval: Option<(usize, usize)>,
    ) -> Result<Self> {
        let (notifier, bytes) = match kind {
            Kind::Paired => {
                let s = Subscription::new(
                    mm,
                    Paired {
                        counters: Counters::new(),
                    },
                )?;
                let bytes = s.ksize();
                (Notifier::Paired(s), bytes)
            }
            Kind::Eagain => {
                let s = Subscription::new(
                    mm,
                    Eagain {
                        counters: Counters::new(),
                    },
                )?;
                let bytes = s.ksize();
                (Notifier::Eagain(s), bytes)
            }
            Kind::Mirror => {
                let m = MirrorSub::new(mm, interval)?;
                let bytes = m.bytes();
                (Notifier::Mirror(m), bytes)
            }
        };
        Ok(Self { notifier, bytes })
    }

    /// Bytes of slab memory the subscriber's own allocations take.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The subscriber's kind.
    pub(crate) fn kind(&self) -> Kind {
        match self.notifier {
            Notifier::Paired(_) => Kind::Paired,
            Notifier::Eagain(_) => Kind::Eagain,
            Notifier::Mirror(_) => Kind::Mirror,
        }
    }

    /// The mirror, if the subscriber is one.
    pub(crate) fn mirror(&self) -> Option<&Arc<MirrorSub>> {
        match &self.notifier {
            Notifier::Mirror(m) => Some(m),
            _ => None,
        }
    }

    /// The subscriber's counters.
    pub(crate) fn counters(&self) -> &Counters {
        match &self.notifier {
            Notifier::Paired(n) => &n.data().counters,
            Notifier::Eagain(n) => &n.data().counters,
            Notifier::Mirror(m) => m.counters(),
        }
    }

    /// Unregisters now, waiting a full SRCU grace period (`teardown sync`); dropping defers
    /// the wait to the core.
    pub(crate) fn unregister_now(self) {
        match self.notifier {
            Notifier::Paired(n) => n.unregister(),
            Notifier::Eagain(n) => n.unregister(),
            Notifier::Mirror(m) => drop(m),
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
