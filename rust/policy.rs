// SPDX-License-Identifier: GPL-2.0

//! The stop-gap rule: whether a group needs a gate, and whether the gate lets an invalidation
//! through.
//!
//! From the 2019 mm discussion "prevent unpaired invalidate_start and invalidate_end with
//! non-blocking": when an invalidation is not allowed to block (the OOM reaper,
//! `process_mrelease(2)`) and the mm has several subscribers, refuse it early with `-EAGAIN`,
//! before any subscriber's `invalidate_range_start` runs, so that no subscriber can be left with
//! a start whose end never comes.
//!
//! A second reason to refuse comes from today's core. Once an mm has had an interval notifier,
//! every invalidation opens an interval-tree pass (`active_invalidate_ranges`), which only an
//! interval notifier's refusal or `invalidate_range_end()` closes. An hlist subscriber that
//! refuses a non-blockable start after that pass began leaves it open for good, and every later
//! interval-notifier removal or `mmu_interval_read_begin()` on the mm waits forever. So a
//! subscriber of ours that may refuse (`eagain`) always sits behind a live gate that refuses
//! first, under every policy but `raw`.
//!
//! Like `control.rs`, this file uses nothing but `core` so that the host crate tests it.

use crate::control::Policy;

/// The gate's answer for one invalidation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Let the invalidation reach the subscribers.
    Allow,
    /// Refuse it: the core returns `-EAGAIN` to the caller without calling any subscriber.
    Refuse,
}

/// Fewest subscribers on one mm for which the rule refuses a non-blockable invalidation.
pub const SEVERAL: u32 = 2;

/// Whether a group needs a gate in the mm's interval tree.
///
/// - `stopgap`: always (the rule).
/// - `off`: only while the group holds a subscriber that may refuse a non-blockable start
///   (`refusers > 0`), so that the refusal happens in the gate, where the core closes the
///   interval-tree pass itself.
/// - `raw`: never (today's core alone, for the core regression tests).
pub const fn gate_needed(policy: Policy, refusers: u32) -> bool {
    match policy {
        Policy::Stopgap => true,
        Policy::Off => refusers > 0,
        Policy::Raw => false,
    }
}

/// Decides one invalidation in O(1): the inputs are a policy, one flag and two counters.
///
/// - `subscribers`: the subscribers attached to the mm through this module (the only ones an
///   out-of-tree module can see);
/// - `refusers`: how many of them may refuse a non-blockable start (the `eagain` kind).
///
/// A blockable invalidation is always allowed (the core forbids refusing it). A non-blockable
/// one is refused under `stopgap` when there are several subscribers (the 2019 stop gap), and
/// under `stopgap` and `off` when one of them would refuse it anyway: refused here, the caller
/// gets the same `-EAGAIN` and the core closes the interval-tree pass itself.
pub const fn decide(policy: Policy, blockable: bool, subscribers: u32, refusers: u32) -> Verdict {
    if blockable {
        return Verdict::Allow;
    }
    match policy {
        Policy::Stopgap if subscribers >= SEVERAL || refusers > 0 => Verdict::Refuse,
        Policy::Off if refusers > 0 => Verdict::Refuse,
        Policy::Stopgap | Policy::Off | Policy::Raw => Verdict::Allow,
    }
}
