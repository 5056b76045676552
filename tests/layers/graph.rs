//! The import graph: which file imports which, each `use` leaf and inline path resolved to the
//! file that defines what it names (through re-exports), and the graph's cycles.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use crate::source::{self, FileFacts, PathRef};

/// The first import (by line) of one file by another, with the path as written and the
/// inline module it is in (`tests`), if any.
#[derive(Debug, Clone)]
pub struct Import {
    pub line: usize,
    pub path: String,
    pub within: String,
}

impl fmt::Display for Import {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.within.as_str() {
            "" => write!(f, "{}: {}", self.line, self.path),
            within => write!(f, "{} (in mod {within}): {}", self.line, self.path),
        }
    }
}

pub struct Graph {
    /// File names relative to `src/`, sorted.
    pub files: Vec<String>,
    /// For each file, the files it imports (by index), each with its first import.
    pub edges: Vec<BTreeMap<usize, Import>>,
}

impl Graph {
    pub fn build(sources: &BTreeMap<String, String>) -> Graph {
        let resolver = Resolver::new(sources);
        let edges = (0..resolver.files.len())
            .map(|file| resolver.edges_of(file))
            .collect();
        Graph {
            files: resolver.files,
            edges,
        }
    }
}

/// `compaction/job`, `compaction` (for `compaction/mod.rs`), `lib`, `main`: the name a file
/// has in the layers block.
pub fn module_name(file: &str) -> &str {
    let name = file.strip_suffix(".rs").unwrap_or(file);
    name.strip_suffix("/mod").unwrap_or(name)
}

/// A module inside one crate: `["compaction", "job"]`; the crate root is `[]`.
type ModulePath = Vec<String>;

fn module_path(file: &str) -> ModulePath {
    match module_name(file) {
        "lib" | "main" => Vec::new(),
        name => name.split('/').map(String::from).collect(),
    }
}

/// 1 for the binary crate (`main.rs` and `cli/`), 0 for the library.
fn crate_of(file: &str) -> usize {
    let binary = file == "main.rs" || file == "cli.rs" || file.starts_with("cli/");
    usize::from(binary)
}

#[derive(Default)]
struct Crate {
    modules: BTreeMap<ModulePath, usize>,
    /// `#[macro_export]` macros (at the crate root) and the files defining them.
    macros: BTreeMap<String, usize>,
}

/// What the top-level `use` items of a file bring into its module: names, and glob modules.
/// Private ones count too: code inside the module can name them (a child's `super::Name`),
/// and a path from anywhere else that named one would not compile.
#[derive(Default)]
struct Imports {
    named: BTreeMap<String, ModulePath>,
    globs: Vec<ModulePath>,
}

struct Resolver {
    files: Vec<String>,
    facts: Vec<FileFacts>,
    crates: [Crate; 2],
    /// Per file, the names its `use` items bind to modules or items of its crate.
    aliases: Vec<BTreeMap<String, ModulePath>>,
    imports: Vec<Imports>,
}

impl Resolver {
    fn new(sources: &BTreeMap<String, String>) -> Self {
        let files: Vec<String> = sources.keys().cloned().collect();
        let facts: Vec<FileFacts> = sources.values().map(|text| source::scan(text)).collect();
        let mut crates = [Crate::default(), Crate::default()];
        for (file, name) in files.iter().enumerate() {
            let krate = &mut crates[crate_of(name)];
            krate.modules.insert(module_path(name), file);
            for exported in &facts[file].exported_macros {
                krate.macros.insert(exported.clone(), file);
            }
        }
        let (aliases, imports) = (Vec::new(), Vec::new());
        let mut resolver = Resolver {
            files,
            facts,
            crates,
            aliases,
            imports,
        };
        let count = resolver.files.len();
        resolver.aliases = (0..count).map(|file| resolver.aliases_of(file)).collect();
        resolver.imports = (0..count).map(|file| resolver.imports_of(file)).collect();
        resolver
    }

    fn aliases_of(&self, file: usize) -> BTreeMap<String, ModulePath> {
        let mut aliases = BTreeMap::new();
        for leaf in &self.facts[file].uses {
            let Some(name) = leaf.binds.clone().filter(|name| name != "_") else {
                continue;
            };
            if let Some(path) = self.absolute(file, &leaf.path, &aliases) {
                aliases.insert(name, path);
            }
        }
        aliases
    }

    fn imports_of(&self, file: usize) -> Imports {
        let mut imports = Imports::default();
        let uses = self.facts[file].uses.iter();
        for leaf in uses.filter(|leaf| leaf.path.scope.is_empty()) {
            let Some(path) = self.absolute(file, &leaf.path, &self.aliases[file]) else {
                continue;
            };
            match &leaf.binds {
                Some(name) => {
                    imports.named.insert(name.clone(), path);
                }
                None => imports.globs.push(path),
            }
        }
        imports
    }

    /// The path from its crate's root, or `None` if it does not start in this crate
    /// (`std::..`, `shaledb::..` in the binary, `Vec::new`).
    fn absolute(
        &self,
        file: usize,
        path: &PathRef,
        aliases: &BTreeMap<String, ModulePath>,
    ) -> Option<ModulePath> {
        let segments = &path.segments;
        let mut base = module_path(&self.files[file]);
        base.extend(path.scope.iter().cloned());
        let skip = match segments.first()?.as_str() {
            "crate" | "$crate" => {
                base.clear();
                1
            }
            "self" => 1,
            "super" => {
                let supers = segments.iter().take_while(|&s| s == "super").count();
                base.truncate(base.len().checked_sub(supers)?);
                supers
            }
            name if path.scope.is_empty() && self.facts[file].children.contains(name) => 0,
            name => {
                base = aliases.get(name)?.clone();
                1
            }
        };
        base.extend(segments[skip..].iter().cloned());
        Some(base)
    }

    /// The file defining what `path` names: the deepest module on the path that has a file,
    /// then on through that file's imports of the next segment, if it does not define it.
    fn resolve(&self, krate: usize, path: &[String], hops: usize) -> Option<usize> {
        let modules = &self.crates[krate].modules;
        let depth = (0..=path.len())
            .rev()
            .find(|&k| modules.contains_key(&path[..k]))?;
        let file = modules[&path[..depth]];
        let Some(name) = path.get(depth).filter(|_| hops < 16) else {
            return Some(file);
        };
        let imports = &self.imports[file];
        if self.facts[file].defines.contains(name) {
            return Some(file);
        }
        if let Some(target) = imports.named.get(name) {
            let rest = &path[depth + 1..];
            return self.resolve(krate, &[target.as_slice(), rest].concat(), hops + 1);
        }
        if let Some(&defining) = self.crates[krate].macros.get(name).filter(|_| depth == 0) {
            return Some(defining);
        }
        // `use x::*`: the glob whose module has the name, else (conservatively) the first.
        let globs = &imports.globs;
        let Some(first) = globs.first() else {
            return Some(file);
        };
        let glob = globs
            .iter()
            .find(|glob| self.has_name(krate, glob, name, hops));
        let glob = glob.unwrap_or(first);
        self.resolve(krate, &[glob.as_slice(), &path[depth..]].concat(), hops + 1)
    }

    fn has_name(&self, krate: usize, module: &[String], name: &str, hops: usize) -> bool {
        let Some(file) = self.resolve(krate, module, hops + 1) else {
            return false;
        };
        self.facts[file].defines.contains(name) || self.imports[file].named.contains_key(name)
    }

    fn edges_of(&self, file: usize) -> BTreeMap<usize, Import> {
        let facts = &self.facts[file];
        let uses = facts
            .uses
            .iter()
            .map(|leaf| (&leaf.path, leaf.binds.is_none()));
        let paths = facts.paths.iter().map(|path| (path, false));
        let mut edges: BTreeMap<usize, Import> = BTreeMap::new();
        for (path, glob) in uses.chain(paths) {
            let absolute = self.absolute(file, path, &self.aliases[file]);
            let target =
                absolute.and_then(|abs| self.resolve(crate_of(&self.files[file]), &abs, 0));
            let Some(target) = target.filter(|&target| target != file) else {
                continue;
            };
            if edges
                .get(&target)
                .is_none_or(|first| path.line < first.line)
            {
                let written = path.segments.join("::") + if glob { "::*" } else { "" };
                let within = path.scope.join("::");
                edges.insert(
                    target,
                    Import {
                        line: path.line,
                        path: written,
                        within,
                    },
                );
            }
        }
        edges
    }
}

/// The strongly connected components of more than one file (Tarjan), each sorted.
pub fn cycles(graph: &Graph) -> Vec<Vec<usize>> {
    let count = graph.files.len();
    let mut tarjan = Tarjan {
        graph,
        next: 0,
        index: vec![None; count],
        low: vec![0; count],
        stack: Vec::new(),
        on_stack: vec![false; count],
        components: Vec::new(),
    };
    for file in 0..count {
        if tarjan.index[file].is_none() {
            tarjan.visit(file);
        }
    }
    let mut components: Vec<Vec<usize>> = tarjan.components;
    components.retain(|component| component.len() > 1);
    components.iter_mut().for_each(|component| component.sort());
    components.sort();
    components
}

struct Tarjan<'g> {
    graph: &'g Graph,
    next: usize,
    index: Vec<Option<usize>>,
    low: Vec<usize>,
    stack: Vec<usize>,
    on_stack: Vec<bool>,
    components: Vec<Vec<usize>>,
}

impl Tarjan<'_> {
    fn visit(&mut self, file: usize) {
        (self.index[file], self.low[file]) = (Some(self.next), self.next);
        self.next += 1;
        self.stack.push(file);
        self.on_stack[file] = true;
        let graph = self.graph;
        for &next in graph.edges[file].keys() {
            match self.index[next] {
                None => {
                    self.visit(next);
                    self.low[file] = self.low[file].min(self.low[next]);
                }
                Some(next_index) if self.on_stack[next] => {
                    self.low[file] = self.low[file].min(next_index);
                }
                Some(_) => {}
            }
        }
        if Some(self.low[file]) == self.index[file] {
            let at = self
                .stack
                .iter()
                .rposition(|&member| member == file)
                .unwrap_or(0);
            let component: Vec<usize> = self.stack.split_off(at);
            component
                .iter()
                .for_each(|&member| self.on_stack[member] = false);
            self.components.push(component);
        }
    }
}

/// The shortest chain of imports inside `component` that comes back to where it started:
/// `[a, b, a]`.
pub fn shortest_cycle(graph: &Graph, component: &[usize]) -> Vec<usize> {
    let chains = component
        .iter()
        .map(|&start| cycle_through(graph, component, start));
    chains
        .filter(|chain| !chain.is_empty())
        .min_by_key(Vec::len)
        .unwrap_or_default()
}

/// Breadth first from `start`, inside `component`, back to `start`.
fn cycle_through(graph: &Graph, component: &[usize], start: usize) -> Vec<usize> {
    let inside: BTreeSet<usize> = component.iter().copied().collect();
    let mut came_from: BTreeMap<usize, usize> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(file) = queue.pop_front() {
        for &next in graph.edges[file]
            .keys()
            .filter(|next| inside.contains(next))
        {
            if next == start {
                let mut chain = vec![start, file];
                while let Some(&before) = chain.last().and_then(|at| came_from.get(at)) {
                    chain.push(before);
                }
                chain.reverse();
                return chain;
            }
            if let std::collections::btree_map::Entry::Vacant(entry) = came_from.entry(next) {
                entry.insert(file);
                queue.push_back(next);
            }
        }
    }
    Vec::new()
}
