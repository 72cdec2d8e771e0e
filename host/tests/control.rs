// SPDX-License-Identifier: GPL-2.0

//! Every command form and every parse error of the `control` file.

use mmn_stopgap_host::control::{
    parse, Command, DetachTarget, Kind, Pages, ParseError, Policy, Teardown, DEFAULT_PARK_SECS,
    MAX_ATTACH_COUNT, MAX_COMMAND_LEN, MAX_MIRROR_PAGES, MAX_PARK_SECS, PID_MAX_LIMIT,
};

fn ok(input: &str) -> Command {
    match parse(input.as_bytes()) {
        Ok(c) => c,
        Err(e) => panic!("{input:?} should parse, got {e:?}"),
    }
}

fn err(input: &[u8]) -> ParseError {
    match parse(input) {
        Ok(c) => panic!("{:?} should be rejected, parsed as {c:?}", String::from_utf8_lossy(input)),
        Err(e) => e,
    }
}

fn attach(pid: i32, count: u32, kind: Kind) -> Command {
    Command::Attach {
        pid,
        count,
        kind,
        interval: None,
    }
}

#[test]
fn attach_forms() {
    assert_eq!(ok("attach 1"), attach(1, 1, Kind::Paired));
    assert_eq!(ok("attach 42 3"), attach(42, 3, Kind::Paired));
    assert_eq!(ok("attach 42 3 paired"), attach(42, 3, Kind::Paired));
    assert_eq!(ok("attach 42 3 eagain"), attach(42, 3, Kind::Eagain));
    assert_eq!(ok("attach 42 eagain"), attach(42, 1, Kind::Eagain));
    assert_eq!(ok("attach 42 paired"), attach(42, 1, Kind::Paired));
    assert_eq!(ok("attach 42 64"), attach(42, MAX_ATTACH_COUNT, Kind::Paired));
    assert_eq!(ok("attach 4194304"), attach(PID_MAX_LIMIT, 1, Kind::Paired));
}

#[test]
fn mirror_forms() {
    assert_eq!(ok("attach 42 mirror"), attach(42, 1, Kind::Mirror));
    assert_eq!(ok("attach 42 2 mirror"), attach(42, 2, Kind::Mirror));
    let interval = Some(Pages {
        addr: 140737488289792,
        pages: 16,
    });
    assert_eq!(
        ok("attach 42 mirror 140737488289792 16"),
        Command::Attach {
            pid: 42,
            count: 1,
            kind: Kind::Mirror,
            interval
        }
    );
    assert_eq!(
        ok("attach 42 3 mirror 140737488289792 16"),
        Command::Attach {
            pid: 42,
            count: 3,
            kind: Kind::Mirror,
            interval
        }
    );
    assert_eq!(
        ok("mirror 7 0 64"),
        Command::Mirror {
            id: 7,
            pages: Pages {
                addr: 0,
                pages: MAX_MIRROR_PAGES
            }
        }
    );
    assert_eq!(ok("teardown sync"), Command::SetTeardown(Teardown::Sync));
    assert_eq!(ok("teardown deferred"), Command::SetTeardown(Teardown::Deferred));
    // An interval only for a mirror, and whole.
    assert_eq!(err(b"attach 42 paired 4096 1"), ParseError::UnexpectedArgument);
    assert_eq!(err(b"attach 42 mirror 4096"), ParseError::MissingArgument);
    assert_eq!(err(b"attach 42 mirror 4096 0"), ParseError::OutOfRange);
    assert_eq!(err(b"attach 42 mirror 4096 65"), ParseError::OutOfRange);
    assert_eq!(err(b"attach 42 mirror 0x1000 1"), ParseError::BadNumber);
    assert_eq!(err(b"attach 42 mirror 4096 1 1"), ParseError::UnexpectedArgument);
    assert_eq!(err(b"mirror 0 4096 1"), ParseError::OutOfRange);
    assert_eq!(err(b"mirror 1 4096"), ParseError::MissingArgument);
    assert_eq!(err(b"mirror 1 18446744073709551616 1"), ParseError::BadNumber);
    assert_eq!(err(b"teardown"), ParseError::MissingArgument);
    assert_eq!(err(b"teardown now"), ParseError::UnknownTeardown);
    assert_eq!(err(b"teardown sync please"), ParseError::UnexpectedArgument);
}

#[test]
fn whitespace_and_newline() {
    assert_eq!(ok("attach 7\n"), attach(7, 1, Kind::Paired));
    assert_eq!(ok("  attach   7  2\teagain  "), attach(7, 2, Kind::Eagain));
    assert_eq!(ok("\tattach\t7\n"), attach(7, 1, Kind::Paired));
    assert_eq!(ok("reset\n"), Command::Reset);
}

#[test]
fn detach_forms() {
    assert_eq!(ok("detach 1"), Command::Detach(DetachTarget::Id(1)));
    assert_eq!(
        ok("detach 18446744073709551615"),
        Command::Detach(DetachTarget::Id(u64::MAX))
    );
    assert_eq!(ok("detach pid 9"), Command::Detach(DetachTarget::Pid(9)));
    assert_eq!(ok("detach all"), Command::Detach(DetachTarget::All));
}

#[test]
fn other_verbs() {
    assert_eq!(ok("policy stopgap"), Command::SetPolicy(Policy::Stopgap));
    assert_eq!(ok("policy off"), Command::SetPolicy(Policy::Off));
    assert_eq!(ok("policy raw"), Command::SetPolicy(Policy::Raw));
    assert_eq!(ok("reset"), Command::Reset);
    assert_eq!(ok("park"), Command::Park { secs: DEFAULT_PARK_SECS });
    assert_eq!(ok("park 1"), Command::Park { secs: 1 });
    assert_eq!(ok("park 300"), Command::Park { secs: MAX_PARK_SECS });
    assert_eq!(ok("unpark"), Command::Unpark);
}

#[test]
fn empty_and_blank() {
    assert_eq!(err(b""), ParseError::Empty);
    assert_eq!(err(b"\n"), ParseError::Empty);
    assert_eq!(err(b"    "), ParseError::Empty);
    assert_eq!(err(b" \t \n"), ParseError::Empty);
}

#[test]
fn bad_bytes() {
    assert_eq!(err(b"attach 1\0"), ParseError::BadByte);
    assert_eq!(err(b"\0"), ParseError::BadByte);
    assert_eq!(err(b"attach\x001"), ParseError::BadByte);
    assert_eq!(err(b"attach 1\n\n"), ParseError::BadByte);
    assert_eq!(err(b"attach 1\r\n"), ParseError::BadByte);
    assert_eq!(err(b"reset\nreset"), ParseError::BadByte);
    assert_eq!(err(b"attach \xff"), ParseError::BadByte);
    assert_eq!(err("attach ١".as_bytes()), ParseError::BadByte);
    assert_eq!(err(b"\x1b[31m"), ParseError::BadByte);
    assert_eq!(err(b"attach\x7f1"), ParseError::BadByte);
}

#[test]
fn length_limit() {
    let mut long = b"attach 1".to_vec();
    long.resize(MAX_COMMAND_LEN, b' ');
    assert_eq!(parse(&long), Ok(attach(1, 1, Kind::Paired)));
    long.push(b' ');
    assert_eq!(err(&long), ParseError::TooLong);
    assert_eq!(err(&[b'a'; 4096]), ParseError::TooLong);
}

#[test]
fn unknown_verbs() {
    for v in ["attac 1", "ATTACH 1", "Attach 1", "foo", "detach-all", "resetx", "1", "-1", "#"] {
        assert_eq!(err(v.as_bytes()), ParseError::UnknownVerb, "{v}");
    }
}

#[test]
fn missing_arguments() {
    for v in ["attach", "detach", "detach pid", "policy", "attach\n"] {
        assert_eq!(err(v.as_bytes()), ParseError::MissingArgument, "{v}");
    }
}

#[test]
fn extra_arguments() {
    for v in [
        "attach 1 2 paired x",
        "attach 1 2 3",
        "attach 1 paired 2",
        "detach 1 2",
        "detach all 1",
        "detach pid 1 2",
        "policy off now",
        "reset 1",
        "unpark 1",
        "park 1 2",
    ] {
        assert_eq!(err(v.as_bytes()), ParseError::UnexpectedArgument, "{v}");
    }
}

#[test]
fn bad_numbers() {
    for v in [
        "attach -1",
        "attach +1",
        "attach 0x10",
        "attach 1e3",
        "attach 01",
        "attach 1.0",
        "attach 1a",
        "attach 99999999999999999999999",
        "attach 1 0x2",
        "attach 1 -3",
        "attach 1 +3",
        "attach 1 02",
        "detach -1",
        "detach 0x1",
        "detach 18446744073709551616",
        "detach pid -5",
        "detach pid abc",
        "park -1",
        "park 1s",
    ] {
        assert_eq!(err(v.as_bytes()), ParseError::BadNumber, "{v}");
    }
}

#[test]
fn out_of_range() {
    for v in [
        "attach 0",
        "attach 4194305",
        "attach 2147483648",
        "attach 1 0",
        "attach 1 65",
        "attach 1 4294967296",
        "detach 0",
        "detach pid 0",
        "park 0",
        "park 301",
    ] {
        assert_eq!(err(v.as_bytes()), ParseError::OutOfRange, "{v}");
    }
}

#[test]
fn unknown_kind_and_policy() {
    assert_eq!(err(b"attach 1 2 pairedx"), ParseError::UnknownKind);
    assert_eq!(err(b"attach 1 PAIRED"), ParseError::UnknownKind);
    assert_eq!(err(b"attach 1 nope"), ParseError::UnknownKind);
    assert_eq!(err(b"policy on"), ParseError::UnknownPolicy);
    assert_eq!(err(b"policy STOPGAP"), ParseError::UnknownPolicy);
    assert_eq!(err(b"policy 1"), ParseError::UnknownPolicy);
}

#[test]
fn detach_all_needs_nothing_else() {
    assert_eq!(err(b"detach pid all"), ParseError::BadNumber);
    assert_eq!(err(b"detach everything"), ParseError::BadNumber);
}

#[test]
fn names_round_trip() {
    for kind in [Kind::Paired, Kind::Eagain, Kind::Mirror] {
        let cmd = format!("attach 5 2 {}", kind.name());
        assert_eq!(ok(&cmd), attach(5, 2, kind));
    }
    for policy in [Policy::Stopgap, Policy::Off, Policy::Raw] {
        let cmd = format!("policy {}", policy.name());
        assert_eq!(ok(&cmd), Command::SetPolicy(policy));
    }
    // The stats file shows `teardown: <name>`, the command takes the same word.
    for teardown in [Teardown::Deferred, Teardown::Sync] {
        let cmd = format!("teardown {}", teardown.name());
        assert_eq!(ok(&cmd), Command::SetTeardown(teardown));
    }
}
