// SPDX-License-Identifier: GPL-2.0

//! The `control` command language: parsing one `write(2)` into a [`Command`].
//!
//! This file uses nothing but `core`, so that the host crate in `host/` compiles the very same
//! code and tests it with `cargo test` and a fuzzer. The grammar (see
//! `Documentation/mmn_stopgap.rst`):
//!
//! ```text
//! attach <pid> [count] [paired|eagain|mirror [<addr> <pages>]]
//! detach <id> | detach pid <pid> | detach all
//! policy stopgap|off|raw
//! mirror <id> <addr> <pages>
//! teardown deferred|sync
//! reset
//! park [seconds]
//! unpark
//! ```
//!
//! Tokens are separated by spaces or tabs; one trailing newline is allowed. Numbers are plain
//! decimal (`0`-`9` only: no sign, no `0x`, no leading zero). Anything else is a [`ParseError`],
//! which the module reports as `EINVAL`.

/// Longest accepted command, in bytes, including the trailing newline.
pub const MAX_COMMAND_LEN: usize = 256;

/// Most subscribers one `attach` may create.
pub const MAX_ATTACH_COUNT: u32 = 64;

/// Longest `park`, in seconds.
pub const MAX_PARK_SECS: u32 = 300;

/// `park` without an argument sleeps at most this long, in seconds.
pub const DEFAULT_PARK_SECS: u32 = 30;

/// Largest pid the kernel can hand out (`PID_MAX_LIMIT` on 64-bit).
pub const PID_MAX_LIMIT: i32 = 4 * 1024 * 1024;

/// Most pages one `mirror` snapshot covers.
pub const MAX_MIRROR_PAGES: u32 = 64;

/// The kind of subscriber `attach` creates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Keeps paired start/end state, like the drivers of 2019.
    Paired,
    /// Refuses every non-blockable start with `-EAGAIN`; has no end op.
    Eagain,
    /// An interval notifier that mirrors pages of the target (the Rust twin of `lib/test_hmm`'s
    /// dmirror).
    Mirror,
}

impl Kind {
    /// The name used in commands and in the `subscribers` file.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Paired => "paired",
            Kind::Eagain => "eagain",
            Kind::Mirror => "mirror",
        }
    }
}

/// A range of pages of the target: `<addr> <pages>` (the address in plain decimal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pages {
    /// First address (the module requires it page-aligned).
    pub addr: u64,
    /// Number of pages, `1..=MAX_MIRROR_PAGES`.
    pub pages: u32,
}

/// How `detach` unregisters hlist subscribers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Teardown {
    /// `mmu_notifier_put()`: the core frees them after one SRCU grace period for all (the
    /// default).
    Deferred,
    /// `mmu_notifier_unregister()`: a full SRCU grace period for each (for the benchmark).
    Sync,
}

impl Teardown {
    /// The name used in commands and in the `stats` file.
    pub const fn name(self) -> &'static str {
        match self {
            Teardown::Deferred => "deferred",
            Teardown::Sync => "sync",
        }
    }
}

/// The module-wide policy of the gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Refuse non-blockable invalidations of an mm with several subscribers (the default).
    Stopgap,
    /// No stop gap: a group keeps a gate only while it holds a subscriber that would refuse a
    /// non-blockable start, and that gate refuses only for that reason.
    Off,
    /// No gate at all: the mm sees today's core alone. An `eagain` subscriber can then leave
    /// the interval tree of an mm that has, or had, an interval notifier open for good (see
    /// `Documentation/mmn_stopgap.rst`).
    Raw,
}

impl Policy {
    /// The name used in commands and in the `stats` file.
    pub const fn name(self) -> &'static str {
        match self {
            Policy::Stopgap => "stopgap",
            Policy::Off => "off",
            Policy::Raw => "raw",
        }
    }
}

/// What `detach` removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DetachTarget {
    /// One subscriber, by the id shown in `subscribers`.
    Id(u64),
    /// Every subscriber attached with this pid.
    Pid(i32),
    /// Every subscriber.
    All,
}

/// One parsed `control` command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// `attach <pid> [count] [kind]`.
    Attach {
        /// The target process (or thread) id, in the writer's pid namespace.
        pid: i32,
        /// How many subscribers to create, `1..=MAX_ATTACH_COUNT`.
        count: u32,
        /// Which kind of subscriber.
        kind: Kind,
        /// For `mirror`: the interval its notifier covers (`None`: the whole address space).
        interval: Option<Pages>,
    },
    /// `detach ...`.
    Detach(DetachTarget),
    /// `policy stopgap|off|raw`.
    SetPolicy(Policy),
    /// `mirror <id> <addr> <pages>`: snapshot pages of the target into a mirror subscriber.
    Mirror {
        /// The mirror subscriber.
        id: u64,
        /// The pages to snapshot.
        pages: Pages,
    },
    /// `teardown deferred|sync`.
    SetTeardown(Teardown),
    /// `reset`: zero the counters.
    Reset,
    /// `park [seconds]`: sleep uninterruptibly until `unpark` or the timeout.
    Park {
        /// Upper bound of the sleep, `1..=MAX_PARK_SECS`.
        secs: u32,
    },
    /// `unpark`: wake every parked writer.
    Unpark,
}

/// Why a command was rejected. Every variant maps to `EINVAL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Longer than [`MAX_COMMAND_LEN`].
    TooLong,
    /// A byte that is not printable ASCII, space or tab (including NUL and inner newlines).
    BadByte,
    /// Nothing but whitespace.
    Empty,
    /// The first word is not a known verb.
    UnknownVerb,
    /// A required argument is missing.
    MissingArgument,
    /// More arguments than the verb takes, or an argument in the wrong place.
    UnexpectedArgument,
    /// An argument that should be a number is not plain decimal, or overflows.
    BadNumber,
    /// A number outside its allowed range.
    OutOfRange,
    /// `attach` with a kind other than `paired` or `eagain`.
    UnknownKind,
    /// `policy` with a value other than `stopgap`, `off` or `raw`.
    UnknownPolicy,
    /// `teardown` with a value other than `deferred` or `sync`.
    UnknownTeardown,
}

/// Parses a plain decimal number: digits only, no sign, no leading zero, no overflow.
fn parse_decimal(token: &str) -> Result<u64, ParseError> {
    let bytes = token.as_bytes();
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::BadNumber);
    }
    if bytes.len() > 1 && bytes[0] == b'0' {
        return Err(ParseError::BadNumber);
    }
    let mut value: u64 = 0;
    for &b in bytes {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or(ParseError::BadNumber)?;
    }
    Ok(value)
}

/// Parses a number and checks that it lies in `min..=max`.
fn parse_in_range(token: &str, min: u64, max: u64) -> Result<u64, ParseError> {
    let value = parse_decimal(token)?;
    if value < min || value > max {
        return Err(ParseError::OutOfRange);
    }
    Ok(value)
}

/// Parses a pid: `1..=PID_MAX_LIMIT`.
fn parse_pid(token: &str) -> Result<i32, ParseError> {
    let value = parse_in_range(token, 1, PID_MAX_LIMIT as u64)?;
    i32::try_from(value).map_err(|_| ParseError::OutOfRange)
}

/// Parses a bounded `u32`: `1..=max`.
fn parse_count(token: &str, max: u32) -> Result<u32, ParseError> {
    let value = parse_in_range(token, 1, u64::from(max))?;
    u32::try_from(value).map_err(|_| ParseError::OutOfRange)
}

/// Fails if any argument is left.
fn expect_end<'a>(mut rest: impl Iterator<Item = &'a str>) -> Result<(), ParseError> {
    match rest.next() {
        Some(_) => Err(ParseError::UnexpectedArgument),
        None => Ok(()),
    }
}

/// Parses `<addr> <pages>`.
fn parse_pages<'a>(mut args: impl Iterator<Item = &'a str>) -> Result<Pages, ParseError> {
    let addr = parse_decimal(args.next().ok_or(ParseError::MissingArgument)?)?;
    let pages = parse_count(
        args.next().ok_or(ParseError::MissingArgument)?,
        MAX_MIRROR_PAGES,
    )?;
    Ok(Pages { addr, pages })
}

fn parse_attach<'a>(mut args: impl Iterator<Item = &'a str>) -> Result<Command, ParseError> {
    let pid = parse_pid(args.next().ok_or(ParseError::MissingArgument)?)?;
    let mut count = 1;
    let mut kind = Kind::Paired;
    let mut interval = None;
    let mut next = args.next();
    if let Some(token) = next {
        if token.as_bytes()[0].is_ascii_digit() {
            count = parse_count(token, MAX_ATTACH_COUNT)?;
            next = args.next();
        }
    }
    if let Some(token) = next {
        kind = match token {
            "paired" => Kind::Paired,
            "eagain" => Kind::Eagain,
            "mirror" => Kind::Mirror,
            _ if token.as_bytes()[0].is_ascii_digit() => {
                return Err(ParseError::UnexpectedArgument)
            }
            _ if token.starts_with('-') || token.starts_with('+') => {
                return Err(ParseError::BadNumber)
            }
            _ => return Err(ParseError::UnknownKind),
        };
        if kind == Kind::Mirror {
            let mut rest = args.by_ref().peekable();
            if rest.peek().is_some() {
                interval = Some(parse_pages(&mut rest)?);
            }
        }
    }
    expect_end(args)?;
    Ok(Command::Attach {
        pid,
        count,
        kind,
        interval,
    })
}

fn parse_mirror<'a>(mut args: impl Iterator<Item = &'a str>) -> Result<Command, ParseError> {
    let id = parse_in_range(args.next().ok_or(ParseError::MissingArgument)?, 1, u64::MAX)?;
    let pages = parse_pages(&mut args)?;
    expect_end(args)?;
    Ok(Command::Mirror { id, pages })
}

fn parse_teardown<'a>(mut args: impl Iterator<Item = &'a str>) -> Result<Command, ParseError> {
    let teardown = match args.next().ok_or(ParseError::MissingArgument)? {
        "deferred" => Teardown::Deferred,
        "sync" => Teardown::Sync,
        _ => return Err(ParseError::UnknownTeardown),
    };
    expect_end(args)?;
    Ok(Command::SetTeardown(teardown))
}

fn parse_detach<'a>(mut args: impl Iterator<Item = &'a str>) -> Result<Command, ParseError> {
    let target = match args.next().ok_or(ParseError::MissingArgument)? {
        "all" => DetachTarget::All,
        "pid" => DetachTarget::Pid(parse_pid(args.next().ok_or(ParseError::MissingArgument)?)?),
        token => DetachTarget::Id(parse_in_range(token, 1, u64::MAX)?),
    };
    expect_end(args)?;
    Ok(Command::Detach(target))
}

fn parse_policy<'a>(mut args: impl Iterator<Item = &'a str>) -> Result<Command, ParseError> {
    let policy = match args.next().ok_or(ParseError::MissingArgument)? {
        "stopgap" => Policy::Stopgap,
        "off" => Policy::Off,
        "raw" => Policy::Raw,
        _ => return Err(ParseError::UnknownPolicy),
    };
    expect_end(args)?;
    Ok(Command::SetPolicy(policy))
}

fn parse_park<'a>(mut args: impl Iterator<Item = &'a str>) -> Result<Command, ParseError> {
    let secs = match args.next() {
        Some(token) => parse_count(token, MAX_PARK_SECS)?,
        None => DEFAULT_PARK_SECS,
    };
    expect_end(args)?;
    Ok(Command::Park { secs })
}

/// Parses the bytes of one `write(2)` to `control`.
pub fn parse(input: &[u8]) -> Result<Command, ParseError> {
    if input.len() > MAX_COMMAND_LEN {
        return Err(ParseError::TooLong);
    }
    let body = match input {
        [body @ .., b'\n'] => body,
        _ => input,
    };
    if !body
        .iter()
        .all(|&b| b == b' ' || b == b'\t' || b.is_ascii_graphic())
    {
        return Err(ParseError::BadByte);
    }
    // All bytes are ASCII, so this cannot fail; map the impossible error anyway.
    let text = core::str::from_utf8(body).map_err(|_| ParseError::BadByte)?;
    let mut words = text.split([' ', '\t']).filter(|w| !w.is_empty());
    let verb = words.next().ok_or(ParseError::Empty)?;
    match verb {
        "attach" => parse_attach(words),
        "detach" => parse_detach(words),
        "policy" => parse_policy(words),
        "mirror" => parse_mirror(words),
        "teardown" => parse_teardown(words),
        "reset" => expect_end(words).map(|()| Command::Reset),
        "park" => parse_park(words),
        "unpark" => expect_end(words).map(|()| Command::Unpark),
        _ => Err(ParseError::UnknownVerb),
    }
}
