//! The keep-alive daemon, split by what each part holds:
//!
//! - [`discovery`]: what there is to keep alive — every `[sso-session]`, the hook profiles and
//!   their chains — from one read of the files.
//! - [`policy`]: what to refresh when (threshold, `autoLoginMinutes`, who may log in) and what
//!   came of it; shared with `cc-aws-keepalive refresh` ([`crate::refresh`]).
//! - [`notify`]: which desktop notifications a pass sends, once per event.
//! - [`pass`]: one pass over everything discovered.
//! - [`process`]: the process — one per user (a lock), its state file, the loop, stopping on
//!   signals.
//!
//! Dependencies run one way: `process` → `pass` → `notify` → `policy` → `discovery`.

pub mod discovery;
pub mod notify;
pub mod pass;
pub mod policy;
pub mod process;

pub use discovery::{Discovery, Target, hook_chains, hook_profiles, settings_env, targets};
pub use pass::{PassSummary, daemon_pass};
pub use policy::{
    ChainResult, KeepOptions, KeysStep, LoginPolicy, NotifiedFor, Outcome, SessionMemo, Settings, keep_chain,
    keep_keys, keep_one, keeps_chain, session_end, settings,
};
pub use process::{
    DaemonError, DaemonState, MAX_TICK, RunEnd, STOP_GRACE, Scheduler, StopFlag, Why, World, acquire, clean_temp_files,
    describe_state_path, human_interval, read_state, run, run_loop, running, signal_name, write_state,
};
