//! The one error type of snapshot reading and analysis: what went wrong, and the byte offset.

use std::fmt;

/// What went wrong, as far as the caller needs to tell cases apart. JS sees `'io'`,
/// `'truncated'`, `'malformed'`, `'unsupported'` or `'ids-mismatch'`, and
/// `lib/diagnose/analyze.js` throws each with its stable code (`SNAPSHOT_ERROR_CODES`, which
/// tsc holds to this list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(string_enum = "kebab-case"))]
pub enum SnapshotErrorKind {
    /// The file could not be opened or read.
    Io,
    /// The input ended before the snapshot did.
    Truncated,
    /// The input is not a well-formed heap snapshot (bad JSON, wrong types, inconsistent counts).
    Malformed,
    /// Well-formed, but outside what this analyzer handles (missing meta fields, sizes past 2^32).
    Unsupported,
    /// Two snapshots to diff whose node ids do not name the same objects: not of one process,
    /// or the heap profiler's object ids were cleared between them.
    IdsMismatch,
}

/// A snapshot that could not be read or analyzed, with the byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object))]
pub struct SnapshotError {
    /// What went wrong.
    pub kind: SnapshotErrorKind,
    /// Byte offset in the file where it was found.
    pub offset: i64,
    /// What went wrong, for a person.
    pub message: String,
    /// Which file, from 0.
    pub snapshot: u32,
}

impl SnapshotError {
    /// An error of `kind` at `offset`.
    pub fn new(kind: SnapshotErrorKind, offset: u64, message: impl Into<String>) -> Self {
        SnapshotError {
            kind,
            offset: offset as i64,
            message: message.into(),
            snapshot: 0,
        }
    }

    /// The same error, said to be in snapshot `index` of several.
    pub fn in_snapshot(mut self, index: u32) -> Self {
        self.snapshot = index;
        self
    }
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.message, self.offset)
    }
}

impl std::error::Error for SnapshotError {}

/// A problem found by a value consumer, before the reader attaches the byte offset.
#[derive(Debug)]
pub struct Problem {
    /// The kind of the final error.
    pub kind: SnapshotErrorKind,
    /// The message of the final error.
    pub message: String,
}

impl Problem {
    /// A `Malformed` problem.
    pub fn malformed(message: impl Into<String>) -> Self {
        Problem {
            kind: SnapshotErrorKind::Malformed,
            message: message.into(),
        }
    }

    /// An `Unsupported` problem.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Problem {
            kind: SnapshotErrorKind::Unsupported,
            message: message.into(),
        }
    }

    /// The error this problem becomes at `offset`.
    pub fn at(self, offset: u64) -> SnapshotError {
        SnapshotError::new(self.kind, offset, self.message)
    }
}
