//! A `DurableTicket` that reports durable really is (issue 16): writers append through
//! `Db::write_durable` while syncs run beside them, the power is cut the moment one ticket's
//! `wait` returns, and after the reopen every write whose ticket reported durable is there —
//! with each writer's recovered writes a prefix of its own. Through
//! `shaledb::vfs::FaultFileSystem`, whose syncs cover only the writes made before they began,
//! under its power-loss models (exactly the synced content; or any subset of the unsynced
//! pages, some torn), each cycle with its own seed.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use shaledb::vfs::{FaultFileSystem, PowerLossModel};
use shaledb::{Db, DurableTicket, Options, WriteBatch};

const WRITERS: usize = 4;
/// The ticket of writer 0 whose completion cuts the power.
const WATCHED: usize = 30;

fn options(file_system: &FaultFileSystem) -> Options {
    Options {
        file_system: Arc::new(file_system.clone()),
        ..Options::default()
    }
}

fn key(writer: usize, index: usize) -> Vec<u8> {
    format!("{writer}-{index:05}").into_bytes()
}

/// Writer `writer` appends until a write fails (the power loss) or `stop`; returns its tickets
/// in order.
fn append(db: &Db, writer: usize, stop: &AtomicBool) -> Vec<DurableTicket> {
    let mut tickets = Vec::new();
    for index in 0.. {
        if stop.load(Ordering::Acquire) {
            break;
        }
        let mut batch = WriteBatch::new();
        batch.put(&key(writer, index), &[index as u8; 300]).unwrap();
        match db.write_durable(batch) {
            Ok(ticket) => tickets.push(ticket),
            Err(_) => break,
        }
        if index % 16 == 15 {
            std::thread::yield_now();
        }
    }
    tickets
}

fn run_cycle(cycle: u64, model: PowerLossModel) {
    let context = format!("cycle {cycle}, {model:?}");
    let dir = common::temp_dir();
    let file_system = FaultFileSystem::new();
    file_system.set_power_loss_model(model);
    let db = Arc::new(Db::open(dir.path(), options(&file_system)).unwrap());
    file_system.set_sync_latency(Duration::from_millis(1));
    let stop = Arc::new(AtomicBool::new(false));
    let (watched_sender, watched) = std::sync::mpsc::channel();
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (db, stop) = (Arc::clone(&db), Arc::clone(&stop));
            let watched_sender = watched_sender.clone();
            std::thread::spawn(move || {
                if writer > 0 {
                    return append(&db, writer, &stop);
                }
                let mut tickets = Vec::new();
                for index in 0..=WATCHED {
                    let mut batch = WriteBatch::new();
                    batch.put(&key(0, index), &[index as u8; 300]).unwrap();
                    tickets.push(db.write_durable(batch).unwrap());
                }
                let watched = tickets.pop().unwrap();
                watched_sender.send(watched).unwrap();
                tickets
            })
        })
        .collect();
    let ticket = watched.recv().unwrap();
    ticket
        .wait()
        .unwrap_or_else(|error| panic!("{context}: {error}"));
    // The power goes the moment the ticket says durable.
    file_system.power_loss();
    stop.store(true, Ordering::Release);
    let mut durable_through = Vec::new();
    for (writer, thread) in writers.into_iter().enumerate() {
        let tickets = thread.join().unwrap();
        let last_durable = tickets.iter().rposition(DurableTicket::is_durable);
        // Tickets complete in commit order: none is durable after one that is not.
        if let Some(last) = last_durable {
            assert!(
                tickets[..last].iter().all(DurableTicket::is_durable),
                "{context}: writer {writer} has a durable ticket after a pending one"
            );
        }
        let through = match writer {
            0 => Some(WATCHED),
            _ => last_durable,
        };
        durable_through.push(through);
    }
    drop(Arc::into_inner(db).expect("the writers are done"));
    file_system.restart();
    let db = Db::open(dir.path(), options(&file_system))
        .unwrap_or_else(|error| panic!("{context}: reopen: {error}"));
    for (writer, through) in durable_through.into_iter().enumerate() {
        let present = (0..)
            .take_while(|&index| db.get(&key(writer, index)).unwrap().is_some())
            .count();
        if let Some(through) = through {
            assert!(
                present > through,
                "{context}: writer {writer}: write {through} was reported durable, only {present} survived"
            );
        }
        // Nothing after a lost write: the survivors are a prefix.
        assert_eq!(
            db.get(&key(writer, present + 1)).unwrap(),
            None,
            "{context}: writer {writer}: a write survived without the one before it"
        );
    }
}

#[test]
fn a_ticket_that_reports_durable_survives_a_power_loss_right_after() {
    let seed = common::test_seed("a_ticket_that_reports_durable_survives_a_power_loss_right_after");
    let cycles = common::count_from_env("SHALEDB_DURABILITY_CYCLES", 6);
    for cycle in 0..cycles {
        let model = match cycle % 2 {
            0 => PowerLossModel::Synced,
            _ => PowerLossModel::Pages {
                seed: seed.wrapping_add(cycle),
            },
        };
        run_cycle(cycle, model);
    }
}
