//! Fuzz checks for the log format (filled in with the log work).
