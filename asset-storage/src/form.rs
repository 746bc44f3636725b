//! The budget of one `multipart/form-data` request, enforced on the raw bytes before the
//! multipart parser sees them: the whole body, the preamble and each part's header block.
//! The parser (multer) buffers a header block until it ends and searches it again on every
//! chunk, so an endless header would cost unbounded memory and quadratic time; here it stops
//! at [`FormLimits::max_part_header`] bytes.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;

use crate::Error;

/// What one multipart form may cost. The defaults: 10 files, 100 parts, text fields of
/// 64 KiB, part header blocks (and the preamble) of 16 KiB, and a body of at most
/// `max_files` times the policy's cap plus what the other parts may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormLimits {
    /// Bytes of the whole request body; `None`: derived from the policy (see above).
    pub max_body: Option<u64>,
    /// Files in one form (a file input left empty does not count): 10.
    pub max_files: usize,
    /// Parts in one form, files and text fields: 100.
    pub max_parts: usize,
    /// Bytes of one text field: 64 KiB.
    pub max_field: usize,
    /// Bytes of one part's header block, and of the preamble: 16 KiB.
    pub max_part_header: usize,
}

impl Default for FormLimits {
    fn default() -> FormLimits {
        FormLimits {
            max_body: None,
            max_files: 10,
            max_parts: 100,
            max_field: 64 << 10,
            max_part_header: 16 << 10,
        }
    }
}

impl FormLimits {
    /// The body budget for files capped at `max_file` each.
    pub fn body_budget(&self, max_file: u64) -> u64 {
        self.max_body.unwrap_or_else(|| {
            let others = (self.max_parts as u64) * (self.max_field + self.max_part_header) as u64;
            max_file
                .saturating_mul(self.max_files as u64)
                .saturating_add(others)
        })
    }
}

/// A body stream that fails as soon as the form breaks a budget; the error it met is kept in
/// `broken` (the parser's own error would only say the stream failed).
pub(crate) struct Bounded<S> {
    inner: S,
    scan: Scan,
    total: u64,
    max_body: u64,
    pub(crate) broken: crate::idle::Broken,
}

impl<S> Bounded<S> {
    pub(crate) fn new(inner: S, boundary: &str, max_body: u64, max_header: usize) -> Bounded<S> {
        Bounded {
            inner,
            scan: Scan::new(boundary, max_header),
            total: 0,
            max_body,
            broken: Arc::new(Mutex::new(None)),
        }
    }
}

impl<S, E> Stream for Bounded<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let chunk = match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(c))) => c,
            Poll::Ready(Some(Err(e))) => {
                return Poll::Ready(Some(Err(Error::Body(e.to_string()))));
            }
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        };
        this.total += chunk.len() as u64;
        let verdict = if this.total > this.max_body {
            Err(Error::TooLarge {
                limit: this.max_body,
            })
        } else {
            this.scan.feed(&chunk)
        };
        match verdict {
            Ok(()) => Poll::Ready(Some(Ok(chunk))),
            Err(e) => {
                let message = e.to_string();
                *this.broken.lock().expect("not poisoned") = Some(e);
                Poll::Ready(Some(Err(Error::Body(message))))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first delimiter.
    Preamble,
    /// Right after a delimiter: `--` ends the form, anything else starts a header block.
    AfterDelimiter,
    Headers,
    Body,
    /// After the closing delimiter: the parser reads no further.
    Done,
}

/// Where the form is: finds each `\r\n--boundary` and each header block's `\r\n\r\n` in
/// one pass over the bytes, matches split across chunks included.
struct Scan {
    delimiter: Vec<u8>,
    state: State,
    /// Bytes of the current preamble or header block so far.
    count: usize,
    max_header: usize,
    /// The last bytes of the current state's region (fewer than the longest pattern).
    tail: Vec<u8>,
    /// What followed a delimiter so far (at most 2 bytes).
    after: Vec<u8>,
}

const HEADER_END: &[u8] = b"\r\n\r\n";

impl Scan {
    fn new(boundary: &str, max_header: usize) -> Scan {
        Scan {
            delimiter: [b"\r\n--", boundary.as_bytes()].concat(),
            state: State::Preamble,
            count: 0,
            max_header,
            // The body may open with the delimiter, without the line break before it.
            tail: b"\r\n".to_vec(),
            after: Vec::new(),
        }
    }

    fn feed(&mut self, chunk: &[u8]) -> Result<(), Error> {
        let mut pos = 0;
        let mut region = 0;
        while pos < chunk.len() {
            let rest = &chunk[pos..];
            let step = match self.state {
                State::Done => chunk.len() - pos,
                State::AfterDelimiter => {
                    self.after.push(rest[0]);
                    if self.after.len() == 2 {
                        if self.after == b"--" {
                            self.state = State::Done;
                        } else {
                            self.state = State::Headers;
                            self.count = 2;
                        }
                        self.tail.clear();
                        region = pos + 1;
                    }
                    1
                }
                State::Body | State::Preamble | State::Headers => {
                    let pattern = if self.state == State::Headers {
                        HEADER_END
                    } else {
                        &self.delimiter[..]
                    };
                    let found = find_across(&self.tail, rest, pattern);
                    let used = found.unwrap_or(rest.len());
                    if self.state != State::Body {
                        self.count += used;
                        if self.count > self.max_header {
                            return Err(Error::Body(format!(
                                "a part's headers (or the form's preamble) are longer than {} bytes",
                                self.max_header
                            )));
                        }
                    }
                    if found.is_some() {
                        self.state = match self.state {
                            State::Headers => State::Body,
                            _ => {
                                self.after.clear();
                                State::AfterDelimiter
                            }
                        };
                        self.count = 0;
                        self.tail.clear();
                        region = pos + used;
                    }
                    used
                }
            };
            pos += step;
        }
        // Keep the end of the current region for matches that straddle chunks.
        let keep = self.delimiter.len().max(HEADER_END.len()) - 1;
        self.tail
            .extend_from_slice(&chunk[region.min(chunk.len())..]);
        if self.tail.len() > keep {
            self.tail.drain(..self.tail.len() - keep);
        }
        Ok(())
    }
}

/// Where the first `pattern` that ends inside `chunk` ends (an index into `chunk`), looking
/// at `tail` (the bytes just before `chunk`, shorter than `pattern`) too.
fn find_across(tail: &[u8], chunk: &[u8], pattern: &[u8]) -> Option<usize> {
    if !tail.is_empty() {
        let head = &chunk[..chunk.len().min(pattern.len() - 1)];
        let joined = [tail, head].concat();
        if let Some(i) = memchr::memmem::find(&joined, pattern) {
            return Some(i + pattern.len() - tail.len());
        }
    }
    memchr::memmem::find(chunk, pattern).map(|i| i + pattern.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(header: usize) -> Vec<u8> {
        let mut f = b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"".to_vec();
        f.extend(std::iter::repeat_n(b'x', header));
        f.extend_from_slice(b"\r\n\r\nvalue with --XyZ inside\r\n--XyZ\r\nContent-Type: text/plain\r\n\r\nb\r\n--XyZ--\r\nepilogue");
        f
    }

    /// Feeds `bytes` in chunks of every size from 1 to 9: the verdict must not depend on
    /// where the chunks split.
    fn check(bytes: &[u8], max_header: usize) -> Result<(), String> {
        let mut verdicts = Vec::new();
        for size in 1..10 {
            let mut s = Scan::new("XyZ", max_header);
            let v = bytes
                .chunks(size)
                .try_for_each(|c| s.feed(c))
                .map_err(|e| e.to_string());
            if v.is_ok() {
                assert_eq!(s.state, State::Done, "chunks of {size}");
            }
            verdicts.push(v);
        }
        assert!(verdicts.windows(2).all(|w| w[0] == w[1]), "{verdicts:?}");
        verdicts.pop().unwrap()
    }

    #[test]
    fn header_blocks_are_counted_wherever_the_chunks_split() {
        // The first block: the line break after the delimiter, the header, the padding and
        // the blank line.
        let block = 2 + "Content-Disposition: form-data; name=\"a\"".len() + 4;
        assert!(check(&form(100), block + 100).is_ok());
        let e = check(&form(101), block + 100).unwrap_err();
        assert!(
            e.contains(&format!("longer than {} bytes", block + 100)),
            "{e}"
        );
    }

    #[test]
    fn an_endless_preamble_or_header_is_stopped() {
        let mut s = Scan::new("XyZ", 1000);
        let junk = vec![b'a'; 999];
        s.feed(&junk).unwrap();
        assert!(s.feed(b"aa").is_err());
        let mut s = Scan::new("XyZ", 1000);
        s.feed(b"--XyZ\r\n").unwrap();
        assert!(s.feed(&vec![b'h'; 2000]).is_err());
    }
}
