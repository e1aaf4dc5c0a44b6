//! Where a failing test failed: a file of the repository and a line, for
//! the annotations a forge shows on the diff (`render::annotations`).
//!
//! The sources, in order: the testcase's `file`/`line` attributes (pytest's
//! xunit1 family, PHPUnit, unittest-xml-reporting), then the failure's
//! stack trace. A trace is read frame by frame in the formats real runners
//! write (JVM `at pkg.Class.method(File.java:42)`, .NET `at M() in
//! path:line 42`, Python `File "x.py", line 12`, and `path:line[:col]` as
//! pytest, Node, Go, Rust, PHPUnit and most others write it); frames inside
//! dependencies never count. Of the frames whose path is a file of the
//! repository, the test function's own frame wins, then one in the test's
//! class or file, then the first. Paths become repository-relative through
//! [`RepoFiles`]: absolute paths of another machine's workspace, paths
//! relative to a module, a bare `FooTest.java` with the package of its frame.

use std::collections::HashMap;
use std::path::Path;
use std::sync::LazyLock;

use regex_lite::Regex;
use serde::Serialize;

/// A line of a repository file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Location {
    /// Repository-relative, `/`-separated.
    pub path: String,
    /// 1-based.
    pub line: u32,
    /// 1-based, when the trace gives one (Node, Rust).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

/// What a report says about one failing test.
#[derive(Clone, Copy, Debug)]
pub struct Hint<'a> {
    /// The testcase's `file` attribute.
    pub file: Option<&'a str>,
    /// The testcase's `line` attribute.
    pub line: Option<&'a str>,
    pub classname: &'a str,
    pub name: &'a str,
    /// The failure's message and body (its stack trace), capped.
    pub text: &'a str,
}

/// The files of the repository a report's paths are matched against.
pub trait RepoFiles {
    /// The repository-relative path of an existing file that `candidate`
    /// (absolute, relative to the root or to a module, or a bare file name)
    /// names, or `None` when none or more than one could be meant.
    fn resolve(&self, candidate: &str) -> Option<String>;
}

/// Frames of one trace read at most: a runaway text costs bounded work.
const MAX_FRAMES: usize = 200;

/// Where `hint`'s test failed, as a file of `files` and a line.
pub fn locate(hint: &Hint<'_>, files: &dyn RepoFiles) -> Option<Location> {
    let frames = frames(hint);
    // The frames that name a file here, the test's own first.
    let found: Vec<(&Frame, String)> = (0..=2)
        .rev()
        .flat_map(|rank| frames.iter().filter(move |f| f.rank == rank))
        .filter_map(|f| Some((f, f.candidates.iter().find_map(|c| files.resolve(c))?)))
        .collect();
    let at = |(f, path): (&Frame, String)| Location {
        path,
        line: f.line,
        column: f.column,
    };
    let attr_path = hint
        .file
        .filter(|f| !f.trim().is_empty())
        .and_then(|f| files.resolve(f));
    if let Some(path) = &attr_path {
        // The attribute names the test's file (and, at best, its first
        // line); the trace's frame in that file is the line that failed.
        if let Some((f, _)) = found.iter().find(|(_, p)| p == path) {
            return Some(at((*f, path.clone())));
        }
        if let Some(line) = attribute_line(path, hint.line) {
            return Some(Location {
                path: path.clone(),
                line,
                column: None,
            });
        }
    }
    if let Some(first) = found.into_iter().next() {
        return Some(at(first));
    }
    // A file without a line: its first.
    attr_path.map(|path| Location {
        path,
        line: 1,
        column: None,
    })
}

/// The `line` attribute, 1-based. pytest writes its items' 0-based line
/// (`Item.location`, `_pytest/junitxml.py`); it is the producer that writes
/// `line` for Python files in practice. unittest-xml-reporting writes
/// 1-based lines: its failures always carry a traceback frame in the file,
/// which is used instead.
fn attribute_line(path: &str, line: Option<&str>) -> Option<u32> {
    let n: u32 = line?.trim().parse().ok()?;
    let n = if path.ends_with(".py") {
        n.checked_add(1)?
    } else {
        n
    };
    (n > 0).then_some(n)
}

// ---------------------------------------------------------------------------
// Frames.

/// One frame of a stack trace, or a `path:line` a message points at.
#[derive(Debug)]
struct Frame {
    /// Paths to resolve, most specific first.
    candidates: Vec<String>,
    line: u32,
    column: Option<u32>,
    /// 2: the test function's own frame; 1: in the test's class or file.
    rank: u8,
}

/// JVM (Java, Kotlin, Scala, Groovy): `at [loader/][module@v/]pkg.Class.method(File.java:42)`.
static JVM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*at\s+(?:[^\s()/]*/)*([^()/]+?)\(([^()/\\:\s]+\.\w+):(\d+)\)").unwrap()
});
/// .NET: `at Ns.Class.Method(args) in /path/File.cs:line 42`, the words
/// localized (`en … :línea 42`).
static DOTNET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*\S+\s+(\S.*?\))\s+\S+\s+(\S.*\.(?:cs|vb|fs)):\S+\s+(\d+)\s*$").unwrap()
});
/// Python: `File "/path/x.py", line 12, in test_x`.
static PYTHON: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"^\s*File "([^"]+)", line (\d+)(?:, in (\S+))?"#).unwrap());
/// `path:line[:column]` anywhere in a line: pytest (`tests/x.py:12: in f`),
/// Node (`at f (/x/a.test.js:12:5)`, `file:///x/a.mjs:1:2`), Go
/// (`    foo_test.go:12: msg`, `\t/x/foo.go:12 +0x1d`), Rust (`panicked at
/// src/x.rs:12:5:`), PHPUnit (`/x/FooTest.php:12`).
static PATH_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?:file://)?((?:[A-Za-z]:)?[^\s:"'`()<>\[\]{},;|]+\.[A-Za-z0-9_]+):(\d+)(?::(\d+))?"#,
    )
    .unwrap()
});

/// Classes of the JVM platform, test frameworks and build tools.
const JVM_DEPENDENCIES: &[&str] = &[
    "java.",
    "javax.",
    "jdk.",
    "sun.",
    "com.sun.",
    "kotlin.",
    "kotlinx.",
    "scala.",
    "groovy.",
    "org.codehaus.groovy.",
    "junit.",
    "org.junit.",
    "org.opentest4j.",
    "org.testng.",
    "org.hamcrest.",
    "org.assertj.",
    "org.mockito.",
    "org.spockframework.",
    "org.scalatest.",
    "io.kotest.",
    "org.apache.maven.",
    "org.gradle.",
    "worker.org.gradle.",
];

/// Namespaces of the .NET runtime and test frameworks.
const DOTNET_DEPENDENCIES: &[&str] = &[
    "System.",
    "Microsoft.VisualStudio.TestPlatform.",
    "Microsoft.VisualStudio.TestTools.",
    "Microsoft.Testing.",
    "NUnit.",
    "Xunit.",
    "FluentAssertions.",
    "Shouldly.",
    "Moq.",
    "NSubstitute.",
];

fn frames<'t>(hint: &Hint<'t>) -> Vec<Frame> {
    let mut out = Vec::new();
    // The function a Go or Rust backtrace names on the line before its path.
    let mut previous: Option<&'t str> = None;
    for line in hint.text.lines() {
        if out.len() >= MAX_FRAMES {
            break;
        }
        let before = out.len();
        frames_of_line(line, previous, hint, &mut out);
        previous = if out.len() == before {
            function_line(line)
        } else {
            None
        };
    }
    out
}

fn frames_of_line<'t>(
    line: &'t str,
    previous: Option<&'t str>,
    hint: &Hint<'_>,
    out: &mut Vec<Frame>,
) {
    let number = |s: &str| s.parse::<u32>().ok().filter(|&n| n > 0);
    if let Some(c) = JVM.captures(line) {
        let (method, file) = (c.get(1).unwrap().as_str(), c.get(2).unwrap().as_str());
        let Some(n) = number(&c[3]) else { return };
        if JVM_DEPENDENCIES.iter().any(|p| method.starts_with(p)) {
            return;
        }
        // The package of the frame's class names the directory:
        // `com.x.FooTest.bar` → `com/x/FooTest.java`.
        let class = method.rsplit_once('.').map_or("", |(c, _)| c);
        let mut candidates = Vec::new();
        if let Some((package, _)) = class.rsplit_once('.') {
            candidates.push(format!("{}/{file}", package.replace('.', "/")));
        }
        // Kotlin files need not sit in their package's directory.
        candidates.push(file.to_string());
        out.push(frame(candidates, n, None, Some(method), file, hint));
        return;
    }
    if let Some(c) = DOTNET.captures(line) {
        let method = c.get(1).unwrap().as_str();
        let method = method.split_once('(').map_or(method, |(m, _)| m);
        let path = c.get(2).unwrap().as_str();
        let Some(n) = number(&c[3]) else { return };
        if DOTNET_DEPENDENCIES.iter().any(|p| method.starts_with(p)) || is_dependency(path) {
            return;
        }
        out.push(frame(
            vec![path.to_string()],
            n,
            None,
            Some(method),
            path,
            hint,
        ));
        return;
    }
    if let Some(c) = PYTHON.captures(line) {
        let path = c.get(1).unwrap().as_str();
        let Some(n) = number(&c[2]) else { return };
        if !is_dependency(path) {
            let function = c.get(3).map(|m| m.as_str());
            out.push(frame(vec![path.to_string()], n, None, function, path, hint));
        }
        return;
    }
    let tokens: Vec<_> = PATH_LINE
        .captures_iter(line)
        // `https://host/x.js:1`: the match starts after a scheme's colon.
        .filter(|c| {
            let start = c.get(0).unwrap().start();
            !line[..start].ends_with(|ch: char| ch == ':' || ch.is_alphanumeric())
        })
        .collect();
    // Rust names its panic's location last (`panicked at 'msg', src/x.rs:1:5`
    // before 1.73): a path inside the message is not it.
    let tokens = if line.contains("panicked at ") {
        &tokens[tokens.len().saturating_sub(1)..]
    } else {
        &tokens[..]
    };
    for c in tokens {
        let path = c.get(1).unwrap().as_str();
        let Some(n) = number(&c[2]) else { continue };
        if is_dependency(path) {
            continue;
        }
        let column = c.get(3).and_then(|m| number(m.as_str()));
        // A path that starts the line (Go `\t/x/foo.go:12 +0x1d`, Rust
        // `at ./src/x.rs:12:5`) belongs to the function named just above.
        let lead = line.trim_start();
        let lead = lead.strip_prefix("at ").unwrap_or(lead).trim_start();
        let function = previous.filter(|_| lead.starts_with(c.get(0).unwrap().as_str()));
        let mut candidates = Vec::new();
        if !path.contains(['/', '\\']) {
            // Go's `foo_test.go:12:` is relative to the package the
            // classname names: `example.com/shop/calc` → `calc/foo_test.go`.
            if let Some(dir) = classname_dir(hint.classname) {
                candidates.push(format!("{dir}/{path}"));
            }
        }
        candidates.push(path.to_string());
        out.push(frame(candidates, n, column, function, path, hint));
    }
}

fn frame(
    candidates: Vec<String>,
    line: u32,
    column: Option<u32>,
    function: Option<&str>,
    path: &str,
    hint: &Hint<'_>,
) -> Frame {
    Frame {
        rank: rank(function, path, hint),
        candidates,
        line,
        column,
    }
}

/// How surely a frame is the test's own: 2 when its function is the test
/// (`com.x.FooTest.fails` for `fails()`, `calc::tests::fails`, Python's
/// `in test_x`); 1 when it is in the test's class (`com.x.FooTest$Inner.f`,
/// `example.com/shop/calc.helper`) or in a file named after a part of the
/// classname (`FooTest.java`, `test_x.py` for `tests.test_x.TestGroup`).
fn rank(function: Option<&str>, path: &str, hint: &Hint<'_>) -> u8 {
    let class = hint.classname.trim();
    if let Some(f) = function {
        let base = hint.name.trim();
        let base = base.find(['(', '[', ' ', '/']).map_or(base, |i| &base[..i]);
        let in_class = !class.is_empty()
            && f.strip_prefix(class).is_some_and(|rest| {
                rest.is_empty() || rest.starts_with(['.', '$', '+', '/']) || rest.starts_with("::")
            });
        let is_test = !base.is_empty()
            && (f == base
                || f.strip_suffix(base)
                    .is_some_and(|head| head.ends_with('.') || head.ends_with("::")));
        // A method of another class with the test's name is not the test;
        // Rust's paths do not spell the classname (nextest's binary id).
        if is_test && (in_class || class.is_empty() || f == base || f.contains("::")) {
            return 2;
        }
        if in_class {
            return 1;
        }
    }
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let stem = name.split('.').next().unwrap_or(name);
    u8::from(!stem.is_empty() && class.split(['.', '/', '\\', ':']).any(|part| part == stem))
}

/// The function a line names when a Go or Rust backtrace puts the path on
/// the next line: `example.com/shop/calc.TestX(0xc000007860?)`,
/// `   5: calc::tests::fails`.
fn function_line(line: &str) -> Option<&str> {
    let s = line.trim();
    let s = match s.split_once(": ") {
        Some((index, rest)) if index.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => s,
    };
    let s = s.split_once('(').map_or(s, |(f, _)| f);
    (!s.is_empty() && !s.contains(char::is_whitespace)).then_some(s)
}

/// The directory a classname's package names: a Go import path as it is,
/// else the dotted prefix (`com.x.FooTest` → `com/x`).
fn classname_dir(classname: &str) -> Option<String> {
    let c = classname.trim();
    if c.contains('/') {
        Some(c.trim_end_matches('/').to_string())
    } else {
        c.rsplit_once('.').map(|(pkg, _)| pkg.replace('.', "/"))
    }
}

/// Paths of dependencies, toolchains and runtimes: never where a test of
/// this repository failed, even when a file of the same name exists here.
fn is_dependency(path: &str) -> bool {
    if path.starts_with("node:") || path.starts_with('<') || path.starts_with("internal/") {
        return true;
    }
    let parts: Vec<&str> = path.split(['/', '\\']).filter(|p| !p.is_empty()).collect();
    parts.iter().enumerate().any(|(i, &part)| {
        let before = if i > 0 { parts[i - 1] } else { "" };
        let after = parts.get(i + 1).copied().unwrap_or("");
        matches!(
            part,
            "node_modules"
                | "bower_components"
                | "site-packages"
                | "dist-packages"
                | "vendor"
                | ".cargo"
                | ".rustup"
                | ".yarn"
                | ".m2"
                | ".gradle"
                | "hostedtoolcache"
                | "gems"
        )
        // rustc's own sources: `/rustc/<commit>/library/core/src/…`.
        || (i == 0 && part == "rustc" && path.starts_with('/'))
        // Go's module cache and standard library (GOROOT/src/testing/…;
        // a GOPATH's src/github.com/… is not).
        || (part == "mod" && before == "pkg")
        || (part == "src"
            && (before == "go" || before.starts_with("go-1") || before.starts_with("go1.") || before == "libexec")
            && !after.contains('.'))
        // Python's standard library: lib/python3.11/…, C:\Python311\Lib\….
        || (before.eq_ignore_ascii_case("lib") && part.starts_with("python") && part[6..].starts_with(|c: char| c.is_ascii_digit()))
        || (part.eq_ignore_ascii_case("lib") && before.to_ascii_lowercase().starts_with("python"))
    })
}

// ---------------------------------------------------------------------------
// The files of a checkout.

/// The files of a checkout, indexed by file name once: resolving a path
/// costs a hash lookup and a look at the files of that name.
#[derive(Debug, Default)]
pub struct WorkTree {
    /// The root's components, as given and canonical (a trace may name
    /// either when the root is reached through a symlink).
    roots: Vec<Vec<String>>,
    /// Sorted.
    paths: Vec<Box<str>>,
    /// File name → indexes in `paths`.
    by_name: HashMap<Box<str>, Vec<u32>>,
    partial: bool,
}

impl WorkTree {
    /// The files of the checkout around `dir`: the git index of its
    /// repository, else a bounded walk of `dir` (see `git::checkout_files`).
    pub fn open(dir: &Path) -> WorkTree {
        let files = crate::git::checkout_files(dir);
        let mut tree = WorkTree::from_paths(&files.root, files.paths);
        tree.partial = files.partial;
        tree
    }

    /// A work tree of `root` holding `paths` (repository-relative).
    pub fn from_paths(root: &Path, paths: impl IntoIterator<Item = String>) -> WorkTree {
        let mut paths: Vec<Box<str>> = paths
            .into_iter()
            .filter_map(|p| components(&p).map(|(_, c)| c.join("/").into_boxed_str()))
            .collect();
        paths.sort_unstable();
        paths.dedup();
        let mut by_name: HashMap<Box<str>, Vec<u32>> = HashMap::new();
        for (i, p) in paths.iter().enumerate() {
            let name = p.rsplit('/').next().unwrap_or(p);
            by_name.entry(name.into()).or_default().push(i as u32);
        }
        let mut roots = Vec::new();
        for r in [Some(root.to_path_buf()), root.canonicalize().ok()]
            .into_iter()
            .flatten()
        {
            if let Some((_, c)) = components(&r.to_string_lossy()) {
                if !roots.contains(&c) {
                    roots.push(c);
                }
            }
        }
        WorkTree {
            roots,
            paths,
            by_name,
            partial: false,
        }
    }

    /// Files known.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// A directory walk stopped at its limit: some files are unknown.
    pub fn is_partial(&self) -> bool {
        self.partial
    }

    fn exact(&self, path: &str) -> Option<String> {
        self.paths
            .binary_search_by(|p| (**p).cmp(path))
            .ok()
            .map(|i| self.paths[i].to_string())
    }

    fn suffix(&self, parts: &[String]) -> Suffix {
        let Some(name) = parts.last() else {
            return Suffix::None;
        };
        let tail = format!("/{}", parts.join("/"));
        let mut found = None;
        for &i in self.by_name.get(name.as_str()).into_iter().flatten() {
            let p = &self.paths[i as usize];
            if p.ends_with(&tail) || **p == tail[1..] {
                if found.is_some() {
                    return Suffix::Ambiguous;
                }
                found = Some(p.to_string());
            }
        }
        found.map_or(Suffix::None, Suffix::One)
    }
}

enum Suffix {
    None,
    One(String),
    Ambiguous,
}

impl RepoFiles for WorkTree {
    /// In order: a path under this root must exist as it is; otherwise the
    /// path, then the path without its first component, without its first
    /// two, … (another machine's workspace, `/home/runner/work/r/r/`), each
    /// tried as a repository path and as the unique end of one
    /// (`com/x/FooTest.java` → `mod-a/src/test/java/com/x/FooTest.java`).
    /// A cut path keeps two components: a bare file name is only matched
    /// when it was given bare. An ambiguous end stops the search.
    fn resolve(&self, candidate: &str) -> Option<String> {
        let (absolute, parts) = components(candidate)?;
        if absolute {
            for root in &self.roots {
                if parts.len() > root.len() && parts.starts_with(root) {
                    return self.exact(&parts[root.len()..].join("/"));
                }
            }
        }
        for k in 0..parts.len() {
            let rest = &parts[k..];
            if k > 0 && rest.len() < 2 {
                break;
            }
            if let Some(p) = self.exact(&rest.join("/")) {
                return Some(p);
            }
            match self.suffix(rest) {
                Suffix::One(p) => return Some(p),
                Suffix::Ambiguous => return None,
                Suffix::None => {}
            }
        }
        None
    }
}

/// A path's components (`.` dropped, `..` applied, backslashes as
/// slashes, a `file://` URL's path) and whether it was absolute.
fn components(path: &str) -> Option<(bool, Vec<String>)> {
    let mut p = path.trim();
    let url = p.strip_prefix("file://");
    if let Some(rest) = url {
        p = rest;
        // `file:///C:/x` → `C:/x`.
        if p.len() > 3 && p.as_bytes()[2] == b':' && p.starts_with('/') {
            p = &p[1..];
        }
    }
    let p = if url.is_some() && p.contains('%') {
        percent_decode(p)
    } else {
        p.to_string()
    };
    let p = p.replace('\\', "/");
    let bytes = p.as_bytes();
    let absolute = p.starts_with('/')
        || (bytes.len() > 2
            && bytes[1] == b':'
            && bytes[0].is_ascii_alphabetic()
            && bytes[2] == b'/');
    let mut parts: Vec<String> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part.to_string()),
        }
    }
    (!parts.is_empty()).then_some((absolute, parts))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    //! Real failure text: reports and output of real runners
    //! (`fixtures/junit/*`, `fixtures/locate/*`, their READMEs say how they
    //! were made) and traces quoted from public issues, located in
    //! checkouts written to temp dirs with the files the traces name.

    use std::path::PathBuf;

    use super::*;

    fn fixture(path: &str) -> String {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(path);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// A checkout of empty files at `paths`, opened as `junit` would (not a
    /// repository: the directory walk).
    fn checkout(paths: &[&str]) -> (tempfile::TempDir, WorkTree) {
        let tmp = tempfile::tempdir().unwrap();
        for p in paths {
            let f = tmp.path().join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, "").unwrap();
        }
        let tree = WorkTree::open(tmp.path());
        assert_eq!(tree.len(), paths.len());
        (tmp, tree)
    }

    /// A failing `<testcase>` as `junit` hands it over: its attributes and
    /// its failure's message and body, cut to the parser's 4 KiB.
    #[derive(Debug)]
    struct Case {
        classname: String,
        name: String,
        file: Option<String>,
        line: Option<String>,
        text: String,
    }

    impl Case {
        fn hint(&self) -> Hint<'_> {
            Hint {
                file: self.file.as_deref(),
                line: self.line.as_deref(),
                classname: &self.classname,
                name: &self.name,
                text: &self.text,
            }
        }
    }

    fn unescape(s: &str) -> String {
        quick_xml::escape::unescape(s).map_or_else(|_| s.to_string(), |c| c.into_owned())
    }

    fn attrs(tag: &str) -> HashMap<String, String> {
        static ATTR: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(r#"([\w:.-]+)="([^"]*)""#).unwrap());
        ATTR.captures_iter(tag)
            .map(|c| (c[1].to_string(), unescape(&c[2])))
            .collect()
    }

    /// The failing testcases of a report, in order (a small reader for
    /// these files; the crate's parser keeps one of message and body).
    fn failures(xml: &str) -> Vec<Case> {
        let mut out = Vec::new();
        let mut rest = xml;
        while let Some(i) = rest.find("<testcase") {
            rest = &rest[i..];
            let tag_end = rest.find('>').unwrap();
            let tag = attrs(&rest[..tag_end]);
            let end = if rest[..tag_end].ends_with('/') {
                tag_end
            } else {
                rest.find("</testcase>").unwrap()
            };
            let body = &rest[tag_end + 1..end.max(tag_end + 1)];
            for kind in ["failure", "error"] {
                let Some(f) = body.find(&format!("<{kind}")) else {
                    continue;
                };
                let f_end = f + body[f..].find('>').unwrap();
                let a = attrs(&body[f..f_end]);
                let inner = if body[..f_end].ends_with('/') {
                    String::new()
                } else {
                    let close = body[f_end..].find(&format!("</{kind}>")).unwrap();
                    let raw = body[f_end + 1..f_end + close].trim();
                    match raw.strip_prefix("<![CDATA[") {
                        Some(c) => c.split("]]>").next().unwrap().to_string(),
                        None => unescape(raw),
                    }
                };
                let mut text = match a.get("message") {
                    Some(m) => format!("{m}\n{inner}"),
                    None => inner,
                };
                let mut cut = text.len().min(4096);
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
                out.push(Case {
                    classname: tag.get("classname").cloned().unwrap_or_default(),
                    name: tag.get("name").cloned().unwrap_or_default(),
                    file: tag.get("file").cloned(),
                    line: tag.get("line").cloned(),
                    text,
                });
                break;
            }
            rest = &rest[end..];
        }
        out
    }

    fn case<'c>(cases: &'c [Case], name: &str) -> &'c Case {
        cases
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no failing {name} in {cases:#?}"))
    }

    fn at(path: &str, line: u32, column: Option<u32>) -> Option<Location> {
        Some(Location {
            path: path.into(),
            line,
            column,
        })
    }

    fn text_hint<'a>(classname: &'a str, name: &'a str, text: &'a str) -> Hint<'a> {
        Hint {
            file: None,
            line: None,
            classname,
            name,
            text,
        }
    }

    // ------------------------------------------------------------ Python

    #[test]
    fn pytest_xunit1_names_the_file_and_the_traceback_the_failing_line() {
        // The pytest project sits in a folder of a larger repository: the
        // report's paths are relative to pytest's rootdir.
        let (_t, repo) = checkout(&[
            "py/pyproject.toml",
            "py/src/calc/core.py",
            "py/tests/test_calc.py",
            "web/tests/test_calc.js",
        ]);
        let cases = failures(&fixture("locate/pytest/report-long.xml"));
        let loc = |name| locate(&case(&cases, name).hint(), &repo);
        assert_eq!(loc("test_fails"), at("py/tests/test_calc.py", 12, None));
        // Raised in src/calc/core.py:2: the test's own line is annotated.
        assert_eq!(
            loc("test_raises_in_library"),
            at("py/tests/test_calc.py", 16, None)
        );
        assert_eq!(loc("test_parse[x]"), at("py/tests/test_calc.py", 22, None));
        // The helper in the same file failed at 26; the test called it at 30.
        assert_eq!(
            loc("test_helper_in_same_file"),
            at("py/tests/test_calc.py", 30, None)
        );
    }

    #[test]
    fn pytest_line_attribute_is_zero_based() {
        // `def test_fails():` is line 10 of the file; pytest writes 9
        // (`Item.location`, documented 0-based, `_pytest/junitxml.py`).
        let (_t, repo) = checkout(&["tests/test_calc.py"]);
        let cases = failures(&fixture("locate/pytest/report-long.xml"));
        let c = case(&cases, "test_fails");
        assert_eq!(c.line.as_deref(), Some("9"));
        let bare = Hint {
            text: "AssertionError: deliberate failure",
            ..c.hint()
        };
        assert_eq!(locate(&bare, &repo), at("tests/test_calc.py", 10, None));
    }

    #[test]
    fn pytest_short_and_native_tracebacks_without_the_file_attribute() {
        let (_t, repo) = checkout(&["src/calc/core.py", "tests/test_calc.py"]);
        for report in ["report-short.xml", "report-native.xml"] {
            let cases = failures(&fixture(&format!("locate/pytest/{report}")));
            let c = case(&cases, "test_raises_in_library");
            // As xunit2 writes it: no file, no line.
            let hint = Hint {
                file: None,
                line: None,
                ..c.hint()
            };
            // Native: the first frames are pytest's own, in site-packages.
            assert_eq!(
                locate(&hint, &repo),
                at("tests/test_calc.py", 16, None),
                "{report}"
            );
        }
    }

    #[test]
    fn unittest_xml_reporting_frames_are_python_frames() {
        // Its `line` is 1-based (inspect.getsourcelines); the frame wins.
        let (_t, repo) = checkout(&["tests/__init__.py", "tests/test_money.py"]);
        let cases = failures(&fixture(
            "locate/unittest-xml-reporting/TEST-tests.test_money.MoneyTest-20261129210528.xml",
        ));
        let loc = |name| locate(&case(&cases, name).hint(), &repo);
        assert_eq!(loc("test_cents"), at("tests/test_money.py", 10, None));
        // Raised in `cents` (line 5): the test's frame, line 13.
        assert_eq!(loc("test_raises"), at("tests/test_money.py", 13, None));
    }

    #[test]
    fn pytest_setup_errors_point_at_the_fixture() {
        let (_t, repo) = checkout(&["test_sample.py"]);
        let cases = failures(&fixture("junit/pytest/pytest-xunit1.xml"));
        let loc = |name| locate(&case(&cases, name).hint(), &repo);
        assert_eq!(loc("test_fixture_error"), at("test_sample.py", 27, None));
        assert_eq!(loc("test_teardown_error"), at("test_sample.py", 56, None));
        assert_eq!(loc("test_param[2]"), at("test_sample.py", 50, None));
    }

    // ------------------------------------------------------------ JVM

    #[test]
    fn junit5_frames_name_the_package_and_the_test_class_wins() {
        let (_t, repo) = checkout(&[
            "module-a/src/main/java/com/example/calc/Calculator.java",
            "module-a/src/test/java/com/example/calc/CalculatorTest.java",
            // Same file name, another package: not it.
            "module-b/src/test/java/com/example/other/CalculatorTest.java",
        ]);
        let cases = failures(&fixture("locate/junit5/TEST-junit-jupiter.xml"));
        let test = "module-a/src/test/java/com/example/calc/CalculatorTest.java";
        let loc = |name| locate(&case(&cases, name).hint(), &repo);
        assert_eq!(loc("fails()"), at(test, 18, None));
        assert_eq!(loc("throwsInProductionCode()"), at(test, 23, None));
        // Integer.parseInt's frames are the JDK's.
        assert_eq!(loc("throwsInTheJdk()"), at(test, 28, None));
        assert_eq!(loc("failsInNestedClass()"), at(test, 35, None));

        // Without the test's frame, the production code's.
        let c = case(&cases, "throwsInProductionCode()");
        // The message, the exception, the production code's frame.
        let head: String = c.text.lines().take(3).collect::<Vec<_>>().join("\n");
        let hint = Hint {
            text: &head,
            ..c.hint()
        };
        assert_eq!(
            locate(&hint, &repo),
            at(
                "module-a/src/main/java/com/example/calc/Calculator.java",
                5,
                None
            )
        );
    }

    #[test]
    fn surefire_and_gradle_traces() {
        let (_t, repo) = checkout(&[
            "src/test/java/com/example/FooTest.java",
            "src/test/java/com/example/RetryTest.java",
        ]);
        let surefire = failures(&fixture("junit/surefire/TEST-com.example.FooTest.xml"));
        assert_eq!(
            locate(&case(&surefire, "fails").hint(), &repo),
            at("src/test/java/com/example/FooTest.java", 31, None)
        );
        // `at app//com.example.RetryTest.fails(RetryTest.java:20)`.
        let gradle = failures(&fixture("junit/gradle/TEST-com.example.RetryTest.xml"));
        assert_eq!(
            locate(&case(&gradle, "fails()").hint(), &repo),
            at("src/test/java/com/example/RetryTest.java", 20, None)
        );
    }

    // ------------------------------------------------------------ JavaScript

    #[test]
    fn jest_absolute_paths_of_another_machine() {
        // jest ran in /tmp/fx/jest/project; this checkout is elsewhere, and
        // the project is one package of a monorepo.
        let (_t, repo) = checkout(&[
            "packages/web/__tests__/sample.test.js",
            "packages/web/package.json",
        ]);
        let cases = failures(&fixture("junit/jest/jest-junit.xml"));
        let loc = |name| locate(&case(&cases, name).hint(), &repo);
        let file = "packages/web/__tests__/sample.test.js";
        assert_eq!(loc("math fails"), at(file, 21, Some(33)));
        assert_eq!(loc("math nested throws"), at(file, 38, Some(13)));
    }

    #[test]
    fn mocha_relative_frames_and_node_test_file_urls() {
        let (_t, repo) = checkout(&["test/sample.spec.js", "test/cart.test.mjs"]);
        let mocha = failures(&fixture("junit/mocha/mocha-junit.xml"));
        assert_eq!(
            locate(&case(&mocha, "math fails").hint(), &repo),
            at("test/sample.spec.js", 20, Some(12))
        );
        // mocha-junit-reporter's `file` is on the suite, absolute: given as
        // the hint's file it leads to the same line.
        let c = case(&mocha, "math throws");
        let hint = Hint {
            file: Some("/tmp/fx/mocha/project/test/sample.spec.js"),
            ..c.hint()
        };
        assert_eq!(
            locate(&hint, &repo),
            at("test/sample.spec.js", 37, Some(11))
        );

        // node --test: `file:///tmp/…/cart.test.mjs:9:10`, node: internals.
        let node = failures(&fixture("locate/node-test/junit.xml"));
        assert_eq!(
            locate(&case(&node, "totals the cart").hint(), &repo),
            at("test/cart.test.mjs", 9, Some(10))
        );
        assert_eq!(
            locate(&case(&node, "throws on a missing item").hint(), &repo),
            at("test/cart.test.mjs", 5, Some(43))
        );
    }

    // ------------------------------------------------------------ Go

    #[test]
    fn go_test_lines_are_relative_to_the_package_of_the_classname() {
        let (_t, repo) = checkout(&[
            "go.mod",
            "calc/calc_test.go",
            "leaky/leaky_test.go",
            // Another package's file of the same name.
            "tools/calc_test.go",
        ]);
        // gotestsum (real): classname `example.com/gofixture/calc`.
        let cases = failures(&fixture("junit/gotestsum/gotestsum.xml"));
        assert_eq!(
            locate(&case(&cases, "TestFails").hint(), &repo),
            at("calc/calc_test.go", 31, None)
        );
        assert_eq!(
            locate(&case(&cases, "TestTable/two_plus_two").hint(), &repo),
            at("calc/calc_test.go", 57, None)
        );
        // A package failing outside any test names no file.
        assert_eq!(locate(&case(&cases, "TestMain").hint(), &repo), None);
        // go-junit-report (hand-written from real `go test -v` output).
        let cases = failures(&fixture("junit/go-junit-report/go-junit-report.xml"));
        assert_eq!(
            locate(&case(&cases, "TestFails").hint(), &repo),
            at("calc/calc_test.go", 31, None)
        );
    }

    #[test]
    fn go_panics_name_the_test_function_above_its_path() {
        let (_t, repo) = checkout(&["go.mod", "calc/calc.go", "calc/calc_test.go"]);
        let out = fixture("locate/go/go-test-v.txt");
        let start = out.find("=== RUN   TestPanicsInCode").unwrap();
        let text = &out[start..];
        let hint = text_hint("example.com/shop/calc", "TestPanicsInCode", text);
        // Not GOROOT's testing.go, not calc.go:8 where the index was out of range.
        assert_eq!(locate(&hint, &repo), at("calc/calc_test.go", 12, None));

        let out = fixture("locate/go/go-test-v-helper-table.txt");
        let hint = text_hint("example.com/shop/calc", "TestHelper", &out);
        assert_eq!(locate(&hint, &repo), at("calc/calc_test.go", 23, None));
    }

    // ------------------------------------------------------------ Rust

    #[test]
    fn rust_panics_of_nextest_and_cargo_test() {
        let (_t, repo) = checkout(&["src/lib.rs", "tests/integration.rs"]);
        let cases = failures(&fixture("junit/nextest/junit.xml"));
        assert_eq!(
            locate(&case(&cases, "tests::fails").hint(), &repo),
            at("src/lib.rs", 25, Some(9))
        );

        // cargo test in a workspace: paths from the workspace root.
        let (_t, repo) = checkout(&[
            "crates/calc/src/lib.rs",
            "crates/calc/tests/api.rs",
            "crates/web/src/lib.rs",
        ]);
        let out = fixture("locate/rust/cargo-test.txt");
        let section = |name: &str| {
            let start = out.find(&format!("---- {name} stdout ----")).unwrap();
            out[start..].split("\n\n\n").next().unwrap().to_string()
        };
        let loc = |name: &str, text: &str| locate(&text_hint("calc", name, text), &repo);
        assert_eq!(
            loc("tests::fails", &section("tests::fails")),
            at("crates/calc/src/lib.rs", 9, Some(9))
        );
        assert_eq!(
            loc("integration_fails", &section("integration_fails")),
            at("crates/calc/tests/api.rs", 4, Some(5))
        );
        // With a backtrace, its `at ./src/lib.rs:14:9` is relative to the
        // crate: `src/lib.rs` is ambiguous here, the panic's line is not.
        let bt = fixture("locate/rust/cargo-test-backtrace.txt");
        assert_eq!(
            loc("tests::unwraps_in_code", &bt),
            at("crates/calc/src/lib.rs", 2, Some(15))
        );
        // In a one-crate workspace the backtrace's test frame wins.
        let (_t, one) = checkout(&["crates/calc/src/lib.rs"]);
        assert_eq!(
            locate(&text_hint("calc", "tests::unwraps_in_code", &bt), &one),
            at("crates/calc/src/lib.rs", 14, Some(9))
        );
    }

    #[test]
    fn rust_panics_before_1_73_put_the_location_after_the_message() {
        let (_t, repo) = checkout(&["src/lib.rs", "src/assert.rs", "tests/tests.rs"]);
        // kornelski/deunicode#4: the message spans lines.
        let text = "thread 'main' panicked at 'assertion failed: `(left == right)`\n  left: `\"unicorn biohazard\"`,\n right: `\"unicorn face biohazard\"`', src/lib.rs:11:1";
        assert_eq!(
            locate(
                &text_hint("deunicode", "src/lib.rs -  (line 10)", text),
                &repo
            ),
            at("src/lib.rs", 11, Some(1))
        );
        // llogiq/flame#25: no column yet.
        let text = "\tthread 'threads' panicked at 'assertion failed: `(left == right)` (left: `5`, right: `6`)', tests/tests.rs:111";
        assert_eq!(
            locate(&text_hint("flame", "threads", text), &repo),
            at("tests/tests.rs", 111, None)
        );
        // Miserlou/Loop#72: the panic is in a dependency (assert_cmd's
        // src/assert.rs), whatever this repository holds at that path.
        let text = "thread 'summary' panicked at 'Unexpected stdout, failed diff original var\n\ncommand=`\"/home/foobar/src/contrib/Loop/target/debug/loop\" \"--for=true,false,true\"`\n', /home/foobar/.cargo/registry/src/github.com-1ecc6299db9ec823/assert_cmd-1.0.8/src/assert.rs:124:9\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace";
        assert_eq!(locate(&text_hint("loop", "summary", text), &repo), None);
    }

    // ------------------------------------------------------------ PHP, .NET

    #[test]
    fn phpunit_file_attribute_and_trace_line() {
        let (_t, repo) = checkout(&["tests/CalculatorTest.php", "src.php"]);
        let cases = failures(&fixture("junit/phpunit/phpunit-junit.xml"));
        let loc = |name| locate(&case(&cases, name).hint(), &repo);
        // `line="22"` is the method; the assertion failed on 24.
        assert_eq!(loc("testFails"), at("tests/CalculatorTest.php", 24, None));
        assert_eq!(loc("testErrors"), at("tests/CalculatorTest.php", 29, None));
        assert_eq!(
            loc("testAdd with data set \"wrong\""),
            at("tests/CalculatorTest.php", 64, None)
        );
    }

    #[test]
    fn dotnet_frames_in_english_and_localized() {
        let (_t, repo) = checkout(&["Calc.Tests/CalculatorTests.cs"]);
        let cases = failures(&fixture("junit/dotnet/TestResults.xml"));
        assert_eq!(
            locate(&case(&cases, "Fails").hint(), &repo),
            at("Calc.Tests/CalculatorTests.cs", 19, None)
        );

        // dotnet/runtime#132120: an Azure Pipelines container workspace
        // (/__w/1/s/), xunit's own frames first.
        let (_t, repo) = checkout(&["src/tests/Common/CoreCLRTestLibrary/OutOfProcessTest.cs"]);
        let text = "   at Xunit.Assert.True(Nullable`1 condition, String userMessage) in /_/src/arcade/src/Microsoft.DotNet.XUnitAssert/src/BooleanAsserts.cs:line 135\n   at Xunit.Assert.True(Boolean condition, String userMessage) in /_/src/arcade/src/Microsoft.DotNet.XUnitAssert/src/BooleanAsserts.cs:line 117\n   at TestLibrary.OutOfProcessTest.ImportPrecomputedResult(String assemblyPath, String testPathPrefix) in /__w/1/s/src/tests/Common/CoreCLRTestLibrary/OutOfProcessTest.cs:line 285\n   at TestLibrary.OutOfProcessTest.RunOutOfProcessTest(String assemblyPath, String testPathPrefix) in /__w/1/s/src/tests/Common/CoreCLRTestLibrary/OutOfProcessTest.cs:line 84\n   at Program.<<Main>$>g__TestExecutor106|0_107(StreamWriter tempLogSw, StreamWriter statsCsvSw, StreamWriter outOfProcessPlanWriter, <>c__DisplayClass0_0&)";
        assert_eq!(
            locate(&text_hint("Runtime_129681", "Runtime_129681", text), &repo),
            at(
                "src/tests/Common/CoreCLRTestLibrary/OutOfProcessTest.cs",
                285,
                None
            )
        );

        // dotnet/roslyn#43790: Spanish (`en … :línea 244`), a deterministic
        // build's /_/ root, and the test's class below a helper's frame.
        let (_t, repo) = checkout(&[
            "src/EditorFeatures/TestUtilities/AbstractCommandHandlerTestState.cs",
            "src/EditorFeatures/Test2/IntelliSense/VisualBasicCompletionCommandHandlerTests.vb",
        ]);
        let text = "Stack trace\n   en Xunit.Assert.Equal(String expected, String actual, Boolean ignoreCase, Boolean ignoreLineEndingDifferences, Boolean ignoreWhiteSpaceDifferences) en C:\\projects\\xunit\\src\\xunit.assert\\Asserts\\StringAsserts.cs:línea 244\n   en Xunit.Assert.Equal(String expected, String actual) en C:\\projects\\xunit\\src\\xunit.assert\\Asserts\\StringAsserts.cs:línea 174\n   en Microsoft.CodeAnalysis.Editor.UnitTests.AbstractCommandHandlerTestState.AssertMatchesTextStartingAtLine(Int32 line, String text) en /_/src/EditorFeatures/TestUtilities/AbstractCommandHandlerTestState.cs:línea 272\n   en Microsoft.CodeAnalysis.Editor.UnitTests.IntelliSense.VisualBasicCompletionCommandHandlerTests.VB$StateMachine_106_TestEscapedItemCommittedWithCloseBracket.MoveNext() en /_/src/EditorFeatures/Test2/IntelliSense/VisualBasicCompletionCommandHandlerTests.vb:línea 2226\n--- Fin del seguimiento de la pila de la ubicación anterior donde se produjo la excepción ---\n   en System.Runtime.CompilerServices.TaskAwaiter.ThrowForNonSuccess(Task task)";
        let hint = text_hint(
            "Microsoft.CodeAnalysis.Editor.UnitTests.IntelliSense.VisualBasicCompletionCommandHandlerTests",
            "TestEscapedItemCommittedWithCloseBracket",
            text,
        );
        assert_eq!(
            locate(&hint, &repo),
            at(
                "src/EditorFeatures/Test2/IntelliSense/VisualBasicCompletionCommandHandlerTests.vb",
                2226,
                None
            )
        );
    }

    // ------------------------------------------------------------ Edges

    #[test]
    fn nothing_in_the_repository_locates_nothing() {
        let (_t, repo) = checkout(&["README.md"]);
        let cases = failures(&fixture("junit/jest/jest-junit.xml"));
        assert_eq!(locate(&case(&cases, "math fails").hint(), &repo), None);
        let hint = text_hint(
            "c",
            "n",
            "connect to db.internal:5432 failed; see https://example.com/a.js:12",
        );
        assert_eq!(locate(&hint, &repo), None);
        // A file without a line: its first line.
        let hint = Hint {
            file: Some("README.md"),
            ..text_hint("c", "n", "")
        };
        assert_eq!(locate(&hint, &repo), at("README.md", 1, None));
    }

    // ------------------------------------------------------------ WorkTree

    fn tree(paths: &[&str]) -> WorkTree {
        WorkTree::from_paths(Path::new("/src/repo"), paths.iter().map(|p| p.to_string()))
    }

    #[test]
    fn resolving_paths_as_reports_write_them() {
        let t = tree(&[
            "module-a/src/test/java/com/x/FooTest.java",
            "src/a.test.js",
            "web/src/a.test.js",
            "pkg/util.py",
            "lib/util.py",
            "Calc.Tests/Calc Tests.cs",
            "only.py",
        ]);
        let r = |c: &str| t.resolve(c);
        assert_eq!(r("src/a.test.js").as_deref(), Some("src/a.test.js"));
        assert_eq!(
            r("./src/../src/a.test.js").as_deref(),
            Some("src/a.test.js")
        );
        // Another machine's workspace: the longest remainder that exists.
        assert_eq!(
            r("/home/runner/work/r/r/src/a.test.js").as_deref(),
            Some("src/a.test.js")
        );
        assert_eq!(
            r("/builds/g/r/web/src/a.test.js").as_deref(),
            Some("web/src/a.test.js")
        );
        // This root: exact, nothing guessed.
        assert_eq!(
            r("/src/repo/src/a.test.js").as_deref(),
            Some("src/a.test.js")
        );
        assert_eq!(r("/src/repo/gone/a.test.js"), None);
        // Relative to a module.
        assert_eq!(
            r("com/x/FooTest.java").as_deref(),
            Some("module-a/src/test/java/com/x/FooTest.java")
        );
        assert_eq!(
            r("FooTest.java").as_deref(),
            Some("module-a/src/test/java/com/x/FooTest.java")
        );
        // Ambiguous ends, and no cutting down to a bare name.
        assert_eq!(r("util.py"), None);
        assert_eq!(r("a.test.js"), None);
        assert_eq!(r("/tmp/x/only.py"), None);
        assert_eq!(r("only.py").as_deref(), Some("only.py"));
        // Windows and URLs.
        assert_eq!(
            r("D:\\a\\r\\r\\Calc.Tests\\Calc Tests.cs").as_deref(),
            Some("Calc.Tests/Calc Tests.cs")
        );
        assert_eq!(
            r("file:///D:/a/r/r/Calc.Tests/Calc%20Tests.cs").as_deref(),
            Some("Calc.Tests/Calc Tests.cs")
        );
        assert_eq!(r(""), None);
        assert_eq!(r("/"), None);
    }

    #[test]
    fn a_repository_is_read_from_its_index() {
        let tmp = tempfile::tempdir().unwrap();
        for p in ["tests/test_x.py", "generated/test_x.py"] {
            let f = tmp.path().join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, "").unwrap();
        }
        let git = |args: &[&str]| {
            let ok = std::process::Command::new("git")
                .arg("-C")
                .arg(tmp.path())
                .args(args)
                .output()
                .unwrap()
                .status
                .success();
            assert!(ok, "git {args:?}");
        };
        git(&["init", "-q"]);
        git(&["add", "tests/test_x.py"]);
        let t = WorkTree::open(&tmp.path().join("tests"));
        assert!(!t.is_partial());
        // The untracked copy is not a candidate: the bare name is unique.
        assert_eq!(t.resolve("test_x.py").as_deref(), Some("tests/test_x.py"));
        let abs = tmp.path().join("tests/test_x.py");
        assert_eq!(
            t.resolve(&abs.to_string_lossy()).as_deref(),
            Some("tests/test_x.py")
        );
    }

    #[test]
    fn a_hundred_thousand_files_are_indexed_once() {
        let paths: Vec<String> = (0..100_000)
            .map(|i| {
                format!(
                    "services/s{}/src/test/java/com/x/m{}/Test{i}.java",
                    i % 50,
                    i % 97
                )
            })
            .collect();
        let t = WorkTree::from_paths(Path::new("/w"), paths);
        assert_eq!(t.len(), 100_000);
        assert_eq!(
            t.resolve("com/x/m26/Test12345.java").as_deref(),
            Some("services/s45/src/test/java/com/x/m26/Test12345.java")
        );
        // Another package's file of that name is not it.
        assert_eq!(t.resolve("com/x/m5/Test12345.java"), None);
    }
}
