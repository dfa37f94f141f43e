//! Our config.json: keys, defaults, lenient parsing with warnings, and the
//! profile we act on.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::env::{Env, vars};
use crate::fsutil;
pub use crate::notify::NotifyMode;

/// Settings from config.json. Key names match the Node.js plugin users migrate from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Profile name; empty means `AWS_DEFAULT_PROFILE`, `AWS_PROFILE`, then "default".
    pub profile: String,
    /// Credentials-file key holding the expiry; empty means auto-detect.
    pub expiration_field: String,
    /// What the user runs by hand to log in (shown in messages).
    pub login_cmd: String,
    /// A login that needs no interaction; we run it ourselves.
    pub auto_login_cmd: String,
    /// Start `auto_login_cmd` in the background this many minutes before expiry (0: never).
    pub auto_login_minutes: u64,
    /// `cc-aws-check` warns this many minutes before a login is needed.
    pub warn_minutes: u64,
    /// The status line turns yellow this many minutes before expiry.
    pub timer_warn_minutes: u64,
    /// Another status line command to show before our timer.
    pub status_line_cmd: String,
    /// Refresh an SSO access token this many minutes before it expires (botocore: 15).
    pub sso_refresh_minutes: u64,
    /// The daemon and `refresh` renew sessions with less than this left.
    pub refresh_threshold_minutes: u64,
    /// How often the daemon looks (1–60).
    pub check_interval_minutes: u64,
    /// Which desktop notifications the daemon sends.
    pub notify: NotifyMode,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            profile: String::new(),
            expiration_field: String::new(),
            login_cmd: String::new(),
            auto_login_cmd: String::new(),
            auto_login_minutes: 0,
            warn_minutes: 30,
            timer_warn_minutes: 60,
            status_line_cmd: String::new(),
            sso_refresh_minutes: 15,
            refresh_threshold_minutes: 30,
            check_interval_minutes: 10,
            notify: NotifyMode::Problems,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Text,
    Minutes,
    /// One word out of a fixed set.
    Choice,
}

/// (JSON key, kind, description for docs and config.example.json).
pub const KEYS: &[(&str, &str, &str)] = &[
    ("profile", "\"\"", "AWS profile; empty: AWS_DEFAULT_PROFILE, AWS_PROFILE, then \"default\""),
    ("expirationField", "\"\"", "credentials-file key holding the expiry; empty: auto-detect"),
    ("loginCmd", "\"\"", "the command you run to log in (shown in messages)"),
    ("autoLoginCmd", "\"\"", "a login that needs no interaction; run for you when credentials expire"),
    ("autoLoginMinutes", "0", "start autoLoginCmd in the background this many minutes before expiry (0: off)"),
    ("warnMinutes", "30", "warn in Claude Code this many minutes before a login is needed"),
    ("timerWarnMinutes", "60", "status line turns yellow this many minutes before expiry"),
    ("statusLineCmd", "\"\"", "another status line command, shown before the AWS timer"),
    ("ssoRefreshMinutes", "15", "refresh an SSO access token this many minutes before it expires"),
    ("refreshThresholdMinutes", "30", "the daemon and `refresh` renew sessions with less than this left"),
    ("checkIntervalMinutes", "10", "how often the daemon checks (1-60)"),
    (
        "notify",
        "\"problems\"",
        "desktop notifications: \"problems\" (login needed, failures), \"all\" (also successes), \"off\"",
    ),
];

fn kind_of(key: &str) -> Option<Kind> {
    match key {
        "profile" | "expirationField" | "loginCmd" | "autoLoginCmd" | "statusLineCmd" => Some(Kind::Text),
        "autoLoginMinutes"
        | "warnMinutes"
        | "timerWarnMinutes"
        | "ssoRefreshMinutes"
        | "refreshThresholdMinutes"
        | "checkIntervalMinutes" => Some(Kind::Minutes),
        "notify" => Some(Kind::Choice),
        _ => None,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: invalid JSON ({detail}); fix or delete the file (using defaults meanwhile)")]
    Malformed { path: PathBuf, detail: String },
    #[error("{path}: expected a JSON object at the top level (using defaults meanwhile)")]
    NotAnObject { path: PathBuf },
    #[error(
        "CC_KEEPALIVE_CONFIG names {path}, which does not exist (using defaults meanwhile); create it or unset CC_KEEPALIVE_CONFIG"
    )]
    Missing { path: PathBuf },
    #[error(transparent)]
    Fs(#[from] fsutil::FsError),
    #[error(transparent)]
    Path(#[from] crate::paths::PathError),
}

/// The outcome of loading config.json: never fails outright, so hooks keep
/// working with defaults; problems are reported through `warnings`/`error`.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub path: Option<PathBuf>,
    pub warnings: Vec<String>,
    pub error: Option<ConfigError>,
}

impl Loaded {
    /// Every problem as one line each, errors first.
    pub fn problems(&self) -> Vec<String> {
        self.error.iter().map(ToString::to_string).chain(self.warnings.iter().cloned()).collect()
    }
}

/// Loads the config file named by the environment. A missing file is not a
/// problem, unless `CC_KEEPALIVE_CONFIG` names it: that is a typo to report.
/// Without HOME there is no default place for it, which is the same as no
/// file (whatever else needs HOME reports it).
pub fn load(env: &Env) -> Loaded {
    let Ok(path) = crate::paths::config_file(env) else {
        return Loaded { config: Config::default(), path: None, warnings: vec![], error: None };
    };
    match fsutil::read_optional(&path) {
        Ok(None) if env.is_set(vars::CC_KEEPALIVE_CONFIG) => Loaded {
            config: Config::default(),
            path: Some(path.clone()),
            warnings: vec![],
            error: Some(ConfigError::Missing { path }),
        },
        Ok(None) => Loaded { config: Config::default(), path: Some(path), warnings: vec![], error: None },
        Ok(Some(text)) => {
            let (config, warnings, error) = parse(&text, &path);
            Loaded { config, path: Some(path), warnings, error }
        }
        Err(e) => Loaded { config: Config::default(), path: Some(path), warnings: vec![], error: Some(e.into()) },
    }
}

/// Parses config text. Unknown keys and wrong types are warnings; a file that
/// is not a JSON object is an error and yields the defaults.
pub fn parse(text: &str, path: &Path) -> (Config, Vec<String>, Option<ConfigError>) {
    let mut config = Config::default();
    let mut warnings = Vec::new();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return (config, warnings, None);
    }
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let detail = format!("line {} column {}: {}", e.line(), e.column(), classify(&e));
            return (config, warnings, Some(ConfigError::Malformed { path: path.to_path_buf(), detail }));
        }
    };
    let Value::Object(map) = value else {
        return (config, warnings, Some(ConfigError::NotAnObject { path: path.to_path_buf() }));
    };
    apply(&mut config, &map, path, &mut warnings);
    (config, warnings, None)
}

/// serde_json's messages can quote input; keep only the category.
fn classify(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Eof => "unexpected end of file",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected data",
        serde_json::error::Category::Io => "read error",
    }
}

fn apply(config: &mut Config, map: &Map<String, Value>, path: &Path, warnings: &mut Vec<String>) {
    let p = path.display();
    for (key, value) in map {
        let Some(kind) = kind_of(key) else {
            // Keys starting with '$' or '_' are comments by convention ($schema, _comment).
            if !key.starts_with('$') && !key.starts_with('_') {
                warnings.push(format!("{p}: unknown key \"{}\" ignored", key.escape_debug()));
            }
            continue;
        };
        match (kind, value) {
            (_, Value::Null) => {}
            (Kind::Text, Value::String(s)) => set_text(config, key, s.trim().to_string()),
            (Kind::Minutes, Value::Number(n)) => match n.as_u64() {
                Some(m) => set_minutes(config, key, m),
                None => {
                    warnings.push(format!("{p}: \"{key}\" must be a whole number of minutes ≥ 0; using the default"))
                }
            },
            (Kind::Minutes, Value::String(s)) => match s.trim().parse::<u64>() {
                Ok(m) => set_minutes(config, key, m),
                Err(_) => {
                    warnings.push(format!("{p}: \"{key}\" must be a whole number of minutes ≥ 0; using the default"))
                }
            },
            (Kind::Choice, Value::String(s)) => {
                if !set_choice(config, key, s.trim()) {
                    warnings.push(format!("{p}: \"{key}\" has an unknown value; {}", choice_hint(key)))
                }
            }
            (Kind::Choice, Value::Bool(b)) => {
                set_choice(config, key, if *b { "problems" } else { "off" });
            }
            (Kind::Text, _) => warnings.push(format!("{p}: \"{key}\" must be a string; using the default")),
            (Kind::Choice, _) => warnings.push(format!("{p}: \"{key}\" must be a string; {}", choice_hint(key))),
            (Kind::Minutes, _) => warnings.push(format!("{p}: \"{key}\" must be a number; using the default")),
        }
    }
}

fn set_text(config: &mut Config, key: &str, value: String) {
    match key {
        "profile" => config.profile = value,
        "expirationField" => config.expiration_field = value,
        "loginCmd" => config.login_cmd = value,
        "autoLoginCmd" => config.auto_login_cmd = value,
        "statusLineCmd" => config.status_line_cmd = value,
        _ => {}
    }
}

fn set_minutes(config: &mut Config, key: &str, value: u64) {
    // A week is more than any AWS session lasts; larger values are typos.
    let value = value.min(7 * 24 * 60);
    match key {
        // Checking less than every minute buys nothing; more than hourly misses one-hour tokens.
        "checkIntervalMinutes" => config.check_interval_minutes = value.clamp(1, 60),
        "refreshThresholdMinutes" => config.refresh_threshold_minutes = value,
        "autoLoginMinutes" => config.auto_login_minutes = value,
        "warnMinutes" => config.warn_minutes = value,
        "timerWarnMinutes" => config.timer_warn_minutes = value,
        "ssoRefreshMinutes" => config.sso_refresh_minutes = value,
        _ => {}
    }
}

/// Sets a [`Kind::Choice`] key; `false` when the value is not one of its words.
fn set_choice(config: &mut Config, key: &str, value: &str) -> bool {
    match key {
        "notify" => match NotifyMode::parse(value) {
            Some(m) => {
                config.notify = m;
                true
            }
            None => false,
        },
        _ => false,
    }
}

fn choice_hint(key: &str) -> &'static str {
    match key {
        "notify" => "use \"problems\", \"all\" or \"off\" (using \"problems\" meanwhile)",
        _ => "using the default",
    }
}

/// The example config shipped in the plugin directory.
pub fn example_json() -> String {
    let mut out = String::from("{\n");
    for (i, (key, default, _)) in KEYS.iter().enumerate() {
        let comma = if i + 1 < KEYS.len() { "," } else { "" };
        out.push_str(&format!("  \"{key}\": {default}{comma}\n"));
    }
    out.push_str("}\n");
    out
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error(
        "invalid AWS profile name {name:?} (from {source_name}): it must not be empty, start with '-', or contain spaces or control characters"
    )]
    Invalid { name: String, source_name: &'static str },
}

/// Where the profile name came from; botocore drops environment keys only for an explicit one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// `CC_KEEPALIVE_PROFILE` or config.json `profile`: like the AWS CLI's `--profile`.
    Explicit(&'static str),
    /// `AWS_DEFAULT_PROFILE` or `AWS_PROFILE`: environment keys still win.
    EnvVar(&'static str),
    /// Nothing chosen: "default".
    Default,
}

impl Choice {
    /// Where the name came from, for messages.
    pub fn origin(self) -> &'static str {
        match self {
            Choice::Explicit(s) | Choice::EnvVar(s) => s,
            Choice::Default => "the default",
        }
    }
}

/// Picks the profile: `CC_KEEPALIVE_PROFILE`, config `profile`, `AWS_DEFAULT_PROFILE`,
/// `AWS_PROFILE` (botocore reads `AWS_DEFAULT_PROFILE` first), then "default". Names end up
/// in commands, so they are validated.
pub fn choose_profile(env: &Env, config: &Config) -> Result<(String, Choice), ProfileError> {
    let (name, choice) = if let Some(p) = env.get(vars::CC_KEEPALIVE_PROFILE) {
        (p.to_string(), Choice::Explicit(vars::CC_KEEPALIVE_PROFILE))
    } else if !config.profile.is_empty() {
        (config.profile.clone(), Choice::Explicit("config.json \"profile\""))
    } else if let Some(p) = env.get(vars::AWS_DEFAULT_PROFILE) {
        (p.to_string(), Choice::EnvVar(vars::AWS_DEFAULT_PROFILE))
    } else if let Some(p) = env.get(vars::AWS_PROFILE) {
        (p.to_string(), Choice::EnvVar(vars::AWS_PROFILE))
    } else {
        ("default".to_string(), Choice::Default)
    };
    if valid_profile_name(&name) {
        Ok((name, choice))
    } else {
        Err(ProfileError::Invalid { name: name.chars().take(80).collect(), source_name: choice.origin() })
    }
}

/// The profile name alone; see [`choose_profile`].
pub fn resolve_profile(env: &Env, config: &Config) -> Result<String, ProfileError> {
    choose_profile(env, config).map(|(name, _)| name)
}

pub fn valid_profile_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && name.len() <= 128
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> PathBuf {
        PathBuf::from("/cfg/config.json")
    }

    #[test]
    fn defaults_match_the_node_plugin() {
        let c = Config::default();
        assert_eq!((c.warn_minutes, c.timer_warn_minutes, c.auto_login_minutes), (30, 60, 0));
        assert_eq!(c.sso_refresh_minutes, 15);
        let (parsed, w, e) = parse("", &p());
        assert_eq!(parsed, c);
        assert!(w.is_empty() && e.is_none());
    }

    #[test]
    fn reads_every_key_and_numbers_as_strings() {
        let text = r#"{"profile":"work","expirationField":"x_security_token_expires","loginCmd":"saml2aws login",
            "autoLoginCmd":"saml2aws login --skip-prompt","autoLoginMinutes":"10","warnMinutes":5,
            "timerWarnMinutes":" 90 ","statusLineCmd":"echo hi","ssoRefreshMinutes":20,
            "refreshThresholdMinutes":45,"checkIntervalMinutes":"5","notify":"all"}"#;
        let (c, w, e) = parse(text, &p());
        assert!(w.is_empty(), "{w:?}");
        assert!(e.is_none());
        assert_eq!(c.profile, "work");
        assert_eq!(c.expiration_field, "x_security_token_expires");
        assert_eq!(c.login_cmd, "saml2aws login");
        assert_eq!(c.auto_login_cmd, "saml2aws login --skip-prompt");
        assert_eq!(
            (c.auto_login_minutes, c.warn_minutes, c.timer_warn_minutes, c.sso_refresh_minutes),
            (10, 5, 90, 20)
        );
        assert_eq!(c.status_line_cmd, "echo hi");
        assert_eq!((c.refresh_threshold_minutes, c.check_interval_minutes), (45, 5));
        assert_eq!(c.notify, NotifyMode::All);
    }

    #[test]
    fn daemon_keys_are_clamped_and_checked() {
        let (c, w, _) = parse(r#"{"checkIntervalMinutes":0,"notify":false}"#, &p());
        assert!(w.is_empty(), "{w:?}");
        assert_eq!((c.check_interval_minutes, c.notify), (1, NotifyMode::Off));
        let (c, _, _) = parse(r#"{"checkIntervalMinutes":600}"#, &p());
        assert_eq!(c.check_interval_minutes, 60);
        let (c, w, _) = parse(r#"{"notify":"loud"}"#, &p());
        assert_eq!(c.notify, NotifyMode::Problems);
        assert!(w.join(" ").contains("\"off\""), "{w:?}");
        let (_, w, _) = parse(r#"{"notify":3}"#, &p());
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn bad_values_warn_and_keep_defaults() {
        let text = r#"{"warnMinutes":"soon","timerWarnMinutes":-4,"loginCmd":42,"colour":"red","_comment":"x","autoLoginMinutes":true,"profile":null}"#;
        let (c, w, e) = parse(text, &p());
        assert!(e.is_none());
        assert_eq!(c, Config::default());
        let all = w.join("\n");
        for key in ["warnMinutes", "timerWarnMinutes", "loginCmd", "colour", "autoLoginMinutes"] {
            assert!(all.contains(key), "no warning for {key}: {all}");
        }
        assert!(!all.contains("_comment"));
        assert!(all.contains("/cfg/config.json"));
    }

    #[test]
    fn malformed_files_are_one_line_errors_with_the_path() {
        for text in ["{", "{\"profile\":", "[1,2]", "\"str\"", "{\"a\" 1}", "nul", "{}}"] {
            let (c, _, e) = parse(text, &p());
            let msg = e.map(|e| e.to_string()).unwrap_or_default();
            assert!(msg.contains("/cfg/config.json"), "{text:?}: {msg}");
            assert!(!msg.contains('\n'), "{msg}");
            assert_eq!(c, Config::default());
        }
    }

    #[test]
    fn example_parses_cleanly_to_defaults() {
        let (c, w, e) = parse(&example_json(), &p());
        assert!(w.is_empty() && e.is_none(), "{w:?} {e:?}");
        assert_eq!(c, Config::default());
    }

    #[test]
    fn profile_precedence_and_validation() {
        let mut c = Config::default();
        assert_eq!(resolve_profile(&Env::default(), &c).unwrap(), "default");
        let env = Env::from_pairs([("AWS_PROFILE", "fromenv")]);
        assert_eq!(resolve_profile(&env, &c).unwrap(), "fromenv");
        c.profile = "fromcfg".into();
        assert_eq!(resolve_profile(&env, &c).unwrap(), "fromcfg");
        let env = Env::from_pairs([("AWS_PROFILE", "fromenv"), ("CC_KEEPALIVE_PROFILE", "override")]);
        assert_eq!(resolve_profile(&env, &c).unwrap(), "override");
        for bad in ["-rf", "a b", "tab\there", "nl\n", "\u{7}"] {
            c.profile = bad.into();
            assert!(resolve_profile(&Env::default(), &c).is_err(), "{bad:?}");
        }
        for good in ["prod-admin", "dev.us-east-1", "123456789012_Admin", "my/profile"] {
            c.profile = good.into();
            assert_eq!(resolve_profile(&Env::default(), &c).unwrap(), good);
        }
    }
}
