// SPDX-License-Identifier: GPL-2.0

//! mmn_stopgap: real MMU notifier subscriptions on a chosen process, and the stop-gap rule.
//!
//! When a non-blocking invalidation (the OOM reaper, `process_mrelease(2)`) reaches an mm with
//! several subscribers, refuse it early with `-EAGAIN`, before any subscriber's
//! `invalidate_range_start` runs, so that no subscriber's paired start/end state can be left
//! unpaired (the 2019 mm discussion "prevent unpaired invalidate_start and invalidate_end with
//! non-blocking"). Driven through `/sys/kernel/debug/mmn_stopgap/`; see
//! `Documentation/mmn_stopgap.rst`.

// `control` and `policy` are pure `core` code that the host crate in `host/` compiles too; they
// are `pub` so that the same items are public there.
pub mod control;
mod counters;
mod group;
mod mirror;
mod mm;
pub mod policy;
mod selftest;
mod state;
mod subscriber;
mod sys;

use kernel::{
    prelude::*,
    sync::Arc, //
};
// The abstraction, as `kernel::mm::mmu_notifier` in the kernel tree.
use mm::mmu_notifier;
use state::State;

module! {
    type: MmnStopgap,
    name: "mmn_stopgap",
    authors: ["mmn-stopgap developers"],
    description: "MMU notifier subscribers and the non-blocking invalidation stop gap",
    license: "GPL",
    params: {
        selftest: u8 {
            default: 0,
            description: "1: run the in-kernel unit tests at load, results in the kernel log",
        },
    },
}

/// Whether the module was loaded with `selftest=1`.
///
/// Written for every supported kernel: `ModuleParamAccess::value()` returns the value from 7.3
/// on ("rust: module_param: return value by copy from `value`"), a reference before, and
/// `Borrow` reads both. A `u8`, not a `bool`: `bool` parameters are 7.3's too ("rust:
/// module_param: support bool parameters").
fn selftest_requested() -> bool {
    let value = module_parameters::selftest.value();
    *core::borrow::Borrow::<u8>::borrow(&value) != 0
}

/// The loaded module: the state, the debugfs directory that exposes it, and the registrar of
/// every notifier it registers.
struct MmnStopgap {
    /// `None` only while unloading.
    dir: Option<sys::debugfs::Dir<State>>,
    state: Arc<State>,
    /// `None` only while unloading; dropped last: no notifier of the module outlives it.
    registrar: Option<mmu_notifier::Registrar>,
}

impl kernel::Module for MmnStopgap {
    fn init(module: &'static ThisModule) -> Result<Self> {
        if selftest_requested() {
            selftest::run();
        }
        let registrar = mmu_notifier::Registrar::new()?;
        let state = Arc::pin_init(State::new(registrar.clone())?, GFP_KERNEL)?;
        let dir = sys::debugfs::Dir::new(c"mmn_stopgap", module, state.clone(), &state::FILES)?;
        pr_info!("loaded: /sys/kernel/debug/mmn_stopgap/ (policy stopgap)\n");
        Ok(Self {
            dir: Some(dir),
            state,
            registrar: Some(registrar),
        })
    }
}

impl Drop for MmnStopgap {
    fn drop(&mut self) {
        // No file is open (each open file pins the module), so removal is immediate.
        drop(self.dir.take());
        self.state.shutdown();
        // Takes out of the core whatever is still registered, and waits until the core has
        // freed every subscription put so far: no callback of the module runs after this.
        drop(self.registrar.take());
        pr_info!("unloaded: every subscriber and gate unregistered\n");
    }
}
