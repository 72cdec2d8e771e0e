// SPDX-License-Identifier: GPL-2.0
// Included by every case: the abstraction and a module that uses `check`.

// `mm.rs` and `mm/`, copied next to the case by scripts/compile-fail.sh.
#[allow(dead_code, unused_imports)]
mod mm;

#[allow(unused_imports)]
use mm::mmu_notifier;

#[allow(unused_imports)]
use kernel::{
    mm::MmWithUser,
    new_mutex,
    prelude::*,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        lock::mutex::MutexBackend,
    },
};
#[allow(unused_imports)]
use mmu_notifier::*;

struct CompileCheck;

impl kernel::Module for CompileCheck {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // Referenced, so that every generic instance in `check` is built.
        let _ = check as fn(&MmWithUser) -> Result;
        Ok(CompileCheck)
    }
}

#[allow(dead_code)]
/// An interval notifier that follows the protocol: it accepts an invalidation only with its
/// lock taken. The cases that break something else use it, so that they break only that.
struct Honest;

#[vtable]
impl IntervalNotifierOps for Honest {
    type Locked = ();
    type Backend = MutexBackend;

    fn invalidate<'a>(&self, inv: Invalidate<'a, Self>) -> Result<Pass<'a>, Refused<'a>> {
        match inv {
            Invalidate::Blockable(b) => Ok(b.lock().done()),
            Invalidate::NonBlocking(nb) => match nb.try_lock() {
                Ok(guard) => Ok(guard.done()),
                Err(nb) => Err(nb.refuse()),
            },
        }
    }
}
