//! `mock-aws`: runs the test mock AWS server by hand, for debugging and benchmarks.
//!
//! ```text
//! cargo run -p test-support --bin mock-aws -- [OPTIONS]
//!
//!   --key AKID:SECRET[:TOKEN]          register a valid Bedrock/STS key (repeatable)
//!   --expired-key AKID:SECRET[:TOKEN]  register a key that answers "expired" (repeatable)
//!   --answer TEXT                      what the model answers (default MOCK_ANSWER_OK)
//!   --log FILE                         append every request as a JSON line as it is answered
//!   --no-stdin                         ignore stdin; run until killed (for `mock-aws ... &`)
//!   --max-seconds N                    stop by itself after N seconds (default 3600)
//! ```
//!
//! The first stdout line is the server URL (`http://127.0.0.1:PORT`). Then it reads one command
//! per stdin line until stdin closes (or `quit`), answering each with one line `ok ...` or
//! `error ...`:
//!
//! ```text
//! key AKID SECRET [TOKEN]        expired-key AKID SECRET [TOKEN]
//! valid AKID                     expire AKID
//! answer TEXT...                 oidc-client ID SECRET
//! refresh-token TOKEN            access-token TOKEN
//! fault ROUTE SPEC               sticky ROUTE SPEC|none
//! count ROUTE                    log            (request log as JSON lines, then "ok N")
//! issued                         quit
//! ```
//!
//! ROUTE is one of token, role-credentials, sts, invoke, stream, inference-profiles, other.
//! SPEC is status:N, throttle:SECS, slow:MS, malformed, truncated, invalid-grant,
//! unauthorized or close.

use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use test_support::{Fault, MockAws, Route};

fn main() -> std::process::ExitCode {
    match real_main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mock-aws: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

struct Options {
    keys: Vec<(String, String, Option<String>, bool)>,
    answer: Option<String>,
    log: Option<std::path::PathBuf>,
    no_stdin: bool,
    max_seconds: u64,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options { keys: Vec::new(), answer: None, log: None, no_stdin: false, max_seconds: 3600 };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--key" | "--expired-key" => {
                let v = value(&arg)?;
                let mut parts = v.splitn(3, ':');
                let (Some(akid), Some(secret)) = (parts.next(), parts.next()) else {
                    return Err(format!("{arg} wants AKID:SECRET[:TOKEN], got {v}"));
                };
                o.keys.push((akid.to_string(), secret.to_string(), parts.next().map(str::to_string), arg == "--key"));
            }
            "--answer" => o.answer = Some(value("--answer")?),
            "--log" => o.log = Some(value("--log")?.into()),
            "--no-stdin" => o.no_stdin = true,
            "--max-seconds" => {
                o.max_seconds =
                    value("--max-seconds")?.parse().map_err(|_| "--max-seconds wants a number".to_string())?;
            }
            "-h" | "--help" => {
                return Err("see the //! comment of crates/test-support/src/bin/mock-aws.rs".into());
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(o)
}

fn real_main() -> Result<(), String> {
    let opts = parse_args()?;
    let mock = MockAws::try_start().map_err(|e| format!("cannot listen: {e}"))?;
    for (akid, secret, token, valid) in &opts.keys {
        mock.add_key(akid, secret, token.as_deref(), *valid);
    }
    if let Some(a) = &opts.answer {
        mock.set_answer(a);
    }
    let mut out = std::io::stdout();
    writeln!(out, "{}", mock.url()).map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;

    let deadline = Instant::now() + Duration::from_secs(opts.max_seconds);
    let mut logger = opts
        .log
        .as_ref()
        .map(|p| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| format!("cannot open {}: {e}", p.display()))
        })
        .transpose()?;
    let mut logged = 0u64;

    // stdin is read on its own thread so the log keeps flowing while no command comes.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    if !opts.no_stdin {
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    } else {
        // Keep the channel open forever: only the deadline or a signal stops us.
        std::mem::forget(tx);
    }

    while Instant::now() < deadline {
        if let Some(f) = logger.as_mut() {
            for r in mock.requests_since(logged) {
                logged = r.seq + 1;
                let _ = writeln!(f, "{}", r.to_json());
            }
            let _ = f.flush();
        }
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => {
                let reply = command(&mock, &line);
                let quit = reply == "ok quit";
                writeln!(out, "{reply}").map_err(|e| e.to_string())?;
                out.flush().map_err(|e| e.to_string())?;
                if quit {
                    break;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    if let Some(f) = logger.as_mut() {
        for r in mock.requests_since(logged) {
            let _ = writeln!(f, "{}", r.to_json());
        }
    }
    Ok(())
}

fn parse_fault(spec: &str) -> Option<Fault> {
    let (kind, arg) = spec.split_once(':').unwrap_or((spec, ""));
    Some(match kind {
        "status" => Fault::Status(arg.parse().ok()?),
        "throttle" => Fault::Throttle { retry_after_secs: arg.parse().ok()? },
        "slow" => Fault::Slow(Duration::from_millis(arg.parse().ok()?)),
        "malformed" => Fault::MalformedJson,
        "truncated" => Fault::Truncated,
        "invalid-grant" => Fault::InvalidGrant,
        "unauthorized" => Fault::Unauthorized,
        "close" => Fault::CloseConnection,
        _ => return None,
    })
}

/// Runs one stdin command and returns its one-line reply.
fn command(mock: &MockAws, line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    let route = |i: usize| words.get(i).and_then(|w| Route::from_name(w));
    match words.as_slice() {
        [] => "ok".into(),
        ["key" | "expired-key", akid, secret, rest @ ..] if rest.len() <= 1 => {
            mock.add_key(akid, secret, rest.first().copied(), words[0] == "key");
            "ok".into()
        }
        ["valid", akid] => {
            mock.set_key_valid(akid, true);
            "ok".into()
        }
        ["expire", akid] => {
            mock.set_key_valid(akid, false);
            "ok".into()
        }
        ["answer", ..] => {
            mock.set_answer(line.trim_start().trim_start_matches("answer").trim());
            "ok".into()
        }
        ["oidc-client", id, secret] => {
            mock.set_oidc_client(id, secret);
            "ok".into()
        }
        ["refresh-token", t] => {
            mock.set_refresh_token(t);
            "ok".into()
        }
        ["access-token", t] => {
            mock.add_access_token(t, true);
            "ok".into()
        }
        ["fault", _, spec] => match (route(1), parse_fault(spec)) {
            (Some(r), Some(f)) => {
                mock.push_fault(r, f);
                "ok".into()
            }
            _ => "error: fault ROUTE SPEC".into(),
        },
        ["sticky", _, spec] => match (route(1), *spec, parse_fault(spec)) {
            (Some(r), "none", _) => {
                mock.set_sticky_fault(r, None);
                "ok".into()
            }
            (Some(r), _, Some(f)) => {
                mock.set_sticky_fault(r, Some(f));
                "ok".into()
            }
            _ => "error: sticky ROUTE SPEC|none".into(),
        },
        ["count", _] => match route(1) {
            Some(r) => format!("ok {}", mock.count(r)),
            None => "error: unknown route".into(),
        },
        ["log"] => {
            let reqs = mock.requests();
            let mut s: String = reqs.iter().map(|r| format!("{}\n", r.to_json())).collect();
            s.push_str(&format!("ok {}", reqs.len()));
            s
        }
        ["issued"] => format!(
            "ok {}",
            serde_json::json!({
                "accessTokens": mock.issued_access_tokens(),
                "refreshTokens": mock.issued_refresh_tokens(),
                "roleKeys": mock.issued_role_keys(),
            })
        ),
        ["quit"] => "ok quit".into(),
        _ => format!("error: unknown command {line:?}"),
    }
}
