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

use core::{
    marker::{
        PhantomData,
        PhantomPinned, //
    },
    ops::{
        Deref,
        DerefMut, //
    },
    ptr::NonNull,
};
use kernel::{
    bindings,
    error::to_result,
    ffi::{
        c_int,
        c_ulong, //
    },
    mm::{
        MmWithUser,
        MmapReadGuard, //
    },
    new_mutex,
    page::{
        PAGE_MASK,
        PAGE_SIZE, //
    },
    prelude::*,
    sync::{
        atomic::{
            Acquire,
            Atomic,
            Relaxed,
            Release, //
        },
        Mutex,
        MutexGuard, //
    },
    time::{
        delay::fsleep,
        Delta, //
    },
    types::Opaque,
};

/// The helpers of `rust/helpers/mmu_notifier.c` (the static inline functions of
/// `<linux/mmu_notifier.h>` and a `hmm_range_fault()` wrapper), built into the module; in the
/// kernel tree they are `bindings::` functions like every other helper.
mod helpers {
    use kernel::{
        bindings::mmu_interval_notifier,
        ffi::{
            c_int,
            c_ulong, //
        },
    };

    // As in the kernel crate's own bindings: `mm_struct`, behind the notifier, reaches structs
    // that bindgen leaves empty.
    #[allow(improper_ctypes)]
    extern "C" {
        #[link_name = "rust_helper_mmu_interval_set_seq"]
        pub(super) fn mmu_interval_set_seq(
            interval_sub: *mut mmu_interval_notifier,
            cur_seq: c_ulong,
        );
        #[link_name = "rust_helper_mmu_interval_read_retry"]
        pub(super) fn mmu_interval_read_retry(
            interval_sub: *mut mmu_interval_notifier,
            seq: c_ulong,
        ) -> bool;
        #[link_name = "rust_helper_mmu_interval_check_retry"]
        pub(super) fn mmu_interval_check_retry(
            interval_sub: *mut mmu_interval_notifier,
            seq: c_ulong,
        ) -> bool;
        #[cfg(CONFIG_HMM_MIRROR)]
        #[link_name = "rust_helper_hmm_range_fault_interval"]
        pub(super) fn hmm_range_fault_interval(
            interval_sub: *mut mmu_interval_notifier,
            seq: c_ulong,
            start: c_ulong,
            end: c_ulong,
            pfns: *mut c_ulong,
        ) -> c_int;
        #[cfg(CONFIG_HMM_MIRROR)]
        #[link_name = "rust_helper_hmm_pfn_to_pfn"]
        pub(super) fn hmm_pfn_to_pfn(hmm_pfn: c_ulong) -> c_ulong;
    }
}

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

// ---------------------------------------------------------------------------------------------
// hlist subscriptions
// ---------------------------------------------------------------------------------------------

/// An `invalidate_range_start` as an hlist subscriber of type `T` sees it.
pub(crate) enum Start<'a, T: MmuNotifierOps> {
    /// The callback may sleep; the invalidation cannot be refused.
    Blockable(&'a Range),
    /// The OOM reaper or `process_mrelease(2)`: the callback must not sleep.
    NonBlocking(NonBlocking<'a, T>),
}

impl<'a, T: MmuNotifierOps> Start<'a, T> {
    /// The range, whatever the view.
    #[expect(dead_code, reason = "API for drivers; this module does not need it")]
    pub(crate) fn range(&self) -> &'a Range {
        match self {
            Start::Blockable(range) => range,
            Start::NonBlocking(nb) => nb.range,
        }
    }
}

/// A non-blockable range handed to the `invalidate_range_start` of an hlist subscriber of type
/// `T`.
pub(crate) struct NonBlocking<'a, T: MmuNotifierOps> {
    range: &'a Range,
    _ops: PhantomData<fn() -> T>,
}

impl<'a, T: MmuNotifierOps> NonBlocking<'a, T> {
    /// The range.
    #[expect(dead_code, reason = "API for drivers; this module does not need it")]
    pub(crate) fn range(&self) -> &'a Range {
        self.range
    }

    /// Refuses the invalidation: the core returns `-EAGAIN`, after calling every other
    /// subscriber's start, and then every subscriber's `invalidate_range_end`.
    ///
    /// A build error unless `T` says [`MmuNotifierOps::MAY_REFUSE`].
    ///
    /// On a kernel without the interval-tree fix (`patches/0001`), refusing here wedges every
    /// interval notifier of an mm that has, or had, one: the core's interval-tree pass, opened
    /// before the hlist subscribers are called, is never closed, and every later
    /// `mmu_interval_read_begin()` or interval-notifier removal on the mm sleeps forever. An
    /// interval notifier that refuses first ([`NonBlockingInvalidate::refuse`]) avoids it.
    pub(crate) fn refuse(self) -> Refused<'a> {
        const {
            assert!(
                T::MAY_REFUSE,
                "only a subscriber with MAY_REFUSE = true may refuse an invalidation"
            )
        };
        Refused::new()
    }
}

/// The callbacks of an hlist subscription ([`Subscription`]).
///
/// Callbacks run under the core's SRCU read lock and may race with each other; they must not
/// sleep on a non-blocking range ([`Start::NonBlocking`]).
#[vtable]
pub(crate) trait MmuNotifierOps: Send + Sync + Sized + 'static {
    /// Whether `invalidate_range_start` may refuse a non-blockable range. A type that may
    /// cannot implement `invalidate_range_end` (a build error).
    const MAY_REFUSE: bool = false;

    /// Called before the pages of the range are unmapped. Only the non-blocking view can
    /// refuse, and only if [`Self::MAY_REFUSE`].
    fn invalidate_range_start<'a>(&self, start: Start<'a, Self>) -> Result<(), Refused<'a>>;

    /// Called after the pages of the range are unmapped, once per accepted start; after a
    /// non-blocking start that another subscriber refused, too.
    fn invalidate_range_end(&self, _range: &Range) {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Called once when the address space goes away while the subscription is registered.
    fn release(&self) {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// The registered part of a [`Subscription`], in a `KBox` of its own that the core frees.
///
/// # Invariants
///
/// While a [`Subscription`] points to it, `raw` is registered on an mm with the ops table of
/// `T`; the registration holds an `mmgrab` reference on the mm.
#[pin_data]
struct Registered<T: MmuNotifierOps> {
    #[pin]
    raw: Opaque<bindings::mmu_notifier>,
    #[pin]
    data: T,
    #[pin]
    _pin: PhantomPinned,
}

impl<T: MmuNotifierOps> Registered<T> {
    const OPS: bindings::mmu_notifier_ops = {
        assert!(
            !(T::MAY_REFUSE && T::HAS_INVALIDATE_RANGE_END),
            "a subscriber that may refuse a start cannot have invalidate_range_end"
        );
        assert!(
            !core::mem::needs_drop::<T>(),
            "the data of a Subscription is dropped by the core in an SRCU callback, where \
             nothing may sleep: it must not need drop (keep what does outside, e.g. behind the \
             driver's own reference)"
        );
        bindings::mmu_notifier_ops {
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
            free_notifier: Some(Self::free_notifier_callback),
            ..pin_init::zeroed()
        }
    };

    const fn ops() -> &'static bindings::mmu_notifier_ops {
        &Self::OPS
    }

    /// Recovers the `Registered` of a subscription handed to a callback.
    ///
    /// # Safety
    ///
    /// `raw` must be the `raw` field of a live `Registered<T>`.
    unsafe fn from_raw<'a>(raw: *mut bindings::mmu_notifier) -> &'a Self {
        // SAFETY: `Opaque<X>` has the layout of `X`, so `raw` is the address of the field; the
        // caller guarantees it lies inside a live `Self`.
        unsafe { &*kernel::container_of!(Opaque::cast_from(raw).cast_mut(), Self, raw) }
    }

    /// # Safety
    ///
    /// Called by the core with a subscription registered by [`Subscription::new`] and a valid
    /// range that lives for the call.
    unsafe extern "C" fn invalidate_range_start_callback(
        subscription: *mut bindings::mmu_notifier,
        range: *const bindings::mmu_notifier_range,
    ) -> c_int {
        // SAFETY: The core only calls our ops with our subscription, which it frees only after
        // an SRCU grace period that covers this call.
        let this = unsafe { Self::from_raw(subscription) };
        // SAFETY: The core lends the range for the duration of this call.
        let range = unsafe { Range::from_raw(range) };
        let start = if range.blockable() {
            Start::Blockable(range)
        } else {
            Start::NonBlocking(NonBlocking {
                range,
                _ops: PhantomData,
            })
        };
        match this.data.invalidate_range_start(start) {
            Ok(()) => 0,
            Err(_refused) => EAGAIN.to_errno(),
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
    /// Called by the core with a subscription registered by [`Subscription::new`].
    unsafe extern "C" fn release_callback(
        subscription: *mut bindings::mmu_notifier,
        _mm: *mut bindings::mm_struct,
    ) {
        // SAFETY: As in `invalidate_range_start_callback`.
        let this = unsafe { Self::from_raw(subscription) };
        this.data.release();
    }

    /// # Safety
    ///
    /// Called by the core once, after an SRCU grace period, for a subscription that
    /// [`Subscription::drop`] put: no callback runs any more, and nothing else refers to it.
    /// Runs in an SRCU callback (softirq context, or with bottom halves disabled): `T` has no
    /// drop glue (checked at build time in [`Self::OPS`]), so freeing it cannot sleep.
    unsafe extern "C" fn free_notifier_callback(subscription: *mut bindings::mmu_notifier) {
        // SAFETY: `subscription` is the `raw` field of a `Registered<T>` that
        // `Subscription::new` leaked out of a `KBox`; the core hands it back exactly once.
        let ptr =
            unsafe { kernel::container_of!(Opaque::cast_from(subscription).cast_mut(), Self, raw) };
        // SAFETY: See above: the allocation is ours again, and nothing refers to it.
        drop(unsafe { KBox::from_raw(ptr) });
        // Last: `synchronize()` waits for this, then for an RCU grace period, which covers the
        // rest of this callback (it runs with bottom halves disabled).
        PENDING_FREES.fetch_sub(1, Release);
    }
}

/// An hlist subscription (`struct mmu_notifier`) carrying data `T`.
///
/// Dropping it unregisters it without waiting (`mmu_notifier_put()`): the subscription leaves
/// the mm's list, but callbacks that already found it may still start until an SRCU grace
/// period ends, after which the core frees it, `T` included, in an SRCU callback (so `T` must
/// have no drop glue: a build error otherwise). `release` is not called for it, and the driver
/// must stop setting up mappings that the subscription would have to invalidate before it
/// drops it. A module must call [`synchronize()`] before its code goes away.
/// [`Subscription::unregister`] waits for the grace period instead.
///
/// # Invariants
///
/// `ptr` points to a live `Registered<T>` whose `raw` is registered; only `drop` (which puts
/// it, after which the core frees it) or [`Subscription::unregister`] end that.
///
/// # Examples
///
/// Counting the invalidations of an address space:
///
/// ```
/// use kernel::mm::mmu_notifier::{MmuNotifierOps, Range, Refused, Start, Subscription};
/// use kernel::sync::atomic::{Atomic, Relaxed};
///
/// struct Counter {
///     starts: Atomic<u64>,
///     ends: Atomic<u64>,
/// }
///
/// #[vtable]
/// impl MmuNotifierOps for Counter {
///     fn invalidate_range_start<'a>(&self, _start: Start<'a, Self>) -> Result<(), Refused<'a>> {
///         self.starts.add(1, Relaxed);
///         Ok(())
///     }
///
///     fn invalidate_range_end(&self, _range: &Range) {
///         self.ends.add(1, Relaxed);
///     }
/// }
///
/// # // The KUnit thread has no address space: give it one, with a page mapped in it.
/// # // SAFETY: A KUnit test thread may attach an mm to itself.
/// # kernel::error::to_result(unsafe { kernel::bindings::kunit_attach_mm() })?;
/// # let current = kernel::current!();
/// # let mm = current.mm().ok_or(EINVAL)?;
/// # // SAFETY: Maps one anonymous page (PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS).
/// # let addr = unsafe { kernel::bindings::vm_mmap(core::ptr::null_mut(), 0, 4096, 3, 0x22, 0) };
/// let counter = Subscription::new(
///     mm,
///     Counter {
///         starts: Atomic::new(0),
///         ends: Atomic::new(0),
///     },
/// )?;
/// # // SAFETY: Unmaps the page mapped above.
/// # unsafe { kernel::bindings::vm_munmap(addr, 4096) };
/// // The munmap invalidated the page's range: a start and its end.
/// assert!(counter.data().starts.load(Relaxed) >= 1);
/// assert_eq!(counter.data().starts.load(Relaxed), counter.data().ends.load(Relaxed));
/// drop(counter); // Cheap: the core frees it after an SRCU grace period.
/// # Ok::<(), Error>(())
/// ```
pub(crate) struct Subscription<T: MmuNotifierOps> {
    ptr: NonNull<Registered<T>>,
}

// SAFETY: The C struct is only touched by the core under its own locking, and `T` is `Send`.
unsafe impl<T: MmuNotifierOps> Send for Subscription<T> {}
// SAFETY: Shared references only reach `T`, which is `Sync`.
unsafe impl<T: MmuNotifierOps> Sync for Subscription<T> {}

impl<T: MmuNotifierOps> Subscription<T> {
    /// Registers a subscription carrying `data` on `mm` (`mmu_notifier_register()`).
    ///
    /// Takes the mm's `mmap_lock` for writing and all its rmap locks: the caller must hold no
    /// mm locks. `mm` being an [`MmWithUser`] proves the `mm_users` pin the core requires.
    pub(crate) fn new<E>(mm: &MmWithUser, data: impl PinInit<T, E>) -> Result<Self>
    where
        Error: From<E>,
    {
        let boxed = KBox::<Registered<T>>::pin_init::<Error>(
            try_pin_init!(Registered::<T> {
                // SAFETY: An all-zero `mmu_notifier` is its unhashed initial state; `ops` is
                // written before registration below.
                raw <- Opaque::ffi_init(|slot: *mut bindings::mmu_notifier| unsafe {
                    slot.write(pin_init::zeroed());
                    (*slot).ops = Registered::<T>::ops();
                }),
                data <- data,
                _pin: PhantomPinned,
            }? Error),
            GFP_KERNEL,
        )?;
        // SAFETY: The allocation is handed to the core on success (freed by the core after
        // `mmu_notifier_put()`, or by `unregister`), and taken back just below on failure; its
        // contents never move.
        let ptr = KBox::into_raw(unsafe { Pin::into_inner_unchecked(boxed) });
        // SAFETY: `ptr` is valid and pinned; `raw` is initialised with our ops; `data` is
        // initialised before registration, so callbacks find it ready; `mm` is pinned by
        // `mm_users` for the duration of the call.
        let ret =
            to_result(unsafe { bindings::mmu_notifier_register((*ptr).raw.get(), mm.as_raw()) });
        if let Err(e) = ret {
            // SAFETY: Registration failed: the core never saw the allocation, which is ours.
            drop(unsafe { KBox::from_raw(ptr) });
            return Err(e);
        }
        // INVARIANT: `raw` is registered; `ptr` came from `KBox::into_raw`, so it is non-null.
        Ok(Self {
            // SAFETY: `KBox::into_raw` never returns null.
            ptr: unsafe { NonNull::new_unchecked(ptr) },
        })
    }

    fn registered(&self) -> &Registered<T> {
        // SAFETY: By the type invariant `ptr` points to a live `Registered<T>`.
        unsafe { self.ptr.as_ref() }
    }

    /// The data carried by the subscription.
    pub(crate) fn data(&self) -> &T {
        &self.registered().data
    }

    /// Bytes of slab memory the subscription's allocation takes (`ksize()`).
    pub(crate) fn ksize(&self) -> usize {
        // SAFETY: `ptr` is the start of a live `kmalloc` allocation (a `KBox`, type invariant);
        // `ksize` only reads the slab metadata of its page.
        unsafe { bindings::ksize(self.ptr.as_ptr().cast()) }
    }

    /// Unregisters now (`mmu_notifier_unregister()`): calls `release` if the mm has not been
    /// released yet, waits a full SRCU grace period for the callbacks in progress, then frees
    /// the subscription. Sleeps; must not be called from a callback.
    pub(crate) fn unregister(self) {
        let this = core::mem::ManuallyDrop::new(self);
        let raw = this.registered().raw.get();
        // SAFETY: By the type invariant `raw` is registered, so the core stored its mm and holds
        // an `mmgrab` reference on it, which `mmu_notifier_unregister` drops after waiting for
        // the callbacks in progress. We are not inside a callback.
        unsafe { bindings::mmu_notifier_unregister(raw, (*raw).mm) };
        // SAFETY: Unregistered, the allocation is ours again (the core frees only what was
        // put), and `this` is never dropped: nothing refers to it any more.
        drop(unsafe { KBox::from_raw(this.ptr.as_ptr()) });
    }
}

impl<T: MmuNotifierOps> Drop for Subscription<T> {
    fn drop(&mut self) {
        PENDING_FREES.add(1, Relaxed);
        // SAFETY: By the type invariant `raw` is registered, with one user (ours). After the
        // put the subscription leaves the mm's list; the core calls `free_notifier_callback`
        // once an SRCU grace period has ended, which frees the allocation.
        unsafe { bindings::mmu_notifier_put(self.registered().raw.get()) };
    }
}

/// Subscriptions put and not freed yet.
static PENDING_FREES: Atomic<usize> = Atomic::new(0);

/// Waits until every subscription dropped so far is freed: after it returns, no callback of a
/// dropped subscription runs any more, nor does the code that freed it. Call it at module exit,
/// after the last drop. Sleeps.
///
/// `mmu_notifier_synchronize()` alone does not promise that on a stock kernel: it waits for an
/// SRCU grace period (`synchronize_srcu()`), not for the free callbacks queued on other CPUs
/// (`srcu_barrier()`, `patches/0003`). So this also waits until every free callback of this
/// abstraction has run, then for an RCU grace period, which covers the end of the last one.
pub(crate) fn synchronize() {
    // SAFETY: Always safe to call from process context without locks held.
    unsafe { bindings::mmu_notifier_synchronize() };
    // Bounded: every put subscription is freed after one SRCU grace period.
    while PENDING_FREES.load(Acquire) != 0 {
        fsleep(Delta::from_millis(1));
    }
    // SAFETY: Always safe to call from process context without locks held.
    unsafe { bindings::synchronize_rcu() };
}

// ---------------------------------------------------------------------------------------------
// interval notifiers
// ---------------------------------------------------------------------------------------------

/// What an interval notifier's first pass asks of the core.
#[must_use]
pub(crate) struct Pass(PassKind);

enum PassKind {
    Done,
    Finish,
}

impl Pass {
    /// The invalidation is complete: no second pass.
    pub(crate) const DONE: Pass = Pass(PassKind::Done);
}

/// The callbacks of an interval notifier ([`IntervalNotifier`]).
#[vtable]
pub(crate) trait IntervalNotifierOps: Send + Sync + Sized + 'static {
    /// What the notifier's lock protects: the driver's mirror of the pages of its range.
    type Mirror: Send;

    /// Called for every invalidation that intersects the interval, before any hlist
    /// subscriber. A blockable invalidation cannot be refused; a non-blocking one may be
    /// ([`NonBlockingInvalidate::refuse`]), and the core then returns `-EAGAIN` without
    /// calling the hlist subscribers.
    ///
    /// Returns [`Pass::DONE`], or, from [`InvalidateGuard::finish_later`], a request for
    /// `invalidate_finish` once every interval notifier's first pass ran.
    fn invalidate<'a>(&self, inv: Invalidate<'a, Self>) -> Result<Pass, Refused<'a>>;

    /// The second pass of an invalidation whose first pass asked for it (two-pass
    /// notifiers, `invalidate_start`/`invalidate_finish` in the core). Runs in the same context
    /// as the first pass (it must not sleep if that one was non-blocking).
    fn invalidate_finish(&self, _finish: &Finish) {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// A read-side sequence number of an [`IntervalNotifier`] (`mmu_interval_read_begin()`), and
/// the notifier it belongs to: given to another notifier, it always asks for a retry (and
/// [`IntervalNotifier::hmm_range_fault`] fails with `EINVAL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ReadSeq {
    seq: c_ulong,
    /// The address of the notifier's C struct, only compared.
    owner: usize,
}

impl ReadSeq {
    /// The number, for display.
    pub(crate) fn value(self) -> usize {
        self.seq
    }
}

/// The second-pass record of an invalidation: the range and its context, kept from the first
/// pass (the core hands the finish pass nothing else).
pub(crate) struct Finish {
    start: usize,
    end: usize,
    blockable: bool,
}

impl Finish {
    /// First address of the range.
    #[expect(dead_code, reason = "API for drivers; this module does not need it")]
    pub(crate) fn start(&self) -> usize {
        self.start
    }

    /// First address after the range.
    #[expect(dead_code, reason = "API for drivers; this module does not need it")]
    pub(crate) fn end(&self) -> usize {
        self.end
    }

    /// Whether this pass may sleep.
    #[expect(dead_code, reason = "API for drivers; this module does not need it")]
    pub(crate) fn blockable(&self) -> bool {
        self.blockable
    }
}

/// The one `struct mmu_interval_notifier_finish` of a notifier and what the finish pass needs.
///
/// # Invariants
///
/// `busy` is `true` while `raw` is on a core finish list; `record` is only written by the
/// first pass that set `busy`, and read by the finish pass that clears it.
#[pin_data]
struct FinishSlot {
    #[pin]
    raw: Opaque<bindings::mmu_interval_notifier_finish>,
    busy: Atomic<bool>,
    record: Opaque<Finish>,
}

/// An interval subscription (`struct mmu_interval_notifier`) over a range of an address space,
/// carrying data `T` and the driver's lock over `T::Mirror`.
///
/// # Invariants
///
/// `raw` is inserted in its mm's interval tree with the ops table of `T` for the whole life of
/// the value; the insertion holds an `mmgrab` reference on the mm.
///
/// # Examples
///
/// A device's mirror of one page (`lib/test_hmm.c`'s dmirror, in Rust): the read side takes a
/// snapshot with the sequence protocol, and every invalidation clears it under the same lock.
///
/// ```
/// use kernel::mm::mmu_notifier::{
///     IntervalNotifier, IntervalNotifierOps, Invalidate, Pass, Refused,
/// };
/// use kernel::page::PAGE_SIZE;
///
/// /// The page's pfn as the device sees it, or 0.
/// struct OnePage;
///
/// #[vtable]
/// impl IntervalNotifierOps for OnePage {
///     type Mirror = usize;
///
///     fn invalidate<'a>(&self, inv: Invalidate<'a, Self>) -> Result<Pass, Refused<'a>> {
///         let mut pfn = match inv {
///             Invalidate::Blockable(b) => b.lock(),
///             Invalidate::NonBlocking(nb) => match nb.try_lock() {
///                 Ok(guard) => guard,
///                 // Cannot wait for the lock: refuse, the core returns -EAGAIN.
///                 Err(nb) => return Err(nb.refuse()),
///             },
///         };
///         // Taking the lock set the sequence: readers in flight will retry.
///         *pfn = 0;
///         Ok(Pass::DONE)
///     }
/// }
///
/// # // `hmm_range_fault` needs `CONFIG_HMM_MIRROR`.
/// # #[cfg(CONFIG_HMM_MIRROR)]
/// # {
/// # // The KUnit thread has no address space: give it one, with a page mapped in it.
/// # // SAFETY: A KUnit test thread may attach an mm to itself.
/// # kernel::error::to_result(unsafe { kernel::bindings::kunit_attach_mm() })?;
/// # let current = kernel::current!();
/// # let mm = current.mm().ok_or(EINVAL)?;
/// # // SAFETY: Maps one anonymous page (PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS).
/// # let addr = unsafe { kernel::bindings::vm_mmap(core::ptr::null_mut(), 0, 4096, 3, 0x22, 0) };
/// let notifier = KBox::pin_init(
///     IntervalNotifier::new(mm, addr, PAGE_SIZE, OnePage, 0),
///     GFP_KERNEL,
/// )?;
/// loop {
///     let seq = notifier.read_begin();
///     let mut pfns = [0usize; 1];
///     match notifier.hmm_range_fault(mm, seq, addr, &mut pfns) {
///         Err(e) if e == EBUSY => continue, // An invalidation came in between.
///         r => r?,
///     }
///     let mut pfn = notifier.lock();
///     if pfn.read_retry(seq) {
///         continue; // Invalidated since `read_begin`: the pfn may be stale.
///     }
///     *pfn = pfns[0]; // Valid until the next invalidation.
///     break;
/// }
/// assert_ne!(*notifier.lock(), 0);
/// # // SAFETY: Unmaps the page mapped above.
/// # unsafe { kernel::bindings::vm_munmap(addr, PAGE_SIZE) };
/// assert_eq!(*notifier.lock(), 0); // The munmap cleared it.
/// # }
/// # Ok::<(), Error>(())
/// ```
#[pin_data(PinnedDrop)]
pub(crate) struct IntervalNotifier<T: IntervalNotifierOps> {
    #[pin]
    data: T,
    #[pin]
    mirror: Mutex<T::Mirror>,
    #[pin]
    finish: FinishSlot,
    start: usize,
    len: usize,
    #[pin]
    raw: Opaque<bindings::mmu_interval_notifier>,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: The C structs are only touched by the core under its own locking, `T` is `Send`,
// and `T::Mirror` is `Send` behind its mutex.
unsafe impl<T: IntervalNotifierOps> Send for IntervalNotifier<T> {}
// SAFETY: Shared references reach `T` (`Sync`), the mirror only through its mutex, and the
// finish slot only from callbacks, through its atomic.
unsafe impl<T: IntervalNotifierOps> Sync for IntervalNotifier<T> {}

impl<T: IntervalNotifierOps> IntervalNotifier<T> {
    const OPS: bindings::mmu_interval_notifier_ops = if T::HAS_INVALIDATE_FINISH {
        bindings::mmu_interval_notifier_ops {
            invalidate_start: Some(Self::invalidate_start_callback),
            invalidate_finish: Some(Self::invalidate_finish_callback),
            ..pin_init::zeroed()
        }
    } else {
        bindings::mmu_interval_notifier_ops {
            invalidate: Some(Self::invalidate_callback),
            ..pin_init::zeroed()
        }
    };

    const fn ops() -> &'static bindings::mmu_interval_notifier_ops {
        &Self::OPS
    }

    /// Initialises `data` and the mirror, then inserts an interval subscription over
    /// `[start, start + len)` of `mm` (`mmu_interval_notifier_insert()`; `EINVAL` for an empty
    /// or overflowing range).
    ///
    /// The notifier may not be in the interval tree yet when this returns (the core defers an
    /// insertion while the tree is invalidating): [`Self::read_begin`] waits until it is.
    /// Takes the mm's `mmap_lock` on the first insertion on an mm: the caller must hold no mm
    /// locks.
    pub(crate) fn new<'a, E>(
        mm: &'a MmWithUser,
        start: usize,
        len: usize,
        data: impl PinInit<T, E> + 'a,
        mirror: impl PinInit<T::Mirror> + 'a,
    ) -> impl PinInit<Self, Error> + 'a
    where
        Error: From<E>,
    {
        let (first, bytes) = (start, len);
        try_pin_init!(Self {
            data <- data,
            mirror <- new_mutex!(mirror, "mmn_interval_mirror"),
            finish <- pin_init!(FinishSlot {
                raw: Opaque::zeroed(),
                busy: Atomic::new(false),
                record: Opaque::uninit(),
            }),
            start,
            len,
            raw <- Opaque::try_ffi_init(move |slot: *mut bindings::mmu_interval_notifier| {
                if bytes == 0 || first.checked_add(bytes - 1).is_none() {
                    return Err(EINVAL);
                }
                // SAFETY: `slot` is valid for writes; the core initialises every field it
                // uses, zeroing just avoids exposing uninitialised memory.
                unsafe { slot.write(pin_init::zeroed()) };
                // SAFETY:
                // - `slot` is pinned and stays inserted until `drop` removes it;
                // - `data`, the mirror and the finish slot are initialised before `raw`, so
                //   callbacks find them ready;
                // - `mm` is pinned by `mm_users` for the duration of the call;
                // - the ops table is `'static`.
                to_result(unsafe {
                    bindings::mmu_interval_notifier_insert(
                        slot,
                        mm.as_raw(),
                        first,
                        bytes,
                        Self::ops(),
                    )
                })
            }),
            _pin: PhantomPinned,
        }? Error)
    }

    /// [`Self::new`] over the whole user address space (`0` to `ULONG_MAX & PAGE_MASK`).
    pub(crate) fn whole_address_space<'a, E>(
        mm: &'a MmWithUser,
        data: impl PinInit<T, E> + 'a,
        mirror: impl PinInit<T::Mirror> + 'a,
    ) -> impl PinInit<Self, Error> + 'a
    where
        Error: From<E>,
    {
        Self::new(mm, 0, usize::MAX & PAGE_MASK, data, mirror)
    }

    /// The data carried by the notifier.
    pub(crate) fn data(&self) -> &T {
        &self.data
    }

    /// First address of the interval.
    pub(crate) fn start(&self) -> usize {
        self.start
    }

    /// Size of the interval, in bytes (never zero).
    pub(crate) fn size(&self) -> usize {
        self.len
    }

    fn raw(&self) -> *mut bindings::mmu_interval_notifier {
        self.raw.get()
    }

    /// Whether `seq` was begun on this notifier.
    fn owns(&self, seq: ReadSeq) -> bool {
        seq.owner == self.raw() as usize
    }

    /// Begins a read-side critical section (`mmu_interval_read_begin()`): waits until the
    /// notifier is live in the interval tree and no invalidation it might have missed is in
    /// progress, then returns the sequence number to check with [`MirrorGuard::read_retry`].
    ///
    /// Right after [`Self::new`] the notifier may not be in the tree yet; once this returns,
    /// it is. Sleeps uninterruptibly for as long as the invalidations in progress on the mm
    /// last: forever on an mm whose interval-tree pass was left open (an hlist subscriber that
    /// refused a non-blockable start after the interval notifiers accepted it, on a kernel
    /// without the fix). Must not be called from a callback, nor with the notifier's lock or
    /// another lock a callback takes held.
    pub(crate) fn read_begin(&self) -> ReadSeq {
        // SAFETY: By the type invariant `raw` is inserted, so its `mm` and the mm's
        // subscriptions are valid (the insertion holds an `mmgrab` reference). The caller is not
        // inside a callback.
        let seq = unsafe { bindings::mmu_interval_read_begin(self.raw()) };
        ReadSeq {
            seq,
            owner: self.raw() as usize,
        }
    }

    /// Whether an invalidation has already collided with the read side begun at `seq`
    /// (`mmu_interval_check_retry()`): `true` is certain, `false` is only a hint. Needs no
    /// lock; use it to give up early in a long read side.
    pub(crate) fn check_retry(&self, seq: ReadSeq) -> bool {
        if !self.owns(seq) {
            return true;
        }
        // SAFETY: `raw` is inserted (type invariant); the helper only reads `invalidate_seq`
        // with `READ_ONCE`.
        unsafe { helpers::mmu_interval_check_retry(self.raw(), seq.seq) }
    }

    /// Takes the notifier's lock, the one `invalidate` holds while it records its sequence
    /// number (see [`InvalidateGuard`]). Sleeps.
    pub(crate) fn lock(&self) -> MirrorGuard<'_, T> {
        MirrorGuard {
            notifier: self,
            guard: self.mirror.lock(),
        }
    }

    /// Faults in and looks up the pages of `[start, start + pfns.len() * PAGE_SIZE)` of the
    /// notifier's mm (`hmm_range_fault()` under the mm's mmap read lock), as of `seq`, writing
    /// one pfn per page. `start` must be page-aligned, the range must lie in the interval,
    /// `mm` must be the notifier's mm, with a user, and `seq` must come from this notifier
    /// (`EINVAL` otherwise).
    ///
    /// `EBUSY` if an invalidation came in since `seq`: begin again. The pfns are only valid
    /// once [`MirrorGuard::read_retry`] says so, under the notifier's lock. Sleeps, and may
    /// fault pages in, which invalidates this very notifier: never call it with the
    /// notifier's lock held (a [`MirrorGuard`] alive), which its `invalidate` takes.
    /// Needs `CONFIG_HMM_MIRROR`.
    #[cfg(CONFIG_HMM_MIRROR)]
    pub(crate) fn hmm_range_fault(
        &self,
        mm: &MmWithUser,
        seq: ReadSeq,
        start: usize,
        pfns: &mut [usize],
    ) -> Result {
        let bytes = pfns.len().checked_mul(PAGE_SIZE).ok_or(EINVAL)?;
        let end = start.checked_add(bytes).ok_or(EINVAL)?;
        if pfns.is_empty()
            || start % PAGE_SIZE != 0
            || start < self.start
            || end - 1 > self.start + (self.len - 1)
            || !self.owns(seq)
        {
            return Err(EINVAL);
        }
        // SAFETY: `raw` is inserted (type invariant), so its `mm` field is valid.
        if unsafe { (*self.raw()).mm } != mm.as_raw() {
            return Err(EINVAL);
        }
        let _locked: MmapReadGuard<'_> = mm.mmap_read_lock();
        // SAFETY:
        // - `raw` is inserted and `seq` came from its `read_begin`;
        // - the mmap read lock of its mm is held (`_locked`), and `mm` has a user;
        // - `pfns` has room for one pfn per page of `[start, end)`.
        to_result(unsafe {
            helpers::hmm_range_fault_interval(self.raw(), seq.seq, start, end, pfns.as_mut_ptr())
        })?;
        for pfn in pfns.iter_mut() {
            // SAFETY: Pure arithmetic on the value.
            *pfn = unsafe { helpers::hmm_pfn_to_pfn(*pfn) };
        }
        Ok(())
    }

    /// Recovers the notifier of a subscription handed to a callback.
    ///
    /// # Safety
    ///
    /// `raw` must be the `raw` field of a live `IntervalNotifier<T>`.
    unsafe fn from_raw<'a>(raw: *mut bindings::mmu_interval_notifier) -> &'a Self {
        // SAFETY: `Opaque<X>` has the layout of `X`; the caller guarantees the field lies inside
        // a live `Self`.
        unsafe { &*kernel::container_of!(Opaque::cast_from(raw).cast_mut(), Self, raw) }
    }

    /// Runs `T::invalidate` on the view of the range its context allows.
    fn invalidate_view<'a>(
        &'a self,
        range: &'a Range,
        cur_seq: c_ulong,
    ) -> Result<Pass, Refused<'a>> {
        let inv = if range.blockable() {
            Invalidate::Blockable(BlockableInvalidate {
                notifier: self,
                range,
                cur_seq,
            })
        } else {
            Invalidate::NonBlocking(NonBlockingInvalidate {
                notifier: self,
                range,
                cur_seq,
            })
        };
        self.data.invalidate(inv)
    }

    /// # Safety
    ///
    /// Called by the core with a notifier inserted by [`Self::new`] and a valid range that
    /// lives for the call.
    unsafe extern "C" fn invalidate_callback(
        subscription: *mut bindings::mmu_interval_notifier,
        range: *const bindings::mmu_notifier_range,
        cur_seq: c_ulong,
    ) -> bool {
        // SAFETY: The core only calls our ops with our notifier, and removal waits for running
        // callbacks before the value is freed.
        let this = unsafe { Self::from_raw(subscription) };
        // SAFETY: The core lends the range for the duration of this call.
        let range = unsafe { Range::from_raw(range) };
        // A request for a second pass cannot happen here: only a type with
        // `invalidate_finish` can make one, and such a type has the two-pass ops.
        this.invalidate_view(range, cur_seq).is_ok()
    }

    /// # Safety
    ///
    /// As for [`Self::invalidate_callback`]; `finish` points to a null pointer the first pass
    /// may set.
    unsafe extern "C" fn invalidate_start_callback(
        subscription: *mut bindings::mmu_interval_notifier,
        range: *const bindings::mmu_notifier_range,
        cur_seq: c_ulong,
        finish: *mut *mut bindings::mmu_interval_notifier_finish,
    ) -> bool {
        // SAFETY: As in `invalidate_callback`.
        let this = unsafe { Self::from_raw(subscription) };
        // SAFETY: The core lends the range for the duration of this call.
        let range = unsafe { Range::from_raw(range) };
        let pass = match this.invalidate_view(range, cur_seq) {
            Ok(pass) => pass,
            Err(_refused) => return false,
        };
        if let PassKind::Done = pass.0 {
            return true;
        }
        let record = Finish {
            start: range.start(),
            end: range.end(),
            blockable: range.blockable(),
        };
        let slot = &this.finish;
        // Acquire: pairs with the finish pass's release of the slot, so that its read of
        // `record` (and the core's of the list links) happens before our writes below.
        if slot.busy.cmpxchg(false, true, Acquire).is_err() {
            // The slot is on a finish list of a concurrent invalidation: run the second pass
            // now, in this same context, as the core allows ("implement the full notifier").
            this.data.invalidate_finish(&record);
            return true;
        }
        // SAFETY: `busy` was false and is ours now: nobody reads or writes `record` until the
        // finish pass clears it (type invariant of `FinishSlot`).
        unsafe { slot.record.get().write(record) };
        // SAFETY: `finish` is valid for a write and null at entry (the core's contract); the
        // slot is not on any list (`busy` was false), and the core sets its `notifier`.
        unsafe { *finish = slot.raw.get() };
        true
    }

    /// # Safety
    ///
    /// Called by the core with the `raw` field of a [`FinishSlot`] that
    /// [`Self::invalidate_start_callback`] returned, once the first passes are done.
    unsafe extern "C" fn invalidate_finish_callback(
        finish: *mut bindings::mmu_interval_notifier_finish,
    ) {
        // SAFETY: `finish` is the `raw` field of the `FinishSlot` of a live notifier: the core
        // runs the finish pass before removal can complete, and `Opaque<X>` has the layout of
        // `X`. Only raw pointers so far: the notifier is derived from `finish` itself.
        let slot =
            unsafe { kernel::container_of!(Opaque::cast_from(finish).cast_mut(), FinishSlot, raw) };
        // SAFETY: The slot is the `finish` field of a live `IntervalNotifier<T>` (see above).
        let this = unsafe { &*kernel::container_of!(slot, Self, finish) };
        let slot = &this.finish;
        // SAFETY: The first pass wrote `record` before handing the slot to the core, and holds
        // it (`busy`) until we clear it below.
        let record = unsafe { slot.record.get().read() };
        // Release: our read of `record` happens before the next first pass takes the slot.
        slot.busy.store(false, Release);
        this.data.invalidate_finish(&record);
    }
}

#[pinned_drop]
impl<T: IntervalNotifierOps> PinnedDrop for IntervalNotifier<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariant `raw` is inserted. `mmu_interval_notifier_remove` waits
        // for the invalidation in progress (and its finish pass) and drops the `mmgrab`
        // reference. It sleeps, in process context: a `Subscription`'s data, the only thing
        // the core drops in atomic context, has no drop glue, so it cannot own a notifier.
        // (Dropping one from its own mm's callback would wait for that very invalidation: a
        // deadlock, not a memory error.)
        unsafe { bindings::mmu_interval_notifier_remove(self.raw.get()) };
    }
}

/// The notifier's lock held on the read side ([`IntervalNotifier::lock`]).
pub(crate) struct MirrorGuard<'a, T: IntervalNotifierOps> {
    notifier: &'a IntervalNotifier<T>,
    guard: MutexGuard<'a, T::Mirror>,
}

impl<T: IntervalNotifierOps> MirrorGuard<'_, T> {
    /// Ends a read-side critical section begun at `seq` (`mmu_interval_read_retry()`): `true`
    /// if an invalidation collided with it, and what was read must be read again. The lock
    /// held is the one every `invalidate` holds while it records its sequence number.
    pub(crate) fn read_retry(&self, seq: ReadSeq) -> bool {
        if !self.notifier.owns(seq) {
            return true;
        }
        // SAFETY: The notifier is inserted (type invariant of `IntervalNotifier`), and we hold
        // the lock under which every `mmu_interval_set_seq()` is called ([`InvalidateGuard`]).
        unsafe { helpers::mmu_interval_read_retry(self.notifier.raw(), seq.seq) }
    }
}

impl<T: IntervalNotifierOps> Deref for MirrorGuard<'_, T> {
    type Target = T::Mirror;

    fn deref(&self) -> &T::Mirror {
        &self.guard
    }
}

impl<T: IntervalNotifierOps> DerefMut for MirrorGuard<'_, T>
where
    T::Mirror: Unpin,
{
    fn deref_mut(&mut self) -> &mut T::Mirror {
        &mut self.guard
    }
}

/// An invalidation of the interval of a notifier of type `T`, as `invalidate` sees it.
pub(crate) enum Invalidate<'a, T: IntervalNotifierOps> {
    /// The callback may sleep; the invalidation cannot be refused.
    Blockable(BlockableInvalidate<'a, T>),
    /// The OOM reaper or `process_mrelease(2)`: the callback must not sleep.
    NonBlocking(NonBlockingInvalidate<'a, T>),
}

impl<'a, T: IntervalNotifierOps> Invalidate<'a, T> {
    /// The range, whatever the view.
    #[expect(dead_code, reason = "API for drivers; this module does not need it")]
    pub(crate) fn range(&self) -> &'a Range {
        match self {
            Invalidate::Blockable(b) => b.range,
            Invalidate::NonBlocking(nb) => nb.range,
        }
    }
}

/// A blockable invalidation handed to `invalidate`.
pub(crate) struct BlockableInvalidate<'a, T: IntervalNotifierOps> {
    notifier: &'a IntervalNotifier<T>,
    range: &'a Range,
    cur_seq: c_ulong,
}

impl<'a, T: IntervalNotifierOps> BlockableInvalidate<'a, T> {
    /// The range.
    #[expect(dead_code, reason = "API for drivers; this module does not need it")]
    pub(crate) fn range(&self) -> &'a Range {
        self.range
    }

    /// Takes the notifier's lock (sleeps) and records the invalidation's sequence number
    /// ([`InvalidateGuard`]).
    pub(crate) fn lock(self) -> InvalidateGuard<'a, T> {
        InvalidateGuard::new(
            self.notifier,
            self.range,
            self.cur_seq,
            self.notifier.mirror.lock(),
        )
    }
}

/// A non-blocking invalidation handed to `invalidate`.
pub(crate) struct NonBlockingInvalidate<'a, T: IntervalNotifierOps> {
    notifier: &'a IntervalNotifier<T>,
    range: &'a Range,
    cur_seq: c_ulong,
}

impl<'a, T: IntervalNotifierOps> NonBlockingInvalidate<'a, T> {
    /// The range.
    pub(crate) fn range(&self) -> &'a Range {
        self.range
    }

    /// Tries to take the notifier's lock without sleeping, and records the invalidation's
    /// sequence number ([`InvalidateGuard`]); gives the invalidation back if the lock is
    /// contended (refuse it then).
    pub(crate) fn try_lock(self) -> Result<InvalidateGuard<'a, T>, Self> {
        match self.notifier.mirror.try_lock() {
            Some(guard) => Ok(InvalidateGuard::new(
                self.notifier,
                self.range,
                self.cur_seq,
                guard,
            )),
            None => Err(self),
        }
    }

    /// Refuses the invalidation: the core returns `-EAGAIN` without calling the hlist
    /// subscribers, and closes its interval-tree pass itself.
    pub(crate) fn refuse(self) -> Refused<'a> {
        Refused::new()
    }
}

/// The notifier's lock held inside `invalidate`.
///
/// Taking it records the invalidation's sequence number (`mmu_interval_set_seq()`), under the
/// lock, as `mmu_interval_read_retry()` requires: every read side in progress will then see
/// [`MirrorGuard::read_retry`] return `true`. This is the only place the sequence is set, so
/// it can neither be forgotten nor set outside `invalidate` or without the lock.
pub(crate) struct InvalidateGuard<'a, T: IntervalNotifierOps> {
    range: &'a Range,
    guard: MutexGuard<'a, T::Mirror>,
}

impl<'a, T: IntervalNotifierOps> InvalidateGuard<'a, T> {
    /// Records `cur_seq` with the notifier's lock held (`guard`).
    fn new(
        notifier: &'a IntervalNotifier<T>,
        range: &'a Range,
        cur_seq: c_ulong,
        guard: MutexGuard<'a, T::Mirror>,
    ) -> Self {
        // SAFETY: The notifier is inserted; we are inside its `invalidate` with its lock held
        // (`guard`), and `cur_seq` is the one the core passed to this invalidation.
        unsafe { helpers::mmu_interval_set_seq(notifier.raw(), cur_seq) };
        Self { range, guard }
    }

    /// The range being invalidated.
    pub(crate) fn range(&self) -> &'a Range {
        self.range
    }

    /// Asks for the second pass (`invalidate_finish`) once every interval notifier's first
    /// pass ran; drops the lock. A build error unless `T` implements `invalidate_finish`.
    pub(crate) fn finish_later(self) -> Pass {
        const {
            assert!(
                T::HAS_INVALIDATE_FINISH,
                "finish_later needs an implementation of invalidate_finish"
            )
        };
        Pass(PassKind::Finish)
    }
}

impl<T: IntervalNotifierOps> Deref for InvalidateGuard<'_, T> {
    type Target = T::Mirror;

    fn deref(&self) -> &T::Mirror {
        &self.guard
    }
}

impl<T: IntervalNotifierOps> DerefMut for InvalidateGuard<'_, T>
where
    T::Mirror: Unpin,
{
    fn deref_mut(&mut self) -> &mut T::Mirror {
        &mut self.guard
    }
}
