//! Sync markers: the write-ahead-log records that say how far the log is known to be synced,
//! so that recovery after a power loss can tell an unsynced tail that reached the disk with
//! holes (later pages written before earlier ones) from damage to synced data. FORMAT.md 7.1 is
//! the source of truth for the bytes.
//!
//! A commit group whose log was synced further since the last marker writes one marker before
//! its batches, in the same write: "every byte of this log before offset S was made durable by
//! an fdatasync that completed before this record was written". An intact marker is therefore
//! proof, and recovery believes the largest one it finds anywhere in the log, even past damage.
//!
//! A marker is told apart from a write batch by its first twelve bytes: a batch's first sequence
//! number is at least 1 and its count at least 1, a marker's are both zero.

/// Size of a sync marker record's payload: 8 zero bytes (first sequence 0), 4 zero bytes (count
/// 0), the synced offset (u64 LE). Part of the on-disk format; never change.
pub const SYNC_MARKER_SIZE: usize = 20;

/// The payload of a sync marker claiming that the log is durable through `synced_through`.
pub fn encode_sync_marker(synced_through: u64) -> [u8; SYNC_MARKER_SIZE] {
    let mut marker = [0u8; SYNC_MARKER_SIZE];
    marker[12..].copy_from_slice(&synced_through.to_le_bytes());
    marker
}

/// The offset a sync marker claims, or `None` if `payload` is not a sync marker (a write batch,
/// or damage for the batch decoder to name).
pub fn decode_sync_marker(payload: &[u8]) -> Option<u64> {
    let (prefix, offset) = payload.split_at_checked(12)?;
    if prefix.iter().any(|&byte| byte != 0) {
        return None;
    }
    let offset: [u8; 8] = offset.try_into().ok()?;
    Some(u64::from_le_bytes(offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_and_batches_are_not_markers() {
        let marker = encode_sync_marker(0x0102_0304_0506_0708);
        assert_eq!(decode_sync_marker(&marker), Some(0x0102_0304_0506_0708));
        // A write batch: first sequence 7, count 1, a put.
        let mut batch = 7u64.to_le_bytes().to_vec();
        batch.extend_from_slice(&1u32.to_le_bytes());
        batch.extend_from_slice(&[1, 1, b'k', 1, b'v']);
        assert_eq!(decode_sync_marker(&batch), None);
        // Twelve zero bytes but the wrong length: damage, not a marker.
        assert_eq!(decode_sync_marker(&[0u8; 19]), None);
        assert_eq!(decode_sync_marker(&[0u8; 21]), None);
        assert_eq!(decode_sync_marker(&[]), None);
    }
}
