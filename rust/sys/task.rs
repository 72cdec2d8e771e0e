// SPDX-License-Identifier: GPL-2.0

//! Finding a process's address space from a pid, and the attach permission check.
//!
//! `find_get_task_by_vpid()`, `ptrace_may_access()` and `mm_access()` are not exported to
//! modules; `find_get_pid()` → `get_pid_task()` → `get_task_mm()` and `capable()` are.
//!
//! C headers: [include/linux/pid.h](srctree/include/linux/pid.h),
//! [include/linux/sched/mm.h](srctree/include/linux/sched/mm.h),
//! [include/linux/capability.h](srctree/include/linux/capability.h)

use core::ptr::NonNull;
use kernel::{
    bindings,
    mm::MmWithUser,
    prelude::*,
    sync::aref::ARef,
    task::Task, //
};

/// Why [`mm_of_pid`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LookupError {
    /// No task has this pid in the caller's pid namespace.
    NoSuchProcess,
    /// The task has no user address space: a kernel thread, or a process that is exiting.
    NoMm,
}

/// Takes a reference on the task with pid (or tid) `nr` in the caller's pid namespace.
fn task_of_pid(nr: i32) -> Option<ARef<Task>> {
    // SAFETY: `find_get_pid` may be called from any process context; it returns a counted
    // reference or NULL.
    let pid = NonNull::new(unsafe { bindings::find_get_pid(nr) })?;
    // SAFETY: `pid` is a valid counted reference.
    let task = unsafe { bindings::get_pid_task(pid.as_ptr(), bindings::pid_type_PIDTYPE_PID) };
    // SAFETY: We own the reference `find_get_pid` took and no longer use `pid`.
    unsafe { bindings::put_pid(pid.as_ptr()) };
    // SAFETY: `get_pid_task` returned a counted reference (or NULL, handled by `?`), which the
    // `ARef` now owns; `Task` is `repr(transparent)` over `task_struct`.
    Some(unsafe { ARef::from_raw(NonNull::new(task)?.cast::<Task>()) })
}

/// Returns the address space of the process with pid (or tid) `nr`, pinned with `mmget`.
pub(crate) fn mm_of_pid(nr: i32) -> Result<ARef<MmWithUser>, LookupError> {
    let task = task_of_pid(nr).ok_or(LookupError::NoSuchProcess)?;
    // SAFETY: `task` is a valid counted task reference. `get_task_mm` returns NULL for kernel
    // threads and exited tasks, and otherwise an `mmget` reference.
    let mm = unsafe { bindings::get_task_mm(task.as_ptr()) };
    let mm = NonNull::new(mm).ok_or(LookupError::NoMm)?;
    // INVARIANT: `get_task_mm` took an `mmget` reference, so `mm_users` is non-zero; the `ARef`
    // owns that reference and drops it with `mmput`.
    // SAFETY: `MmWithUser` is `repr(transparent)` over `mm_struct`.
    Ok(unsafe { ARef::from_raw(mm.cast::<MmWithUser>()) })
}

/// Whether the current task may attach to other processes: it holds `CAP_SYS_PTRACE`.
///
/// This stands in for `ptrace_may_access(task, PTRACE_MODE_ATTACH_REALCREDS)`, which modules
/// cannot call. It is stricter: it also refuses a caller's own processes.
pub(crate) fn may_attach() -> bool {
    // SAFETY: `capable` may be called from any process context.
    unsafe { bindings::capable(bindings::CAP_SYS_PTRACE as i32) }
}

/// Returns the address space of the calling process, pinned with `mmget`.
///
/// Not `current!().mm()`: that reads `task_struct::mm` from Rust, and on a kernel without
/// `CONFIG_SCHEDSTATS` bindgen lays `struct task_struct` out 0x30 bytes short from `stats` on
/// (`Documentation/mmn_stopgap.rst`, "The upstream series"). `get_task_mm()` reads it in C.
pub(crate) fn current_mm() -> Result<ARef<MmWithUser>, LookupError> {
    let current = kernel::current!();
    // SAFETY: `current` is the calling task, alive for this call; its pointer comes from
    // `get_current()`, not from a field. `get_task_mm` returns NULL for a kernel thread or an
    // exiting task, and otherwise an `mmget` reference.
    let mm = unsafe { bindings::get_task_mm(current.as_ptr()) };
    let mm = NonNull::new(mm).ok_or(LookupError::NoMm)?;
    // INVARIANT: As in `mm_of_pid`: the `ARef` owns the `mmget` reference.
    // SAFETY: `MmWithUser` is `repr(transparent)` over `mm_struct`.
    Ok(unsafe { ARef::from_raw(mm.cast::<MmWithUser>()) })
}
