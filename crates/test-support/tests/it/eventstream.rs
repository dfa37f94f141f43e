//! Event-stream framing: our encoder checked field by field, and the mock's stream answer.

use test_support::client::{SignedRequest, send_signed};
use test_support::eventstream::{
    FrameError, bedrock_chunk, decode_all, decode_bedrock_events, decode_frame, encode_frame,
};

use crate::{INVOKE_BODY, creds, mock_with_key};

#[test]
fn frame_layout_and_both_crcs() {
    let frame = encode_frame(&[(":event-type", "chunk")], b"{\"x\":1}");
    let total = u32::from_be_bytes(frame[0..4].try_into().unwrap()) as usize;
    let headers_len = u32::from_be_bytes(frame[4..8].try_into().unwrap()) as usize;
    assert_eq!(total, frame.len());
    // name len (1) + name (11) + type (1) + value len (2) + value (5)
    assert_eq!(headers_len, 1 + 11 + 1 + 2 + 5);
    let prelude_crc = u32::from_be_bytes(frame[8..12].try_into().unwrap());
    assert_eq!(prelude_crc, crc32fast::hash(&frame[0..8]));
    let message_crc = u32::from_be_bytes(frame[total - 4..].try_into().unwrap());
    assert_eq!(message_crc, crc32fast::hash(&frame[..total - 4]));
    assert_eq!(frame[12], 11);
    assert_eq!(&frame[13..24], b":event-type");
    assert_eq!(frame[24], 7, "string header type");
    assert_eq!(&frame[12 + headers_len..total - 4], b"{\"x\":1}");

    let (decoded, used) = decode_frame(&frame).unwrap();
    assert_eq!(used, frame.len());
    assert_eq!(decoded.header(":event-type"), Some("chunk"));
    assert_eq!(decoded.payload, b"{\"x\":1}");
}

#[test]
fn corrupted_frames_are_detected() {
    let frame = bedrock_chunk(r#"{"type":"message_stop"}"#);
    let mut bad = frame.clone();
    let last = bad.len() - 6;
    bad[last] ^= 1;
    assert!(matches!(decode_frame(&bad), Err(FrameError::MessageCrc { .. })));
    let mut bad = frame.clone();
    bad[3] ^= 1;
    assert!(matches!(decode_frame(&bad), Err(FrameError::PreludeCrc { .. })));
    assert_eq!(decode_frame(&frame[..10]).unwrap_err(), FrameError::Incomplete);
    assert_eq!(decode_frame(&frame[..frame.len() - 1]).unwrap_err(), FrameError::Incomplete);
}

#[test]
fn bedrock_chunk_wraps_base64_json() {
    let frame = bedrock_chunk(r#"{"type":"message_stop"}"#);
    let frames = decode_all(&frame).unwrap();
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].header(":content-type"), Some("application/json"));
    assert_eq!(frames[0].header(":message-type"), Some("event"));
    let payload: serde_json::Value = serde_json::from_slice(&frames[0].payload).unwrap();
    assert!(payload["bytes"].is_string());
    let events = decode_bedrock_events(&frame).unwrap();
    assert_eq!(events[0]["type"], "message_stop");
}

#[test]
fn stream_route_sends_a_whole_answer() {
    let mock = mock_with_key();
    mock.set_answer("STREAMED ANSWER ✓");
    let r = send_signed(
        &mock.url(),
        &SignedRequest {
            method: "POST",
            path: "/model/us.anthropic.claude-opus-5-5/invoke-with-response-stream",
            query: "",
            headers: &[("content-type", "application/json")],
            body: INVOKE_BODY.as_bytes(),
            service: "bedrock",
            creds: creds(),
        },
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/vnd.amazon.eventstream"));
    let events = decode_bedrock_events(&r.body).unwrap();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(events[2]["delta"]["text"], "STREAMED ANSWER ✓");
    assert_eq!(events[4]["delta"]["stop_reason"], "end_turn");
    assert_eq!(events[0]["message"]["model"], "us.anthropic.claude-opus-5-5");
}

#[test]
fn decoder_never_panics_on_damaged_input() {
    let frame = bedrock_chunk(r#"{"type":"content_block_delta","index":0}"#);
    for len in 0..frame.len() {
        assert!(decode_frame(&frame[..len]).is_err(), "prefix {len} decoded");
    }
    for i in 0..frame.len() {
        for bit in [0x01, 0x80] {
            let mut bad = frame.clone();
            bad[i] ^= bit;
            // Any answer but a panic is fine; CRCs make a silent success very unlikely.
            let _ = decode_frame(&bad);
        }
    }
}
