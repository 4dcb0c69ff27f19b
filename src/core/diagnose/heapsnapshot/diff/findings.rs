//! What a diff found, before its holders are named, and which of it is worth a reader's time:
//! growth too small to matter and Node's own bookkeeping are left out.

use super::result::{
    share_of, GrownCollection, GrowthRoot, LeakSuspect, MatchedBy, NewObjects, SnapshotDiff,
    SnapshotTotals,
};
use crate::core::diagnose::heapsnapshot::analysis::Analysis;
use crate::core::diagnose::heapsnapshot::code_index::{origin, Origin};
use crate::core::diagnose::heapsnapshot::holder::{name_holders, CodeHolder};

/// What a diff found, before the holders are named: each suspect and grown collection with
/// the node whose holder is to be named.
pub(super) struct Findings {
    pub(super) new_count: u64,
    pub(super) new_bytes: u64,
    pub(super) new_by_class: Vec<NewObjects>,
    pub(super) suspects: Vec<(LeakSuspect, usize)>,
    pub(super) grown: Vec<(GrownCollection, usize)>,
    pub(super) growth_roots: Vec<(GrowthRoot, usize)>,
}

impl Findings {
    /// The report, with the holders named (in one pass over the last snapshot's edges).
    pub(super) fn report(
        self,
        last: &Analysis,
        snapshots: Vec<SnapshotTotals>,
        matched_by: MatchedBy,
    ) -> SnapshotDiff {
        let (mut suspects, mut grown, mut roots) = (self.suspects, self.grown, self.growth_roots);
        let targets: Vec<usize> = suspects
            .iter()
            .map(|s| s.1)
            .chain(grown.iter().map(|g| g.1))
            .chain(roots.iter().map(|r| r.1))
            .collect();
        let snap = &last.snapshot;
        let mut holders = name_holders(snap, &last.tree, &last.code, &targets).into_iter();
        for (s, _) in &mut suspects {
            s.holder = holders.next().flatten();
        }
        for (g, _) in &mut grown {
            g.holder = holders.next().flatten();
        }
        for (r, _) in &mut roots {
            r.holder = holders.next().flatten();
            // Many roots hang from the GC roots, which no variable names: their kind does.
            if let (None, Some(many)) = (&r.holder, &r.many_roots) {
                r.holder = Some(many.holder());
            }
        }
        let mut roots: Vec<GrowthRoot> = roots.into_iter().map(|r| r.0).collect();
        let mut suspects: Vec<LeakSuspect> = suspects.into_iter().map(|s| s.0).collect();
        many_roots_first(&mut roots, &mut suspects);
        let new_bytes = self.new_bytes;
        let mut suspects = worth_reading_suspects(suspects, new_bytes);
        let mut grown =
            worth_reading_collections(grown.into_iter().map(|g| g.0).collect(), new_bytes);
        let mut roots = worth_reading_roots(roots);
        for s in &mut suspects {
            s.share = share_of(s.retained_size as u64, new_bytes);
        }
        for g in &mut grown {
            g.share = share_of(g.new_entries_bytes(), new_bytes);
        }
        for r in &mut roots {
            r.share = share_of(r.new_bytes as u64, new_bytes);
        }
        SnapshotDiff {
            snapshots,
            new_count: self.new_count as i64,
            new_bytes: new_bytes as i64,
            new_by_class: self.new_by_class,
            suspects,
            grown_collections: grown,
            growth_roots: roots,
            matched_by,
        }
    }
}

/// Where new objects are each kept by a GC root of their own (many roots, named by their
/// kind), an object of Node's own code that only reaches them is not their holder: the
/// variable `s` of `installListeners` in `node:_http_agent` reaches a socket that its handle
/// keeps. Growth roots held by Node's code go after the many roots, and the suspects whose
/// instances hang from the GC roots (no object of the first snapshot holds them) and whose
/// holder is Node's are named by the many roots instead.
fn many_roots_first(roots: &mut [GrowthRoot], suspects: &mut [LeakSuspect]) {
    let Some(many) = roots
        .iter()
        .find(|r| r.many_roots.is_some())
        .and_then(|r| r.holder.clone())
    else {
        return;
    };
    // A stable sort: the order by new bytes is kept within each side.
    roots.sort_by_key(|r| r.many_roots.is_none() && held_by_node(r.holder.as_ref()));
    for s in suspects
        .iter_mut()
        .filter(|s| s.held_by.is_none() && held_by_node(s.holder.as_ref()))
    {
        s.holder = Some(many.clone());
    }
}

/// A grown collection is listed when it gained at least this share of the entries the
/// most-grown one gained, or about this share of the bytes of all new objects (its retained
/// size times the share of its entries that are new). Less is noise a person must read
/// past: an Array of Node's async hooks that went from 0 to 1 entry beside a Map that
/// gained 37,000.
const GROWN_MIN_SHARE: f64 = 0.02;
/// Suspects and grown collections held by Node's own code (`node:…`: its timers, async
/// hooks, module cache) are listed only when they hold the leak: the suspect retaining the
/// most, or one retaining this share of it; the collection that gained the most entries,
/// or one holding about this share of the new bytes. A listener array of `process` that
/// holds the leaking closures stays; bookkeeping that moved by a few entries goes.
const INTERNAL_MIN_SHARE: f64 = 0.25;

/// Whether `holder` is a variable or property of Node's own code.
fn held_by_node(holder: Option<&CodeHolder>) -> bool {
    holder
        .and_then(|h| h.file.as_deref())
        .is_some_and(|file| origin(file) == Origin::Internal)
}

/// A suspect is listed when its new instances retain at least this share of the bytes of all
/// new objects: less explains too little of the growth to be what leaks. Where the leak's
/// objects are each held by a root of their own (sockets under their handles), no class
/// retains much, and the growth roots name the leak; a package's closures that grew by 1%
/// meanwhile must not stand first.
const SUSPECT_MIN_SHARE: f64 = 0.02;

/// `suspects` (largest first) without those too small to matter (see [`SUSPECT_MIN_SHARE`];
/// `new_bytes` is the bytes of all new objects) and those held by Node's own code that do not
/// hold the leak (see [`INTERNAL_MIN_SHARE`]).
pub(super) fn worth_reading_suspects(
    suspects: Vec<LeakSuspect>,
    new_bytes: u64,
) -> Vec<LeakSuspect> {
    let largest = suspects.first().map_or(0, |s| s.retained_size) as f64;
    suspects
        .into_iter()
        .enumerate()
        .filter(|(_, s)| s.retained_size as f64 >= SUSPECT_MIN_SHARE * new_bytes as f64)
        .filter(|(i, s)| {
            *i == 0
                || !held_by_node(s.holder.as_ref())
                || s.retained_size as f64 >= INTERNAL_MIN_SHARE * largest
        })
        .map(|(_, s)| s)
        .collect()
}

/// `roots` (most new bytes first) without those held by Node's own code that do not hold the
/// leak (see [`INTERNAL_MIN_SHARE`]): a module of Node's that made a few objects meanwhile.
pub(super) fn worth_reading_roots(roots: Vec<GrowthRoot>) -> Vec<GrowthRoot> {
    let largest = roots.first().map_or(0, |r| r.new_bytes) as f64;
    roots
        .into_iter()
        .enumerate()
        .filter(|(i, r)| {
            *i == 0
                || !held_by_node(r.holder.as_ref())
                || r.new_bytes as f64 >= INTERNAL_MIN_SHARE * largest
        })
        .map(|(_, r)| r)
        .collect()
}

/// `grown` without the collections whose growth is too small to matter (see
/// [`GROWN_MIN_SHARE`]) and those held by Node's own code that do not hold the leak (see
/// [`INTERNAL_MIN_SHARE`]); `new_bytes` is the bytes of all new objects.
pub(super) fn worth_reading_collections(
    grown: Vec<GrownCollection>,
    new_bytes: u64,
) -> Vec<GrownCollection> {
    let gained = |g: &GrownCollection| g.after.saturating_sub(g.before);
    let new_bytes_of = |g: &GrownCollection| g.new_entries_bytes() as f64;
    let most = grown.iter().map(gained).max().unwrap_or(0);
    let share_of = |g: &GrownCollection, share: f64| {
        gained(g) as f64 >= share * most as f64 || new_bytes_of(g) >= share * new_bytes as f64
    };
    grown
        .into_iter()
        .filter(|g| {
            let matters = share_of(g, GROWN_MIN_SHARE);
            let holds_the_leak =
                gained(g) == most || new_bytes_of(g) >= INTERNAL_MIN_SHARE * new_bytes as f64;
            matters && (!held_by_node(g.holder.as_ref()) || holds_the_leak)
        })
        .collect()
}
