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

/// Where `install` places the plugin and binaries: `$XDG_DATA_HOME/cc-aws-keepalive`.
pub fn data_dir(env: &Env) -> Result<PathBuf, PathError> {
    if let Some(x) = env.get(vars::XDG_DATA_HOME) {
        return Ok(PathBuf::from(x).join("cc-aws-keepalive"));
    }
    home_join(env, "the data directory", vars::XDG_DATA_HOME, ".local/share/cc-aws-keepalive")
}

/// Claude Code's user settings: `$CLAUDE_CONFIG_DIR/settings.json` or `~/.claude/settings.json`.
pub fn claude_settings_file(env: &Env) -> Result<PathBuf, PathError> {
    if let Some(d) = env.get(vars::CLAUDE_CONFIG_DIR) {
        return Ok(expand(env, d).join("settings.json"));
    }
    home_join(env, "Claude Code's settings.json", vars::CLAUDE_CONFIG_DIR, ".claude/settings.json")
}

/// The path to write into service files and settings.json for the running
/// executable `exe`. `install` keeps binaries in a versioned directory behind
/// the `<data>/plugin` symlink, and the OS reports the resolved, versioned path
/// (`/proc/self/exe`), which an upgrade deletes; the stable path through the
/// symlink survives upgrades. Anything else is returned unchanged.
pub fn stable_exe(env: &Env, exe: &Path) -> PathBuf {
    let (Ok(data), Some(name)) = (data_dir(env), exe.file_name()) else {
        return exe.to_path_buf();
    };
    let stable = data.join("plugin").join("bin").join(name);
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
    fn stable_exe_goes_through_the_plugin_symlink() {
        let root = std::env::temp_dir().join(format!("kc-stable-exe-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let versioned = root.join("data/cc-aws-keepalive/plugin-20261122T000000Z/bin");
        std::fs::create_dir_all(&versioned).unwrap();
        std::fs::write(versioned.join("cc-aws-keepalive"), "x").unwrap();
        std::os::unix::fs::symlink("plugin-20261122T000000Z", root.join("data/cc-aws-keepalive/plugin")).unwrap();
        let env = Env::from_pairs([("HOME", "/nonexistent"), ("XDG_DATA_HOME", root.join("data").to_str().unwrap())]);
        let exe = versioned.join("cc-aws-keepalive");
        assert_eq!(stable_exe(&env, &exe), root.join("data/cc-aws-keepalive/plugin/bin/cc-aws-keepalive"));
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
