//! keepalive-core: all logic behind the cc-aws-keepalive binaries.
//!
//! The binaries only read their input, call into this crate and print what it
//! returns. This crate never prints: a stray line on stdout would corrupt the
//! JSON Claude Code reads from `cc-aws-export`.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod aws_files;
pub mod claude_region;
pub mod claude_settings;
pub mod config;
pub mod creds;
pub mod ctx;
pub mod daemon;
pub mod doctor;
pub mod env;
pub mod expiry;
pub mod fsutil;
pub mod hook_io;
pub mod hooks;
pub mod http;
pub mod install;
pub mod lock;
pub mod log;
pub mod login_runner;
pub mod next_step;
pub mod notify;
pub mod paths;
pub mod process;
pub mod providers;
pub mod refresh;
pub mod secret;
pub mod service;
pub mod sigv4;
pub mod status_report;
pub mod text;
