// SPDX-License-Identifier: GPL-2.0

//! Interval notifiers (`struct mmu_interval_notifier`): the invalidations of a range of an
//! address space, the sequence protocol that lets a driver mirror its pages, and two-pass
//! invalidation.
//!
//! C header: [include/linux/mmu_notifier.h](srctree/include/linux/mmu_notifier.h)

use super::{
    Range,
    Refused, //
};
use crate::mm::helpers;
use core::{
    marker::PhantomPinned,
    ops::{
        Deref,
        DerefMut, //
    },
};
use kernel::{
    bindings,
    error::to_result,
    ffi::c_ulong,
    mm::MmWithUser,
    new_mutex,
    page::PAGE_MASK,
    prelude::*,
    sync::{
        atomic::{
            Acquire,
            Atomic,
            Release, //
        },
        Mutex,
        MutexGuard, //
    },
    types::Opaque,
};

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
    pub(in crate::mm) seq: c_ulong,
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
    pub(in crate::mm) start: usize,
    pub(in crate::mm) len: usize,
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

    pub(in crate::mm) fn raw(&self) -> *mut bindings::mmu_interval_notifier {
        self.raw.get()
    }

    /// Whether `seq` was begun on this notifier.
    pub(in crate::mm) fn owns(&self, seq: ReadSeq) -> bool {
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
