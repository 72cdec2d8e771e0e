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
    prelude::*,
    sync::atomic::{
        Atomic,
        Relaxed, //
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
