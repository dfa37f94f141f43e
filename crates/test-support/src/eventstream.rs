//! AWS event-stream framing (`application/vnd.amazon.eventstream`), as Bedrock's
//! `invoke-with-response-stream` sends it: encoder for the mock, decoder for tests.
//!
//! Frame layout: total length (u32 BE), headers length (u32 BE), CRC32 of those 8 bytes,
//! headers, payload, CRC32 of everything before it. A header is name length (u8), name, value
//! type (u8), value; type 7 (string) carries a u16 BE length.

use base64::Engine as _;

/// Bytes of prelude (two lengths and their CRC) plus the trailing message CRC.
const OVERHEAD: usize = 16;
/// Largest frame the decoder accepts (the spec's limit is 16 MiB of payload).
const MAX_FRAME: usize = 24 * 1024 * 1024;

/// One decoded frame. Non-string header values are rendered as text for inspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub headers: Vec<(String, String)>,
    pub payload: Vec<u8>,
}

impl Frame {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Fewer bytes than the prelude or the announced length.
    Incomplete,
    /// Lengths that cannot be right.
    BadLength,
    PreludeCrc {
        expected: u32,
        actual: u32,
    },
    MessageCrc {
        expected: u32,
        actual: u32,
    },
    BadHeader,
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for FrameError {}

/// Encodes one frame with string headers.
pub fn encode_frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut hdr = Vec::new();
    for (name, value) in headers {
        // Header names are at most 255 bytes and values at most 65535 by the format; the mock
        // only writes short constants, so clamping never changes anything in practice.
        let name = &name.as_bytes()[..name.len().min(255)];
        let value = &value.as_bytes()[..value.len().min(usize::from(u16::MAX))];
        hdr.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
        hdr.extend_from_slice(name);
        hdr.push(7);
        hdr.extend_from_slice(&u16::try_from(value.len()).unwrap_or(u16::MAX).to_be_bytes());
        hdr.extend_from_slice(value);
    }
    let total = OVERHEAD + hdr.len() + payload.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&u32::try_from(total).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(&u32::try_from(hdr.len()).unwrap_or(u32::MAX).to_be_bytes());
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&hdr);
    out.extend_from_slice(payload);
    let message_crc = crc32fast::hash(&out);
    out.extend_from_slice(&message_crc.to_be_bytes());
    out
}

/// Decodes the frame at the start of `bytes`, checking both CRCs. Returns it and its length.
pub fn decode_frame(bytes: &[u8]) -> Result<(Frame, usize), FrameError> {
    let u32_at = |i: usize| -> Result<u32, FrameError> {
        let b: [u8; 4] = bytes.get(i..i + 4).and_then(|s| s.try_into().ok()).ok_or(FrameError::Incomplete)?;
        Ok(u32::from_be_bytes(b))
    };
    let total = usize::try_from(u32_at(0)?).map_err(|_| FrameError::BadLength)?;
    let headers_len = usize::try_from(u32_at(4)?).map_err(|_| FrameError::BadLength)?;
    let prelude_crc = u32_at(8)?;
    let actual = crc32fast::hash(&bytes[..8]);
    if actual != prelude_crc {
        return Err(FrameError::PreludeCrc { expected: prelude_crc, actual });
    }
    if !(OVERHEAD..=MAX_FRAME).contains(&total) || headers_len > total - OVERHEAD {
        return Err(FrameError::BadLength);
    }
    if bytes.len() < total {
        return Err(FrameError::Incomplete);
    }
    let message_crc = u32_at(total - 4)?;
    let actual = crc32fast::hash(&bytes[..total - 4]);
    if actual != message_crc {
        return Err(FrameError::MessageCrc { expected: message_crc, actual });
    }
    let headers = decode_headers(&bytes[12..12 + headers_len])?;
    let payload = bytes[12 + headers_len..total - 4].to_vec();
    Ok((Frame { headers, payload }, total))
}

fn decode_headers(mut h: &[u8]) -> Result<Vec<(String, String)>, FrameError> {
    fn take<'a>(h: &mut &'a [u8], n: usize) -> Result<&'a [u8], FrameError> {
        if h.len() < n {
            return Err(FrameError::BadHeader);
        }
        let (a, b) = h.split_at(n);
        *h = b;
        Ok(a)
    }
    let mut out = Vec::new();
    while !h.is_empty() {
        let name_len = usize::from(take(&mut h, 1)?[0]);
        let name = String::from_utf8_lossy(take(&mut h, name_len)?).into_owned();
        let value = match take(&mut h, 1)?[0] {
            0 => "true".to_string(),
            1 => "false".to_string(),
            2 => format!("{}", take(&mut h, 1)?[0]),
            3 => hex_str(take(&mut h, 2)?),
            4 => hex_str(take(&mut h, 4)?),
            5 | 8 => hex_str(take(&mut h, 8)?),
            9 => hex_str(take(&mut h, 16)?),
            6 | 7 => {
                let len = take(&mut h, 2)?;
                let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
                String::from_utf8_lossy(take(&mut h, len)?).into_owned()
            }
            _ => return Err(FrameError::BadHeader),
        };
        out.push((name, value));
    }
    Ok(out)
}

fn hex_str(b: &[u8]) -> String {
    crate::sigv4::hex(b)
}

/// Decodes a whole body of back-to-back frames.
pub fn decode_all(mut bytes: &[u8]) -> Result<Vec<Frame>, FrameError> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        let (frame, used) = decode_frame(bytes)?;
        frames.push(frame);
        bytes = &bytes[used..];
    }
    Ok(frames)
}

/// One Bedrock `chunk` event frame carrying `event_json` (an Anthropic streaming event).
pub fn bedrock_chunk(event_json: &str) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(event_json.as_bytes());
    let payload = serde_json::json!({ "bytes": b64 }).to_string();
    encode_frame(
        &[(":event-type", "chunk"), (":content-type", "application/json"), (":message-type", "event")],
        payload.as_bytes(),
    )
}

/// Decodes a Bedrock stream body into the Anthropic events it carries, for tests.
pub fn decode_bedrock_events(body: &[u8]) -> Result<Vec<serde_json::Value>, String> {
    let mut events = Vec::new();
    for frame in decode_all(body).map_err(|e| e.to_string())? {
        if frame.header(":event-type") != Some("chunk") {
            return Err(format!("unexpected frame headers {:?}", frame.headers));
        }
        let payload: serde_json::Value = serde_json::from_slice(&frame.payload).map_err(|e| e.to_string())?;
        let b64 = payload["bytes"].as_str().ok_or("payload without bytes")?;
        let raw = base64::engine::general_purpose::STANDARD.decode(b64).map_err(|e| e.to_string())?;
        events.push(serde_json::from_slice(&raw).map_err(|e| e.to_string())?);
    }
    Ok(events)
}
