// SPDX-License-Identifier: GPL-2.0

//! Kernel services the `kernel` crate does not wrap (yet), wrapped the way it would.
//!
//! - [`task`]: pid → task → mm lookup with exported functions only, and the capability check
//!   that replaces `ptrace_may_access()` (not exported to modules).
//! - [`wait`]: an uninterruptible wait with a timeout (`CondVar` has none).
//! - [`mem`]: `ksize()`, for counting the memory the module holds.
//! - [`debugfs`]: debugfs files whose `file_operations` name their owner module, so that an
//!   open file pins the module (the `kernel::debugfs` files leave `owner` NULL, and closing one
//!   after `rmmod` would call into freed module text).
//!
//! Together with `mm.rs` and `mm/` (the mmu_notifier and HMM abstractions) these are the only
//! files of the module that touch `kernel::bindings`.

pub(crate) mod debugfs;
pub(crate) mod mem;
pub(crate) mod task;
pub(crate) mod wait;
