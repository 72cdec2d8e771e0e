// SPDX-License-Identifier: GPL-2.0

//! A bounded wait that no signal ends and that is not a hung task.
//!
//! `kernel::sync::CondVar` sleeps uninterruptibly only without a timeout, and with a timeout
//! only interruptibly. Parking a thread of a process that is then SIGKILLed needs both: the
//! signal must not end the sleep (it keeps the mm alive), and the sleep must be bounded. It also
//! must not look like a task stuck in D state: the sleep is `TASK_IDLE`
//! (`TASK_UNINTERRUPTIBLE | TASK_NOLOAD`), which the hung-task detector skips and the load
//! average does not count, like the kernel's own idle worker threads.
//!
//! C header: [include/linux/wait.h](srctree/include/linux/wait.h)

use core::marker::PhantomPinned;
use kernel::{
    bindings,
    prelude::*,
    sync::LockClassKey,
    task::TASK_NORMAL,
    time::Jiffies,
    types::Opaque, //
};

/// `TASK_UNINTERRUPTIBLE | TASK_NOLOAD`: no signal wakes the sleeper, and neither the
/// hung-task detector nor the load average counts it.
const TASK_IDLE: kernel::ffi::c_int = bindings::TASK_IDLE as kernel::ffi::c_int;

/// A wait queue on which threads sleep, immune to signals, with a bound.
///
/// # Invariants
///
/// `head` is an initialised `wait_queue_head`.
#[pin_data]
pub(crate) struct WaitQueue {
    #[pin]
    head: Opaque<bindings::wait_queue_head>,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: A wait queue head may be used from any thread; it has its own spinlock.
unsafe impl Send for WaitQueue {}
// SAFETY: As above.
unsafe impl Sync for WaitQueue {}

impl WaitQueue {
    /// Creates a wait queue; `key` comes from `kernel::static_lock_class!()`.
    pub(crate) fn new(name: &'static CStr, key: Pin<&'static LockClassKey>) -> impl PinInit<Self> {
        pin_init!(Self {
            // INVARIANT: `__init_waitqueue_head` initialises the head.
            // SAFETY: `slot` is valid for writes and pinned; `name` and `key` are `'static`.
            head <- Opaque::ffi_init(|slot| unsafe {
                bindings::__init_waitqueue_head(slot, name.as_char_ptr(), key.as_ptr())
            }),
            _pin: PhantomPinned,
        })
    }

    /// Sleeps in `TASK_IDLE` until `done()` returns `true` or `timeout` jiffies pass. Returns
    /// the final value of `done()`.
    ///
    /// Signals, SIGKILL included, do not end the sleep, and the hung-task detector ignores it.
    /// Must be called from process context with no locks held.
    pub(crate) fn wait_idle_timeout(
        &self,
        mut done: impl FnMut() -> bool,
        timeout: Jiffies,
    ) -> bool {
        let mut remaining =
            kernel::ffi::c_long::try_from(timeout).unwrap_or(kernel::task::MAX_SCHEDULE_TIMEOUT);
        let wait = Opaque::<bindings::wait_queue_entry>::uninit();
        // SAFETY: `wait` is valid for writes.
        unsafe { bindings::init_wait(wait.get()) };
        loop {
            // SAFETY: `head` is initialised (type invariant) and `wait` lives on our stack until
            // `finish_wait` below removes it from the queue.
            unsafe { bindings::prepare_to_wait(self.head.get(), wait.get(), TASK_IDLE) };
            if done() || remaining == 0 {
                break;
            }
            // SAFETY: We are in process context and hold no locks (caller's contract).
            remaining = unsafe { bindings::schedule_timeout(remaining) };
        }
        // SAFETY: `wait` was queued on `head` by `prepare_to_wait`.
        unsafe { bindings::finish_wait(self.head.get(), wait.get()) };
        done()
    }

    /// Wakes every sleeper, which then re-checks its condition.
    pub(crate) fn wake_all(&self) {
        // SAFETY: `head` is initialised (type invariant).
        unsafe { bindings::__wake_up(self.head.get(), TASK_NORMAL, 0, core::ptr::null_mut()) };
    }
}
