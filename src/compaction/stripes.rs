//! Which versions of a key a reader can still see, given the live snapshots — the rule that
//! both flushes and compactions use to drop versions nobody can read.
//!
//! Snapshots split sequence numbers into stripes: stripe `i` holds the sequence numbers above
//! snapshot `i - 1` and at most snapshot `i`; the last stripe holds everything newer than the
//! newest snapshot. A reader at a snapshot (or at the latest state) sees, for each key, the
//! newest version at or below its sequence number; so of the versions of one key, exactly the
//! newest in each stripe is visible to someone, and every other version can be dropped.

use crate::key::{SequenceNumber, ValueKind};
use crate::range_tombstone::{Fragment, Fragments};

/// The stripe of `sequence` among `snapshots` (ascending).
fn stripe_of(snapshots: &[SequenceNumber], sequence: SequenceNumber) -> usize {
    snapshots.partition_point(|snapshot| *snapshot < sequence)
}

/// Whether the version at `sequence` of a key in `fragment` is hidden from every reader by one
/// of the fragment's range tombstones: the oldest tombstone newer than the version is in the
/// version's stripe (no snapshot between them), so every reader that sees the version sees it
/// deleted.
pub(crate) fn hidden_by_range_tombstone(
    snapshots: &[SequenceNumber],
    sequence: SequenceNumber,
    fragment: &Fragment,
) -> bool {
    // Newest first: the last one above `sequence` is the oldest above it.
    let Some(&above) = fragment
        .sequences
        .iter()
        .rev()
        .find(|&&tombstone| tombstone > sequence)
    else {
        return false;
    };
    stripe_of(snapshots, above) == stripe_of(snapshots, sequence)
}

/// Drops the range tombstones no reader needs: of each piece's tombstones, only the newest in
/// each stripe is kept (an older one in the same stripe hides nothing the newer does not), and
/// one in the oldest stripe goes when `is_base_level(start, end)` says nothing older than the
/// output can hold keys of the piece (every version it hides is then dropped with it).
pub(crate) fn prune_range_tombstones(
    fragments: &mut Fragments,
    snapshots: &[SequenceNumber],
    mut is_base_level: impl FnMut(&[u8], &[u8]) -> bool,
) {
    // The piece (by its start) and the stripe of the last tombstone looked at.
    let mut last: Option<(Vec<u8>, usize)> = None;
    fragments.retain(|start, end, sequence| {
        let stripe = stripe_of(snapshots, sequence);
        if last
            .as_ref()
            .is_some_and(|(last_start, newer)| last_start.as_slice() == start && *newer == stripe)
        {
            return false;
        }
        last = Some((start.to_vec(), stripe));
        !(stripe == 0 && is_base_level(start, end))
    });
}

/// Walks the versions of each key newest first and says which are visible.
pub(crate) struct SnapshotStripes<'a> {
    /// Live snapshots, ascending.
    snapshots: &'a [SequenceNumber],
    current_key: Option<Vec<u8>>,
    last_stripe: usize,
    /// Whether the last version admitted is a merge operand: the version below it in the same
    /// stripe is its base (or another operand), and some reader needs it too.
    below_operand: bool,
}

/// What [`SnapshotStripes::admit`] decides about one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Admission {
    /// Whether some reader can see this version.
    pub visible: bool,
    /// Whether it is in the oldest stripe (no snapshot can see an older version of its key).
    pub oldest_stripe: bool,
    /// Whether it is visible only because a merge operand above it in its stripe is: it is
    /// that operand's base, or another operand below it.
    pub below_operand: bool,
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
            below_operand: false,
        }
    }

    /// Decides about the next version in internal-key order (user key ascending, sequence
    /// number descending), of kind `kind`. A merge operand that is visible makes the version
    /// below it in its stripe visible too (the operand means nothing without it), and so on
    /// down to the first put or tombstone.
    pub fn admit(
        &mut self,
        user_key: &[u8],
        sequence: SequenceNumber,
        kind: ValueKind,
    ) -> Admission {
        if self.current_key.as_deref() != Some(user_key) {
            // The buffer is reused: one allocation per flush or compaction, not one per key.
            let current = self.current_key.get_or_insert_with(Vec::new);
            current.clear();
            current.extend_from_slice(user_key);
            self.last_stripe = usize::MAX;
            self.below_operand = false;
        }
        let stripe = self
            .snapshots
            .partition_point(|snapshot| *snapshot < sequence);
        let newest_in_stripe = stripe != self.last_stripe;
        let below_operand = !newest_in_stripe && self.below_operand;
        let visible = newest_in_stripe || below_operand;
        self.last_stripe = stripe;
        self.below_operand = visible && kind == ValueKind::Merge;
        Admission {
            visible,
            oldest_stripe: stripe == 0,
            below_operand,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::range_tombstone::RangeTombstone;

    #[test]
    fn a_visible_operand_keeps_the_versions_below_it_in_its_stripe_only() {
        use ValueKind::{Merge, Tombstone, Value};
        // One snapshot at 5: stripes (5, ..] and [.., 5].
        let snapshots = [SequenceNumber(5)];
        let mut stripes = SnapshotStripes::new(&snapshots);
        let decisions: Vec<(bool, bool)> = [
            (9, Merge),     // newest of the upper stripe
            (8, Merge),     // below an operand: kept
            (7, Value),     // the operands' base: kept
            (6, Merge),     // below a put in its stripe: dropped
            (5, Merge),     // newest of the lower stripe
            (4, Tombstone), // its base: kept
            (3, Value),     // below a tombstone: dropped
        ]
        .iter()
        .map(|&(sequence, kind)| {
            let admission = stripes.admit(b"k", SequenceNumber(sequence), kind);
            (admission.visible, admission.below_operand)
        })
        .collect();
        assert_eq!(
            decisions,
            [
                (true, false),
                (true, true),
                (true, true),
                (false, false),
                (true, false),
                (true, true),
                (false, false)
            ]
        );
        // An operand at the end of a stripe does not reach into the next one, nor into the
        // next key.
        let mut stripes = SnapshotStripes::new(&snapshots);
        assert!(stripes.admit(b"k", SequenceNumber(6), Merge).visible);
        let below = stripes.admit(b"k", SequenceNumber(5), Value);
        assert!(below.visible && !below.below_operand);
        assert!(!stripes.admit(b"k", SequenceNumber(4), Value).visible);
        assert!(stripes.admit(b"j", SequenceNumber(9), Merge).visible);
        assert!(!stripes.admit(b"l", SequenceNumber(8), Value).below_operand);
    }

    fn piece(sequences: &[u64]) -> Fragments {
        Fragments::new(sequences.iter().map(|&sequence| RangeTombstone {
            start: b"a".to_vec(),
            end: b"z".to_vec(),
            sequence: SequenceNumber(sequence),
        }))
    }

    #[test]
    fn range_tombstones_hide_versions_in_their_stripe_only() {
        let snapshots = [SequenceNumber(5)];
        let fragments = piece(&[8, 3]);
        let fragment = &fragments.pieces()[0];
        // 4 is hidden by 8, but the snapshot at 5 sees it: kept.
        assert!(!hidden_by_range_tombstone(
            &snapshots,
            SequenceNumber(4),
            fragment
        ));
        // 2 is hidden by 3 in the oldest stripe.
        assert!(hidden_by_range_tombstone(
            &snapshots,
            SequenceNumber(2),
            fragment
        ));
        assert!(hidden_by_range_tombstone(
            &snapshots,
            SequenceNumber(7),
            fragment
        ));
        assert!(!hidden_by_range_tombstone(
            &snapshots,
            SequenceNumber(9),
            fragment
        ));
        // Without the snapshot, 4 is hidden too.
        assert!(hidden_by_range_tombstone(&[], SequenceNumber(4), fragment));
    }

    #[test]
    fn pruning_keeps_the_newest_tombstone_per_stripe() {
        let snapshots = [SequenceNumber(5)];
        let mut fragments = piece(&[9, 8, 4, 3]);
        prune_range_tombstones(&mut fragments, &snapshots, |_, _| false);
        assert_eq!(
            fragments.pieces()[0].sequences,
            [SequenceNumber(9), SequenceNumber(4)]
        );
        // At the base level the oldest stripe's tombstone goes too.
        prune_range_tombstones(&mut fragments, &snapshots, |_, _| true);
        assert_eq!(fragments.pieces()[0].sequences, [SequenceNumber(9)]);
        let mut fragments = piece(&[9, 8]);
        prune_range_tombstones(&mut fragments, &[], |_, _| true);
        assert!(fragments.is_empty());
    }

    fn visible(snapshots: &[u64], versions: &[(&[u8], u64)]) -> Vec<bool> {
        let snapshots: Vec<_> = snapshots.iter().copied().map(SequenceNumber).collect();
        let mut stripes = SnapshotStripes::new(&snapshots);
        versions
            .iter()
            .map(|(key, sequence)| {
                stripes
                    .admit(key, SequenceNumber(*sequence), ValueKind::Value)
                    .visible
            })
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
        assert!(
            !stripes
                .admit(b"k", SequenceNumber(7), ValueKind::Value)
                .oldest_stripe
        );
        assert!(
            stripes
                .admit(b"k", SequenceNumber(5), ValueKind::Value)
                .oldest_stripe
        );
    }
}
