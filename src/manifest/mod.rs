//! Placeholder: filled in by the manifest work.
