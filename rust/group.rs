// SPDX-License-Identifier: GPL-2.0

//! Groups, the gate and the registry.
//!
//! A *group* is every subscriber attached through this module to one mm. Under policy
//! `stopgap` it owns the *gate*: one interval notifier over the whole address space, inserted
//! when the group is created and removed with its last subscriber. The core calls interval
//! notifiers before any hlist subscriber, so when the gate refuses a non-blockable range (the
//! stop-gap rule, see `policy.rs`) no subscriber's `invalidate_range_start` runs at all.
//!
//! Under policy `off` no group has a gate: the mm sees exactly today's core. (A gate that
//! allowed everything would not be neutral: when an hlist subscriber refuses a non-blocking
//! start after the interval notifiers accepted it, the core never ends the interval-tree
//! invalidation it began, and removing the gate would then wait forever.)
//!
//! The *registry* holds all groups and subscribers; it lives behind the module's mutex and is
//! only touched by `control` writes and module unload, never by notifier callbacks. The gate
//! reads its subscriber count from an atomic, so deciding costs O(1) whatever the count.

use crate::{
    control::{
        DetachTarget,
        Kind,
        Policy, //
    },
    mmu_notifier::{
        IntervalNotifier,
        IntervalNotifierOps,
        Range, //
    },
    policy::{
        decide,
        Verdict, //
    },
    subscriber::Subscriber,
    sys::mem::{
        self,
        KBoxed, //
    },
};
use core::mem::size_of;
use kernel::{
    mm::{
        Mm,
        MmWithUser, //
    },
    pr_warn_once,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{
            Atomic,
            Relaxed, //
        },
        Arc,
    },
};

/// Most subscribers on one mm.
pub(crate) const MAX_PER_MM: usize = 64;

/// Most subscribers in all.
pub(crate) const MAX_TOTAL: usize = 1024;

/// The module-wide policy and the gates' counters, shared by every gate.
pub(crate) struct Shared {
    /// `true` for policy `off`.
    off: Atomic<bool>,
    /// Invalidations the gates saw.
    pub(crate) gate_calls: Atomic<u64>,
    /// Of those, non-blockable ones.
    pub(crate) nonblock_seen: Atomic<u64>,
    /// Of those, refused by the stop-gap rule.
    pub(crate) refused: Atomic<u64>,
    /// Whether the stop-gap warning has been printed since the module was loaded.
    pub(crate) warned: Atomic<bool>,
}

impl Shared {
    /// Policy `stopgap`, zero counters.
    pub(crate) fn new() -> Self {
        Self {
            off: Atomic::new(false),
            gate_calls: Atomic::new(0),
            nonblock_seen: Atomic::new(0),
            refused: Atomic::new(0),
            warned: Atomic::new(false),
        }
    }

    /// The current policy.
    pub(crate) fn policy(&self) -> Policy {
        if self.off.load(Relaxed) {
            Policy::Off
        } else {
            Policy::Stopgap
        }
    }

    /// Sets the policy; takes effect for the next invalidation.
    pub(crate) fn set_policy(&self, policy: Policy) {
        self.off.store(policy == Policy::Off, Relaxed);
    }

    /// Zeroes the gate counters (`warned` records a one-time event and is kept).
    pub(crate) fn reset(&self) {
        self.gate_calls.store(0, Relaxed);
        self.nonblock_seen.store(0, Relaxed);
        self.refused.store(0, Relaxed);
    }
}

/// The counts of one group, shared by the group and its gate.
struct Counts {
    /// Subscribers of the group, counted from just before registration to just after
    /// unregistration, so the gate never sees fewer than are registered.
    subscribers: Atomic<u32>,
    /// Of those, subscribers that may refuse a non-blockable start (`eagain`).
    refusers: Atomic<u32>,
    /// The pid of the group's first `attach`, for the warning.
    pid: i32,
}

impl Counts {
    fn add(&self, kind: Kind) {
        self.subscribers.add(1, Relaxed);
        if kind == Kind::Eagain {
            self.refusers.add(1, Relaxed);
        }
    }

    /// Returns the number of subscribers left.
    fn remove(&self, kind: Kind) -> u32 {
        if kind == Kind::Eagain {
            self.refusers.fetch_sub(1, Relaxed);
        }
        self.subscribers.fetch_sub(1, Relaxed) - 1
    }
}

/// The data of a group's interval notifier.
struct Gate {
    shared: Arc<Shared>,
    counts: Arc<Counts>,
}

impl IntervalNotifierOps for Gate {
    fn invalidate(&self, range: &Range, _cur_seq: usize) -> bool {
        let shared = &*self.shared;
        shared.gate_calls.add(1, Relaxed);
        let blockable = range.blockable();
        if !blockable {
            shared.nonblock_seen.add(1, Relaxed);
        }
        let subscribers = self.counts.subscribers.load(Relaxed);
        let refusers = self.counts.refusers.load(Relaxed);
        match decide(shared.policy(), blockable, subscribers, refusers) {
            Verdict::Allow => true,
            Verdict::Refuse => {
                shared.refused.add(1, Relaxed);
                shared.warned.store(true, Relaxed);
                pr_warn_once!(
                    "stop gap: refused a non-blocking invalidation ({:?} {:#x}-{:#x}, pid {}) \
                     with -EAGAIN because {} subscribers exist ({} may refuse): refused before \
                     any invalidate_range_start ran, so none is left unpaired. TODO: remove \
                     this stop gap once a failed non-blocking start can be undone safely.\n",
                    range.event(),
                    range.start(),
                    range.end(),
                    self.counts.pid,
                    subscribers,
                    refusers
                );
                false
            }
        }
    }
}

/// Every subscriber attached through this module to one mm, and the gate in front of them.
///
/// # Invariants
///
/// `gate` is `Some` exactly while the policy is `stopgap` and the mm is alive at insertion.
struct Group {
    /// An `mmgrab` reference: identifies the group (the address cannot be reused while held)
    /// and lets a gate be inserted later.
    mm: ARef<Mm>,
    counts: Arc<Counts>,
    gate: Option<Pin<KBox<IntervalNotifier<Gate>>>>,
}

impl Group {
    fn new(mm: &MmWithUser, shared: &Arc<Shared>, pid: i32) -> Result<Self> {
        let counts = Arc::new(
            Counts {
                subscribers: Atomic::new(0),
                refusers: Atomic::new(0),
                pid,
            },
            GFP_KERNEL,
        )?;
        let mut group = Self {
            mm: ARef::from(&**mm),
            counts,
            gate: None,
        };
        if shared.policy() == Policy::Stopgap {
            group.insert_gate(shared)?;
        }
        Ok(group)
    }

    /// Inserts the gate if there is none and the mm is still alive.
    fn insert_gate(&mut self, shared: &Arc<Shared>) -> Result {
        if self.gate.is_some() {
            return Ok(());
        }
        // A dead mm sees no more invalidations: it needs no gate.
        let Some(mm) = self.mm.mmget_not_zero() else {
            return Ok(());
        };
        let gate = Gate {
            shared: shared.clone(),
            counts: self.counts.clone(),
        };
        self.gate = Some(KBox::pin_init(
            IntervalNotifier::whole_address_space(&mm, gate),
            GFP_KERNEL,
        )?);
        Ok(())
    }

    /// Removes the gate; waits for an invalidation in progress.
    fn remove_gate(&mut self) {
        self.gate = None;
    }

    /// Bytes of slab memory the group's own allocations take: the gate (when present) and the
    /// shared counts (an `Arc`: a refcount and `Counts`, rounded to its `kmalloc` class).
    fn bytes(&self) -> usize {
        let counts = mem::kmalloc_class(size_of::<usize>() + size_of::<Counts>());
        let gate = self
            .gate
            .as_ref()
            .map_or(0, |g| mem::ksize(&KBoxed::pinned(g)));
        counts + gate
    }

    fn is_on(&self, mm: &MmWithUser) -> bool {
        self.mm.as_raw() == mm.as_raw()
    }

    fn key(&self) -> usize {
        self.mm.as_raw() as usize
    }
}

/// A subscriber and the group (by mm address, never shown) it belongs to.
struct Entry {
    subscriber: Subscriber,
    group: usize,
}

/// All groups and subscribers. Lives behind the module's mutex.
pub(crate) struct Registry {
    shared: Arc<Shared>,
    groups: KVec<Group>,
    /// Ordered by id.
    entries: KVec<Entry>,
    next_id: u64,
}

impl Registry {
    /// An empty registry whose gates share `shared`.
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            groups: KVec::new(),
            entries: KVec::new(),
            next_id: 1,
        }
    }

    /// Number of groups.
    pub(crate) fn groups(&self) -> usize {
        self.groups.len()
    }

    /// Number of gates (groups with an interval notifier).
    pub(crate) fn gates(&self) -> usize {
        self.groups.iter().filter(|g| g.gate.is_some()).count()
    }

    /// Bytes of slab memory the module holds for groups and subscribers: their own
    /// allocations, plus their slots in the registry's two vectors. (Spare capacity is not
    /// counted, so that a failed `attach` that grew a vector leaves this unchanged.)
    pub(crate) fn bytes(&self) -> usize {
        let vectors =
            self.groups.len() * size_of::<Group>() + self.entries.len() * size_of::<Entry>();
        let groups: usize = self.groups.iter().map(Group::bytes).sum();
        let subscribers: usize = self.entries.iter().map(|e| e.subscriber.bytes()).sum();
        vectors + groups + subscribers
    }

    /// Number of subscribers.
    pub(crate) fn subscribers(&self) -> usize {
        self.entries.len()
    }

    /// Every subscriber, by id.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Subscriber> {
        self.entries.iter().map(|e| &e.subscriber)
    }

    /// Attaches `count` subscribers of `kind` to `mm` (found through `pid`).
    ///
    /// All or nothing: on any error every subscriber created by this call is unregistered, a
    /// group created by this call is removed, and no id is used up.
    pub(crate) fn attach(&mut self, mm: &MmWithUser, pid: i32, count: u32, kind: Kind) -> Result {
        let count = usize::try_from(count).map_err(|_| EINVAL)?;
        let existing = self.groups.iter().position(|g| g.is_on(mm));
        let in_group = match existing {
            Some(i) => {
                let key = self.groups[i].key();
                self.entries.iter().filter(|e| e.group == key).count()
            }
            None => 0,
        };
        if in_group + count > MAX_PER_MM || self.entries.len() + count > MAX_TOTAL {
            return Err(ENOSPC);
        }
        // Reserve first, so that nothing can fail once subscribers are registered.
        self.entries.reserve(count, GFP_KERNEL)?;
        self.groups.reserve(1, GFP_KERNEL)?;
        let mut created = KVec::with_capacity(count, GFP_KERNEL)?;

        let new_group = match existing {
            Some(_) => None,
            None => Some(Group::new(mm, &self.shared, pid)?),
        };
        let group = match (&new_group, existing) {
            (Some(g), _) => g,
            (None, Some(i)) => &self.groups[i],
            (None, None) => return Err(EINVAL),
        };

        let mut id = self.next_id;
        for _ in 0..count {
            // Count the subscriber before it can see invalidations.
            group.counts.add(kind);
            // `created` has room for `count`: the push cannot allocate. If either step fails
            // the new subscriber is already dropped (unregistered) when we get the error.
            let pushed = Subscriber::new(mm, kind, id, pid)
                .and_then(|s| created.push(s, GFP_KERNEL).map_err(Error::from));
            if let Err(e) = pushed {
                group.counts.remove(kind);
                Self::unwind(group, created);
                return Err(e);
            }
            id += 1;
        }

        let key = group.key();
        self.next_id = id;
        // Both pushes fit in the capacity reserved above and cannot fail.
        if let Some(g) = new_group {
            self.groups.push(g, GFP_KERNEL)?;
        }
        for subscriber in created.drain_all() {
            self.entries.push(
                Entry {
                    subscriber,
                    group: key,
                },
                GFP_KERNEL,
            )?;
        }
        Ok(())
    }

    /// Unregisters subscribers created by a failed `attach` and uncounts them.
    fn unwind(group: &Group, created: KVec<Subscriber>) {
        for subscriber in created {
            let kind = subscriber.kind();
            drop(subscriber);
            group.counts.remove(kind);
        }
    }

    /// Detaches subscribers. `ENOENT` if none matches (except for `all`, which always succeeds).
    pub(crate) fn detach(&mut self, target: DetachTarget) -> Result {
        let matches = |e: &Entry| match target {
            DetachTarget::Id(id) => e.subscriber.id() == id,
            DetachTarget::Pid(pid) => e.subscriber.pid() == pid,
            DetachTarget::All => true,
        };
        if target != DetachTarget::All && !self.entries.iter().any(&matches) {
            return Err(ENOENT);
        }
        let mut i = 0;
        while i < self.entries.len() {
            if !matches(&self.entries[i]) {
                i += 1;
                continue;
            }
            // `i` is in bounds, so `remove` cannot fail.
            let entry = self.entries.remove(i).map_err(|_| EINVAL)?;
            let (key, kind) = (entry.group, entry.subscriber.kind());
            // Unregister before uncounting, so the gate never sees fewer than are registered.
            drop(entry);
            self.uncount(key, kind);
        }
        Ok(())
    }

    /// Uncounts one subscriber of the group `key`, removing the group with its last one.
    fn uncount(&mut self, key: usize, kind: Kind) {
        let Some(gi) = self.groups.iter().position(|g| g.key() == key) else {
            return;
        };
        if self.groups[gi].counts.remove(kind) == 0 {
            // Removing the gate waits for a running invalidation; no callback holds our lock.
            drop(self.groups.remove(gi));
        }
    }

    /// Switches the policy, inserting or removing every group's gate.
    ///
    /// `stopgap`: the policy is set first, then gates are inserted (a range that arrives in
    /// between simply meets no gate yet); if an insertion fails, every gate is removed again and
    /// the policy stays `off`. `off`: gates are removed first, so a gate never runs under `off`.
    pub(crate) fn set_policy(&mut self, policy: Policy) -> Result {
        if policy == self.shared.policy() {
            return Ok(());
        }
        match policy {
            Policy::Off => self.remove_gates(),
            Policy::Stopgap => {
                self.shared.set_policy(Policy::Stopgap);
                let shared = self.shared.clone();
                let inserted = self
                    .groups
                    .iter_mut()
                    .try_for_each(|g| g.insert_gate(&shared));
                if let Err(e) = inserted {
                    self.remove_gates();
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Removes every group's gate, then sets policy `off`.
    fn remove_gates(&mut self) {
        for g in self.groups.iter_mut() {
            g.remove_gate();
        }
        self.shared.set_policy(Policy::Off);
    }

    /// Zeroes every subscriber's counters.
    pub(crate) fn reset(&self) {
        for e in self.entries.iter() {
            e.subscriber.counters().reset();
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        // Subscribers first, then the gates, as `detach all` does.
        let _ = self.detach(DetachTarget::All);
    }
}
