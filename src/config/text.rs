//! The syntax of configuration text and the steps every entry point shares: one line per
//! `key = value`, sizes, counts, durations and booleans; a key table ([`Setting`]) per options
//! type ([`Configurable`]); unknown-key suggestions, duplicates, keys applied first, validation
//! at the end. The tables themselves are in `options_keys.rs` and `batch_keys.rs`; the types'
//! `Configurable` implementations, which tie the two tables together, in `mod.rs`.

use std::path::Path;
use std::time::Duration;

use crate::error::{Error, Result};

/// What a value of each kind looks like, for error messages.
pub(super) const SIZE_ACCEPTS: &str =
    "a size; use bytes or a unit: KiB, MiB, GiB, TiB (e.g. 64MiB)";
pub(super) const COUNT_ACCEPTS: &str = "a count; use a whole number (e.g. 4)";
pub(super) const BOOLEAN_ACCEPTS: &str = "a boolean; use true or false";
pub(super) const DURATION_ACCEPTS: &str =
    "a duration; use a whole number and ns, us, ms, s, m or h (e.g. 5ms)";

/// One configurable key: its name, what its value looks like (for error messages), and how it
/// is stored. `apply` returns `None` when the value does not parse, does not fit the field, or
/// belongs to another kind of policy than the one set.
pub(super) struct Setting<T> {
    pub key: &'static str,
    pub accepts: &'static str,
    pub apply: fn(&mut T, &str) -> Option<()>,
}

/// An options type configurable from text: its key table and the rules around it.
pub(super) trait Configurable: Default + Sized + 'static {
    /// Every key, in the order of the key table documented on `Options::from_config_file`.
    const SETTINGS: &'static [Setting<Self>];
    /// Whether `key` belongs to the other options type: the whole-configuration entry points
    /// skip those keys, so that one file can configure both.
    fn is_other_key(key: &str) -> bool;
    /// Whether `key` is applied before all others, whatever its position: the parameters of a
    /// policy only make sense once its kind is known.
    fn applied_first(key: &str) -> bool;
    /// The checks of ranges and relations, run once every key is applied.
    fn validate(&self) -> Result<()>;
    /// Every key of both tables, for suggestions.
    fn all_keys() -> Vec<&'static str>;
}

/// Sets one key of `target` from its text value, checking only the syntax.
pub(super) fn set_key<T: Configurable>(target: &mut T, key: &str, value: &str) -> Result<()> {
    let Some(setting) = T::SETTINGS.iter().find(|setting| setting.key == key) else {
        if T::is_other_key(key) {
            return Err(Error::InvalidArgument(format!(
                "{key}: a key of the other options type (Options keys configure the database, \
                 batch.* keys a BatchWriter)"
            )));
        }
        return Err(Error::InvalidArgument(unknown_key_message(
            key,
            &T::all_keys(),
        )));
    };
    (setting.apply)(target, value.trim()).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "{key}: {value:?} is not {accepts}",
            accepts = setting.accepts
        ))
    })
}

/// Options from the defaults with each pair applied (keys applied first go first), then
/// validated. A key given twice is refused: one of the two values would be silently ignored.
pub(super) fn from_pairs<T, I, K, V>(pairs: I) -> Result<T>
where
    T: Configurable,
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut target = T::default();
    let mut seen: Vec<String> = Vec::new();
    let mut pairs: Vec<(K, V)> = pairs.into_iter().collect();
    pairs.sort_by_key(|(key, _)| !T::applied_first(key.as_ref().trim()));
    for (key, value) in pairs {
        let key = key.as_ref().trim();
        if seen.iter().any(|earlier| earlier == key) {
            return Err(Error::InvalidArgument(format!("{key}: given twice")));
        }
        seen.push(key.to_string());
        if T::is_other_key(key) {
            continue;
        }
        set_key(&mut target, key, value.as_ref())?;
    }
    target.validate()?;
    Ok(target)
}

/// Options from the defaults with every `key = value` line of `text` applied, then validated.
/// Errors about a line name its number, counted from 1.
pub(super) fn from_text<T: Configurable>(text: &str) -> Result<T> {
    let mut lines = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if let Some((key, value)) = split_line(line, index + 1)? {
            lines.push((index + 1, key, value));
        }
    }
    lines.sort_by_key(|(_, key, _)| !T::applied_first(key));
    let mut target = T::default();
    // (key, line number) of every key seen so far, to name both lines of a duplicate.
    let mut seen: Vec<(&str, usize)> = Vec::new();
    for (line_number, key, value) in lines {
        if let Some((_, earlier)) = seen.iter().find(|(earlier_key, _)| *earlier_key == key) {
            return Err(Error::InvalidArgument(format!(
                "line {line_number}: {key}: already set on line {earlier}"
            )));
        }
        seen.push((key, line_number));
        if T::is_other_key(key) {
            continue;
        }
        set_key(&mut target, key, value)
            .map_err(|error| prefix_message(error, &format!("line {line_number}")))?;
    }
    target.validate()?;
    Ok(target)
}

/// Options from the text file at `path`, as [`from_text`]; errors name the file. A file that
/// cannot be read is [`Error::Io`]; one that is not UTF-8 is [`Error::InvalidArgument`].
pub(super) fn from_file<T: Configurable>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).map_err(|error| Error::io(path, error))?;
    let text = String::from_utf8(bytes).map_err(|error| {
        Error::InvalidArgument(format!(
            "{}: not UTF-8 text (invalid byte at offset {})",
            path.display(),
            error.utf8_error().valid_up_to()
        ))
    })?;
    from_text(&text).map_err(|error| prefix_message(error, &path.display().to_string()))
}

/// The key and value of one line, `None` for a blank or comment-only line.
pub(super) fn split_line(line: &str, line_number: usize) -> Result<Option<(&str, &str)>> {
    let content = line
        .split_once('#')
        .map_or(line, |(before, _)| before)
        .trim();
    if content.is_empty() {
        return Ok(None);
    }
    let Some((key, value)) = content.split_once('=') else {
        return Err(Error::InvalidArgument(format!(
            "line {line_number}: {content:?} is not `key = value`"
        )));
    };
    let (key, value) = (key.trim(), value.trim());
    if key.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "line {line_number}: no key before `=`"
        )));
    }
    Ok(Some((key, value)))
}

/// `error` with `prefix: ` in front of its message, when it is an invalid-argument error.
pub(super) fn prefix_message(error: Error, prefix: &str) -> Error {
    match error {
        Error::InvalidArgument(message) => Error::InvalidArgument(format!("{prefix}: {message}")),
        other => other,
    }
}

/// The message for an unknown key, suggesting the closest known key when one is close.
pub(super) fn unknown_key_message(key: &str, all_keys: &[&'static str]) -> String {
    // A suggestion needs an edit distance of at most a third of the longer key, so a key much
    // longer than every known one has none; skipping it keeps a huge key from costing a
    // quadratic edit distance.
    let longest_known = all_keys.iter().map(|known| known.len()).max().unwrap_or(0);
    let closest = all_keys
        .iter()
        .filter(|_| key.len() <= longest_known * 3 / 2)
        .map(|&known| (edit_distance(key, known), known))
        .min();
    let unprefixed = all_keys.iter().find(|known| {
        ["table.", "commit.", "batch."]
            .iter()
            .any(|prefix| known.strip_prefix(prefix) == Some(key))
    });
    match (unprefixed, closest) {
        (Some(known), _) => format!("{key}: unknown key; did you mean {known}?"),
        (None, Some((distance, known))) if distance <= key.len().max(known.len()) / 3 => {
            format!("{key}: unknown key; did you mean {known}?")
        }
        _ => format!("{key}: unknown key; known keys: {}", all_keys.join(", ")),
    }
}

/// Levenshtein distance between two strings, in characters.
pub(super) fn edit_distance(left: &str, right: &str) -> usize {
    let right: Vec<char> = right.chars().collect();
    let mut previous: Vec<usize> = (0..=right.len()).collect();
    for (row, left_char) in left.chars().enumerate() {
        let mut current = Vec::with_capacity(right.len() + 1);
        current.push(row + 1);
        for (column, right_char) in right.iter().enumerate() {
            let substitution = previous[column] + usize::from(left_char != *right_char);
            let deletion = previous[column + 1] + 1;
            let insertion = current[column] + 1;
            current.push(substitution.min(deletion).min(insertion));
        }
        previous = current;
    }
    previous[right.len()]
}

/// A size converted to the field's integer type, `None` if it does not parse or fit.
pub(super) fn size<T: TryFrom<u64>>(value: &str) -> Option<T> {
    T::try_from(parse_size(value)?).ok()
}

/// A count converted to the field's integer type, `None` if it does not parse or fit.
pub(super) fn count<T: TryFrom<u64>>(value: &str) -> Option<T> {
    T::try_from(parse_whole_number(value)?).ok()
}

/// A whole decimal number of ASCII digits, `None` on anything else or on overflow.
pub(super) fn parse_whole_number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Splits `"64 MiB"` into `("64", "MiB")`: the leading digits and the trimmed rest.
pub(super) fn split_number_and_unit(text: &str) -> (&str, &str) {
    let text = text.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    (number, unit.trim())
}

/// Parses a size in bytes: a whole number, optionally followed by a binary unit `B`, `KiB`,
/// `MiB`, `GiB` or `TiB` (case-insensitive, optionally separated by spaces). `None` for anything
/// else, including decimal units (`MB`), fractions and values that overflow a `u64`.
///
/// ```
/// # // Outside the crate, this module is reachable only with the `internals` feature.
/// # #[cfg(feature = "internals")] {
/// use shaledb::config::parse_size;
/// assert_eq!(parse_size("64MiB"), Some(64 << 20));
/// assert_eq!(parse_size("4096"), Some(4096));
/// assert_eq!(parse_size("64MB"), None);
/// # }
/// ```
pub fn parse_size(text: &str) -> Option<u64> {
    let (number, unit) = split_number_and_unit(text);
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => return None,
    };
    parse_whole_number(number)?.checked_mul(multiplier)
}

/// Parses a duration: a whole number followed by a unit `ns`, `us` (or `µs`), `ms`, `s`, `m`
/// (minutes) or `h` (optionally separated by spaces). A plain number has no unit and gives
/// `None`, as does anything else or a value past `u64::MAX` nanoseconds (about 584 years).
///
/// ```
/// # // Outside the crate, this module is reachable only with the `internals` feature.
/// # #[cfg(feature = "internals")] {
/// use std::time::Duration;
/// use shaledb::config::parse_duration;
/// assert_eq!(parse_duration("500us"), Some(Duration::from_micros(500)));
/// assert_eq!(parse_duration("1m"), Some(Duration::from_secs(60)));
/// assert_eq!(parse_duration("10"), None);
/// # }
/// ```
pub fn parse_duration(text: &str) -> Option<Duration> {
    let (number, unit) = split_number_and_unit(text);
    let nanoseconds_per_unit: u64 = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60 * 1_000_000_000,
        "h" => 3_600 * 1_000_000_000,
        _ => return None,
    };
    let nanoseconds = parse_whole_number(number)?.checked_mul(nanoseconds_per_unit)?;
    Some(Duration::from_nanos(nanoseconds))
}

/// Parses `true` or `false`; `None` for anything else.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}
