//! What there is to keep alive: every `[sso-session]` of the AWS config (and the legacy SSO
//! profiles the hooks use), and the profiles the Claude Code hooks act on with their chains.
//! The AWS files and Claude Code's settings are read once per [`Discovery`], however many
//! sessions and profiles there are.

use std::collections::HashMap;

use crate::aws_files::IniDoc;
use crate::config::Config;
use crate::ctx::Ctx;
use crate::env::vars;
use crate::providers::resolve::{self, AwsFiles, Choice, ResolveError};
use crate::providers::sso::SsoProfile;
use crate::providers::{Base, Chain};
use crate::{fsutil, paths};

/// One SSO session to keep alive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The `[sso-session]` name, or `profile NAME` for a legacy SSO profile.
    pub name: String,
    /// A profile using it (the first one in the config file), or one made up
    /// from the session alone when no profile uses it: refreshing the token
    /// needs only the session's start URL and region.
    pub profile: SsoProfile,
    /// Every profile using it.
    pub profiles: Vec<String>,
}

impl Target {
    pub fn is_legacy(&self) -> bool {
        self.profile.session.is_none()
    }
}

/// Everything one command or daemon pass acts on, from one read of the files.
#[derive(Debug)]
pub struct Discovery {
    /// The profiles the hooks act on, the hooks' own first.
    pub hook_profiles: Vec<String>,
    /// Each hook profile with its chain, resolved as the hooks resolve it.
    pub chains: Vec<(String, Result<Chain, ResolveError>)>,
    pub targets: Vec<Target>,
    /// Problems with the AWS config (unreadable, broken sessions); the rest still works.
    pub problems: Vec<String>,
}

impl Discovery {
    /// Reads the AWS files and Claude Code's settings once.
    pub fn read(ctx: &Ctx, config: &Config) -> Discovery {
        let hook_profiles = hook_profiles(ctx, config);
        let files = AwsFiles::read(&ctx.env);
        let chains = chains_in(ctx, config, files.as_ref().ok(), &hook_profiles);
        let (targets, problems) = targets_from(ctx, files.as_ref().ok(), &chains);
        Discovery { hook_profiles, chains, targets, problems }
    }
}

/// The profiles the hooks act on: the one resolved from our environment and
/// config.json, and the one Claude Code's settings.json `env` selects (the
/// hooks run with that environment).
pub fn hook_profiles(ctx: &Ctx, config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(p) = crate::config::resolve_profile(&ctx.env, config) {
        out.push(p);
    }
    let env = settings_env_object(ctx);
    let get = |name: &str| env.as_ref()?.get(name)?.as_str().map(str::to_string).filter(|s| !s.is_empty());
    if let Some(p) = get(vars::CC_KEEPALIVE_PROFILE).or_else(|| get(vars::AWS_PROFILE))
        && crate::config::valid_profile_name(&p)
        && !out.contains(&p)
    {
        out.push(p);
    }
    out
}

/// The `env` object of Claude Code's user settings.json.
fn settings_env_object(ctx: &Ctx) -> Option<serde_json::Value> {
    let path = paths::claude_settings_file(&ctx.env).ok()?;
    let text = fsutil::read_optional(&path).ok()??;
    let mut v: serde_json::Value = serde_json::from_str(text.trim_start_matches('\u{feff}')).ok()?;
    Some(v.get_mut("env")?.take())
}

/// A variable from the `env` object of Claude Code's user settings.json.
pub fn settings_env(ctx: &Ctx, name: &str) -> Option<String> {
    settings_env_object(ctx)?.get(name)?.as_str().map(str::to_string).filter(|s| !s.is_empty())
}

/// Every `[sso-session]` of the AWS config file, and the legacy SSO profiles
/// among `extra_profiles`. Problems (unreadable file, broken profiles) come
/// back as lines; the rest still works.
pub fn targets(ctx: &Ctx, extra_profiles: &[String]) -> (Vec<Target>, Vec<String>) {
    let config = crate::config::load(&ctx.env).config;
    let files = AwsFiles::read(&ctx.env).ok();
    targets_from(ctx, files.as_ref(), &chains_in(ctx, &config, files.as_ref(), extra_profiles))
}

/// The targets from the files read already; when they could not be read (a broken
/// credentials file, say), from the config file alone, as its sessions do not depend on it.
fn targets_from(
    ctx: &Ctx,
    files: Option<&AwsFiles>,
    chains: &[(String, Result<Chain, ResolveError>)],
) -> (Vec<Target>, Vec<String>) {
    if let Some(f) = files {
        return targets_in(&f.config, &f.config_path, f.config_file_missing, chains);
    }
    let path = match paths::aws_config_file(&ctx.env) {
        Ok(p) => p,
        Err(e) => return (Vec::new(), vec![e.to_string()]),
    };
    match IniDoc::read(&path) {
        Ok(d) => {
            let missing = d.is_none() && ctx.env.is_set(vars::AWS_CONFIG_FILE);
            targets_in(&d.unwrap_or_default(), &path, missing, chains)
        }
        Err(e) => (Vec::new(), vec![e.to_string()]),
    }
}

/// Each hook profile with its chain, resolved as the hooks resolve it (the first one exactly;
/// the others as named in Claude Code's settings).
pub fn hook_chains(ctx: &Ctx, profiles: &[String]) -> Vec<(String, Result<Chain, ResolveError>)> {
    let config = crate::config::load(&ctx.env).config;
    let files = AwsFiles::read(&ctx.env).ok();
    chains_in(ctx, &config, files.as_ref(), profiles)
}

fn chains_in(
    ctx: &Ctx,
    config: &Config,
    files: Option<&AwsFiles>,
    profiles: &[String],
) -> Vec<(String, Result<Chain, ResolveError>)> {
    profiles
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let chain = match (files, i) {
                // Unreadable files: resolving again yields the error, for each row.
                (None, _) => resolve::resolve(ctx, config),
                (Some(f), 0) => match crate::config::choose_profile(&ctx.env, config) {
                    Ok((name, choice)) => resolve::resolve_in(&ctx.env, config, f, &name, choice),
                    Err(e) => Err(e.into()),
                },
                (Some(f), _) => resolve::resolve_in(&ctx.env, config, f, p, Choice::Explicit("settings.json env")),
            };
            (p.clone(), chain)
        })
        .collect()
}

fn targets_in(
    doc: &IniDoc,
    path: &std::path::Path,
    config_file_missing: bool,
    chains: &[(String, Result<Chain, ResolveError>)],
) -> (Vec<Target>, Vec<String>) {
    let mut problems = Vec::new();
    // Named by hand and absent: a typo, not an empty configuration.
    if config_file_missing {
        let msg =
            format!("AWS_CONFIG_FILE names {}, which does not exist; fix or unset AWS_CONFIG_FILE", path.display());
        return (Vec::new(), vec![msg]);
    }
    // Which profiles use which session, in one pass over the profiles (not one per session).
    let mut users: HashMap<String, Vec<String>> = HashMap::new();
    for p in doc.config_profile_names() {
        if let Some(s) = doc.config_profile(&p).and_then(|s| s.get("sso_session")).map(|v| v.trim().to_string()) {
            users.entry(s).or_default().push(p);
        }
    }
    let mut targets: Vec<Target> = Vec::new();
    for name in doc.sso_session_names() {
        let users = users.remove(&name).unwrap_or_default();
        let loaded = users.iter().find_map(|p| {
            let section = doc.config_profile(p)?;
            SsoProfile::from_config(p, section, doc, path).ok()
        });
        let profile = match loaded.or_else(|| session_only(doc, &name, path)) {
            Some(p) => p,
            None => {
                problems.push(format!(
                    "[sso-session {name}] in {} lacks sso_start_url or sso_region; add them or run `aws configure sso-session`",
                    path.display()
                ));
                continue;
            }
        };
        targets.push(Target { name, profile, profiles: users });
    }
    for (p, chain) in chains {
        match chain {
            Ok(Chain { base: Base::Sso(sp), .. }) if sp.session.is_none() => {
                let name = format!("profile {}", sp.profile);
                if !targets.iter().any(|t| t.name == name) {
                    targets.push(Target { name, profiles: vec![p.clone()], profile: sp.clone() });
                }
            }
            Ok(_) => {}
            // A broken SSO profile is this list's business; the profile rows show the rest.
            Err(e @ ResolveError::Sso(_)) => problems.push(e.to_string()),
            Err(_) => {}
        }
    }
    (targets, problems)
}

/// An SSO profile standing for a session that no complete profile uses.
fn session_only(doc: &IniDoc, name: &str, path: &std::path::Path) -> Option<SsoProfile> {
    let s = doc.sso_session(name)?;
    let get = |k: &str| s.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    Some(SsoProfile {
        profile: format!("(sso-session {name})"),
        session: Some(name.to_string()),
        start_url: get("sso_start_url")?,
        sso_region: get("sso_region")?,
        account_id: String::new(),
        role_name: String::new(),
        region: None,
        registration_scopes: get("sso_registration_scopes"),
        config_path: path.to_path_buf(),
    })
}
