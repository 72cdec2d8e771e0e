// SPDX-License-Identifier: GPL-2.0

//! hlist subscriptions (`struct mmu_notifier`): every `invalidate_range_start` and
//! `invalidate_range_end` of an address space, and its `release`.
//!
//! C header: [include/linux/mmu_notifier.h](srctree/include/linux/mmu_notifier.h)

use super::{
    registrar::{
        Inner,
        Link,
        Taken,
        Target, //
    },
    Range,
    Refused,
    RegistrarRef, //
};
use core::{
    marker::{
        PhantomData,
        PhantomPinned, //
    },
    mem::ManuallyDrop,
    ptr::NonNull,
};
use kernel::{
    bindings,
    error::to_result,
    ffi::c_int,
    mm::MmWithUser,
    prelude::*,
    sync::Arc,
    task::might_sleep,
    types::Opaque, //
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
    ///
    /// [`NonBlockingInvalidate::refuse`]: super::NonBlockingInvalidate::refuse
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

/// An `invalidate_range_end` as an hlist subscriber sees it: the core wraps the end of a
/// non-blocking invalidation in `non_block_start()`, like its start, so the callback must not
/// sleep then (nothing in this view can; what the driver's own code does, the type cannot
/// see: `CONFIG_DEBUG_ATOMIC_SLEEP` reports it at run time).
pub(crate) enum End<'a> {
    /// The callback may sleep.
    Blockable(&'a Range),
    /// The end of a non-blocking invalidation: the callback must not sleep.
    NonBlocking(&'a Range),
}

impl<'a> End<'a> {
    /// The range, whatever the view.
    #[expect(dead_code, reason = "API for drivers; this module does not need it")]
    pub(crate) fn range(&self) -> &'a Range {
        match self {
            End::Blockable(range) | End::NonBlocking(range) => range,
        }
    }
}

/// The callbacks of an hlist subscription ([`Subscription`]).
///
/// Callbacks run under the core's SRCU read lock and may race with each other; they must not
/// sleep on a non-blocking range ([`Start::NonBlocking`], [`End::NonBlocking`]).
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
    fn invalidate_range_end(&self, _end: End<'_>) {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Called once when the address space goes away while the subscription is registered.
    fn release(&self) {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// The part of a registered subscription that does not depend on its data: the C struct, the
/// registrar's link, and what the free callback needs.
///
/// `raw` is its first field and it is the first field of [`Registered`] (both `repr(C)`), so a
/// pointer to `raw` is a pointer to the start of the allocation.
#[repr(C)]
#[pin_data]
struct Header {
    #[pin]
    raw: Opaque<bindings::mmu_notifier>,
    #[pin]
    link: Link,
    /// The registrar's shared part, kept alive by the handle's `Arc` or, once the handle is
    /// dropped, by the registrar's drop, which waits for this subscription's free.
    registrar: *const Inner,
}

/// The registered part of a [`Subscription`], in a `KBox` of its own that the core frees.
///
/// # Invariants
///
/// While a [`Subscription`] points to it and its link is on the registrar's list, `raw` is
/// registered on an mm with the ops table of `T`; the registration holds an `mmgrab`
/// reference on the mm.
#[repr(C)]
#[pin_data]
struct Registered<T: MmuNotifierOps> {
    #[pin]
    header: Header,
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
            free_notifier: Some(free_notifier_callback),
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
        // SAFETY: `raw` is the first field of `Header`, the first field of `Self`, both
        // `repr(C)`: it is the address of `Self`, which the caller guarantees is live.
        unsafe { &*raw.cast::<Self>() }
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
        // SAFETY: The core lends the range, of a live mm, for the duration of this call.
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
        // SAFETY: The core lends the range, of a live mm, for the duration of this call.
        let range = unsafe { Range::from_raw(range) };
        let end = if range.blockable() {
            End::Blockable(range)
        } else {
            End::NonBlocking(range)
        };
        this.data.invalidate_range_end(end);
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
}

/// The free callback of every subscription, whatever its data: in the kernel crate it is not
/// module text, so a module unloading cannot pull it from under the core.
///
/// # Safety
///
/// Called by the core once, after an SRCU grace period, for a subscription that
/// [`Subscription::drop`] put: no callback runs any more, and nothing else refers to it. Runs
/// in an SRCU callback (bottom halves disabled): the data has no drop glue (checked at build
/// time in [`Registered::OPS`]), so freeing the allocation is all there is to do, and cannot
/// sleep.
unsafe extern "C" fn free_notifier_callback(subscription: *mut bindings::mmu_notifier) {
    // SAFETY: `subscription` is the first field of the `Header` that starts the allocation
    // (`repr(C)`), which is live until we free it below.
    let registrar = unsafe { (*subscription.cast::<Header>()).registrar };
    // SAFETY: The allocation is a `KBox` (so `kmalloc`) that `Subscription::new` leaked, that
    // the core hands back exactly once, and whose data needs no drop: `kfree` is all its drop
    // would do. Nothing refers to it any more.
    unsafe { bindings::kfree(subscription.cast_const().cast()) };
    // Last, after the last access to the allocation: the registrar's drop waits for this.
    // SAFETY: The registrar counted this free when the subscription was put
    // (`unlink_for_free`), and its drop waits for it: `registrar` is valid until this returns.
    unsafe { Inner::free_done(registrar) };
}

/// An hlist subscription (`struct mmu_notifier`) carrying data `T`.
///
/// Dropping it unregisters it without waiting (`mmu_notifier_put()`), and without sleeping:
/// the subscription leaves the mm's list, but callbacks that already found it may still start
/// until an SRCU grace period ends, after which the core frees it, `T` included, in an SRCU
/// callback (so `T` must have no drop glue: a build error otherwise). `release` is not called
/// for it, and the driver must stop setting up mappings that the subscription would have to
/// invalidate before it drops it. The module's [`Registrar`](super::Registrar) waits for the
/// frees when it is dropped. [`Subscription::unregister`] waits for the grace period instead.
///
/// # Invariants
///
/// `ptr` points to a `Registered<T>` that stays valid while `self` lives, and that is
/// registered on an mm as long as its link is on the list of `registrar` (until `drop` puts it
/// or `unregister` takes it back, or the registrar's drop unregisters it).
///
/// # Examples
///
/// Counting the invalidations of an address space:
///
/// ```
/// use kernel::mm::mmu_notifier::{End, MmuNotifierOps, Refused, Registrar, Start, Subscription};
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
///     fn invalidate_range_end(&self, _end: End<'_>) {
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
/// let registrar = Registrar::new()?; // The module's, in its `Module` struct.
/// let counter = Subscription::new(
///     &registrar,
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
/// drop(registrar); // Waits for that free.
/// # Ok::<(), Error>(())
/// ```
pub(crate) struct Subscription<T: MmuNotifierOps> {
    ptr: NonNull<Registered<T>>,
    registrar: Arc<Inner>,
}

// SAFETY: The C struct is only touched by the core under its own locking, the link under the
// registrar's lock, and `T` is `Send`.
unsafe impl<T: MmuNotifierOps> Send for Subscription<T> {}
// SAFETY: Shared references only reach `T`, which is `Sync`.
unsafe impl<T: MmuNotifierOps> Sync for Subscription<T> {}

impl<T: MmuNotifierOps> Subscription<T> {
    /// Registers a subscription carrying `data` on `mm` (`mmu_notifier_register()`) through
    /// `registrar` (`ENODEV` if it was dropped).
    ///
    /// Takes the mm's `mmap_lock` for writing and all its rmap locks: the caller must hold no
    /// mm locks. `mm` being an [`MmWithUser`] proves the `mm_users` pin the core requires.
    pub(crate) fn new<E>(
        registrar: &RegistrarRef,
        mm: &MmWithUser,
        data: impl PinInit<T, E>,
    ) -> Result<Self>
    where
        Error: From<E>,
    {
        let inner = registrar.inner().clone();
        let inner_ptr = Arc::as_ptr(&inner);
        let boxed = KBox::<Registered<T>>::pin_init::<Error>(
            try_pin_init!(Registered::<T> {
                header <- pin_init!(Header {
                    // SAFETY: An all-zero `mmu_notifier` is its unhashed initial state; `ops`
                    // is written before registration below.
                    raw <- Opaque::ffi_init(|slot: *mut bindings::mmu_notifier| unsafe {
                        slot.write(pin_init::zeroed());
                        (*slot).ops = Registered::<T>::ops();
                    }),
                    link: Link::new(),
                    registrar: inner_ptr,
                }),
                data <- data,
                _pin: PhantomPinned,
            }? Error),
            GFP_KERNEL,
        )?;
        inner.begin()?;
        // SAFETY: The allocation is handed to the core on success (freed by the core after
        // `mmu_notifier_put()`, by `unregister`, or never once the registrar unregistered it),
        // and taken back just below on failure; its contents never move.
        let ptr = KBox::into_raw(unsafe { Pin::into_inner_unchecked(boxed) });
        // SAFETY: `ptr` is valid and pinned; `raw` is initialised with our ops; `data` is
        // initialised before registration, so callbacks find it ready; `mm` is pinned by
        // `mm_users` for the duration of the call.
        let raw = unsafe { (*ptr).header.raw.get() };
        // SAFETY: As above.
        if let Err(e) = to_result(unsafe { bindings::mmu_notifier_register(raw, mm.as_raw()) }) {
            inner.abort();
            // SAFETY: Registration failed: the core never saw the allocation, which is ours.
            drop(unsafe { KBox::from_raw(ptr) });
            return Err(e);
        }
        // SAFETY: The link is pinned in the allocation, which stays valid until the handle
        // takes it back (`Taken::Ours` or `Taken::Gone`), or until the registrar frees it after
        // the handle's drop; `raw` is registered; the allocation is a `KBox`, which starts with
        // `raw` (`repr(C)`), and `T` needs no drop (`Registered::OPS`).
        if let Err(e) = unsafe { inner.commit(&(*ptr).header.link, Target::Subscription(raw)) } {
            // The registrar was dropped meanwhile: take it back ourselves, then let its drop go
            // on.
            // SAFETY: `raw` is registered, on `mm`; we are not in a callback.
            unsafe { bindings::mmu_notifier_unregister(raw, mm.as_raw()) };
            // SAFETY: Unregistered: the allocation is ours again.
            drop(unsafe { KBox::from_raw(ptr) });
            inner.abort();
            return Err(e);
        }
        // INVARIANT: `raw` is registered and its link is on the registrar's list; `ptr` came
        // from `KBox::into_raw`, so it is non-null.
        Ok(Self {
            // SAFETY: `KBox::into_raw` never returns null.
            ptr: unsafe { NonNull::new_unchecked(ptr) },
            registrar: inner,
        })
    }

    fn registered(&self) -> &Registered<T> {
        // SAFETY: By the type invariant `ptr` points to a valid `Registered<T>`.
        unsafe { self.ptr.as_ref() }
    }

    /// The data carried by the subscription.
    pub(crate) fn data(&self) -> &T {
        &self.registered().data
    }

    /// Bytes the subscription asks of `kmalloc` (its C struct, the registrar's link and `T`):
    /// what a driver accounts for each one.
    pub(crate) const fn allocation_size() -> usize {
        core::mem::size_of::<Registered<T>>()
    }

    /// Unregisters now (`mmu_notifier_unregister()`): calls `release` if the mm has not been
    /// released yet, waits a full SRCU grace period for the callbacks in progress, then frees
    /// the subscription. Sleeps; must not be called from a callback.
    pub(crate) fn unregister(self) {
        might_sleep();
        let this = ManuallyDrop::new(self);
        let header = &this.registered().header;
        let raw = header.raw.get();
        match this.registrar.take(&header.link, false) {
            Taken::Ours => {
                // SAFETY: By the type invariant `raw` is registered (its link was on the list),
                // so the core stored its mm and holds an `mmgrab` reference on it, which
                // `mmu_notifier_unregister` drops after waiting for the callbacks in progress.
                // We are not inside a callback.
                unsafe { bindings::mmu_notifier_unregister(raw, (*raw).mm) };
                // SAFETY: Unregistered, the allocation is ours again (the core frees only what
                // was put), and `this` is never dropped: nothing refers to it any more.
                drop(unsafe { KBox::from_raw(this.ptr.as_ptr()) });
            }
            // The registrar is unregistering it, and frees it.
            Taken::Registrar => (),
            // SAFETY: The registrar unregistered it: the allocation is ours again.
            Taken::Gone => drop(unsafe { KBox::from_raw(this.ptr.as_ptr()) }),
        }
        // SAFETY: The `Arc` is dropped once, here: `this` is never dropped.
        drop(unsafe { core::ptr::read(&this.registrar) });
    }
}

impl<T: MmuNotifierOps> Drop for Subscription<T> {
    fn drop(&mut self) {
        let header = &self.registered().header;
        match self.registrar.take(&header.link, true) {
            // SAFETY: By the type invariant `raw` is registered, with one user (ours). After
            // the put the subscription leaves the mm's list; the core calls
            // `free_notifier_callback` once an SRCU grace period has ended, which frees the
            // allocation and ends the count `take` took.
            Taken::Ours => unsafe { bindings::mmu_notifier_put(header.raw.get()) },
            // The registrar is unregistering it, and frees it.
            Taken::Registrar => (),
            // SAFETY: The registrar unregistered it: the allocation is ours again.
            Taken::Gone => drop(unsafe { KBox::from_raw(self.ptr.as_ptr()) }),
        }
    }
}
