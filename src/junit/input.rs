//! The byte source under the XML reader: a `BufRead` that can peek a few
//! bytes ahead (so raw skipping can stop just before an end tag and leave it
//! to quick-xml), and that refuses to let any one XML event grow past a limit
//! (so a hostile attribute, comment or stray text node cannot exhaust memory).

use std::io::{self, BufRead, Read};

const CAPACITY: usize = 64 * 1024;

pub struct Input<R> {
    inner: R,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    /// Bytes consumed since the last `mark`.
    since_mark: u64,
    /// Largest `since_mark` allowed while `limiting`.
    limit: u64,
    limiting: bool,
}

impl<R: Read> Input<R> {
    pub fn new(inner: R, limit: u64) -> Self {
        Input {
            inner,
            buf: vec![0; CAPACITY].into_boxed_slice(),
            pos: 0,
            end: 0,
            since_mark: 0,
            limit,
            limiting: true,
        }
    }

    /// Starts counting the next event's bytes.
    pub fn mark(&mut self) {
        self.since_mark = 0;
    }

    /// Raw skipping reads without the per-event limit (its memory is bounded
    /// by construction).
    pub fn set_limiting(&mut self, on: bool) {
        self.limiting = on;
        self.since_mark = 0;
    }

    /// Up to `n` (at most 4 KiB) bytes ahead without consuming them; fewer only at end of input.
    pub fn peek(&mut self, n: usize) -> io::Result<&[u8]> {
        let n = n.min(4096);
        if self.end - self.pos < n {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
            while self.end < n {
                let read = self.inner.read(&mut self.buf[self.end..])?;
                if read == 0 {
                    break;
                }
                self.end += read;
            }
        }
        Ok(&self.buf[self.pos..self.end.min(self.pos + n)])
    }
}

/// The error `Input` returns when one event passes the limit.
#[derive(Debug)]
pub struct TooLarge(pub u64);

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "an XML tag or text node is larger than {} bytes", self.0)
    }
}

impl std::error::Error for TooLarge {}

impl<R: Read> Read for Input<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Input<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.limiting && self.since_mark > self.limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                TooLarge(self.limit),
            ));
        }
        if self.pos == self.end {
            self.pos = 0;
            self.end = self.inner.read(&mut self.buf)?;
        }
        Ok(&self.buf[self.pos..self.end])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.end);
        self.since_mark += amt as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peeks_across_refills_and_limits_events() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut input = Input::new(&data[..], 1_000_000);
        let mut total = 0usize;
        loop {
            let chunk = input.fill_buf().unwrap();
            if chunk.is_empty() {
                break;
            }
            let n = chunk.len().min(CAPACITY - 3);
            total += n;
            input.consume(n);
            let ahead = input.peek(10).unwrap().to_vec();
            assert_eq!(&ahead[..], &data[total..(total + 10).min(data.len())]);
        }
        assert_eq!(total, data.len());

        let mut input = Input::new(&data[..], 100);
        input.mark();
        input.consume(101);
        assert!(input.fill_buf().is_err());
        input.set_limiting(false);
        assert!(input.fill_buf().is_ok());
    }
}
