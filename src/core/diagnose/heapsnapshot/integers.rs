//! The parser's hot loop: the integers of a JSON array, scanned from a byte range that may end
//! anywhere (the scan resumes in the next range), and a long range split at a comma so that two
//! cores scan it at once.

/// Largest integer accepted in a numeric array: 2^53 - 1, the largest a JS number holds exactly.
pub const MAX_INTEGER: u64 = (1 << 53) - 1;

/// Ranges shorter than this are scanned on one core: a thread costs more than it saves.
const SPLIT_MIN: usize = 1 << 16;

/// What the scanner expects next.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// An integer (after `[` or `,`).
    #[default]
    Integer,
    /// More digits of the integer being read, or what ends it.
    Digit,
    /// `,` or `]` after an integer.
    Separator,
}

/// Scanner state, carried from one range to the next; the default is the state after `[`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Scan {
    /// What comes next.
    pub expect: Expect,
    /// The integer being read (in `Digit`).
    pub value: u64,
    /// Its absolute byte offset (in `Digit`).
    pub start: u64,
}

/// Where a scan stopped; positions are indexes into the scanned range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// At the end of the range: the array goes on in the next one.
    End,
    /// At the `]` that closes the array.
    Close(usize),
    /// At a byte that cannot come next (what was expected is in the state).
    Unexpected(usize),
    /// At the digit that took an integer past `MAX_INTEGER`.
    TooLarge(usize),
}

impl Stop {
    fn shifted(self, by: usize) -> Stop {
        match self {
            Stop::End => Stop::End,
            Stop::Close(i) => Stop::Close(i + by),
            Stop::Unexpected(i) => Stop::Unexpected(i + by),
            Stop::TooLarge(i) => Stop::TooLarge(i + by),
        }
    }
}

#[inline(always)]
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

const ONES: u64 = 0x0101_0101_0101_0101;

/// A bit for each of the 64 bytes that is not an ASCII digit (bit `j` for byte `j`).
#[inline(always)]
fn non_digits(bytes: &[u8; 64]) -> u64 {
    let mut mask = 0;
    for (w, word) in bytes.chunks_exact(8).enumerate() {
        let x = u64::from_le_bytes(word.try_into().unwrap());
        mask |= non_digit_bits(x) << (8 * w);
    }
    mask
}

/// A bit for each of the eight bytes of `x` (first byte lowest) that is not an ASCII digit.
#[inline(always)]
fn non_digit_bits(x: u64) -> u64 {
    // Zero bytes where the high nibble is 3, and where the low nibble is at most 9. A carry out
    // of a byte >= 0xFA only disturbs the bytes after that non-digit.
    let high = (x & (0xF0 * ONES)) ^ (0x30 * ONES);
    let low = (x.wrapping_add(0x06 * ONES) & (0xF0 * ONES)) ^ (0x30 * ONES);
    let other = high | low;
    // The top bit of each byte that is not zero, then the eight top bits gathered into one byte
    // (each lands on its own bit of the product: no carries).
    let marks = (((other & (0x7F * ONES)) + 0x7F * ONES) | other) & (0x80 * ONES);
    (marks >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// The integer written by the first `len` (1 to 8) bytes of `x`, which are digits.
#[inline(always)]
fn short_integer(x: u64, len: usize) -> u64 {
    // Move the digits to the top, so the bytes below are leading zeros; then combine pairs.
    let v = (x << (8 * (8 - len))) & (0x0F * ONES);
    let v = (v * 10 + (v >> 8)) & 0x00FF_00FF_00FF_00FF;
    let v = (v * 100 + (v >> 16)) & 0x0000_FFFF_0000_FFFF;
    (v * 10000 + (v >> 32)) & 0xFFFF_FFFF
}

/// Scans `bytes` (which start at absolute offset `base`) from state `st`, appending each
/// integer to `out` once it is complete; `st` is left as the scan ends.
pub fn scan(bytes: &[u8], base: u64, st: &mut Scan, out: &mut Vec<u64>) -> Stop {
    // A local vector: its length stays in a register instead of being reloaded after each store.
    let mut values = std::mem::take(out);
    let stop = scan_into(bytes, base, st, &mut values);
    *out = values;
    stop
}

/// The scan itself, kept as one function of three arms (one per [`Expect`]): it is the
/// parser's hot loop, its state stays in locals from one arm to the next, and its speed is
/// what the analyzer's benchmarks record.
#[inline(always)]
fn scan_into(bytes: &[u8], base: u64, st: &mut Scan, out: &mut Vec<u64>) -> Stop {
    let n = bytes.len();
    let mut i = 0;
    let mut value = st.value;
    let mut start = st.start;
    let mut expect = st.expect;
    let stop = loop {
        match expect {
            Expect::Integer => {
                // The common case: integers of up to 15 digits each followed by a comma, found
                // with a mask of the non-digits of 64 bytes at a time.
                let mut ended_otherwise = false;
                // 64 bytes of mask, and room to load eight bytes at any of them.
                'window: while i + 72 <= n {
                    let other = non_digits(bytes[i..i + 64].try_into().unwrap());
                    let mut p = 0;
                    while p < 64 {
                        let len = (other >> p).trailing_zeros() as usize;
                        if len == 0 || len > 15 || p + len >= 64 {
                            break;
                        }
                        let at = |k: usize| u64::from_le_bytes(bytes[k..k + 8].try_into().unwrap());
                        out.push(if len <= 8 {
                            short_integer(at(i + p), len)
                        } else {
                            // At most 15 digits: below 10^15, within MAX_INTEGER.
                            let high = short_integer(at(i + p), len - 8);
                            high * 100_000_000 + short_integer(at(i + p + len - 8), 8)
                        });
                        p += len;
                        // V8 writes `\n,` after each node and edge.
                        while p < 63 && is_space(bytes[i + p]) {
                            p += 1;
                        }
                        if bytes[i + p] != b',' {
                            i += p;
                            ended_otherwise = true;
                            break 'window;
                        }
                        p += 1;
                    }
                    if p == 0 {
                        break;
                    }
                    i += p;
                }
                if ended_otherwise {
                    expect = Expect::Separator;
                    continue;
                }
                while i < n && is_space(bytes[i]) {
                    i += 1;
                }
                if i == n {
                    break Stop::End;
                }
                let d = bytes[i].wrapping_sub(b'0');
                if d > 9 {
                    break Stop::Unexpected(i);
                }
                value = d as u64;
                start = base + i as u64;
                i += 1;
                expect = Expect::Digit;
            }
            Expect::Digit => {
                while i < n {
                    let d = bytes[i].wrapping_sub(b'0');
                    if d > 9 {
                        break;
                    }
                    value = value * 10 + d as u64;
                    if value > MAX_INTEGER {
                        break;
                    }
                    i += 1;
                }
                if i == n {
                    break Stop::End;
                }
                if value > MAX_INTEGER {
                    break Stop::TooLarge(i);
                }
                out.push(value);
                // The common case: a comma right after the digits.
                if bytes[i] == b',' {
                    i += 1;
                    expect = Expect::Integer;
                } else {
                    expect = Expect::Separator;
                }
            }
            Expect::Separator => {
                while i < n && is_space(bytes[i]) {
                    i += 1;
                }
                if i == n {
                    break Stop::End;
                }
                match bytes[i] {
                    b',' => {
                        i += 1;
                        expect = Expect::Integer;
                    }
                    b']' => break Stop::Close(i),
                    _ => break Stop::Unexpected(i),
                }
            }
        }
    };
    *st = Scan {
        expect,
        value,
        start,
    };
    stop
}

/// Scans `bytes` as `scan` does, on two cores when the range is long: a second thread scans
/// from the first comma after the middle while this one scans up to it. The integers are
/// `first` followed by `second` (both cleared first); after a stop other than `End`, `second`
/// is empty and `st` is the state at the stop.
pub fn scan_split(
    bytes: &[u8],
    base: u64,
    st: &mut Scan,
    first: &mut Vec<u64>,
    second: &mut Vec<u64>,
) -> Stop {
    first.clear();
    second.clear();
    let half = bytes.len() / 2;
    let comma = if bytes.len() >= SPLIT_MIN {
        bytes[half..]
            .iter()
            .position(|&b| b == b',')
            .map(|j| half + j)
    } else {
        None
    };
    let Some(c) = comma else {
        return scan(bytes, base, st, first);
    };
    let mut tail = Scan::default();
    let (head_stop, tail_stop) = std::thread::scope(|s| {
        let worker = s.spawn(|| scan(&bytes[c + 1..], base + c as u64 + 1, &mut tail, second));
        let head_stop = scan(&bytes[..c], base, st, first);
        let tail_stop = worker
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        (head_stop, tail_stop)
    });
    if head_stop != Stop::End {
        second.clear();
        return head_stop;
    }
    // The comma at `c`, as `scan` would have read it.
    match st.expect {
        Expect::Digit => first.push(st.value),
        Expect::Separator => {}
        Expect::Integer => {
            second.clear();
            return Stop::Unexpected(c);
        }
    }
    *st = tail;
    tail_stop.shifted(c + 1)
}

/// Absolute offset of the start of the `index`-th integer completed in `bytes` (at `base`);
/// `carried` is the start of an integer already being read when `bytes` began.
pub fn value_start(bytes: &[u8], base: u64, carried: Option<u64>, index: usize) -> u64 {
    let mut k = index;
    if let Some(start) = carried {
        if k == 0 {
            return start;
        }
        k -= 1;
    }
    let mut in_digits = carried.is_some();
    for (j, &b) in bytes.iter().enumerate() {
        let digit = b.is_ascii_digit();
        if digit && !in_digits {
            if k == 0 {
                return base + j as u64;
            }
            k -= 1;
        }
        in_digits = digit;
    }
    base + bytes.len() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::test_rng::Rng;

    /// How a whole array ends, as the naive model sees it.
    #[derive(Debug, PartialEq, Eq)]
    enum Outcome {
        /// Closed at this offset.
        Closed(usize),
        /// Unexpected byte, integer too large, input ended; at this offset.
        Unexpected(usize),
        TooLarge(usize),
        Truncated,
    }

    /// One byte at a time, straight from the grammar `ws* int ws* (, ws* int ws*)* ]`.
    fn naive(text: &[u8]) -> (Vec<u64>, Vec<usize>, Outcome) {
        let (mut values, mut starts) = (Vec::new(), Vec::new());
        let mut i = 0;
        let skip = |i: &mut usize| {
            while *i < text.len() && is_space(text[*i]) {
                *i += 1;
            }
        };
        loop {
            skip(&mut i);
            if i == text.len() {
                return (values, starts, Outcome::Truncated);
            }
            if !text[i].is_ascii_digit() {
                return (values, starts, Outcome::Unexpected(i));
            }
            let start = i;
            let mut v: u128 = 0;
            while i < text.len() && text[i].is_ascii_digit() {
                v = v * 10 + (text[i] - b'0') as u128;
                if v > MAX_INTEGER as u128 {
                    return (values, starts, Outcome::TooLarge(i));
                }
                i += 1;
            }
            if i == text.len() {
                return (values, starts, Outcome::Truncated);
            }
            values.push(v as u64);
            starts.push(start);
            skip(&mut i);
            if i == text.len() {
                return (values, starts, Outcome::Truncated);
            }
            match text[i] {
                b',' => i += 1,
                b']' => return (values, starts, Outcome::Closed(i)),
                _ => return (values, starts, Outcome::Unexpected(i)),
            }
        }
    }

    /// `scan_split` over `text` cut into ranges at `cuts`, as the reader drives it; the starts
    /// of some integers, by index.
    fn fast(text: &[u8], cuts: &[usize]) -> (Vec<u64>, Vec<(usize, usize)>, Outcome) {
        let mut st = Scan::default();
        let (mut values, mut starts) = (Vec::new(), Vec::new());
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let mut from = 0;
        for &to in cuts.iter().chain([&text.len()]) {
            let range = &text[from..to];
            let carried = (st.expect == Expect::Digit).then_some(st.start);
            let stop = scan_split(range, from as u64, &mut st, &mut a, &mut b);
            // Offsets are only looked up for errors: check the first, middle and last.
            let count = a.len() + b.len();
            for k in [0, count / 2, count.saturating_sub(1)] {
                if k < count {
                    let at = value_start(range, from as u64, carried, k) as usize;
                    starts.push((values.len() + k, at));
                }
            }
            values.extend_from_slice(&a);
            values.extend_from_slice(&b);
            let outcome = match stop {
                Stop::End => {
                    from = to;
                    continue;
                }
                Stop::Close(i) => Outcome::Closed(from + i),
                Stop::Unexpected(i) => Outcome::Unexpected(from + i),
                Stop::TooLarge(i) => Outcome::TooLarge(from + i),
            };
            return (values, starts, outcome);
        }
        (values, starts, Outcome::Truncated)
    }

    fn random_array(rng: &mut Rng, len: usize) -> Vec<u8> {
        let mut text = Vec::new();
        for k in 0..len {
            if k > 0 {
                text.extend_from_slice(if rng.below(8) == 0 { b"\n," } else { b"," });
            }
            let v = match rng.below(12) {
                0 => rng.below(MAX_INTEGER + 1),
                2 | 3 => {
                    let digits = 1 + rng.below(9) as u32;
                    rng.below(10u64.pow(digits))
                }
                1 => MAX_INTEGER - rng.below(3),
                _ => rng.below(1000),
            };
            text.extend_from_slice(v.to_string().as_bytes());
        }
        text.extend_from_slice(b"] ,\"x\":1");
        text
    }

    #[test]
    fn matches_the_naive_scanner_on_long_and_broken_arrays() {
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        for case in 0..300 {
            let long = case % 3 == 0;
            let len = if long {
                20_000 + rng.below(20_000)
            } else {
                rng.below(40)
            } as usize;
            let mut text = random_array(&mut rng, len);
            // Break a few cases: a bad byte, a lost or doubled comma, a huge number, a cut.
            match rng.below(6) {
                0 => {
                    let at = rng.below(text.len() as u64) as usize;
                    text[at] = b"x-,] 9"[rng.below(6) as usize];
                }
                1 => {
                    let at = rng.below(text.len() as u64) as usize;
                    text.insert(at, b',');
                }
                2 => {
                    let at = rng.below(text.len() as u64) as usize;
                    text.splice(at..at, b"99999999999999999".iter().copied());
                }
                3 => text.truncate(rng.below(text.len() as u64) as usize),
                _ => {}
            }
            let mut cuts: Vec<usize> = (0..rng.below(4))
                .map(|_| rng.below(text.len() as u64 + 1) as usize)
                .collect();
            cuts.sort_unstable();
            let (values, starts, outcome) = fast(&text, &cuts);
            let expected = naive(&text);
            assert_eq!(
                (&values, &outcome),
                (&expected.0, &expected.2),
                "case {case}"
            );
            for (k, at) in starts {
                assert_eq!(at, expected.1[k], "case {case}, integer {k}");
            }
        }
    }

    #[test]
    fn a_bad_comma_at_the_split_point() {
        // `1,1,1,...` with the split comma doubled: the integer before it is missing.
        let n = SPLIT_MIN;
        let mut body: Vec<u8> = (0..n - 2)
            .map(|i| if i % 2 == 0 { b'1' } else { b',' })
            .collect();
        body[n / 2] = b',';
        body[n / 2 + 1] = b'1';
        body.extend_from_slice(b"1]");
        assert_eq!(body.len() / 2, n / 2);
        assert_eq!(naive(&body).2, Outcome::Unexpected(n / 2));
        assert_eq!(fast(&body, &[]).2, Outcome::Unexpected(n / 2));
    }
}
