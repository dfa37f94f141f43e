//! `awsAuthRefresh`: makes fresh credentials exist (silent renewal first, a login only when
//! nothing else can help). All of it is the engine's work (`cc-aws-keepalive __hook refresh`);
//! this binary only hands over, so Claude Code's setting keeps naming a hook binary.

use std::process::ExitCode;

use keepalive_core::hooks::engine::Hook;

#[path = "../hook_io.rs"]
mod hook_io;

fn main() -> ExitCode {
    hook_io::hand_off(Hook::Refresh, "cc-aws-refresh")
}
