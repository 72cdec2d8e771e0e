// SPDX-License-Identifier: GPL-2.0

//! The kernel-independent parts of mmn_stopgap, compiled from the module's own source files so
//! that the host tests exercise exactly the code that runs in the kernel.

#![no_std]

#[path = "../../rust/control.rs"]
pub mod control;

#[path = "../../rust/policy.rs"]
pub mod policy;
