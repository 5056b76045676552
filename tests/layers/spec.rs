//! The layers block of ARCHITECTURE.md (its syntax is described at the top of
//! `tests/layers.rs`) and which layer each file of `src/` is in.

use std::collections::BTreeSet;

/// The opening line of the block.
pub const FENCE: &str = "```layers";

pub struct Layer {
    /// The line of ARCHITECTURE.md (from 1).
    pub line: usize,
    pub entries: Vec<String>,
    pub description: String,
}

impl Layer {
    /// `layer 3 "background work and opening"`, with `number` counted from the top.
    pub fn label(&self, number: usize) -> String {
        match self.description.as_str() {
            "" => format!("layer {number} ({})", self.entries.join(", ")),
            description => format!("layer {number} \"{description}\""),
        }
    }
}

/// The layers, top first; an error names what is wrong with the block.
pub fn parse(markdown: &str) -> Result<Vec<Layer>, String> {
    let mut lines = markdown.lines().zip(1..);
    if !lines.by_ref().any(|(line, _)| line.trim() == FENCE) {
        return Err(format!("ARCHITECTURE.md has no {FENCE} block"));
    }
    let mut layers = Vec::new();
    let mut seen = BTreeSet::new();
    for (line, number) in lines {
        let text = line.trim();
        if text.starts_with("```") {
            if layers.is_empty() {
                return Err(format!("the {FENCE} block of ARCHITECTURE.md is empty"));
            }
            return Ok(layers);
        }
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let split = text.find("  ").or_else(|| text.find('\t'));
        let (names, description) = text.split_at(split.unwrap_or(text.len()));
        let entries: Vec<String> = names
            .split(',')
            .map(|name| name.trim().to_string())
            .collect();
        for entry in &entries {
            if !is_entry(entry) {
                return Err(format!(
                    "ARCHITECTURE.md:{number}: `{entry}` is not a module name"
                ));
            }
            if !seen.insert(entry.clone()) {
                return Err(format!(
                    "ARCHITECTURE.md:{number}: `{entry}` is listed twice"
                ));
            }
        }
        let description = description.trim().to_string();
        layers.push(Layer {
            line: number,
            entries,
            description,
        });
    }
    Err(format!(
        "the {FENCE} block of ARCHITECTURE.md has no closing ```"
    ))
}

/// `name`, `dir/name`, `dir/`: lowercase words separated by `/`, maybe ending with one.
fn is_entry(entry: &str) -> bool {
    let words = entry.strip_suffix('/').unwrap_or(entry);
    let word = |word: &str| {
        !word.is_empty()
            && word
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    words.split('/').all(word)
}

/// How specifically `entry` names the module (`compaction/job`, `lib`), if it does: a
/// module's own entry beats any directory, a deeper directory beats a shallower one.
fn rank(entry: &str, module: &str) -> Option<(bool, usize)> {
    match entry.strip_suffix('/') {
        Some(dir) => {
            let inside =
                module == dir || module.strip_prefix(dir).is_some_and(|r| r.starts_with('/'));
            inside.then(|| (false, dir.split('/').count()))
        }
        None => (module == entry).then_some((true, 0)),
    }
}

pub struct Placement {
    /// Per module, the index of its layer (0 is the top), `None` if no entry names it.
    pub layer_of: Vec<Option<usize>>,
    /// Entries that name no module, with their line: the drawing is stale.
    pub stale: Vec<(usize, String)>,
}

pub fn place(layers: &[Layer], modules: &[&str]) -> Placement {
    let mut used = BTreeSet::new();
    let mut layer_of = Vec::new();
    for module in modules {
        let mut best: Option<((bool, usize), usize)> = None;
        for (index, layer) in layers.iter().enumerate() {
            for entry in &layer.entries {
                let Some(rank) = rank(entry, module) else {
                    continue;
                };
                used.insert(entry.as_str());
                if best.is_none_or(|(best_rank, _)| rank > best_rank) {
                    best = Some((rank, index));
                }
            }
        }
        layer_of.push(best.map(|(_, index)| index));
    }
    let entries = layers
        .iter()
        .flat_map(|layer| layer.entries.iter().map(|e| (layer.line, e)));
    let stale = entries.filter(|(_, entry)| !used.contains(entry.as_str()));
    let stale = stale.map(|(line, entry)| (line, entry.clone())).collect();
    Placement { layer_of, stale }
}
