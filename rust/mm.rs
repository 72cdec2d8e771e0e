// SPDX-License-Identifier: GPL-2.0

//! The memory-management abstractions this module adds to the kernel crate's `kernel::mm`.
//!
//! In the kernel tree (`make patches`) they are `kernel::mm::mmu_notifier` and
//! `kernel::mm::hmm`, and the helpers below are `bindings::` functions like every other one.

#[cfg(CONFIG_HMM_MIRROR)]
pub(crate) mod hmm;
pub(crate) mod mmu_notifier;

/// The helpers of `rust/helpers/mmu_notifier.c` (the static inline functions of
/// `<linux/mmu_notifier.h>` and a `hmm_range_fault()` wrapper), built into the module; in the
/// kernel tree they are `bindings::` functions like every other helper.
mod helpers {
    use kernel::{
        bindings::mmu_interval_notifier,
        ffi::{
            c_int,
            c_ulong, //
        },
    };

    // As in the kernel crate's own bindings: `mm_struct`, behind the notifier, reaches structs
    // that bindgen leaves empty.
    #[expect(
        improper_ctypes,
        reason = "bindgen leaves some structs the mm reaches empty"
    )]
    extern "C" {
        #[link_name = "rust_helper_mmu_interval_set_seq"]
        pub(super) fn mmu_interval_set_seq(
            interval_sub: *mut mmu_interval_notifier,
            cur_seq: c_ulong,
        );
        #[link_name = "rust_helper_mmu_interval_read_retry"]
        pub(super) fn mmu_interval_read_retry(
            interval_sub: *mut mmu_interval_notifier,
            seq: c_ulong,
        ) -> bool;
        #[link_name = "rust_helper_mmu_interval_check_retry"]
        pub(super) fn mmu_interval_check_retry(
            interval_sub: *mut mmu_interval_notifier,
            seq: c_ulong,
        ) -> bool;
        #[cfg(CONFIG_HMM_MIRROR)]
        #[link_name = "rust_helper_hmm_range_fault_interval"]
        pub(super) fn hmm_range_fault_interval(
            interval_sub: *mut mmu_interval_notifier,
            seq: c_ulong,
            start: c_ulong,
            end: c_ulong,
            pfns: *mut c_ulong,
        ) -> c_int;
        #[cfg(CONFIG_HMM_MIRROR)]
        #[link_name = "rust_helper_hmm_pfn_to_pfn"]
        pub(super) fn hmm_pfn_to_pfn(hmm_pfn: c_ulong) -> c_ulong;
    }
}
