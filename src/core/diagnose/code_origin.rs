//! Whose code a script is, by its file or URL: the application's own, a package's (in
//! `node_modules`), Node's internals, leakproof's own, or V8's built-ins (no script).
//!
//! The same rule as `originOf` in `lib/shared/code-origin.js`, and both are tested on one table of
//! cases, `code_origin_cases.json` beside this file. The JS side knows one thing more: where
//! its own copy of leakproof lives, so that files of leakproof's own checkout are its own
//! too; here they are the application's (the table's `{leakproof}` rows), and the JS side sets
//! holders in them aside itself.

/// Where a script's code comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeOrigin {
    /// The application's own files: any path or URL that is none of the others.
    App,
    /// A file of a package: below a `node_modules` folder (see [`package_of`]).
    Package,
    /// Node's internals: `node:…`, or `internal/…` as Node before `node:` named them.
    Node,
    /// A file of an installed `leakproof` package: leakproof's own code.
    Own,
    /// No script: V8's built-ins and states (an empty script name).
    Builtin,
}

/// The origin of the script named `url` (a path or a `file://` URL, either separator).
pub fn code_origin(url: &str) -> CodeOrigin {
    if url.is_empty() {
        return CodeOrigin::Builtin;
    }
    if url.starts_with("node:") || url.starts_with("internal/") {
        return CodeOrigin::Node;
    }
    match package_of(url).as_deref() {
        Some("leakproof") => CodeOrigin::Own,
        Some(_) => CodeOrigin::Package,
        None => CodeOrigin::App,
    }
}

/// The package whose file `url` names: the folder below the last `node_modules` (so pnpm's
/// `node_modules/.pnpm/x@1.0.0/node_modules/x/…` is `x`), with its scope (`@scope/name`);
/// `None` when the file is in none, or lies directly in `node_modules` (or in a scope's
/// folder). `file://` URLs are percent-decoded first.
pub fn package_of(url: &str) -> Option<String> {
    const FOLDER: &str = "/node_modules/";
    let slashed = file_of(url).replace('\\', "/");
    let at = slashed.rfind(FOLDER)?;
    let parts: Vec<&str> = slashed[at + FOLDER.len()..].split('/').collect();
    let name_parts = if parts[0].starts_with('@') { 2 } else { 1 };
    // The package's folder and at least one file in it.
    (parts.len() > name_parts).then(|| parts[..name_parts].join("/"))
}

/// The file path a script URL names: a `file://` URL percent-decoded (kept as it is when its
/// escapes are not valid UTF-8, as `decodeURIComponent` refuses them), a path as it is.
fn file_of(url: &str) -> String {
    match url.strip_prefix("file://") {
        Some(path) => percent_decoded(path).unwrap_or_else(|| path.to_string()),
        None => url.to_string(),
    }
}

/// `text` with its `%XX` escapes decoded; `None` when an escape is malformed or the bytes
/// are not UTF-8.
fn percent_decoded(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table of cases shared with the JS tests (`__test__/package/code-origin.test.js`).
    const CASES: &str = include_str!("code_origin_cases.json");

    /// The table's name of an origin: `originOf`'s `kind`.
    fn name(origin: CodeOrigin) -> &'static str {
        match origin {
            CodeOrigin::App => "app",
            CodeOrigin::Package => "package",
            CodeOrigin::Node => "node",
            CodeOrigin::Own => "own",
            CodeOrigin::Builtin => "builtin",
        }
    }

    #[test]
    fn every_case_of_the_shared_table() {
        let cases: serde_json::Value = serde_json::from_str(CASES).expect("the table is JSON");
        let cases = cases.as_array().expect("the table is an array");
        let mut checked = 0;
        for case in cases {
            let url = case["url"].as_str().expect("url");
            // Leakproof's own checkout: only the JS side knows where it is (see the module doc).
            if url.contains("{leakproof}") {
                continue;
            }
            let why = case["why"].as_str().expect("why");
            assert_eq!(name(code_origin(url)), case["origin"], "{url}: {why}");
            let package = (case["origin"] == "package")
                .then(|| package_of(url))
                .flatten();
            assert_eq!(package.as_deref(), case["package"].as_str(), "{url}: {why}");
            checked += 1;
        }
        assert!(checked >= 20, "only {checked} cases");
    }
}
