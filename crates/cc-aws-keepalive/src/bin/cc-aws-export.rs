//! `awsCredentialExport`: prints the profile's credentials as Claude Code's JSON. Answers from
//! the caches; when credentials must be made, the engine (`cc-aws-keepalive`) takes over.

use std::io::IsTerminal;
use std::process::ExitCode;

use keepalive_core::ctx::Ctx;
use keepalive_core::hooks::{self, engine::Hook};

#[path = "../hook_io.rs"]
mod hook_io;

fn main() -> ExitCode {
    let ctx = Ctx::from_process();
    match hooks::export::from_caches(&ctx, std::io::stdout().is_terminal()) {
        Some(out) => hook_io::emit(&out),
        None => hook_io::hand_off(Hook::Export, "cc-aws-export"),
    }
}
