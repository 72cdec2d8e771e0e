// SPDX-License-Identifier: GPL-2.0

//! MMU notifiers: subscriptions to the invalidations of a process's address space.
//!
//! Two kinds of subscription exist in the kernel, and both are wrapped here:
//!
//! - [`MmuNotifier`]: a `struct mmu_notifier` on the mm's hlist. It sees every
//!   `invalidate_range_start`/`invalidate_range_end` pair and the final `release`.
//! - [`IntervalNotifier`]: a `struct mmu_interval_notifier` in the mm's interval tree. The core
//!   calls interval notifiers *before* any hlist subscriber; if one of them refuses a
//!   non-blockable range, no hlist subscriber is called at all.
//!
//! Both are pinned, registered when they are initialised and unregistered when they are dropped.
//! Dropping sleeps (it waits for SRCU or for the running invalidation), so it must never happen
//! inside a notifier callback.
//!
//! C header: [include/linux/mmu_notifier.h](srctree/include/linux/mmu_notifier.h)

use core::marker::PhantomPinned;
use kernel::{
    bindings,
    error::to_result,
    mm::MmWithUser,
    page::PAGE_MASK,
    prelude::*,
    types::Opaque, //
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
    ///
    /// When this is `false` the caller is the OOM reaper or `process_mrelease(2)`: a callback
    /// must not sleep, and may only refuse with `-EAGAIN`.
    pub(crate) fn blockable(&self) -> bool {
        self.raw().flags & bindings::MMU_NOTIFIER_RANGE_BLOCKABLE != 0
    }
}

/// The callbacks of an hlist subscription ([`MmuNotifier`]).
///
/// The core's contract, which implementors must follow:
///
/// - `invalidate_range_start` may fail only when the range is not blockable, and only with
///   `EAGAIN`;
/// - a type whose `invalidate_range_start` can fail must **not** implement
///   `invalidate_range_end`: the core calls every subscriber's end after any failure, so a
///   failing subscriber cannot tell which end belongs to a start it refused;
/// - no callback may sleep when the range is not blockable.
#[vtable]
pub(crate) trait MmuNotifierOps: Send + Sync + Sized + 'static {
    /// Called before the pages of `range` are unmapped.
    fn invalidate_range_start(&self, range: &Range) -> Result;

    /// Called after the pages of `range` are unmapped, once per successful start (and, after a
    /// failed non-blocking start of another subscriber, once per start).
    fn invalidate_range_end(&self, _range: &Range) {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Called once when the address space goes away, or from unregistration if it had not.
    fn release(&self) {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// An hlist subscription (`struct mmu_notifier`) carrying data `T`.
///
/// # Invariants
///
/// `raw` is registered on an mm with `mmu_notifier_register()`, with the ops table of `T`, for
/// the whole life of the value; that registration holds an `mmgrab` reference on the mm.
#[pin_data(PinnedDrop)]
pub(crate) struct MmuNotifier<T: MmuNotifierOps> {
    #[pin]
    data: T,
    #[pin]
    raw: Opaque<bindings::mmu_notifier>,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: The C struct is only touched by the core under its own locking, and `T` is `Send`.
unsafe impl<T: MmuNotifierOps> Send for MmuNotifier<T> {}
// SAFETY: Shared references only reach `T`, which is `Sync`.
unsafe impl<T: MmuNotifierOps> Sync for MmuNotifier<T> {}

impl<T: MmuNotifierOps> MmuNotifier<T> {
    const OPS: bindings::mmu_notifier_ops = bindings::mmu_notifier_ops {
        invalidate_range_start: Some(Self::invalidate_range_start_callback),
        invalidate_range_end: if T::HAS_INVALIDATE_RANGE_END {
            Some(Self::invalidate_range_end_callback)
        } else {
            None
        },
        release: if T::HAS_RELEASE {
            Some(Self::release_callback)
        } else {
            None
        },
        ..pin_init::zeroed()
    };

    const fn ops() -> &'static bindings::mmu_notifier_ops {
        &Self::OPS
    }

    /// Initialises `data`, then registers a subscription carrying it on `mm`.
    ///
    /// Takes the mm's `mmap_lock` for writing and all its rmap locks: the caller must hold no
    /// mm locks. `mm` being an [`MmWithUser`] proves the `mm_users` pin the core requires.
    pub(crate) fn new<'a, E>(
        mm: &'a MmWithUser,
        data: impl PinInit<T, E> + 'a,
    ) -> impl PinInit<Self, Error> + 'a
    where
        Error: From<E>,
    {
        try_pin_init!(Self {
            data <- data,
            raw <- Opaque::try_ffi_init(move |slot: *mut bindings::mmu_notifier| {
                // SAFETY: `slot` is valid for writes; an all-zero `mmu_notifier` is its unhashed
                // initial state.
                unsafe { slot.write(pin_init::zeroed()) };
                // SAFETY: `slot` was just initialised; the ops table is `'static`.
                unsafe { (*slot).ops = Self::ops() };
                // SAFETY:
                // - `slot` is pinned (it is a field of a pinned struct) and stays registered
                //   until `drop` unregisters it;
                // - `data` is initialised before `raw`, so callbacks find it ready;
                // - `mm` is pinned by `mm_users` for the duration of the call.
                to_result(unsafe { bindings::mmu_notifier_register(slot, mm.as_raw()) })
            }),
            _pin: PhantomPinned,
        }? Error)
    }

    /// The data carried by the subscription.
    pub(crate) fn data(&self) -> &T {
        &self.data
    }

    /// Recovers the containing `MmuNotifier` of a subscription handed to a callback.
    ///
    /// # Safety
    ///
    /// `raw` must be the `raw` field of a live `MmuNotifier<T>`.
    unsafe fn from_raw<'a>(raw: *mut bindings::mmu_notifier) -> &'a Self {
        // SAFETY: `Opaque<X>` has the layout of `X`, so `raw` is the address of the field; the
        // caller guarantees it lies inside a live `Self`.
        unsafe { &*kernel::container_of!(Opaque::cast_from(raw).cast_mut(), Self, raw) }
    }

    /// # Safety
    ///
    /// Called by the core with a subscription registered by [`MmuNotifier::new`] and a valid
    /// range that lives for the call.
    unsafe extern "C" fn invalidate_range_start_callback(
        subscription: *mut bindings::mmu_notifier,
        range: *const bindings::mmu_notifier_range,
    ) -> kernel::ffi::c_int {
        // SAFETY: The core only calls our ops with our subscription, registered by `new`, and
        // unregistration waits for running callbacks before the value is freed.
        let this = unsafe { Self::from_raw(subscription) };
        // SAFETY: The core lends the range for the duration of this call.
        let range = unsafe { Range::from_raw(range) };
        match this.data.invalidate_range_start(range) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// As for [`Self::invalidate_range_start_callback`].
    unsafe extern "C" fn invalidate_range_end_callback(
        subscription: *mut bindings::mmu_notifier,
        range: *const bindings::mmu_notifier_range,
    ) {
        // SAFETY: As in `invalidate_range_start_callback`.
        let this = unsafe { Self::from_raw(subscription) };
        // SAFETY: The core lends the range for the duration of this call.
        let range = unsafe { Range::from_raw(range) };
        this.data.invalidate_range_end(range);
    }

    /// # Safety
    ///
    /// Called by the core with a subscription registered by [`MmuNotifier::new`].
    unsafe extern "C" fn release_callback(
        subscription: *mut bindings::mmu_notifier,
        _mm: *mut bindings::mm_struct,
    ) {
        // SAFETY: As in `invalidate_range_start_callback`.
        let this = unsafe { Self::from_raw(subscription) };
        this.data.release();
    }
}

#[pinned_drop]
impl<T: MmuNotifierOps> PinnedDrop for MmuNotifier<T> {
    fn drop(self: Pin<&mut Self>) {
        let raw = self.raw.get();
        // SAFETY: By the type invariant `raw` is registered, so the core stored its mm and holds
        // an `mmgrab` reference on it; `mmu_notifier_unregister` calls `release` if the mm has
        // not, waits for running callbacks (SRCU) and drops that reference. We are not inside a
        // callback: callbacks never drop a notifier.
        unsafe { bindings::mmu_notifier_unregister(raw, (*raw).mm) };
    }
}

/// The callback of an interval subscription ([`IntervalNotifier`]).
pub(crate) trait IntervalNotifierOps: Send + Sync + Sized + 'static {
    /// Called for every invalidation that intersects the interval, before any hlist
    /// subscriber. Returning `false` refuses the invalidation (the core returns `-EAGAIN`); this
    /// is only allowed when `range.blockable()` is `false`.
    fn invalidate(&self, range: &Range, cur_seq: usize) -> bool;
}

/// An interval subscription (`struct mmu_interval_notifier`) carrying data `T`.
///
/// # Invariants
///
/// `raw` is inserted in its mm's interval tree with the ops table of `T` for the whole life of
/// the value; the insertion holds an `mmgrab` reference on the mm.
#[pin_data(PinnedDrop)]
pub(crate) struct IntervalNotifier<T: IntervalNotifierOps> {
    #[pin]
    data: T,
    #[pin]
    raw: Opaque<bindings::mmu_interval_notifier>,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: The C struct is only touched by the core under its own locking, and `T` is `Send`.
unsafe impl<T: IntervalNotifierOps> Send for IntervalNotifier<T> {}
// SAFETY: Shared references only reach `T`, which is `Sync`.
unsafe impl<T: IntervalNotifierOps> Sync for IntervalNotifier<T> {}

impl<T: IntervalNotifierOps> IntervalNotifier<T> {
    const OPS: bindings::mmu_interval_notifier_ops = bindings::mmu_interval_notifier_ops {
        invalidate: Some(Self::invalidate_callback),
        ..pin_init::zeroed()
    };

    const fn ops() -> &'static bindings::mmu_interval_notifier_ops {
        &Self::OPS
    }

    /// Initialises `data`, then inserts an interval subscription covering the whole user
    /// address space of `mm` (`0` to `ULONG_MAX & PAGE_MASK`).
    ///
    /// Takes the mm's `mmap_lock` (the first insertion on an mm registers the interval tree):
    /// the caller must hold no mm locks.
    pub(crate) fn whole_address_space<'a, E>(
        mm: &'a MmWithUser,
        data: impl PinInit<T, E> + 'a,
    ) -> impl PinInit<Self, Error> + 'a
    where
        Error: From<E>,
    {
        try_pin_init!(Self {
            data <- data,
            raw <- Opaque::try_ffi_init(move |slot: *mut bindings::mmu_interval_notifier| {
                // SAFETY: `slot` is valid for writes; the core initialises every field it uses,
                // zeroing just avoids exposing uninitialised memory.
                unsafe { slot.write(pin_init::zeroed()) };
                // SAFETY:
                // - `slot` is pinned and stays inserted until `drop` removes it;
                // - `data` is initialised before `raw`, so the callback finds it ready;
                // - `mm` is pinned by `mm_users` for the duration of the call;
                // - the ops table is `'static`.
                to_result(unsafe {
                    bindings::mmu_interval_notifier_insert(
                        slot,
                        mm.as_raw(),
                        0,
                        usize::MAX & PAGE_MASK,
                        Self::ops(),
                    )
                })
            }),
            _pin: PhantomPinned,
        }? Error)
    }

    /// Waits until the notifier is live in the mm's interval tree and no invalidation that it
    /// might have missed is in progress, then returns the sequence number of the read side
    /// (`mmu_interval_read_begin()`).
    ///
    /// Right after insertion the notifier "may not be present in the interval tree yet": the
    /// core defers an insertion made while the tree is invalidating until the last invalidation
    /// in progress ends. Once this returns, it is present.
    ///
    /// Sleeps uninterruptibly for as long as the invalidations in progress on the mm last:
    /// forever on an mm whose interval-tree pass was left open (an hlist subscriber that refused
    /// a non-blockable start after the interval notifiers accepted it, see
    /// `Documentation/mmn_stopgap.rst`). Must not be called from a notifier callback, nor with a
    /// lock held that a callback takes.
    pub(crate) fn read_begin(&self) -> usize {
        // SAFETY: By the type invariant `raw` is inserted, so its `mm` and the mm's
        // subscriptions are valid (the insertion holds an `mmgrab` reference). The caller is not
        // inside a callback.
        unsafe { bindings::mmu_interval_read_begin(self.raw.get()) }
    }

    /// # Safety
    ///
    /// Called by the core with a subscription inserted by [`IntervalNotifier::whole_address_space`]
    /// and a valid range that lives for the call.
    unsafe extern "C" fn invalidate_callback(
        subscription: *mut bindings::mmu_interval_notifier,
        range: *const bindings::mmu_notifier_range,
        cur_seq: kernel::ffi::c_ulong,
    ) -> bool {
        // SAFETY: The core only calls our ops with our subscription, and removal waits for
        // running callbacks before the value is freed. `Opaque<X>` has the layout of `X`.
        let this = unsafe {
            &*kernel::container_of!(Opaque::cast_from(subscription).cast_mut(), Self, raw)
        };
        // SAFETY: The core lends the range for the duration of this call.
        let range = unsafe { Range::from_raw(range) };
        this.data.invalidate(range, cur_seq)
    }
}

#[pinned_drop]
impl<T: IntervalNotifierOps> PinnedDrop for IntervalNotifier<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariant `raw` is inserted. `mmu_interval_notifier_remove` waits
        // for a running invalidation to finish and drops the `mmgrab` reference. We are not
        // inside a callback: callbacks never drop a notifier.
        unsafe { bindings::mmu_interval_notifier_remove(self.raw.get()) };
    }
}

/// Waits until every SRCU callback queued by the mmu notifier core has run.
///
/// Called at module exit, after every subscription is gone.
pub(crate) fn synchronize() {
    // SAFETY: Always safe to call from process context without locks held.
    unsafe { bindings::mmu_notifier_synchronize() };
}
