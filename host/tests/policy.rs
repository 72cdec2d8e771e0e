// SPDX-License-Identifier: GPL-2.0

//! The stop-gap rule, exhaustively over small subscriber counts.

use mmn_stopgap_host::{
    control::Policy,
    policy::{decide, Verdict, SEVERAL},
};

#[test]
fn blockable_is_always_allowed() {
    for policy in [Policy::Stopgap, Policy::Off] {
        for n in 0..=1024 {
            assert_eq!(decide(policy, true, n), Verdict::Allow, "{policy:?} {n}");
        }
    }
}

#[test]
fn stopgap_refuses_nonblocking_with_several() {
    assert_eq!(SEVERAL, 2);
    assert_eq!(decide(Policy::Stopgap, false, 0), Verdict::Allow);
    assert_eq!(decide(Policy::Stopgap, false, 1), Verdict::Allow);
    for n in 2..=1024 {
        assert_eq!(decide(Policy::Stopgap, false, n), Verdict::Refuse, "{n}");
    }
    assert_eq!(decide(Policy::Stopgap, false, u32::MAX), Verdict::Refuse);
}

#[test]
fn off_never_refuses() {
    for n in [0, 1, 2, 3, 64, u32::MAX] {
        assert_eq!(decide(Policy::Off, false, n), Verdict::Allow, "{n}");
    }
}

#[test]
fn decide_is_const() {
    // The decision is a `const fn`: it cannot allocate, lock or loop over subscribers.
    const R: Verdict = decide(Policy::Stopgap, false, 3);
    assert_eq!(R, Verdict::Refuse);
}
