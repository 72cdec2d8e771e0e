// SPDX-License-Identifier: GPL-2.0

//! The registrar: every notifier a module registers, so that unloading it is safe.
//!
//! A notifier's callbacks are module text, and so is the ops table the core reads them from.
//! The core may call them as long as the notifier is registered, and, for an hlist
//! subscription dropped with `mmu_notifier_put()`, until an SRCU callback has freed it.
//! Neither may outlast the module. A [`Registrar`], owned by the module, lists every live
//! registration: dropping it, at unload, removes from the core what a leaked handle left
//! registered (`mem::forget` is safe), then waits, on a completion, until the free callback of
//! every subscription put so far has run.
//!
//! A registration taken out of the core by the registrar stays valid for its handle, if it
//! has one: an interval notifier's memory is its handle's, which waits for the registrar
//! before freeing it; a subscription's is freed by whichever of the registrar and the handle
//! is done with it last (never, if the handle was leaked). Its link is dead from then on: an
//! interval notifier, which holds its own reference on its mm, answers its read side with
//! "retry" and `ENODEV`, since no invalidation reaches it any more.
//!
//! The registrar is what makes unloading safe, as long as it is dropped at unload: it belongs
//! in the module's `Module` struct. Nothing in its type enforces that; a registrar leaked with
//! `mem::forget`, or made outside `init` and never dropped, leaves its registrations in the
//! core after the module is gone.
//!
//! C header: [include/linux/mmu_notifier.h](srctree/include/linux/mmu_notifier.h)

use core::{
    cell::UnsafeCell,
    marker::PhantomPinned,
    ops::Deref,
    ptr::{
        self,
        NonNull, //
    },
};
use kernel::{
    bindings, new_spinlock,
    prelude::*,
    sync::{
        atomic::{
            Acquire,
            Atomic,
            Relaxed,
            Release, //
        },
        Arc,
        Completion,
        SpinLock, //
    },
    task::might_sleep,
};

/// What a [`Link`] stands for: the C struct the registrar removes from the core.
#[derive(Clone, Copy)]
pub(super) enum Target {
    /// A registered `struct mmu_notifier`: `mmu_notifier_unregister()`.
    Subscription(*mut bindings::mmu_notifier),
    /// An inserted `struct mmu_interval_notifier`: `mmu_interval_notifier_remove()`, after
    /// `revoke`, if any, was called on it.
    Interval(*mut bindings::mmu_interval_notifier, Option<Revoke>),
}

/// Called by the dropped registrar on an interval notifier it is about to take out of the core,
/// after marking its link dead (`Link::is_dead`): takes and releases the notifier's lock, so
/// that every read side that takes it from then on sees the link dead.
///
/// # Safety
///
/// The argument is an inserted notifier whose memory stays valid for the call, and the caller
/// holds no lock its notifier's lock nests in.
pub(super) type Revoke = unsafe fn(*mut bindings::mmu_interval_notifier);

/// A registration's entry in its registrar's list.
///
/// # Invariants
///
/// `state` is only read or written with the registrar's lock held. While `state.stage` is
/// [`Stage::Linked`], the link is on the list, pinned, and its target is registered with the
/// core.
pub(super) struct Link {
    state: UnsafeCell<LinkState>,
    /// Set, for good, when the dropped registrar takes the link off its list to take its target
    /// out of the core: the handle's registration is gone, although the handle lives on.
    dead: Atomic<bool>,
    _pin: PhantomPinned,
}

/// Who a registration belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Not on the list: its handle's, and not registered (yet, or any more).
    Idle,
    /// On the list, registered: its handle takes it out of the core when dropped.
    Linked,
    /// Taken off the list by the registrar's drop, which is taking it out of the core.
    TearingDown,
    /// As `TearingDown`, and its handle was dropped meanwhile: the registrar frees it.
    Orphaned,
    /// Taken out of the core by the registrar; the handle frees it.
    Gone,
}

struct LinkState {
    prev: *const Link,
    next: *const Link,
    stage: Stage,
    target: Option<Target>,
}

impl Link {
    /// A link that is on no list.
    pub(super) fn new() -> Self {
        Self {
            state: UnsafeCell::new(LinkState {
                prev: ptr::null(),
                next: ptr::null(),
                stage: Stage::Idle,
                target: None,
            }),
            dead: Atomic::new(false),
            _pin: PhantomPinned,
        }
    }

    /// Whether the dropped registrar took the registration out of the core (or is doing so):
    /// the core no longer calls it, so a read side must not trust it any more.
    pub(super) fn is_dead(&self) -> bool {
        // Acquire: pairs with the release in `Inner::pop`.
        self.dead.load(Acquire)
    }
}

/// What became of a registration its handle takes back ([`Inner::take`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Taken {
    /// It was registered and is the handle's again: the handle takes it out of the core.
    Ours,
    /// The registrar is taking it out of the core; a subscription's memory is the registrar's
    /// to free, an interval notifier's must stay until [`Inner::wait_torn_down`] returns.
    Registrar,
    /// The registrar took it out of the core: the handle frees it.
    Gone,
}

/// The registrar's list and whether it still takes registrations.
struct List {
    first: *const Link,
    closed: bool,
}

// SAFETY: The list only holds pointers to pinned links, whose state only the holder of the lock
// touches, from any thread.
unsafe impl Send for List {}

impl List {
    /// # Safety
    ///
    /// The caller holds the lock (`self` is its guarded data); `link` is pinned, on no list, and
    /// stays valid until it is taken off the list.
    unsafe fn push(&mut self, link: &Link, target: Target) {
        // SAFETY: The lock is held (caller), so nobody else touches the states.
        let s = unsafe { &mut *link.state.get() };
        s.prev = ptr::null();
        s.next = self.first;
        s.stage = Stage::Linked;
        s.target = Some(target);
        if let Some(first) = NonNull::new(self.first.cast_mut()) {
            // SAFETY: `first` is on the list, so it is a live, pinned link (type invariant),
            // and the lock is held.
            unsafe { (*first.as_ref().state.get()).prev = link };
        }
        self.first = link;
    }

    /// Takes `link`, which is on the list, off it, and sets its stage.
    ///
    /// # Safety
    ///
    /// The caller holds the lock; `link` is [`Stage::Linked`].
    unsafe fn unlink(&mut self, link: &Link, stage: Stage) {
        // SAFETY: The lock is held (caller).
        let s = unsafe { &mut *link.state.get() };
        if s.prev.is_null() {
            self.first = s.next;
        } else {
            // SAFETY: A neighbour on the list is a live, pinned link; the lock is held.
            unsafe { (*(*s.prev).state.get()).next = s.next };
        }
        if !s.next.is_null() {
            // SAFETY: As above.
            unsafe { (*(*s.next).state.get()).prev = s.prev };
        }
        s.prev = ptr::null();
        s.next = ptr::null();
        s.stage = stage;
    }
}

/// The shared part of a [`Registrar`], pinned in an `Arc` that every handle of a registration
/// holds, so that a handle dropped after the registrar still finds it.
///
/// # Invariants
///
/// `pending` is one (the registrar's own count) plus the registrations in progress plus the
/// subscriptions put and not freed yet, until the registrar is dropped, which takes its one
/// away; `freed` is completed when it reaches zero. `torn_down` is completed once the dropped
/// registrar has taken every registration left on its list out of the core.
#[pin_data]
pub(super) struct Inner {
    #[pin]
    list: SpinLock<List>,
    pending: Atomic<usize>,
    #[pin]
    freed: Completion,
    #[pin]
    torn_down: Completion,
}

impl Inner {
    /// Counts a registration that is about to start: `ENODEV` once the registrar is dropped.
    pub(super) fn begin(&self) -> Result {
        let list = self.list.lock();
        if list.closed {
            return Err(ENODEV);
        }
        // Relaxed: the registrar's drop reads the count after taking the lock.
        self.pending.add(1, Relaxed);
        Ok(())
    }

    /// Lists a registration [`Self::begin`] counted, now registered with the core as `target`,
    /// and ends its count. `ENODEV` if the registrar was dropped meanwhile: the caller must
    /// then take it back from the core itself, and only then end the count ([`Self::abort`]),
    /// so that the registrar's drop waits for that too.
    ///
    /// # Safety
    ///
    /// `link` is pinned, on no list, and stays valid until [`Self::take`] returns
    /// [`Taken::Ours`] or [`Taken::Gone`] for it, or, for an interval notifier, until
    /// [`Self::wait_torn_down`] returns; `target` is registered with the core, and is a
    /// subscription only if its memory is a `kmalloc` allocation that starts with it and holds
    /// nothing that needs drop (the registrar may free it with `kfree`).
    pub(super) unsafe fn commit(&self, link: &Link, target: Target) -> Result {
        let mut list = self.list.lock();
        if list.closed {
            return Err(ENODEV);
        }
        // SAFETY: The lock is held; `link` is pinned, on no list, and valid long enough (the
        // caller's).
        unsafe { list.push(link, target) };
        drop(list);
        self.end_pending();
        Ok(())
    }

    /// Ends the count of a registration that [`Self::begin`] counted and that failed, once the
    /// core no longer has it.
    pub(super) fn abort(&self) {
        self.end_pending();
    }

    /// Takes a registration back for its handle, which is being dropped (see [`Taken`]). With
    /// `count_free`, counts the free the core runs once the handle puts a subscription that is
    /// [`Taken::Ours`] ([`Self::free_done`] ends the count).
    pub(super) fn take(&self, link: &Link, count_free: bool) -> Taken {
        let mut list = self.list.lock();
        // SAFETY: The lock is held.
        let stage = unsafe { (*link.state.get()).stage };
        match stage {
            Stage::Linked => {
                // SAFETY: The lock is held and the link is on the list.
                unsafe { list.unlink(link, Stage::Idle) };
                if count_free {
                    // Under the lock: a registrar dropped after this sees the count.
                    self.pending.add(1, Relaxed);
                }
                Taken::Ours
            }
            Stage::TearingDown | Stage::Orphaned => {
                // SAFETY: The lock is held.
                unsafe { (*link.state.get()).stage = Stage::Orphaned };
                Taken::Registrar
            }
            Stage::Gone => Taken::Gone,
            // A handle exists only for a registration that was committed, and takes it back
            // once: the stage is never `Idle` here.
            Stage::Idle => Taken::Gone,
        }
    }

    /// Ends the count of a put subscription: called by its free callback, after the last
    /// access to its memory.
    ///
    /// # Safety
    ///
    /// `this` is the `Inner` of the registrar that counted the free ([`Self::take`]); it is
    /// valid until this returns, and may be freed right after.
    pub(super) unsafe fn free_done(this: *const Self) {
        // SAFETY: The count is not zero yet (this free is in it), so the registrar's drop, which
        // waits for zero, keeps `Inner` alive (its own `Arc`) until `end_pending` completes.
        unsafe { (*this).end_pending() };
    }

    fn end_pending(&self) {
        // Release: everything the caller did with the registration (the free) happens before
        // the registrar's drop returns. The last one completes `freed`: the completion's lock
        // is its last access to `self`, and the waiter returns only after it.
        if self.pending.fetch_sub(1, Release) == 1 {
            self.freed.complete_all();
        }
    }

    /// Waits until the dropped registrar has taken what was left on its list out of the core.
    pub(super) fn wait_torn_down(&self) {
        self.torn_down.wait_for_completion();
    }

    /// Takes the first registration off the list for the dropped registrar, and closes it.
    fn pop(&self) -> Option<(*const Link, Target)> {
        let mut list = self.list.lock();
        list.closed = true;
        let first = list.first;
        // SAFETY: A link on the list is live and pinned (type invariant of `Link`).
        let link = unsafe { first.as_ref()? };
        // SAFETY: The lock is held and the link is on the list.
        unsafe { list.unlink(link, Stage::TearingDown) };
        // Release: pairs with the acquire in `Link::is_dead`; before the target leaves the core.
        link.dead.store(true, Release);
        // SAFETY: The lock is held.
        let target = unsafe { (*link.state.get()).target };
        // PANIC: `push`, the only way onto the list, sets the target.
        Some((first, target.expect("a listed link has a target")))
    }

    /// Ends the registrar's teardown of `link`: returns whether its handle was dropped
    /// meanwhile, and so whether the registrar frees it.
    ///
    /// # Safety
    ///
    /// `link` was returned by [`Self::pop`] and is still valid.
    unsafe fn torn_down(&self, link: *const Link) -> bool {
        let _list = self.list.lock();
        // SAFETY: The lock is held and `link` is valid (the caller's).
        let stage = unsafe { &mut (*(*link).state.get()).stage };
        if *stage == Stage::Orphaned {
            return true;
        }
        *stage = Stage::Gone;
        false
    }
}

/// The registrations of one module.
///
/// Every [`Subscription`](super::Subscription), [`IntervalNotifier`](super::IntervalNotifier)
/// and [`IntervalWatcher`](super::IntervalWatcher) is registered through one (a
/// [`RegistrarRef`] to it), and the module owns it, in its `Module` struct: dropping it at
/// unload
///
/// - takes every registration still live (a handle that was leaked, or that outlives the
///   registrar) out of the core: `mmu_notifier_unregister()` (which calls `release`) or
///   `mmu_interval_notifier_remove()`; the handle, if it is ever dropped, then only frees it;
/// - refuses registrations from then on (`ENODEV`);
/// - waits, on a completion, until every subscription dropped so far has been freed by the
///   core's SRCU callback, which reads the module's ops table and calls its free function.
///
/// After that the core calls no callback of the module, and has returned from every one but
/// the last few instructions of the last free callback, which the kernel's own unload covers:
/// `free_module()` waits for an RCU grace period before it frees the module's text, and SRCU
/// runs its callbacks with bottom halves disabled, a read-side critical section of RCU. With
/// `patches/0003`, [`Registrar`]'s final `mmu_notifier_synchronize()` is `srcu_barrier()`,
/// which waits for those instructions too without relying on how SRCU runs its callbacks.
///
/// Dropping it sleeps, for as long as the removals wait for the invalidations in progress on
/// their mms, and one SRCU grace period; it takes the lock of every interval notifier it
/// removes, so never drop it holding one of those (a `ReadGuard`), nor from a callback.
///
/// # Examples
///
/// ```
/// use kernel::mm::mmu_notifier::Registrar;
///
/// struct MyModule {
///     // Dropped at unload: every notifier of the module is gone from the core after it.
///     notifiers: Registrar,
/// }
///
/// let module = MyModule {
///     notifiers: Registrar::new()?,
/// };
/// let for_the_driver = module.notifiers.clone(); // A `RegistrarRef`, for registering.
/// drop(module);
/// // Registering through it now fails: the registrar is gone.
/// assert!(for_the_driver.is_closed());
/// # Ok::<(), Error>(())
/// ```
pub(crate) struct Registrar(RegistrarRef);

/// A reference to a [`Registrar`], to register notifiers through it; it does not keep the
/// registrar from being dropped (registering fails with `ENODEV` after that).
#[derive(Clone)]
pub(crate) struct RegistrarRef {
    inner: Arc<Inner>,
}

impl Registrar {
    /// A registrar with nothing registered.
    pub(crate) fn new() -> Result<Self> {
        let inner = Arc::pin_init(
            pin_init!(Inner {
                list <- new_spinlock!(
                    List {
                        first: ptr::null(),
                        closed: false,
                    },
                    "mmu_notifier_registrar"
                ),
                pending: Atomic::new(1),
                freed <- Completion::new(),
                torn_down <- Completion::new(),
            }),
            GFP_KERNEL,
        )?;
        Ok(Self(RegistrarRef { inner }))
    }
}

impl Deref for Registrar {
    type Target = RegistrarRef;

    fn deref(&self) -> &RegistrarRef {
        &self.0
    }
}

impl RegistrarRef {
    /// The shared part, for the registrations.
    pub(super) fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }

    /// Whether the registrar was dropped (registering through it fails with `ENODEV`).
    pub(crate) fn is_closed(&self) -> bool {
        self.inner.list.lock().closed
    }
}

impl Drop for Registrar {
    fn drop(&mut self) {
        might_sleep();
        let inner = &*self.0.inner;
        while let Some((link, target)) = inner.pop() {
            // No lock is held: both calls sleep. The link was on the list, so its target is
            // registered, and ours to take out: its handle finds it `TearingDown`, and leaves it
            // to us (an interval notifier's handle waits for `torn_down` before it frees it).
            match target {
                // SAFETY: `raw` is registered, and its memory stays valid until the handle or
                // we free it (neither has yet: `torn_down` below decides who).
                Target::Subscription(raw) => unsafe {
                    bindings::mmu_notifier_unregister(raw, (*raw).mm)
                },
                // SAFETY: `raw` is inserted, and its memory stays valid until `torn_down`; no
                // lock is held (the revoke takes the notifier's lock).
                Target::Interval(raw, revoke) => unsafe {
                    if let Some(revoke) = revoke {
                        revoke(raw);
                    }
                    bindings::mmu_interval_notifier_remove(raw)
                },
            }
            // SAFETY: `link` came from `pop`, and is still valid (see above).
            if unsafe { inner.torn_down(link) } {
                if let Target::Subscription(raw) = target {
                    // SAFETY: Its handle was dropped, and the core no longer refers to it: the
                    // `kmalloc` allocation that starts with `raw`, whose contents need no drop,
                    // is ours to free (`commit`'s contract).
                    unsafe { bindings::kfree(raw.cast_const().cast()) };
                }
            }
        }
        inner.torn_down.complete_all();
        // Acquire: pairs with the release of every `end_pending`.
        if inner.pending.fetch_sub(1, Acquire) != 1 {
            inner.freed.wait_for_completion();
        }
        // SAFETY: Always safe to call from process context without locks held. With
        // `patches/0003` it is `srcu_barrier()`: every free callback has returned after it.
        unsafe { bindings::mmu_notifier_synchronize() };
    }
}
