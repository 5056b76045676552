//! One way down (issue 13): the files of `src/` import each other without cycles, and no file
//! imports from a higher layer than its own, as drawn in the layers block of ARCHITECTURE.md.
//!
//! # The layers block
//!
//! ARCHITECTURE.md carries one fenced code block whose info string is `layers` (under the
//! heading `## Layers`):
//!
//! ~~~text
//! ```layers
//! # top layer first; a file may import from its own layer or any layer below it
//! main, cli/                            the shale program (binary crate)
//! lib, config/                          the crate root and configuration from text
//! db, batch_writer                      the public handle
//! ...
//! coding, key, error, vfs/, fs          leaves
//! ```
//! ~~~
//!
//! - Each line that is neither blank nor starts with `#` is one layer, the top one first.
//! - A layer is a comma-separated list of entries, then at least two spaces (or a tab), then a
//!   free description (which may be left out).
//! - An entry names files of `src/` by module path: `db` is `src/db.rs` (or `src/db/mod.rs`),
//!   `log/writer` is `src/log/writer.rs`, and `compaction/` is the whole module:
//!   `src/compaction.rs` or `src/compaction/mod.rs` and every file under `src/compaction/`.
//!   `lib` is `src/lib.rs` and `main` is `src/main.rs`. When several entries name a file, the
//!   most specific wins: the file's own entry, else the deepest directory. No entry appears
//!   twice. Both crates are drawn in the same block (`main` and `cli/` at the top).
//! - The check fails when a file of `src/` is in no layer, when an entry names no file (the
//!   drawing is stale), and when a file imports from a strictly higher layer.
//!
//! # What an import is
//!
//! File A imports file B when A's code (comments and string, char and byte literals left
//! out, raw ones too) holds a path into its own crate that names something defined in B:
//!
//! - a `use` leaf (nested braces, `self`, globs, `as`, `pub use`, `pub(crate) use`), or a path
//!   in code (`crate::flush::start(..)`, `super::Thing`), starting with `crate::`, `$crate::`
//!   (as `crate::`), `super::` or `self::`, or with a child module declared by `mod child;` in
//!   A, or with a name A's own `use` items bind to its crate (`use crate::sstable;` then
//!   `sstable::Table`);
//! - resolved from the module the path is in (inline `mod tests { .. }` blocks are followed,
//!   so their `use super::*` is the file itself) to the deepest module on the path that has a
//!   file; when that file does not define the next segment but brings it in with a top-level
//!   `use` (a re-export such as `pub use reader::Table` in a `mod.rs`, or a private import that
//!   a child names as `super::Name`), on to the file that defines it, transitively; through a
//!   glob (`pub use x::*`), to the glob's module that defines the name, else the first glob's;
//! - `crate::` means `src/lib.rs` in the library and `src/main.rs` in the binary (`main.rs`
//!   and `src/cli/`); paths into the library from the binary (`shaledb::`) are not followed.
//!
//! `mod x;` is not an import, and neither is an edge from a file to itself. Imports in
//! `#[cfg(test)] mod tests` count like any other (the report marks them `in mod tests`), and so
//! do files compiled only with a feature (`cli/engine_fjall.rs`).
//!
//! The parser (`tests/layers/source.rs`) reads tokens, not Rust syntax trees; the graph and its
//! cycles are in `tests/layers/graph.rs`, the block in `tests/layers/spec.rs`.

#[path = "layers/graph.rs"]
mod graph;
#[path = "layers/source.rs"]
mod source;
#[path = "layers/spec.rs"]
mod spec;

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::Path;

use graph::{Graph, Import};
use spec::Layer;

#[derive(Debug)]
enum Problem {
    /// The layers block is missing or cannot be read.
    Block(String),
    /// Files that import each other, with one chain of imports around (`chain[0]` imports
    /// `chain[1]` at `imports[0]`, ...) and the imports among them.
    Cycle {
        files: Vec<String>,
        chain: Vec<String>,
        imports: Vec<Import>,
        inside: Vec<(String, Vec<String>)>,
    },
    /// `from` imports `to`, which is in a higher layer.
    Upward {
        from: String,
        to: String,
        import: Import,
        from_layer: String,
        to_layer: String,
    },
    /// A file of `src/` that no entry names.
    Unplaced(String),
    /// An entry, with its line, that names no file.
    Stale { line: usize, entry: String },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Block(why) => write!(f, "{why}"),
            Problem::Cycle {
                files,
                chain,
                imports,
                inside,
            } => {
                let files: Vec<String> = files.iter().map(|file| format!("src/{file}")).collect();
                writeln!(f, "cycle of {} files: {}", files.len(), files.join(", "))?;
                let arrows: Vec<String> = chain.iter().map(|file| format!("src/{file}")).collect();
                writeln!(f, "    {}", arrows.join(" -> "))?;
                for (file, import) in chain.iter().zip(imports) {
                    writeln!(f, "      src/{file}:{import}")?;
                }
                if files.len() > 2 {
                    writeln!(f, "    imports inside the cycle:")?;
                    for (file, targets) in inside {
                        writeln!(f, "      src/{file} -> {}", targets.join(", "))?;
                    }
                }
                Ok(())
            }
            Problem::Upward {
                from,
                to,
                import,
                from_layer,
                to_layer,
            } => write!(
                f,
                "upward import: src/{from} ({from_layer}) imports src/{to} ({to_layer})\n      \
                 src/{from}:{import}"
            ),
            Problem::Unplaced(file) => write!(f, "in no layer: src/{file}"),
            Problem::Stale { line, entry } => {
                write!(
                    f,
                    "stale layer entry: `{entry}` (ARCHITECTURE.md:{line}) names no file"
                )
            }
        }
    }
}

/// Every problem of the source tree (file names relative to `src/`, with their text) against
/// the layers block of `architecture`.
fn check(sources: &BTreeMap<String, String>, architecture: &str) -> Vec<Problem> {
    let graph = Graph::build(sources);
    let components = graph::cycles(&graph);
    let mut problems: Vec<Problem> = components.iter().map(|c| cycle(&graph, c)).collect();
    match spec::parse(architecture) {
        Ok(layers) => problems.extend(layer_problems(&graph, &layers)),
        Err(why) => problems.push(Problem::Block(why)),
    }
    problems
}

fn cycle(graph: &Graph, component: &[usize]) -> Problem {
    let name = |file: usize| graph.files[file].clone();
    let chain = graph::shortest_cycle(graph, component);
    let imports = chain
        .windows(2)
        .map(|pair| graph.edges[pair[0]][&pair[1]].clone())
        .collect();
    let inside = component.iter().map(|&file| {
        let targets = graph.edges[file].keys().filter(|to| component.contains(to));
        (
            name(file),
            targets.map(|&to| format!("src/{}", name(to))).collect(),
        )
    });
    Problem::Cycle {
        files: component.iter().map(|&file| name(file)).collect(),
        chain: chain.into_iter().map(name).collect(),
        imports,
        inside: inside.collect(),
    }
}

fn layer_problems(graph: &Graph, layers: &[Layer]) -> Vec<Problem> {
    let modules: Vec<&str> = graph
        .files
        .iter()
        .map(|file| graph::module_name(file))
        .collect();
    let placement = spec::place(layers, &modules);
    let mut problems = Vec::new();
    for (file, layer) in graph.files.iter().zip(&placement.layer_of) {
        if layer.is_none() {
            problems.push(Problem::Unplaced(file.clone()));
        }
    }
    for (line, entry) in placement.stale {
        problems.push(Problem::Stale { line, entry });
    }
    let label = |index: usize| layers[index].label(index + 1);
    for (from, edges) in graph.edges.iter().enumerate() {
        for (&to, import) in edges {
            let (Some(from_layer), Some(to_layer)) =
                (placement.layer_of[from], placement.layer_of[to])
            else {
                continue;
            };
            if to_layer < from_layer {
                problems.push(Problem::Upward {
                    from: graph.files[from].clone(),
                    to: graph.files[to].clone(),
                    import: import.clone(),
                    from_layer: label(from_layer),
                    to_layer: label(to_layer),
                });
            }
        }
    }
    problems
}

fn report(problems: &[Problem]) -> String {
    let mut report = format!(
        "{} problem(s) with the imports of src/ (see tests/layers.rs for the rules); a file may \
         import only from its own layer of the {} block in ARCHITECTURE.md or a lower one, and \
         no files may import each other in a cycle:\n\n",
        problems.len(),
        spec::FENCE
    );
    for problem in problems {
        report.push_str(&format!("{}\n\n", problem.to_string().trim_end()));
    }
    report
}

/// Every `.rs` file under `dir`, by its name relative to `dir` (with `/`), with its text.
fn read_sources(dir: &Path) -> BTreeMap<String, String> {
    let mut sources = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = fs::read_dir(&current).unwrap_or_else(|e| panic!("{current:?}: {e}"));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                let relative = path.strip_prefix(dir).expect("under src/");
                let name: Vec<String> = relative
                    .iter()
                    .map(|p| p.to_string_lossy().into())
                    .collect();
                let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
                sources.insert(name.join("/"), text);
            }
        }
    }
    sources
}

#[test]
fn import_graph_has_no_cycles_and_follows_architecture_md() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sources = read_sources(&root.join("src"));
    let architecture = fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    assert!(
        sources.len() > 10,
        "found only {} files in src/",
        sources.len()
    );
    let problems = check(&sources, &architecture);
    assert!(problems.is_empty(), "{}", report(&problems));
}

// The checker's own tests, on small source trees held in memory.

fn tree(files: &[(&str, &str)]) -> BTreeMap<String, String> {
    let text = |(name, text): &(&str, &str)| (name.to_string(), text.to_string());
    files.iter().map(text).collect()
}

fn cycles_of(files: &[(&str, &str)]) -> Vec<Vec<String>> {
    let graph = Graph::build(&tree(files));
    let components = graph::cycles(&graph).into_iter();
    let names = |component: Vec<usize>| component.into_iter().map(|f| graph.files[f].clone());
    components
        .map(|component| names(component).collect())
        .collect()
}

/// The files `file` imports, each with the line of its first import.
fn imports(files: &[(&str, &str)], file: &str) -> Vec<(String, usize)> {
    let graph = Graph::build(&tree(files));
    let index = graph
        .files
        .iter()
        .position(|name| name == file)
        .expect("file");
    let edges = graph.edges[index].iter();
    edges
        .map(|(&to, import)| (graph.files[to].clone(), import.line))
        .collect()
}

const TWO_FILES: &[(&str, &str)] = &[
    ("lib.rs", "mod a;\nmod b;\n"),
    ("a.rs", "use crate::b::B;\npub struct A;\n"),
    ("b.rs", "//! B.\n\nuse crate::a::A;\npub struct B;\n"),
];

#[test]
fn a_two_file_cycle_through_use_crate_is_found() {
    assert_eq!(cycles_of(TWO_FILES), [["a.rs", "b.rs"]]);
    let problems = check(&tree(TWO_FILES), "```layers\nlib, a, b\n```\n");
    let [Problem::Cycle { chain, imports, .. }] = &problems[..] else {
        panic!("{problems:?}");
    };
    assert_eq!(chain, &["a.rs", "b.rs", "a.rs"]);
    let lines: Vec<(usize, &str)> = imports.iter().map(|i| (i.line, i.path.as_str())).collect();
    assert_eq!(lines, [(1, "crate::b::B"), (3, "crate::a::A")]);
    let report = report(&problems);
    assert!(
        report.contains("src/a.rs -> src/b.rs -> src/a.rs"),
        "{report}"
    );
    assert!(report.contains("src/b.rs:3: crate::a::A"), "{report}");
}

#[test]
fn a_cycle_through_a_reexport_in_mod_rs_is_found() {
    let files = [
        ("lib.rs", "mod db;\nmod log;\n"),
        (
            "log/mod.rs",
            "mod writer;\npub(crate) use writer::LogWriter;\n",
        ),
        (
            "log/writer.rs",
            "pub struct LogWriter;\nfn f() { crate::db::open(); }\n",
        ),
        ("db.rs", "use crate::log::LogWriter;\npub fn open() {}\n"),
    ];
    assert_eq!(cycles_of(&files), [["db.rs", "log/writer.rs"]]);
    assert_eq!(imports(&files, "db.rs"), [("log/writer.rs".to_string(), 1)]);
}

#[test]
fn a_cycle_only_through_the_facade_is_not_reported() {
    // log/mod.rs re-exports both children; reader names the writer's item through the facade.
    let files = [
        ("lib.rs", "mod log;\npub use log::*;\n"),
        (
            "log/mod.rs",
            "mod reader;\nmod writer;\npub use reader::Reader;\npub use writer::*;\n",
        ),
        (
            "log/reader.rs",
            "use super::Writer;\nuse crate::Header;\npub struct Reader;\n",
        ),
        ("log/writer.rs", "pub struct Writer;\npub struct Header;\n"),
    ];
    assert_eq!(cycles_of(&files), Vec::<Vec<String>>::new());
    let writer = ("log/writer.rs".to_string(), 1);
    assert_eq!(imports(&files, "log/reader.rs"), [writer]);
    let facade = imports(&files, "log/mod.rs");
    assert_eq!(
        facade,
        [
            ("log/reader.rs".to_string(), 3),
            ("log/writer.rs".to_string(), 4)
        ]
    );
    // An item really defined in the crate root is an import of lib.rs; a child naming its
    // parent's private import imports the file that defines the item.
    let files = [
        ("lib.rs", "mod a;\nmod b;\npub struct Root;\n"),
        ("a/mod.rs", "mod c;\nuse crate::b::Shared;\n"),
        (
            "a/c.rs",
            "use crate::Root;\n\nfn f() -> super::Shared { todo!() }\n",
        ),
        ("b.rs", "pub struct Shared;\n"),
    ];
    let c = imports(&files, "a/c.rs");
    assert_eq!(c, [("b.rs".to_string(), 3), ("lib.rs".to_string(), 1)]);
}

#[test]
fn use_super_glob_in_mod_tests_adds_no_edge() {
    let a = "pub struct A;\n#[cfg(test)]\nmod tests {\n    use super::*;\n    \
             fn t() { super::A; self::helper(); }\n    fn helper() {}\n}\n";
    let files = [
        ("lib.rs", "mod a;\nmod b;\n"),
        ("a.rs", a),
        ("b.rs", "use crate::a::A;\n"),
    ];
    assert_eq!(imports(&files, "a.rs"), []);
    // The same `use super::*` at a file's top level is an import of the parent module, and
    // after the inline module has closed, `super` is the file's parent again.
    let child = "use super::*;\n";
    let after = "mod tests { use super::*; }\nfn f() { super::b::B; }\n";
    let files = [
        ("lib.rs", "mod a;\nmod b;\n"),
        ("a/mod.rs", "mod child;\nmod after;\n"),
        ("a/child.rs", child),
        ("a/after.rs", after),
        ("b.rs", ""),
    ];
    assert_eq!(imports(&files, "a/child.rs"), [("a/mod.rs".to_string(), 1)]);
    assert_eq!(imports(&files, "a/after.rs"), [("a/mod.rs".to_string(), 2)]);
}

const LAYERED: &str = "# Layers\n\n```layers\n# top first\nlib, db  the handle\n\n\
                       store/, store/index  storage\nkey, store/raw  leaves\n```\n";

#[test]
fn an_upward_import_across_layers_is_reported() {
    let files = [
        ("lib.rs", "mod db;\nmod key;\nmod store;\n"),
        (
            "db.rs",
            "use crate::store::{index::Index, raw::R};\nuse crate::key::Key;\n",
        ),
        ("store/mod.rs", "pub mod index;\npub mod raw;\n"),
        (
            "store/index.rs",
            "pub struct Index;\nfn f() { crate::key::Key; }\n",
        ),
        (
            "store/raw.rs",
            "pub struct R;\n\nfn f() -> crate::store::index::Index { todo!() }\n",
        ),
        ("key.rs", "pub struct Key;\n"),
    ];
    let problems = check(&tree(&files), LAYERED);
    let [
        Problem::Upward {
            from,
            to,
            import,
            from_layer,
            to_layer,
        },
    ] = &problems[..]
    else {
        panic!("{problems:?}");
    };
    assert_eq!(
        (from.as_str(), to.as_str()),
        ("store/raw.rs", "store/index.rs")
    );
    assert_eq!(
        (import.line, import.path.as_str()),
        (3, "crate::store::index::Index")
    );
    assert_eq!(
        (from_layer.as_str(), to_layer.as_str()),
        ("layer 3 \"leaves\"", "layer 2 \"storage\"")
    );
}

#[test]
fn files_in_no_layer_and_stale_entries_are_reported() {
    let files = [
        ("lib.rs", "mod db;\nmod key;\n"),
        ("db.rs", ""),
        ("key.rs", ""),
    ];
    let problems = check(
        &tree(&files),
        "```layers\nlib, db  top\nkeys, store/  leaves\n```",
    );
    let found: Vec<String> = problems.iter().map(Problem::to_string).collect();
    let expected = [
        "in no layer: src/key.rs",
        "stale layer entry: `keys` (ARCHITECTURE.md:3) names no file",
        "stale layer entry: `store/` (ARCHITECTURE.md:3) names no file",
    ];
    assert_eq!(found, expected);
    let missing = check(&tree(&files), "## Layers\n\n```\nlib, db, key\n```\n");
    assert_eq!(missing.len(), 1);
    assert!(matches!(&missing[0], Problem::Block(why) if why.contains("no ```layers block")));
    let twice = check(&tree(&files), "```layers\nlib, db\nkey, db\n```\n");
    assert!(matches!(&twice[0], Problem::Block(why) if why.contains("`db` is listed twice")));
}

#[test]
fn paths_in_comments_and_literals_are_ignored() {
    let a = r####"
        //! [`crate::b::B`] in a doc comment
        // use crate::b::B;
        /* crate::b::B /* nested */ crate::b::B */
        /// crate::b::B
        const S: &str = "crate::b::B \" crate::b::B";
        const R: &str = r##"crate::b::B "# crate::b::B"##;
        const Y: &[u8] = b"crate::b::B";
        const Q: char = '"';
        fn f<'a>(x: &'a str) -> char { let _ = "crate::b::B"; '\'' }
        const P: char = '\u{1F600}';
        fn g() { crate::c::C; }
    "####;
    let files = [
        ("lib.rs", "mod a;\nmod b;\nmod c;\n"),
        ("a.rs", a),
        ("b.rs", ""),
        ("c.rs", ""),
    ];
    // Only the path after all the literals is seen, on its own line.
    assert_eq!(imports(&files, "a.rs"), [("c.rs".to_string(), 12)]);
}

#[test]
fn nested_use_trees_across_lines_are_parsed() {
    let a = "pub(crate) use crate::{\n    b::{self, B},\n    d::{\n        inner::{Deep as Renamed},\n        \
             *,\n    },\n    e::E as _,\n};\nmod child;\nuse child::Item;\nfn f() { $crate::m::M; }\n";
    let files = [
        ("lib.rs", "mod a;\nmod b;\nmod d;\nmod e;\nmod m;\n"),
        ("a/mod.rs", a),
        ("a/child.rs", "pub struct Item;\n"),
        ("b.rs", ""),
        ("d/mod.rs", "pub mod inner;\n"),
        ("d/inner.rs", "pub struct Deep;\n"),
        ("e.rs", ""),
        ("m.rs", ""),
    ];
    let expected = [
        ("a/child.rs", 10),
        ("b.rs", 2),
        ("d/inner.rs", 4),
        ("d/mod.rs", 5),
        ("e.rs", 7),
        ("m.rs", 11),
    ];
    let expected: Vec<(String, usize)> =
        expected.iter().map(|&(f, l)| (f.to_string(), l)).collect();
    assert_eq!(imports(&files, "a/mod.rs"), expected);
}

#[test]
fn inline_paths_aliases_and_the_binary_crate_resolve() {
    let files = [
        (
            "lib.rs",
            "pub mod sstable;\nmod flush;\npub use flush::start;\n",
        ),
        ("sstable/mod.rs", "mod reader;\npub use reader::Table;\n"),
        ("sstable/reader.rs", "pub struct Table;\n"),
        (
            "flush.rs",
            "use crate::sstable;\npub fn start() { sstable::Table; }\n",
        ),
        ("main.rs", "mod cli;\nfn main() { cli::run(); }\n"),
        (
            "cli/mod.rs",
            "mod bench;\npub fn run() { bench::go(); }\npub struct Failed;\n",
        ),
        (
            "cli/bench.rs",
            "use shaledb::sstable::Table;\npub fn go() -> super::Failed { todo!() }\n",
        ),
    ];
    let flush = imports(&files, "flush.rs");
    assert_eq!(
        flush,
        [
            ("sstable/mod.rs".to_string(), 1),
            ("sstable/reader.rs".to_string(), 2)
        ]
    );
    assert_eq!(imports(&files, "main.rs"), [("cli/mod.rs".to_string(), 2)]);
    assert_eq!(cycles_of(&files), [["cli/bench.rs", "cli/mod.rs"]]);
}
