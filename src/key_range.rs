//! Ranges of user keys: [`KeyRange`], the public trait that lets `Db::range` take every form of
//! Rust range over any key type without an annotation, and `KeyBounds`, the owned bounds an
//! iterator carries down to its sources (the merge, the level iterators, the table iterators),
//! so that none of them reads blocks or tables wholly outside the range.
//!
//! A leaf: imports nothing of the crate.

use std::cmp::Ordering;
use std::ops::{
    Bound, Range, RangeBounds, RangeFrom, RangeFull, RangeInclusive, RangeTo, RangeToInclusive,
};

/// A range of keys, as [`Db::range`](crate::Db::range), [`Db::range_with`](crate::Db::range_with)
/// and [`Db::compact_range`](crate::Db::compact_range) take it: each of Rust's range forms
/// (`..`, `a..b`, `a..=b`, `a..`, `..b`, `..=b`) and a pair of [`Bound`]s, over any key type
/// that is `AsRef<[u8]>` — `&[u8]`, `Vec<u8>`, `[u8; N]`, `&[u8; N]`, `&str`, `String` — and a
/// reference to any of them.
///
/// `std::ops::RangeBounds<K>` names the key type `K`, and `..` is `RangeBounds<K>` for every
/// `K`, so a signature over it needs an annotation for a full range. This trait has no type
/// parameter: every range form has exactly one implementation, and `db.range(..)` compiles as
/// it is.
///
/// ```
/// use std::ops::Bound;
/// use shaledb::{Db, KeyRange, Options};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// for key in ["a", "b", "c", "d"] {
///     db.put(key.as_bytes(), b"")?;
/// }
/// let (start, end) = (b"b".to_vec(), b"d".to_vec());
/// assert_eq!(db.range(..).count(), 4);
/// assert_eq!(db.range(b"a".as_slice()..b"c").count(), 2);
/// assert_eq!(db.range(start..end).count(), 2);
/// assert_eq!(db.range("c".as_bytes()..).count(), 2);
/// assert_eq!(db.range("b"..="c").count(), 2);
/// assert_eq!(db.range(..b"b").count(), 1);
/// assert_eq!(db.range((Bound::Excluded(b"a"), Bound::Unbounded)).count(), 3);
/// // The trait itself tells the two ends.
/// assert_eq!((b"a"..=b"c").bounds(), (Bound::Included(&b"a"[..]), Bound::Included(&b"c"[..])));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait KeyRange {
    /// The lower and the upper end of the range.
    ///
    /// ```
    /// use std::ops::Bound;
    /// use shaledb::KeyRange;
    ///
    /// assert_eq!((..).bounds(), (Bound::Unbounded, Bound::Unbounded));
    /// let (start, end) = ("a".to_string(), "m".to_string());
    /// assert_eq!((start..end).bounds(), (Bound::Included(&b"a"[..]), Bound::Excluded(&b"m"[..])));
    /// ```
    fn bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>);
}

impl KeyRange for RangeFull {
    fn bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        (Bound::Unbounded, Bound::Unbounded)
    }
}

/// Implements `KeyRange` for a range type over `K: AsRef<[u8]>` through its `RangeBounds<K>`.
macro_rules! key_range_through_range_bounds {
    ($($range:ident),*) => {$(
        impl<K: AsRef<[u8]>> KeyRange for $range<K> {
            fn bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
                (
                    RangeBounds::<K>::start_bound(self).map(AsRef::as_ref),
                    RangeBounds::<K>::end_bound(self).map(AsRef::as_ref),
                )
            }
        }
    )*};
}

key_range_through_range_bounds!(Range, RangeInclusive, RangeFrom, RangeTo, RangeToInclusive);

impl<K: AsRef<[u8]>> KeyRange for (Bound<K>, Bound<K>) {
    fn bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        (
            self.0.as_ref().map(AsRef::as_ref),
            self.1.as_ref().map(AsRef::as_ref),
        )
    }
}

impl<R: KeyRange + ?Sized> KeyRange for &R {
    fn bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        (**self).bounds()
    }
}

/// Owned bounds on user keys: what an iterator may yield, and so what its sources may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyBounds {
    pub lower: Bound<Vec<u8>>,
    pub upper: Bound<Vec<u8>>,
}

impl KeyBounds {
    /// No bounds at all.
    pub const UNBOUNDED: KeyBounds = KeyBounds {
        lower: Bound::Unbounded,
        upper: Bound::Unbounded,
    };

    /// An owned copy of `range`'s bounds.
    pub fn of(range: &(impl KeyRange + ?Sized)) -> KeyBounds {
        let (lower, upper) = range.bounds();
        KeyBounds {
            lower: lower.map(<[u8]>::to_vec),
            upper: upper.map(<[u8]>::to_vec),
        }
    }

    /// The keys within both `self` and `other`.
    pub fn intersect(self, other: KeyBounds) -> KeyBounds {
        KeyBounds {
            lower: tighter_lower(as_slice(&self.lower), as_slice(&other.lower)).map(<[u8]>::to_vec),
            upper: tighter_upper(as_slice(&self.upper), as_slice(&other.upper)).map(<[u8]>::to_vec),
        }
    }

    /// Whether `key` is at or above the lower bound (above it when the bound is excluded).
    pub fn is_above_lower(&self, key: &[u8]) -> bool {
        is_above(&self.lower, key)
    }

    /// Whether `key` is at or below the upper bound (below it when the bound is excluded).
    pub fn is_below_upper(&self, key: &[u8]) -> bool {
        is_below(&self.upper, key)
    }

    /// Whether some key of the inclusive range `smallest..=largest` (a table's, say) is within
    /// the bounds.
    pub fn overlaps(&self, smallest: &[u8], largest: &[u8]) -> bool {
        smallest <= largest && self.is_above_lower(largest) && self.is_below_upper(smallest)
    }
}

/// Whether `key` is at or above `lower` (above it when excluded).
pub(crate) fn is_above(lower: &Bound<Vec<u8>>, key: &[u8]) -> bool {
    match lower {
        Bound::Included(lower) => key >= lower.as_slice(),
        Bound::Excluded(lower) => key > lower.as_slice(),
        Bound::Unbounded => true,
    }
}

/// Whether `key` is at or below `upper` (below it when excluded).
pub(crate) fn is_below(upper: &Bound<Vec<u8>>, key: &[u8]) -> bool {
    match upper {
        Bound::Included(upper) => key <= upper.as_slice(),
        Bound::Excluded(upper) => key < upper.as_slice(),
        Bound::Unbounded => true,
    }
}

/// A borrowed view of an owned bound.
pub(crate) fn as_slice(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    bound.as_ref().map(Vec::as_slice)
}

/// Of two lower bounds, the one that admits fewer keys.
pub(crate) fn tighter_lower<'a>(
    first: Bound<&'a [u8]>,
    second: Bound<&'a [u8]>,
) -> Bound<&'a [u8]> {
    tighter(first, second, Ordering::Greater)
}

/// Of two upper bounds, the one that admits fewer keys.
pub(crate) fn tighter_upper<'a>(
    first: Bound<&'a [u8]>,
    second: Bound<&'a [u8]>,
) -> Bound<&'a [u8]> {
    tighter(first, second, Ordering::Less)
}

/// Of two lower bounds (`inside` = `Greater`) or two upper bounds (`Less`), the one that admits
/// fewer keys: the key further inside, and on equal keys the excluded bound.
fn tighter<'a>(
    first: Bound<&'a [u8]>,
    second: Bound<&'a [u8]>,
    inside: Ordering,
) -> Bound<&'a [u8]> {
    let key = |bound: Bound<&'a [u8]>| match bound {
        Bound::Included(key) | Bound::Excluded(key) => Some(key),
        Bound::Unbounded => None,
    };
    match (key(first), key(second)) {
        (None, _) => second,
        (_, None) => first,
        (Some(a), Some(b)) => match a.cmp(b) {
            Ordering::Equal if matches!(first, Bound::Excluded(_)) => first,
            Ordering::Equal => second,
            order if order == inside => first,
            _ => second,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn included(key: &str) -> Bound<Vec<u8>> {
        Bound::Included(key.as_bytes().to_vec())
    }

    fn excluded(key: &str) -> Bound<Vec<u8>> {
        Bound::Excluded(key.as_bytes().to_vec())
    }

    #[test]
    fn every_range_form_gives_its_bounds() {
        let borrowed = |range: &dyn KeyRange| KeyBounds::of(range);
        assert_eq!(borrowed(&..), KeyBounds::UNBOUNDED);
        let expected = KeyBounds {
            lower: included("a"),
            upper: excluded("c"),
        };
        assert_eq!(borrowed(&(b"a".as_slice()..b"c")), expected);
        assert_eq!(borrowed(&(b"a".to_vec()..b"c".to_vec())), expected);
        assert_eq!(borrowed(&("a".."c")), expected);
        assert_eq!(borrowed(&(*b"a"..*b"c")), expected);
        assert_eq!(borrowed(&&(b"a"..b"c")), expected);
        assert_eq!(
            borrowed(&(b"a"..=b"c")),
            KeyBounds {
                lower: included("a"),
                upper: included("c")
            }
        );
        assert_eq!(borrowed(&("a".to_string()..)).upper, Bound::Unbounded);
        assert_eq!(borrowed(&(..="c")).upper, included("c"));
        assert_eq!(borrowed(&(..b"c")).lower, Bound::Unbounded);
        assert_eq!(
            borrowed(&(excluded("a"), Bound::<Vec<u8>>::Unbounded)).lower,
            excluded("a")
        );
    }

    #[test]
    fn the_intersection_keeps_the_tighter_end_and_excludes_on_ties() {
        let bounds = |lower, upper| KeyBounds { lower, upper };
        let wide = bounds(included("b"), included("y"));
        assert_eq!(
            wide.clone().intersect(bounds(excluded("a"), excluded("z"))),
            wide
        );
        assert_eq!(
            wide.clone().intersect(bounds(excluded("b"), excluded("y"))),
            bounds(excluded("b"), excluded("y"))
        );
        assert_eq!(
            bounds(excluded("b"), excluded("y")).intersect(wide.clone()),
            bounds(excluded("b"), excluded("y"))
        );
        assert_eq!(
            wide.clone()
                .intersect(bounds(Bound::Unbounded, included("m"))),
            bounds(included("b"), included("m"))
        );
        assert_eq!(KeyBounds::UNBOUNDED.intersect(wide.clone()), wide);
        assert_eq!(
            wide.clone().intersect(bounds(included("c"), included("d"))),
            bounds(included("c"), included("d"))
        );
    }

    #[test]
    fn overlaps_a_table_range() {
        let bounds = KeyBounds {
            lower: excluded("c"),
            upper: excluded("f"),
        };
        assert!(!bounds.overlaps(b"a", b"c"));
        assert!(bounds.overlaps(b"a", b"ca"));
        assert!(bounds.overlaps(b"d", b"e"));
        assert!(bounds.overlaps(b"ez", b"z"));
        assert!(!bounds.overlaps(b"f", b"z"));
        assert!(!bounds.overlaps(b"e", b"d"));
    }
}
