//! Runs the SSTable fuzz checks (`fuzz/checks/sstable.rs`) on stable Rust: over valid tables and
//! blocks, over seeded random mutations of them, and over seeded build-and-damage inputs. The
//! ignored test `write_sstable_fuzz_corpus` writes the seed corpus under `fuzz/corpus/`.

mod common;

#[path = "../fuzz/checks/mod.rs"]
#[allow(dead_code)]
mod fuzz_checks;
use fuzz_checks::sstable as sstable_checks;

use std::path::Path;

use common::Rng;
use shaledb::key::ValueKind;
use shaledb::key::internal_key;
use shaledb::sstable::{BlockBuilder, TableBuilder};
use shaledb::{SequenceNumber, TableOptions};

fn valid_block(rng: &mut Rng, restart_interval: usize) -> Vec<u8> {
    let mut builder = BlockBuilder::new(restart_interval);
    for index in 0..20u64 {
        let key = internal_key(
            format!("key{index:03}").as_bytes(),
            SequenceNumber(index),
            ValueKind::Value,
        );
        let length = rng.between(0, 20);
        builder.add(&key, &rng.compressible_bytes(length));
    }
    builder.finish()
}

fn valid_table(rng: &mut Rng, compressible: bool) -> Vec<u8> {
    let options = TableOptions {
        block_size: 256,
        restart_interval: 2,
        ..TableOptions::default()
    };
    let mut builder = TableBuilder::in_memory(options).unwrap();
    for index in 0..30u64 {
        let key = internal_key(
            format!("user{index:03}").as_bytes(),
            SequenceNumber(100 - index),
            ValueKind::Value,
        );
        let length = rng.between(0, 60);
        let value = if compressible {
            rng.compressible_bytes(length)
        } else {
            rng.bytes(length)
        };
        builder.add(&key, &value).unwrap();
    }
    builder.finish_into_vec().unwrap().1
}

/// A build-and-damage input for `sstable_table` (first byte odd).
fn build_input(rng: &mut Rng, damage_kind: u8) -> Vec<u8> {
    let mut input = vec![1, rng.below(64) as u8, damage_kind];
    input.extend_from_slice(&rng.bytes(3));
    for _ in 0..rng.between(0, 60) {
        let key_length = rng.below(16) as u8;
        input.extend_from_slice(&[
            key_length | (rng.below(8) as u8) << 4,
            rng.below(40) as u8,
            rng.below(256) as u8,
        ]);
        input.extend_from_slice(&rng.bytes(usize::from(key_length)));
        input.extend_from_slice(&rng.compressible_bytes(40));
    }
    input
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut mutated = input.to_vec();
    for _ in 0..rng.between(1, 4) {
        if mutated.is_empty() {
            break;
        }
        let position = rng.below(mutated.len() as u64) as usize;
        match rng.below(3) {
            0 => mutated[position] ^= 1 << rng.below(8),
            1 => mutated[position] = rng.below(256) as u8,
            _ => mutated.truncate(position),
        }
    }
    mutated
}

#[test]
fn fuzz_checks_pass_on_valid_and_mutated_inputs() {
    let seed = 7;
    let mut rng = Rng::new(seed);
    for round in 0..3000 {
        let mut block = vec![(round % 2) as u8 * 2];
        block.extend(valid_block(&mut rng, 1 + round % 3));
        sstable_checks::sstable_block(&block);
        sstable_checks::sstable_block(&mutate(&mut rng, &block));
        let mut table = vec![0];
        table.extend(valid_table(&mut rng, round % 2 == 0));
        sstable_checks::sstable_table(&table);
        sstable_checks::sstable_table(&mutate(&mut rng, &table));
        sstable_checks::sstable_table(&build_input(&mut rng, (round % 4) as u8));
    }
}

#[test]
#[ignore = "writes the seed corpus; run with --ignored when the format changes"]
fn write_sstable_fuzz_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut rng = Rng::new(2024);
    let block_dir = root.join("sstable_block");
    let table_dir = root.join("sstable_table");
    std::fs::create_dir_all(&block_dir).unwrap();
    std::fs::create_dir_all(&table_dir).unwrap();
    for (index, restart_interval) in [1, 2, 16].into_iter().enumerate() {
        let mut block = vec![0];
        block.extend(valid_block(&mut rng, restart_interval));
        std::fs::write(
            block_dir.join(format!("valid_restart_{restart_interval}")),
            &block,
        )
        .unwrap();
        std::fs::write(
            block_dir.join(format!("damaged_{index}")),
            mutate(&mut rng, &block),
        )
        .unwrap();
    }
    for (name, compressible) in [("compressible", true), ("incompressible", false)] {
        let mut table = vec![0];
        table.extend(valid_table(&mut rng, compressible));
        std::fs::write(table_dir.join(format!("valid_{name}")), &table).unwrap();
        std::fs::write(
            table_dir.join(format!("damaged_{name}")),
            mutate(&mut rng, &table),
        )
        .unwrap();
    }
    for damage_kind in 0..4u8 {
        let input = build_input(&mut rng, damage_kind);
        std::fs::write(table_dir.join(format!("build_damage_{damage_kind}")), input).unwrap();
    }
}
