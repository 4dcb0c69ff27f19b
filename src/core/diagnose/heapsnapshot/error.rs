//! The one error type of snapshot reading and analysis: a stable code and a byte offset.

use std::fmt;

/// What went wrong, as far as the caller needs to tell cases apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
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

/// An error reading or analyzing a snapshot, with the byte offset where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotError {
    /// The kind, which decides the stable code.
    pub kind: ErrorKind,
    /// Byte offset in the input where the problem was detected.
    pub offset: u64,
    /// A sentence for a person.
    pub message: String,
    /// Which of several snapshots (from 0) the error is in.
    pub snapshot: u32,
}

impl SnapshotError {
    /// An error of `kind` at `offset`.
    pub fn new(kind: ErrorKind, offset: u64, message: impl Into<String>) -> Self {
        SnapshotError {
            kind,
            offset,
            message: message.into(),
            snapshot: 0,
        }
    }

    /// The same error, said to be in snapshot `index` of several.
    pub fn in_snapshot(mut self, index: u32) -> Self {
        self.snapshot = index;
        self
    }

    /// The stable code JavaScript sees as `err.code`.
    pub fn code(&self) -> &'static str {
        match self.kind {
            ErrorKind::Io => "ERR_LEAKPROOF_SNAPSHOT_IO",
            ErrorKind::Truncated => "ERR_LEAKPROOF_SNAPSHOT_TRUNCATED",
            ErrorKind::Malformed => "ERR_LEAKPROOF_SNAPSHOT_MALFORMED",
            ErrorKind::Unsupported => "ERR_LEAKPROOF_SNAPSHOT_UNSUPPORTED",
            ErrorKind::IdsMismatch => "ERR_LEAKPROOF_SNAPSHOT_IDS_MISMATCH",
        }
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
    pub kind: ErrorKind,
    /// The message of the final error.
    pub message: String,
}

impl Problem {
    /// A `Malformed` problem.
    pub fn malformed(message: impl Into<String>) -> Self {
        Problem {
            kind: ErrorKind::Malformed,
            message: message.into(),
        }
    }

    /// An `Unsupported` problem.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Problem {
            kind: ErrorKind::Unsupported,
            message: message.into(),
        }
    }

    /// The error this problem becomes at `offset`.
    pub fn at(self, offset: u64) -> SnapshotError {
        SnapshotError::new(self.kind, offset, self.message)
    }
}
