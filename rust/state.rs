// SPDX-License-Identifier: GPL-2.0

//! The module's state and its three debugfs files: `control`, `subscribers`, `stats`.
//!
//! The file formats are frozen ABI, documented in `Documentation/mmn_stopgap.rst` and
//! `Documentation/ABI/testing/debugfs-mmn-stopgap`.

use crate::{
    control::{
        self,
        Command,
        Pages, //
    },
    group::{
        self,
        Registry,
        Shared, //
    },
    mirror,
    mmu_notifier::RegistrarRef,
    subscriber,
    sys::{
        debugfs::FileSpec,
        task::{
            self,
            LookupError, //
        },
        wait::WaitQueue,
    },
};
use core::fmt;
use kernel::{
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        Arc,
        Mutex, //
    },
    time::msecs_to_jiffies,
};

/// Everything the module knows; shared by the debugfs files.
#[pin_data]
pub(crate) struct State {
    shared: Arc<Shared>,
    #[pin]
    registry: Mutex<Registry>,
    /// Serialises policy switches. Held while the gates follow, which can wait on an mm; never
    /// taken under the registry's mutex.
    #[pin]
    switching: Mutex<()>,
    #[pin]
    parking: WaitQueue,
    /// Bumped by every `unpark` (and at unload); parked writers wait for it to change.
    park_generation: Atomic<u64>,
    /// Writers parked right now.
    parked: Atomic<u32>,
}

impl State {
    /// A fresh state: policy `stopgap`, no subscribers, zero counters; every subscriber and
    /// gate registered through `registrar`.
    pub(crate) fn new(registrar: RegistrarRef) -> Result<impl PinInit<Self>> {
        let shared = Arc::new(Shared::new(registrar), GFP_KERNEL)?;
        Ok(pin_init!(Self {
            registry <- new_mutex!(Registry::new(shared.clone()), "mmn_stopgap_registry"),
            switching <- new_mutex!((), "mmn_stopgap_switching"),
            shared,
            parking <- WaitQueue::new(c"mmn_stopgap_park", kernel::static_lock_class!()),
            park_generation: Atomic::new(0),
            parked: Atomic::new(0),
        }))
    }

    /// Runs one command.
    ///
    /// The registry's mutex is only held to reserve, link and unlink: registering, unregistering
    /// and the gates' insertion and removal, which can wait on an mm, happen after it is dropped.
    fn execute(&self, command: Command) -> Result {
        match command {
            Command::Attach {
                pid,
                count,
                kind,
                interval,
            } => {
                if !task::may_attach() {
                    return Err(EPERM);
                }
                let interval = interval.map(pages_to_range).transpose()?;
                let mm = task::mm_of_pid(pid).map_err(|e| match e {
                    LookupError::NoSuchProcess => ESRCH,
                    LookupError::NoMm => EINVAL,
                })?;
                let reservation = self
                    .registry
                    .lock()
                    .reserve(&mm, pid, count, kind, interval)?;
                let registered = reservation.register(&mm);
                match registered {
                    Ok(created) => {
                        self.registry.lock().commit(&reservation, created);
                        Ok(())
                    }
                    Err(e) => {
                        // Give the room back first, whatever the gate's settling waits for.
                        let touched = self.registry.lock().cancel(reservation);
                        touched.settle();
                        Err(e)
                    }
                }
            }
            Command::Detach(target) => {
                let unlinked = self.registry.lock().unlink(target)?;
                let released = unlinked.unregister();
                // Every slot is released before any gate is touched, so that a wait on one
                // wedged mm holds up no other group's accounting.
                let touched = self.registry.lock().release(released);
                touched.settle();
                Ok(())
            }
            Command::SetPolicy(policy) => {
                // One switch at a time: a rollback restores what every gate agreed with.
                let _switching = self.switching.lock();
                if policy == self.shared.policy() {
                    return Ok(());
                }
                let (old, groups) = self.registry.lock().set_policy(policy)?;
                group::sync_gates(&self.shared, policy, old, groups)
            }
            Command::Mirror { id, pages } => {
                // It faults pages into another process and shows their pfns: as for `attach`.
                if !task::may_attach() {
                    return Err(EPERM);
                }
                let (start, len) = pages_to_range(pages)?;
                let (mirror, mm) = self.registry.lock().mirror(id)?;
                // A dead target has nothing to mirror.
                let mm = mm.mmget_not_zero().ok_or(ESRCH)?;
                // After the mutex: the snapshot sleeps, and waits for the mm's invalidations.
                mirror.snapshot(&mm, start, len / PAGE_SIZE)
            }
            Command::SetTeardown(teardown) => {
                self.shared.set_teardown(teardown);
                Ok(())
            }
            Command::Reset => {
                let registry = self.registry.lock();
                self.shared.reset();
                registry.reset();
                Ok(())
            }
            Command::Park { secs } => self.park(secs),
            Command::Unpark => {
                self.unpark();
                Ok(())
            }
        }
    }

    /// Sleeps until `unpark` or `secs` seconds pass (`ETIMEDOUT`).
    ///
    /// SIGKILL does not end the sleep: a parked thread keeps its process's mm alive after the
    /// rest of the process is killed, so `process_mrelease(2)` and the OOM reaper can be tested
    /// deterministically. The sleep is `TASK_IDLE`, so a long park is not a hung task.
    fn park(&self, secs: u32) -> Result {
        let generation = self.park_generation.load(Relaxed);
        self.parked.add(1, Relaxed);
        let woken = self.parking.wait_idle_timeout(
            || self.park_generation.load(Relaxed) != generation,
            msecs_to_jiffies(secs.saturating_mul(1000)),
        );
        self.parked.fetch_sub(1, Relaxed);
        if woken {
            Ok(())
        } else {
            Err(ETIMEDOUT)
        }
    }

    /// Wakes every parked writer.
    pub(crate) fn unpark(&self) {
        self.park_generation.add(1, Relaxed);
        self.parking.wake_all();
    }

    /// Detaches everything; used at unload, when no file is open. The registry's mutex is
    /// dropped before anything is unregistered.
    pub(crate) fn shutdown(&self) {
        self.unpark();
        let (entries, slots) = self.registry.lock().take_all();
        // Subscribers first (each entry unregisters its subscriber, then lets go of its
        // group), then the groups, whose last references remove the gates.
        drop(entries);
        drop(slots);
    }
}

/// The byte range of `pages` pages from `addr`: `EINVAL` unless page-aligned and in the
/// address space.
pub(crate) fn pages_to_range(p: Pages) -> Result<(usize, usize)> {
    let start = usize::try_from(p.addr).map_err(|_| EINVAL)?;
    let len = usize::try_from(p.pages).map_err(|_| EINVAL)? * PAGE_SIZE;
    if start % PAGE_SIZE != 0 || start.checked_add(len).is_none() {
        return Err(EINVAL);
    }
    Ok((start, len))
}

/// `control`: one command per `write(2)`.
fn control_write(state: &State, bytes: &[u8]) -> Result {
    let command = control::parse(bytes).map_err(|_| EINVAL)?;
    state.execute(command)
}

/// `subscribers`: a header, then one line per subscriber, by id.
fn subscribers_show(state: &State, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let registry = state.registry.lock();
    subscriber::show_header(f)?;
    registry.show(f)
}

/// `mirror`: a header, then two lines per mirror subscriber, by id.
fn mirror_show(state: &State, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let registry = state.registry.lock();
    mirror::show_header(f)?;
    registry.show_mirrors(f)
}

/// `stats`: `key: value` lines, in a fixed order.
fn stats_show(state: &State, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let (groups, subscribers, bytes) = {
        let registry = state.registry.lock();
        (registry.groups(), registry.subscribers(), registry.bytes())
    };
    let s = &*state.shared;
    writeln!(f, "policy: {}", s.policy().name())?;
    writeln!(f, "groups: {groups}")?;
    writeln!(f, "gates: {}", s.gates.load(Relaxed))?;
    writeln!(f, "subscribers: {subscribers}")?;
    writeln!(f, "gate_calls: {}", s.gate_calls.load(Relaxed))?;
    writeln!(f, "nonblock_seen: {}", s.nonblock_seen.load(Relaxed))?;
    writeln!(f, "refused: {}", s.refused.load(Relaxed))?;
    writeln!(f, "warned: {}", u8::from(s.warned.load(Relaxed)))?;
    writeln!(f, "parked: {}", state.parked.load(Relaxed))?;
    writeln!(f, "memory_bytes: {bytes}")?;
    writeln!(f, "removing: {}", s.removing.load(Relaxed))?;
    writeln!(f, "teardown: {}", s.teardown().name())
}

/// The files of `/sys/kernel/debug/mmn_stopgap/`.
pub(crate) static FILES: [FileSpec<State>; 4] = [
    FileSpec {
        name: c"control",
        show: None,
        write: Some(control_write),
        max_write: control::MAX_COMMAND_LEN,
    },
    FileSpec {
        name: c"subscribers",
        show: Some(subscribers_show),
        write: None,
        max_write: 0,
    },
    FileSpec {
        name: c"stats",
        show: Some(stats_show),
        write: None,
        max_write: 0,
    },
    FileSpec {
        name: c"mirror",
        show: Some(mirror_show),
        write: None,
        max_write: 0,
    },
];
