//! A small Server-Sent Events client for the tests: reads a `text/event-stream` response
//! chunk by chunk and hands back whole events.

use std::time::Duration;

use reqwest::Response;
use serde_json::Value;

/// One event as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Sse {
    pub event: String,
    pub id: Option<String>,
    pub data: Value,
}

/// An open stream.
pub struct SseStream {
    resp: Response,
    buf: String,
    /// Comment lines seen (keep-alives).
    pub comments: usize,
}

impl SseStream {
    /// Wraps a 200 `text/event-stream` answer.
    pub fn new(resp: Response) -> Self {
        assert_eq!(resp.status(), 200, "an event stream answers 200");
        let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with("text/event-stream"), "{ct}");
        Self {
            resp,
            buf: String::new(),
            comments: 0,
        }
    }

    /// The next event; `None` when the server ended the stream. Panics after `within`.
    pub async fn next_within(&mut self, within: Duration) -> Option<Sse> {
        tokio::time::timeout(within, self.next())
            .await
            .expect("an event within the time given")
    }

    /// The next event; `None` when the server ended the stream.
    pub async fn next(&mut self) -> Option<Sse> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                if let Some(event) = self.parse(&block) {
                    return Some(event);
                }
                continue;
            }
            match self.resp.chunk().await.expect("the stream reads") {
                Some(bytes) => self.buf.push_str(std::str::from_utf8(&bytes).unwrap()),
                None => return None,
            }
        }
    }

    fn parse(&mut self, block: &str) -> Option<Sse> {
        let (mut event, mut id, mut data) = (None, None, String::new());
        for line in block.lines() {
            if line.starts_with(':') {
                self.comments += 1;
            } else if let Some(v) = line.strip_prefix("event:") {
                event = Some(v.trim().to_owned());
            } else if let Some(v) = line.strip_prefix("id:") {
                id = Some(v.trim().to_owned());
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.trim_start());
            }
        }
        let event = event?;
        let data = serde_json::from_str(&data).expect("event data is JSON");
        Some(Sse { event, id, data })
    }

    /// Events until one matches `until` (included), within `within`.
    pub async fn until(&mut self, within: Duration, until: impl Fn(&Sse) -> bool) -> Vec<Sse> {
        let mut got = Vec::new();
        tokio::time::timeout(within, async {
            while let Some(e) = self.next().await {
                let done = until(&e);
                got.push(e);
                if done {
                    return;
                }
            }
            panic!("the stream ended before the awaited event: {got:?}");
        })
        .await
        .expect("the awaited event within the time given");
        got
    }
}
