//! Login tools that rewrite `~/.aws/credentials` in place (saml2aws, gimme-aws-creds, …):
//! a writer thread truncates the file and writes the next generation into it in small chunks
//! with pauses, without a rename, while 400 `cc-aws-export` runs race it. Every run must
//! succeed, and every credential set it hands out must come from one generation: key id,
//! secret, session token and expiry each carry the generation's number.

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use test_support::TestHome;

use crate::run_hook;

const RUNS: usize = 400;
const PARALLEL: usize = 4;
/// Pieces each generation is written in, and the pause after each: shorter than the reader's
/// settling step, as real tools' pauses between write calls are. The pieces end inside lines,
/// as a partial write does (buffer sizes do not follow lines); a writer stalled exactly at a
/// line end between two keys of one profile is the one state no reader can tell from a whole
/// file (the pieces here are checked to avoid it: under load this thread does stall).
const CHUNKS: usize = 5;
const CHUNK_PAUSE: Duration = Duration::from_micros(200);

fn key_id(g: u64) -> String {
    format!("AKIAGEN{g:010}")
}

fn secret(g: u64) -> String {
    format!("secretGEN{g:010}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
}

fn token(g: u64) -> String {
    format!("tokenGEN{g:010}yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy")
}

/// One hour after the tests' fixed clock, plus `g` seconds, as the export prints it.
fn expiry(g: u64) -> String {
    let t = 13 * 3600 + g;
    format!("2026-11-22T{:02}:{:02}:{:02}Z", t / 3600, t / 60 % 60, t % 60)
}

fn generation_text(g: u64) -> String {
    format!(
        "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\naws_session_token = {}\nx_security_token_expires = {}\n",
        key_id(g),
        secret(g),
        token(g),
        expiry(g)
    )
}

/// The generation a credential set came from, when all four values agree on it.
fn consistent_generation(creds: &Value) -> Result<u64, String> {
    let id = creds["AccessKeyId"].as_str().ok_or("no AccessKeyId")?;
    let g: u64 = id.strip_prefix("AKIAGEN").and_then(|n| n.parse().ok()).ok_or(format!("odd key id {id}"))?;
    let want = [("SecretAccessKey", secret(g)), ("SessionToken", token(g)), ("Expiration", expiry(g))];
    for (field, value) in want {
        // The secret values are this test's own fakes; showing them makes a failure readable.
        if creds[field].as_str() != Some(value.as_str()) {
            return Err(format!("{field} is {:?}, generation {g} has {value:?}", creds[field]));
        }
    }
    Ok(g)
}

fn chunk_bounds(len: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..CHUNKS).map(move |i| (len * i / CHUNKS, len * (i + 1) / CHUNKS))
}

/// A rewrite that took this long was a writer stalled by the scheduler, not pausing between
/// writes: the reader's contract ends there (it takes a file unchanged for 50 ms as it is, and
/// gives up after 100 ms), so runs overlapping such a stall are counted apart, never hidden.
const WRITER_STALL: Duration = Duration::from_millis(40);

#[test]
fn exports_racing_an_in_place_rewriter_never_fail_or_mix_generations() {
    let sample = generation_text(1);
    for (_, end) in chunk_bounds(sample.len()).take(CHUNKS - 1) {
        assert_ne!(sample.as_bytes()[end - 1], b'\n', "a piece ends a line: {sample:?} at {end}");
    }
    let home = TestHome::new();
    let path = home.write(".aws/credentials", generation_text(0));
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    // Rewrites that took longer than WRITER_STALL: (start, end).
    let stalls = Arc::new(Mutex::new(Vec::<(Instant, Instant)>::new()));
    let writer = {
        let (stop, written, stalls, path) =
            (Arc::clone(&stop), Arc::clone(&written), Arc::clone(&stalls), path.clone());
        std::thread::spawn(move || {
            let mut g = 0u64;
            // A small LCG varies how long each generation stays whole (2-8 ms), so the
            // readers meet every phase of the rewrite.
            let mut seed = 0x2545_f491_4f6c_dd1du64;
            while !stop.load(Ordering::SeqCst) {
                g += 1;
                let text = generation_text(g);
                let bytes = text.as_bytes();
                let began = Instant::now();
                // Truncate and write in place, as the login tools do: no temp file, no rename.
                let mut f = OpenOptions::new().write(true).truncate(true).open(&path).unwrap();
                for (from, to) in chunk_bounds(bytes.len()) {
                    f.write_all(&bytes[from..to]).unwrap();
                    // Spinning, not sleeping: a sleeping thread on a busy machine may wake
                    // 100 ms later, which is a stalled login tool, not one pausing between
                    // write calls.
                    let t = Instant::now();
                    while t.elapsed() < CHUNK_PAUSE {
                        std::hint::spin_loop();
                    }
                }
                drop(f);
                if began.elapsed() >= WRITER_STALL {
                    stalls.lock().unwrap().push((began, Instant::now()));
                }
                written.store(g, Ordering::SeqCst);
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                std::thread::sleep(Duration::from_micros(2_000 + (seed >> 33) % 6_000));
            }
        })
    };

    let start = Instant::now();
    // (when the run started and ended, what went wrong)
    let failures = Mutex::new(Vec::<(Instant, Instant, String)>::new());
    let generations = Mutex::new(Vec::<u64>::new());
    let slowest = Mutex::new(Duration::ZERO);
    std::thread::scope(|s| {
        for _ in 0..PARALLEL {
            s.spawn(|| {
                for _ in 0..RUNS / PARALLEL {
                    let began = Instant::now();
                    let out = run_hook(&home, "export", b"", &[]);
                    let ended = Instant::now();
                    {
                        let mut m = slowest.lock().unwrap();
                        *m = (*m).max(out.elapsed);
                    }
                    let result = if out.success() {
                        serde_json::from_str::<Value>(&out.stdout)
                            .map_err(|e| format!("not JSON ({e})"))
                            .and_then(|v| consistent_generation(&v["Credentials"]))
                    } else {
                        Err(format!("exit {:?}: {}", out.status, out.stderr.trim()))
                    };
                    match result {
                        Ok(g) => generations.lock().unwrap().push(g),
                        Err(e) => failures.lock().unwrap().push((began, ended, e)),
                    }
                }
            });
        }
    });
    let elapsed = start.elapsed();
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();

    let stalls = stalls.lock().unwrap().clone();
    let (during_stalls, failures): (Vec<_>, Vec<_>) = failures
        .into_inner()
        .unwrap()
        .into_iter()
        .partition(|(b, e, _)| stalls.iter().any(|(sb, se)| b <= se && sb <= e));
    let failures: Vec<String> = failures.into_iter().map(|(_, _, e)| e).collect();
    let mut generations = generations.into_inner().unwrap();
    let slowest = slowest.into_inner().unwrap();
    generations.sort_unstable();
    generations.dedup();
    let rewrites = written.load(Ordering::SeqCst);
    eprintln!(
        "rewrite race: {RUNS} exports, {} failures, {} distinct generations served, {rewrites} rewrites, {elapsed:?} in all, \
         slowest run {slowest:?}; {} writer stalls over {WRITER_STALL:?}, {} runs failing during them",
        failures.len(),
        generations.len(),
        stalls.len(),
        during_stalls.len(),
    );
    for (_, _, e) in during_stalls.iter().take(3) {
        eprintln!("  during a writer stall: {e}");
    }
    assert!(failures.is_empty(), "{} of {RUNS} exports failed or mixed generations: {failures:#?}", failures.len());
    // A machine so busy that most runs met a stalled writer proves nothing either way.
    assert!(during_stalls.len() < RUNS / 10, "{} runs met a stalled writer: {during_stalls:#?}", during_stalls.len());
    // The writer really raced the readers: many generations were served, not one.
    assert!(rewrites > 100 && generations.len() > 20, "{rewrites} rewrites, {} generations", generations.len());
    assert!(elapsed < Duration::from_secs(30), "{RUNS} exports took {elapsed:?}");
}
