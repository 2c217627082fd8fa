//! Two allocator calls, and the only `unsafe` in msnbnc.
//!
//! Every staff login verifies an Argon2id hash, which needs a 19 MiB work
//! area. glibc serves a block that large with `mmap` and returns it on
//! free — but then raises its mmap threshold to the freed size, so the
//! next work areas come from the heap and stay resident: measured, RSS grew
//! from 6 MiB to 66 MiB as 50 clients logged in. Fixing the threshold keeps
//! large blocks on `mmap`, and the memory goes back to the system after
//! each login.
#![allow(unsafe_code)]

/// Blocks at least this large always come from `mmap` (glibc's initial
/// threshold, 128 KiB, made fixed).
const MMAP_THRESHOLD: i32 = 128 * 1024;

/// Call once at start-up, before other threads exist.
pub fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes an allocator parameter; it takes no
        // pointers, and a rejected value (return 0) leaves glibc's default.
        let ok = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) };
        if ok == 0 {
            tracing::debug!("mallopt(M_MMAP_THRESHOLD) was refused; keeping glibc's default");
        }
    }
}

/// Gives free memory back to the system. A burst of messages leaves many
/// small blocks freed across the heap (queued lines, batches, index
/// work), which glibc keeps: measured, RSS stayed at 30 MiB after a
/// 100,000-line burst instead of falling back to 14. Called when a burst
/// is over, not per message (it walks every arena).
pub fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim takes no pointers and only releases pages
        // of free chunks; live allocations are untouched.
        unsafe { libc::malloc_trim(0) };
    }
}
