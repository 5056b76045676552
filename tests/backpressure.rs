//! Write backpressure and manifest rollover under constant compaction: when level 0 piles up,
//! writes are slowed down or stopped (never failed) and level 0 stays bounded, and `pressure()`
//! reports it consistently; a tiny `max_manifest_size` makes the manifest roll over repeatedly
//! without losing data or leaving old manifests behind.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{
    Model, Rng, assert_matches_model, check_levels_on_disk, files_ending_with, temp_dir, test_seed,
    tiny_options,
};
use shaledb::{Db, Options};

const KEY_SPACE: u64 = 20_000;

fn key(index: u64) -> Vec<u8> {
    format!("key{index:08}").into_bytes()
}

fn random_pair(rng: &mut Rng) -> (Vec<u8>, Vec<u8>) {
    let length = rng.between(100, 300);
    (key(rng.below(KEY_SPACE)), rng.bytes(length))
}

/// Level 0 may grow to 12 files before writes stop, one thread compacts, and up to four frozen
/// memtables wait for the flush thread, so that flushes outrun compaction.
fn piling_options() -> Options {
    Options {
        level0_compaction_trigger: 8,
        // Only the file count starts a level-0 compaction, so that flushes can outrun it.
        level0_size_percent_trigger: 0,
        level0_slowdown_trigger: 10,
        level0_stop_trigger: 12,
        background_threads: 1,
        max_immutable_memtables: 4,
        ..tiny_options()
    }
}

/// Samples `pressure()` and `stats()` until `stop`; returns the most level-0 files seen and
/// whether a sample saw a write rate with both time estimates.
fn monitor(db: Arc<Db>, stop: Arc<AtomicBool>, options: Options, context: String) -> (usize, bool) {
    let mut most_level0 = 0;
    let mut saw_estimates = false;
    while !stop.load(Ordering::Acquire) {
        let pressure = db.pressure();
        most_level0 = most_level0.max(pressure.level0_files);
        most_level0 = most_level0.max(db.stats().levels[0].files);
        assert_eq!(
            pressure.level0_files_until_slowdown,
            options
                .level0_slowdown_trigger
                .saturating_sub(pressure.level0_files),
            "{context}: {pressure:?}"
        );
        assert_eq!(
            pressure.level0_files_until_stop,
            options
                .level0_stop_trigger
                .saturating_sub(pressure.level0_files),
            "{context}: {pressure:?}"
        );
        assert!(
            pressure.immutable_memtables <= options.max_immutable_memtables,
            "{context}: {pressure:?}"
        );
        if pressure.write_rate_bytes_per_second > 0.0 {
            assert!(
                pressure.time_until_slowdown.is_some() && pressure.time_until_stop.is_some(),
                "{context}: a write rate but no time estimates: {pressure:?}"
            );
            saw_estimates = true;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    (most_level0, saw_estimates)
}

#[test]
fn writes_slow_down_and_stop_while_level0_piles_up_but_all_succeed() {
    let seed = test_seed("writes_slow_down_and_stop_while_level0_piles_up_but_all_succeed");
    let mut rng = Rng::new(seed);
    let dir = temp_dir();
    let options = piling_options();
    let db = Arc::new(Db::open(dir.path(), options.clone()).unwrap());
    let context = format!("seed {seed}");
    let stop = Arc::new(AtomicBool::new(false));
    let monitor_thread = {
        let (db, stop) = (Arc::clone(&db), Arc::clone(&stop));
        let (options, context) = (options.clone(), context.clone());
        std::thread::spawn(move || monitor(db, stop, options, context))
    };
    let mut model = Model::new();
    // Random keys over the whole key space: every flush overlaps all of level 1, so each
    // level-0 compaction rewrites level 1 and falls behind the flushes.
    for _ in 0..60_000 {
        let (key, value) = random_pair(&mut rng);
        db.put(&key, &value)
            .unwrap_or_else(|error| panic!("{context}: a write failed: {error}"));
        model.insert(key, value);
    }
    stop.store(true, Ordering::Release);
    let (most_level0, saw_estimates) = monitor_thread.join().expect("the monitor panicked");
    let stats = db.stats();
    eprintln!("{context}: at most {most_level0} level-0 files\n{stats}");
    assert!(
        stats.slowdown_count > 0 || stats.stall_count > 0,
        "{context}: level 0 never slowed writes down: {stats}"
    );
    // Writes stop at the stop trigger; the frozen memtables already waiting still flush.
    let bound = options.level0_stop_trigger + options.max_immutable_memtables + 1;
    assert!(
        most_level0 <= bound,
        "{context}: level 0 reached {most_level0} files (bound {bound})"
    );
    assert!(
        saw_estimates,
        "{context}: pressure() never reported a write rate"
    );
    let pressure = db.pressure();
    let stats = db.stats();
    assert_eq!(pressure.level0_files, stats.levels[0].files, "{context}");
    db.wait_for_compaction().unwrap();
    assert_matches_model(&db, &model, &context);
    db.close().unwrap();
    check_levels_on_disk(dir.path(), &context);
}

#[test]
fn the_manifest_rolls_over_and_old_manifests_are_deleted() {
    let seed = test_seed("the_manifest_rolls_over_and_old_manifests_are_deleted");
    let mut rng = Rng::new(seed);
    let dir = temp_dir();
    let options = Options {
        max_manifest_size: 4 << 10,
        ..tiny_options()
    };
    let context = format!("seed {seed}");
    let mut model = Model::new();
    let mut rolls = 0;
    for round in 0..2 {
        let db = Db::open(dir.path(), options.clone()).unwrap();
        assert_matches_model(
            &db,
            &model,
            &format!("{context}, round {round} after opening"),
        );
        for _ in 0..15_000 {
            let (key, value) = random_pair(&mut rng);
            db.put(&key, &value).unwrap();
            model.insert(key, value);
        }
        db.wait_for_compaction().unwrap();
        let stats = db.stats();
        assert!(stats.error.is_none(), "{context}: {:?}", stats.error);
        rolls += stats.manifest_rolls;
        db.close().unwrap();
        let manifests: Vec<_> = files_ending_with(dir.path(), "")
            .into_iter()
            .filter(|(name, _)| name.starts_with("MANIFEST-"))
            .collect();
        assert_eq!(
            manifests.len(),
            1,
            "{context}, round {round}: manifests left in the directory: {manifests:?}"
        );
        check_levels_on_disk(dir.path(), &context);
    }
    assert!(
        rolls > 1,
        "{context}: the manifest rolled over {rolls} times"
    );
    let db = Db::open(dir.path(), options).unwrap();
    assert_matches_model(&db, &model, &format!("{context}, after the last reopen"));
}
