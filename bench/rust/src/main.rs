//! The bench's workloads written with Rust std only (no crates), so that `npm run bench`
//! can print weft's figures next to Rust's on the same machine in the same sitting.
//!
//! Usage: weft-bench-rust [--sample-seconds S] [--warmups W] [--samples N] [workload...]
//! Prints one JSON line per workload: {"key", "ops", "seconds": [one per sample]}; the
//! caller turns those into its own metrics. Operation counts are calibrated the way
//! bench/harness.ts does: grown until a run takes half the sample time, then scaled.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, Once};
use std::thread;
use std::time::Instant;

/// Runs `ops` operations of a workload and returns the seconds they took.
type Run = fn(u64) -> f64;

fn timed(f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_secs_f64()
}

/// Unbounded channel, one producer sending f64s, this thread receiving and summing them.
fn channel_unbounded(ops: u64) -> f64 {
    one_way(ops, 1, None)
}

/// `sync_channel(1024)`, one producer.
fn channel_bounded(ops: u64) -> f64 {
    one_way(ops, 1, Some(1024))
}

/// Unbounded channel, four producers.
fn channel_unbounded_4(ops: u64) -> f64 {
    one_way(ops, 4, None)
}

fn one_way(ops: u64, producers: u64, bound: Option<usize>) -> f64 {
    let share = ops.div_ceil(producers);
    let total = share * producers;
    let start = Instant::now();
    let sum = match bound {
        None => {
            let (tx, rx) = mpsc::channel::<f64>();
            let handles: Vec<_> = (0..producers)
                .map(|p| {
                    let tx = tx.clone();
                    thread::spawn(move || {
                        for i in p * share..(p + 1) * share {
                            tx.send(i as f64 + 0.5).unwrap();
                        }
                    })
                })
                .collect();
            drop(tx);
            let sum: f64 = rx.iter().sum();
            handles.into_iter().for_each(|h| h.join().unwrap());
            sum
        }
        Some(bound) => {
            let (tx, rx) = mpsc::sync_channel::<f64>(bound);
            let handles: Vec<_> = (0..producers)
                .map(|p| {
                    let tx = tx.clone();
                    thread::spawn(move || {
                        for i in p * share..(p + 1) * share {
                            tx.send(i as f64 + 0.5).unwrap();
                        }
                    })
                })
                .collect();
            drop(tx);
            let sum: f64 = rx.iter().sum();
            handles.into_iter().for_each(|h| h.join().unwrap());
            sum
        }
    };
    let seconds = start.elapsed().as_secs_f64();
    let expected = (total as f64) * (total as f64 - 1.0) / 2.0 + 0.5 * total as f64;
    assert!((sum - expected).abs() <= expected * 1e-9, "lost messages");
    seconds * (ops as f64 / total as f64)
}

/// Two threads pass a number back and forth over two channels; one op is a round trip.
fn ping_pong(ops: u64) -> f64 {
    let (ping_tx, ping_rx) = mpsc::channel::<u64>();
    let (pong_tx, pong_rx) = mpsc::channel::<u64>();
    let peer = thread::spawn(move || {
        for v in ping_rx {
            pong_tx.send(v + 1).unwrap();
        }
    });
    // One round first, so the timed part does not include the peer's start.
    ping_tx.send(0).unwrap();
    assert_eq!(pong_rx.recv().unwrap(), 1);
    let seconds = timed(|| {
        for i in 0..ops {
            ping_tx.send(i).unwrap();
            assert_eq!(pong_rx.recv().unwrap(), i + 1);
        }
    });
    drop(ping_tx);
    peer.join().unwrap();
    seconds
}

fn mutex_uncontended(ops: u64) -> f64 {
    let m = Mutex::new(());
    timed(|| {
        for _ in 0..ops {
            drop(black_box(&m).lock().unwrap());
        }
    })
}

fn mutex_increment(ops: u64) -> f64 {
    let m = Mutex::new(0u64);
    let seconds = timed(|| {
        for _ in 0..ops {
            *black_box(&m).lock().unwrap() += 1;
        }
    });
    assert_eq!(*m.lock().unwrap(), ops);
    seconds
}

/// Two threads incrementing one counter under a Mutex, `ops` increments in all.
fn mutex_contended(ops: u64) -> f64 {
    let half = ops.div_ceil(2);
    let m = Arc::new(Mutex::new(0u64));
    let seconds = timed(|| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let m = Arc::clone(&m);
                thread::spawn(move || {
                    for _ in 0..half {
                        *m.lock().unwrap() += 1;
                    }
                })
            })
            .collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
    });
    assert_eq!(*m.lock().unwrap(), 2 * half);
    seconds * (ops as f64 / (2 * half) as f64)
}

fn once_completed(ops: u64) -> f64 {
    static ONCE: Once = Once::new();
    static CALLS: AtomicU64 = AtomicU64::new(0);
    ONCE.call_once(|| {
        CALLS.fetch_add(1, Ordering::Relaxed);
    });
    let seconds = timed(|| {
        for _ in 0..ops {
            black_box(&ONCE).call_once(|| {
                CALLS.fetch_add(1, Ordering::Relaxed);
            });
        }
    });
    assert_eq!(CALLS.load(Ordering::Relaxed), 1);
    seconds
}

fn spawn_join(ops: u64) -> f64 {
    timed(|| {
        for k in 0..ops {
            assert_eq!(thread::spawn(move || black_box(k) + 1).join().unwrap(), k + 1);
        }
    })
}

const WORKLOADS: &[(&str, Run)] = &[
    ("channel_unbounded", channel_unbounded),
    ("channel_bounded", channel_bounded),
    ("channel_unbounded_4", channel_unbounded_4),
    ("ping_pong", ping_pong),
    ("mutex_uncontended", mutex_uncontended),
    ("mutex_increment", mutex_increment),
    ("mutex_contended", mutex_contended),
    ("once_completed", once_completed),
    ("spawn_join", spawn_join),
];

/// Grows the op count until a run takes at least half the target, then scales it to the target.
fn calibrate(run: Run, target: f64) -> u64 {
    let mut ops: u64 = 1;
    loop {
        let seconds = run(ops);
        if seconds >= target / 2.0 {
            return ((ops as f64 * target / seconds).round() as u64).max(1);
        }
        let growth = (target / seconds.max(1e-9)).clamp(2.0, 100.0);
        ops = (ops as f64 * growth).ceil() as u64;
    }
}

fn main() {
    let mut sample_seconds = 0.2;
    let mut warmups = 1;
    let mut samples = 7;
    let mut only: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().unwrap_or_else(|| panic!("{name} needs a value"));
        match arg.as_str() {
            "--sample-seconds" => sample_seconds = value("--sample-seconds").parse().expect("a number of seconds"),
            "--warmups" => warmups = value("--warmups").parse().expect("a count"),
            "--samples" => samples = value("--samples").parse().expect("a count"),
            "--list" => {
                WORKLOADS.iter().for_each(|(key, _)| println!("{key}"));
                return;
            }
            _ => only.push(arg),
        }
    }
    for key in &only {
        assert!(WORKLOADS.iter().any(|(k, _)| k == key), "unknown workload {key}");
    }
    for (key, run) in WORKLOADS {
        if !only.is_empty() && !only.iter().any(|k| k == key) {
            continue;
        }
        let ops = calibrate(*run, sample_seconds);
        for _ in 0..warmups {
            run(ops);
        }
        let seconds: Vec<String> = (0..samples).map(|_| format!("{:e}", run(ops))).collect();
        println!("{{\"key\":\"{key}\",\"ops\":{ops},\"seconds\":[{}]}}", seconds.join(","));
    }
}
