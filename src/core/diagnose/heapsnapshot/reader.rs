//! A streaming tokenizer for exactly the JSON that heap snapshots use.
//!
//! The big sections are flat arrays of non-negative integers; they are parsed straight from the
//! read buffer without building JSON values. Everything else is strings, or small values that
//! are either skipped (bracket matching) or captured as bytes for `serde_json`.
//!
//! About 500 lines, kept in one file: they are the methods of one type, [`Reader`], and all of
//! them work on its buffer and offset (the integer scanning itself is in
//! [`super::integers`]).

use std::io::Read;

use super::error::{Problem, SnapshotError, SnapshotErrorKind};
use super::integers::{scan_split, value_start, Expect, Scan, Stop, MAX_INTEGER};

/// Nesting deeper than this in a skipped section is refused as malformed.
pub const MAX_DEPTH: usize = 1 << 16;

const BUFFER_SIZE: usize = 1 << 20;

type Result<T> = std::result::Result<T, SnapshotError>;

/// Called with the number of bytes read so far, once per buffer refill.
pub type ProgressHook<'a> = Box<dyn FnMut(u64) + 'a>;

/// A byte reader with a position, one-byte lookahead and the token parsers.
pub struct Reader<'a, R> {
    inner: R,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    consumed: u64,
    progress: Option<ProgressHook<'a>>,
}

impl<'a, R: Read> Reader<'a, R> {
    /// Wraps `inner`; reads it in 1 MiB chunks.
    pub fn new(inner: R) -> Self {
        Reader {
            inner,
            buf: vec![0; BUFFER_SIZE].into_boxed_slice(),
            pos: 0,
            len: 0,
            consumed: 0,
            progress: None,
        }
    }

    /// Wraps `inner` and reports the bytes read to `progress` after each refill.
    pub fn with_progress(inner: R, progress: ProgressHook<'a>) -> Self {
        Reader {
            progress: Some(progress),
            ..Reader::new(inner)
        }
    }

    /// Byte offset of the next unread byte.
    pub fn offset(&self) -> u64 {
        self.consumed + self.pos as u64
    }

    fn error(&self, kind: SnapshotErrorKind, message: impl Into<String>) -> SnapshotError {
        SnapshotError::new(kind, self.offset(), message)
    }

    fn truncated(&self, what: &str) -> SnapshotError {
        self.error(
            SnapshotErrorKind::Truncated,
            format!("the input ends inside {what}"),
        )
    }

    /// Refills the buffer once it is used up; false at the end of the input.
    #[inline(always)]
    fn fill(&mut self) -> Result<bool> {
        if self.pos < self.len {
            return Ok(true);
        }
        self.refill()
    }

    #[cold]
    #[inline(never)]
    fn refill(&mut self) -> Result<bool> {
        self.consumed += self.len as u64;
        self.pos = 0;
        self.len = 0;
        loop {
            match self.inner.read(&mut self.buf) {
                Ok(n) => {
                    self.len = n;
                    if let Some(progress) = self.progress.as_mut() {
                        progress(self.consumed + n as u64);
                    }
                    return Ok(n > 0);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(self.error(SnapshotErrorKind::Io, format!("read failed: {e}")))
                }
            }
        }
    }

    /// The next byte that is not JSON whitespace, without consuming it; `None` at the end.
    pub fn peek_token(&mut self) -> Result<Option<u8>> {
        loop {
            if !self.fill()? {
                return Ok(None);
            }
            while self.pos < self.len {
                let b = self.buf[self.pos];
                if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                    return Ok(Some(b));
                }
                self.pos += 1;
            }
        }
    }

    /// Like `peek_token`, but the end of the input is an error naming `what` was being read.
    fn peek_in(&mut self, what: &str) -> Result<u8> {
        self.peek_token()?.ok_or_else(|| self.truncated(what))
    }

    /// Consumes the next token byte, which must be `expected`.
    pub fn expect(&mut self, expected: u8, what: &str) -> Result<()> {
        let b = self.peek_in(what)?;
        if b != expected {
            return Err(self.error(
                SnapshotErrorKind::Malformed,
                format!(
                    "expected '{}' in {what}, found {}",
                    expected as char,
                    describe_byte(b)
                ),
            ));
        }
        self.pos += 1;
        Ok(())
    }

    /// After an element of an array or object: consumes ',' (true) or `close` (false).
    pub fn comma_or(&mut self, close: u8, what: &str) -> Result<bool> {
        let b = self.peek_in(what)?;
        self.pos += 1;
        match b {
            b',' => Ok(true),
            b if b == close => Ok(false),
            _ => {
                self.pos -= 1;
                Err(self.error(
                    SnapshotErrorKind::Malformed,
                    format!(
                        "expected ',' or '{}' in {what}, found {}",
                        close as char,
                        describe_byte(b)
                    ),
                ))
            }
        }
    }

    /// Consumes `open`; then true if the container is empty (its `close` is consumed too).
    pub fn open(&mut self, open: u8, close: u8, what: &str) -> Result<bool> {
        self.expect(open, what)?;
        if self.peek_in(what)? == close {
            self.pos += 1;
            return Ok(true);
        }
        Ok(false)
    }

    /// Reads a JSON string, appending its UTF-8 text to `out` (lone surrogates become U+FFFD).
    pub fn string_into(&mut self, out: &mut Vec<u8>, what: &str) -> Result<()> {
        self.expect(b'"', what)?;
        let start = out.len();
        let mut ascii = true;
        loop {
            if !self.fill()? {
                return Err(self.truncated(what));
            }
            let chunk = &self.buf[self.pos..self.len];
            let run = chunk
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                .unwrap_or(chunk.len());
            ascii &= chunk[..run].is_ascii();
            out.extend_from_slice(&chunk[..run]);
            self.pos += run;
            if self.pos == self.len {
                continue;
            }
            let b = self.buf[self.pos];
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => self.escape_into(out, what)?,
                _ => {
                    self.pos -= 1;
                    return Err(self.error(
                        SnapshotErrorKind::Malformed,
                        format!(
                            "control character {} inside a string in {what}",
                            describe_byte(b)
                        ),
                    ));
                }
            }
        }
        if !ascii && std::str::from_utf8(&out[start..]).is_err() {
            let fixed = String::from_utf8_lossy(&out[start..]).into_owned();
            out.truncate(start);
            out.extend_from_slice(fixed.as_bytes());
        }
        Ok(())
    }

    fn next_byte(&mut self, what: &str) -> Result<u8> {
        if !self.fill()? {
            return Err(self.truncated(what));
        }
        let b = self.buf[self.pos];
        self.pos += 1;
        Ok(b)
    }

    fn hex4(&mut self, what: &str) -> Result<u32> {
        let mut v = 0u32;
        for _ in 0..4 {
            let b = self.next_byte(what)?;
            let d = (b as char).to_digit(16).ok_or_else(|| {
                self.error(
                    SnapshotErrorKind::Malformed,
                    format!("bad \\u escape in {what}: {}", describe_byte(b)),
                )
            })?;
            v = v * 16 + d;
        }
        Ok(v)
    }

    fn escape_into(&mut self, out: &mut Vec<u8>, what: &str) -> Result<()> {
        let b = self.next_byte(what)?;
        let c = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = self.hex4(what)?;
                if (0xD800..0xDC00).contains(&hi) && self.peek_pair_start()? {
                    self.pos += 2;
                    let lo = self.hex4(what)?;
                    if (0xDC00..0xE000).contains(&lo) {
                        char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                            .unwrap_or('\u{FFFD}')
                    } else {
                        push_char(out, '\u{FFFD}');
                        char::from_u32(lo).unwrap_or('\u{FFFD}')
                    }
                } else {
                    char::from_u32(hi).unwrap_or('\u{FFFD}')
                }
            }
            _ => {
                self.pos -= 1;
                return Err(self.error(
                    SnapshotErrorKind::Malformed,
                    format!("bad escape in {what}: {}", describe_byte(b)),
                ));
            }
        };
        push_char(out, c);
        Ok(())
    }

    /// True if the next two bytes are `\u` (the low half of a surrogate pair may follow).
    fn peek_pair_start(&mut self) -> Result<bool> {
        if !self.fill()? {
            return Ok(false);
        }
        if self.len - self.pos < 2 {
            // Move the tail to the front so both bytes can be seen at once.
            let tail = self.len - self.pos;
            self.buf.copy_within(self.pos..self.len, 0);
            self.consumed += self.pos as u64;
            self.pos = 0;
            self.len = tail;
            while self.len < 2 {
                match self.inner.read(&mut self.buf[self.len..]) {
                    Ok(0) => return Ok(false),
                    Ok(n) => self.len += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        return Err(self.error(SnapshotErrorKind::Io, format!("read failed: {e}")))
                    }
                }
            }
        }
        Ok(self.buf[self.pos] == b'\\' && self.buf[self.pos + 1] == b'u')
    }

    /// Skips one JSON value of any shape. Strings are honoured; nesting is bounded by `MAX_DEPTH`.
    pub fn skip_value(&mut self, what: &str) -> Result<()> {
        self.copy_value(None, usize::MAX, what)
    }

    /// Reads one JSON value and returns its raw bytes, refusing values over `max` bytes.
    pub fn capture_value(&mut self, max: usize, what: &str) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.copy_value(Some(&mut out), max, what)?;
        Ok(out)
    }

    fn copy_value(&mut self, mut out: Option<&mut Vec<u8>>, max: usize, what: &str) -> Result<()> {
        self.peek_in(what)?;
        let start = self.offset();
        let mut closers: Vec<u8> = Vec::new();
        let mut in_string = false;
        let mut escaped = false;
        let mut seen_any = false;
        loop {
            if !self.fill()? {
                return Err(self.truncated(what));
            }
            let b = self.buf[self.pos];
            let at_top = closers.is_empty();
            if at_top && seen_any && !in_string {
                // A scalar at the top level ends at its first delimiter.
                if matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                    return Ok(());
                }
            }
            self.pos += 1;
            seen_any = true;
            if let Some(out) = out.as_deref_mut() {
                if out.len() >= max {
                    return Err(SnapshotError::new(
                        SnapshotErrorKind::Unsupported,
                        start,
                        format!("{what} is larger than {max} bytes"),
                    ));
                }
                out.push(b);
            }
            if in_string {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                    if closers.is_empty() {
                        return Ok(());
                    }
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'[' | b'{' => {
                    if closers.len() >= MAX_DEPTH {
                        return Err(self.error(
                            SnapshotErrorKind::Malformed,
                            format!("{what} nests deeper than {MAX_DEPTH} levels"),
                        ));
                    }
                    closers.push(if b == b'[' { b']' } else { b'}' });
                }
                b']' | b'}' => {
                    if closers.pop() != Some(b) {
                        self.pos -= 1;
                        return Err(self.error(
                            SnapshotErrorKind::Malformed,
                            format!("unbalanced {} in {what}", describe_byte(b)),
                        ));
                    }
                    if closers.is_empty() {
                        return Ok(());
                    }
                }
                _ => {}
            }
        }
    }

    /// Reads an array of integers that may be negative, giving `each` every value in order.
    /// Byte by byte: for the small `locations` section, where V8 writes -1 for a position it
    /// does not know (a script without a line table); the big sections go through
    /// `integer_array`. A `Problem` from `each` becomes an error at that value's offset.
    pub fn signed_integer_array(
        &mut self,
        what: &str,
        mut each: impl FnMut(i64) -> std::result::Result<(), Problem>,
    ) -> Result<()> {
        if self.open(b'[', b']', what)? {
            return Ok(());
        }
        loop {
            self.peek_in(what)?;
            let start = self.offset();
            let negative = self.buf[self.pos] == b'-';
            if negative {
                self.pos += 1;
            }
            let mut magnitude: u64 = 0;
            let mut digits = 0usize;
            while self.fill()? {
                let b = self.buf[self.pos];
                if !b.is_ascii_digit() {
                    break;
                }
                magnitude = magnitude * 10 + u64::from(b - b'0');
                if magnitude > MAX_INTEGER {
                    return Err(self.error(
                        SnapshotErrorKind::Malformed,
                        format!("integer in {what} is larger than 2^53"),
                    ));
                }
                digits += 1;
                self.pos += 1;
            }
            if digits == 0 {
                if !self.fill()? {
                    return Err(self.truncated(what));
                }
                let found = describe_byte(self.buf[self.pos]);
                return Err(self.error(
                    SnapshotErrorKind::Malformed,
                    format!("expected an integer in {what}, found {found}"),
                ));
            }
            let value = magnitude as i64;
            each(if negative { -value } else { value }).map_err(|p| p.at(start))?;
            if !self.comma_or(b']', what)? {
                return Ok(());
            }
        }
    }

    /// Parses `[n, n, ...]` of integers in `0..=MAX_INTEGER`, handing them to `sink` in
    /// batches. A `Problem` the sink reports for value `i` of a batch becomes an error at that
    /// value's offset.
    ///
    /// This is where most of a snapshot's bytes go: each read buffer is scanned on two cores
    /// (see `integers::scan_split`) and the sink sees the integers of a whole buffer at once.
    pub fn integer_array(
        &mut self,
        what: &str,
        mut sink: impl FnMut(&[u64]) -> std::result::Result<(), (usize, Problem)>,
    ) -> Result<()> {
        if self.open(b'[', b']', what)? {
            return Ok(());
        }
        let mut st = Scan::default();
        let (mut first, mut second) = (Vec::new(), Vec::new());
        loop {
            if !self.fill()? {
                return Err(self.truncated(what));
            }
            let base = self.offset();
            let range = &self.buf[self.pos..self.len];
            let carried = (st.expect == Expect::Digit).then_some(st.start);
            let stop = scan_split(range, base, &mut st, &mut first, &mut second);
            for (skip, batch) in [(0, &first), (first.len(), &second)] {
                sink(batch).map_err(|(i, p)| p.at(value_start(range, base, carried, skip + i)))?;
            }
            match stop {
                Stop::End => self.pos = self.len,
                Stop::Close(i) => {
                    self.pos += i + 1;
                    return Ok(());
                }
                Stop::Unexpected(i) => {
                    self.pos += i;
                    let expected = match st.expect {
                        Expect::Separator | Expect::Digit => "',' or ']'",
                        Expect::Integer => "a non-negative integer",
                    };
                    let found = describe_byte(self.buf[self.pos]);
                    return Err(self.error(
                        SnapshotErrorKind::Malformed,
                        format!("expected {expected} in {what}, found {found}"),
                    ));
                }
                Stop::TooLarge(i) => {
                    self.pos += i;
                    return Err(self.error(
                        SnapshotErrorKind::Malformed,
                        format!("integer in {what} is larger than 2^53"),
                    ));
                }
            }
        }
    }
}

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut tmp = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
}

/// `'x'` for printable ASCII, `byte 0x..` otherwise.
fn describe_byte(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("byte 0x{b:02x}")
    }
}

#[cfg(test)]
mod tests;
