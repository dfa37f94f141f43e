//! `cc-aws-keepalive doctor`: checks the configuration and the known traps,
//! each problem with its fix. Reads files and (unless offline) probes the SSO
//! endpoints; changes nothing.

use std::path::{Path, PathBuf};

use time::Duration;

use crate::aws_files::IniDoc;
use crate::claude_settings as cs;
use crate::config::{self, Config};
use crate::ctx::Ctx;
use crate::daemon::{self, Target};
use crate::env::vars;
use crate::fsutil::FsError;
use crate::http::{self, Body, Client, Method, Request, Service};
use crate::providers::Base;
use crate::providers::exec::{self, HumanStep};
use crate::providers::resolve;
use crate::providers::sso;
use crate::providers::sso::{cache as sso_cache, role_cache};
use crate::{expiry, fsutil, next_step, paths};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Ok,
    /// Worth knowing; not a problem.
    Note,
    Problem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// What was checked ("config.json", "sso-session corp", …).
    pub subject: String,
    pub message: String,
    /// What to do about it.
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Skip the endpoint probes.
    pub offline: bool,
    /// Where to look for project `.claude/settings*.json` files (and upwards).
    pub cwd: Option<PathBuf>,
}

/// The scope that gives the AWS CLI a refresh token.
pub use crate::next_step::REFRESH_SCOPE;

struct Out(Vec<Finding>);

impl Out {
    fn ok(&mut self, subject: impl Into<String>, message: impl Into<String>) {
        self.0.push(Finding { severity: Severity::Ok, subject: subject.into(), message: message.into(), fix: None });
    }
    fn note(&mut self, subject: impl Into<String>, message: impl Into<String>, fix: Option<String>) {
        self.0.push(Finding { severity: Severity::Note, subject: subject.into(), message: message.into(), fix });
    }
    /// A problem, unless the very same message was already reported: several checks reach the
    /// same broken file (the AWS config file fails the session check and every profile that
    /// reads it), and one problem is printed once.
    fn problem(&mut self, subject: impl Into<String>, message: impl Into<String>, fix: impl Into<String>) {
        let message = message.into();
        if self.0.iter().any(|f| f.severity == Severity::Problem && f.message == message) {
            return;
        }
        self.0.push(Finding { severity: Severity::Problem, subject: subject.into(), message, fix: Some(fix.into()) });
    }
}

/// Runs every check.
pub fn run(ctx: &Ctx, opts: &Options) -> Vec<Finding> {
    let mut out = Out(Vec::new());
    let loaded = config::load(&ctx.env);
    check_config(&loaded, &mut out);
    let config = &loaded.config;
    let hook_profiles = daemon::hook_profiles(ctx, config);
    let (targets, problems) = daemon::targets(ctx, &hook_profiles);
    for p in problems {
        out.problem("AWS config", p, "fix the AWS config file as described");
    }
    let sessions_reported = check_profiles(ctx, config, &hook_profiles, &mut out);
    check_sessions(ctx, config, &targets, &sessions_reported, &mut out);
    check_file_modes(ctx, &targets, &mut out);
    let settings = read_user_settings(ctx);
    check_wiring(ctx, &settings, &mut out);
    let parsed = match &settings {
        UserSettings::Parsed(path, v) => Some((path.clone(), v.clone())),
        _ => None,
    };
    check_claude_env(ctx, config, parsed.as_ref(), &settings, &hook_profiles, &mut out);
    check_project_settings(ctx, opts.cwd.as_deref(), &mut out);
    check_clock(ctx, &targets, &mut out);
    if !opts.offline {
        check_endpoints(ctx, &targets, &mut out);
    }
    if daemon::running(&ctx.env) {
        out.ok("daemon", "running");
    } else {
        out.note(
            "daemon",
            "not running: sessions are refreshed only while Claude Code runs the hooks",
            Some("`cc-aws-keepalive service install` keeps them alive for every AWS tool".into()),
        );
    }
    out.0
}

fn check_config(loaded: &config::Loaded, out: &mut Out) {
    let shown = loaded.path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "config.json".into());
    if let Some(e) = &loaded.error {
        // Unreadable, a directory and invalid JSON each have their own fix; "fix the JSON" for
        // a file nobody may read sends people to the wrong place.
        let (message, fix) = match e {
            config::ConfigError::Missing { .. } => {
                (e.to_string(), "create that file or unset CC_KEEPALIVE_CONFIG".to_string())
            }
            config::ConfigError::Fs(FsError::Read { path, source }) => {
                let p = path.display();
                match FileTrouble::of(path, source) {
                    FileTrouble::Directory => (
                        format!("{p} is a directory, not a file (using the defaults meanwhile)"),
                        format!(
                            "move the directory '{p}' away; config.json must be a file (or absent, for the defaults)"
                        ),
                    ),
                    FileTrouble::Unreadable => (
                        format!("{p} is unreadable: permission denied (using the defaults meanwhile)"),
                        format!("make it readable by you: chmod 600 '{p}' (and check its owner)"),
                    ),
                    FileTrouble::Other => (e.to_string(), format!("check '{p}' (or delete it to use the defaults)")),
                }
            }
            config::ConfigError::Fs(FsError::TooLarge { path, .. }) => {
                (e.to_string(), format!("'{}' is not a config file; move it away", path.display()))
            }
            _ => (e.to_string(), "fix the JSON (or delete the file to use the defaults)".to_string()),
        };
        out.problem("config.json", message, fix);
    }
    for w in &loaded.warnings {
        out.problem("config.json", w.clone(), "correct or remove that key");
    }
    if loaded.error.is_none() && loaded.warnings.is_empty() {
        let exists = loaded.path.as_ref().is_some_and(|p| p.exists());
        out.ok(
            "config.json",
            if exists { format!("{shown}: valid") } else { format!("{shown}: absent, defaults apply") },
        );
    }
}

/// Returns the SSO sessions whose login state a profile's problem already told
/// ([`check_sessions`] then leaves those states out, so one missing login is one problem).
fn check_profiles(ctx: &Ctx, config: &Config, hook_profiles: &[String], out: &mut Out) -> Vec<String> {
    let mut sessions_reported = Vec::new();
    if let Err(e) = config::resolve_profile(&ctx.env, config) {
        out.problem("profile", e.to_string(), "set a valid \"profile\" in config.json or AWS_PROFILE");
    }
    for (p, chain) in daemon::hook_chains(ctx, hook_profiles) {
        let subject = format!("profile {p}");
        let chain = match chain {
            Ok(c) => c,
            Err(e) if e.is_missing() => {
                out.problem(
                    subject,
                    e.to_string(),
                    "log in with your AWS login tool, or set \"profile\" in config.json to a profile that exists",
                );
                continue;
            }
            Err(e) => {
                out.problem(subject, e.to_string(), "fix the profile in the AWS config file as described");
                continue;
            }
        };
        let desc = resolve::describe(&chain);
        if let Base::Sso(sp) = &chain.base
            && sp.session.is_none()
        {
            out.problem(
                subject,
                format!(
                    "{desc}: legacy SSO profile (sso_start_url in the profile): the AWS CLI gives it no refresh token, so it cannot be refreshed silently and needs a browser login every {}",
                    "time its token expires (usually 1-12 hours)"
                ),
                next_step::legacy_conversion(sp),
            );
            continue;
        }
        if let Base::Keys(k) = &chain.base
            && let Some(w) = &k.keys.expiry_warning
        {
            out.problem(subject, w.clone(), "set \"expirationField\" in config.json to the key your login tool writes");
            continue;
        }
        let st = exec::status(ctx, config, &chain);
        if let Some(problem) = &st.problem {
            let fix = next_step::known(config, &chain, HumanStep::Login).unwrap_or_else(|| match &chain.base {
                Base::Process { .. } => format!(
                    "run `cc-aws-keepalive refresh --profile {p}` in a terminal: the helper can prompt there, and its own output says what it needs"
                ),
                Base::WebIdentity(w) => format!(
                    "make {} hold a current token from your identity provider (the tool or platform that writes it)",
                    w.token_file.display()
                ),
                _ => next_step::advice(config, None, Some(&chain), HumanStep::Login),
            });
            if let Base::Sso(sp) = &chain.base
                && let Some(session) = &sp.session
            {
                // Two hook profiles on one session: its login is one problem, not two.
                if sessions_reported.contains(session) {
                    continue;
                }
                sessions_reported.push(session.clone());
            }
            out.problem(subject, format!("{desc}: {problem}"), fix);
            continue;
        }
        for step in chain.roles.iter().filter(|s| s.mfa_serial.is_some()) {
            out.note(
                format!("profile {}", step.profile),
                format!("assuming {} needs an MFA code ({})", step.role_arn, step.mfa_serial.as_deref().unwrap_or("")),
                Some(format!(
                    "run `cc-aws-keepalive refresh --profile {p}` in a terminal when it asks; the hooks use the cached credentials until they end"
                )),
            );
        }
        match &chain.base {
            Base::Sso(sp) if chain.roles.is_empty() => {
                out.ok(subject, format!("SSO via {} (account {}, role {})", sp.label(), sp.account_id, sp.role_name))
            }
            Base::Keys(k)
                if chain.roles.is_empty() && k.keys.creds.as_ref().is_some_and(|c| c.expiration.is_none()) =>
            {
                out.note(
                    subject,
                    format!("{desc}: no expiry recorded ({})", k.path.display()),
                    Some(
                        "long-term keys never expire; if your login tool writes an expiry, set \"expirationField\""
                            .into(),
                    ),
                )
            }
            Base::Keys(k) if chain.roles.is_empty() => {
                out.ok(subject, format!("credentials file ({})", k.path.display()))
            }
            Base::Env(_) => out.note(
                subject,
                format!("{desc}: the keys in this environment win over every profile, as in botocore"),
                Some("Claude Code sees them only when started from this same environment".into()),
            ),
            _ => out.ok(subject, desc),
        }
    }
    sessions_reported
}

fn check_sessions(ctx: &Ctx, config: &Config, targets: &[Target], reported: &[String], out: &mut Out) {
    let Ok(cfg_path) = paths::aws_config_file(&ctx.env) else { return };
    let doc = IniDoc::read(&cfg_path).ok().flatten().unwrap_or_default();
    for t in targets.iter().filter(|t| !t.is_legacy()) {
        let subject = format!("sso-session {}", t.name);
        let scopes =
            doc.sso_session(&t.name).and_then(|s| s.get("sso_registration_scopes")).cloned().unwrap_or_default();
        let has_scope = scopes.split(',').any(|s| s.trim() == REFRESH_SCOPE);
        if !has_scope {
            out.problem(
                subject.clone(),
                format!(
                    "sso_registration_scopes {} {REFRESH_SCOPE}: its registration gets no refresh token, so it cannot be refreshed silently",
                    if scopes.is_empty() { "is missing, so it lacks".to_string() } else { format!("= {scopes} lacks") }
                ),
                format!(
                    "add `sso_registration_scopes = {REFRESH_SCOPE}` to [sso-session {}] in {}, then run `aws sso login --sso-session {}`",
                    t.name,
                    cfg_path.display(),
                    t.name
                ),
            );
        }
        // A profile's problem already said this session is not logged in (or its cache is
        // broken); its refresh token and registration are still ours to judge.
        let told = reported.contains(&t.name);
        match sso::session_status(ctx, config, &t.profile) {
            Ok(st) if !st.token_found && told => {}
            Err(_) if told => {}
            Ok(st) if !st.token_found => out.problem(
                subject,
                format!("no cached token ({})", st.token_path.display()),
                format!("run `{}`", next_step::sso_login_command(config, &t.profile)),
            ),
            Ok(st) if !st.refresh_token_present => out.problem(
                subject,
                "the cached token has no refresh token: it cannot be refreshed silently",
                format!(
                    "make sure [sso-session {}] has sso_registration_scopes = {REFRESH_SCOPE}, then run `{}`",
                    t.name,
                    next_step::sso_login_command(config, &t.profile)
                ),
            ),
            Ok(st) if !st.silent_refresh_possible => out.problem(
                subject,
                "the client registration has expired: silent refresh is no longer possible",
                format!("run `{}`", next_step::sso_login_command(config, &t.profile)),
            ),
            Ok(st) => {
                let until = st.silent_refresh_until().map(|t| expiry::relative(ctx.now, t)).unwrap_or_default();
                if has_scope {
                    out.ok(subject, format!("token cached; silent refresh possible (registration expires {until})"));
                }
            }
            Err(e) => out.problem(subject, e.to_string(), "log in again to replace the cache file"),
        }
    }
}

/// Group/other bits on a file holding secrets.
#[cfg(unix)]
fn loose_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(mode)
}

#[cfg(not(unix))]
fn loose_mode(_path: &Path) -> Option<u32> {
    None
}

fn check_file_modes(ctx: &Ctx, targets: &[Target], out: &mut Out) {
    let mut files: Vec<PathBuf> = Vec::new();
    if let Ok(p) = paths::aws_credentials_file(&ctx.env) {
        files.push(p);
    }
    for t in targets {
        if let Ok(p) = sso_cache::token_path(&ctx.env, t.profile.token_key_source()) {
            files.push(p);
        }
        if !t.profile.account_id.is_empty() {
            let key = role_cache::cache_key(
                &t.profile.account_id,
                &t.profile.role_name,
                match &t.profile.session {
                    Some(s) => role_cache::SessionRef::Session(s),
                    None => role_cache::SessionRef::StartUrl(&t.profile.start_url),
                },
            );
            if let Ok(p) = role_cache::path(&ctx.env, &key) {
                files.push(p);
            }
        }
    }
    let mut bad = 0;
    for f in files.iter().filter(|f| f.exists()) {
        if let Some(mode) = loose_mode(f) {
            bad += 1;
            out.problem(
                "file modes",
                format!("{} holds secrets but is readable by others (mode {mode:o})", f.display()),
                format!("chmod 600 '{}'", f.display()),
            );
        }
    }
    if bad == 0 {
        out.ok("file modes", "credential and cache files are private");
    }
}

/// Why a file could not be read, as people fix it.
enum FileTrouble {
    Directory,
    /// Permission denied.
    Unreadable,
    Other,
}

impl FileTrouble {
    fn of(path: &Path, e: &std::io::Error) -> FileTrouble {
        if path.is_dir() || e.kind() == std::io::ErrorKind::IsADirectory {
            FileTrouble::Directory
        } else if e.kind() == std::io::ErrorKind::PermissionDenied {
            FileTrouble::Unreadable
        } else {
            FileTrouble::Other
        }
    }
}

/// Claude Code's user settings.json, as far as it could be read.
enum UserSettings {
    /// No path (no HOME).
    Unknown,
    Missing(PathBuf),
    Directory(PathBuf),
    Unreadable(PathBuf, std::io::Error),
    TooLarge(PathBuf),
    Invalid(PathBuf, String),
    NotAnObject(PathBuf),
    Parsed(PathBuf, serde_json::Value),
}

fn read_user_settings(ctx: &Ctx) -> UserSettings {
    let Ok(path) = paths::claude_settings_file(&ctx.env) else { return UserSettings::Unknown };
    if path.is_dir() {
        return UserSettings::Directory(path);
    }
    let text = match fsutil::read_optional(&path) {
        Ok(Some(t)) => t,
        Ok(None) => return UserSettings::Missing(path),
        Err(FsError::Read { source, .. }) => {
            return match FileTrouble::of(&path, &source) {
                FileTrouble::Directory => UserSettings::Directory(path),
                _ => UserSettings::Unreadable(path, source),
            };
        }
        Err(FsError::TooLarge { .. }) => return UserSettings::TooLarge(path),
        Err(e) => return UserSettings::Unreadable(path, std::io::Error::other(e.to_string())),
    };
    match serde_json::from_str::<serde_json::Value>(text.trim_start_matches('\u{feff}')) {
        Ok(v) if v.is_object() => UserSettings::Parsed(path, v),
        Ok(_) => UserSettings::NotAnObject(path),
        Err(e) => UserSettings::Invalid(path, e.to_string()),
    }
}

fn check_wiring(ctx: &Ctx, settings: &UserSettings, out: &mut Out) {
    let shown = paths::claude_settings_file(&ctx.env)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "settings.json".into());
    const NOT_RUN: &str = "Claude Code does not run our credential commands";
    let (path, v) = match settings {
        UserSettings::Parsed(path, v) => (path, v),
        UserSettings::Unknown => {
            out.problem(
                "settings.json",
                format!("cannot locate {shown}: {NOT_RUN}"),
                "set HOME (or CLAUDE_CONFIG_DIR)",
            );
            return;
        }
        UserSettings::Missing(p) => {
            out.problem(
                "settings.json",
                format!("{} does not exist: {NOT_RUN}", p.display()),
                "run `cc-aws-keepalive setup`",
            );
            return;
        }
        UserSettings::Directory(p) => {
            out.problem(
                "settings.json",
                format!("{} is a directory, not a file: {NOT_RUN}", p.display()),
                format!("move the directory '{}' away, then run `cc-aws-keepalive setup`", p.display()),
            );
            return;
        }
        UserSettings::Unreadable(p, e) => {
            let why = if e.kind() == std::io::ErrorKind::PermissionDenied {
                "permission denied".to_string()
            } else {
                e.to_string()
            };
            out.problem(
                "settings.json",
                format!("{} is unreadable ({why}): {NOT_RUN} (Claude Code cannot read it either)", p.display()),
                format!("make it readable by you: chmod 600 '{}' (and check its owner)", p.display()),
            );
            return;
        }
        UserSettings::TooLarge(p) => {
            out.problem(
                "settings.json",
                format!("{} is larger than {} bytes: not a settings file", p.display(), fsutil::MAX_READ),
                format!("move '{}' away, then run `cc-aws-keepalive setup`", p.display()),
            );
            return;
        }
        UserSettings::Invalid(p, detail) => {
            out.problem(
                "settings.json",
                format!("{} is invalid JSON ({detail}): {NOT_RUN} (Claude Code ignores the file)", p.display()),
                format!(
                    "fix the JSON in '{}' at the line and column shown, then run `cc-aws-keepalive setup`",
                    p.display()
                ),
            );
            return;
        }
        UserSettings::NotAnObject(p) => {
            out.problem(
                "settings.json",
                format!("{}: the top level is not a JSON object: {NOT_RUN}", p.display()),
                format!("make '{}' a JSON object ({{ … }}), then run `cc-aws-keepalive setup`", p.display()),
            );
            return;
        }
    };
    let keys = [(cs::EXPORT_KEY, cs::EXPORT_BIN), (cs::REFRESH_KEY, cs::REFRESH_BIN)];
    // Neither set is one problem with one fix (not wired at all), not two.
    if keys.iter().all(|(key, _)| v.get(*key).and_then(|x| x.as_str()).is_none()) {
        out.problem(
            "settings.json",
            format!("{} sets neither \"{}\" nor \"{}\": {NOT_RUN}", path.display(), cs::EXPORT_KEY, cs::REFRESH_KEY),
            "run `cc-aws-keepalive setup`",
        );
        return;
    }
    for (key, bin) in keys {
        match v.get(key).and_then(|x| x.as_str()) {
            None => out.problem(
                "settings.json",
                format!("{} has no \"{key}\"", path.display()),
                "run `cc-aws-keepalive setup`",
            ),
            Some(cmd) if !cs::references(cmd, bin) => out.note(
                "settings.json",
                format!("\"{key}\" runs something other than {bin}: {cmd}"),
                Some("run `cc-aws-keepalive setup` to use cc-aws-keepalive's".into()),
            ),
            Some(cmd) => match command_path(cmd, bin) {
                Some(p) if !p.exists() => out.problem(
                    "settings.json",
                    format!("\"{key}\" runs {}, which does not exist", p.display()),
                    "run `cc-aws-keepalive setup` from the installed binaries",
                ),
                _ => out.ok("settings.json", format!("\"{key}\" runs {bin}")),
            },
        }
    }
}

/// The absolute path of `bin` in a command, if it names one.
fn command_path(cmd: &str, bin: &str) -> Option<PathBuf> {
    cmd.split(|c: char| c.is_whitespace() || c == '"' || c == '\'')
        .find(|w| w.starts_with('/') && Path::new(w).file_stem().is_some_and(|s| s == bin))
        .map(PathBuf::from)
}

// The region checks live in `claude_region`; the tests below still name `valid_region`.
#[cfg(test)]
use crate::claude_region::valid_region;

/// Claude Code's env: the Bedrock switch and the region it will use against our profile's.
fn check_claude_env(
    ctx: &Ctx,
    config: &Config,
    settings: Option<&(PathBuf, serde_json::Value)>,
    state: &UserSettings,
    hook_profiles: &[String],
    out: &mut Out,
) {
    // A settings.json that exists but cannot be used was reported by the wiring check; "it does
    // not set CLAUDE_CODE_USE_BEDROCK" would be the same problem told again, less truly.
    let broken = !matches!(state, UserSettings::Parsed(..) | UserSettings::Missing(_) | UserSettings::Unknown);
    let findings = crate::claude_region::check(ctx, config, settings, hook_profiles);
    for f in findings {
        let bedrock_note = f.severity == Severity::Note && f.message.contains("CLAUDE_CODE_USE_BEDROCK");
        if broken && bedrock_note {
            continue;
        }
        let told = f.severity == Severity::Problem
            && out.0.iter().any(|g| g.severity == Severity::Problem && g.message == f.message);
        if !told {
            out.0.push(f);
        }
    }
}

/// Keys in a project's settings that run commands to produce credentials.
const HELPER_KEYS: &[&str] = &[cs::EXPORT_KEY, cs::REFRESH_KEY, "apiKeyHelper"];

fn check_project_settings(ctx: &Ctx, cwd: Option<&Path>, out: &mut Out) {
    let Some(cwd) = cwd else { return };
    let user = paths::claude_settings_file(&ctx.env).ok();
    let mut found = false;
    for dir in cwd.ancestors() {
        for name in ["settings.json", "settings.local.json"] {
            let f = dir.join(".claude").join(name);
            if Some(&f) == user.as_ref() {
                continue;
            }
            let Ok(Some(text)) = fsutil::read_optional(&f) else { continue };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(text.trim_start_matches('\u{feff}')) else {
                continue;
            };
            for key in HELPER_KEYS {
                if v.get(*key).is_some() {
                    found = true;
                    out.problem(
                        "project settings",
                        format!(
                            "{} sets \"{key}\": a project file that runs a command for credentials (anyone who can change the repository can change that command)",
                            f.display()
                        ),
                        format!("move \"{key}\" to your user settings (`cc-aws-keepalive setup`) and remove it from {}", f.display()),
                    );
                }
            }
        }
    }
    if !found {
        out.ok("project settings", "no credential commands in project .claude/ settings");
    }
}

fn check_clock(ctx: &Ctx, targets: &[Target], out: &mut Out) {
    // Without a trusted time source offline, look for what a wrong clock
    // leaves behind: cache files written in the future, absurd years.
    if ctx.env.is_set(vars::CC_KEEPALIVE_NOW) {
        out.note("clock", format!("fixed by {} (tests only)", vars::CC_KEEPALIVE_NOW), None);
        return;
    }
    if ctx.now.year() < 2025 {
        out.problem(
            "clock",
            format!("the system clock says {}", expiry::to_iso8601(ctx.now)),
            "set the clock (enable NTP): AWS rejects requests from a wrong clock",
        );
        return;
    }
    for t in targets {
        let Ok(p) = sso_cache::token_path(&ctx.env, t.profile.token_key_source()) else { continue };
        let Ok(modified) = std::fs::metadata(&p).and_then(|m| m.modified()) else { continue };
        let modified = time::OffsetDateTime::from(modified);
        if modified - ctx.now > Duration::minutes(5) {
            out.problem(
                "clock",
                format!(
                    "{} was written {} in the future: the clock went back",
                    p.display(),
                    expiry::human(modified - ctx.now)
                ),
                "set the clock (enable NTP): AWS rejects requests from a wrong clock",
            );
            return;
        }
    }
    out.ok("clock", format!("{} (no sign of a wrong clock)", expiry::to_iso8601(ctx.now)));
}

fn check_endpoints(ctx: &Ctx, targets: &[Target], out: &mut Out) {
    let mut regions: Vec<&str> = targets.iter().map(|t| t.profile.sso_region.as_str()).collect();
    regions.sort_unstable();
    regions.dedup();
    for region in regions {
        for service in [Service::Oidc, Service::Portal] {
            let subject = format!("{} ({region})", service.name());
            let endpoint = match http::resolve(&ctx.env, service, region) {
                Ok(e) => e,
                Err(e) => {
                    out.problem(subject, e.to_string(), "fix the endpoint setting or sso_region");
                    continue;
                }
            };
            let shown = endpoint.base.clone();
            let result = Client::new(&ctx.env, endpoint).and_then(|c| {
                c.send(&Request {
                    op: "reachability probe",
                    method: Method::Get,
                    path: "/",
                    query: &[],
                    headers: &[],
                    body: Body::None,
                })
            });
            match result {
                // Any HTTP answer, even 403/404, proves the way there works.
                Ok(_) => out.ok(subject, format!("{shown} reachable")),
                Err(e) => out.problem(
                    subject,
                    e.to_string(),
                    "check the network, proxy (HTTPS_PROXY/NO_PROXY) and AWS_CA_BUNDLE; `doctor --offline` skips this",
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_and_paths() {
        for good in ["us-east-1", "eu-central-1", "ap-southeast-2", "us-gov-west-1"] {
            assert!(valid_region(good), "{good}");
        }
        for bad in ["", "us-east", "US-EAST-1", "useast1", "us east 1", "-1"] {
            assert!(!valid_region(bad), "{bad}");
        }
        assert_eq!(
            command_path("\"/opt/x y/cc-aws-export\"", "cc-aws-export"),
            None,
            "paths with spaces are not split reliably; not flagged"
        );
        assert_eq!(
            command_path("/opt/bin/cc-aws-export", "cc-aws-export"),
            Some(PathBuf::from("/opt/bin/cc-aws-export"))
        );
        assert_eq!(command_path("cc-aws-export", "cc-aws-export"), None);
    }
}
