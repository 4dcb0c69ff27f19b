//! The ranges of this process's memory that V8 maps `MADV_DONTFORK`: a plain `fork()` would
//! leave the child without a JS heap. Read from the `VmFlags` lines of `/proc/self/smaps`
//! (flag `dc`).

use std::ops::Range;

/// The address ranges marked "do not copy on fork" in `smaps` text, in the file's order.
pub fn dont_fork_ranges(smaps: &str) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let mut current: Option<Range<usize>> = None;
    for line in smaps.lines() {
        if let Some(range) = mapping_header(line) {
            current = Some(range);
        } else if let Some(flags) = line.strip_prefix("VmFlags:") {
            if flags.split_whitespace().any(|f| f == "dc") {
                ranges.extend(current.take());
            }
        }
    }
    ranges
}

/// `start-end perms …`, the first line of each mapping, as its range.
fn mapping_header(line: &str) -> Option<Range<usize>> {
    let span = line.split_whitespace().next()?;
    let (start, end) = span.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    (start < end).then_some(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/node
Size:                328 kB
VmFlags: rd ex mr mw me dw
3c8a00000000-3c8a00040000 rw-p 00000000 00:00 0
Size:                256 kB
Rss:                 256 kB
VmFlags: rd wr mr mw me dc ac sd
7f00aa000000-7f00aa100000 ---p 00000000 00:00 0
VmFlags: mr mw me nr dc sd
7fff1000-7fff2000 rw-p 00000000 00:00 0                          [stack]
VmFlags: rd wr mr mw me gd ac
";

    #[test]
    fn finds_the_mappings_flagged_dc() {
        assert_eq!(
            dont_fork_ranges(SMAPS),
            vec![
                0x3c8a_0000_0000..0x3c8a_0004_0000,
                0x7f00_aa00_0000..0x7f00_aa10_0000
            ]
        );
    }

    #[test]
    fn a_flag_that_only_contains_dc_does_not_count() {
        let text = "1000-2000 rw-p 00000000 00:00 0\nVmFlags: rd wr dcx\n";
        assert!(dont_fork_ranges(text).is_empty());
    }

    #[test]
    fn headers_that_are_not_ranges_are_skipped() {
        let text = "Size: 4 kB\nVmFlags: dc\nzz-yy rw-p\nVmFlags: dc\n";
        assert!(dont_fork_ranges(text).is_empty());
    }
}
