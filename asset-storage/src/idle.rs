//! The time budget of an upload: a body stream that fails when no bytes arrive for a while
//! (a client that stalls, or trickles a header forever, cannot hold a connection, a part
//! buffer and an open multipart upload without end).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;

use crate::Error;

/// Where a stream that fails records the error it met, for a parser above it whose own
/// error would only say that the stream failed.
pub(crate) type Broken = Arc<Mutex<Option<Error>>>;

/// `inner`, failing with [`Error::Timeout`] once `limit` passes without a chunk.
pub(crate) struct Idle<S> {
    inner: Pin<Box<S>>,
    limit: Duration,
    what: &'static str,
    timer: Pin<Box<tokio::time::Sleep>>,
    /// Whether the last poll found no bytes (the timer then runs from that poll: time the
    /// reader spends elsewhere, writing the last chunk, does not count against the client).
    waiting: bool,
    broken: Option<Broken>,
}

impl<S> Idle<S> {
    pub(crate) fn new(inner: S, limit: Duration, what: &'static str) -> Idle<S> {
        Idle {
            inner: Box::pin(inner),
            limit,
            what,
            timer: Box::pin(tokio::time::sleep(limit)),
            waiting: false,
            broken: None,
        }
    }

    /// Also records the timeout in `broken`.
    #[cfg(feature = "axum")]
    pub(crate) fn reporting(mut self, broken: Broken) -> Idle<S> {
        self.broken = Some(broken);
        self
    }
}

impl<S> Stream for Idle<S>
where
    S: Stream<Item = Result<Bytes, Error>>,
{
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match this.inner.as_mut().poll_next(cx) {
            Poll::Ready(item) => {
                this.waiting = false;
                Poll::Ready(item)
            }
            Poll::Pending => {
                if !this.waiting {
                    this.waiting = true;
                    let deadline = tokio::time::Instant::now() + this.limit;
                    this.timer.as_mut().reset(deadline);
                }
                if this.timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                let e = Error::Timeout {
                    what: this.what,
                    after: this.limit,
                };
                let message = e.to_string();
                if let Some(b) = &this.broken {
                    *b.lock().expect("not poisoned") = Some(e);
                    return Poll::Ready(Some(Err(Error::Body(message))));
                }
                Poll::Ready(Some(Err(e)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt as _;

    #[tokio::test(start_paused = true)]
    async fn a_stall_fails_after_the_limit_and_a_slow_reader_does_not_count() {
        let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Bytes, Error>>();
        let mut s = Idle::new(rx, Duration::from_secs(30), "the upload");
        tx.unbounded_send(Ok(Bytes::from_static(b"a"))).unwrap();
        assert_eq!(s.next().await.unwrap().unwrap(), "a");
        // The reader is busy for longer than the limit; the bytes were there all along.
        tokio::time::sleep(Duration::from_secs(45)).await;
        tx.unbounded_send(Ok(Bytes::from_static(b"b"))).unwrap();
        assert_eq!(s.next().await.unwrap().unwrap(), "b");
        // 29 s of silence is within the budget.
        let send_later = tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(29)).await;
            send_later
                .unbounded_send(Ok(Bytes::from_static(b"c")))
                .unwrap();
        });
        assert_eq!(s.next().await.unwrap().unwrap(), "c");
        // 30 s is not.
        let e = s.next().await.unwrap().unwrap_err();
        assert_eq!(e.status(), 408, "{e}");
        drop(tx);
    }
}
