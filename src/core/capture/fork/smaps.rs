//! This process's mappings as `/proc/self/smaps` and `/proc/self/maps` list them. V8 maps its
//! heap `MADV_DONTFORK` (flag `dc` on the `VmFlags` line of smaps): a plain `fork()` would leave
//! the child without a JS heap. Only smaps has the flags, and reading it walks every page for its
//! Rss and Pss (35-57 ms at 1.2 GB of RSS, measured on Node 24); maps lists the same ranges in
//! 2-4 ms.

use std::ops::Range;

/// One mapping of `smaps`: its range and whether it is kept from children (`dc`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// Its addresses.
    pub range: Range<usize>,
    /// Flagged `dc`: `MADV_DONTFORK`.
    pub dont_fork: bool,
}

/// The mappings of `smaps` text, in the file's order (ascending addresses).
pub fn mappings(smaps: &str) -> Vec<Mapping> {
    let mut mappings: Vec<Mapping> = Vec::new();
    for line in smaps.lines() {
        if let Some(range) = mapping_header(line) {
            mappings.push(Mapping {
                range,
                dont_fork: false,
            });
        } else if let Some(flags) = line.strip_prefix("VmFlags:") {
            if let Some(last) = mappings.last_mut() {
                last.dont_fork = flags.split_whitespace().any(|f| f == "dc");
            }
        }
    }
    mappings
}

/// The ranges of `/proc/self/maps` text, in the file's order (ascending addresses).
pub fn mapped_ranges(maps: &str) -> Vec<Range<usize>> {
    maps.lines().filter_map(mapping_header).collect()
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

    const MAPS: &str = "\
00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/node
3c8a00000000-3c8a00040000 rw-p 00000000 00:00 0
7fff1000-7fff2000 rw-p 00000000 00:00 0                          [stack]
";

    #[test]
    fn finds_every_mapping_and_those_flagged_dc() {
        let found = mappings(SMAPS);
        let dont_fork: Vec<_> = found
            .iter()
            .filter(|m| m.dont_fork)
            .map(|m| m.range.clone())
            .collect();
        assert_eq!(found.len(), 4);
        assert_eq!(
            dont_fork,
            vec![
                0x3c8a_0000_0000..0x3c8a_0004_0000,
                0x7f00_aa00_0000..0x7f00_aa10_0000
            ]
        );
    }

    #[test]
    fn a_flag_that_only_contains_dc_does_not_count() {
        let text = "1000-2000 rw-p 00000000 00:00 0\nVmFlags: rd wr dcx\n";
        assert!(!mappings(text)[0].dont_fork);
    }

    #[test]
    fn headers_that_are_not_ranges_are_skipped() {
        let text = "Size: 4 kB\nVmFlags: dc\nzz-yy rw-p\nVmFlags: dc\n";
        assert!(mappings(text).is_empty());
    }

    #[test]
    fn maps_lines_are_ranges() {
        assert_eq!(
            mapped_ranges(MAPS),
            vec![
                0x40_0000..0x45_2000,
                0x3c8a_0000_0000..0x3c8a_0004_0000,
                0x7fff_1000..0x7fff_2000
            ]
        );
    }
}
