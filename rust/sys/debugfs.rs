// SPDX-License-Identifier: GPL-2.0

//! A debugfs directory of files backed by one shared object, with an owner module.
//!
//! Why not `kernel::debugfs`: its `file_operations` are `const`s with `owner` left NULL, so an
//! open file does not pin the module (Rust-for-Linux issue #214). If the module is unloaded
//! while a file is open, the final `close()` runs `full_proxy_release()`, which reads
//! `real_fops->release` from the freed module. Here the table is built at load time with
//! `owner = THIS_MODULE`: an open file holds a module reference, exactly like a C driver's
//! debugfs file, and `rmmod` fails with `EAGAIN` ("in use") until it is closed.
//!
//! C header: [include/linux/debugfs.h](srctree/include/linux/debugfs.h)

use core::ptr::NonNull;
use kernel::{
    bindings,
    error::from_err_ptr,
    ffi::{
        c_char,
        c_int,
        c_void, //
    },
    fmt,
    prelude::*,
    seq_file::SeqFile,
    seq_print,
    sync::Arc,
    uaccess::{
        UserPtr,
        UserSlice, //
    },
    ThisModule, //
};

/// Largest write any file accepts, in bytes. Writes are copied to the stack.
pub(crate) const MAX_WRITE: usize = 512;

/// Produces the contents of a readable file.
pub(crate) type ShowFn<T> = fn(&T, &mut fmt::Formatter<'_>) -> fmt::Result;

/// Handles one `write(2)` to a writable file: the bytes written, at most the file's limit.
pub(crate) type WriteFn<T> = fn(&T, &[u8]) -> Result;

/// One file of a [`Dir`]: its name and what reading and writing it do.
///
/// A file with only `show` gets mode 0400, with only `write` 0200, with both 0600.
pub(crate) struct FileSpec<T: 'static> {
    /// File name.
    pub(crate) name: &'static CStr,
    /// Contents on read, if readable.
    pub(crate) show: Option<ShowFn<T>>,
    /// Handler of writes, if writable.
    pub(crate) write: Option<WriteFn<T>>,
    /// Longest write accepted (`EINVAL` beyond), at most [`MAX_WRITE`].
    pub(crate) max_write: usize,
}

/// What a file's inode points to (`i_private`).
struct FileEntry<T: 'static> {
    data: Arc<T>,
    spec: &'static FileSpec<T>,
}

/// A debugfs directory whose files share `Arc<T>`; removed, with its files, on drop.
///
/// # Invariants
///
/// - `dentry` is a debugfs directory created by `debugfs_create_dir`, removed only by `drop`.
/// - Every file in it has `fops` as its operations and one of `entries` as `i_private`; both
///   outlive the files because `drop` removes the tree before the fields are freed.
pub(crate) struct Dir<T: Send + Sync + 'static> {
    dentry: NonNull<bindings::dentry>,
    fops: KBox<bindings::file_operations>,
    entries: KVec<KBox<FileEntry<T>>>,
}

// SAFETY: The directory handle is only used to remove the tree, which may happen on any thread;
// the entries only hold `Arc<T>` with `T: Send + Sync`.
unsafe impl<T: Send + Sync> Send for Dir<T> {}
// SAFETY: `&Dir` gives no access to anything.
unsafe impl<T: Send + Sync> Sync for Dir<T> {}

struct ShowAdapter<'a, T>(&'a T, ShowFn<T>);

impl<T> fmt::Display for ShowAdapter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.1)(self.0, f)
    }
}

impl<T: Send + Sync + 'static> Dir<T> {
    /// Creates `/sys/kernel/debug/<name>/` with one file per spec, all backed by `data`.
    ///
    /// `owner` is the module's `THIS_MODULE`; every open file pins it.
    pub(crate) fn new(
        name: &CStr,
        owner: &'static ThisModule,
        data: Arc<T>,
        specs: &'static [FileSpec<T>],
    ) -> Result<Self> {
        let fops = KBox::new(
            bindings::file_operations {
                owner: owner.as_ptr(),
                open: Some(Self::open),
                read: Some(bindings::seq_read),
                write: Some(Self::write),
                llseek: Some(bindings::seq_lseek),
                release: Some(bindings::single_release),
                ..pin_init::zeroed()
            },
            GFP_KERNEL,
        )?;
        let mut entries = KVec::with_capacity(specs.len(), GFP_KERNEL)?;
        for spec in specs {
            if spec.max_write > MAX_WRITE {
                return Err(EINVAL);
            }
            entries.push(
                KBox::new(
                    FileEntry {
                        data: data.clone(),
                        spec,
                    },
                    GFP_KERNEL,
                )?,
                GFP_KERNEL,
            )?;
        }
        // SAFETY: `name` is a valid C string; a NULL parent means the debugfs root.
        let dentry = from_err_ptr(unsafe {
            bindings::debugfs_create_dir(name.as_char_ptr(), core::ptr::null_mut())
        })?;
        // INVARIANT: `debugfs_create_dir` returned a directory (errors were returned above).
        let dir = Dir {
            dentry: NonNull::new(dentry).ok_or(ENOMEM)?,
            fops,
            entries,
        };
        for entry in dir.entries.iter() {
            let mode = match (entry.spec.show.is_some(), entry.spec.write.is_some()) {
                (true, true) => 0o600,
                (true, false) => 0o400,
                (false, _) => 0o200,
            };
            let private: *const FileEntry<T> = &**entry;
            // SAFETY:
            // - `dir.dentry` is our directory, and the name is a valid C string;
            // - `private` and `fops` stay valid until `drop` has removed the tree (invariant);
            // - `fops` implements the usual seq_file contract with `open`, `write` below.
            // On failure `dir` is dropped, which removes the files created so far.
            from_err_ptr(unsafe {
                bindings::debugfs_create_file_full(
                    entry.spec.name.as_char_ptr(),
                    mode,
                    dir.dentry.as_ptr(),
                    private.cast_mut().cast::<c_void>(),
                    core::ptr::null(),
                    &*dir.fops,
                )
            })?;
        }
        Ok(dir)
    }

    /// # Safety
    ///
    /// Called by the VFS for one of our files: `inode->i_private` is a `FileEntry<T>`.
    unsafe extern "C" fn open(inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        // SAFETY: `file` is being opened; `i_private` is our entry, which outlives the file
        // because debugfs removal waits for open/read/write calls in flight and later calls
        // fail with `EIO` before reaching us.
        unsafe { bindings::single_open(file, Some(Self::show), (*inode).i_private) }
    }

    /// # Safety
    ///
    /// Called by `seq_read` for a file opened by [`Self::open`].
    unsafe extern "C" fn show(seq: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
        // SAFETY: `single_open` stored our entry as the seq_file's private data.
        let entry = unsafe { &*(*seq).private.cast::<FileEntry<T>>() };
        if let Some(show) = entry.spec.show {
            // SAFETY: `seq` is the live seq_file of this read.
            let seq = unsafe { SeqFile::from_raw(seq) };
            seq_print!(seq, "{}", ShowAdapter(&*entry.data, show));
        }
        0
    }

    /// # Safety
    ///
    /// Called by the VFS for a file opened by [`Self::open`]; `buf` is a user pointer to `count`
    /// bytes.
    unsafe extern "C" fn write(
        file: *mut bindings::file,
        buf: *const c_char,
        count: usize,
        _ppos: *mut bindings::loff_t,
    ) -> isize {
        // SAFETY: `single_open` made `private_data` a seq_file whose private data is our entry.
        let entry = unsafe {
            let seq = (*file).private_data.cast::<bindings::seq_file>();
            &*(*seq).private.cast::<FileEntry<T>>()
        };
        let Some(write) = entry.spec.write else {
            return EINVAL.to_errno() as isize;
        };
        if count > entry.spec.max_write {
            return EINVAL.to_errno() as isize;
        }
        let mut bytes = [0u8; MAX_WRITE];
        let mut reader = UserSlice::new(UserPtr::from_ptr(buf.cast_mut().cast()), count).reader();
        if let Err(e) = reader.read_slice(&mut bytes[..count]) {
            return e.to_errno() as isize;
        }
        match write(&entry.data, &bytes[..count]) {
            // `count` is at most `MAX_WRITE`, so it fits.
            Ok(()) => count as isize,
            Err(e) => e.to_errno() as isize,
        }
    }
}

impl<T: Send + Sync + 'static> Drop for Dir<T> {
    fn drop(&mut self) {
        // SAFETY: `dentry` is our directory (invariant). `debugfs_remove` removes it
        // recursively and waits for file operations in flight, so no callback uses `entries`
        // or `fops` once it returns.
        unsafe { bindings::debugfs_remove(self.dentry.as_ptr()) };
    }
}
