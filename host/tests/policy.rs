// SPDX-License-Identifier: GPL-2.0

//! The stop-gap rule, exhaustively over small counts.

use mmn_stopgap_host::{
    control::Policy,
    policy::{decide, gate_needed, Verdict, SEVERAL},
};

#[test]
fn blockable_is_always_allowed() {
    for policy in [Policy::Stopgap, Policy::Off, Policy::Raw] {
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
fn off_refuses_only_for_a_refuser() {
    // No stop gap under `off`, but a subscriber that would refuse a non-blockable start is
    // refused in the gate, where the core closes its interval-tree pass itself.
    for n in [0, 1, 2, 3, 64, u32::MAX] {
        assert_eq!(decide(Policy::Off, false, n, 0), Verdict::Allow, "{n}");
    }
    for (n, r) in [(1, 1), (2, 1), (5, 2), (64, 64), (u32::MAX, 1)] {
        assert_eq!(decide(Policy::Off, false, n, r), Verdict::Refuse, "{n} {r}");
    }
}

#[test]
fn raw_never_refuses() {
    for n in [0, 1, 2, 3, 64, u32::MAX] {
        for r in [0, 1, n] {
            assert_eq!(decide(Policy::Raw, false, n, r), Verdict::Allow, "{n} {r}");
        }
    }
}

#[test]
fn a_gate_wherever_a_refusal_may_happen() {
    for r in [0, 1, 2, 64, u32::MAX] {
        assert!(gate_needed(Policy::Stopgap, r), "{r}");
        assert_eq!(gate_needed(Policy::Off, r), r > 0, "{r}");
        assert!(!gate_needed(Policy::Raw, r), "{r}");
    }
    // Under every policy but `raw`, a group that holds a refuser has a gate, and that gate
    // refuses every non-blockable range: no subscriber of ours ever refuses after the
    // interval-tree pass began.
    for policy in [Policy::Stopgap, Policy::Off] {
        for n in 1..=64 {
            for r in 1..=n {
                assert!(gate_needed(policy, r));
                assert_eq!(decide(policy, false, n, r), Verdict::Refuse, "{policy:?} {n} {r}");
            }
        }
    }
}

#[test]
fn decide_is_const() {
    // The decision is a `const fn`: it cannot allocate, lock or loop over subscribers.
    const R: Verdict = decide(Policy::Stopgap, false, 3, 0);
    assert_eq!(R, Verdict::Refuse);
}
