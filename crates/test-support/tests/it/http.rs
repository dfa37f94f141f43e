//! The hand-rolled HTTP layer: malformed input answered 400 (never a panic), size limits,
//! chunked bodies, keep-alive, unknown routes, and shutdown on drop.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use test_support::client::{parse_response, send, send_raw};
use test_support::{MockAws, Route};

fn status_of(raw: &[u8]) -> u16 {
    parse_response(raw).unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(raw))).status
}

#[test]
fn malformed_requests_get_400_and_the_server_lives_on() {
    let mock = MockAws::start();
    let cases: [&[u8]; 8] = [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/2.0\r\n\r\n",
        b"get / HTTP/1.1\r\n\r\n",
        b"GET noslash HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
        b"POST /token HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        b"POST /token HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET / HTTP/1.1\r\n\xff\xfe: x\r\n\r\n",
    ];
    for case in cases {
        let raw = send_raw(&mock.url(), case).unwrap();
        assert_eq!(status_of(&raw), 400, "{:?}", String::from_utf8_lossy(case));
    }
    // Conflicting framing is refused too (request smuggling).
    let raw = send_raw(
        &mock.url(),
        b"POST /token HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    )
    .unwrap();
    assert_eq!(status_of(&raw), 400);
    assert_eq!(mock.count(Route::Other), cases.len() + 1);
    let r = send(&mock.url(), "GET", "/still-alive", &[], b"").unwrap();
    assert_eq!(r.status, 404);
}

#[test]
fn size_limits() {
    let mock = MockAws::start();
    let raw = send_raw(&mock.url(), b"POST /token HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n").unwrap();
    assert_eq!(status_of(&raw), 413);
    let mut huge = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 100 * 1024));
    huge.extend_from_slice(b"\r\n\r\n");
    let raw = send_raw(&mock.url(), &huge).unwrap();
    assert_eq!(status_of(&raw), 431);
}

#[test]
fn chunked_request_body_is_reassembled() {
    let mock = MockAws::start();
    mock.set_oidc_client("c", "s");
    mock.set_refresh_token("rt");
    let body = r#"{"clientId":"c","clientSecret":"s","grantType":"refresh_token","refreshToken":"rt"}"#;
    let (a, b) = body.split_at(20);
    let req = format!(
        "POST /token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         {:x};ext=1\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\nTrailer: t\r\n\r\n",
        a.len(),
        b.len()
    );
    let r = parse_response(&send_raw(&mock.url(), req.as_bytes()).unwrap()).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(mock.requests()[0].body_text(), body);
}

#[test]
fn keep_alive_serves_pipelined_requests_on_one_connection() {
    let mock = MockAws::start();
    let one = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
    let two = "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc";
    let three = "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let raw = send_raw(&mock.url(), format!("{one}{two}{three}").as_bytes()).unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert_eq!(text.matches("HTTP/1.1 404").count(), 3, "{text}");
    assert!(text.contains("HTTP/1.1 100 Continue"), "{text}");
    let paths: Vec<String> = mock.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/a", "/b", "/c"]);
    assert_eq!(mock.requests()[1].body, b"abc");
}

#[test]
fn drop_stops_the_server_promptly_even_with_open_connections() {
    let mock = MockAws::start();
    let url = mock.url();
    let addr = url.trim_start_matches("http://").to_string();
    // An idle keep-alive connection and a half-sent request.
    let mut idle = TcpStream::connect(&addr).unwrap();
    idle.write_all(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut partial = TcpStream::connect(&addr).unwrap();
    partial.write_all(b"POST /token HTTP/1.1\r\nContent-Length: 100\r\n\r\n{").unwrap();
    std::thread::sleep(Duration::from_millis(100));

    let start = Instant::now();
    drop(mock);
    assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());

    // Both connections were closed by the server, and nobody listens any more.
    for mut s in [idle, partial] {
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
    }
    assert!(TcpStream::connect(&addr).is_err());
}

#[test]
fn drop_interrupts_a_slow_fault() {
    let mock = MockAws::start();
    mock.push_fault(Route::Other, test_support::Fault::Slow(Duration::from_secs(60)));
    let url = mock.url();
    let client = std::thread::spawn(move || send(&url, "GET", "/slow", &[], b""));
    std::thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    drop(mock);
    assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
    let _ = client.join();
}

#[test]
fn client_refuses_non_loopback_urls() {
    let e = send("http://192.0.2.1:80", "GET", "/", &[], b"").unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    let e = send("https://127.0.0.1:1", "GET", "/", &[], b"").unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn many_mocks_in_parallel_are_independent() {
    let mocks: Vec<MockAws> = (0..8).map(|_| MockAws::start()).collect();
    let threads: Vec<_> = mocks
        .iter()
        .map(|m| {
            let url = m.url();
            std::thread::spawn(move || {
                for _ in 0..5 {
                    assert_eq!(send(&url, "GET", "/x", &[], b"").unwrap().status, 404);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for m in &mocks {
        assert_eq!(m.count(Route::Other), 5);
    }
}

#[test]
fn random_bytes_never_kill_the_server() {
    let mock = MockAws::start();
    // A fixed linear congruential generator: reproducible garbage without a rand crate.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as u8
    };
    let prefixes: [&[u8]; 4] = [
        b"",
        b"GET / HTTP/1.1\r\n",
        b"POST /token HTTP/1.1\r\nContent-Length: 5\r\n\r\n",
        b"POST /token HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
    ];
    for round in 0..40 {
        let mut req = prefixes[round % prefixes.len()].to_vec();
        let n = usize::from(next()) * 2;
        req.extend((0..n).map(|_| next()));
        req.extend_from_slice(b"\r\n\r\n");
        // Send and half-close, so a request waiting for more body sees the end at once.
        let (addr, _) = test_support::client::loopback_addr(&mock.url()).unwrap();
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        // The server may answer 400 and close before reading everything; that is fine.
        let _ = s.write_all(&req);
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
    }
    let r = send(&mock.url(), "GET", "/alive", &[], b"").unwrap();
    assert_eq!(r.status, 404);
}
