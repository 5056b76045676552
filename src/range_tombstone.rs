//! Range tombstones: "every key in `[start, end)` written before sequence number `s` is
//! deleted", and [`Fragments`], the form every reader and writer of them uses.
//!
//! Tombstones overlap freely as they are written. Readers need one question answered fast —
//! which tombstones cover this key? — so tombstones are kept *fragmented*: cut at every start
//! and end of any of them into pieces that do not overlap, each piece listing the sequence
//! numbers of every tombstone that covers all of it (newest first). A key is then found in one
//! binary search, and the piece's list says which reader sees it deleted. Pebble and RocksDB
//! store range deletions the same way; the bytes are ours (FORMAT.md 5.10).
//!
//! Invariants of a [`Fragments`]: pieces sorted by start, `start < end`, each piece's `end` at
//! or before the next piece's `start`, every piece's sequence list non-empty and strictly
//! descending. The decoder checks each of them, so a damaged block never becomes a wrong read.
//!
//! A leaf: imports only varint coding and key types.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use crate::coding::{Cursor, DecodeError, put_length_prefixed, put_varint32, put_varint64};
use crate::key::{MAX_KEY_SIZE, SequenceNumber};

/// One range deletion as written: `[start, end)` deleted at `sequence`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeTombstone {
    /// The first key deleted.
    pub start: Vec<u8>,
    /// The first key after the range (not deleted).
    pub end: Vec<u8>,
    /// When it was written: it deletes versions older than this.
    pub sequence: SequenceNumber,
}

/// One piece of fragmented tombstones: `[start, end)`, deleted by tombstones at `sequences`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// The first key of the piece.
    pub start: Vec<u8>,
    /// The first key after it.
    pub end: Vec<u8>,
    /// The sequence numbers of the tombstones covering the piece, newest first.
    pub sequences: Vec<SequenceNumber>,
}

impl Fragment {
    /// The newest tombstone of the piece (a piece always lists one).
    pub fn newest(&self) -> Option<SequenceNumber> {
        self.sequences.first().copied()
    }

    /// Whether the piece's newest tombstone is newer than a version at `sequence`, and so
    /// hides it (for a reader that sees the tombstone).
    pub fn hides(&self, sequence: SequenceNumber) -> bool {
        self.newest().is_some_and(|newest| newest > sequence)
    }

    /// The newest tombstone of this piece that a reader at `read` sees.
    pub fn newest_at(&self, read: SequenceNumber) -> Option<SequenceNumber> {
        self.sequences
            .iter()
            .copied()
            .find(|&sequence| sequence <= read)
    }

    /// Whether the piece holds `key`.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.start.as_slice() <= key && key < self.end.as_slice()
    }
}

/// Range tombstones, fragmented (see the module documentation). Cheap to search; built once
/// per memtable change, table open, iterator or compaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fragments {
    pieces: Vec<Fragment>,
}

impl Fragments {
    /// No tombstones.
    pub fn empty() -> Self {
        Fragments::default()
    }

    /// No tombstones, shared: what a reader without any holds, without an allocation of its
    /// own.
    pub fn shared_empty() -> Arc<Fragments> {
        static EMPTY: OnceLock<Arc<Fragments>> = OnceLock::new();
        Arc::clone(EMPTY.get_or_init(|| Arc::new(Fragments::empty())))
    }

    /// Fragments `tombstones` (in any order; empty ranges are ignored).
    pub fn new(tombstones: impl IntoIterator<Item = RangeTombstone>) -> Self {
        // A sweep over the boundaries: at each boundary, the tombstones that started at or
        // before it and end after it cover the piece up to the next boundary.
        let mut tombstones: Vec<RangeTombstone> = tombstones
            .into_iter()
            .filter(|tombstone| tombstone.start < tombstone.end)
            .collect();
        if tombstones.is_empty() {
            return Fragments::empty();
        }
        tombstones.sort_by(|a, b| a.start.cmp(&b.start));
        let mut boundaries: Vec<&[u8]> = tombstones
            .iter()
            .flat_map(|tombstone| [tombstone.start.as_slice(), tombstone.end.as_slice()])
            .collect();
        boundaries.sort_unstable();
        boundaries.dedup();
        let mut pieces: Vec<Fragment> = Vec::new();
        // Active tombstones by end key: their sequence numbers.
        let mut active: BTreeMap<&[u8], Vec<SequenceNumber>> = BTreeMap::new();
        let mut next = 0;
        for pair in boundaries.windows(2) {
            let (start, end) = (pair[0], pair[1]);
            while let Some(tombstone) = tombstones.get(next)
                && tombstone.start.as_slice() <= start
            {
                active
                    .entry(tombstone.end.as_slice())
                    .or_default()
                    .push(tombstone.sequence);
                next += 1;
            }
            // Tombstones ending at or before this piece's start no longer cover anything.
            while let Some((&first_end, _)) = active.first_key_value()
                && first_end <= start
            {
                active.pop_first();
            }
            if active.is_empty() {
                continue;
            }
            let mut sequences: Vec<SequenceNumber> = active.values().flatten().copied().collect();
            sequences.sort_unstable_by(|a, b| b.cmp(a));
            sequences.dedup();
            // Neighbours with the same tombstones are one piece.
            if let Some(last) = pieces.last_mut()
                && last.end.as_slice() == start
                && last.sequences == sequences
            {
                last.end = end.to_vec();
                continue;
            }
            pieces.push(Fragment {
                start: start.to_vec(),
                end: end.to_vec(),
                sequences,
            });
        }
        Fragments { pieces }
    }

    /// These tombstones all at `sequence`: what a table read at a global sequence number
    /// (FORMAT.md 6.1, tag 14) holds, whatever sequence numbers its file gives them.
    pub fn at_sequence(&self, sequence: SequenceNumber) -> Self {
        Fragments::new(self.tombstones().map(|tombstone| RangeTombstone {
            sequence,
            ..tombstone
        }))
    }

    /// The tombstones of every one of `sources`, fragmented together (one non-empty source is
    /// copied as it is: its pieces are fragmented already).
    pub fn merge<'a>(sources: impl IntoIterator<Item = &'a Fragments>) -> Self {
        let sources: Vec<&Fragments> = sources
            .into_iter()
            .filter(|source| !source.is_empty())
            .collect();
        match sources.as_slice() {
            [] => Fragments::empty(),
            [only] => Fragments::clone(only),
            _ => Fragments::new(sources.into_iter().flat_map(Fragments::tombstones)),
        }
    }

    /// Whether there is no tombstone.
    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// The pieces, by start key.
    pub fn pieces(&self) -> &[Fragment] {
        &self.pieces
    }

    /// How many (piece, sequence number) pairs there are: the tombstones a table stores.
    pub fn len(&self) -> usize {
        self.pieces.iter().map(|piece| piece.sequences.len()).sum()
    }

    /// The piece holding `key`, if any.
    pub fn find(&self, key: &[u8]) -> Option<&Fragment> {
        let index = self
            .pieces
            .partition_point(|piece| piece.end.as_slice() <= key);
        self.pieces.get(index).filter(|piece| piece.contains(key))
    }

    /// [`find`](Self::find), starting from `hint` (the index a previous call left there): a
    /// walk over increasing or decreasing keys costs two comparisons per key, and a binary
    /// search only when it crosses a piece's end.
    pub fn find_from(&self, hint: &mut usize, key: &[u8]) -> Option<&Fragment> {
        let pieces = &self.pieces;
        let index = *hint;
        let after_previous = index == 0
            || pieces
                .get(index - 1)
                .is_some_and(|previous| previous.end.as_slice() <= key);
        let before_end = pieces
            .get(index)
            .is_none_or(|piece| key < piece.end.as_slice());
        if !(after_previous && before_end) {
            *hint = self.position_after(key);
        }
        pieces.get(*hint).filter(|piece| piece.contains(key))
    }

    /// Whether every piece lists exactly one tombstone, at or below `read`: then the pieces are
    /// already what [`visible_at`](Self::visible_at) would make of them.
    pub fn is_visible_as_is(&self, read: SequenceNumber) -> bool {
        self.pieces
            .iter()
            .all(|piece| matches!(piece.sequences.as_slice(), [only] if *only <= read))
    }

    /// The index of the first piece ending after `key` (the piece holding `key`, or the next).
    pub fn position_after(&self, key: &[u8]) -> usize {
        self.pieces
            .partition_point(|piece| piece.end.as_slice() <= key)
    }

    /// The newest tombstone covering `key` that a reader at `read` sees.
    pub fn covering(&self, key: &[u8], read: SequenceNumber) -> Option<SequenceNumber> {
        self.find(key)?.newest_at(read)
    }

    /// Every (piece, sequence number) as a tombstone, by start key, newest first.
    pub fn tombstones(&self) -> impl Iterator<Item = RangeTombstone> + '_ {
        self.pieces.iter().flat_map(|piece| {
            piece.sequences.iter().map(|&sequence| RangeTombstone {
                start: piece.start.clone(),
                end: piece.end.clone(),
                sequence,
            })
        })
    }

    /// What a reader at `read` sees: each piece with only its newest tombstone at or below
    /// `read` (pieces it sees none of are left out).
    pub fn visible_at(&self, read: SequenceNumber) -> Fragments {
        let pieces = self
            .pieces
            .iter()
            .filter_map(|piece| {
                piece.newest_at(read).map(|sequence| Fragment {
                    start: piece.start.clone(),
                    end: piece.end.clone(),
                    sequences: vec![sequence],
                })
            })
            .collect();
        Fragments { pieces }
    }

    /// The pieces cut to `[lower, upper)` (`None`: unbounded on that side), for a table that
    /// holds that part of the key space.
    pub fn clipped(&self, lower: Option<&[u8]>, upper: Option<&[u8]>) -> Fragments {
        let pieces = self
            .pieces
            .iter()
            .filter_map(|piece| {
                let start = match lower {
                    Some(lower) if lower > piece.start.as_slice() => lower,
                    _ => piece.start.as_slice(),
                };
                let end = match upper {
                    Some(upper) if upper < piece.end.as_slice() => upper,
                    _ => piece.end.as_slice(),
                };
                (start < end).then(|| Fragment {
                    start: start.to_vec(),
                    end: end.to_vec(),
                    sequences: piece.sequences.clone(),
                })
            })
            .collect();
        Fragments { pieces }
    }

    /// Keeps in each piece only the sequence numbers `keep(start, end, sequence)` accepts
    /// (newest first within a piece); drops emptied pieces.
    pub fn retain(&mut self, mut keep: impl FnMut(&[u8], &[u8], SequenceNumber) -> bool) {
        for piece in &mut self.pieces {
            let (start, end) = (piece.start.as_slice(), piece.end.as_slice());
            piece
                .sequences
                .retain(|&sequence| keep(start, end, sequence));
        }
        self.pieces.retain(|piece| !piece.sequences.is_empty());
    }

    /// The lowest and highest sequence numbers of any tombstone.
    pub fn sequence_range(&self) -> Option<(SequenceNumber, SequenceNumber)> {
        let sequences = self.pieces.iter().flat_map(|piece| piece.sequences.iter());
        let smallest = sequences.clone().min()?;
        let largest = sequences.max()?;
        Some((*smallest, *largest))
    }

    /// The first start and the last end.
    pub fn key_range(&self) -> Option<(&[u8], &[u8])> {
        Some((
            self.pieces.first()?.start.as_slice(),
            self.pieces.last()?.end.as_slice(),
        ))
    }

    /// The block contents (FORMAT.md 5.10): `varint64 piece count`, then per piece its start
    /// and end (length-prefixed), `varint32` sequence count and the sequence numbers
    /// (`varint64`, newest first).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_varint64(&mut out, self.pieces.len() as u64);
        for piece in &self.pieces {
            put_length_prefixed(&mut out, &piece.start);
            put_length_prefixed(&mut out, &piece.end);
            put_varint32(&mut out, piece.sequences.len() as u32);
            for sequence in &piece.sequences {
                put_varint64(&mut out, sequence.0);
            }
        }
        out
    }

    /// Decodes [`encode`](Self::encode)'s bytes, checking every invariant of the module
    /// documentation; the error's offset is within `contents`.
    pub fn decode(contents: &[u8]) -> Result<Fragments, DecodeError> {
        let mut cursor = Cursor::new(contents);
        let count = cursor.varint64()?;
        // Each piece takes at least four bytes: no count above that can be honest.
        if count > (contents.len() / 4) as u64 {
            return Err(cursor.error("range tombstone count larger than the block"));
        }
        let mut pieces: Vec<Fragment> = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let at = cursor.position();
            let start = cursor.length_prefixed()?;
            let end = cursor.length_prefixed()?;
            if start.len() > MAX_KEY_SIZE || end.len() > MAX_KEY_SIZE {
                return Err(DecodeError {
                    offset: at,
                    reason: "range tombstone key over the size limit",
                });
            }
            if start >= end {
                return Err(DecodeError {
                    offset: at,
                    reason: "range tombstone does not end after its start",
                });
            }
            if pieces
                .last()
                .is_some_and(|previous| previous.end.as_slice() > start)
            {
                return Err(DecodeError {
                    offset: at,
                    reason: "range tombstones out of order or overlapping",
                });
            }
            let sequence_count = cursor.varint32()?;
            if sequence_count == 0 || sequence_count as usize > cursor.remaining() {
                return Err(cursor.error("bad sequence count in a range tombstone"));
            }
            let mut sequences = Vec::with_capacity(sequence_count as usize);
            for _ in 0..sequence_count {
                let sequence = SequenceNumber(cursor.varint64()?);
                if sequence > SequenceNumber::MAX
                    || sequences.last().is_some_and(|&newer| newer <= sequence)
                {
                    return Err(
                        cursor.error("range tombstone sequence numbers not strictly descending")
                    );
                }
                sequences.push(sequence);
            }
            pieces.push(Fragment {
                start: start.to_vec(),
                end: end.to_vec(),
                sequences,
            });
        }
        if !cursor.is_empty() {
            return Err(cursor.error("bytes after the last range tombstone"));
        }
        Ok(Fragments { pieces })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tombstone(start: &str, end: &str, sequence: u64) -> RangeTombstone {
        RangeTombstone {
            start: start.as_bytes().to_vec(),
            end: end.as_bytes().to_vec(),
            sequence: SequenceNumber(sequence),
        }
    }

    fn shape(fragments: &Fragments) -> Vec<(String, String, Vec<u64>)> {
        fragments
            .pieces()
            .iter()
            .map(|piece| {
                (
                    String::from_utf8(piece.start.clone()).unwrap(),
                    String::from_utf8(piece.end.clone()).unwrap(),
                    piece.sequences.iter().map(|s| s.0).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn overlapping_tombstones_are_cut_at_every_boundary() {
        let fragments = Fragments::new([
            tombstone("c", "g", 5),
            tombstone("a", "e", 3),
            tombstone("k", "m", 7),
            tombstone("x", "x", 9), // empty: ignored
        ]);
        assert_eq!(
            shape(&fragments),
            vec![
                ("a".into(), "c".into(), vec![3]),
                ("c".into(), "e".into(), vec![5, 3]),
                ("e".into(), "g".into(), vec![5]),
                ("k".into(), "m".into(), vec![7]),
            ]
        );
        assert_eq!(fragments.len(), 5);
        assert_eq!(fragments.covering(b"d", SequenceNumber(10)), Some(SequenceNumber(5)));
        assert_eq!(fragments.covering(b"d", SequenceNumber(4)), Some(SequenceNumber(3)));
        assert_eq!(fragments.covering(b"d", SequenceNumber(2)), None);
        assert_eq!(fragments.covering(b"g", SequenceNumber(10)), None);
        assert_eq!(fragments.covering(b"h", SequenceNumber(10)), None);
        assert_eq!(fragments.covering(b"a", SequenceNumber(3)), Some(SequenceNumber(3)));
        // Fragmenting fragments changes nothing.
        assert_eq!(Fragments::merge([&fragments]), fragments);
    }

    #[test]
    fn encoding_matches_format_md() {
        let fragments = Fragments::new([tombstone("a", "e", 3), tombstone("c", "g", 5)]);
        let expected: Vec<u8> = [
            &[3][..],                                 // 3 pieces
            &[1, b'a', 1, b'c', 1, 3],                // [a, c): 3
            &[1, b'c', 1, b'e', 2, 5, 3],             // [c, e): 5, 3
            &[1, b'e', 1, b'g', 1, 5],                // [e, g): 5
        ]
        .concat();
        assert_eq!(fragments.encode(), expected);
    }

    #[test]
    fn finding_from_a_hint_agrees_with_a_search() {
        let fragments = Fragments::new([
            tombstone("b", "d", 1),
            tombstone("f", "h", 2),
            tombstone("h", "k", 3),
        ]);
        let keys = ["a", "b", "c", "d", "e", "f", "g", "h", "j", "k", "z"];
        let mut hint = 0;
        for key in keys.iter().chain(keys.iter().rev()).chain(["c", "z", "a", "g"].iter()) {
            assert_eq!(
                fragments.find_from(&mut hint, key.as_bytes()),
                fragments.find(key.as_bytes()),
                "{key}"
            );
        }
        assert!(fragments.is_visible_as_is(SequenceNumber(3)));
        assert!(!fragments.is_visible_as_is(SequenceNumber(2)));
    }

    #[test]
    fn neighbours_with_the_same_tombstones_join() {
        let fragments = Fragments::new([tombstone("a", "c", 4), tombstone("c", "e", 4)]);
        assert_eq!(shape(&fragments), vec![("a".into(), "e".into(), vec![4])]);
    }

    #[test]
    fn clipping_and_visibility() {
        let fragments = Fragments::new([tombstone("a", "m", 5), tombstone("f", "z", 8)]);
        let clipped = fragments.clipped(Some(b"c"), Some(b"h"));
        assert_eq!(
            shape(&clipped),
            vec![
                ("c".into(), "f".into(), vec![5]),
                ("f".into(), "h".into(), vec![8, 5]),
            ]
        );
        let seen = fragments.visible_at(SequenceNumber(6));
        assert_eq!(
            shape(&seen),
            vec![
                ("a".into(), "f".into(), vec![5]),
                ("f".into(), "m".into(), vec![5]),
            ]
        );
        let mut kept = fragments.clone();
        kept.retain(|_, _, sequence| sequence.0 > 6);
        assert_eq!(
            shape(&kept),
            vec![
                ("f".into(), "m".into(), vec![8]),
                ("m".into(), "z".into(), vec![8])
            ]
        );
        assert_eq!(
            fragments.sequence_range(),
            Some((SequenceNumber(5), SequenceNumber(8)))
        );
        assert_eq!(fragments.key_range(), Some((&b"a"[..], &b"z"[..])));
    }

    #[test]
    fn encoding_round_trips_and_damage_is_an_error() {
        let fragments = Fragments::new([tombstone("c", "g", 5), tombstone("a", "e", 3)]);
        let encoded = fragments.encode();
        assert_eq!(Fragments::decode(&encoded).unwrap(), fragments);
        for cut in 0..encoded.len() {
            assert!(Fragments::decode(&encoded[..cut]).is_err(), "cut at {cut}");
        }
        let mut trailing = encoded.clone();
        trailing.push(0);
        assert!(Fragments::decode(&trailing).is_err());
        // Out of order: the second piece starts before the first ends.
        let bad = Fragments {
            pieces: vec![
                Fragment {
                    start: b"c".to_vec(),
                    end: b"g".to_vec(),
                    sequences: vec![SequenceNumber(2)],
                },
                Fragment {
                    start: b"d".to_vec(),
                    end: b"h".to_vec(),
                    sequences: vec![SequenceNumber(1)],
                },
            ],
        };
        let error = Fragments::decode(&bad.encode()).unwrap_err();
        assert!(error.reason.contains("out of order"), "{error:?}");
        let ascending = Fragments {
            pieces: vec![Fragment {
                start: b"a".to_vec(),
                end: b"b".to_vec(),
                sequences: vec![SequenceNumber(1), SequenceNumber(2)],
            }],
        };
        assert!(Fragments::decode(&ascending.encode()).is_err());
    }
}
