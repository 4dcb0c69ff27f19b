//! Matching by retainer path, for snapshots of different processes of one program:
//! collections match by path key (see [`crate::core::diagnose::heapsnapshot::pathkey`]), and
//! "new" objects are those of classes whose counts grew, held by the grown collections.

use super::findings::Findings;
use super::grown::{add_native, grown};
use super::growth::by_path::growth_roots_by_paths;
use super::result::{new_bytes_of, GrownCollection, NewObjects};
use super::suspects::{by_bytes, holders, rank_suspects};
use crate::core::diagnose::heapsnapshot::analysis::Analysis;
use crate::core::diagnose::heapsnapshot::dominators::DominatorTree;
use crate::core::diagnose::heapsnapshot::pathkey::{
    class_counts, for_each_collection, KeyMap, KeyStat, PathCounts, PathKey,
};
use crate::core::diagnose::heapsnapshot::snapshot::{NodeKind, Snapshot};
use crate::core::diagnose::heapsnapshot::summary::{top_by, ClassIndex};

/// The last snapshot's collections of one path key.
struct KeyNow {
    stat: KeyStat,
    /// Their retained sizes in all.
    retained: u64,
    /// The one with the most entries: the one shown.
    shown: usize,
    shown_entries: u64,
}

/// The diff by retainer path (see the module doc): collections match by path key; "new"
/// objects are those of classes whose counts grew, held (dominated) by a grown collection.
pub(super) fn diff_by_paths(
    first: &PathCounts,
    middle: Option<&PathCounts>,
    last: &Analysis,
    top: usize,
) -> Findings {
    let snap = &last.snapshot;
    let (now, members) = keyed_collections(last);
    let candidates = grown_keys(first, middle, &now);
    // Collections the heap holds first, then those only a stack frame reaches.
    let held: Vec<bool> = candidates
        .iter()
        .map(|c| !on_stack(last, now[&c.0].shown))
        .collect();
    let chosen = top_by(0..candidates.len(), top, |i| {
        let (key, before, _) = candidates[i];
        let k = &now[&key];
        let bytes = new_bytes_of(k.retained, before, k.stat.entries);
        bytes.min(u64::MAX >> 1) | (held[i] as u64) << 63
    });
    let mut grown: Vec<(GrownCollection, usize)> = chosen
        .iter()
        .map(|&i| {
            let (key, before, _) = candidates[i];
            let k = &now[&key];
            let (mut g, v) = grown(last, (k.shown, before, k.stat.entries));
            g.retained_size = k.retained as i64;
            (g, v)
        })
        .collect();
    let mut chosen: Vec<(PathKey, usize)> = chosen
        .iter()
        .enumerate()
        .map(|(g, &i)| (candidates[i].0, g))
        .collect();
    chosen.sort_unstable();
    let mut in_grown = vec![false; snap.node_count()];
    let mut grown_members = Vec::new();
    for &(v, key) in &members {
        if let Ok(i) = chosen.binary_search_by_key(&key, |c| c.0) {
            in_grown[v as usize] = true;
            grown_members.push((v as usize, chosen[i].1));
        }
    }
    let classes = ClassIndex::new(snap);
    let growth = class_growth(first, middle, snap, &classes);
    let tree = DominatorTree::new(&last.idom, snap.root());
    let grown_bytes = growth.iter().map(|g| g.1).sum();
    let growth_roots = growth_roots_by_paths(first, last, &tree, top, grown_bytes);
    // What a chain's holder holds is grown as a collection's entries are: the suspects are the
    // classes that grew under it too.
    for (root, named) in &growth_roots {
        if root.chain.is_some() {
            in_grown[*named] = true;
        }
    }
    let is_new = held_by(last, &in_grown, |v| {
        growth[classes.of_node[v] as usize].0 > 0
    });
    add_native(last, &tree, &mut grown, grown_members, None);
    let class = |c: usize, t: (u64, u64, u64)| {
        NewObjects::new(classes.names[c].clone(), (growth[c].0, growth[c].1, t.2))
    };
    let (suspects, totals) = rank_suspects(last, tree, &classes, &is_new, top, &[], class);
    let grew = (0..classes.names.len()).filter(|&c| growth[c].0 > 0);
    Findings {
        new_count: growth.iter().map(|g| g.0).sum(),
        new_bytes: growth.iter().map(|g| g.1).sum(),
        new_by_class: by_bytes(grew.map(|c| class(c, totals[c]))),
        suspects,
        grown,
        growth_roots,
    }
}

/// True if the shortest path to `v` goes through the stack or a handle scope: what a running
/// function works on (a request's temporary array), which between two snapshots of different
/// processes can look grown without accumulating anything.
fn on_stack(last: &Analysis, v: usize) -> bool {
    let snap = &last.snapshot;
    last.tree.edges_to(snap, v).is_some_and(|edges| {
        edges.iter().take(2).any(|&e| {
            let t = snap.edge_to[e] as usize;
            snap.node_kind(t) == NodeKind::Synthetic
                && matches!(snap.name(t), "(Stack roots)" | "(Handle scope)")
        })
    })
}

/// The last snapshot's collections by path key, and (node, key) of each.
fn keyed_collections(last: &Analysis) -> (KeyMap<KeyNow>, Vec<(u32, PathKey)>) {
    let mut keys: KeyMap<KeyNow> = KeyMap::default();
    let mut members = Vec::new();
    for_each_collection(&last.snapshot, &last.tree, &last.code, |v, key, entries| {
        members.push((v as u32, key));
        let k = keys.entry(key).or_insert(KeyNow {
            stat: KeyStat::default(),
            retained: 0,
            shown: v,
            shown_entries: entries,
        });
        k.stat.count += 1;
        k.stat.entries += entries;
        k.retained += last.retained.get(v);
        if entries > k.shown_entries {
            (k.shown, k.shown_entries) = (v, entries);
        }
    });
    (keys, members)
}

/// (key, entries before, growth) of each key that grew from `first` to the last snapshot
/// (with a `middle`: grew from `first` to it, and is no smaller in the last), in node order.
fn grown_keys(
    first: &PathCounts,
    middle: Option<&PathCounts>,
    now: &KeyMap<KeyNow>,
) -> Vec<(PathKey, u64, u64)> {
    let mut grown: Vec<(usize, PathKey, u64, u64)> = Vec::new();
    for (&key, k) in now {
        let Some(&before) = first.keys.get(&key) else {
            continue;
        };
        // Grown per collection and in all: a key whose collections hold more each but fewer
        // in all (fewer of them) did not grow in any sense a person would read as growth.
        let growth = before
            .growth_to(k.stat)
            .min(k.stat.entries.saturating_sub(before.entries));
        let kept = middle.is_none_or(|m| {
            m.keys.get(&key).is_some_and(|&mid| {
                before.growth_to(mid) > 0 && k.stat.entries >= mid.scaled_to(k.stat.count)
            })
        });
        if growth > 0 && kept && grew_beyond_arrivals(before, k.stat, growth) {
            grown.push((k.shown, key, before.entries, growth));
        }
    }
    grown.sort_unstable();
    grown.into_iter().map(|(_, k, b, g)| (k, b, g)).collect()
}

/// When more collections share a key than before, the entries they gained beyond the old
/// average must be at least 1/this (5%) of what that average gives them: a few larger members
/// arriving among many new small ones (one report object among thousands of new sessions'
/// one-entry objects, all "an Object held by an Array's element") is not growth a person
/// reads as such, and its totals would be shown as a collection that grew by thousands.
const MIN_GROWTH_SHARE_WHEN_MORE: u64 = 20;

/// Whether `growth` (of `before` to `after`, see [`KeyStat::growth_to`]) is more than the
/// arrival of more collections shifting their average: always, where no more arrived.
fn grew_beyond_arrivals(before: KeyStat, after: KeyStat, growth: u64) -> bool {
    after.count <= before.count
        || growth.saturating_mul(MIN_GROWTH_SHARE_WHEN_MORE) >= before.scaled_to(after.count)
}

/// (count, self size) each class of `classes` grew by since `first` (with a `middle`: the
/// growth kept in both later snapshots).
fn class_growth(
    first: &PathCounts,
    middle: Option<&PathCounts>,
    snap: &Snapshot,
    classes: &ClassIndex,
) -> Vec<(u64, u64)> {
    let now = class_counts(snap, classes);
    let of = |counts: &PathCounts, name: &str| counts.classes.get(name).copied();
    classes
        .names
        .iter()
        .zip(now)
        .map(|(name, (count, bytes))| {
            let (count, bytes) = match middle {
                Some(m) => of(m, name).map_or((0, 0), |b| (count.min(b.0), bytes.min(b.1))),
                None => (count, bytes),
            };
            let before = of(first, name).unwrap_or_default();
            (
                count.saturating_sub(before.0),
                bytes.saturating_sub(before.1),
            )
        })
        .collect()
}

/// The nodes strictly below a node of `in_grown` in the dominator tree, up to the next such
/// node, that `accept` takes.
fn held_by(last: &Analysis, in_grown: &[bool], accept: impl Fn(usize) -> bool) -> Vec<bool> {
    let outside: Vec<bool> = in_grown.iter().map(|&g| !g).collect();
    let holder = holders(last, &outside);
    (0..in_grown.len())
        .map(|v| !in_grown[v] && in_grown[holder[v] as usize] && accept(v))
        .collect()
}
