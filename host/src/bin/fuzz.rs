// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the module's command parser and stop-gap rule on the host.
//!
//! Inputs are generated (random bytes, dictionary token soup, mutated valid commands) from a
//! seeded xorshift generator, so every run is reproducible from its seed. For every input:
//!
//! 1. `parse` must not panic;
//! 2. it must agree with an independent reference parser written from the documented grammar
//!    (same `Ok` value, or both `Err`);
//! 3. an accepted command must survive a round trip through its canonical text, and through
//!    re-spacing;
//! 4. input longer than 256 bytes must be rejected as `TooLong`.
//!
//! `decide` is checked against the rule's plain statement on random arguments.
//!
//! Usage: `fuzz [--iterations N] [--seconds S] [--seed X]` (defaults: 10,000,000, no time
//! limit, a fixed seed). Exits non-zero on the first disagreement, printing the input.

use mmn_stopgap_host::{
    control::{
        parse, Command, DetachTarget, Kind, Pages, ParseError, Policy, Teardown, MAX_ATTACH_COUNT,
        MAX_MIRROR_PAGES,
        MAX_COMMAND_LEN, MAX_PARK_SECS, PID_MAX_LIMIT,
    },
    policy::{decide, Verdict},
};
use std::{process::exit, time::Instant};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The grammar, written independently of `control.rs`: tokenize on ASCII space/tab after a
/// whole-input byte check, and parse numbers with the standard library plus explicit rules.
mod reference {
    use super::*;

    fn number(t: &str) -> Option<u64> {
        if t.is_empty() || t.len() > 1 && t.starts_with('0') {
            return None;
        }
        if !t.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        t.parse::<u64>().ok()
    }

    fn ranged(t: &str, lo: u64, hi: u64) -> Option<u64> {
        number(t).filter(|v| (lo..=hi).contains(v))
    }

    pub(super) fn parse(input: &[u8]) -> Option<Command> {
        if input.len() > MAX_COMMAND_LEN {
            return None;
        }
        let body = input.strip_suffix(b"\n").unwrap_or(input);
        if body.iter().any(|&b| !(b == b' ' || b == b'\t' || (0x21..=0x7e).contains(&b))) {
            return None;
        }
        let text = std::str::from_utf8(body).ok()?;
        let t: Vec<&str> = text.split([' ', '\t']).filter(|s| !s.is_empty()).collect();
        let pid = |s: &str| ranged(s, 1, PID_MAX_LIMIT as u64).map(|v| v as i32);
        let kind_of = |s: &str| match s {
            "paired" => Some(Kind::Paired),
            "eagain" => Some(Kind::Eagain),
            "mirror" => Some(Kind::Mirror),
            _ => None,
        };
        let pages = |a: &str, n: &str| {
            Some(Pages {
                addr: number(a)?,
                pages: ranged(n, 1, MAX_MIRROR_PAGES as u64)? as u32,
            })
        };
        let count = |c: &str| ranged(c, 1, MAX_ATTACH_COUNT as u64).map(|v| v as u32);
        let attach = |p: &str, count: u32, kind: Kind, interval: Option<Pages>| {
            Some(Command::Attach {
                pid: pid(p)?,
                count,
                kind,
                interval,
            })
        };
        match t.as_slice() {
            ["attach", p] => attach(p, 1, Kind::Paired, None),
            ["attach", p, x] => match kind_of(x) {
                Some(kind) => attach(p, 1, kind, None),
                None => attach(p, count(x)?, Kind::Paired, None),
            },
            ["attach", p, c, k] => match kind_of(c) {
                // `attach <pid> mirror <addr>` lacks the page count.
                Some(_) => None,
                None => attach(p, count(c)?, kind_of(k)?, None),
            },
            ["attach", p, "mirror", a, n] => attach(p, 1, Kind::Mirror, Some(pages(a, n)?)),
            ["attach", p, c, "mirror", a, n] => {
                attach(p, count(c)?, Kind::Mirror, Some(pages(a, n)?))
            }
            ["mirror", id, a, n] => Some(Command::Mirror {
                id: ranged(id, 1, u64::MAX)?,
                pages: pages(a, n)?,
            }),
            ["teardown", "deferred"] => Some(Command::SetTeardown(Teardown::Deferred)),
            ["teardown", "sync"] => Some(Command::SetTeardown(Teardown::Sync)),
            ["detach", "all"] => Some(Command::Detach(DetachTarget::All)),
            ["detach", "pid", p] => Some(Command::Detach(DetachTarget::Pid(pid(p)?))),
            ["detach", id] => Some(Command::Detach(DetachTarget::Id(ranged(id, 1, u64::MAX)?))),
            ["policy", "stopgap"] => Some(Command::SetPolicy(Policy::Stopgap)),
            ["policy", "off"] => Some(Command::SetPolicy(Policy::Off)),
            ["policy", "raw"] => Some(Command::SetPolicy(Policy::Raw)),
            ["reset"] => Some(Command::Reset),
            ["park"] => Some(Command::Park { secs: 30 }),
            ["park", s] => Some(Command::Park {
                secs: ranged(s, 1, MAX_PARK_SECS as u64)? as u32,
            }),
            ["unpark"] => Some(Command::Unpark),
            _ => None,
        }
    }
}

fn canonical(c: &Command) -> String {
    match c {
        Command::Attach {
            pid,
            count,
            kind,
            interval: None,
        } => format!("attach {pid} {count} {}", kind.name()),
        Command::Attach {
            pid,
            count,
            kind,
            interval: Some(p),
        } => format!("attach {pid} {count} {} {} {}", kind.name(), p.addr, p.pages),
        Command::Mirror { id, pages } => format!("mirror {id} {} {}", pages.addr, pages.pages),
        Command::SetTeardown(t) => format!("teardown {}", t.name()),
        Command::Detach(DetachTarget::Id(id)) => format!("detach {id}"),
        Command::Detach(DetachTarget::Pid(pid)) => format!("detach pid {pid}"),
        Command::Detach(DetachTarget::All) => "detach all".into(),
        Command::SetPolicy(p) => format!("policy {}", p.name()),
        Command::Reset => "reset".into(),
        Command::Park { secs } => format!("park {secs}"),
        Command::Unpark => "unpark".into(),
    }
}

const WORDS: &[&str] = &[
    "attach", "detach", "policy", "reset", "park", "unpark", "pid", "all", "paired", "eagain",
    "stopgap", "off", "raw", "mirror", "teardown", "deferred", "sync", "0", "1", "2", "9", "10", "01", "64", "65", "300", "301", "-1", "+1",
    "0x10", "4194304", "4194305", "2147483647", "2147483648", "4294967295", "4294967296",
    "18446744073709551615", "18446744073709551616", "99999999999999999999", "ATTACH", "Paired",
    "\t", " ", "  ", "\n", "\r", "\0", "é", "\u{0661}",
];

fn generate(rng: &mut Rng, buf: &mut Vec<u8>) {
    buf.clear();
    match rng.below(10) {
        // Random bytes.
        0 | 1 => {
            let len = rng.below(300) as usize;
            buf.extend((0..len).map(|_| rng.next() as u8));
        }
        // Printable ASCII, sometimes longer than the limit.
        2 => {
            let len = rng.below(270) as usize;
            buf.extend((0..len).map(|_| 0x20 + rng.below(95) as u8));
        }
        // Token soup.
        3..=6 => {
            let n = rng.below(6);
            for i in 0..n {
                if i > 0 && rng.below(8) != 0 {
                    buf.push(if rng.below(5) == 0 { b'\t' } else { b' ' });
                }
                buf.extend_from_slice(WORDS[rng.below(WORDS.len() as u64) as usize].as_bytes());
            }
            if rng.below(3) == 0 {
                buf.push(b'\n');
            }
        }
        // A valid command, then mutated.
        _ => {
            let valid = [
                format!("attach {} {} paired", rng.below(5_000_000), rng.below(70)),
                format!("attach {}", rng.below(5_000_000)),
                format!("attach {} eagain", rng.below(70)),
                format!("detach {}", rng.next()),
                format!("detach pid {}", rng.below(5_000_000)),
                "detach all".to_string(),
                "policy off\n".to_string(),
                "policy raw".to_string(),
                format!("attach {} mirror {} {}", rng.below(5_000_000), rng.next() & !4095, rng.below(70)),
                format!("mirror {} {} {}", rng.below(20), rng.next(), rng.below(70)),
                "teardown sync".to_string(),
                format!("park {}", rng.below(310)),
                "unpark".to_string(),
            ];
            buf.extend_from_slice(valid[rng.below(valid.len() as u64) as usize].as_bytes());
            for _ in 0..rng.below(3) {
                if buf.is_empty() {
                    break;
                }
                let at = rng.below(buf.len() as u64) as usize;
                match rng.below(5) {
                    0 => buf[at] ^= 1 << rng.below(8),
                    1 => buf.insert(at, rng.next() as u8),
                    2 => {
                        buf.remove(at);
                    }
                    3 => buf.truncate(at),
                    _ => {
                        let pad = rng.below(260) as usize;
                        buf.splice(at..at, std::iter::repeat(b' ').take(pad));
                    }
                }
            }
        }
    }
}

fn fail(what: &str, input: &[u8], seed: u64, i: u64) -> ! {
    eprintln!(
        "fuzz: {what}\n  input ({} bytes): {:?}\n  seed {seed:#x}, iteration {i}",
        input.len(),
        String::from_utf8_lossy(input)
    );
    exit(1);
}

fn main() {
    let mut iterations: u64 = 10_000_000;
    let mut seconds: Option<f64> = None;
    let mut seed: u64 = 0x6d6d_6e5f_7374_6f70;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_default();
        match a.as_str() {
            "--iterations" => iterations = v.parse().expect("--iterations N"),
            "--seconds" => seconds = Some(v.parse().expect("--seconds S")),
            "--seed" => seed = u64::from_str_radix(v.trim_start_matches("0x"), 16).expect("--seed HEX"),
            _ => {
                eprintln!("usage: fuzz [--iterations N] [--seconds S] [--seed HEX]");
                exit(2);
            }
        }
    }
    let mut rng = Rng(seed | 1);
    let mut buf = Vec::with_capacity(1024);
    let start = Instant::now();
    let (mut accepted, mut done) = (0u64, 0u64);
    for i in 0..iterations {
        if i % 65536 == 0 {
            if let Some(s) = seconds {
                if start.elapsed().as_secs_f64() > s {
                    break;
                }
            }
        }
        generate(&mut rng, &mut buf);
        let got = std::panic::catch_unwind(|| parse(&buf)).unwrap_or_else(|_| {
            fail("parse panicked", &buf, seed, i);
        });
        let want = reference::parse(&buf);
        match (&got, &want) {
            (Ok(g), Some(w)) if g == w => {}
            (Err(_), None) => {}
            _ => fail(&format!("parser {got:?} but grammar says {want:?}"), &buf, seed, i),
        }
        if buf.len() > MAX_COMMAND_LEN && got != Err(ParseError::TooLong) {
            fail("over-long input not rejected as TooLong", &buf, seed, i);
        }
        if let Ok(cmd) = got {
            accepted += 1;
            let text = canonical(&cmd);
            if parse(text.as_bytes()) != Ok(cmd) {
                fail(&format!("canonical form {text:?} does not round-trip"), &buf, seed, i);
            }
            let spaced = format!("\t {} \n", text.replace(' ', "  \t "));
            if spaced.len() <= MAX_COMMAND_LEN && parse(spaced.as_bytes()) != Ok(cmd) {
                fail(&format!("re-spaced form {spaced:?} differs"), &buf, seed, i);
            }
        }
        // The rule, stated plainly.
        let (blockable, n, r) = (rng.below(2) == 0, rng.below(5) as u32, rng.below(2) as u32);
        let policy = [Policy::Stopgap, Policy::Off, Policy::Raw][rng.below(3) as usize];
        let refuse = !blockable
            && match policy {
                Policy::Stopgap => n >= 2 || r > 0,
                Policy::Off => r > 0,
                Policy::Raw => false,
            };
        let verdict = decide(policy, blockable, n, r);
        if verdict != if refuse { Verdict::Refuse } else { Verdict::Allow } {
            eprintln!("fuzz: decide({policy:?}, {blockable}, {n}, {r}) = {verdict:?}");
            exit(1);
        }
        done = i + 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "fuzz: {done} inputs ({accepted} accepted) in {secs:.1} s, {:.1} M/s, seed {seed:#x}: no panic, no disagreement",
        done as f64 / secs / 1e6
    );
}
