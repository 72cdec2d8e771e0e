// SPDX-License-Identifier: GPL-2.0

//! Interval notifiers with a read side (`struct mmu_interval_notifier`): the invalidations of a
//! range of an address space, the sequence protocol that lets a driver keep a copy of its pages,
//! and two-pass invalidation. Watchers, which keep no copy, are in `watcher.rs`.
//!
//! C header: [include/linux/mmu_notifier.h](srctree/include/linux/mmu_notifier.h)

use super::{
    registrar::{
        Inner,
        Link,
        Revoke,
        Taken,
        Target, //
    },
    Brand,
    Range,
    Refused,
    RegistrarRef, //
};
use crate::mm::helpers;
use core::{
    cell::UnsafeCell,
    marker::{
        PhantomData,
        PhantomPinned, //
    },
    mem::MaybeUninit,
    ops::{
        Deref,
        DerefMut, //
    },
};
use kernel::{
    bindings,
    error::to_result,
    ffi::c_ulong,
    mm::{
        Mm,
        MmWithUser, //
    },
    page::PAGE_MASK,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{
            Acquire,
            Atomic,
            Release, //
        },
        lock::{
            Backend,
            Guard,
            Lock, //
        },
        Arc,
    },
    task::might_sleep,
    types::Opaque,
};

/// Inserts `raw` over `[start, start + len)` of `mm` with `ops` (`mmu_interval_notifier_insert()`)
/// and lists it on the registrar (`EINVAL` for an empty or overflowing range, `ENODEV` once the
/// registrar is dropped).
///
/// # Safety
///
/// `raw` and `link` are fields of one pinned object that stays valid until [`remove`] ran on
/// them; everything `ops` and `revoke` read of that object is initialised, and `revoke` may be
/// called with `raw` (see [`Revoke`]).
pub(super) unsafe fn insert(
    registrar: &Inner,
    link: &Link,
    raw: *mut bindings::mmu_interval_notifier,
    mm: &MmWithUser,
    (start, len): (usize, usize),
    ops: &'static bindings::mmu_interval_notifier_ops,
    revoke: Option<Revoke>,
) -> Result {
    if len == 0 || start.checked_add(len - 1).is_none() {
        return Err(EINVAL);
    }
    registrar.begin()?;
    // SAFETY: `raw` is valid for writes; the core initialises every field it uses, zeroing just
    // avoids exposing uninitialised memory.
    unsafe { raw.write(pin_init::zeroed()) };
    // SAFETY: `raw` is pinned and stays inserted until `remove`; the callbacks find their data
    // ready (the caller's); `mm` is pinned by `mm_users` for the duration of the call; the ops
    // table is `'static`.
    let ret = to_result(unsafe {
        bindings::mmu_interval_notifier_insert(raw, mm.as_raw(), start, len, ops)
    });
    if let Err(e) = ret {
        registrar.abort();
        return Err(e);
    }
    // SAFETY: `link` is pinned and valid until `remove` (the caller's); `raw` is inserted.
    if let Err(e) = unsafe { registrar.commit(link, Target::Interval(raw, revoke)) } {
        // The registrar was dropped meanwhile: take it back ourselves, then let its drop go on.
        // SAFETY: `raw` is inserted, and we are not in one of its callbacks.
        unsafe { bindings::mmu_interval_notifier_remove(raw) };
        registrar.abort();
        return Err(e);
    }
    Ok(())
}

/// Takes `raw` out of the interval tree (`mmu_interval_notifier_remove()`), or waits until the
/// registrar has. Waits for the invalidation in progress (and its finish pass), so sleeps: in
/// process context, never from one of the notifier's own callbacks (a deadlock).
///
/// # Safety
///
/// `raw` and `link` were inserted by [`insert`], which succeeded, and this is called once.
pub(super) unsafe fn remove(
    registrar: &Inner,
    link: &Link,
    raw: *mut bindings::mmu_interval_notifier,
) {
    might_sleep();
    match registrar.take(link, false) {
        // SAFETY: `raw` is inserted (its link was on the list), and only we remove it. The
        // removal drops the insertion's `mmgrab` reference.
        Taken::Ours => unsafe { bindings::mmu_interval_notifier_remove(raw) },
        // The registrar is taking it out of the tree: its memory must stay until that is done.
        Taken::Registrar => registrar.wait_torn_down(),
        Taken::Gone => (),
    }
}

/// The pointer to the object a field of which `slot` points to, for [`insert`].
macro_rules! container_of_raw {
    ($slot:expr, $type:ty, $field:ident) => {
        kernel::container_of!(Opaque::cast_from($slot).cast_mut(), $type, $field)
    };
}

/// What an interval notifier's first pass asks of the core: the proof that the notifier's
/// lock was taken, and so its sequence set, in this very call.
///
/// Only the guard of the notifier's lock taken in `invalidate` makes one
/// ([`InvalidateGuard::done`], [`InvalidateGuard::finish_later`]), and it carries the
/// lifetime of that call: invariant in `'a` and neither `Send` nor `Sync`, it cannot be kept
/// from one call and returned from another. An `invalidate` that accepts an invalidation
/// without setting the sequence is a build error.
#[must_use]
pub(crate) struct Pass<'a> {
    /// Whether the notifier asked for the second pass ([`InvalidateGuard::finish_later`]).
    finish: bool,
    _brand: PhantomData<Brand<'a>>,
}

/// The callbacks of an interval notifier with a read side ([`IntervalNotifier`]).
#[vtable]
pub(crate) trait IntervalNotifierOps: Send + Sync + Sized + 'static {
    /// What the notifier's lock protects: the driver's copy of the pages of its range (a
    /// device page table, a snapshot of pfns).
    type Locked: Send;

    /// The kind of that lock (`kernel::sync::lock::mutex::MutexBackend`, a spinlock's, ...).
    type Backend: Backend;

    /// Called for every invalidation that intersects the interval, before any hlist
    /// subscriber. A blockable invalidation cannot be refused; a non-blocking one may be
    /// ([`NonBlockingInvalidate::refuse`]), and the core then returns `-EAGAIN` without
    /// calling the hlist subscribers.
    ///
    /// Accepting it takes a [`Pass`], which only the notifier's lock taken here makes
    /// ([`InvalidateGuard::done`], or [`InvalidateGuard::finish_later`] for a second pass).
    fn invalidate<'a>(&self, inv: Invalidate<'a, Self>) -> Result<Pass<'a>, Refused<'a>>;

    /// The second pass of an invalidation whose first pass asked for it (two-pass
    /// notifiers, `invalidate_start`/`invalidate_finish` in the core), once every interval
    /// notifier's first pass ran. Runs in the same context as the first pass: the view says
    /// whether it may sleep.
    fn invalidate_finish(&self, _finish: Finish<'_, Self>) {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// A read-side sequence number of an [`IntervalNotifier`] (`mmu_interval_read_begin()`),
/// borrowing the notifier it belongs to: given to another notifier of the same type, it always
/// asks for a retry (and [`IntervalNotifier::hmm_range_fault`] fails with `EINVAL`).
pub(crate) struct ReadSeq<'a, T: IntervalNotifierOps> {
    pub(in crate::mm) seq: c_ulong,
    notifier: &'a IntervalNotifier<T>,
}

impl<T: IntervalNotifierOps> Clone for ReadSeq<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: IntervalNotifierOps> Copy for ReadSeq<'_, T> {}

impl<T: IntervalNotifierOps> ReadSeq<'_, T> {
    /// The number, for display.
    pub(crate) fn value(self) -> usize {
        self.seq
    }
}

/// The range and the context of a first pass, kept for its second pass (the core hands the
/// finish pass nothing else).
#[derive(Clone, Copy)]
struct Record {
    start: usize,
    end: usize,
    blockable: bool,
}

/// The second pass of an invalidation, as `invalidate_finish` sees it.
pub(crate) enum Finish<'a, T: IntervalNotifierOps> {
    /// The first pass was blockable: this one may sleep.
    Blockable(BlockableFinish<'a, T>),
    /// The first pass was non-blocking: this one must not sleep.
    NonBlocking(NonBlockingFinish<'a, T>),
}

impl<T: IntervalNotifierOps> Finish<'_, T> {
    fn record(&self) -> &Record {
        match self {
            Finish::Blockable(b) => &b.record,
            Finish::NonBlocking(nb) => &nb.record,
        }
    }

    /// First address of the range.
    #[expect(dead_code, reason = "API for drivers; this module does not need it")]
    pub(crate) fn start(&self) -> usize {
        self.record().start
    }

    /// First address after the range.
    #[expect(dead_code, reason = "API for drivers; this module does not need it")]
    pub(crate) fn end(&self) -> usize {
        self.record().end
    }
}

/// A second pass that may sleep.
pub(crate) struct BlockableFinish<'a, T: IntervalNotifierOps> {
    notifier: &'a IntervalNotifier<T>,
    record: Record,
}

impl<'a, T: IntervalNotifierOps> BlockableFinish<'a, T> {
    /// Takes the notifier's lock (sleeps). The sequence was set by the first pass.
    #[expect(dead_code, reason = "API for drivers; this module does not need it")]
    pub(crate) fn lock(&self) -> Guard<'a, T::Locked, T::Backend> {
        self.notifier.lock.lock()
    }
}

/// A second pass that must not sleep.
pub(crate) struct NonBlockingFinish<'a, T: IntervalNotifierOps> {
    notifier: &'a IntervalNotifier<T>,
    record: Record,
}

impl<'a, T: IntervalNotifierOps> NonBlockingFinish<'a, T> {
    /// Tries to take the notifier's lock without sleeping.
    #[expect(dead_code, reason = "API for drivers; this module does not need it")]
    pub(crate) fn try_lock(&self) -> Option<Guard<'a, T::Locked, T::Backend>> {
        self.notifier.lock.try_lock()
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
    record: UnsafeCell<MaybeUninit<Record>>,
}

/// An interval subscription (`struct mmu_interval_notifier`) over a range of an address space,
/// carrying data `T` and the driver's lock over `T::Locked`, for a driver that keeps a copy of
/// the pages of the range and so follows the sequence protocol.
///
/// The read side: [`Self::read_begin`], then (without the lock) the look-up of the pages
/// ([`Self::hmm_range_fault`]), then the lock ([`Self::lock`]) and `ReadGuard::pfns` (or, for
/// a look-up of another kind, [`ReadGuard::read_retry`]): if no invalidation collided, what was
/// looked up is current until the lock is dropped. Copies a driver made are not invalidated
/// when the registrar takes a notifier out of the core at unload (no invalidation reaches it
/// any more): drop every notifier before the registrar. The invalidation side: `invalidate`
/// accepts an invalidation only with the lock taken, which records the invalidation's sequence
/// (`mmu_interval_set_seq()`).
///
/// # Invariants
///
/// While its link is on the registrar's list, `raw` is inserted in its mm's interval tree
/// with the ops table of `T`. Once the link is dead (`Link::is_dead`) it is not, or is being
/// taken out, and the notifier's lock was taken and released after the link died. `mm` is
/// `raw`'s mm, held (`mmgrab`) for as long as the notifier exists, whoever removes it.
///
/// # Examples
///
/// A device's mirror of one page (`lib/test_hmm.c`'s dmirror, in Rust): the read side takes a
/// snapshot with the sequence protocol, and every invalidation clears it under the same lock.
///
/// ```
/// use kernel::mm::mmu_notifier::{
///     IntervalNotifier, IntervalNotifierOps, Invalidate, Pass, Refused, Registrar,
/// };
/// use kernel::{new_mutex, page::PAGE_SIZE, sync::lock::mutex::MutexBackend};
///
/// /// The page's pfn as the device sees it, or 0.
/// struct OnePage;
///
/// #[vtable]
/// impl IntervalNotifierOps for OnePage {
///     type Locked = usize;
///     type Backend = MutexBackend;
///
///     fn invalidate<'a>(&self, inv: Invalidate<'a, Self>) -> Result<Pass<'a>, Refused<'a>> {
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
///         Ok(pfn.done())
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
/// let registrar = Registrar::new()?; // The module's, in its `Module` struct.
/// let notifier = KBox::pin_init(
///     IntervalNotifier::new(&registrar, mm, addr, PAGE_SIZE, OnePage, new_mutex!(0, "one_page")),
///     GFP_KERNEL,
/// )?;
/// loop {
///     let seq = notifier.read_begin()?;
///     let mut pfns = [0usize; 1];
///     let faulted = match notifier.hmm_range_fault(mm, seq, addr, &mut pfns) {
///         Err(e) if e == EBUSY => continue, // An invalidation came in between.
///         r => r?,
///     };
///     let mut pfn = notifier.lock();
///     let Some(current) = pfn.pfns(faulted) else {
///         continue; // Invalidated since `read_begin`: the pfn may be stale.
///     };
///     *pfn = current[0]; // Valid until the next invalidation.
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
    lock: Lock<T::Locked, T::Backend>,
    #[pin]
    finish: FinishSlot,
    registrar: Arc<Inner>,
    #[pin]
    link: Link,
    mm: ARef<Mm>,
    pub(in crate::mm) start: usize,
    pub(in crate::mm) len: usize,
    #[pin]
    raw: Opaque<bindings::mmu_interval_notifier>,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: The C structs are only touched by the core under its own locking, the link under
// the registrar's lock (and its `dead` flag atomically), the mm through its refcount, `T` is
// `Send`, and `T::Locked` is `Send` behind its lock.
unsafe impl<T: IntervalNotifierOps> Send for IntervalNotifier<T> {}
// SAFETY: Shared references reach `T` (`Sync`), the locked data only through its lock, the
// finish slot only from callbacks, through its atomic, and the link only under the registrar's
// lock.
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

    /// Initialises `data` and the lock, then inserts an interval subscription over
    /// `[start, start + len)` of `mm` (`mmu_interval_notifier_insert()`) through `registrar`
    /// (`EINVAL` for an empty or overflowing range, `ENODEV` once the registrar is dropped).
    ///
    /// `lock` is the driver's: a `new_mutex!(data, "name")`, or another kind of lock, with
    /// the name and the lockdep class of the call site.
    ///
    /// The notifier may not be in the interval tree yet when this returns (the core defers an
    /// insertion while the tree is invalidating): [`Self::read_begin`] waits until it is.
    /// Takes the mm's `mmap_lock` on the first insertion on an mm: the caller must hold no mm
    /// locks.
    pub(crate) fn new<'a, E>(
        registrar: &'a RegistrarRef,
        mm: &'a MmWithUser,
        start: usize,
        len: usize,
        data: impl PinInit<T, E> + 'a,
        lock: impl PinInit<Lock<T::Locked, T::Backend>> + 'a,
    ) -> impl PinInit<Self, Error> + 'a
    where
        Error: From<E>,
    {
        // The field `mm` shadows the argument inside the initialiser.
        let (first, bytes, user) = (start, len, mm);
        try_pin_init!(Self {
            data <- data,
            lock <- lock,
            finish <- pin_init!(FinishSlot {
                raw: Opaque::zeroed(),
                busy: Atomic::new(false),
                record: UnsafeCell::new(MaybeUninit::uninit()),
            }),
            registrar: registrar.inner().clone(),
            link: Link::new(),
            mm: ARef::from(&**mm),
            start,
            len,
            raw <- Opaque::try_ffi_init(move |slot: *mut bindings::mmu_interval_notifier| {
                // SAFETY: `slot` is the `raw` field of the `Self` being initialised.
                let this = unsafe { container_of_raw!(slot, Self, raw) };
                // SAFETY: Every field before `raw` is initialised (in order), `this` is pinned
                // (an initialiser's slot), and `drop` removes what `insert` inserted.
                unsafe {
                    insert(
                        &(*this).registrar,
                        &(*this).link,
                        slot,
                        user,
                        (first, bytes),
                        Self::ops(),
                        Some(Self::revoke),
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
        lock: impl PinInit<Lock<T::Locked, T::Backend>> + 'a,
    ) -> impl PinInit<Self, Error> + 'a
    where
        Error: From<E>,
    {
        Self::new(registrar, mm, 0, usize::MAX & PAGE_MASK, data, lock)
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

    /// Whether the notifier is on `mm`.
    pub(crate) fn is_on(&self, mm: &Mm) -> bool {
        self.mm.as_raw() == mm.as_raw()
    }

    pub(in crate::mm) fn raw(&self) -> *mut bindings::mmu_interval_notifier {
        self.raw.get()
    }

    /// Whether the module's registrar took the notifier out of the core.
    pub(in crate::mm) fn is_dead(&self) -> bool {
        self.link.is_dead()
    }

    /// Whether `seq` was begun on this notifier.
    pub(in crate::mm) fn owns(&self, seq: ReadSeq<'_, T>) -> bool {
        core::ptr::eq(seq.notifier, self)
    }

    /// Begins a read-side critical section (`mmu_interval_read_begin()`): waits until the
    /// notifier is live in the interval tree and no invalidation it might have missed is in
    /// progress, then returns the sequence number to check with [`ReadGuard::read_retry`].
    /// `ENODEV` once the module's registrar took the notifier out of the core (the notifier
    /// sees no invalidation any more, so nothing read could be trusted).
    ///
    /// Right after [`Self::new`] the notifier may not be in the tree yet; once this returns,
    /// it is. Sleeps uninterruptibly for as long as the invalidations in progress on the mm
    /// last: forever on an mm whose interval-tree pass was left open (an hlist subscriber that
    /// refused a non-blockable start after the interval notifiers accepted it, on a kernel
    /// without the fix). Must not be called from a callback, nor with the notifier's lock or
    /// another lock a callback takes held.
    pub(crate) fn read_begin(&self) -> Result<ReadSeq<'_, T>> {
        might_sleep();
        if self.link.is_dead() {
            return Err(ENODEV);
        }
        // SAFETY: `raw` was inserted, so its `mm` is set, and `self.mm` holds that mm (and so
        // its subscriptions, freed only by the last `mmdrop`) even if the registrar removed
        // `raw` meanwhile: the core then answers at once or after the invalidation in progress.
        // The caller is not inside a callback.
        let seq = unsafe { bindings::mmu_interval_read_begin(self.raw()) };
        Ok(ReadSeq {
            seq,
            notifier: self,
        })
    }

    /// Whether an invalidation has already collided with the read side begun at `seq`
    /// (`mmu_interval_check_retry()`): `true` is certain, `false` is only a hint. Needs no
    /// lock; use it to give up early in a long read side. Always `true` once the registrar
    /// took the notifier out of the core.
    pub(crate) fn check_retry(&self, seq: ReadSeq<'_, T>) -> bool {
        if !self.owns(seq) || self.link.is_dead() {
            return true;
        }
        // SAFETY: `raw` is valid (it lives as long as `self`); the helper only reads
        // `invalidate_seq` with `READ_ONCE`.
        unsafe { helpers::mmu_interval_check_retry(self.raw(), seq.seq) }
    }

    /// The dropped registrar's [`Revoke`]: its link is dead; taking and releasing the lock makes
    /// every read side that takes it later see that ([`ReadGuard::read_retry`]).
    ///
    /// # Safety
    ///
    /// As for [`Revoke`]: `raw` is the `raw` field of a live `IntervalNotifier<T>`.
    unsafe fn revoke(raw: *mut bindings::mmu_interval_notifier) {
        // SAFETY: The caller's.
        let this = unsafe { Self::from_raw(raw) };
        drop(this.lock.lock());
    }

    /// Takes the notifier's lock on the read side, the one `invalidate` holds while it records
    /// its sequence number (see [`InvalidateGuard`]). Sleeps if the lock does.
    pub(crate) fn lock(&self) -> ReadGuard<'_, T> {
        ReadGuard {
            notifier: self,
            guard: self.lock.lock(),
        }
    }

    /// Recovers the notifier of a subscription handed to a callback.
    ///
    /// # Safety
    ///
    /// `raw` must be the `raw` field of a live `IntervalNotifier<T>`.
    unsafe fn from_raw<'a>(raw: *mut bindings::mmu_interval_notifier) -> &'a Self {
        // SAFETY: `Opaque<X>` has the layout of `X`; the caller guarantees the field lies inside
        // a live `Self`.
        unsafe { &*container_of_raw!(raw, Self, raw) }
    }

    /// Runs `T::invalidate` on the view of the range its context allows.
    fn invalidate_view<'a>(
        &'a self,
        range: &'a Range,
        cur_seq: c_ulong,
    ) -> Result<Pass<'a>, Refused<'a>> {
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

    /// Runs `T::invalidate_finish` on the view of the record's context.
    fn finish_view(&self, record: Record) {
        let finish = if record.blockable {
            Finish::Blockable(BlockableFinish {
                notifier: self,
                record,
            })
        } else {
            Finish::NonBlocking(NonBlockingFinish {
                notifier: self,
                record,
            })
        };
        self.data.invalidate_finish(finish);
    }

    /// # Safety
    ///
    /// Called by the core with a notifier inserted by [`Self::new`] and a valid range, of a
    /// live mm, that lives for the call.
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
        if !pass.finish {
            return true;
        }
        let record = Record {
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
            this.finish_view(record);
            return true;
        }
        // SAFETY: `busy` was false and is ours now: nobody reads or writes `record` until the
        // finish pass clears it (type invariant of `FinishSlot`).
        unsafe { (*slot.record.get()).write(record) };
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
        let slot = unsafe { container_of_raw!(finish, FinishSlot, raw) };
        // SAFETY: The slot is the `finish` field of a live `IntervalNotifier<T>` (see above).
        let this = unsafe { &*kernel::container_of!(slot, Self, finish) };
        let slot = &this.finish;
        // SAFETY: The first pass wrote `record` before handing the slot to the core, and holds
        // it (`busy`) until we clear it below.
        let record = unsafe { (*slot.record.get()).assume_init() };
        // Release: our read of `record` happens before the next first pass takes the slot.
        slot.busy.store(false, Release);
        this.finish_view(record);
    }
}

#[pinned_drop]
impl<T: IntervalNotifierOps> PinnedDrop for IntervalNotifier<T> {
    /// Removes the notifier (`mmu_interval_notifier_remove()`): waits for the invalidation in
    /// progress and its finish pass, so sleeps (`might_sleep()` says so even when nothing is
    /// in progress). Never drop the last owner under a spinlock, nor from one of the
    /// notifier's own callbacks.
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: `new` inserted `raw` and listed `link` (a value only exists if it did), and
        // this runs once. A `Subscription`'s data, the only thing the core drops in atomic
        // context, has no drop glue, so it cannot own a notifier.
        unsafe { remove(&self.registrar, &self.link, self.raw.get()) };
    }
}

/// The notifier's lock held on the read side ([`IntervalNotifier::lock`]).
pub(crate) struct ReadGuard<'a, T: IntervalNotifierOps> {
    notifier: &'a IntervalNotifier<T>,
    guard: Guard<'a, T::Locked, T::Backend>,
}

impl<T: IntervalNotifierOps> ReadGuard<'_, T> {
    /// Ends a read-side critical section begun at `seq` (`mmu_interval_read_retry()`): `true`
    /// if an invalidation collided with it, and what was read must be read again. The lock
    /// held is the one every `invalidate` holds while it records its sequence number.
    ///
    /// Always `true` once the module's registrar took the notifier out of the core: no
    /// invalidation reaches it any more. (The registrar marks it dead, then takes and releases
    /// this lock before the removal, so under the lock the mark is seen.)
    pub(crate) fn read_retry(&self, seq: ReadSeq<'_, T>) -> bool {
        if !self.notifier.owns(seq) || self.notifier.link.is_dead() {
            return true;
        }
        // SAFETY: `raw` is valid (it lives as long as the notifier) and was inserted; we hold
        // the lock under which every `mmu_interval_set_seq()` is called ([`InvalidateGuard`]).
        unsafe { helpers::mmu_interval_read_retry(self.notifier.raw(), seq.seq) }
    }
}

impl<T: IntervalNotifierOps> Deref for ReadGuard<'_, T> {
    type Target = T::Locked;

    fn deref(&self) -> &T::Locked {
        &self.guard
    }
}

impl<T: IntervalNotifierOps> DerefMut for ReadGuard<'_, T>
where
    T::Locked: Unpin,
{
    fn deref_mut(&mut self) -> &mut T::Locked {
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

    /// Takes the notifier's lock (sleeps if the lock does) and records the invalidation's
    /// sequence number ([`InvalidateGuard`]).
    pub(crate) fn lock(self) -> InvalidateGuard<'a, T> {
        InvalidateGuard::new(
            self.notifier,
            self.range,
            self.cur_seq,
            self.notifier.lock.lock(),
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
    #[expect(dead_code, reason = "API for drivers; this module does not need it")]
    pub(crate) fn range(&self) -> &'a Range {
        self.range
    }

    /// Tries to take the notifier's lock without sleeping, and records the invalidation's
    /// sequence number ([`InvalidateGuard`]); gives the invalidation back if the lock is
    /// contended (refuse it then: it cannot be accepted without the lock).
    pub(crate) fn try_lock(self) -> Result<InvalidateGuard<'a, T>, Self> {
        match self.notifier.lock.try_lock() {
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
/// [`ReadGuard::read_retry`] return `true`. This is the only place the sequence is set, and
/// the only way to a [`Pass`], so it can neither be forgotten nor set outside `invalidate` or
/// without the lock.
pub(crate) struct InvalidateGuard<'a, T: IntervalNotifierOps> {
    range: &'a Range,
    guard: Guard<'a, T::Locked, T::Backend>,
}

impl<'a, T: IntervalNotifierOps> InvalidateGuard<'a, T> {
    /// Records `cur_seq` with the notifier's lock held (`guard`).
    fn new(
        notifier: &'a IntervalNotifier<T>,
        range: &'a Range,
        cur_seq: c_ulong,
        guard: Guard<'a, T::Locked, T::Backend>,
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

    /// Accepts the invalidation, complete: no second pass. Drops the lock.
    pub(crate) fn done(self) -> Pass<'a> {
        Pass {
            finish: false,
            _brand: PhantomData,
        }
    }

    /// Accepts the invalidation and asks for the second pass (`invalidate_finish`) once every
    /// interval notifier's first pass ran; drops the lock. A build error unless `T` implements
    /// `invalidate_finish`.
    pub(crate) fn finish_later(self) -> Pass<'a> {
        const {
            assert!(
                T::HAS_INVALIDATE_FINISH,
                "finish_later needs an implementation of invalidate_finish"
            )
        };
        Pass {
            finish: true,
            _brand: PhantomData,
        }
    }
}

impl<T: IntervalNotifierOps> Deref for InvalidateGuard<'_, T> {
    type Target = T::Locked;

    fn deref(&self) -> &T::Locked {
        &self.guard
    }
}

impl<T: IntervalNotifierOps> DerefMut for InvalidateGuard<'_, T>
where
    T::Locked: Unpin,
{
    fn deref_mut(&mut self) -> &mut T::Locked {
        &mut self.guard
    }
}
