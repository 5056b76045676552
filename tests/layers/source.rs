//! One source file: comments and literals blanked out, split into tokens, and read for the
//! few facts the import graph needs — `mod` declarations, `use` trees, the other paths in the
//! code, and the names of the items the file defines.

use std::collections::BTreeSet;

/// An identifier (`$crate` included), `::`, or one other character, with its line (from 1).
#[derive(Debug)]
pub struct Token {
    pub text: String,
    pub line: usize,
}

/// A path as written, in the inline `mod name { .. }` blocks (`scope`) it appears in.
#[derive(Debug, Clone)]
pub struct PathRef {
    pub scope: Vec<String>,
    pub segments: Vec<String>,
    pub line: usize,
}

/// One leaf of a `use` tree: `use a::{b::C as D, e::*}` has the leaves `a::b::C` (binding
/// `D`) and `a::e` (a glob, binding nothing).
#[derive(Debug)]
pub struct UseLeaf {
    pub path: PathRef,
    pub binds: Option<String>,
}

/// What one file says about modules.
#[derive(Debug, Default)]
pub struct FileFacts {
    /// `mod x;` at the file's top level.
    pub children: BTreeSet<String>,
    pub uses: Vec<UseLeaf>,
    /// Paths outside `use` items, such as `crate::flush::start(..)`; any `x::y` is kept here,
    /// and the graph decides which ones name a module of the crate.
    pub paths: Vec<PathRef>,
    /// Items defined at the file's top level (`fn`, `struct`, `mod`, `macro_rules!`, ...).
    pub defines: BTreeSet<String>,
    /// `#[macro_export]` macros, which live at the crate root.
    pub exported_macros: BTreeSet<String>,
}

pub fn scan(source: &str) -> FileFacts {
    Scanner::new(tokens(&blank(source))).run()
}

/// The source with every comment and string, char and byte literal (raw ones too) replaced by
/// spaces; newlines are kept, so lines keep their numbers.
pub fn blank(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < chars.len() {
        match skipped_end(&chars, i) {
            Some(end) => {
                let end = end.min(chars.len());
                out.extend(
                    chars[i..end]
                        .iter()
                        .map(|&c| if c == '\n' { c } else { ' ' }),
                );
                i = end;
            }
            None => {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    out
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// If a comment or a literal starts at `i`, the index just past it.
fn skipped_end(chars: &[char], i: usize) -> Option<usize> {
    let at = |k: usize| chars.get(k).copied().unwrap_or('\0');
    let starts_word = i == 0 || !is_ident_char(at(i - 1));
    match (at(i), at(i + 1)) {
        ('/', '/') => Some(
            (i..chars.len())
                .find(|&k| chars[k] == '\n')
                .unwrap_or(chars.len()),
        ),
        ('/', '*') => Some(block_comment_end(chars, i)),
        ('"', _) => Some(quoted_end(chars, i + 1)),
        ('\'', _) => char_literal_end(chars, i),
        ('b' | 'c', '"') if starts_word => Some(quoted_end(chars, i + 2)),
        ('b', '\'') if starts_word => char_literal_end(chars, i + 1),
        ('r', _) if starts_word => raw_string_end(chars, i + 1),
        ('b' | 'c', 'r') if starts_word => raw_string_end(chars, i + 2),
        _ => None,
    }
}

fn block_comment_end(chars: &[char], start: usize) -> usize {
    let (mut depth, mut k) = (0, start);
    while k + 1 < chars.len() {
        match (chars[k], chars[k + 1]) {
            ('/', '*') => (depth, k) = (depth + 1, k + 2),
            ('*', '/') if depth == 1 => return k + 2,
            ('*', '/') => (depth, k) = (depth - 1, k + 2),
            _ => k += 1,
        }
    }
    chars.len()
}

/// The end of a `"..."` literal whose contents start at `k`.
fn quoted_end(chars: &[char], mut k: usize) -> usize {
    while k < chars.len() {
        match chars[k] {
            '\\' => k += 2,
            '"' => return k + 1,
            _ => k += 1,
        }
    }
    k
}

/// `'x'`, `'\n'`, `'\u{1F600}'`; `None` for a lifetime or a label (`'a`).
fn char_literal_end(chars: &[char], quote: usize) -> Option<usize> {
    let at = |k: usize| chars.get(k).copied().unwrap_or('\0');
    if at(quote + 1) == '\\' {
        let close = (quote + 3..chars.len()).find(|&k| chars[k] == '\'')?;
        Some(close + 1)
    } else if at(quote + 2) == '\'' {
        Some(quote + 3)
    } else {
        None
    }
}

/// `r"..."`, `r#"..."#`: `k` is just past the `r`. `None` for anything else (`r#ident`).
fn raw_string_end(chars: &[char], k: usize) -> Option<usize> {
    let hashes = chars[k.min(chars.len())..]
        .iter()
        .take_while(|&&c| c == '#')
        .count();
    if chars.get(k + hashes) != Some(&'"') {
        return None;
    }
    let closing: Vec<char> = std::iter::once('"')
        .chain("#".repeat(hashes).chars())
        .collect();
    let body = k + hashes + 1;
    let found = (body..chars.len()).find(|&at| chars[at..].starts_with(&closing));
    Some(found.map_or(chars.len(), |at| at + closing.len()))
}

pub fn tokens(blanked: &str) -> Vec<Token> {
    let chars: Vec<char> = blanked.chars().collect();
    let at = |k: usize| chars.get(k).copied().unwrap_or('\0');
    let (mut out, mut line, mut i) = (Vec::new(), 1, 0);
    while i < chars.len() {
        let start = i;
        if chars[i] == '\n' {
            line += 1;
        }
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        if is_ident_char(chars[i]) || (chars[i] == '$' && is_ident_char(at(i + 1))) {
            i += 1;
            while is_ident_char(at(i)) {
                i += 1;
            }
        } else if chars[i] == ':' && at(i + 1) == ':' {
            i += 2;
        } else {
            i += 1;
        }
        let text = chars[start..i].iter().collect();
        out.push(Token { text, line });
    }
    out
}

/// An identifier, or a macro variable such as `$crate`.
pub fn is_ident(text: &str) -> bool {
    let word = text.strip_prefix('$').unwrap_or(text);
    let first = word.chars().next();
    first.is_some_and(|c| c.is_alphabetic() || c == '_') && word.chars().all(is_ident_char)
}

/// Walks the tokens once, keeping the brace depth and the stack of inline `mod` blocks.
struct Scanner {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
    /// Inline `mod name {` blocks around the current token, with the depth inside each.
    scopes: Vec<(String, usize)>,
    facts: FileFacts,
}

impl Scanner {
    fn new(tokens: Vec<Token>) -> Self {
        let facts = FileFacts::default();
        Scanner {
            tokens,
            at: 0,
            depth: 0,
            scopes: Vec::new(),
            facts,
        }
    }

    fn text(&self, k: usize) -> &str {
        self.tokens.get(k).map_or("", |token| token.text.as_str())
    }

    fn scope(&self) -> Vec<String> {
        self.scopes.iter().map(|(name, _)| name.clone()).collect()
    }

    fn run(mut self) -> FileFacts {
        while self.at < self.tokens.len() {
            self.step();
        }
        self.facts
    }

    /// Handles the token at `self.at` and moves past it (and past whatever it starts).
    fn step(&mut self) {
        let (at, text) = (self.at, self.text(self.at).to_string());
        let next = self.text(at + 1).to_string();
        self.at += 1;
        match text.as_str() {
            "{" => self.depth += 1,
            "}" => {
                if self
                    .scopes
                    .last()
                    .is_some_and(|&(_, depth)| depth == self.depth)
                {
                    self.scopes.pop();
                }
                self.depth = self.depth.saturating_sub(1);
            }
            "mod" if is_ident(&next) => self.module(next),
            "use" if next != "<" => self.use_item(),
            "pub" if next == "(" => {
                while !matches!(self.text(self.at), ")" | "") {
                    self.at += 1;
                }
            }
            "fn" | "struct" | "enum" | "trait" | "type" | "const" | "static" | "union"
                if self.depth == 0 && is_ident(&next) =>
            {
                self.facts.defines.insert(next);
            }
            "macro_rules" if next == "!" => self.macro_definition(at),
            _ if is_ident(&text) && next == "::" && self.text(at.wrapping_sub(1)) != "::" => {
                self.at = at;
                let path = self.path();
                self.facts.paths.push(path);
            }
            _ => {}
        }
    }

    /// `mod name;` (a child file) or `mod name {` (an inline module); `self.at` is at `name`.
    fn module(&mut self, name: String) {
        match self.text(self.at + 1) {
            "{" => self.scopes.push((name.clone(), self.depth + 1)),
            ";" if self.scopes.is_empty() => {
                self.facts.children.insert(name.clone());
            }
            _ => {}
        }
        if self.depth == 0 {
            self.facts.defines.insert(name);
        }
    }

    fn macro_definition(&mut self, at: usize) {
        let name = self.text(at + 2).to_string();
        let exported = (at.saturating_sub(6)..at).any(|k| self.text(k) == "macro_export");
        if exported {
            self.facts.exported_macros.insert(name.clone());
        }
        if self.depth == 0 {
            self.facts.defines.insert(name);
        }
    }

    /// `a::b::C` from `self.at`, up to the first segment that is not an identifier
    /// (`::<T>`, `::{`, `::*`).
    fn path(&mut self) -> PathRef {
        let line = self.tokens[self.at].line;
        let mut segments = vec![self.text(self.at).to_string()];
        self.at += 1;
        while self.text(self.at) == "::" && is_ident(self.text(self.at + 1)) {
            segments.push(self.text(self.at + 1).to_string());
            self.at += 2;
        }
        PathRef {
            scope: self.scope(),
            segments,
            line,
        }
    }

    /// A `use` item, `self.at` just past the `use` keyword: its leaves, then past the `;`.
    fn use_item(&mut self) {
        let mut leaves = Vec::new();
        self.use_tree(Vec::new(), &mut leaves);
        while !matches!(self.text(self.at), ";" | "") {
            self.at += 1;
        }
        self.at += 1;
        let scope = self.scope();
        for (segments, binds, line) in leaves {
            let path = PathRef {
                scope: scope.clone(),
                segments,
                line,
            };
            self.facts.uses.push(UseLeaf { path, binds });
        }
    }

    /// One use tree after `prefix`: `a::b`, `a::b as c`, `a::*`, `a::{tree, tree}`, `self`.
    fn use_tree(&mut self, mut prefix: Vec<String>, out: &mut Vec<Leaf>) {
        loop {
            let (text, line) = match self.tokens.get(self.at) {
                Some(token) => (token.text.clone(), token.line),
                None => return,
            };
            match text.as_str() {
                "{" => return self.use_group(prefix, out),
                "*" => {
                    self.at += 1;
                    return out.push((prefix, None, line));
                }
                "::" if prefix.is_empty() => {
                    prefix.push(text); // `use ::name`: another crate
                    self.at += 1;
                }
                name if is_ident(name) => {
                    self.at += 1;
                    if self.text(self.at) == "::" {
                        self.at += 1;
                        prefix.push(text);
                        continue;
                    }
                    if name != "self" || prefix.is_empty() {
                        prefix.push(text); // `a::{self}` is `a` itself
                    }
                    let mut binds = prefix.last().cloned();
                    if self.text(self.at) == "as" {
                        binds = Some(self.text(self.at + 1).to_string());
                        self.at += 2;
                    }
                    return out.push((prefix, binds, line));
                }
                _ => return,
            }
        }
    }

    /// `{tree, tree, ...}` after `prefix`, `self.at` at the `{`.
    fn use_group(&mut self, prefix: Vec<String>, out: &mut Vec<Leaf>) {
        self.at += 1;
        while !matches!(self.text(self.at), "}" | ";" | "") {
            let before = self.at;
            self.use_tree(prefix.clone(), out);
            if self.text(self.at) == "," || self.at == before {
                self.at += 1;
            }
        }
        if self.text(self.at) == "}" {
            self.at += 1;
        }
    }
}

/// A use leaf while it is parsed: segments, the name it binds, its line.
type Leaf = (Vec<String>, Option<String>, usize);
