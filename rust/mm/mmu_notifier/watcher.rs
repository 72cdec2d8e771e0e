// SPDX-License-Identifier: GPL-2.0

//! Interval watchers: interval notifiers (`struct mmu_interval_notifier`) without a read side,
//! which watch, and may refuse, the invalidations of a range and keep no copy of its pages.
//!
//! C header: [include/linux/mmu_notifier.h](srctree/include/linux/mmu_notifier.h)

use super::{
    interval::{
        insert,
        remove, //
    },
    registrar::{
        Inner,
        Link, //
    },
    Range,
    Refused,
    RegistrarRef, //
};
use core::marker::PhantomPinned;
use kernel::{
    bindings,
    ffi::c_ulong,
    mm::{
        Mm,
        MmWithUser, //
    },
    page::PAGE_MASK,
    prelude::*,
    sync::{
        aref::ARef,
        Arc, //
    },
    task::might_sleep,
    types::Opaque,
};

/// The callback of an interval notifier without a read side ([`IntervalWatcher`]).
pub(crate) trait IntervalWatcherOps: Send + Sync + Sized + 'static {
    /// Called for every invalidation that intersects the interval, before any hlist
    /// subscriber. A blockable invalidation cannot be refused; a non-blocking one may be
    /// ([`NonBlockingWatch::refuse`]), and the core then returns `-EAGAIN` without calling the
    /// hlist subscribers, and closes its interval-tree pass itself.
    fn invalidate<'a>(&self, inv: Watch<'a>) -> Result<(), Refused<'a>>;
}

/// An invalidation of a watcher's interval, as `invalidate` sees it.
pub(crate) enum Watch<'a> {
    /// The callback may sleep; the invalidation cannot be refused.
    Blockable(&'a Range),
    /// The OOM reaper or `process_mrelease(2)`: the callback must not sleep.
    NonBlocking(NonBlockingWatch<'a>),
}

impl<'a> Watch<'a> {
    /// The range, whatever the view.
    #[expect(dead_code, reason = "API for drivers; this module does not need it")]
    pub(crate) fn range(&self) -> &'a Range {
        match self {
            Watch::Blockable(range) => range,
            Watch::NonBlocking(nb) => nb.range,
        }
    }
}

/// A non-blocking invalidation handed to a watcher.
pub(crate) struct NonBlockingWatch<'a> {
    range: &'a Range,
}

impl<'a> NonBlockingWatch<'a> {
    /// The range.
    pub(crate) fn range(&self) -> &'a Range {
        self.range
    }

    /// Refuses the invalidation: the core returns `-EAGAIN` without calling the hlist
    /// subscribers, and closes its interval-tree pass itself.
    pub(crate) fn refuse(self) -> Refused<'a> {
        Refused::new()
    }
}

/// An interval subscription (`struct mmu_interval_notifier`) that keeps no copy of the pages
/// of its range: it watches, and may refuse, the invalidations of the range, and has no read
/// side, so no lock and no sequence to record (`mmu_interval_set_seq()` "is not required" when
/// `mmu_interval_read_begin()`/`mmu_interval_read_retry()` are not used).
///
/// # Invariants
///
/// While its link is on the registrar's list, `raw` is inserted in its mm's interval tree
/// with the ops table of `T`; once the link is dead it is not, or is being taken out. `mm` is
/// `raw`'s mm. The notifier's `invalidate_seq` is never written after the insertion.
///
/// # Examples
///
/// ```
/// use kernel::mm::mmu_notifier::{IntervalWatcher, IntervalWatcherOps, Refused, Registrar, Watch};
/// use kernel::sync::atomic::{Atomic, Relaxed};
///
/// /// Refuses every non-blocking invalidation of the address space.
/// struct NoReaping {
///     refused: Atomic<u64>,
/// }
///
/// impl IntervalWatcherOps for NoReaping {
///     fn invalidate<'a>(&self, inv: Watch<'a>) -> Result<(), Refused<'a>> {
///         match inv {
///             Watch::Blockable(_) => Ok(()),
///             Watch::NonBlocking(nb) => {
///                 self.refused.add(1, Relaxed);
///                 Err(nb.refuse())
///             }
///         }
///     }
/// }
///
/// # // The KUnit thread has no address space: give it one.
/// # // SAFETY: A KUnit test thread may attach an mm to itself.
/// # kernel::error::to_result(unsafe { kernel::bindings::kunit_attach_mm() })?;
/// # let current = kernel::current!();
/// # let mm = current.mm().ok_or(EINVAL)?;
/// let registrar = Registrar::new()?; // The module's, in its `Module` struct.
/// let watcher = KBox::pin_init(
///     IntervalWatcher::whole_address_space(
///         &registrar,
///         mm,
///         NoReaping {
///             refused: Atomic::new(0),
///         },
///     ),
///     GFP_KERNEL,
/// )?;
/// watcher.wait_live(); // In the tree: it sees every invalidation from now on.
/// assert_eq!(watcher.data().refused.load(Relaxed), 0);
/// # Ok::<(), Error>(())
/// ```
#[pin_data(PinnedDrop)]
pub(crate) struct IntervalWatcher<T: IntervalWatcherOps> {
    #[pin]
    data: T,
    registrar: Arc<Inner>,
    #[pin]
    link: Link,
    /// `raw`'s mm, held for as long as the watcher exists, whoever removes it.
    mm: ARef<Mm>,
    start: usize,
    len: usize,
    #[pin]
    raw: Opaque<bindings::mmu_interval_notifier>,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: As for `IntervalNotifier`: the C struct belongs to the core, the link to the
// registrar's lock, the mm to its refcount, and `T` is `Send`.
unsafe impl<T: IntervalWatcherOps> Send for IntervalWatcher<T> {}
// SAFETY: Shared references only reach `T`, which is `Sync`.
unsafe impl<T: IntervalWatcherOps> Sync for IntervalWatcher<T> {}

impl<T: IntervalWatcherOps> IntervalWatcher<T> {
    const OPS: bindings::mmu_interval_notifier_ops = bindings::mmu_interval_notifier_ops {
        invalidate: Some(Self::invalidate_callback),
        ..pin_init::zeroed()
    };

    /// Initialises `data`, then inserts an interval subscription over `[start, start + len)` of
    /// `mm` (`mmu_interval_notifier_insert()`) through `registrar` (`EINVAL` for an empty or
    /// overflowing range, `ENODEV` once the registrar is dropped).
    ///
    /// The watcher may not be in the interval tree yet when this returns (the core defers an
    /// insertion while the tree is invalidating): [`Self::wait_live`] waits until it is. Takes
    /// the mm's `mmap_lock` on the first insertion on an mm: the caller must hold no mm locks.
    pub(crate) fn new<'a, E>(
        registrar: &'a RegistrarRef,
        mm: &'a MmWithUser,
        start: usize,
        len: usize,
        data: impl PinInit<T, E> + 'a,
    ) -> impl PinInit<Self, Error> + 'a
    where
        Error: From<E>,
    {
        // The field `mm` shadows the argument inside the initialiser.
        let (first, bytes, user) = (start, len, mm);
        try_pin_init!(Self {
            data <- data,
            registrar: registrar.inner().clone(),
            link: Link::new(),
            mm: ARef::from(&**mm),
            start,
            len,
            raw <- Opaque::try_ffi_init(move |slot: *mut bindings::mmu_interval_notifier| {
                // SAFETY: `slot` is the `raw` field of the `Self` being initialised.
                let this = unsafe {
                    kernel::container_of!(Opaque::cast_from(slot).cast_mut(), Self, raw)
                };
                // SAFETY: Every field before `raw` is initialised (in order), `this` is pinned
                // (an initialiser's slot), and `drop` removes what `insert` inserted.
                unsafe {
                    insert(
                        &(*this).registrar,
                        &(*this).link,
                        slot,
                        user,
                        (first, bytes),
                        &Self::OPS,
                        None,
                    )
                }
            }),
            _pin: PhantomPinned,
        }? Error)
    }

    /// [`Self::new`] over the whole user address space (`0` to `ULONG_MAX & PAGE_MASK`).
    pub(crate) fn whole_address_space<'a, E>(
        registrar: &'a RegistrarRef,
        mm: &'a MmWithUser,
        data: impl PinInit<T, E> + 'a,
    ) -> impl PinInit<Self, Error> + 'a
    where
        Error: From<E>,
    {
        Self::new(registrar, mm, 0, usize::MAX & PAGE_MASK, data)
    }

    /// The data carried by the watcher.
    #[expect(dead_code, reason = "API for drivers; this module does not need it")]
    pub(crate) fn data(&self) -> &T {
        &self.data
    }

    /// First address of the interval.
    #[expect(dead_code, reason = "API for drivers; this module does not need it")]
    pub(crate) fn start(&self) -> usize {
        self.start
    }

    /// Size of the interval, in bytes (never zero).
    #[expect(dead_code, reason = "API for drivers; this module does not need it")]
    pub(crate) fn size(&self) -> usize {
        self.len
    }

    /// Whether the watcher watches `mm`.
    #[expect(dead_code, reason = "API for drivers; this module does not need it")]
    pub(crate) fn is_on(&self, mm: &Mm) -> bool {
        self.mm.as_raw() == mm.as_raw()
    }

    /// Waits until the watcher is in the interval tree, and so sees every invalidation that
    /// starts from then on (`mmu_interval_read_begin()`, whose sequence a watcher never sets:
    /// it waits only while the insertion is deferred behind the invalidation in progress, and
    /// never again). Sleeps uninterruptibly for as long as that invalidation lasts: forever on
    /// an mm whose interval-tree pass was left open. Must not be called from a callback.
    /// Returns immediately when the module's registrar has taken the watcher out of the core.
    pub(crate) fn wait_live(&self) {
        might_sleep();
        if self.link.is_dead() {
            return;
        }
        // SAFETY: `raw` was inserted, so its `mm` is set, and `self.mm` holds that mm (and its
        // subscriptions) even if the registrar removed `raw` meanwhile. The caller is not inside
        // a callback.
        unsafe { bindings::mmu_interval_read_begin(self.raw.get()) };
    }

    /// # Safety
    ///
    /// Called by the core with a watcher inserted by [`Self::new`] and a valid range that
    /// lives for the call.
    unsafe extern "C" fn invalidate_callback(
        subscription: *mut bindings::mmu_interval_notifier,
        range: *const bindings::mmu_notifier_range,
        _cur_seq: c_ulong,
    ) -> bool {
        // SAFETY: The core only calls our ops with our watcher, and removal waits for running
        // callbacks before the value is freed; `Opaque<X>` has the layout of `X`.
        let this = unsafe {
            &*kernel::container_of!(Opaque::cast_from(subscription).cast_mut(), Self, raw)
        };
        // SAFETY: The core lends the range for the duration of this call.
        let range = unsafe { Range::from_raw(range) };
        let inv = if range.blockable() {
            Watch::Blockable(range)
        } else {
            Watch::NonBlocking(NonBlockingWatch { range })
        };
        this.data.invalidate(inv).is_ok()
    }
}

#[pinned_drop]
impl<T: IntervalWatcherOps> PinnedDrop for IntervalWatcher<T> {
    /// Removes the watcher (`mmu_interval_notifier_remove()`): sleeps, as for
    /// [`IntervalNotifier`](super::IntervalNotifier).
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: `new` inserted `raw` and listed `link`, and this runs once.
        unsafe { remove(&self.registrar, &self.link, self.raw.get()) };
    }
}
