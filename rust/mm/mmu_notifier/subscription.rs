// SPDX-License-Identifier: GPL-2.0

//! hlist subscriptions (`struct mmu_notifier`): every `invalidate_range_start` and
//! `invalidate_range_end` of an address space, and its `release`.
//!
//! C header: [include/linux/mmu_notifier.h](srctree/include/linux/mmu_notifier.h)

use super::{
    Range,
    Refused, //
};
use core::{
    marker::{
        PhantomData,
        PhantomPinned, //
    },
    ptr::NonNull,
};
use kernel::{
    bindings,
    error::to_result,
    ffi::c_int,
    mm::MmWithUser,
    prelude::*,
    sync::atomic::{
        Acquire,
        Atomic,
        Relaxed,
        Release, //
    },
    time::{
        delay::fsleep,
        Delta, //
    },
    types::Opaque,
};

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
