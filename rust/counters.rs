// SPDX-License-Identifier: GPL-2.0

//! The start/end pairing counters that every subscriber kind keeps, and the `subscribers` file
//! shows.

use kernel::sync::atomic::{
    Atomic,
    Relaxed, //
};

/// Counters shared by every kind; all updates are single atomic operations, so callbacks on a
/// non-blockable range never sleep and never spin on a lock.
///
/// For a `mirror`, a start is an invalidation's first pass and an end its second pass.
pub(crate) struct Counters {
    /// Starts accepted.
    pub(crate) starts: Atomic<u64>,
    /// Ends received.
    pub(crate) ends: Atomic<u64>,
    /// Starts on a non-blockable range (accepted by `paired`, refused by `eagain`).
    pub(crate) nonblock: Atomic<u64>,
    /// Open start/end pairs right now.
    pub(crate) in_flight: Atomic<i64>,
    /// Ends that found no open start.
    pub(crate) unpaired: Atomic<u64>,
    /// The mm went away (`release` ran).
    pub(crate) dead: Atomic<bool>,
}

impl Counters {
    /// Zero counters, no pair open, alive.
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
    pub(crate) fn refused(&self) {
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
