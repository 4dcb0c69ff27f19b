//! A fork plan: `/proc/self/smaps` read before the stop (a thread may read it while the service
//! runs), so that the stop reads only `/proc/self/maps` (see [`super::smaps`] for the costs).
//!
//! Around the fork, with C the mappings of maps now, L the plan's mappings and D its `dc` ones:
//! - `MADV_DOFORK` on the mappings of C that are in D or not in L: mapped since the plan was
//!   read, their flags are unknown, and a V8 heap page left out of the child would crash it;
//! - after the fork, `MADV_DONTFORK` back only on the mappings of D that C still has with the
//!   same start and end: a mapping whose flags were not read must not be kept from the children
//!   of a later `fork()` without `exec`. A new mapping that was `dc` stays forkable in the parent.
//!
//! One `madvise` call covers several mappings where nothing else lies between them: the kernel
//! advises every mapping of the span and answers `ENOMEM` for the holes (checked below on this
//! process's own mappings). V8 puts its 256 KiB pages apart, with holes between: at 1 GB of heap,
//! 3,014 `dc` mappings made 4 spans. Holes are bridged only for `MADV_DOFORK`, which cannot
//! harm a mapping another thread puts in a hole meanwhile; the flags put back in the parent
//! cover only ranges that touch.

use std::io::Read;
use std::ops::Range;

use super::smaps::{self, Mapping};

/// Bytes of smaps read at a time (four mappings or so).
const SMAPS_CHUNK: usize = 4096;

/// This process's mappings and which of them V8 keeps from children, at one moment.
#[derive(Debug, Clone, Default)]
pub struct ForkPlan {
    /// Every mapping, ascending.
    mapped: Vec<Range<usize>>,
    /// The `dc` ones, ascending.
    dont_fork: Vec<Range<usize>>,
}

impl ForkPlan {
    /// Reads `/proc/self/smaps`: tens of milliseconds per GB of heap, so not in the stop. One
    /// `read()` of it holds the process's mmap lock throughout, which V8's threads need to map or
    /// unmap pages: it is read `SMAPS_CHUNK` bytes at a time (as fast: 45-62 ms at 1 GB of heap).
    /// A path that is not UTF-8 is no error.
    pub fn read() -> std::io::Result<ForkPlan> {
        let mut file = std::fs::File::open("/proc/self/smaps")?;
        let mut bytes = Vec::new();
        let mut chunk = [0u8; SMAPS_CHUNK];
        loop {
            match file.read(&mut chunk)? {
                0 => break,
                n => bytes.extend_from_slice(&chunk[..n]),
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        Ok(ForkPlan::from_mappings(smaps::mappings(&text)))
    }

    /// The plan of these mappings (ascending, as smaps lists them).
    pub fn from_mappings(mappings: Vec<Mapping>) -> ForkPlan {
        let dont_fork = mappings
            .iter()
            .filter(|m| m.dont_fork)
            .map(|m| m.range.clone())
            .collect();
        let mapped = mappings.into_iter().map(|m| m.range).collect();
        ForkPlan { mapped, dont_fork }
    }

    /// Every mapping the plan saw, ascending.
    pub fn mapped(&self) -> &[Range<usize>] {
        &self.mapped
    }

    /// The bytes the plan holds in memory.
    pub fn heap_bytes(&self) -> usize {
        (self.mapped.capacity() + self.dont_fork.capacity()) * std::mem::size_of::<Range<usize>>()
    }

    /// What to advise around a fork, given the mappings now (`current`, ascending, as maps lists
    /// them): see the module doc.
    pub fn advice(&self, current: &[Range<usize>]) -> Advice {
        let has = |ranges: &[Range<usize>], r: &Range<usize>| {
            ranges
                .binary_search_by_key(&r.start, |x| x.start)
                .is_ok_and(|i| ranges[i].end == r.end)
        };
        let mut advice = Advice::default();
        let mut previous_given = false;
        for range in current {
            let kept = has(&self.dont_fork, range);
            let given = kept || !has(&self.mapped, range);
            if given {
                match advice.to_child.last_mut() {
                    Some(span) if previous_given => span.push(range.clone()),
                    _ => advice.to_child.push(vec![range.clone()]),
                }
            }
            previous_given = given;
            if kept {
                match advice.kept_back.last_mut() {
                    Some(last) if last.end == range.start => last.end = range.end,
                    _ => advice.kept_back.push(range.clone()),
                }
            }
        }
        advice
    }
}

/// The `madvise` calls around one fork.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Advice {
    /// Spans advised `MADV_DOFORK` before the fork, each as its mappings: nothing else lies
    /// between two mappings of a span.
    to_child: Vec<Vec<Range<usize>>>,
    /// Ranges advised `MADV_DONTFORK` again after it.
    kept_back: Vec<Range<usize>>,
}

impl Advice {
    /// The address ranges of the `MADV_DOFORK` calls.
    pub fn to_child_spans(&self) -> Vec<Range<usize>> {
        self.to_child
            .iter()
            .map(|span| span[0].start..span[span.len() - 1].end)
            .collect()
    }

    /// The address ranges of the `MADV_DONTFORK` calls.
    pub fn kept_back(&self) -> &[Range<usize>] {
        &self.kept_back
    }

    /// Advises `MADV_DOFORK`; returns the bytes of the mappings advised. A span refused as a
    /// whole for another reason than its holes (`EINVAL` for a device mapping among the new
    /// ones) is advised mapping by mapping.
    pub fn give_to_child(&self) -> u64 {
        for span in &self.to_child {
            let whole = span[0].start..span[span.len() - 1].end;
            let refused = madvise(&whole, libc::MADV_DOFORK)
                .is_err_and(|e| e.raw_os_error() != Some(libc::ENOMEM));
            if refused && span.len() > 1 {
                for range in span {
                    let _ = madvise(range, libc::MADV_DOFORK);
                }
            }
        }
        self.to_child.iter().flatten().map(|r| r.len() as u64).sum()
    }

    /// Advises `MADV_DONTFORK` again; a range V8 unmapped meanwhile is no error worth stopping for.
    pub fn keep_back(&self) {
        for range in &self.kept_back {
            let _ = madvise(range, libc::MADV_DONTFORK);
        }
    }
}

fn madvise(range: &Range<usize>, advice: libc::c_int) -> std::io::Result<()> {
    // SAFETY: only the fork-inheritance flag of the range's mappings changes, never their contents.
    let status = unsafe { libc::madvise(range.start as *mut libc::c_void, range.len(), advice) };
    if status == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> usize {
        // SAFETY: sysconf reads a constant.
        unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
    }

    /// Maps `pages` anonymous pages at `at` exactly (read-only when `read_only`: two touching
    /// mappings of other protections stay apart), `MADV_DONTFORK` when `dont_fork`.
    fn map(at: usize, pages: usize, read_only: bool, dont_fork: bool) -> Range<usize> {
        let range = at..at + pages * page();
        let protection = if read_only {
            libc::PROT_READ
        } else {
            libc::PROT_READ | libc::PROT_WRITE
        };
        // SAFETY: `at` lies in a reservation of this test's own, replaced in place.
        let mapped = unsafe {
            libc::mmap(
                at as *mut libc::c_void,
                range.len(),
                protection,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        assert_eq!(mapped as usize, at);
        if dont_fork {
            madvise(&range, libc::MADV_DONTFORK).unwrap();
        }
        range
    }

    fn unmap(range: &Range<usize>) {
        // SAFETY: the range is this test's own.
        assert_eq!(
            unsafe { libc::munmap(range.start as *mut libc::c_void, range.len()) },
            0
        );
    }

    /// This process's mappings inside `region`, with their flags as smaps says now.
    fn mappings_in(region: &Range<usize>) -> Vec<Mapping> {
        let text = std::fs::read_to_string("/proc/self/smaps").unwrap();
        smaps::mappings(&text)
            .into_iter()
            .filter(|m| region.start <= m.range.start && m.range.end <= region.end)
            .collect()
    }

    fn dont_fork_in(region: &Range<usize>) -> Vec<Range<usize>> {
        mappings_in(region)
            .into_iter()
            .filter(|m| m.dont_fork)
            .map(|m| m.range)
            .collect()
    }

    #[test]
    fn new_and_split_mappings_go_to_the_child_and_only_the_plans_dc_ranges_come_back() {
        let plan = ForkPlan::from_mappings(vec![
            Mapping {
                range: 0x1000..0x2000,
                dont_fork: true,
            },
            Mapping {
                range: 0x3000..0x4000,
                dont_fork: false,
            },
            Mapping {
                range: 0x5000..0x6000,
                dont_fork: true,
            },
            Mapping {
                range: 0x6000..0x7000,
                dont_fork: true,
            },
            Mapping {
                range: 0x9000..0xa000,
                dont_fork: true,
            },
        ]);
        // 0x5000 split in two since, 0x9000 unmapped, 0xb000 new.
        let now = [
            0x1000..0x2000,
            0x3000..0x4000,
            0x5000..0x5800,
            0x5800..0x6000,
            0x6000..0x7000,
            0xb000..0xc000,
        ];
        let advice = plan.advice(&now);
        // Nothing lies between 0x7000 and 0xb000 now: one span.
        assert_eq!(
            advice.to_child_spans(),
            vec![0x1000..0x2000, 0x5000..0xc000]
        );
        assert_eq!(advice.kept_back(), &[0x1000..0x2000, 0x6000..0x7000]);
    }

    #[test]
    fn without_changes_the_dc_ranges_go_and_come_back_in_spans() {
        let plan = ForkPlan::from_mappings(vec![
            Mapping {
                range: 0x1000..0x2000,
                dont_fork: true,
            },
            Mapping {
                range: 0x4000..0x5000,
                dont_fork: true,
            },
            Mapping {
                range: 0x5000..0x6000,
                dont_fork: true,
            },
            Mapping {
                range: 0x8000..0x9000,
                dont_fork: false,
            },
            Mapping {
                range: 0xa000..0xb000,
                dont_fork: true,
            },
        ]);
        let advice = plan.advice(plan.mapped());
        assert_eq!(
            advice.to_child_spans(),
            vec![0x1000..0x6000, 0xa000..0xb000]
        );
        assert_eq!(
            advice.kept_back(),
            &[0x1000..0x2000, 0x4000..0x6000, 0xa000..0xb000]
        );
    }

    /// On real mappings: a span over holes advises all its mappings, the child's flags are
    /// cleared, and the parent's come back on the plan's `dc` ranges only.
    #[test]
    fn the_kernel_advises_across_holes_and_the_parent_keeps_its_flags() {
        let p = page();
        // SAFETY: a fresh reservation of 16 pages, this test's own. Its first and last stay
        // reserved: inaccessible, they merge with none of the test's mappings.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                16 * p,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        } as usize;
        let region = base + p..base + 15 * p;
        unmap(&region);
        let at = |n: usize| region.start + n * p;
        let kept = map(at(0), 1, false, true);
        let plain = map(at(2), 1, false, false);
        let replaced = map(at(4), 1, false, true);
        let stays = map(at(8), 1, false, true);
        let touching = map(at(9), 1, true, true);
        let plan = ForkPlan::from_mappings(mappings_in(&region));
        assert_eq!(
            dont_fork_in(&region),
            vec![
                kept.clone(),
                replaced.clone(),
                stays.clone(),
                touching.clone()
            ]
        );

        // Since the plan: a dc mapping replaced by a plain one of other bounds, a new dc one.
        unmap(&replaced);
        let replacement = map(at(4), 2, false, false);
        let new_dc = map(at(11), 1, false, true);
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let now: Vec<_> = smaps::mapped_ranges(&maps)
            .into_iter()
            .filter(|r| region.start <= r.start && r.end <= region.end)
            .collect();
        assert_eq!(
            now,
            vec![
                kept.clone(),
                plain.clone(),
                replacement.clone(),
                stays.clone(),
                touching.clone(),
                new_dc.clone()
            ]
        );

        let advice = plan.advice(&now);
        assert_eq!(
            advice.to_child_spans(),
            vec![kept.clone(), replacement.start..new_dc.end]
        );
        assert_eq!(
            advice.kept_back(),
            &[kept.clone(), stays.start..touching.end]
        );
        // The second span has holes (6-7, 10): the kernel advises its mappings all the same…
        assert_eq!(advice.give_to_child(), 6 * p as u64);
        assert!(
            dont_fork_in(&region).is_empty(),
            "the child gets every mapping"
        );
        // …and answers ENOMEM.
        assert_eq!(
            madvise(&(replacement.start..new_dc.end), libc::MADV_DOFORK)
                .unwrap_err()
                .raw_os_error(),
            Some(libc::ENOMEM)
        );

        advice.keep_back();
        assert_eq!(
            dont_fork_in(&region),
            vec![kept.clone(), stays.clone(), touching.clone()]
        );
        unmap(&(base..base + 16 * p));
    }
}
