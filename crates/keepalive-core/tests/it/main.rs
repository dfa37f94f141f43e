//! Integration tests of keepalive-core against the mock AWS in a temp HOME
//! (one test binary, as matklad recommends).

// Helpers outside `#[test]` functions fail the test at the cause, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod assume_role;
mod botocore;
mod differential;
mod ini_parity;
mod lock;
mod login;
mod sso_flow;
mod support;
