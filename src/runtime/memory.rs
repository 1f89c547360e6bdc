//! Giving memory back after a burst. An allocator keeps the memory its threads freed for
//! reuse instead of returning it to the system, so after a flood of requests (bodies, results,
//! pages) the process would stay near its peak size for long. Every few seconds this asks it
//! to release the pages it holds unused: cheap when there is nothing to release, and the
//! resident size then follows the load back down.
//!
//! With the feature `jemalloc` (default) on Linux, every allocation of the process goes to
//! jemalloc, the bundled SQLite's included (Cargo.toml): its arenas are purged
//! (`arena.<all>.purge`). Without it (glibc's allocator), glibc is asked (`malloc_trim`).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// How often the allocator is asked to release unused memory.
const EVERY: Duration = Duration::from_secs(5);

pub(super) async fn trim(stop: CancellationToken) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(EVERY) => {}
        }
        release();
    }
}

#[cfg(all(feature = "jemalloc", target_os = "linux", not(target_env = "musl")))]
fn release() {
    // `arena.<MALLCTL_ARENAS_ALL>.purge`: every arena returns its unused dirty pages.
    const PURGE_ALL: &[u8] = b"arena.4096.purge\0";
    // SAFETY: a NUL-terminated name of a control that takes and returns nothing (null
    // pointers and length 0, as jemalloc's mallctl documents for it); callable from any
    // thread at any time.
    let status = unsafe {
        tikv_jemalloc_sys::mallctl(
            PURGE_ALL.as_ptr().cast(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
    if status != 0 {
        tracing::debug!(status, "jemalloc: arena purge failed");
    }
}

#[cfg(all(
    not(all(feature = "jemalloc", target_os = "linux", not(target_env = "musl"))),
    target_os = "linux",
    target_env = "gnu"
))]
fn release() {
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes no pointers
    // from us and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(any(
    all(feature = "jemalloc", target_os = "linux", not(target_env = "musl")),
    all(target_os = "linux", target_env = "gnu")
)))]
fn release() {}
