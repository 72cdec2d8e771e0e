// SPDX-License-Identifier: GPL-2.0

//! How much memory an allocation really takes.
//!
//! C header: [include/linux/slab.h](srctree/include/linux/slab.h)

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
