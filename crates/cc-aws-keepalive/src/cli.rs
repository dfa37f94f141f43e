//! Hand-rolled argument parsing (no clap: the CLI stays small and starts fast)
//! and the exit codes every command shares.

use std::process::ExitCode;

/// Conventional exit codes.
pub const OK: u8 = 0;
/// A failure, or `doctor`/`status` found a problem.
pub const FAILURE: u8 = 1;
/// The command line was wrong.
pub const USAGE: u8 = 2;

/// A usage error: the message names what was wrong and which `--help` to read.
#[derive(Debug, thiserror::Error)]
#[error("{message} (see `cc-aws-keepalive {command}--help`)")]
pub struct UsageError {
    pub message: String,
    /// The command followed by a space, or empty for the top level.
    pub command: String,
}

/// The arguments of one command, consumed option by option.
#[derive(Debug)]
pub struct Args {
    command: &'static str,
    rest: Vec<String>,
}

impl Args {
    pub fn new(command: &'static str, rest: Vec<String>) -> Args {
        Args { command, rest }
    }

    pub fn usage(&self, message: impl Into<String>) -> UsageError {
        let command = if self.command.is_empty() { String::new() } else { format!("{} ", self.command) };
        UsageError { message: message.into(), command }
    }

    /// Whether `-h`/`--help` was given anywhere.
    pub fn wants_help(&self) -> bool {
        self.rest.iter().any(|a| a == "-h" || a == "--help")
    }

    /// Takes a flag (any of `names`) wherever it is; true when present.
    pub fn flag(&mut self, names: &[&str]) -> bool {
        let before = self.rest.len();
        self.rest.retain(|a| !names.contains(&a.as_str()));
        self.rest.len() != before
    }

    /// Takes `--name VALUE` or `--name=VALUE` (last one wins).
    pub fn value(&mut self, names: &[&str]) -> Result<Option<String>, UsageError> {
        let mut found = None;
        let mut i = 0;
        while i < self.rest.len() {
            let arg = &self.rest[i];
            if names.contains(&arg.as_str()) {
                if i + 1 >= self.rest.len() {
                    return Err(self.usage(format!("{arg} needs a value")));
                }
                found = Some(self.rest.remove(i + 1));
                self.rest.remove(i);
                continue;
            }
            if let Some((name, v)) = arg.split_once('=')
                && names.contains(&name)
            {
                found = Some(v.to_string());
                self.rest.remove(i);
                continue;
            }
            i += 1;
        }
        Ok(found)
    }

    /// Takes the next positional argument (the first that is not an option).
    pub fn positional(&mut self) -> Option<String> {
        let i = self.rest.iter().position(|a| !a.starts_with('-') || a == "-")?;
        Some(self.rest.remove(i))
    }

    /// Fails on anything not consumed.
    pub fn finish(self) -> Result<(), UsageError> {
        match self.rest.first() {
            None => Ok(()),
            Some(a) if a.starts_with('-') => Err(self.usage(format!("unknown option {a}"))),
            Some(a) => Err(self.usage(format!("unexpected argument {a:?}"))),
        }
    }
}

/// Prints a usage error and gives exit code 2.
pub fn usage_exit(e: &UsageError) -> ExitCode {
    crate::out::err(&format!("cc-aws-keepalive: {e}"));
    ExitCode::from(USAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Args {
        Args::new("refresh", v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn flags_values_and_leftovers() {
        let mut a = args(&["--force", "--session=corp", "-n", "5", "x"]);
        assert!(a.flag(&["--force"]));
        assert!(!a.flag(&["--force"]));
        assert_eq!(a.value(&["--session"]).unwrap().as_deref(), Some("corp"));
        assert_eq!(a.value(&["-n"]).unwrap().as_deref(), Some("5"));
        assert_eq!(a.positional().as_deref(), Some("x"));
        a.finish().unwrap();
        let mut a = args(&["--profile"]);
        assert!(a.value(&["--profile"]).unwrap_err().to_string().contains("needs a value"));
        let e = args(&["--bogus"]).finish().unwrap_err().to_string();
        assert!(e.contains("unknown option --bogus") && e.contains("cc-aws-keepalive refresh --help"), "{e}");
    }
}
