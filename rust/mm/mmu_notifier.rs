// SPDX-License-Identifier: GPL-2.0

//! MMU notifiers: subscriptions to the invalidations of a process's address space.
//!
//! Two kinds of subscription exist in the kernel, and both are wrapped here:
//!
//! - [`Subscription`]: a `struct mmu_notifier` on the mm's hlist. It sees every
//!   `invalidate_range_start`/`invalidate_range_end` pair and the final `release`. Dropping it
//!   costs no SRCU grace period: the core frees it later ([`mmu_notifier_put()`]), and
//!   [`synchronize()`] waits for those frees.
//! - [`IntervalNotifier`]: a `struct mmu_interval_notifier` over a range of the address space.
//!   The core calls interval notifiers *before* any hlist subscriber; a driver mirrors the
//!   pages of its range with the sequence protocol ([`IntervalNotifier::read_begin`],
//!   [`MirrorGuard::read_retry`], and the sequence set by [`InvalidateGuard`]) under the lock
//!   the notifier owns, and may split its invalidation in two passes (`invalidate_finish`).
//!
//! The core's contract is in the types, not in comments:
//!
//! - a callback that may sleep is handed a *blockable* view of the range, one that must not is
//!   handed a *non-blocking* view; only the non-blocking view can produce [`Refused`], which the
//!   core sees as `-EAGAIN` (the only refusal it allows);
//! - an hlist subscriber refuses only if its type says so ([`MmuNotifierOps::MAY_REFUSE`]), and
//!   such a type cannot have `invalidate_range_end` (the core calls every end after a refusal,
//!   so a refuser could not tell which end belongs to a start it refused): both are build
//!   errors;
//! - `mmu_interval_set_seq()` is called only by taking the notifier's own lock inside its
//!   `invalidate` ([`InvalidateGuard`]), as `mmu_interval_read_retry()` requires, and always
//!   then;
//! - the data of an hlist subscription, freed by the core in atomic context, has no drop glue.
//!
//! [`mmu_notifier_put()`]: srctree/mm/mmu_notifier.c
//!
//! C header: [include/linux/mmu_notifier.h](srctree/include/linux/mmu_notifier.h)
//!
//! The hlist subscription is in `subscription.rs`, the interval notifier (with its sequence
//! protocol and two-pass invalidation) in `interval.rs`; HMM's fault-in on an interval notifier
//! is in `mm/hmm.rs`.

use core::marker::PhantomData;
use kernel::{
    bindings,
    types::Opaque, //
};

mod interval;
mod subscription;

pub(crate) use interval::{
    Finish,
    IntervalNotifier,
    IntervalNotifierOps,
    Invalidate,
    Pass,
    ReadSeq, //
};
// Named only in the signatures of the API.
#[expect(
    unused_imports,
    reason = "API for drivers; this module does not need it"
)]
pub(crate) use interval::{
    BlockableInvalidate,
    InvalidateGuard,
    MirrorGuard,
    NonBlockingInvalidate, //
};
#[expect(
    unused_imports,
    reason = "API for drivers; this module does not need it"
)]
pub(crate) use subscription::NonBlocking;
pub(crate) use subscription::{
    synchronize,
    MmuNotifierOps,
    Start,
    Subscription, //
};

/// Why an invalidation happens (`enum mmu_notifier_event`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// `munmap()` or the move of `mremap()`.
    Unmap,
    /// Page table entries cleared (`madvise(MADV_DONTNEED)`, the OOM reaper, ...).
    Clear,
    /// Protection of the whole range changed (`mprotect()`).
    ProtectionVma,
    /// Protection of some pages changed (copy-on-write after `fork()`, ...).
    ProtectionPage,
    /// Soft-dirty tracking.
    SoftDirty,
    /// The address space is going away.
    Release,
    /// Pages migrate.
    Migrate,
    /// Entries become device-exclusive.
    Exclusive,
    /// A value this abstraction does not know yet.
    Other(u32),
}

impl Event {
    fn from_raw(raw: bindings::mmu_notifier_event) -> Self {
        match raw {
            bindings::mmu_notifier_event_MMU_NOTIFY_UNMAP => Event::Unmap,
            bindings::mmu_notifier_event_MMU_NOTIFY_CLEAR => Event::Clear,
            bindings::mmu_notifier_event_MMU_NOTIFY_PROTECTION_VMA => Event::ProtectionVma,
            bindings::mmu_notifier_event_MMU_NOTIFY_PROTECTION_PAGE => Event::ProtectionPage,
            bindings::mmu_notifier_event_MMU_NOTIFY_SOFT_DIRTY => Event::SoftDirty,
            bindings::mmu_notifier_event_MMU_NOTIFY_RELEASE => Event::Release,
            bindings::mmu_notifier_event_MMU_NOTIFY_MIGRATE => Event::Migrate,
            bindings::mmu_notifier_event_MMU_NOTIFY_EXCLUSIVE => Event::Exclusive,
            other => Event::Other(other),
        }
    }
}

/// Whether every event the abstraction knows maps to its own variant (an in-kernel unit test
/// of `Event::from_raw`).
pub(crate) fn event_names_are_distinct() -> bool {
    let raw = [
        bindings::mmu_notifier_event_MMU_NOTIFY_UNMAP,
        bindings::mmu_notifier_event_MMU_NOTIFY_CLEAR,
        bindings::mmu_notifier_event_MMU_NOTIFY_PROTECTION_VMA,
        bindings::mmu_notifier_event_MMU_NOTIFY_PROTECTION_PAGE,
        bindings::mmu_notifier_event_MMU_NOTIFY_SOFT_DIRTY,
        bindings::mmu_notifier_event_MMU_NOTIFY_RELEASE,
        bindings::mmu_notifier_event_MMU_NOTIFY_MIGRATE,
        bindings::mmu_notifier_event_MMU_NOTIFY_EXCLUSIVE,
    ];
    let events = raw.map(Event::from_raw);
    let distinct = events
        .iter()
        .enumerate()
        .all(|(i, e)| events[..i].iter().all(|f| f != e));
    distinct
        && events.iter().all(|e| !matches!(e, Event::Other(_)))
        && Event::from_raw(u32::MAX) == Event::Other(u32::MAX)
}

/// A range of a process's address space being invalidated (`struct mmu_notifier_range`).
///
/// # Invariants
///
/// The wrapped range is valid and not modified for as long as a `&Range` exists: the core only
/// lends it to a callback for the duration of that call.
#[repr(transparent)]
pub(crate) struct Range(Opaque<bindings::mmu_notifier_range>);

impl Range {
    /// Borrows a range handed to a callback.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `struct mmu_notifier_range` that nobody modifies for `'a`.
    unsafe fn from_raw<'a>(ptr: *const bindings::mmu_notifier_range) -> &'a Self {
        // SAFETY: `Range` is `repr(transparent)` over the C struct, and the caller guarantees
        // that the pointer is valid for `'a`.
        unsafe { &*ptr.cast() }
    }

    fn raw(&self) -> &bindings::mmu_notifier_range {
        // SAFETY: By the type invariant the range is valid and not modified while `self` lives.
        unsafe { &*self.0.get() }
    }

    /// First address of the range.
    pub(crate) fn start(&self) -> usize {
        self.raw().start
    }

    /// First address after the range.
    pub(crate) fn end(&self) -> usize {
        self.raw().end
    }

    /// Why the range is invalidated.
    pub(crate) fn event(&self) -> Event {
        Event::from_raw(self.raw().event)
    }

    /// Whether callbacks may sleep (`mmu_notifier_range_blockable()`).
    fn blockable(&self) -> bool {
        self.raw().flags & bindings::MMU_NOTIFIER_RANGE_BLOCKABLE != 0
    }
}

/// The answer of a callback that refuses a non-blockable invalidation; the core returns
/// `-EAGAIN` to the OOM reaper or to `process_mrelease(2)`.
///
/// Only the non-blocking view of a range can make one ([`NonBlocking::refuse`],
/// [`NonBlockingInvalidate::refuse`]), and it carries the lifetime of that view: invariant in
/// `'a` and neither `Send` nor `Sync`, it cannot be kept from one call and returned from
/// another (a blockable one, or one of a type that may not refuse), so a blockable invalidation
/// cannot be refused.
#[must_use]
pub(crate) struct Refused<'a>(PhantomData<Brand<'a>>);

/// Invariant in `'a` (a function both taking and returning it), and neither `Send` nor `Sync`
/// (a raw pointer).
type Brand<'a> = (fn(&'a ()) -> &'a (), *mut ());

impl Refused<'_> {
    fn new() -> Self {
        Refused(PhantomData)
    }
}
