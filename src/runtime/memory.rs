//! Giving memory back after a burst. glibc's allocator keeps the memory freed by many threads
//! in its arenas instead of returning it to the system, so after a flood of requests (bodies,
//! results, pages) the process would stay at its peak size indefinitely. Every few seconds this
//! asks it to release what it holds unused (`malloc_trim`): cheap when there is nothing to
//! release, and the resident size then follows the load back down.

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

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release() {
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes no pointers
    // from us and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release() {}
