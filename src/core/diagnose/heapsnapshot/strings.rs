//! The snapshot's string table: one byte buffer and end offsets, no allocation per string.

/// Strings of a snapshot, indexed as in its `strings` section.
#[derive(Debug, Default)]
pub struct Strings {
    bytes: Vec<u8>,
    ends: Vec<u32>,
}

impl Strings {
    /// Bytes its buffers take.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + 4 * self.ends.capacity()
    }

    /// Number of strings.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The string at `index`; empty for an index out of range.
    pub fn get(&self, index: u32) -> &str {
        let i = index as usize;
        if i >= self.ends.len() {
            return "";
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        let bytes = &self.bytes[start..self.ends[i] as usize];
        // SAFETY: only `Reader::string_into` appends to the buffer (through `buffer`, which is
        // private to this module tree), and it appends valid UTF-8 or replaces what is not.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }

    /// The buffer the next string is appended to; call `finish` after appending it.
    pub(super) fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// Closes the string appended since the last call; false if the table passed 4 GiB.
    pub(super) fn finish(&mut self) -> bool {
        match u32::try_from(self.bytes.len()) {
            Ok(end) => {
                self.ends.push(end);
                true
            }
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_and_read() {
        let mut s = Strings::default();
        for text in ["", "abc", "é"] {
            s.buffer().extend_from_slice(text.as_bytes());
            assert!(s.finish());
        }
        assert_eq!(
            (s.len(), s.get(0), s.get(1), s.get(2), s.get(3)),
            (3, "", "abc", "é", "")
        );
    }
}
