// SPDX-License-Identifier: GPL-2.0

//! The stop-gap rule: whether the gate lets an invalidation through.
//!
//! From the 2019 mm discussion "prevent unpaired invalidate_start and invalidate_end with
//! non-blocking": when an invalidation is not allowed to block (the OOM reaper,
//! `process_mrelease(2)`) and the mm has several subscribers, refuse it early with `-EAGAIN`,
//! before any subscriber's `invalidate_range_start` runs, so that no subscriber can be left with
//! a start whose end never comes.
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

/// Decides one invalidation in O(1): the inputs are a policy, one flag and two counters.
///
/// - `subscribers`: the subscribers attached to the mm through this module (the only ones an
///   out-of-tree module can see);
/// - `refusers`: how many of them may refuse a non-blockable start (the `eagain` kind).
///
/// The rule refuses a non-blockable invalidation when there are several subscribers (the 2019
/// stop gap), and also when one of them would refuse it anyway: a refusal by an hlist
/// subscriber after the interval notifiers accepted leaves the core's interval-tree
/// invalidation open for good (`mn_itree_inv_end()` is never called for it), and the gate's
/// removal would then wait forever. Refused in the gate, the caller gets the same `-EAGAIN`
/// and the core closes the interval tree itself.
pub const fn decide(policy: Policy, blockable: bool, subscribers: u32, refusers: u32) -> Verdict {
    match policy {
        Policy::Stopgap if !blockable && (subscribers >= SEVERAL || refusers > 0) => {
            Verdict::Refuse
        }
        Policy::Stopgap | Policy::Off => Verdict::Allow,
    }
}
