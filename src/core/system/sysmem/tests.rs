//! The readings on stand-in `/proc` and `/sys` trees of cgroup v1 and v2 layouts, parsers fed
//! arbitrary text, and the real machine's own readings where it is Linux.

use super::*;
use crate::core::test_rng::Rng;
use std::collections::HashMap;

/// An in-memory file tree with absolute paths.
struct FakeFs(HashMap<PathBuf, String>);

impl FakeFs {
    fn new(files: &[(&str, &str)]) -> Self {
        FakeFs(
            files
                .iter()
                .map(|(p, t)| (PathBuf::from(p), t.to_string()))
                .collect(),
        )
    }
}

impl Fs for FakeFs {
    fn read(&self, path: &Path) -> Option<String> {
        self.0.get(path).cloned()
    }
}

#[test]
fn statm_second_field_is_resident_pages() {
    assert_eq!(
        parse_statm_rss_pages("313377 12345 2000 500 0 40000 0\n"),
        Some(12345)
    );
    assert_eq!(parse_statm_rss_pages("313377"), None);
    assert_eq!(parse_statm_rss_pages(""), None);
    assert_eq!(parse_statm_rss_pages("1 x 3"), None);
}

#[test]
fn proc_cgroup_prefers_v1_memory_then_v2() {
    assert_eq!(
        parse_proc_cgroup("0::/system.slice/app.service\n"),
        Some(CgroupPath::V2("/system.slice/app.service".into()))
    );
    let hybrid = "12:cpu,cpuacct:/a\n9:memory:/docker/abc\n0::/docker/abc\n";
    assert_eq!(
        parse_proc_cgroup(hybrid),
        Some(CgroupPath::V1Memory("/docker/abc".into()))
    );
    assert_eq!(parse_proc_cgroup("garbage\n\n"), None);
    // A path may itself contain ':'.
    assert_eq!(
        parse_proc_cgroup("0::/a:b\n"),
        Some(CgroupPath::V2("/a:b".into()))
    );
}

#[test]
fn limits_parse_max_and_v1_unlimited_as_none() {
    assert_eq!(parse_limit("max\n"), None);
    assert_eq!(parse_limit("9223372036854771712\n"), None);
    assert_eq!(parse_limit("536870912\n"), Some(536_870_912));
    assert_eq!(parse_limit("-1"), None);
    assert_eq!(parse_limit(""), None);
}

#[test]
fn v2_limit_is_the_tightest_ancestor() {
    let fs = FakeFs::new(&[
        ("/proc/self/statm", "100 25 3 4 0 6 0"),
        ("/proc/self/cgroup", "0::/outer/inner\n"),
        ("/sys/fs/cgroup/outer/memory.max", "1073741824"),
        ("/sys/fs/cgroup/outer/inner/memory.max", "max"),
        ("/sys/fs/cgroup/outer/inner/memory.current", "52428800"),
    ]);
    let m = read_system_memory(&fs, 4096);
    assert_eq!(m.rss, Some(25 * 4096));
    assert_eq!(m.container_limit, Some(1 << 30));
    assert_eq!(m.container_usage, Some(52_428_800));
}

#[test]
fn v2_in_a_cgroup_namespace_reads_the_mount_root() {
    let fs = FakeFs::new(&[
        ("/proc/self/cgroup", "0::/\n"),
        ("/sys/fs/cgroup/memory.max", "268435456\n"),
        ("/sys/fs/cgroup/memory.current", "1000\n"),
    ]);
    let m = read_system_memory(&fs, 4096);
    assert_eq!(m.rss, None);
    assert_eq!(m.container_limit, Some(268_435_456));
    assert_eq!(m.container_usage, Some(1000));
}

#[test]
fn v1_memory_controller() {
    let fs = FakeFs::new(&[
        ("/proc/self/cgroup", "4:memory:/docker/abc\n0::/\n"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "9223372036854771712",
        ),
        (
            "/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes",
            "2147483648",
        ),
        (
            "/sys/fs/cgroup/memory/docker/abc/memory.usage_in_bytes",
            "4096",
        ),
    ]);
    let m = read_system_memory(&fs, 4096);
    assert_eq!(m.container_limit, Some(2_147_483_648));
    assert_eq!(m.container_usage, Some(4096));
}

#[test]
fn nothing_readable_means_nothing_known() {
    let m = read_system_memory(&FakeFs::new(&[]), 4096);
    assert_eq!(m, SystemMemory::default());
}

#[test]
fn property_limit_is_the_minimum_over_random_v2_hierarchies() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..2000 {
        let depth = rng.below(6) as usize;
        let names: Vec<String> = (0..depth)
            .map(|i| format!("n{i}x{}", rng.below(99)))
            .collect();
        let mut files: Vec<(String, String)> = Vec::new();
        let mut expected: Option<u64> = None;
        // The mount root and every directory down to the leaf may carry a limit.
        for level in 0..=depth {
            let dir = std::iter::once("/sys/fs/cgroup".to_string())
                .chain(names[..level].iter().cloned())
                .collect::<Vec<_>>()
                .join("/");
            match rng.below(4) {
                0 => {}
                1 => files.push((format!("{dir}/memory.max"), "max\n".into())),
                2 => files.push((format!("{dir}/memory.max"), "garbage".into())),
                _ => {
                    let limit = 1 + rng.below(1 << 40);
                    expected = Some(expected.map_or(limit, |e: u64| e.min(limit)));
                    files.push((format!("{dir}/memory.max"), format!("{limit}\n")));
                }
            }
        }
        let leaf = format!("/{}", names.join("/"));
        files.push(("/proc/self/cgroup".into(), format!("0::{leaf}\n")));
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        let got = read_system_memory(&FakeFs::new(&refs), 4096).container_limit;
        assert_eq!(got, expected.map(|l| l as i64), "{files:?}");
    }
}

#[test]
fn property_parsers_never_panic_on_arbitrary_text() {
    let mut rng = Rng(42);
    let alphabet = b"0123456789 :\n/-maxemory,\t\xff";
    for _ in 0..20_000 {
        let len = rng.below(40) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
            .collect();
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_statm_rss_pages(&text);
        let _ = parse_proc_cgroup(&text);
        let _ = parse_limit(&text);
        let fs = FakeFs::new(&[("/proc/self/cgroup", &text), ("/proc/self/statm", &text)]);
        let _ = read_system_memory(&fs, 4096);
    }
}

#[test]
fn real_machine_reports_rss_on_linux() {
    if cfg!(target_os = "linux") {
        let m = read_system_memory(&RealFs, 4096);
        assert!(m.rss.unwrap() > 0);
    }
}

#[test]
fn count_malloc_counts_what_malloc_hands_out_on_glibc() {
    if !cfg!(all(target_os = "linux", target_env = "gnu")) {
        assert_eq!(count_malloc(), MallocCount::Unknown);
        return;
    }
    // A count of a few µs defers the next by a few ms: wait it out.
    let count = || loop {
        match count_malloc() {
            MallocCount::Deferred => std::thread::sleep(std::time::Duration::from_millis(5)),
            other => return other.bytes().expect("glibc >= 2.33 has mallinfo2"),
        }
    };
    let before = count();
    // 256 MiB held, judged with 64 MiB to spare for what tests on other threads do.
    let held: Vec<Vec<u8>> = (0..256).map(|i| vec![i as u8; 1 << 20]).collect();
    let during = count();
    drop(held);
    let after = count();
    assert!(during >= before + (192 << 20), "{before} -> {during}");
    assert!(after + (192 << 20) <= during, "{during} -> {after}");
}

#[test]
fn a_slow_count_of_malloc_defers_the_next_by_a_thousand_times_its_cost() {
    let pacer = MallocPacer::default();
    assert!(pacer.may_count(0));
    // 180 ms, as after a heap snapshot: the next waits three minutes.
    pacer.counted(1_000_000_000, 1_180_000_000);
    assert!(!pacer.may_count(1_200_000_000));
    assert!(!pacer.may_count(180_000_000_000));
    assert!(pacer.may_count(181_180_000_000));
    // 20 µs, as usually: 20 ms.
    pacer.counted(200_000_000_000, 200_000_020_000);
    assert!(!pacer.may_count(200_010_000_000));
    assert!(pacer.may_count(200_020_020_000));
}
