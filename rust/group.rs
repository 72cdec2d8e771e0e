// SPDX-License-Identifier: GPL-2.0

//! Groups, the gate and the registry.
//!
//! A *group* is every subscriber attached through this module to one mm. When the policy asks
//! for it (`policy::gate_needed()`), the group owns a *gate*: one interval notifier over the
//! whole address space. The core calls interval notifiers before any hlist subscriber, so when
//! the gate refuses a non-blockable range (`policy::decide()`) no subscriber's
//! `invalidate_range_start` runs at all, and the core closes its interval-tree pass itself.
//!
//! The *registry* lists the groups and the subscribers; it lives behind the module's mutex and
//! is only touched by `control` writes and module unload, never by notifier callbacks. Nothing
//! that can wait on an mm happens under that mutex: commands reserve and link under it, and
//! register, unregister, insert and remove after dropping it. So the files stay readable and
//! other groups stay usable while one removal waits on an mm whose interval tree a foreign
//! driver left open. The gate reads its counts from atomics, so deciding costs O(1) whatever
//! the count.

use crate::{
    control::{
        DetachTarget,
        Kind,
        Policy,
        Teardown, //
    },
    mirror::MirrorSub,
    mmu_notifier::{
        Event,
        IntervalWatcher,
        IntervalWatcherOps,
        Refused,
        RegistrarRef,
        Watch, //
    },
    policy::{
        decide,
        gate_needed,
        Verdict, //
    },
    subscriber::Subscriber,
    sys::mem::{
        self,
        KBoxed, //
    },
};
use core::{
    fmt,
    mem::size_of, //
};
use kernel::{
    mm::{
        Mm,
        MmWithUser, //
    },
    new_mutex, pr_warn_once,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{
            Acquire,
            Atomic,
            Relaxed,
            Release, //
        },
        Arc,
        Mutex, //
    },
};

/// Most subscribers on one mm.
pub(crate) const MAX_PER_MM: usize = 64;

/// Most subscribers in all.
pub(crate) const MAX_TOTAL: usize = 1024;

/// The module-wide policy and counters, shared by every gate and group.
pub(crate) struct Shared {
    /// The policy, as `Policy as u32` (`policy_from()`).
    policy: Atomic<u32>,
    /// Invalidations the gates saw.
    pub(crate) gate_calls: Atomic<u64>,
    /// Of those, non-blockable ones.
    pub(crate) nonblock_seen: Atomic<u64>,
    /// Of those, refused by the rule.
    pub(crate) refused: Atomic<u64>,
    /// Whether the stop-gap warning has been printed since the module was loaded.
    pub(crate) warned: Atomic<bool>,
    /// Gates in the interval trees right now (a gate being removed still counts).
    pub(crate) gates: Atomic<u32>,
    /// Subscribers being unregistered and gates being removed right now.
    pub(crate) removing: Atomic<u32>,
    /// `teardown sync`: unregister each subscriber with a full SRCU grace period.
    sync_teardown: Atomic<bool>,
    /// The module's registrar, which every subscriber and gate is registered through.
    registrar: RegistrarRef,
}

const fn policy_from(raw: u32) -> Policy {
    match raw {
        0 => Policy::Stopgap,
        1 => Policy::Off,
        _ => Policy::Raw,
    }
}

const fn policy_to(policy: Policy) -> u32 {
    match policy {
        Policy::Stopgap => 0,
        Policy::Off => 1,
        Policy::Raw => 2,
    }
}

impl Shared {
    /// Policy `stopgap`, zero counters; subscribers and gates registered through `registrar`.
    pub(crate) fn new(registrar: RegistrarRef) -> Self {
        Self {
            policy: Atomic::new(policy_to(Policy::Stopgap)),
            gate_calls: Atomic::new(0),
            nonblock_seen: Atomic::new(0),
            refused: Atomic::new(0),
            warned: Atomic::new(false),
            gates: Atomic::new(0),
            removing: Atomic::new(0),
            sync_teardown: Atomic::new(false),
            registrar,
        }
    }

    /// How `detach` unregisters.
    pub(crate) fn teardown(&self) -> Teardown {
        if self.sync_teardown.load(Relaxed) {
            Teardown::Sync
        } else {
            Teardown::Deferred
        }
    }

    /// Sets how `detach` unregisters, from the next one on.
    pub(crate) fn set_teardown(&self, teardown: Teardown) {
        self.sync_teardown
            .store(teardown == Teardown::Sync, Relaxed);
    }

    /// The current policy.
    pub(crate) fn policy(&self) -> Policy {
        policy_from(self.policy.load(Relaxed))
    }

    /// Sets the policy; gates decide by it from the next invalidation on.
    fn set_policy(&self, policy: Policy) {
        self.policy.store(policy_to(policy), Relaxed);
    }

    /// Sets the policy back to `old` after a failed switch to `new`.
    fn restore_policy(&self, new: Policy, old: Policy) {
        let _ = self.policy.cmpxchg(policy_to(new), policy_to(old), Relaxed);
    }

    /// Zeroes the gate counters (`warned` records a one-time event and is kept, and `gates`
    /// and `removing` are state, not events).
    pub(crate) fn reset(&self) {
        self.gate_calls.store(0, Relaxed);
        self.nonblock_seen.store(0, Relaxed);
        self.refused.store(0, Relaxed);
    }
}

/// The counts of one group, shared by the group and its gate.
struct Counts {
    /// Subscribers of the group, counted from before their registration to after their
    /// unregistration, so that the gate never sees fewer than are registered.
    subscribers: Atomic<u32>,
    /// Of those, subscribers that may refuse a non-blockable start (`eagain`).
    refusers: Atomic<u32>,
    /// The pid of the group's first `attach`, for the warning.
    pid: i32,
}

impl Counts {
    /// Counts `n` new subscribers of `kind`. A mirror is not counted: the rule protects the
    /// start/end pairs of hlist subscriptions, and an interval notifier's refusal is balanced
    /// by the core.
    fn add(&self, kind: Kind, n: u32) {
        match kind {
            Kind::Paired => self.subscribers.add(n, Relaxed),
            Kind::Eagain => {
                self.subscribers.add(n, Relaxed);
                self.refusers.add(n, Relaxed);
            }
            Kind::Mirror => (),
        }
    }

    /// Uncounts `n` subscribers of `kind`, after their unregistration.
    ///
    /// Release, paired with the gate's acquire loads: a gate that sees the smaller count also
    /// sees the unregistration before it (the `hlist_del` of `mmu_notifier_put()`), so the
    /// hlist pass of that invalidation cannot find a subscriber the gate did not count. (The
    /// increments need no order of their own: registration takes the mmap lock for writing,
    /// which the non-blocking invalidations hold for reading.)
    fn remove(&self, kind: Kind, n: u32) {
        match kind {
            Kind::Paired => {
                self.subscribers.fetch_sub(n, Release);
            }
            Kind::Eagain => {
                self.refusers.fetch_sub(n, Release);
                self.subscribers.fetch_sub(n, Release);
            }
            Kind::Mirror => (),
        }
    }
}

/// The data of a group's interval notifier.
struct Gate {
    shared: Arc<Shared>,
    counts: Arc<Counts>,
}

/// The gate mirrors nothing (no read side): it only decides.
impl IntervalWatcherOps for Gate {
    fn invalidate<'a>(&self, inv: Watch<'a>) -> Result<(), Refused<'a>> {
        let shared = &*self.shared;
        shared.gate_calls.add(1, Relaxed);
        // A blockable invalidation cannot be refused: only the non-blocking view can.
        let Watch::NonBlocking(nb) = inv else {
            return Ok(());
        };
        shared.nonblock_seen.add(1, Relaxed);
        let range = nb.range();
        // Acquire: pairs with the release in `Counts::remove`.
        let subscribers = self.counts.subscribers.load(Acquire);
        let refusers = self.counts.refusers.load(Acquire);
        match decide(shared.policy(), false, subscribers, refusers) {
            Verdict::Allow => Ok(()),
            Verdict::Refuse => {
                shared.refused.add(1, Relaxed);
                shared.warned.store(true, Relaxed);
                pr_warn_once!(
                    "stop gap: refused a non-blocking invalidation ({} {:#x}-{:#x}, pid {}) \
                     with -EAGAIN because {} subscribers exist ({} may refuse): refused before \
                     any invalidate_range_start ran, so none is left unpaired. TODO: remove \
                     this stop gap once a failed non-blocking start can be undone safely.\n",
                    range.event().map_or("unknown event", Event::as_str),
                    range.start(),
                    range.end(),
                    self.counts.pid,
                    subscribers,
                    refusers
                );
                Err(nb.refuse())
            }
        }
    }
}

type GateBox = Pin<KBox<IntervalWatcher<Gate>>>;

/// Removes a gate taken out of its group (waits for the invalidation in progress on its mm),
/// keeping `gates` and `removing` true meanwhile. Call with no lock held.
fn remove_gate(shared: &Shared, gate: GateBox) {
    shared.removing.add(1, Relaxed);
    drop(gate);
    shared.removing.fetch_sub(1, Relaxed);
    shared.gates.fetch_sub(1, Relaxed);
}

/// Every subscriber attached through this module to one mm, and its gate.
///
/// Shared by the registry, by the entries of its subscribers and by the commands at work on
/// it. The gate goes with the last reference, which is always dropped outside the registry's
/// mutex, after every subscriber of the group is unregistered.
///
/// # Invariants
///
/// While `gate` holds a gate, that gate is live in the mm's interval tree (it was waited for
/// with `wait_live()` before it was stored).
#[pin_data(PinnedDrop)]
pub(crate) struct Group {
    /// An `mmgrab` reference: identifies the group (the address cannot be reused while held)
    /// and lets a gate be inserted later.
    mm: ARef<Mm>,
    counts: Arc<Counts>,
    shared: Arc<Shared>,
    /// `ksize()` of the gate's allocation, or 0; readable without `gate`'s lock.
    gate_bytes: Atomic<usize>,
    /// Serialises the gate's insertion and removal. Never held by the registry's users, so a
    /// wait on this group's mm only holds up commands on this same group.
    #[pin]
    gate: Mutex<Option<GateBox>>,
}

impl Group {
    fn new(mm: &MmWithUser, shared: &Arc<Shared>, pid: i32) -> Result<Arc<Self>> {
        let counts = Arc::new(
            Counts {
                subscribers: Atomic::new(0),
                refusers: Atomic::new(0),
                pid,
            },
            GFP_KERNEL,
        )?;
        Arc::pin_init(
            pin_init!(Self {
                mm: ARef::from(&**mm),
                counts,
                shared: shared.clone(),
                gate_bytes: Atomic::new(0),
                gate <- new_mutex!(None, "mmn_stopgap_gate"),
            }),
            GFP_KERNEL,
        )
    }

    /// Brings the gate in line with the policy and the counts: inserts one, and waits until it
    /// is live, when the group needs one; removes it when not.
    ///
    /// Sleeps: insertion takes the mm's `mmap_lock`; waiting for liveness waits for the
    /// invalidations in progress on the mm (forever on an mm whose interval tree a foreign
    /// driver left open); removal waits for the invalidation in progress. Call with no lock
    /// held. Fails only to insert (`ENOMEM`), leaving no gate.
    fn sync_gate(&self) -> Result {
        let mut slot = self.gate.lock();
        let needed = gate_needed(self.shared.policy(), self.counts.refusers.load(Relaxed));
        if needed == slot.is_some() {
            return Ok(());
        }
        if !needed {
            let old = slot.take();
            self.gate_bytes.store(0, Relaxed);
            drop(slot);
            if let Some(gate) = old {
                remove_gate(&self.shared, gate);
            }
            return Ok(());
        }
        // A dead mm sees no more invalidations: it needs no gate.
        let Some(mm) = self.mm.mmget_not_zero() else {
            return Ok(());
        };
        let gate = KBox::pin_init(
            IntervalWatcher::whole_address_space(
                &self.shared.registrar,
                &mm,
                Gate {
                    shared: self.shared.clone(),
                    counts: self.counts.clone(),
                },
            ),
            GFP_KERNEL,
        )?;
        self.shared.gates.add(1, Relaxed);
        // The insertion may have been deferred behind an invalidation in progress: wait until
        // the gate is in the tree before anybody relies on it.
        gate.wait_live();
        self.gate_bytes
            .store(mem::ksize(&KBoxed::pinned(&gate)), Relaxed);
        // INVARIANT: `wait_live()` returned, so the gate is live.
        *slot = Some(gate);
        Ok(())
    }

    /// Bytes of slab memory the group's own allocations take: the group and its counts (each
    /// an `Arc`: a refcount and the value, rounded to its `kmalloc` class) and the gate.
    fn bytes(&self) -> usize {
        let word = size_of::<usize>();
        mem::kmalloc_class(word + size_of::<Self>())
            + mem::kmalloc_class(word + size_of::<Counts>())
            + self.gate_bytes.load(Relaxed)
    }

    fn is_on(&self, mm: &MmWithUser) -> bool {
        self.mm.as_raw() == mm.as_raw()
    }
}

#[pinned_drop]
impl PinnedDrop for Group {
    fn drop(self: Pin<&mut Self>) {
        // The last reference: every subscriber of the group is unregistered.
        let gate = self.gate.lock().take();
        if let Some(gate) = gate {
            remove_gate(&self.shared, gate);
        }
    }
}

/// A group in the registry.
pub(crate) struct Slot {
    group: Arc<Group>,
    /// Subscribers listed, being registered, or being unregistered: the slot goes when this
    /// reaches 0, so a group outlives its subscribers' teardown and the counts stay continuous
    /// for an `attach` that comes meanwhile.
    members: usize,
}

/// A listed subscriber. Dropping it unregisters the subscriber, then lets go of its group.
pub(crate) struct Entry {
    id: u64,
    pid: i32,
    subscriber: Subscriber,
    group: Arc<Group>,
}

/// Subscribers taken out of the registry by `detach`, to be unregistered after the registry's
/// mutex is dropped.
///
/// # Invariants
///
/// `groups` is empty and has room for twice as many references as there are entries (one per
/// subscriber, one per slot that may retire), so that the teardown never allocates.
pub(crate) struct Unlinked {
    entries: KVec<Entry>,
    groups: KVec<Arc<Group>>,
}

impl Unlinked {
    /// Unregisters every subscriber and uncounts it. Returns the groups, one reference per
    /// subscriber, for [`Registry::release`]. Sleeps; call with no lock held.
    pub(crate) fn unregister(self) -> Released {
        let mut groups = self.groups;
        for entry in self.entries {
            let kind = entry.subscriber.kind();
            match entry.group.shared.teardown() {
                // Put: the core frees it after a grace period, for all of them at once.
                Teardown::Deferred => drop(entry.subscriber),
                Teardown::Sync => entry.subscriber.unregister_now(),
            }
            entry.group.shared.removing.fetch_sub(1, Relaxed);
            entry.group.counts.remove(kind, 1);
            // Cannot fail: room for every entry (type invariant).
            let _ = groups.push_within_capacity(entry.group);
        }
        Released(groups)
    }
}

/// Groups whose subscribers were unregistered, one reference per subscriber, with room for as
/// many more.
pub(crate) struct Released(KVec<Arc<Group>>);

/// The groups a command touched, to be brought in line with their counts and let go after
/// the registry's mutex is dropped ([`Touched::settle`]).
pub(crate) struct Touched(KVec<Arc<Group>>);

impl Touched {
    /// Brings every touched group's gate in line with its counts (a removal under `off` once
    /// its last refuser is gone, or an insertion if a policy switch came meanwhile), then lets
    /// the groups go: the last reference to a group removes its gate. Sleeps, for as long as
    /// an mm's invalidations last (forever on an mm a foreign driver wedged, holding up the
    /// groups after it in this command only). Call with no lock held.
    pub(crate) fn settle(self) {
        for group in self.0.iter() {
            // An insertion that fails leaves no gate: the group holds no refuser then, or a
            // concurrent `attach` or policy switch is inserting it and reports the error.
            let _ = group.sync_gate();
        }
    }
}

/// A reservation made by [`Registry::reserve`] for an `attach` in progress.
///
/// # Invariants
///
/// `spare` is empty with room for two references, so that [`Registry::cancel`] never
/// allocates.
pub(crate) struct Reservation {
    group: Arc<Group>,
    count: usize,
    kind: Kind,
    /// For a mirror, its interval (`(start, len)`); `None`: the whole address space.
    interval: Option<(usize, usize)>,
    pid: i32,
    spare: KVec<Arc<Group>>,
}

impl Reservation {
    /// Counts `count` new subscribers in the group, makes its gate agree (waiting until a new
    /// gate is live), then registers them on `mm`. Sleeps; call with no lock held.
    ///
    /// All or nothing: on error the subscribers created are unregistered and uncounted; the
    /// caller then gives the reservation back ([`Registry::cancel`]) and settles the group.
    pub(crate) fn register(&self, mm: &MmWithUser) -> Result<KVec<Subscriber>> {
        let mut created = KVec::with_capacity(self.count, GFP_KERNEL)?;
        let n = u32::try_from(self.count).map_err(|_| EINVAL)?;
        // Counted before any can see an invalidation, and before the gate is decided, so that
        // a subscriber that may refuse is behind a live gate before it is registered.
        self.group.counts.add(self.kind, n);
        let made = self.group.sync_gate().and_then(|()| {
            for _ in 0..self.count {
                // `created` has room for `count`: the push cannot allocate.
                created.push(
                    Subscriber::new(&self.group.shared.registrar, mm, self.kind, self.interval)?,
                    GFP_KERNEL,
                )?;
            }
            Ok(())
        });
        if let Err(e) = made {
            drop(created);
            self.group.counts.remove(self.kind, n);
            return Err(e);
        }
        Ok(created)
    }
}

/// All groups and subscribers. Lives behind the module's mutex.
///
/// # Invariants
///
/// `entries` has room for `pending` more entries, so that listing a reservation never
/// allocates.
pub(crate) struct Registry {
    shared: Arc<Shared>,
    slots: KVec<Slot>,
    /// Ordered by id.
    entries: KVec<Entry>,
    next_id: u64,
    /// Subscribers reserved by `attach`es in progress, not listed yet.
    pending: usize,
}

impl Registry {
    /// An empty registry whose gates share `shared`.
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            slots: KVec::new(),
            entries: KVec::new(),
            next_id: 1,
            pending: 0,
        }
    }

    /// Number of groups.
    pub(crate) fn groups(&self) -> usize {
        self.slots.len()
    }

    /// Number of listed subscribers.
    pub(crate) fn subscribers(&self) -> usize {
        self.entries.len()
    }

    /// Bytes of slab memory the module holds for groups and subscribers: their own
    /// allocations, plus their slots in the registry's two vectors. (Spare capacity is not
    /// counted, so that a failed `attach` that grew a vector leaves this unchanged.)
    pub(crate) fn bytes(&self) -> usize {
        let vectors =
            self.slots.len() * size_of::<Slot>() + self.entries.len() * size_of::<Entry>();
        let groups: usize = self.slots.iter().map(|s| s.group.bytes()).sum();
        let subscribers: usize = self.entries.iter().map(|e| e.subscriber.bytes()).sum();
        vectors + groups + subscribers
    }

    /// The mirror subscriber `id` and its mm, for a snapshot after the mutex: `ENOENT` if no
    /// subscriber has that id, `EINVAL` if it is not a mirror.
    pub(crate) fn mirror(&self, id: u64) -> Result<(Arc<MirrorSub>, ARef<Mm>)> {
        let entry = self.entries.iter().find(|e| e.id == id).ok_or(ENOENT)?;
        let mirror = entry.subscriber.mirror().ok_or(EINVAL)?;
        Ok((mirror.clone(), entry.group.mm.clone()))
    }

    /// Writes the `mirror` file's lines of every listed mirror, by id.
    pub(crate) fn show_mirrors(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in self.entries.iter() {
            if let Some(m) = e.subscriber.mirror() {
                m.show(e.id, e.pid, f)?;
            }
        }
        Ok(())
    }

    /// Writes one `subscribers` line per listed subscriber, by id.
    pub(crate) fn show(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in self.entries.iter() {
            e.subscriber.show(e.id, e.pid, f)?;
        }
        Ok(())
    }

    /// Reserves room for `count` subscribers of `kind` on `mm` (found through `pid`), in its
    /// group (created if none). `ENOSPC` over the per-mm or total cap. Never sleeps on an mm.
    pub(crate) fn reserve(
        &mut self,
        mm: &MmWithUser,
        pid: i32,
        count: u32,
        kind: Kind,
        interval: Option<(usize, usize)>,
    ) -> Result<Reservation> {
        let count = usize::try_from(count).map_err(|_| EINVAL)?;
        let existing = self.slots.iter().position(|s| s.group.is_on(mm));
        let in_group = existing.map_or(0, |i| self.slots[i].members);
        if in_group + count > MAX_PER_MM || self.entries.len() + self.pending + count > MAX_TOTAL {
            return Err(ENOSPC);
        }
        // INVARIANT: room to list every reserved subscriber, so that listing cannot fail.
        self.entries.reserve(self.pending + count, GFP_KERNEL)?;
        let spare = KVec::with_capacity(2, GFP_KERNEL)?;
        let slot = match existing {
            Some(i) => &mut self.slots[i],
            None => {
                let group = Group::new(mm, &self.shared, pid)?;
                self.slots.push(Slot { group, members: 0 }, GFP_KERNEL)?;
                let last = self.slots.len() - 1;
                &mut self.slots[last]
            }
        };
        slot.members += count;
        self.pending += count;
        // INVARIANT: `spare` is empty with room for two.
        Ok(Reservation {
            group: slot.group.clone(),
            count,
            kind,
            interval,
            pid,
            spare,
        })
    }

    /// Lists the subscribers registered for `reservation`, with new ids.
    pub(crate) fn commit(&mut self, reservation: &Reservation, created: KVec<Subscriber>) {
        self.pending -= reservation.count;
        for subscriber in created {
            let id = self.next_id;
            self.next_id += 1;
            let entry = Entry {
                id,
                pid: reservation.pid,
                subscriber,
                group: reservation.group.clone(),
            };
            // Does not allocate: `entries` has room for every reserved subscriber (invariant).
            let _ = self.entries.push(entry, GFP_KERNEL);
        }
    }

    /// Gives back a reservation whose registration failed. Returns the group to settle after
    /// the mutex (its gate, and its slot's reference if no member is left). Never allocates.
    pub(crate) fn cancel(&mut self, reservation: Reservation) -> Touched {
        let mut touched = reservation.spare;
        self.pending -= reservation.count;
        let slot = self.leave(&reservation.group, reservation.count);
        // Neither push can fail: room for two (type invariant of `Reservation`).
        let _ = touched.push_within_capacity(reservation.group);
        if let Some(slot) = slot {
            let _ = touched.push_within_capacity(slot);
        }
        Touched(touched)
    }

    /// Takes `members` out of the group's slot, and the slot out of the registry when none is
    /// left; returns its reference then.
    fn leave(&mut self, group: &Arc<Group>, members: usize) -> Option<Arc<Group>> {
        let i = self
            .slots
            .iter()
            .position(|s| Arc::ptr_eq(&s.group, group))?;
        self.slots[i].members -= members;
        if self.slots[i].members > 0 {
            return None;
        }
        self.slots.remove(i).ok().map(|s| s.group)
    }

    /// Unlinks the subscribers `target` names, to be unregistered after the mutex. `ENOENT` if
    /// none matches (except for `all`, which always succeeds); `ENOMEM` changes nothing.
    pub(crate) fn unlink(&mut self, target: DetachTarget) -> Result<Unlinked> {
        let matches = |e: &Entry| match target {
            DetachTarget::Id(id) => e.id == id,
            DetachTarget::Pid(pid) => e.pid == pid,
            DetachTarget::All => true,
        };
        let n = self.entries.iter().filter(|e| matches(e)).count();
        if n == 0 {
            return match target {
                DetachTarget::All => Ok(Unlinked {
                    entries: KVec::new(),
                    groups: KVec::new(),
                }),
                _ => Err(ENOENT),
            };
        }
        // Every allocation first, so that an error leaves the registry as it was.
        let mut out = KVec::with_capacity(n, GFP_KERNEL)?;
        let groups = KVec::with_capacity(2 * n, GFP_KERNEL)?;
        let mut keep = KVec::with_capacity(self.entries.capacity(), GFP_KERNEL)?;
        for entry in self.entries.drain_all() {
            // Neither push can fail: both vectors have room for every entry.
            let _ = if matches(&entry) {
                out.push_within_capacity(entry)
            } else {
                keep.push_within_capacity(entry)
            };
        }
        // INVARIANT: `keep` has the capacity `entries` had.
        self.entries = keep;
        // At most `MAX_TOTAL` entries: fits.
        self.shared.removing.add(n as u32, Relaxed);
        // INVARIANT: `groups` is empty with room for `2 * n`.
        Ok(Unlinked {
            entries: out,
            groups,
        })
    }

    /// Takes the unregistered subscribers out of their groups' slots (a slot with no member
    /// left goes). Returns every group reference, to be settled after the mutex.
    pub(crate) fn release(&mut self, released: Released) -> Touched {
        let mut refs = released.0;
        for i in 0..refs.len() {
            // Not the last reference (`refs[i]` is another): dropping it here is fine.
            let group = refs[i].clone();
            if let Some(slot) = self.leave(&group, 1) {
                // Cannot fail: room for one slot reference per subscriber (`Unlinked`).
                let _ = refs.push_within_capacity(slot);
            }
        }
        Touched(refs)
    }

    /// Takes every subscriber and group out of the registry, for unload. Never allocates.
    pub(crate) fn take_all(&mut self) -> (KVec<Entry>, KVec<Slot>) {
        (
            core::mem::take(&mut self.entries),
            core::mem::take(&mut self.slots),
        )
    }

    /// Switches the policy and collects every group, whose gates the caller then brings in
    /// line after the mutex ([`sync_gates`]). Groups that hold a refuser come first: their
    /// safety rests on their gate, and a wait on one wedged mm holds up the groups after it.
    pub(crate) fn set_policy(&self, policy: Policy) -> Result<(Policy, KVec<Arc<Group>>)> {
        let mut groups = KVec::with_capacity(self.slots.len(), GFP_KERNEL)?;
        for refusers_first in [true, false] {
            for slot in self.slots.iter() {
                if (slot.group.counts.refusers.load(Relaxed) > 0) == refusers_first {
                    // Cannot fail: room for every slot.
                    let _ = groups.push_within_capacity(slot.group.clone());
                }
            }
        }
        let old = self.shared.policy();
        self.shared.set_policy(policy);
        Ok((old, groups))
    }

    /// Zeroes every subscriber's counters.
    pub(crate) fn reset(&self) {
        for e in self.entries.iter() {
            e.subscriber.counters().reset();
        }
    }
}

/// Brings every group's gate in line with the policy `new`, set by [`Registry::set_policy`]
/// over `old`. If a gate cannot be inserted, the policy goes back to `old` and every gate
/// with it. Sleeps; call with no lock held, but with the switches serialised (the caller's
/// switch mutex), so that `old` is what every gate agreed with before.
pub(crate) fn sync_gates(
    shared: &Shared,
    new: Policy,
    old: Policy,
    groups: KVec<Arc<Group>>,
) -> Result {
    let synced = groups.iter().try_for_each(|g| g.sync_gate());
    if let Err(e) = synced {
        shared.restore_policy(new, old);
        for g in groups.iter() {
            // Back to the gates `old` had: removals, or an insertion an `attach` in progress
            // also makes (and whose failure it reports).
            let _ = g.sync_gate();
        }
        return Err(e);
    }
    Ok(())
}
