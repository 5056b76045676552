//! Configuration from text: [`Options`] and [`BatchWriterOptions`] built from `key = value`
//! pairs, from a small text file, or changed one key at a time with [`Options::set`] /
//! [`BatchWriterOptions::set`].
//!
//! The syntax and every key are user documentation, on [`Options::from_config_file`] (in
//! `options_keys.rs`, beside the key table of `Options`): this module is internal. A test below
//! checks that every key has a row in that table.
//!
//! This module owns the syntax (lines, comments, sizes, durations, booleans) and the generic
//! steps every entry point shares (unknown-key suggestions, duplicates, keys applied first,
//! validation at the end); the tables mapping key names to fields live beside it, one per
//! options type (`options_keys.rs`, `batch_keys.rs`). It never decides what a valid setting is
//! beyond its syntax: ranges and relations between fields (level-0 triggers in order, …) stay
//! in [`Options::validate`] and [`BatchWriterOptions::validate`], which every
//! whole-configuration entry point runs at the end, so a configuration from text can never be
//! more permissive than one built in code.

mod batch_keys;
mod options_keys;
mod text;

use crate::batch_writer::BatchWriterOptions;
use crate::error::Result;
use crate::options::Options;

use text::{Configurable, Setting};
/// The value parsers, for tools (the `internals` feature).
#[cfg(feature = "internals")]
pub use text::{parse_bool, parse_duration, parse_size};

/// The names of every configurable key of [`Options`], in the order of the key table.
pub fn keys() -> impl Iterator<Item = &'static str> {
    options_keys::SETTINGS.iter().map(|setting| setting.key)
}

/// The names of every configurable key of [`BatchWriterOptions`], in the order of the key table.
pub fn batch_keys() -> impl Iterator<Item = &'static str> {
    batch_keys::SETTINGS.iter().map(|setting| setting.key)
}

/// Every key of both tables, for suggestions.
fn all_keys() -> impl Iterator<Item = &'static str> {
    keys().chain(batch_keys())
}

impl Configurable for Options {
    const SETTINGS: &'static [Setting<Self>] = options_keys::SETTINGS;

    fn is_other_key(key: &str) -> bool {
        batch_keys().any(|known| known == key)
    }

    fn applied_first(key: &str) -> bool {
        key == "commit.policy"
    }

    fn validate(&self) -> Result<()> {
        Options::validate(self)
    }

    fn all_keys() -> Vec<&'static str> {
        all_keys().collect()
    }
}

impl Configurable for BatchWriterOptions {
    const SETTINGS: &'static [Setting<Self>] = batch_keys::SETTINGS;

    fn is_other_key(key: &str) -> bool {
        keys().any(|known| known == key)
    }

    fn applied_first(key: &str) -> bool {
        key == "batch.strategy"
    }

    fn validate(&self) -> Result<()> {
        BatchWriterOptions::validate(self)
    }

    fn all_keys() -> Vec<&'static str> {
        all_keys().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use text::edit_distance;

    #[test]
    fn every_key_is_in_the_documentation_table() {
        // The table is in the documentation of `Options::from_config_file`.
        let source = include_str!("options_keys.rs");
        for key in all_keys() {
            let row = format!("    /// | `{key}` |");
            assert!(source.contains(&row), "{key} has no row in the key table");
        }
    }

    /// The field names of a pretty `Debug` output of a struct: its own fields, and the fields
    /// of those named in `nested` as `outer.inner`.
    fn debug_fields(debug: &str, nested: &[&str]) -> Vec<String> {
        let mut fields = Vec::new();
        let mut outer: Option<String> = None;
        for line in debug.lines() {
            let Some((name, _)) = line.trim().split_once(':') else {
                continue;
            };
            match line.len() - line.trim_start().len() {
                4 => {
                    outer = nested.contains(&name).then(|| name.to_string());
                    fields.push(name.to_string());
                }
                8 => {
                    if let Some(outer) = &outer {
                        fields.push(format!("{outer}.{name}"));
                    }
                }
                _ => {}
            }
        }
        fields
    }

    /// Every field of `Options` and `TableOptions` has a key: the field names are read from the
    /// pretty `Debug` output, so a new field fails this test until it gets a key.
    #[test]
    fn every_field_has_a_key() {
        let fields = debug_fields(&format!("{:#?}", crate::Options::default()), &["table"]);
        assert!(fields.len() > 20, "{fields:?}");
        // The file system, the merge operator and the compaction filter are code, not
        // configuration.
        let code = ["file_system", "merge_operator", "compaction_filter"];
        for field in fields.into_iter().filter(|field| !code.contains(&field.as_str())) {
            // The commit policy's keys are `commit.*`, shorter than the field's name.
            let field = if field == "commit_policy" {
                "commit".to_string()
            } else {
                field
            };
            let covered = keys().any(|key| key == field || key.starts_with(&format!("{field}.")));
            assert!(covered, "Options field {field} has no configuration key");
        }
    }

    /// Every field of `BatchWriterOptions` and `RetryPolicy` has a `batch.*` key.
    #[test]
    fn every_batch_writer_field_has_a_key() {
        let debug = format!("{:#?}", crate::BatchWriterOptions::default());
        let fields = debug_fields(&debug, &["retry"]);
        assert!(fields.len() >= 6, "{fields:?}");
        for field in fields {
            let key = format!("batch.{field}");
            let covered =
                batch_keys().any(|known| known == key || known.starts_with(&format!("{key}.")));
            assert!(
                covered,
                "BatchWriterOptions field {field} has no configuration key"
            );
        }
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
