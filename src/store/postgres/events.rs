//! Instances tell each other what they did through `LISTEN/NOTIFY`: every write transaction
//! that made jobs claimable, made jobs final or asked for a running job to stop sends a
//! notification (delivered at commit, dropped on rollback), and every instance listens on a
//! dedicated connection and turns what others sent into [`StoreEvent`]s.
//!
//! A payload is `<sender> <what> [ids…]`, with `what` one of `q` (jobs claimable), `f` (jobs
//! final) and `c` (cancel requested). The sender is a random token of the process, so that an
//! instance skips its own notifications. Notifications may be lost (a dropped connection, a
//! pooler that does not forward them): the listener then reports [`StoreEvent::Missed`], and
//! the runtime polls as well.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::job::JobId;
use crate::store::StoreEvent;
use crate::store::sql::Effects;

/// Most ids in one notification (PostgreSQL caps a payload at 8000 bytes).
const IDS_PER_PAYLOAD: usize = 200;

/// The payloads that tell other instances about `effects`, sent by `sender`.
pub(super) fn payloads(sender: &str, effects: &Effects) -> Vec<String> {
    let mut out = Vec::new();
    if effects.queued {
        out.push(format!("{sender} q"));
    }
    for (what, ids) in [("f", &effects.finals), ("c", &effects.cancels)] {
        for chunk in ids.chunks(IDS_PER_PAYLOAD) {
            let mut payload = format!("{sender} {what}");
            for id in chunk {
                payload.push(' ');
                payload.push_str(&id.to_string());
            }
            out.push(payload);
        }
    }
    out
}

/// The events in a payload, unless `me` sent it (or it is not one of ours).
pub(super) fn parse(payload: &str, me: &str) -> Vec<StoreEvent> {
    let mut words = payload.split(' ');
    let (Some(sender), Some(what)) = (words.next(), words.next()) else {
        return Vec::new();
    };
    if sender == me {
        return Vec::new();
    }
    let ids = words.filter_map(|w| w.parse::<JobId>().ok());
    match what {
        "q" => vec![StoreEvent::Queued],
        "f" => ids.map(StoreEvent::Final).collect(),
        "c" => ids.map(StoreEvent::CancelRequested).collect(),
        _ => Vec::new(),
    }
}

/// Listens on `channel` until `stop`, forwarding what other instances did to `events`.
/// Reconnects with a growing pause when the connection drops, reporting
/// [`StoreEvent::Missed`] for what may have been sent meanwhile.
pub(super) async fn listen(
    pool: PgPool,
    channel: String,
    me: String,
    events: broadcast::Sender<StoreEvent>,
    stop: CancellationToken,
) {
    let mut pause = Duration::from_millis(100);
    loop {
        let ended = tokio::select! {
            () = stop.cancelled() => return,
            ended = listen_once(&pool, &channel, &me, &events) => ended,
        };
        let _ = events.send(StoreEvent::Missed);
        match ended {
            Ok(()) => tracing::warn!("the notification connection dropped; listening again"),
            Err(err) => {
                tracing::warn!(error = ?err, ?pause, "listening for notifications failed");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(pause) => {}
                }
                pause = (pause * 2).min(Duration::from_secs(5));
                continue;
            }
        }
        pause = Duration::from_millis(100);
    }
}

/// One connection's worth of listening: returns when it drops.
async fn listen_once(
    pool: &PgPool,
    channel: &str,
    me: &str,
    events: &broadcast::Sender<StoreEvent>,
) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.eager_reconnect(false);
    listener.listen(channel).await?;
    // Anything sent before LISTEN took effect is unknown.
    let _ = events.send(StoreEvent::Missed);
    loop {
        // A connection that only reads would never notice it is half-open: after a quiet
        // spell, make sure the server still answers on it.
        match tokio::time::timeout(QUIET, listener.try_recv()).await {
            Ok(Ok(Some(note))) => {
                for event in parse(note.payload(), me) {
                    let _ = events.send(event);
                }
            }
            Ok(Ok(None)) => return Ok(()),
            Ok(Err(err)) => return Err(err),
            Err(_) => {
                let ping = sqlx::query("SELECT 1").execute(&mut listener);
                match tokio::time::timeout(PING_TIMEOUT, ping).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(err)) => return Err(err),
                    Err(_) => return Err(sqlx::Error::PoolTimedOut),
                }
            }
        }
    }
}

/// How long the listener waits for a notification before checking its connection.
const QUIET: Duration = Duration::from_secs(10);
/// How long that check may take before the connection is given up for dead.
const PING_TIMEOUT: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_skip_their_sender() {
        let ids: Vec<JobId> = (0..450).map(|_| JobId::new()).collect();
        let effects = Effects {
            queued: true,
            finals: ids.clone(),
            cancels: vec![ids[7]],
            ..Effects::default()
        };
        let sent = payloads("a1", &effects);
        assert_eq!(sent.len(), 1 + 3 + 1, "q, 450 finals in three, one cancel");
        assert!(sent.iter().all(|p| p.len() <= 8000));
        let got: Vec<StoreEvent> = sent.iter().flat_map(|p| parse(p, "b2")).collect();
        let mut want = vec![StoreEvent::Queued];
        want.extend(ids.iter().map(|id| StoreEvent::Final(*id)));
        want.push(StoreEvent::CancelRequested(ids[7]));
        assert_eq!(got, want);
        assert!(sent.iter().all(|p| parse(p, "a1").is_empty()));
        assert!(parse("", "b2").is_empty());
        assert!(parse("x z 1", "b2").is_empty());
        assert!(payloads("a1", &Effects::default()).is_empty());
    }
}
