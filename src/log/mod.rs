//! Placeholder: filled in by the log work.
