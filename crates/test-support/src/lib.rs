//! Test-only helpers: a mock AWS server on 127.0.0.1 and temp-HOME process runners.
//!
//! Never a dependency of the shipped binaries. Everything here talks to loopback only.

pub mod client;
pub mod eventstream;
pub mod fault_fixtures;
mod fault_matrix;
pub mod home;
pub mod mock;
pub mod npm_registry;
mod server;
pub mod sigv4;
pub mod sso;

pub use fault_fixtures::{ReadOnly, Stub};
pub use home::{
    CC_E2E_CLAUDE, RunOutput, TestHome, assert_no_secret, claude_bedrock_env, e2e_claude, files_below, on_path, run,
};
pub use mock::proxy::DelayProxy;
pub use mock::{Fault, MockAws, RecordedRequest, Route};
pub use sigv4::{rfc3339, unix_now};
pub use sso::SsoConfig;
