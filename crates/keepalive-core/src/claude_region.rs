//! The AWS region Claude Code sends Bedrock requests to, and `doctor`'s check that it is the
//! region of the profile we serve.
//!
//! Since 2.1.172 Claude Code resolves the region itself (read from the 2.1.332 bundle):
//! `AWS_REGION`, else `AWS_DEFAULT_REGION` (Claude Code's own code reads it; the JS SDK does
//! not), each only when it looks like a region name; else the `region` of the profile *Claude
//! Code* sees (`AWS_PROFILE`, else `default`) through the SDK's `loadConfig`, where
//! `~/.aws/credentials` wins over `~/.aws/config`; else us-east-1. A run with no region anywhere
//! therefore works against us-east-1. The trap is narrower and silent: a Bedrock region set only
//! on a profile Claude Code does not read (one named only in our config.json) sends requests,
//! with credentials that are fine, to us-east-1, where the user's model access or inference
//! profiles may not exist.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;

use crate::aws_files::IniDoc;
use crate::config::Choice;
use crate::config::{self, Config};
use crate::ctx::Ctx;
use crate::doctor::{Finding, Severity};
use crate::env::{Env, vars};
use crate::paths;
use crate::providers::resolve;
use crate::providers::{Base, sso};

/// Claude Code's region when nothing else gives one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// The variables of Claude Code's process that decide the region and the profiles. Only these
/// are taken from settings.json's `env`: the rest of it does not bear on this check.
const CLAUDE_VARS: &[&str] = &[
    vars::AWS_REGION,
    vars::AWS_DEFAULT_REGION,
    vars::AWS_PROFILE,
    vars::AWS_CONFIG_FILE,
    vars::AWS_SHARED_CREDENTIALS_FILE,
    vars::CC_KEEPALIVE_PROFILE,
];

/// Where a variable of Claude Code's environment comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The `env` object of Claude Code's settings.json.
    Settings,
    /// The environment `doctor` runs in; Claude Code inherits it only when started from there.
    Shell,
}

/// Claude Code's environment as far as we can know it: the shell's, overlaid with
/// settings.json's `env` (Claude Code applies that object to its own process, so it wins).
#[derive(Debug, Clone)]
pub struct ClaudeEnv {
    env: Env,
    from_settings: BTreeSet<&'static str>,
}

impl ClaudeEnv {
    /// `settings_env`: the `env` member of settings.json, if any.
    pub fn new(shell: &Env, settings_env: Option<&Value>) -> ClaudeEnv {
        let mut env = shell.clone();
        let mut from_settings = BTreeSet::new();
        for name in CLAUDE_VARS {
            // Non-string values are not something Claude Code can export; the shell's value stands.
            // An empty string still replaces the shell's value: it is what the process then sees.
            if let Some(v) = settings_env.and_then(|e| e.get(*name)).and_then(Value::as_str) {
                env.set(name, v);
                from_settings.insert(*name);
            }
        }
        ClaudeEnv { env, from_settings }
    }

    pub fn get(&self, name: &str) -> Option<(&str, Origin)> {
        let origin = if self.from_settings.contains(name) { Origin::Settings } else { Origin::Shell };
        self.env.get(name).map(|v| (v, origin))
    }

    /// The merged environment, for path and profile resolution as Claude Code's hooks see them.
    pub fn env(&self) -> &Env {
        &self.env
    }
}

/// The two AWS files, parsed; a missing or broken file counts as empty (the SDK skips it too,
/// and `doctor` reports parse errors in its own checks).
#[derive(Debug, Clone, Default)]
pub struct AwsFiles {
    pub config: IniDoc,
    pub credentials: IniDoc,
}

impl AwsFiles {
    pub fn read(env: &Env) -> AwsFiles {
        let read = |p: Result<PathBuf, paths::PathError>| {
            p.ok().and_then(|p| IniDoc::read(&p).ok().flatten()).unwrap_or_default()
        };
        AwsFiles { config: read(paths::aws_config_file(env)), credentials: read(paths::aws_credentials_file(env)) }
    }

    /// The `region` of profile `name` as the SDK merges it: the credentials file's `[name]`
    /// wins over the config file's `[profile name]`.
    pub fn profile_region(&self, name: &str) -> Option<&str> {
        self.credentials
            .section(name)
            .and_then(|s| s.get("region"))
            .or_else(|| self.config.config_profile(name).and_then(|s| s.get("region")))
            .map(String::as_str)
            .filter(|r| !r.is_empty())
    }
}

/// Where Claude Code's region comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `AWS_REGION` or `AWS_DEFAULT_REGION`.
    Variable { name: &'static str, origin: Origin },
    /// The `region` of the profile Claude Code sees.
    Profile,
    /// Nothing usable: Claude Code's built-in default.
    Default,
}

/// The region Claude Code will use, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaudeRegion {
    pub region: String,
    pub source: Source,
    /// The profile Claude Code reads: `AWS_PROFILE`, else `default`.
    pub profile: String,
    /// Where `AWS_PROFILE` came from; `None`: unset, so `default`.
    pub profile_origin: Option<Origin>,
}

/// Claude Code's own test of a region value (its regex); anything else it ignores silently.
pub fn claude_accepts(r: &str) -> bool {
    let mut parts = r.split('-');
    let first_ok = parts.next().is_some_and(|p| p.len() >= 2 && p.bytes().all(|b| b.is_ascii_alphabetic()));
    let rest: Vec<&str> = parts.collect();
    first_ok && rest.len() <= 4 && rest.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// A real region name (`us-east-1`, `us-gov-west-1`): stricter than Claude Code, to catch
/// typos such as `us-east` that it would still send requests to.
pub fn valid_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        && parts.last().is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

/// The region Claude Code will use in `env` with these AWS files.
pub fn resolve(env: &ClaudeEnv, files: &AwsFiles) -> ClaudeRegion {
    let (profile, profile_origin) = match env.get(vars::AWS_PROFILE) {
        Some((p, o)) => (p.to_string(), Some(o)),
        None => ("default".to_string(), None),
    };
    let found = |region: &str, source: Source| ClaudeRegion {
        region: region.to_string(),
        source,
        profile: profile.clone(),
        profile_origin,
    };
    for name in [vars::AWS_REGION, vars::AWS_DEFAULT_REGION] {
        if let Some((r, origin)) = env.get(name).filter(|(r, _)| claude_accepts(r)) {
            return found(r, Source::Variable { name, origin });
        }
    }
    match files.profile_region(&profile).filter(|r| claude_accepts(r)) {
        Some(r) => found(r, Source::Profile),
        None => found(DEFAULT_REGION, Source::Default),
    }
}

/// The profile we serve, with what the comparison needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ours {
    pub profile: String,
    /// Its `region`; `None`: nothing to compare with, so no trap.
    pub region: Option<String>,
    /// Its IAM Identity Center region, when it is an SSO profile.
    pub sso_region: Option<String>,
}

fn origin_text(o: Origin, shown: &str) -> String {
    match o {
        Origin::Settings => format!("in \"env\" of {shown}"),
        Origin::Shell => "in this shell's environment".to_string(),
    }
}

/// "AWS_REGION in this shell's environment", "region of profile default (no AWS_PROFILE)", …
pub fn describe(c: &ClaudeRegion, shown: &str) -> String {
    let profile = match c.profile_origin {
        Some(o) => format!("profile {} (AWS_PROFILE {})", c.profile, origin_text(o, shown)),
        None => format!("profile {} (no AWS_PROFILE)", c.profile),
    };
    match &c.source {
        Source::Variable { name, origin } => format!("{name} {}", origin_text(*origin, shown)),
        Source::Profile => format!("region of {profile}"),
        Source::Default => format!("Claude Code's default: no AWS_REGION, and {profile} has no region"),
    }
}

/// Compares Claude Code's region with our profile's. Only a difference Claude Code was not told
/// about explicitly is a problem; an explicit `AWS_REGION` elsewhere may well be intended.
pub fn assess(c: &ClaudeRegion, ours: &Ours, shown: &str) -> Finding {
    let finding = |severity, message: String, fix: Option<String>| Finding {
        severity,
        subject: "Bedrock region".into(),
        message,
        fix,
    };
    let r = &c.region;
    let how = describe(c, shown);
    let p = &ours.profile;
    let Some(pr) = ours.region.as_deref() else {
        return finding(
            Severity::Ok,
            format!("Claude Code uses {r} ({how}); profile {p} sets no region to compare with"),
            None,
        );
    };
    if pr == r {
        return finding(Severity::Ok, format!("Claude Code uses {r} ({how}), the region of profile {p}"), None);
    }
    let set_region = format!("add \"AWS_REGION\": \"{pr}\" to \"env\" in {shown}");
    match c.source {
        // Someone set this variable to Identity Center's region, mistaking it for Bedrock's.
        Source::Variable { .. } if ours.sso_region.as_deref() == Some(r.as_str()) => finding(
            Severity::Problem,
            format!(
                "Claude Code uses {r} ({how}), which is the sso_region of profile {p} (where IAM Identity Center lives), while the profile's region is {pr}"
            ),
            Some(format!("{set_region}, or whichever region you use Bedrock in; sso_region stays Identity Center's")),
        ),
        Source::Variable { .. } => finding(
            Severity::Note,
            format!("Claude Code uses {r} ({how}) for Bedrock, while profile {p} has region = {pr}"),
            Some(format!("fine if you use Bedrock in {r}; otherwise {set_region}")),
        ),
        Source::Profile | Source::Default => finding(
            Severity::Problem,
            format!(
                "Claude Code will call Bedrock in {r} ({how}), but profile {p}, whose credentials cc-aws-keepalive serves, has region = {pr}; Claude Code does not read that profile, and model access and inference profiles are per region"
            ),
            Some(format!(
                "{set_region} (or set \"AWS_PROFILE\": \"{p}\" there, so Claude Code reads that profile's region)"
            )),
        ),
    }
}

/// `doctor`'s checks of Claude Code's env: the Bedrock switch, region values, and the region
/// Claude Code will use against the region of the profile we serve.
pub fn check(
    ctx: &Ctx,
    config: &Config,
    settings: Option<&(PathBuf, Value)>,
    hook_profiles: &[String],
) -> Vec<Finding> {
    let mut out = Vec::new();
    let shown = settings
        .map(|(p, _)| p.clone())
        .or_else(|| paths::claude_settings_file(&ctx.env).ok())
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "settings.json".into());
    let settings_env = settings.and_then(|(_, v)| v.get("env"));
    let bedrock = settings_env
        .and_then(|e| e.get("CLAUDE_CODE_USE_BEDROCK"))
        .and_then(Value::as_str)
        .is_some_and(|v| v != "0" && !v.is_empty());
    if !bedrock {
        out.push(Finding {
            severity: Severity::Note,
            subject: "Claude Code env".into(),
            message: format!("{shown} does not set CLAUDE_CODE_USE_BEDROCK in \"env\""),
            fix: Some(format!(
                "for Bedrock add \"CLAUDE_CODE_USE_BEDROCK\": \"1\" to \"env\" in {shown} (unless every shell that starts Claude Code exports it)"
            )),
        });
    }

    let claude_env = ClaudeEnv::new(&ctx.env, settings_env);
    let files = AwsFiles::read(claude_env.env());
    let claude = resolve(&claude_env, &files);
    for name in [vars::AWS_REGION, vars::AWS_DEFAULT_REGION] {
        let Some((v, origin)) = claude_env.get(name) else { continue };
        if valid_region(v) {
            continue;
        }
        let ignored = if claude_accepts(v) {
            String::new()
        } else {
            format!("; Claude Code ignores it and uses {}", claude.region)
        };
        out.push(Finding {
            severity: Severity::Problem,
            subject: "Claude Code env".into(),
            message: format!("{name} = {v:?} {} is not a region name{ignored}", origin_text(origin, &shown)),
            fix: Some("use a region like us-east-1 or eu-central-1".into()),
        });
    }

    // The hooks run in Claude Code's environment, so its env picks the profile we serve there.
    if let Ok(profile) = config::resolve_profile(claude_env.env(), config) {
        let sso_region = match sso_base(ctx, config, &profile) {
            Some(sp) => Some(sp.sso_region),
            None => None,
        };
        let region = files.profile_region(&profile).map(str::to_string);
        out.push(assess(&claude, &Ours { profile, region, sso_region }, &shown));
    }

    for p in hook_profiles {
        let Some(sp) = sso_base(ctx, config, p) else { continue };
        if !valid_region(&sp.sso_region) {
            out.push(Finding {
                severity: Severity::Problem,
                subject: "regions".into(),
                message: format!("sso_region = {:?} of profile {p} is not a region name", sp.sso_region),
                fix: Some("set sso_region to your IAM Identity Center region (shown on the AWS access portal)".into()),
            });
        }
    }
    out
}

/// The SSO profile a profile's chain starts from, if it starts from one.
fn sso_base(ctx: &Ctx, config: &Config, profile: &str) -> Option<sso::SsoProfile> {
    let files = resolve::AwsFiles::read(&ctx.env).ok()?;
    match resolve::resolve_in(&ctx.env, config, &files, profile, Choice::Explicit("doctor")).ok()?.base {
        Base::Sso(sp) => Some(sp),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;

    fn files(config: &str, credentials: &str) -> AwsFiles {
        AwsFiles {
            config: IniDoc::parse(config, Path::new("/c")).unwrap(),
            credentials: IniDoc::parse(credentials, Path::new("/k")).unwrap(),
        }
    }

    fn region_of(shell: &[(&str, &str)], settings_env: Value, f: &AwsFiles) -> ClaudeRegion {
        resolve(&ClaudeEnv::new(&Env::from_pairs(shell.iter().copied()), Some(&settings_env)), f)
    }

    const CONFIG: &str = "[default]\nregion = eu-north-1\n[profile dev]\nregion = eu-west-1\n[profile bare]\n";

    #[test]
    fn precedence_variables_then_profile_then_default() {
        let f = files(CONFIG, "");
        // settings.json env beats the shell.
        let c = region_of(&[("AWS_REGION", "us-west-2")], json!({"AWS_REGION": "ap-south-1"}), &f);
        assert_eq!(c.region, "ap-south-1");
        assert_eq!(c.source, Source::Variable { name: vars::AWS_REGION, origin: Origin::Settings });
        // The shell's AWS_REGION beats AWS_DEFAULT_REGION and any profile.
        let c = region_of(&[("AWS_REGION", "us-west-2"), ("AWS_DEFAULT_REGION", "ca-central-1")], json!({}), &f);
        assert_eq!(
            (c.region.as_str(), &c.source),
            ("us-west-2", &Source::Variable { name: vars::AWS_REGION, origin: Origin::Shell })
        );
        // AWS_DEFAULT_REGION beats the profile.
        let c = region_of(&[("AWS_DEFAULT_REGION", "ca-central-1"), ("AWS_PROFILE", "dev")], json!({}), &f);
        assert_eq!(c.region, "ca-central-1");
        // The profile Claude Code sees: settings AWS_PROFILE beats the shell's.
        let c = region_of(&[("AWS_PROFILE", "bare")], json!({"AWS_PROFILE": "dev"}), &f);
        assert_eq!((c.region.as_str(), c.profile.as_str()), ("eu-west-1", "dev"));
        assert_eq!((c.source, c.profile_origin), (Source::Profile, Some(Origin::Settings)));
        // No AWS_PROFILE: [default].
        let c = region_of(&[], json!({}), &f);
        assert_eq!((c.region.as_str(), c.profile.as_str(), c.profile_origin), ("eu-north-1", "default", None));
        // A profile without a region, or none at all: us-east-1.
        let c = region_of(&[("AWS_PROFILE", "bare")], json!({}), &f);
        assert_eq!((c.region.as_str(), c.source), (DEFAULT_REGION, Source::Default));
        let c = region_of(&[], json!({}), &AwsFiles::default());
        assert_eq!((c.region.as_str(), c.source), (DEFAULT_REGION, Source::Default));
    }

    #[test]
    fn credentials_file_region_wins_as_in_the_sdk() {
        let f = files(CONFIG, "[dev]\nregion = sa-east-1\n");
        assert_eq!(f.profile_region("dev"), Some("sa-east-1"));
        assert_eq!(region_of(&[("AWS_PROFILE", "dev")], json!({}), &f).region, "sa-east-1");
        assert_eq!(f.profile_region("default"), Some("eu-north-1"));
        assert_eq!(f.profile_region("missing"), None);
    }

    #[test]
    fn values_claude_code_rejects_are_skipped() {
        let f = files("[default]\nregion = not a region\n", "");
        // An invalid AWS_REGION falls through to AWS_DEFAULT_REGION, an invalid profile region to the default.
        let c = region_of(&[("AWS_REGION", "us_east_1"), ("AWS_DEFAULT_REGION", "eu-west-3")], json!({}), &f);
        assert_eq!(c.region, "eu-west-3");
        assert_eq!(region_of(&[], json!({"AWS_REGION": "?"}), &f).region, DEFAULT_REGION);
        // An empty settings value hides the shell's, as it does in Claude Code's process.
        let c = region_of(&[("AWS_REGION", "us-west-2")], json!({"AWS_REGION": ""}), &f);
        assert_eq!(c.region, DEFAULT_REGION);
        // Non-string values are ignored; the shell's value stands.
        let c = region_of(&[("AWS_REGION", "us-west-2")], json!({"AWS_REGION": 5}), &f);
        assert_eq!(c.region, "us-west-2");
        // A settings `env` that is not an object changes nothing.
        assert_eq!(region_of(&[("AWS_REGION", "us-west-2")], json!("x"), &f).region, "us-west-2");
    }

    #[test]
    fn region_name_tests() {
        for good in ["us-east-1", "eu-central-1", "ap-southeast-2", "us-gov-west-1"] {
            assert!(valid_region(good) && claude_accepts(good), "{good}");
        }
        for bad in ["", "us-east", "US-EAST-1", "useast1", "us east 1", "-1"] {
            assert!(!valid_region(bad), "{bad}");
        }
        // Claude Code accepts some of what we flag as typos, and case-insensitively.
        for odd in ["us-east", "US-EAST-1"] {
            assert!(claude_accepts(odd), "{odd}");
        }
        for bad in ["", "-1", "useast1", "u-east-1", "us east 1", "us--1", "a-b-c-d-e-f", "us-east-1 "] {
            assert!(!claude_accepts(bad), "{bad}");
        }
    }

    fn claude(region: &str, source: Source) -> ClaudeRegion {
        ClaudeRegion { region: region.into(), source, profile: "default".into(), profile_origin: None }
    }

    fn ours(region: Option<&str>, sso_region: Option<&str>) -> Ours {
        Ours { profile: "dev".into(), region: region.map(Into::into), sso_region: sso_region.map(Into::into) }
    }

    #[test]
    fn only_an_implicit_difference_is_a_problem() {
        let s = "/h/.claude/settings.json";
        let explicit = Source::Variable { name: vars::AWS_REGION, origin: Origin::Settings };
        // Same region, or nothing to compare with: fine.
        assert_eq!(
            assess(&claude("eu-west-1", Source::Profile), &ours(Some("eu-west-1"), None), s).severity,
            Severity::Ok
        );
        assert_eq!(assess(&claude(DEFAULT_REGION, Source::Default), &ours(None, None), s).severity, Severity::Ok);
        // The trap: our region only on our profile, Claude Code on its default.
        let f = assess(&claude(DEFAULT_REGION, Source::Default), &ours(Some("eu-west-1"), None), s);
        assert_eq!(f.severity, Severity::Problem);
        assert!(f.message.contains("us-east-1") && f.message.contains("region = eu-west-1"), "{}", f.message);
        assert!(f.message.contains("profile dev") && f.message.contains("profile default"), "{}", f.message);
        let fix = f.fix.unwrap_or_default();
        assert!(fix.contains(r#""AWS_REGION": "eu-west-1""#) && fix.contains(s), "{fix}");
        assert!(fix.contains(r#""AWS_PROFILE": "dev""#), "{fix}");
        // Another profile's region is just as implicit.
        assert_eq!(
            assess(&claude("eu-north-1", Source::Profile), &ours(Some("eu-west-1"), None), s).severity,
            Severity::Problem
        );
        // An explicit AWS_REGION elsewhere may be intended: a note.
        assert_eq!(
            assess(&claude("us-west-2", explicit.clone()), &ours(Some("eu-west-1"), None), s).severity,
            Severity::Note
        );
        // ... unless it is Identity Center's region.
        let f = assess(&claude("eu-central-1", explicit), &ours(Some("eu-west-1"), Some("eu-central-1")), s);
        assert_eq!(f.severity, Severity::Problem);
        assert!(f.message.contains("is the sso_region of profile dev"), "{}", f.message);
        // Claude Code's default that happens to be Identity Center's region is the ordinary trap.
        let f = assess(&claude(DEFAULT_REGION, Source::Default), &ours(Some("eu-west-1"), Some(DEFAULT_REGION)), s);
        assert_eq!(f.severity, Severity::Problem);
        assert!(f.message.contains("will call Bedrock in us-east-1"), "{}", f.message);
    }
}
