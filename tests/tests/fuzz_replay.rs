//! The fuzz targets on stable: every committed corpus and regression file, the seeds built from the
//! fixtures, and a bounded number of seeded pseudo-random inputs (random bytes and mutations of
//! the corpus) through the same bodies cargo-fuzz runs. Any panic fails the test with the input.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use roomrec_tests::fuzz_bodies::{seeds::seeds, TARGETS};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn body(target: &str) -> fn(&[u8]) {
    TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("known target")
        .1
}

/// Runs one input; on a panic, says which input it was (hex for short ones) before failing.
fn run(target: &str, body: fn(&[u8]), input: &[u8], what: &str) {
    if std::panic::catch_unwind(|| body(input)).is_err() {
        let shown = if input.len() <= 512 {
            format!("{input:02x?}")
        } else {
            format!("{} bytes", input.len())
        };
        panic!("{target}: {what} panicked; input: {shown}");
    }
}

/// A reproducer of a finding not fixed yet (`fuzz/regressions/<target>/open-*`).
fn is_open(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("open-"))
}

/// Open findings are expected to still fail; once one passes it must be renamed (drop `open-`)
/// so it guards against the bug coming back.
fn check_open(target: &str, body: fn(&[u8]), input: &[u8], path: &Path) {
    if !cfg!(debug_assertions) {
        return; // Findings like integer overflow only panic with overflow checks on.
    }
    let still_fails = std::panic::catch_unwind(|| body(input)).is_err();
    assert!(
        still_fails,
        "{target}: {} passes now: drop the `open-` prefix so it runs as a regression",
        path.display()
    );
    println!("{target}: open finding {} still reproduces", path.display());
}

/// Small structure-blind mutations, like a fuzzer's first steps.
fn mutate(rng: &mut fastrand::Rng, base: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    for _ in 0..rng.usize(1..=6) {
        let at = rng.usize(..=v.len());
        match rng.u8(..6) {
            0 if !v.is_empty() => {
                let i = rng.usize(..v.len());
                v[i] ^= 1 << rng.u8(..8);
            }
            1 if !v.is_empty() => {
                let i = rng.usize(..v.len());
                v[i] = rng.u8(..);
            }
            2 => v.insert(at, rng.u8(..)),
            3 => {
                let end = (at + rng.usize(..16)).min(v.len());
                v.drain(at..end);
            }
            4 => v.truncate(at),
            _ => {
                let start = rng.usize(..=other.len());
                let end = (start + rng.usize(..64)).min(other.len());
                v.splice(at..at, other[start..end].iter().copied());
            }
        }
    }
    v
}

/// Corpus + regressions + seeds, then `random` generated inputs (stopping early after `budget`).
fn replay(target: &str, random: usize, budget: Duration) {
    let body = body(target);
    let mut known: Vec<Vec<u8>> = Vec::new();
    for dir in ["corpus", "regressions"] {
        for path in files(&fuzz_dir().join(dir).join(target)) {
            let input = std::fs::read(&path).expect("corpus file");
            if is_open(&path) {
                check_open(target, body, &input, &path);
                continue;
            }
            run(target, body, &input, &path.display().to_string());
            known.push(input);
        }
    }
    for (i, seed) in seeds(target).into_iter().enumerate() {
        run(target, body, &seed, &format!("seed {i}"));
        known.push(seed);
    }
    let mut rng = fastrand::Rng::with_seed(0x5eed ^ target.len() as u64);
    let start = Instant::now();
    let mut done = 0;
    while done < random && start.elapsed() < budget {
        let input = if done % 4 == 0 || known.is_empty() {
            (0..rng.usize(..300)).map(|_| rng.u8(..)).collect()
        } else {
            let base = &known[rng.usize(..known.len())];
            let other = &known[rng.usize(..known.len())];
            mutate(&mut rng, base, other)
        };
        run(target, body, &input, &format!("random input {done}"));
        done += 1;
    }
    println!(
        "{target}: {} known inputs, {done} generated in {:?}",
        known.len(),
        start.elapsed()
    );
}

#[test]
fn fuzz_replay_signaling_room() {
    replay("signaling_room", 4000, Duration::from_secs(2));
}

#[test]
fn fuzz_replay_session_offer() {
    replay("session_offer", 1500, Duration::from_secs(2));
}

#[test]
fn fuzz_replay_session_datagram() {
    replay("session_datagram", 1500, Duration::from_secs(2));
}

#[test]
fn fuzz_replay_muxer_ts() {
    replay("muxer_ts", 4000, Duration::from_secs(2));
}

#[test]
fn fuzz_replay_muxer_webm() {
    replay("muxer_webm", 4000, Duration::from_secs(2));
}

#[test]
fn fuzz_replay_codec_parse() {
    replay("codec_parse", 4000, Duration::from_secs(2));
}

/// Writes the seeds as files under `fuzz/seeds/<target>/` (run by hand before fuzzing).
#[test]
#[ignore]
fn write_fuzz_seeds() {
    for (target, _) in TARGETS {
        let dir = fuzz_dir().join("seeds").join(target);
        std::fs::create_dir_all(&dir).expect("seed dir");
        for (i, seed) in seeds(target).into_iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i:03}")), seed).expect("write seed");
        }
    }
}
