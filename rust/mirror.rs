// SPDX-License-Identifier: GPL-2.0

//! The `mirror` subscriber: the Rust twin of `lib/test_hmm`'s dmirror, minimal and real.
//!
//! An interval notifier over a range of the target (the whole address space by default) that
//! mirrors pages of it like a device would: `mirror <id> <addr> <pages>` takes a snapshot of
//! their pfns with the interval sequence protocol (`read_begin`, `hmm_range_fault()`, the
//! notifier's lock, `read_retry`, retry), and every invalidation of the range clears the pages
//! it covers, under the same lock, taking which records the invalidation's sequence. A snapshot
//! therefore never shows a page that is not mapped there any more: what an invalidation did not
//! clear is current.
//!
//! Its invalidation has two passes: the first, under the lock (taken only when the range is
//! blockable; tried otherwise, and refused if contended, the balanced refusal of an interval
//! notifier), sets the sequence and clears the pages; the second is where a device would wait
//! for its TLB flush, and closes the pair (the `starts`/`ends` of the `subscribers` file).
//!
//! A mirror does not count toward "several subscribers": the 2019 rule protects the
//! start/end pairs of hlist subscriptions, and an interval notifier's refusal is balanced by
//! the core itself.

use crate::{
    control::MAX_MIRROR_PAGES,
    counters::Counters,
    mmu_notifier::{
        Event,
        Finish,
        IntervalNotifier,
        IntervalNotifierOps,
        Invalidate,
        Pass,
        Refused,
        RegistrarRef, //
    },
    sys::mem,
};
use core::{
    fmt,
    mem::size_of, //
};
use kernel::{
    mm::MmWithUser,
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        lock::mutex::MutexBackend,
        Arc,
        Mutex, //
    },
};

const PAGES: usize = MAX_MIRROR_PAGES as usize;

/// Longest a snapshot keeps retrying before it gives up with `EBUSY`.
const MAX_RETRIES: u64 = 1000;

/// What the notifier's lock protects: the snapshot.
pub(crate) struct Snapshot {
    /// First address of the snapshot (0: none taken yet).
    start: usize,
    /// Pages in the snapshot.
    pages: usize,
    /// The pfn of each page; 0 once an invalidation cleared it.
    pfns: [usize; PAGES],
    /// The read sequence the snapshot was validated with.
    seq: usize,
}

impl Snapshot {
    fn new() -> Self {
        Self {
            start: 0,
            pages: 0,
            pfns: [0; PAGES],
            seq: 0,
        }
    }

    /// Clears the pages of `[start, end)`.
    fn clear(&mut self, start: usize, end: usize) {
        let hit = clear_pattern(self.start, self.pages, start, end);
        for (i, pfn) in self.pfns[..self.pages].iter_mut().enumerate() {
            if hit & (1 << i) != 0 {
                *pfn = 0;
            }
        }
    }

    fn valid(&self) -> usize {
        self.pfns[..self.pages].iter().filter(|&&p| p != 0).count()
    }
}

/// Which of `pages` pages from `first` an invalidation of `[start, end)` covers: bit `i` for
/// page `i`.
pub(crate) fn clear_pattern(first: usize, pages: usize, start: usize, end: usize) -> u64 {
    let mut hit = 0;
    for i in 0..pages.min(PAGES) {
        let addr = first + i * PAGE_SIZE;
        if addr < end && addr + PAGE_SIZE > start {
            hit |= 1 << i;
        }
    }
    hit
}

/// The mirror's counters, beyond the pairing ones.
struct Stats {
    pairs: Counters,
    snapshots: Atomic<u64>,
    retries: Atomic<u64>,
    refused: Atomic<u64>,
}

/// The data of a mirror's interval notifier.
pub(crate) struct MirrorOps {
    stats: Stats,
}

#[vtable]
impl IntervalNotifierOps for MirrorOps {
    type Locked = Snapshot;
    type Backend = MutexBackend;

    fn invalidate<'a>(&self, inv: Invalidate<'a, Self>) -> Result<Pass<'a>, Refused<'a>> {
        let blockable = matches!(inv, Invalidate::Blockable(_));
        let mut snapshot = match inv {
            Invalidate::Blockable(b) => b.lock(),
            Invalidate::NonBlocking(nb) => match nb.try_lock() {
                Ok(guard) => guard,
                Err(nb) => {
                    // Contended, and we may not sleep: refuse (the balanced path).
                    self.stats.refused.add(1, Relaxed);
                    return Err(nb.refuse());
                }
            },
        };
        let range = snapshot.range();
        self.stats.pairs.start(blockable);
        if range.event() == Some(Event::Release) {
            self.stats.pairs.release();
        }
        // Taking the lock set the sequence (readers in flight retry); what they read is gone.
        snapshot.clear(range.start(), range.end());
        Ok(snapshot.finish_later())
    }

    fn invalidate_finish(&self, _finish: Finish<'_, Self>) {
        // Where a device would wait for its TLB flush. Closes the pair.
        self.stats.pairs.end();
    }
}

/// A `mirror` subscriber: its interval notifier and the snapshot command's lock.
#[pin_data]
pub(crate) struct MirrorSub {
    /// Serialises snapshots (they sleep: `read_begin`, `hmm_range_fault()`).
    #[pin]
    snapshotting: Mutex<()>,
    notifier: Pin<KBox<IntervalNotifier<MirrorOps>>>,
}

impl MirrorSub {
    /// Inserts a mirror over `interval` (`(start, len)`, `None`: the whole address space) of
    /// `mm`, through `registrar`. `EINVAL` for an empty, unaligned or overflowing interval.
    pub(crate) fn new(
        registrar: &RegistrarRef,
        mm: &MmWithUser,
        interval: Option<(usize, usize)>,
    ) -> Result<Arc<Self>> {
        let ops = MirrorOps {
            stats: Stats {
                pairs: Counters::new(),
                snapshots: Atomic::new(0),
                retries: Atomic::new(0),
                refused: Atomic::new(0),
            },
        };
        let notifier = match interval {
            Some((start, len)) => {
                if start % PAGE_SIZE != 0 || len % PAGE_SIZE != 0 {
                    return Err(EINVAL);
                }
                KBox::pin_init(
                    IntervalNotifier::new(
                        registrar,
                        mm,
                        start,
                        len,
                        ops,
                        new_mutex!(Snapshot::new(), "mmn_mirror"),
                    ),
                    GFP_KERNEL,
                )?
            }
            None => KBox::pin_init(
                IntervalNotifier::whole_address_space(
                    registrar,
                    mm,
                    ops,
                    new_mutex!(Snapshot::new(), "mmn_mirror"),
                ),
                GFP_KERNEL,
            )?,
        };
        Arc::pin_init(
            pin_init!(Self {
                snapshotting <- new_mutex!((), "mmn_mirror_snapshot"),
                notifier,
            }),
            GFP_KERNEL,
        )
    }

    /// The pairing counters (first passes as starts, second passes as ends).
    pub(crate) fn counters(&self) -> &Counters {
        &self.notifier.data().stats.pairs
    }

    /// Bytes of slab memory the mirror's own allocations take.
    pub(crate) fn bytes(&self) -> usize {
        mem::ksize(&mem::KBoxed::pinned(&self.notifier))
            + mem::kmalloc_class(size_of::<usize>() * 2 + size_of::<Self>())
    }

    /// Takes a snapshot of `pages` pages of `mm` from `start`, which must lie in the
    /// mirror's interval (`EINVAL` otherwise): faults them in and records their pfns, retrying
    /// until no invalidation collided (`EBUSY` after [`MAX_RETRIES`]). Sleeps.
    pub(crate) fn snapshot(&self, mm: &MmWithUser, start: usize, pages: usize) -> Result {
        if start % PAGE_SIZE != 0 || pages == 0 || pages > PAGES {
            return Err(EINVAL);
        }
        let _one_at_a_time = self.snapshotting.lock();
        let notifier = &*self.notifier;
        let stats = &notifier.data().stats;
        let mut pfns = [0usize; PAGES];
        let mut retries = 0;
        loop {
            if retries > MAX_RETRIES {
                stats.retries.add(retries, Relaxed);
                return Err(EBUSY);
            }
            let seq = notifier.read_begin()?;
            let faulted = match notifier.hmm_range_fault(mm, seq, start, &mut pfns[..pages]) {
                Err(e) if e == EBUSY => {
                    retries += 1;
                    continue;
                }
                r => r?,
            };
            if notifier.check_retry(seq) {
                // Already invalidated: no need to take the lock to learn it.
                retries += 1;
                continue;
            }
            let mut snapshot = notifier.lock();
            let Some(current) = snapshot.pfns(faulted) else {
                // An invalidation came in since `read_begin`: these pfns may be stale.
                retries += 1;
                continue;
            };
            snapshot.start = start;
            snapshot.pages = pages;
            snapshot.pfns[..pages].copy_from_slice(current);
            snapshot.seq = seq.value();
            break;
        }
        stats.retries.add(retries, Relaxed);
        stats.snapshots.add(1, Relaxed);
        Ok(())
    }

    /// Writes the mirror's lines of the `mirror` file: the summary, then the pfns (`-` for a
    /// page an invalidation cleared).
    pub(crate) fn show(&self, id: u64, pid: i32, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let notifier = &*self.notifier;
        let stats = &notifier.data().stats;
        let snapshot = notifier.lock();
        writeln!(
            f,
            "{:>6} {:>8} {:#x} {:#x} {:#x} {:>5} {:>5} {:>10} {:>9} {:>7} {:>7}",
            id,
            pid,
            notifier.start(),
            notifier.size(),
            snapshot.start,
            snapshot.pages,
            snapshot.valid(),
            snapshot.seq,
            stats.snapshots.load(Relaxed),
            stats.retries.load(Relaxed),
            stats.refused.load(Relaxed),
        )?;
        write!(f, "pfns {id}:")?;
        for &pfn in &snapshot.pfns[..snapshot.pages] {
            if pfn == 0 {
                write!(f, " -")?;
            } else {
                write!(f, " {pfn:x}")?;
            }
        }
        writeln!(f)
    }
}

/// The header line of the `mirror` file, aligned with [`MirrorSub::show`].
pub(crate) fn show_header(f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(
        f,
        "{:>6} {:>8} interval_start interval_len start {:>5} {:>5} {:>10} {:>9} {:>7} {:>7}",
        "id", "pid", "pages", "valid", "seq", "snapshots", "retries", "refused"
    )
}
