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
    counters::Counters,
    mirror::MirrorSub,
    mmu_notifier::{
        End,
        MmuNotifierOps,
        Refused,
        RegistrarRef,
        Start,
        Subscription, //
    },
    sys::mem,
};
use core::fmt;
use kernel::{
    mm::MmWithUser,
    prelude::*,
    sync::{
        atomic::Relaxed,
        Arc, //
    },
};

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

    fn invalidate_range_end(&self, _end: End<'_>) {
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
    /// Registers a new subscriber of `kind` on `mm` through `registrar`; a `mirror` over
    /// `interval` (`(start, len)`, `None`: the whole address space).
    ///
    /// Allocates with `GFP_KERNEL` and takes the mm's locks: see [`Subscription::new`].
    pub(crate) fn new(
        registrar: &RegistrarRef,
        mm: &MmWithUser,
        kind: Kind,
        interval: Option<(usize, usize)>,
    ) -> Result<Self> {
        let (notifier, bytes) = match kind {
            Kind::Paired => {
                let s = Subscription::new(
                    registrar,
                    mm,
                    Paired {
                        counters: Counters::new(),
                    },
                )?;
                let bytes = mem::kmalloc_class(Subscription::<Paired>::allocation_size());
                (Notifier::Paired(s), bytes)
            }
            Kind::Eagain => {
                let s = Subscription::new(
                    registrar,
                    mm,
                    Eagain {
                        counters: Counters::new(),
                    },
                )?;
                let bytes = mem::kmalloc_class(Subscription::<Eagain>::allocation_size());
                (Notifier::Eagain(s), bytes)
            }
            Kind::Mirror => {
                let m = MirrorSub::new(registrar, mm, interval)?;
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
