//! A parsed heap snapshot as column arrays: what the parser produces and every pass reads.

use std::borrow::Cow;
use std::ops::Range;

use super::strings::Strings;

/// The node types V8 writes, resolved once from `meta.node_types`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// VM internals, shown as `(system)`.
    Hidden,
    /// Internal arrays (backing stores), not JS `Array`s.
    Array,
    /// A flat string.
    String,
    /// A JS object; its name is its constructor's.
    Object,
    /// Compiled code and its metadata.
    Code,
    /// A JS function.
    Closure,
    /// A regular expression.
    RegExp,
    /// A heap number.
    Number,
    /// An object owned by the embedder (Node, a native addon).
    Native,
    /// A grouping node made up by the snapshot writer (`(GC roots)` and its children).
    Synthetic,
    /// A cons string.
    ConcatString,
    /// A slice of another string.
    SlicedString,
    /// A symbol.
    Symbol,
    /// A BigInt.
    BigInt,
    /// A hidden class (map).
    ObjectShape,
    /// A type this analyzer does not know; still counted.
    Other,
}

impl NodeKind {
    /// The kind V8 means by the type name `name`.
    pub fn from_name(name: &str) -> NodeKind {
        match name {
            "hidden" => NodeKind::Hidden,
            "array" => NodeKind::Array,
            "string" => NodeKind::String,
            "object" => NodeKind::Object,
            "code" => NodeKind::Code,
            "closure" => NodeKind::Closure,
            "regexp" => NodeKind::RegExp,
            "number" => NodeKind::Number,
            "native" => NodeKind::Native,
            "synthetic" => NodeKind::Synthetic,
            "concatenated string" => NodeKind::ConcatString,
            "sliced string" => NodeKind::SlicedString,
            "symbol" => NodeKind::Symbol,
            "bigint" => NodeKind::BigInt,
            "object shape" => NodeKind::ObjectShape,
            _ => NodeKind::Other,
        }
    }

    /// True for what a person recognises as their program's data, as opposed to VM machinery.
    pub fn is_user_level(self) -> bool {
        !matches!(
            self,
            NodeKind::Hidden
                | NodeKind::Array
                | NodeKind::Code
                | NodeKind::Synthetic
                | NodeKind::ObjectShape
                | NodeKind::Number
        )
    }
}

/// The edge types V8 writes, resolved once from `meta.edge_types`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    /// A variable in a closure's context; named.
    Context,
    /// An array element; numbered.
    Element,
    /// A named property.
    Property,
    /// A VM-internal reference; named.
    Internal,
    /// A VM-internal reference; numbered.
    Hidden,
    /// A shortcut that skips intermediate objects; from the root it marks the user roots (the
    /// global objects up to V8 13, their native contexts from V8 14 on).
    Shortcut,
    /// A weak reference: does not keep its target alive.
    Weak,
    /// A type this analyzer does not know.
    Other,
}

impl EdgeKind {
    /// The kind V8 means by the type name `name`.
    pub fn from_name(name: &str) -> EdgeKind {
        match name {
            "context" => EdgeKind::Context,
            "element" => EdgeKind::Element,
            "property" => EdgeKind::Property,
            "internal" => EdgeKind::Internal,
            "hidden" => EdgeKind::Hidden,
            "shortcut" => EdgeKind::Shortcut,
            "weak" => EdgeKind::Weak,
            _ => EdgeKind::Other,
        }
    }

    /// True when `name_or_index` is a number rather than a string index.
    pub fn has_index_name(self) -> bool {
        matches!(self, EdgeKind::Element | EdgeKind::Hidden)
    }
}

/// Where a closure's code starts, from the snapshot's `locations` section (0-based line/column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Node ordinal of the closure.
    pub node: u32,
    /// V8 script id.
    pub script_id: u32,
    /// 0-based line.
    pub line: u32,
    /// 0-based column.
    pub column: u32,
}

/// A heap snapshot as column arrays. Nodes are numbered by ordinal (their position in the file);
/// edges by position, grouped by source node, `first_edge[n]..first_edge[n + 1]` for node `n`.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Kind of each node type index.
    pub node_kinds: Vec<NodeKind>,
    /// `meta.node_types` names.
    pub node_type_names: Vec<String>,
    /// Kind of each edge type index.
    pub edge_kinds: Vec<EdgeKind>,
    /// Type index of each node.
    pub node_type: Vec<u8>,
    /// String index of each node's name.
    pub node_name: Vec<u32>,
    /// Each node's id, stable across snapshots of one isolate.
    pub node_id: Vec<u32>,
    /// Each node's own size in bytes, or `u32::MAX` for a size found in `big_sizes`.
    pub(super) small_size: Vec<u32>,
    /// Node and size of each node of at least `u32::MAX` bytes, by node.
    pub(super) big_sizes: Vec<(u32, u64)>,
    /// Edge range start of each node, plus the total at the end.
    pub first_edge: Vec<u32>,
    /// Type index of each edge.
    pub edge_type: Vec<u8>,
    /// String index, or element index for element/hidden edges.
    pub edge_name: Vec<u32>,
    /// Target node ordinal of each edge.
    pub edge_to: Vec<u32>,
    /// The string table.
    pub strings: Strings,
    /// Closure source locations, sorted by node.
    pub locations: Vec<Location>,
}

impl Snapshot {
    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.node_type.len()
    }

    /// Number of edges.
    pub fn edge_count(&self) -> usize {
        self.edge_to.len()
    }

    /// The root node: the first, as in DevTools.
    pub fn root(&self) -> usize {
        0
    }

    /// Kind of node `n`.
    #[inline]
    pub fn node_kind(&self, n: usize) -> NodeKind {
        self.node_kinds[self.node_type[n] as usize]
    }

    /// Kind of edge `e`.
    #[inline]
    pub fn edge_kind(&self, e: usize) -> EdgeKind {
        self.edge_kinds[self.edge_type[e] as usize]
    }

    /// Edge positions of node `n`.
    #[inline]
    pub fn edges(&self, n: usize) -> Range<usize> {
        self.first_edge[n] as usize..self.first_edge[n + 1] as usize
    }

    /// Name of node `n` (constructor name for objects, text for strings).
    pub fn name(&self, n: usize) -> &str {
        self.strings.get(self.node_name[n])
    }

    /// DevTools' class name of node `n`: objects by constructor name, everything else by type.
    pub fn class_name(&self, n: usize) -> Cow<'_, str> {
        match self.node_kind(n) {
            NodeKind::Hidden => Cow::Borrowed("(system)"),
            NodeKind::Object | NodeKind::Native => Cow::Borrowed(self.name(n)),
            NodeKind::Code => Cow::Borrowed("(compiled code)"),
            _ => Cow::Owned(format!(
                "({})",
                self.node_type_names[self.node_type[n] as usize]
            )),
        }
    }

    /// True for objects of the program (not VM machinery such as `system / Context`).
    pub fn is_program_node(&self, n: usize) -> bool {
        self.node_kind(n).is_user_level() && !self.name(n).starts_with("system / ")
    }

    /// Own size of node `n` in bytes.
    #[inline]
    pub fn self_size(&self, n: usize) -> u64 {
        match self.small_size[n] {
            u32::MAX => {
                let i = self
                    .big_sizes
                    .partition_point(|&(node, _)| (node as usize) < n);
                self.big_sizes[i].1
            }
            size => size as u64,
        }
    }

    /// Records the own size of the next node.
    pub(super) fn push_self_size(&mut self, size: u64) {
        if size >= u32::MAX as u64 {
            self.big_sizes.push((self.small_size.len() as u32, size));
            self.small_size.push(u32::MAX);
        } else {
            self.small_size.push(size as u32);
        }
    }

    /// Sum of all self sizes.
    pub fn total_size(&self) -> u64 {
        let small: u64 = self.small_size.iter().map(|&s| s as u64).sum();
        let big: u64 = self.big_sizes.iter().map(|&(_, s)| s).sum();
        small - self.big_sizes.len() as u64 * u32::MAX as u64 + big
    }

    /// The string name of edge `e`, or `None` for numbered edges.
    pub fn edge_name_str(&self, e: usize) -> Option<&str> {
        if self.edge_kind(e).has_index_name() {
            None
        } else {
            Some(self.strings.get(self.edge_name[e]))
        }
    }

    /// The source location of closure `n`, if the snapshot has one.
    pub fn location(&self, n: usize) -> Option<Location> {
        let i = self
            .locations
            .binary_search_by_key(&(n as u32), |l| l.node)
            .ok()?;
        Some(self.locations[i])
    }

    /// The target of `n`'s first edge named `name`.
    pub fn child_named(&self, n: usize, name: &str) -> Option<usize> {
        self.edges(n)
            .find(|&e| self.edge_name_str(e) == Some(name))
            .map(|e| self.edge_to[e] as usize)
    }
}
