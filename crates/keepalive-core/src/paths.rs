//! Where every file we read or write lives, following AWS and XDG conventions.

use std::path::{Path, PathBuf};

use crate::env::{Env, vars};

#[derive(Debug, thiserror::Error)]
pub enum PathError {
    #[error("cannot locate {what}: HOME is not set (set HOME, or {override_var})")]
    NoHome { what: &'static str, override_var: &'static str },
}

/// Expands a leading `~/` the way the AWS CLI does for path variables.
pub fn expand(env: &Env, p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), env.home()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(p),
    }
}

fn home_join(env: &Env, what: &'static str, override_var: &'static str, rel: &str) -> Result<PathBuf, PathError> {
    env.home().map(|h| h.join(rel)).ok_or(PathError::NoHome { what, override_var })
}

/// `$CC_KEEPALIVE_CONFIG`, else `$XDG_CONFIG_HOME/cc-aws-keepalive/config.json`,
/// else `~/.config/cc-aws-keepalive/config.json`.
pub fn config_file(env: &Env) -> Result<PathBuf, PathError> {
    if let Some(p) = env.get(vars::CC_KEEPALIVE_CONFIG) {
        return Ok(expand(env, p));
    }
    if let Some(x) = env.get(vars::XDG_CONFIG_HOME) {
        return Ok(PathBuf::from(x).join("cc-aws-keepalive/config.json"));
    }
    home_join(env, "the config file", vars::CC_KEEPALIVE_CONFIG, ".config/cc-aws-keepalive/config.json")
}

pub fn aws_credentials_file(env: &Env) -> Result<PathBuf, PathError> {
    if let Some(p) = env.get(vars::AWS_SHARED_CREDENTIALS_FILE) {
        return Ok(expand(env, p));
    }
    home_join(env, "~/.aws/credentials", vars::AWS_SHARED_CREDENTIALS_FILE, ".aws/credentials")
}

pub fn aws_config_file(env: &Env) -> Result<PathBuf, PathError> {
    if let Some(p) = env.get(vars::AWS_CONFIG_FILE) {
        return Ok(expand(env, p));
    }
    home_join(env, "~/.aws/config", vars::AWS_CONFIG_FILE, ".aws/config")
}

/// botocore's SSO token cache directory (not configurable in botocore either).
pub fn sso_cache_dir(env: &Env) -> Result<PathBuf, PathError> {
    home_join(env, "the SSO token cache", vars::HOME, ".aws/sso/cache")
}

/// The AWS CLI's credential cache directory, shared with it for role credentials.
pub fn cli_cache_dir(env: &Env) -> Result<PathBuf, PathError> {
    home_join(env, "the AWS CLI cache", vars::HOME, ".aws/cli/cache")
}

/// `aws login`'s token cache: `$AWS_LOGIN_CACHE_DIRECTORY`, else `~/.aws/login/cache`.
pub fn login_cache_dir(env: &Env) -> Result<PathBuf, PathError> {
    if let Some(p) = env.get(vars::AWS_LOGIN_CACHE_DIRECTORY) {
        return Ok(expand(env, p));
    }
    home_join(env, "the aws login cache", vars::AWS_LOGIN_CACHE_DIRECTORY, ".aws/login/cache")
}

/// A cross-process lock under the state directory: `locks/<name>.lock`.
pub fn lock_file(env: &Env, name: &str) -> Result<PathBuf, PathError> {
    Ok(state_dir(env)?.join("locks").join(format!("{name}.lock")))
}

/// Our state: locks, stamps, the log. `$XDG_STATE_HOME/cc-aws-keepalive`.
pub fn state_dir(env: &Env) -> Result<PathBuf, PathError> {
    if let Some(x) = env.get(vars::XDG_STATE_HOME) {
        return Ok(PathBuf::from(x).join("cc-aws-keepalive"));
    }
    home_join(env, "the state directory", vars::XDG_STATE_HOME, ".local/state/cc-aws-keepalive")
}

// Every file under the state directory is named here, once; the rest of the code asks for
// the path by purpose. Lock names go through [`lock_file`].

/// The event log (`logs` reads it; rotations add `.1`, `.2`, …).
pub fn log_file(env: &Env) -> Result<PathBuf, PathError> {
    Ok(state_dir(env)?.join("keepalive.log"))
}

/// The daemon's state, read by `status`.
pub fn daemon_state_file(env: &Env) -> Result<PathBuf, PathError> {
    Ok(state_dir(env)?.join("daemon.json"))
}

/// Held by the running daemon for its lifetime: one daemon per user.
pub fn daemon_lock(env: &Env) -> Result<PathBuf, PathError> {
    lock_file(env, "daemon")
}

/// Held while any login command runs (hooks, daemon, `refresh`): one login at a time.
pub fn login_lock(env: &Env) -> Result<PathBuf, PathError> {
    lock_file(env, "login")
}

/// When a background `autoLoginCmd` last started (any session).
pub fn autologin_stamp(env: &Env) -> Result<PathBuf, PathError> {
    Ok(state_dir(env)?.join("autologin.stamp"))
}

/// When a background renewal of `profile`'s chain last started.
pub fn renew_stamp(env: &Env, profile: &str) -> Result<PathBuf, PathError> {
    Ok(state_dir(env)?.join(format!("sso-refresh-{}.stamp", sha1_smol::Sha1::from(profile).digest())))
}

/// When `refresh` last replaced fresh-looking credentials of `profile` that Claude Code's call
/// may have had refused.
pub fn replaced_stamp(env: &Env, profile: &str) -> Result<PathBuf, PathError> {
    Ok(state_dir(env)?.join(format!("replaced-{}.stamp", sha1_smol::Sha1::from(profile).digest())))
}

/// Which session end of `profile` a background renewal already notified about.
pub fn login_notified_marker(env: &Env, profile: &str) -> Result<PathBuf, PathError> {
    Ok(state_dir(env)?.join(format!("notified-login-{}", sha1_smol::Sha1::from(profile).digest())))
}

/// Where the service manager sends the daemon's stderr.
pub fn daemon_stderr_log(env: &Env) -> Result<PathBuf, PathError> {
    Ok(state_dir(env)?.join("daemon.stderr.log"))
}

/// What `setup` changed, for `setup --uninstall`.
pub fn setup_record(env: &Env) -> Result<PathBuf, PathError> {
    Ok(state_dir(env)?.join("setup.json"))
}

/// `credential_process` results cached per command.
pub fn credential_process_dir(env: &Env) -> Result<PathBuf, PathError> {
    Ok(state_dir(env)?.join("credential-process"))
}

/// A refreshed token whose cache file could not be written (`stash/<name>.json`, 0600 in a
/// 0700 folder), adopted by the next read of that session.
pub fn stash_file(env: &Env, name: &str) -> Result<PathBuf, PathError> {
    Ok(state_dir(env)?.join("stash").join(format!("{name}.json")))
}

/// Serialises installs of the binaries (two sessions starting at once, a setup meanwhile).
pub fn install_lock(env: &Env) -> Result<PathBuf, PathError> {
    lock_file(env, "install")
}

/// Where installs place the binaries: `$XDG_DATA_HOME/cc-aws-keepalive`. The plugin's
/// `UserPromptSubmit` hook names the same place as `${XDG_DATA_HOME:-$HOME/.local/share}/…`,
/// expanded by the shell Claude Code runs hooks with (an empty variable counts as unset in
/// both).
pub fn data_dir(env: &Env) -> Result<PathBuf, PathError> {
    if let Some(x) = env.get(vars::XDG_DATA_HOME) {
        return Ok(PathBuf::from(x).join("cc-aws-keepalive"));
    }
    home_join(env, "the data directory", vars::XDG_DATA_HOME, ".local/share/cc-aws-keepalive")
}

/// `<data>/versions`: one directory per installed version (`0.2.0`, or `0.2.0~2` for a
/// rebuild of the same version), each with `bin/` and, for `cargo xtask install`, `plugin/`.
pub fn versions_dir(env: &Env) -> Result<PathBuf, PathError> {
    Ok(data_dir(env)?.join("versions"))
}

/// `<data>/current`: a symlink to the version in use, switched atomically on upgrade.
pub fn current_dir(env: &Env) -> Result<PathBuf, PathError> {
    Ok(data_dir(env)?.join("current"))
}

/// `<data>/current/bin`: the binaries settings.json, the plugin's prompt hook and service
/// files name. The path survives upgrades, `claude plugin update` and Claude Code's pruning
/// of old plugin versions.
pub fn stable_bin_dir(env: &Env) -> Result<PathBuf, PathError> {
    Ok(current_dir(env)?.join("bin"))
}

/// `~/.local/bin`, where setups link the `cc-aws-keepalive` command (the XDG place for a
/// user's executables; no variable overrides it).
pub fn user_bin_dir(env: &Env) -> Result<PathBuf, PathError> {
    home_join(env, "~/.local/bin", vars::HOME, ".local/bin")
}

/// Claude Code's user settings: `$CLAUDE_CONFIG_DIR/settings.json` or `~/.claude/settings.json`.
pub fn claude_settings_file(env: &Env) -> Result<PathBuf, PathError> {
    if let Some(d) = env.get(vars::CLAUDE_CONFIG_DIR) {
        return Ok(expand(env, d).join("settings.json"));
    }
    home_join(env, "Claude Code's settings.json", vars::CLAUDE_CONFIG_DIR, ".claude/settings.json")
}

/// The path to write into service files and settings.json for the running
/// executable `exe`. Installs keep binaries in a versioned directory behind
/// the `<data>/current` symlink, and the OS reports the resolved, versioned path
/// (`/proc/self/exe`), which an upgrade deletes; the stable path through the
/// symlink survives upgrades. Anything else is returned unchanged.
pub fn stable_exe(env: &Env, exe: &Path) -> PathBuf {
    let (Ok(bin), Some(name)) = (stable_bin_dir(env), exe.file_name()) else {
        return exe.to_path_buf();
    };
    let stable = bin.join(name);
    match (std::fs::canonicalize(&stable), std::fs::canonicalize(exe)) {
        (Ok(a), Ok(b)) if a == b => stable,
        _ => exe.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_win_and_tilde_expands() {
        let env =
            Env::from_pairs([("HOME", "/h"), ("AWS_SHARED_CREDENTIALS_FILE", "~/creds"), ("XDG_CONFIG_HOME", "/x")]);
        assert_eq!(aws_credentials_file(&env).unwrap(), PathBuf::from("/h/creds"));
        assert_eq!(aws_config_file(&env).unwrap(), PathBuf::from("/h/.aws/config"));
        assert_eq!(config_file(&env).unwrap(), PathBuf::from("/x/cc-aws-keepalive/config.json"));
        assert_eq!(state_dir(&env).unwrap(), PathBuf::from("/h/.local/state/cc-aws-keepalive"));
    }

    #[cfg(unix)]
    #[test]
    fn stable_exe_goes_through_the_current_symlink() {
        let root = std::env::temp_dir().join(format!("kc-stable-exe-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let versioned = root.join("data/cc-aws-keepalive/versions/0.2.0/bin");
        std::fs::create_dir_all(&versioned).unwrap();
        std::fs::write(versioned.join("cc-aws-keepalive"), "x").unwrap();
        std::os::unix::fs::symlink("versions/0.2.0", root.join("data/cc-aws-keepalive/current")).unwrap();
        let env = Env::from_pairs([("HOME", "/nonexistent"), ("XDG_DATA_HOME", root.join("data").to_str().unwrap())]);
        let exe = versioned.join("cc-aws-keepalive");
        assert_eq!(stable_exe(&env, &exe), root.join("data/cc-aws-keepalive/current/bin/cc-aws-keepalive"));
        let elsewhere = root.join("elsewhere");
        std::fs::write(&elsewhere, "y").unwrap();
        assert_eq!(stable_exe(&env, &elsewhere), elsewhere);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn missing_home_is_an_error_naming_the_fix() {
        let env = Env::default();
        let err = aws_credentials_file(&env).unwrap_err().to_string();
        assert!(err.contains("HOME is not set"), "{err}");
        assert!(err.contains("AWS_SHARED_CREDENTIALS_FILE"), "{err}");
    }
}
