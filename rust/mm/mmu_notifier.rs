// SPDX-License-Identifier: GPL-2.0

//! MMU notifiers: subscriptions to the invalidations of a process's address space.
//!
//! Two kinds of subscription exist in the kernel, and both are wrapped here:
//!
//! - [`Subscription`]: a `struct mmu_notifier` on the mm's hlist. It sees every
//!   `invalidate_range_start`/`invalidate_range_end` pair and the final `release`. Dropping it
//!   costs no SRCU grace period: the core frees it later (`mmu_notifier_put()`).
//! - [`IntervalNotifier`]: a `struct mmu_interval_notifier` over a range of the address space,
//!   for a driver that keeps a copy of the pages of its range (a device page table): it owns
//!   the driver's lock over that copy and implements the sequence protocol
//!   ([`IntervalNotifier::read_begin`], [`ReadGuard::read_retry`], and the sequence that every
//!   `invalidate` records by taking the lock), and may split its invalidation in two passes
//!   (`invalidate_finish`). The core calls interval notifiers *before* any hlist subscriber.
//! - [`IntervalWatcher`]: an interval notifier that keeps no copy of the pages and so has no
//!   read side, no lock and no sequence to record: it only watches (and may refuse) the
//!   invalidations of its range.
//!
//! Every one of them is registered through the module's [`Registrar`], which the module owns:
//! dropping it at unload removes what is still registered and waits until the core is done
//! with everything the module registered, so that no callback of the module runs after it.
//!
//! The core's contract is in the types, not in comments:
//!
//! - a callback that may sleep is handed a *blockable* view of the range, one that must not is
//!   handed a *non-blocking* view ([`Start`], [`End`], [`Invalidate`], [`Watch`], [`Finish`]);
//!   only a non-blocking view can produce [`Refused`], which the core sees as `-EAGAIN` (the
//!   only refusal it allows), and only a blockable one can take a lock by sleeping;
//! - an hlist subscriber refuses only if its type says so ([`MmuNotifierOps::MAY_REFUSE`]), and
//!   such a type cannot have `invalidate_range_end` (the core calls every end after a refusal,
//!   so a refuser could not tell which end belongs to a start it refused): both are build
//!   errors;
//! - an [`IntervalNotifier`]'s `invalidate` can only accept an invalidation with a [`Pass`],
//!   and only the guard of its own lock makes one ([`InvalidateGuard::done`],
//!   [`InvalidateGuard::finish_later`]); taking that lock is what calls
//!   `mmu_interval_set_seq()`: so the sequence is set, under the lock `read_retry` needs,
//!   whenever the invalidation is accepted;
//! - the data of an hlist subscription, freed by the core in atomic context, has no drop glue.
//!
//! `Documentation/mmn_stopgap.rst` has the table of the core's rules and of the check that
//! holds each one (a compile-fail check, a test, or only a document).
//!
//! C header: [include/linux/mmu_notifier.h](srctree/include/linux/mmu_notifier.h)

use core::{
    ffi::c_void,
    marker::PhantomData, //
};
use kernel::{
    bindings,
    mm::Mm,
    prelude::*,
    types::Opaque, //
};

mod interval;
mod registrar;
mod subscription;
mod watcher;

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
    BlockableFinish,
    BlockableInvalidate,
    InvalidateGuard,
    NonBlockingFinish,
    NonBlockingInvalidate,
    ReadGuard, //
};
pub(crate) use registrar::{
    Registrar,
    RegistrarRef, //
};
#[expect(
    unused_imports,
    reason = "API for drivers; this module does not need it"
)]
pub(crate) use subscription::NonBlocking;
pub(crate) use subscription::{
    End,
    MmuNotifierOps,
    Start,
    Subscription, //
};
#[expect(
    unused_imports,
    reason = "API for drivers; this module does not need it"
)]
pub(crate) use watcher::NonBlockingWatch;
pub(crate) use watcher::{
    IntervalWatcher,
    IntervalWatcherOps,
    Watch, //
};

/// Why an invalidation happens (`enum mmu_notifier_event`).
///
/// Non-exhaustive: the core may gain events, and [`Range::event`] says `None` for one this
/// abstraction does not know.
///
/// # Examples
///
/// ```
/// use kernel::{bindings, mm::mmu_notifier::Event};
///
/// let clear = Event::try_from(bindings::mmu_notifier_event_MMU_NOTIFY_CLEAR)?;
/// assert_eq!(clear, Event::Clear);
/// assert_eq!(clear.as_str(), "MMU_NOTIFY_CLEAR");
/// assert!(Event::try_from(u32::MAX).is_err());
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
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
    /// Pages migrate; [`Range::owner`] names the driver that asked, which may ignore it.
    Migrate,
    /// Entries become device-exclusive; [`Range::owner`] names the driver that asked.
    Exclusive,
}

impl Event {
    /// The C name of the event (`"MMU_NOTIFY_CLEAR"`, ...), for log lines.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Event::Unmap => "MMU_NOTIFY_UNMAP",
            Event::Clear => "MMU_NOTIFY_CLEAR",
            Event::ProtectionVma => "MMU_NOTIFY_PROTECTION_VMA",
            Event::ProtectionPage => "MMU_NOTIFY_PROTECTION_PAGE",
            Event::SoftDirty => "MMU_NOTIFY_SOFT_DIRTY",
            Event::Release => "MMU_NOTIFY_RELEASE",
            Event::Migrate => "MMU_NOTIFY_MIGRATE",
            Event::Exclusive => "MMU_NOTIFY_EXCLUSIVE",
        }
    }
}

impl TryFrom<bindings::mmu_notifier_event> for Event {
    type Error = Error;

    /// `EINVAL` for a value this abstraction does not know.
    fn try_from(raw: bindings::mmu_notifier_event) -> Result<Self> {
        Ok(match raw {
            bindings::mmu_notifier_event_MMU_NOTIFY_UNMAP => Event::Unmap,
            bindings::mmu_notifier_event_MMU_NOTIFY_CLEAR => Event::Clear,
            bindings::mmu_notifier_event_MMU_NOTIFY_PROTECTION_VMA => Event::ProtectionVma,
            bindings::mmu_notifier_event_MMU_NOTIFY_PROTECTION_PAGE => Event::ProtectionPage,
            bindings::mmu_notifier_event_MMU_NOTIFY_SOFT_DIRTY => Event::SoftDirty,
            bindings::mmu_notifier_event_MMU_NOTIFY_RELEASE => Event::Release,
            bindings::mmu_notifier_event_MMU_NOTIFY_MIGRATE => Event::Migrate,
            bindings::mmu_notifier_event_MMU_NOTIFY_EXCLUSIVE => Event::Exclusive,
            _ => return Err(EINVAL),
        })
    }
}

/// A range of a process's address space being invalidated (`struct mmu_notifier_range`).
///
/// # Invariants
///
/// The wrapped range is valid and not modified for as long as a `&Range` exists, and its mm
/// is alive: the core only lends it to a callback for the duration of that call.
#[repr(transparent)]
pub(crate) struct Range(Opaque<bindings::mmu_notifier_range>);

impl Range {
    /// Borrows a range handed to a callback.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `struct mmu_notifier_range` whose mm is alive, and that
    /// nobody modifies, for `'a`.
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

    /// Why the range is invalidated; `None` for an event this abstraction does not know.
    pub(crate) fn event(&self) -> Option<Event> {
        Event::try_from(self.raw().event).ok()
    }

    /// The address space being invalidated, as an identity to compare with ([`MmId::is`]).
    ///
    /// Not a `&Mm`: through one, safe code could take a reference on the mm and drop it,
    /// `mmput()`, which may sleep, from a callback that must not.
    #[expect(dead_code, reason = "API for drivers; this module does not need it")]
    pub(crate) fn mm(&self) -> MmId {
        MmId(self.raw().mm)
    }

    /// Who asked for the invalidation, for [`Event::Migrate`] and [`Event::Exclusive`]: the
    /// `owner` a driver passed to `migrate_vma_setup()` or `make_device_exclusive()` (its
    /// device-private page map's owner), so that it can skip invalidations it caused itself;
    /// null otherwise. Only compared, never dereferenced.
    #[expect(dead_code, reason = "API for drivers; this module does not need it")]
    pub(crate) fn owner(&self) -> *mut c_void {
        self.raw().owner
    }

    /// Whether callbacks may sleep (`mmu_notifier_range_blockable()`).
    fn blockable(&self) -> bool {
        self.raw().flags & bindings::MMU_NOTIFIER_RANGE_BLOCKABLE != 0
    }
}

/// The identity of an address space ([`Range::mm`]): only compared, never dereferenced.
///
/// # Examples
///
/// ```
/// use kernel::mm::mmu_notifier::{MmId, Range};
/// use kernel::mm::Mm;
///
/// /// Whether an invalidation is of the address space a driver mirrors.
/// fn mine(range: &Range, mirrored: &Mm) -> bool {
///     range.mm().is(mirrored)
/// }
/// # let _ = mine;
/// # let _: Option<MmId> = None;
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct MmId(*mut bindings::mm_struct);

impl MmId {
    /// Whether this is `mm`'s identity.
    #[expect(dead_code, reason = "API for drivers; this module does not need it")]
    pub(crate) fn is(self, mm: &Mm) -> bool {
        self.0 == mm.as_raw()
    }
}

/// The answer of a callback that refuses a non-blockable invalidation; the core returns
/// `-EAGAIN` to the OOM reaper or to `process_mrelease(2)`.
///
/// Only a non-blocking view of a range can make one ([`NonBlocking::refuse`],
/// [`NonBlockingInvalidate::refuse`], [`NonBlockingWatch::refuse`]), and it carries the
/// lifetime of that view: invariant in `'a` and neither `Send` nor `Sync`, it cannot be kept
/// from one call and returned from another (a blockable one, or one of a type that may not
/// refuse), so a blockable invalidation cannot be refused.
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

#[cfg(CONFIG_KUNIT)]
#[kernel::macros::kunit_tests(rust_mm_mmu_notifier)]
mod tests {
    use super::*;

    /// Every event of the core maps to a variant of its own, with a C name of its own, and a
    /// value the core does not have maps to none.
    #[test]
    fn event_mapping() {
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
        let events = raw.map(|r| Event::try_from(r).ok());
        for (i, e) in events.iter().enumerate() {
            assert!(e.is_some());
            assert!(events[..i].iter().all(|f| f != e));
            assert!(events[..i]
                .iter()
                .all(|f| f.map(Event::as_str) != e.map(Event::as_str)));
        }
        assert!(Event::try_from(u32::MAX).is_err());
    }
}
