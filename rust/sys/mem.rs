// SPDX-License-Identifier: GPL-2.0

//! How much memory an allocation really takes, and anonymous mappings in the current process
//! (for the selftests, which need invalidations on their own mm).
//!
//! C headers: [include/linux/slab.h](srctree/include/linux/slab.h),
//! [include/linux/mm.h](srctree/include/linux/mm.h)

use kernel::{
    error::to_result,
    ffi::c_ulong,
    prelude::*, //
};

/// The usable size of the `kmalloc` allocation that starts at `object` (`ksize()`): what the
/// slab allocator set aside for it, at least `size_of::<T>()`.
///
/// `object` must be the start of a live `kmalloc` allocation, such as the contents of a
/// `KBox`; this is checked by the type of the argument only loosely, hence `KBoxed`.
pub(crate) fn ksize<T>(object: &KBoxed<'_, T>) -> usize {
    // SAFETY: By the invariant of `KBoxed`, the pointer is the start of a live `kmalloc`
    // allocation; `ksize` only reads the slab metadata of its page.
    unsafe { kernel::bindings::ksize(core::ptr::from_ref(object.0).cast()) }
}

/// A reference to the contents of a `KBox`.
///
/// # Invariants
///
/// The reference points to the start of a live `kmalloc` allocation.
pub(crate) struct KBoxed<'a, T>(&'a T);

impl<'a, T> KBoxed<'a, T> {
    /// Borrows the contents of a boxed, pinned value.
    pub(crate) fn pinned(b: &'a core::pin::Pin<kernel::alloc::KBox<T>>) -> Self {
        // INVARIANT: A `KBox` allocates its contents at the start of a `kmalloc` allocation.
        KBoxed(&**b)
    }
}

/// The `kmalloc` size class a request of `bytes` lands in (for small requests; larger ones are
/// rounded to a power of two), for allocations whose start is not reachable, like an `Arc`'s.
pub(crate) const fn kmalloc_class(bytes: usize) -> usize {
    match bytes {
        0..=8 => 8,
        9..=16 => 16,
        17..=32 => 32,
        33..=64 => 64,
        65..=96 => 96,
        97..=128 => 128,
        129..=192 => 192,
        _ => bytes.next_power_of_two(),
    }
}

/// Maps `len` bytes of anonymous, private, read-write memory into the current process
/// (`vm_mmap()`, as `mmap(2)` would): the address. The mapping is not populated.
/// `EINVAL` for a thread with no address space (a kernel thread).
pub(crate) fn map_anon(len: usize) -> Result<usize> {
    // The values of asm-generic/mman-common.h (x86's).
    const PROT_READ_WRITE: c_ulong = 0x1 | 0x2;
    const MAP_PRIVATE_ANONYMOUS: c_ulong = 0x02 | 0x20;
    let _mm = crate::sys::task::current_mm().map_err(|_| EINVAL)?;
    // SAFETY: Without a file, `vm_mmap()` only creates a mapping in `current->mm`, which
    // exists (`_mm`), or fails; it takes the mm's locks itself, and the caller, in process
    // context, holds none.
    let addr = unsafe {
        kernel::bindings::vm_mmap(
            core::ptr::null_mut(),
            0,
            len,
            PROT_READ_WRITE,
            MAP_PRIVATE_ANONYMOUS,
            0,
        )
    };
    // `IS_ERR_VALUE()`: the top 4095 values are negated errnos.
    if addr > usize::MAX - 4095 {
        return Err(Error::from_errno(addr as i32));
    }
    Ok(addr)
}

/// Unmaps `[addr, addr + len)` of the current process (`vm_munmap()`, as `munmap(2)` would),
/// which invalidates the range.
/// `EINVAL` for a thread with no address space.
pub(crate) fn unmap(addr: usize, len: usize) -> Result {
    let _mm = crate::sys::task::current_mm().map_err(|_| EINVAL)?;
    // SAFETY: `vm_munmap()` only changes `current->mm`'s mappings, which exists (`_mm`), taking
    // its locks itself; the caller, in process context, holds none.
    to_result(unsafe { kernel::bindings::vm_munmap(addr, len) })
}
