//! Fuzz checks for the manifest format (filled in with the manifest work).
