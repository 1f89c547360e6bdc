//! Accepting connections: the HTTP/1.1 loop, and the limits a slow or hostile client meets
//! before any handler runs.
//!
//! - A connection must send a whole request header within `--header-read-timeout-ms` of
//!   opening, and again within it of its previous response (an idle kept-alive connection),
//!   or it is closed: half a header, or nothing, holds nothing for long.
//! - At most `--max-connections` are open at once, and at most `--max-connections-per-ip`
//!   from one client address. Past a cap a new connection is closed as soon as it is
//!   accepted (no task, no buffer: a few microseconds), while the open ones go on being
//!   served; `faena_connections_refused_total` counts them. The per-address cap keeps one
//!   client from taking them all, so the others (and health checks) still get in.
//! - Every connection gets TCP_USER_TIMEOUT (`--send-timeout-ms`): a peer that stops reading
//!   what it is sent is cut off by the kernel.
//! - `accept` failing for want of file descriptors or memory is logged once per 10 s, and the
//!   loop pauses 50 ms instead of spinning; one connection's failure is skipped.
//! - The header timeout is also the idle timeout of kept-alive connections (hyper has one
//!   timer for both): behind a reverse proxy that keeps upstream connections open, set it
//!   above the proxy's idle timeout, or the proxy may reuse a connection as it closes (502).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// The limits of accepted connections (see the module's doc).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
    pub max_per_ip: usize,
    /// 0: the system's.
    pub send_timeout: Duration,
}

/// Serves `router` on `listener` until `stop`, then waits for the open connections to end
/// (each closes once its request in progress is answered).
pub(crate) async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: Limits,
    stop: CancellationToken,
) {
    let open = Arc::new(Open::new(limits));
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        // What one connection may buffer of a request's head (and of its body at a time):
        // hyper's default of ~400 KB let a few thousand half-sent heads hold a gigabyte. A
        // longer head gets 431.
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(true);
    let mut last_error: Option<Instant> = None;
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) if !out_of_resources(&err) => {
                    // One connection's failure (reset or aborted before it was taken).
                    tracing::debug!(error = %err, "accepting a connection failed");
                    continue;
                }
                Err(err) => {
                    if last_error.is_none_or(|at| at.elapsed() >= Duration::from_secs(10)) {
                        tracing::warn!(error = %err, "accepting connections failed");
                        last_error = Some(Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stop.cancelled() => break,
        };
        let Some(slot) = Open::admit(&open, client_of(peer.ip())) else {
            metrics::counter!("faena_connections_refused_total").increment(1);
            drop(tcp);
            continue;
        };
        prepare(&tcp, limits.send_timeout);
        let service = TowerToHyperService::new(router.clone());
        let connection = graceful.watch(http.serve_connection(TokioIo::new(tcp), service));
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// The most a connection buffers of a request's head.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Who a connection comes from, for the cap per client: its IPv4 address (an IPv4-mapped
/// IPv6 address counts as the IPv4 one), or the /64 of its IPv6 address, since one host
/// commonly holds a whole /64 and could otherwise open the cap's worth from each address.
fn client_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(std::net::Ipv6Addr::from(segments))
            }
        },
    }
}

/// Whether `err` says the process is out of something (file descriptors, memory), rather than
/// that one connection failed: then accepting again at once would only fail again.
fn out_of_resources(err: &std::io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

fn prepare(tcp: &TcpStream, send_timeout: Duration) {
    if let Err(err) = tcp.set_nodelay(true) {
        tracing::debug!(error = %err, "setting TCP_NODELAY failed");
    }
    if let Err(err) = set_send_timeout(tcp, send_timeout) {
        tracing::debug!(error = %err, "setting TCP_USER_TIMEOUT failed");
    }
}

/// The connections open, in all and by client address.
#[derive(Debug)]
struct Open {
    limits: Limits,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_ip: HashMap<IpAddr, usize>,
}

/// One admitted connection: its place is given back when it is dropped.
struct Slot {
    open: Arc<Open>,
    ip: IpAddr,
}

impl Open {
    fn new(limits: Limits) -> Self {
        Self {
            limits,
            counts: Mutex::default(),
        }
    }

    /// A place for a connection from `ip`, or None past a cap.
    fn admit(open: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let mut counts = open.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if counts.total >= open.limits.max_connections {
            return None;
        }
        let of_ip = counts.by_ip.entry(ip).or_default();
        if *of_ip >= open.limits.max_per_ip {
            return None;
        }
        *of_ip += 1;
        counts.total += 1;
        metrics::gauge!("faena_connections_open").increment(1.0);
        Some(Slot {
            open: Arc::clone(open),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self
            .open
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        counts.total -= 1;
        if let Some(n) = counts.by_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.by_ip.remove(&self.ip);
            }
        }
        metrics::gauge!("faena_connections_open").decrement(1.0);
    }
}

/// Closes `tcp` when data sent on it stays unacknowledged for `timeout` — a peer that stops
/// reading leaves its receive window at zero, and the kernel's probes of it then count as
/// unacknowledged (Linux). Zero leaves the system's default.
fn set_send_timeout(tcp: &TcpStream, timeout: Duration) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    if timeout.is_zero() {
        return Ok(());
    }
    let ms = libc::c_uint::try_from(timeout.as_millis()).unwrap_or(libc::c_uint::MAX);
    // SAFETY: a valid socket descriptor, a pointer to a c_uint and its size.
    let rc = unsafe {
        libc::setsockopt(
            tcp.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_USER_TIMEOUT,
            (&ms as *const libc::c_uint).cast(),
            std::mem::size_of::<libc::c_uint>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    use std::sync::Arc;
    use std::time::Duration;

    use super::{Limits, Open, client_of};

    #[test]
    fn a_client_is_an_ipv4_address_or_an_ipv6_64() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(client_of(ip("10.0.0.1")), ip("10.0.0.1"));
        assert_eq!(client_of(ip("::ffff:10.0.0.1")), ip("10.0.0.1"));
        assert_eq!(
            client_of(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
            ip("2001:db8:1:2::")
        );
        assert_eq!(
            client_of(ip("2001:db8:1:2::1")),
            client_of(ip("2001:db8:1:2:ffff::9")),
            "one /64, one client"
        );
        assert_ne!(
            client_of(ip("2001:db8:1:2::1")),
            client_of(ip("2001:db8:1:3::1"))
        );
        assert_eq!(client_of(IpAddr::V6(Ipv6Addr::LOCALHOST)), ip("::"));
    }

    fn open(max_connections: usize, max_per_ip: usize) -> Arc<Open> {
        Arc::new(Open::new(Limits {
            header_read_timeout: Duration::from_secs(1),
            max_connections,
            max_per_ip,
            send_timeout: Duration::ZERO,
        }))
    }

    #[test]
    fn the_caps_hold_and_closed_connections_give_their_place_back() {
        let open = open(3, 2);
        let (a, b) = (
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        );
        let a1 = Open::admit(&open, a).expect("first of a");
        let _a2 = Open::admit(&open, a).expect("second of a");
        assert!(Open::admit(&open, a).is_none(), "a third from one address");
        let _b1 = Open::admit(&open, b).expect("another address gets in");
        assert!(Open::admit(&open, b).is_none(), "the global cap");
        drop(a1);
        let _b2 = Open::admit(&open, b).expect("a place given back");
        assert_eq!(open.counts.lock().unwrap().total, 3);
    }
}
