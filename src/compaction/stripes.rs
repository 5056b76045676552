//! Which versions of a key a reader can still see, given the live snapshots — the rule that
//! both flushes and compactions use to drop versions nobody can read.
//!
//! Snapshots split sequence numbers into stripes: stripe `i` holds the sequence numbers above
//! snapshot `i - 1` and at most snapshot `i`; the last stripe holds everything newer than the
//! newest snapshot. A reader at a snapshot (or at the latest state) sees, for each key, the
//! newest version at or below its sequence number; so of the versions of one key, exactly the
//! newest in each stripe is visible to someone, and every other version can be dropped.

use crate::key::SequenceNumber;

/// Walks the versions of each key newest first and says which are visible.
pub(crate) struct SnapshotStripes<'a> {
    /// Live snapshots, ascending.
    snapshots: &'a [SequenceNumber],
    current_key: Option<Vec<u8>>,
    last_stripe: usize,
}

/// What [`SnapshotStripes::admit`] decides about one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Admission {
    /// Whether some reader can see this version.
    pub visible: bool,
    /// Whether it is in the oldest stripe (no snapshot can see an older version of its key).
    pub oldest_stripe: bool,
}

impl<'a> SnapshotStripes<'a> {
    /// Stripes for `snapshots`, which must be ascending.
    pub fn new(snapshots: &'a [SequenceNumber]) -> Self {
        debug_assert!(
            snapshots.windows(2).all(|pair| pair[0] <= pair[1]),
            "snapshots out of order"
        );
        SnapshotStripes {
            snapshots,
            current_key: None,
            last_stripe: usize::MAX,
        }
    }

    /// Decides about the next version in internal-key order (user key ascending, sequence
    /// number descending).
    pub fn admit(&mut self, user_key: &[u8], sequence: SequenceNumber) -> Admission {
        if self.current_key.as_deref() != Some(user_key) {
            self.current_key = Some(user_key.to_vec());
            self.last_stripe = usize::MAX;
        }
        let stripe = self
            .snapshots
            .partition_point(|snapshot| *snapshot < sequence);
        let visible = stripe != self.last_stripe;
        self.last_stripe = stripe;
        Admission {
            visible,
            oldest_stripe: stripe == 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visible(snapshots: &[u64], versions: &[(&[u8], u64)]) -> Vec<bool> {
        let snapshots: Vec<_> = snapshots.iter().copied().map(SequenceNumber).collect();
        let mut stripes = SnapshotStripes::new(&snapshots);
        versions
            .iter()
            .map(|(key, sequence)| stripes.admit(key, SequenceNumber(*sequence)).visible)
            .collect()
    }

    #[test]
    fn without_snapshots_only_the_newest_version_is_visible() {
        let versions: &[(&[u8], u64)] = &[(b"a", 9), (b"a", 5), (b"a", 1), (b"b", 3)];
        assert_eq!(visible(&[], versions), [true, false, false, true]);
    }

    #[test]
    fn each_snapshot_keeps_the_newest_version_at_or_below_it() {
        // Snapshots at 5 and 8: stripes (..=5], (5..=8], (8..).
        let versions: &[(&[u8], u64)] = &[
            (b"a", 10),
            (b"a", 9),
            (b"a", 8),
            (b"a", 6),
            (b"a", 5),
            (b"a", 2),
        ];
        assert_eq!(
            visible(&[5, 8], versions),
            [true, false, true, false, true, false]
        );
        let snapshots = [SequenceNumber(5)];
        let mut stripes = SnapshotStripes::new(&snapshots);
        assert!(!stripes.admit(b"k", SequenceNumber(7)).oldest_stripe);
        assert!(stripes.admit(b"k", SequenceNumber(5)).oldest_stripe);
    }
}
