// SPDX-License-Identifier: GPL-2.0

//! Groups, the gate and the registry.
//!
//! A *group* is every subscriber attached through this module to one mm. It owns the *gate*:
//! one interval notifier over the whole address space, inserted when the group is created and
//! removed with its last subscriber. The core calls interval notifiers before any hlist
//! subscriber, so when the gate refuses a non-blockable range (the stop-gap rule, see
//! `policy.rs`) no subscriber's `invalidate_range_start` runs at all.
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
};
use kernel::{
    mm::MmWithUser,
    pr_warn_once,
    prelude::*,
    sync::{
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

/// The data of a group's interval notifier.
struct Gate {
    shared: Arc<Shared>,
    /// Subscribers of the group, counted from just before registration to just after
    /// unregistration, so the gate never sees fewer than are registered.
    subscribers: Atomic<u32>,
    /// The pid of the group's first `attach`, for the warning.
    pid: i32,
}

impl IntervalNotifierOps for Gate {
    fn invalidate(&self, range: &Range, _cur_seq: usize) -> bool {
        let shared = &*self.shared;
        shared.gate_calls.add(1, Relaxed);
        let blockable = range.blockable();
        if !blockable {
            shared.nonblock_seen.add(1, Relaxed);
        }
        let subscribers = self.subscribers.load(Relaxed);
        match decide(shared.policy(), blockable, subscribers) {
            Verdict::Allow => true,
            Verdict::Refuse => {
                shared.refused.add(1, Relaxed);
                shared.warned.store(true, Relaxed);
                pr_warn_once!(
                    "stop gap: refused a non-blocking invalidation ({:?} {:#x}-{:#x}, pid {}) \
                     with -EAGAIN because {} subscribers exist: refused before any \
                     invalidate_range_start ran, so none is left unpaired. TODO: remove this \
                     stop gap once a failed non-blocking start can be undone safely.\n",
                    range.event(),
                    range.start(),
                    range.end(),
                    self.pid,
                    subscribers
                );
                false
            }
        }
    }
}

/// Every subscriber attached through this module to one mm, and the gate in front of them.
struct Group {
    gate: Pin<KBox<IntervalNotifier<Gate>>>,
}

impl Group {
    fn new(mm: &MmWithUser, shared: &Arc<Shared>, pid: i32) -> Result<Self> {
        let gate = KBox::pin_init(
            IntervalNotifier::whole_address_space(
                mm,
                Gate {
                    shared: shared.clone(),
                    subscribers: Atomic::new(0),
                    pid,
                },
            ),
            GFP_KERNEL,
        )?;
        Ok(Self { gate })
    }

    fn is_on(&self, mm: &MmWithUser) -> bool {
        self.gate.mm().as_raw() == mm.as_raw()
    }

    fn key(&self) -> usize {
        self.gate.mm().as_raw() as usize
    }

    fn count(&self) -> &Atomic<u32> {
        &self.gate.data().subscribers
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
            group.count().add(1, Relaxed);
            // `created` has room for `count`: the push cannot allocate. If either step fails
            // the new subscriber is already dropped (unregistered) when we get the error.
            let pushed = Subscriber::new(mm, kind, id, pid)
                .and_then(|s| created.push(s, GFP_KERNEL).map_err(Error::from));
            if let Err(e) = pushed {
                group.count().fetch_sub(1, Relaxed);
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
            drop(subscriber);
            group.count().fetch_sub(1, Relaxed);
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
            let key = entry.group;
            // Unregister before uncounting, so the gate never sees fewer than are registered.
            drop(entry);
            self.uncount(key);
        }
        Ok(())
    }

    /// Uncounts one subscriber of the group `key`, removing the group with its last one.
    fn uncount(&mut self, key: usize) {
        let Some(gi) = self.groups.iter().position(|g| g.key() == key) else {
            return;
        };
        if self.groups[gi].count().fetch_sub(1, Relaxed) == 1 {
            // Removing the gate waits for a running invalidation; no callback holds our lock.
            drop(self.groups.remove(gi));
        }
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
