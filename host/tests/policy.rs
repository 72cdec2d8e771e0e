// SPDX-License-Identifier: GPL-2.0

//! The stop-gap rule, exhaustively over small counts.

use mmn_stopgap_host::{
    control::Policy,
    policy::{decide, Verdict, SEVERAL},
};

#[test]
fn blockable_is_always_allowed() {
    for policy in [Policy::Stopgap, Policy::Off] {
        for n in 0..=1024 {
            for r in [0, 1, n] {
                assert_eq!(decide(policy, true, n, r), Verdict::Allow, "{policy:?} {n} {r}");
            }
        }
    }
}

#[test]
fn stopgap_refuses_nonblocking_with_several() {
    assert_eq!(SEVERAL, 2);
    assert_eq!(decide(Policy::Stopgap, false, 0, 0), Verdict::Allow);
    assert_eq!(decide(Policy::Stopgap, false, 1, 0), Verdict::Allow);
    for n in 2..=1024 {
        assert_eq!(decide(Policy::Stopgap, false, n, 0), Verdict::Refuse, "{n}");
    }
    assert_eq!(decide(Policy::Stopgap, false, u32::MAX, 0), Verdict::Refuse);
}

#[test]
fn stopgap_refuses_nonblocking_when_one_would_refuse() {
    // A lone `eagain` subscriber would refuse anyway: the gate refuses first, so the core's
    // interval-tree invalidation is closed by the core itself.
    assert_eq!(decide(Policy::Stopgap, false, 1, 1), Verdict::Refuse);
    assert_eq!(decide(Policy::Stopgap, false, 5, 1), Verdict::Refuse);
    assert_eq!(decide(Policy::Stopgap, true, 1, 1), Verdict::Allow);
}

#[test]
fn off_never_refuses() {
    for n in [0, 1, 2, 3, 64, u32::MAX] {
        for r in [0, 1, n] {
            assert_eq!(decide(Policy::Off, false, n, r), Verdict::Allow, "{n} {r}");
        }
    }
}

#[test]
fn decide_is_const() {
    // The decision is a `const fn`: it cannot allocate, lock or loop over subscribers.
    const R: Verdict = decide(Policy::Stopgap, false, 3, 0);
    assert_eq!(R, Verdict::Refuse);
}
