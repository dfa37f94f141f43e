//! The resolver: which profile is meant, and how botocore would make its credentials, as a
//! [`Chain`]. Reads the two AWS files once; no network, no caches. Every rule here mirrors
//! botocore 1.43's credential resolver (see REFERENCE.md, "botocore's resolution order").

use std::path::{Path, PathBuf};

use super::{Base, Chain, KeysAt, LoginProfile, RoleStep, WebIdentity, sso};
use crate::aws_files::{AwsFileError, IniDoc, Section};
pub use crate::config::Choice;
use crate::config::{self, Config, ProfileError};
use crate::creds::{FileProfile, from_section};
use crate::ctx::Ctx;
use crate::env::{Env, vars};
use crate::paths::{self, PathError};

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Path(#[from] PathError),
    #[error(transparent)]
    File(#[from] AwsFileError),
    #[error(transparent)]
    Name(#[from] ProfileError),
    #[error(
        "{var} names profile \"{profile}\", which is in neither {config} nor {credentials}; fix {var} or add the profile"
    )]
    EnvProfileMissing { var: &'static str, profile: String, config: PathBuf, credentials: PathBuf },
    #[error(
        "profile \"{profile}\" ({from}) is in neither {config} nor {credentials}; add it (e.g. `aws configure sso --profile {profile}`) or choose another profile"
    )]
    ProfileMissing { profile: String, from: &'static str, config: PathBuf, credentials: PathBuf },
    #[error(
        "profile \"{profile}\" is not there: AWS_CONFIG_FILE names {path}, which does not exist; fix or unset AWS_CONFIG_FILE"
    )]
    ConfigFileMissing { profile: String, path: PathBuf },
    #[error(
        "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not; set both or unset AWS_ACCESS_KEY_ID (botocore fails the same way)"
    )]
    PartialEnvKeys,
    #[error(
        "profile \"{profile}\" in {path} changes aws_access_key_id after setting {key}, which would pair the new key id with the old {key}; keep one set of keys (botocore refuses such a file)"
    )]
    KeySetTwice { profile: String, key: String, path: PathBuf },
    #[error(
        "profile \"{profile}\" in {path} has aws_access_key_id but no aws_secret_access_key; add the secret or remove the key id"
    )]
    PartialKeys { profile: String, path: PathBuf },
    #[error("profile \"{profile}\" has no credentials: {why}")]
    NoCredentials { profile: String, why: String },
    #[error(
        "profile \"{profile}\" has both source_profile and credential_source; keep exactly one of them (botocore refuses both)"
    )]
    BothSources { profile: String },
    #[error(
        "profile \"{profile}\" has role_arn but neither source_profile nor credential_source; add `source_profile = <profile with credentials>`"
    )]
    NoSource { profile: String },
    #[error(
        "profile \"{profile}\" has source_profile = {source_profile}, but there is no profile \"{source_profile}\"; fix source_profile or add that profile"
    )]
    SourceMissing { profile: String, source_profile: String },
    #[error("the source_profile links form a cycle: {}; break it by giving one profile its own credentials", cycle.join(" → "))]
    Cycle { cycle: Vec<String> },
    #[error(
        "profile \"{profile}\" has credential_source = {value}, which only works on an EC2 instance or in a container; on a workstation use source_profile with a profile that has credentials"
    )]
    HostSource { profile: String, value: String },
    #[error(
        "profile \"{profile}\" has credential_source = {value}; valid values are Environment, Ec2InstanceMetadata and EcsContainer"
    )]
    BadCredentialSource { profile: String, value: String },
    #[error(
        "profile \"{profile}\" has credential_source = Environment, but AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set in this environment; set them (e.g. through aws-vault exec) or use source_profile"
    )]
    EnvSourceEmpty { profile: String },
    #[error(transparent)]
    Sso(#[from] sso::SsoError),
    #[error("profile \"{profile}\": {key} = {value:?} is not a whole number of seconds; fix it in your AWS config")]
    BadNumber { profile: String, key: &'static str, value: String },
}

impl ResolveError {
    /// Whether the chosen profile simply has nothing configured (as opposed to a broken
    /// configuration): callers may then fall back to what the credentials file will hold
    /// after a login.
    pub fn is_missing(&self) -> bool {
        matches!(
            self,
            ResolveError::ProfileMissing { .. }
                | ResolveError::EnvProfileMissing { .. }
                | ResolveError::NoCredentials { .. }
        )
    }
}

/// The two AWS files, parsed once, with botocore's merged view of each profile.
#[derive(Debug, Clone)]
pub struct AwsFiles {
    pub config_path: PathBuf,
    pub credentials_path: PathBuf,
    pub config: IniDoc,
    pub credentials: IniDoc,
    /// Whether `AWS_CONFIG_FILE` names a file that does not exist (a likelier cause than a
    /// missing login when a profile is not found).
    pub config_file_missing: bool,
}

impl AwsFiles {
    /// Reads both files, each once it has settled: login tools rewrite the credentials file
    /// in place, and a read in the middle of that must neither fail nor hand out half a profile
    /// (see [`IniDoc::read`]). Both share one settling budget, so a hook waits for a writer at
    /// most [`crate::aws_files::SETTLE_BUDGET`] in all.
    pub fn read(env: &Env) -> Result<AwsFiles, ResolveError> {
        let config_path = paths::aws_config_file(env)?;
        let credentials_path = paths::aws_credentials_file(env)?;
        let deadline = std::time::Instant::now() + crate::aws_files::SETTLE_BUDGET;
        let config = IniDoc::read_by(&config_path, deadline)?;
        let config_file_missing = config.is_none() && env.is_set(vars::AWS_CONFIG_FILE);
        let credentials = IniDoc::read_by(&credentials_path, deadline)?.unwrap_or_default();
        Ok(AwsFiles {
            config_path,
            credentials_path,
            config: config.unwrap_or_default(),
            credentials,
            config_file_missing,
        })
    }

    /// Config-file values, then credentials-file values of the same name key by key on top,
    /// as botocore merges them.
    pub fn profile(&self, name: &str) -> Option<Section> {
        let c = self.config.config_profile(name);
        let k = self.credentials.section(name);
        if c.is_none() && k.is_none() {
            return None;
        }
        let mut merged = c.cloned().unwrap_or_default();
        if let Some(k) = k {
            merged.extend(k.iter().map(|(a, b)| (a.clone(), b.clone())));
        }
        Some(merged)
    }

    /// Every profile name in either file, config file first.
    pub fn profile_names(&self) -> Vec<String> {
        let mut names = self.config.config_profile_names();
        for n in self.credentials.section_names() {
            if !names.iter().any(|x| x == n) {
                names.push(n.to_string());
            }
        }
        names
    }
}

fn get<'a>(section: &'a Section, key: &str) -> Option<&'a str> {
    section.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// Resolves the profile our hooks serve, exactly as botocore would with that profile chosen.
pub fn resolve(ctx: &Ctx, config: &Config) -> Result<Chain, ResolveError> {
    let (name, choice) = config::choose_profile(&ctx.env, config)?;
    let files = AwsFiles::read(&ctx.env)?;
    resolve_in(&ctx.env, config, &files, &name, choice)
}

/// Resolves profile `name` (chosen by `choice`) against already-read files.
pub fn resolve_in(
    env: &Env,
    config: &Config,
    files: &AwsFiles,
    name: &str,
    choice: Choice,
) -> Result<Chain, ResolveError> {
    // An explicit profile drops the environment keys (botocore removes its EnvProvider), so a
    // key id without its secret fails the chain only without one (or through
    // `credential_source = Environment`, which reads them itself).
    let env_keys = match choice {
        Choice::Explicit(_) => None,
        Choice::EnvVar(_) | Choice::Default => env_keys(env)?,
    };
    let exists = files.profile(name).is_some();
    // A typo in AWS_CONFIG_FILE is the likelier cause than a missing profile.
    if !exists && files.config_file_missing {
        return Err(ResolveError::ConfigFileMissing { profile: name.to_string(), path: files.config_path.clone() });
    }
    if let Choice::EnvVar(var) = choice
        && !exists
    {
        return Err(ResolveError::EnvProfileMissing {
            var,
            profile: name.to_string(),
            config: files.config_path.clone(),
            credentials: files.credentials_path.clone(),
        });
    }
    if let Some(keys) = env_keys {
        return Ok(Chain { profile: None, base: Base::Env(keys), roles: Vec::new() });
    }
    if !exists {
        return Err(ResolveError::ProfileMissing {
            profile: name.to_string(),
            from: choice.origin(),
            config: files.config_path.clone(),
            credentials: files.credentials_path.clone(),
        });
    }
    let region = session_region(env, files, name);
    Resolver { env, config, files, region }.chain(name)
}

/// botocore's session region: `AWS_DEFAULT_REGION`, else the chosen profile's `region`.
fn session_region(env: &Env, files: &AwsFiles, name: &str) -> Option<String> {
    env.get(vars::AWS_DEFAULT_REGION)
        .map(str::to_string)
        .or_else(|| files.profile(name).and_then(|p| get(&p, "region").map(str::to_string)))
}

/// Keys in the environment; an error when only the key id is set.
fn env_keys(env: &Env) -> Result<Option<FileProfile>, ResolveError> {
    if env.get(vars::AWS_ACCESS_KEY_ID).is_none() {
        return Ok(None);
    }
    if env.get(vars::AWS_SECRET_ACCESS_KEY).is_none() {
        return Err(ResolveError::PartialEnvKeys);
    }
    let mut section = Section::new();
    let pairs = [
        ("aws_access_key_id", vars::AWS_ACCESS_KEY_ID),
        ("aws_secret_access_key", vars::AWS_SECRET_ACCESS_KEY),
        ("aws_security_token", vars::AWS_SECURITY_TOKEN),
        ("aws_session_token", vars::AWS_SESSION_TOKEN),
        ("expiration", vars::AWS_CREDENTIAL_EXPIRATION),
    ];
    for (key, var) in pairs {
        if let Some(v) = env.get(var) {
            section.insert(key.to_string(), v.to_string());
        }
    }
    Ok(Some(from_section(&section, "")))
}

struct Resolver<'a> {
    env: &'a Env,
    config: &'a Config,
    files: &'a AwsFiles,
    region: Option<String>,
}

/// Whether botocore's AssumeRoleProvider takes the profile. botocore tests
/// `web_identity_token_file` (and the static keys below) by presence, so an empty
/// `web_identity_token_file =` still keeps the role away (the web-identity provider then skips
/// the empty path). An empty `role_arn =` fails in botocore (AssumeRole of ""): we read it as
/// absent.
fn has_role(p: &Section) -> bool {
    get(p, "role_arn").is_some() && !p.contains_key("web_identity_token_file")
}

/// botocore's `_has_static_credentials`: either key present, even empty. Such a source supplies
/// its own credentials (through the per-profile providers) instead of following its role_arn.
fn has_static_keys(p: &Section) -> bool {
    p.contains_key("aws_access_key_id") || p.contains_key("aws_secret_access_key")
}

impl Resolver<'_> {
    /// The chain of `top`: follow `source_profile` links from it, as botocore's
    /// `AssumeRoleProvider` does, to a profile that supplies credentials itself.
    fn chain(&self, top: &str) -> Result<Chain, ResolveError> {
        let mut visited = vec![top.to_string()];
        let mut roles = Vec::new();
        let mut current = top.to_string();
        let base = loop {
            let p = self.profile(&current)?;
            if !has_role(&p) {
                break self.base(&current, &p, roles.is_empty())?;
            }
            roles.push(self.role_step(&current, &p)?);
            match (get(&p, "source_profile"), get(&p, "credential_source")) {
                (Some(_), Some(_)) => return Err(ResolveError::BothSources { profile: current }),
                (None, None) => return Err(ResolveError::NoSource { profile: current }),
                (None, Some(cs)) => break self.credential_source(&current, cs)?,
                (Some(src), None) => {
                    let src = src.to_string();
                    let Some(sp) = self.files.profile(&src) else {
                        return Err(ResolveError::SourceMissing { profile: current, source_profile: src });
                    };
                    if visited.contains(&src) {
                        // A profile may name itself to assume a role with its own static keys.
                        if src != current || !has_static_keys(&p) {
                            visited.push(src);
                            return Err(ResolveError::Cycle { cycle: visited });
                        }
                        break self.source_base(&src, &sp)?;
                    }
                    visited.push(src.clone());
                    // A source with static keys supplies them even if it has role_arn too.
                    if has_static_keys(&sp) || !has_role(&sp) {
                        break self.source_base(&src, &sp)?;
                    }
                    current = src;
                }
            }
        };
        roles.reverse();
        Ok(Chain { profile: Some(top.to_string()), base, roles })
    }

    fn profile(&self, name: &str) -> Result<Section, ResolveError> {
        self.files.profile(name).ok_or_else(|| ResolveError::ProfileMissing {
            profile: name.to_string(),
            from: "source_profile",
            config: self.files.config_path.clone(),
            credentials: self.files.credentials_path.clone(),
        })
    }

    /// A source profile's own credentials (environment keys never count there).
    fn source_base(&self, name: &str, p: &Section) -> Result<Base, ResolveError> {
        self.base(name, p, false).map_err(|e| match e {
            ResolveError::NoCredentials { profile, why } => {
                ResolveError::NoCredentials { profile, why: format!("{why} (it is a source_profile)") }
            }
            other => other,
        })
    }

    fn role_step(&self, name: &str, p: &Section) -> Result<RoleStep, ResolveError> {
        Ok(RoleStep {
            profile: name.to_string(),
            role_arn: get(p, "role_arn").unwrap_or_default().to_string(),
            session_name: get(p, "role_session_name").map(str::to_string),
            external_id: get(p, "external_id").map(str::to_string),
            mfa_serial: get(p, "mfa_serial").map(str::to_string),
            duration_seconds: number(name, p, "duration_seconds")?,
            region: self.region.clone(),
        })
    }

    fn credential_source(&self, profile: &str, value: &str) -> Result<Base, ResolveError> {
        match value {
            "Environment" => match env_keys(self.env)? {
                Some(keys) => Ok(Base::Env(keys)),
                None => Err(ResolveError::EnvSourceEmpty { profile: profile.to_string() }),
            },
            "Ec2InstanceMetadata" | "EcsContainer" => {
                Err(ResolveError::HostSource { profile: profile.to_string(), value: value.to_string() })
            }
            _ => Err(ResolveError::BadCredentialSource { profile: profile.to_string(), value: value.to_string() }),
        }
    }

    /// botocore's per-profile providers after assume-role, in order: web identity, SSO, keys in
    /// the credentials file, `login_session`, `credential_process`, keys in the config file.
    /// `top`: the chosen profile itself, where the web-identity environment variables count.
    fn base(&self, name: &str, p: &Section, top: bool) -> Result<Base, ResolveError> {
        if let Some(w) = self.web_identity(name, p, top)? {
            return Ok(Base::WebIdentity(w));
        }
        if get(p, "sso_account_id").is_some() || get(p, "sso_role_name").is_some() {
            let sso = sso::SsoProfile::from_config(name, p, &self.files.config, &self.files.config_path)?;
            return Ok(Base::Sso(sso));
        }
        if let Some(keys) = self.keys_in(name, &self.files.credentials, &self.files.credentials_path, false)? {
            return Ok(Base::Keys(keys));
        }
        if let Some(session) = get(p, "login_session") {
            return Ok(Base::Login(LoginProfile {
                profile: name.to_string(),
                session: session.to_string(),
                region: self.region.clone().or_else(|| get(p, "region").map(str::to_string)),
            }));
        }
        if let Some(command) = get(p, "credential_process") {
            return Ok(Base::Process { profile: name.to_string(), command: command.to_string() });
        }
        if let Some(keys) = self.keys_in(name, &self.files.config, &self.files.config_path, true)? {
            return Ok(Base::Keys(keys));
        }
        Err(ResolveError::NoCredentials { profile: name.to_string(), why: self.why_none(name, p) })
    }

    fn keys_in(&self, name: &str, doc: &IniDoc, path: &Path, config: bool) -> Result<Option<KeysAt>, ResolveError> {
        let section = if config { doc.config_profile(name) } else { doc.section(name) };
        let Some(section) = section else { return Ok(None) };
        let clash = if config { doc.config_profile_clash(name) } else { doc.clash(name) };
        if let Some(key) = clash {
            return Err(ResolveError::KeySetTwice {
                profile: name.to_string(),
                key: key.to_string(),
                path: path.to_path_buf(),
            });
        }
        if get(section, "aws_access_key_id").is_none() {
            return Ok(None);
        }
        let keys = from_section(section, &self.config.expiration_field);
        if keys.creds.is_none() {
            return Err(ResolveError::PartialKeys { profile: name.to_string(), path: path.to_path_buf() });
        }
        Ok(Some(KeysAt { profile: name.to_string(), path: path.to_path_buf(), keys }))
    }

    fn web_identity(&self, name: &str, p: &Section, top: bool) -> Result<Option<WebIdentity>, ResolveError> {
        let from_env = |var| if top { self.env.get(var) } else { None };
        let token_file = from_env(vars::AWS_WEB_IDENTITY_TOKEN_FILE).or_else(|| get(p, "web_identity_token_file"));
        let role_arn = from_env(vars::AWS_ROLE_ARN).or_else(|| get(p, "role_arn"));
        let (Some(token_file), Some(role_arn)) = (token_file, role_arn) else { return Ok(None) };
        Ok(Some(WebIdentity {
            profile: name.to_string(),
            role_arn: role_arn.to_string(),
            token_file: paths::expand(self.env, token_file),
            session_name: from_env(vars::AWS_ROLE_SESSION_NAME)
                .or_else(|| get(p, "role_session_name"))
                .map(str::to_string),
            duration_seconds: number(name, p, "duration_seconds")?,
            region: self.region.clone(),
        }))
    }

    /// Why a profile supplies nothing, naming what it does have.
    fn why_none(&self, name: &str, p: &Section) -> String {
        if self.files.config_file_missing {
            return format!(
                "AWS_CONFIG_FILE names {}, which does not exist; fix or unset AWS_CONFIG_FILE",
                self.files.config_path.display()
            );
        }
        if get(p, "sso_session").is_some() || get(p, "sso_start_url").is_some() {
            return format!(
                "it has SSO settings but no sso_account_id/sso_role_name; add them to [profile {name}] in {} (or run `aws configure sso --profile {name}`)",
                self.files.config_path.display()
            );
        }
        if get(p, "web_identity_token_file").is_some() {
            return format!("web_identity_token_file needs role_arn; add it to [profile {name}]");
        }
        format!(
            "no keys in {}, and no role_arn, sso_account_id, login_session or credential_process in {}; log in with your AWS login tool or configure one of these",
            self.files.credentials_path.display(),
            self.files.config_path.display()
        )
    }
}

fn number(profile: &str, p: &Section, key: &'static str) -> Result<Option<u32>, ResolveError> {
    match get(p, key) {
        None => Ok(None),
        Some(v) => v.parse::<u32>().map(Some).map_err(|_| ResolveError::BadNumber {
            profile: profile.to_string(),
            key,
            value: v.chars().take(40).collect(),
        }),
    }
}

/// `bedrock ← role ← dev (sso-session corp)`: the chain as `status` and `doctor` show it,
/// outermost profile first.
pub fn describe(chain: &Chain) -> String {
    let mut out = String::new();
    for r in chain.roles.iter().rev() {
        out.push_str(&r.profile);
        out.push_str(" ← role ← ");
    }
    match &chain.base {
        Base::Env(_) => out.push_str("environment keys"),
        Base::Keys(k) => out.push_str(&format!("{} (keys in {})", k.profile, file_name(&k.path))),
        Base::Sso(s) => out.push_str(&format!("{} ({})", s.profile, s.label())),
        Base::Login(l) => out.push_str(&format!("{} (aws login)", l.profile)),
        Base::Process { profile, .. } => out.push_str(&format!("{profile} (credential_process)")),
        Base::WebIdentity(w) => out.push_str(&format!("{} (web identity)", w.profile)),
    }
    out
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| p.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(config: &str, credentials: &str) -> AwsFiles {
        AwsFiles {
            config_path: PathBuf::from("/h/.aws/config"),
            credentials_path: PathBuf::from("/h/.aws/credentials"),
            config: IniDoc::parse(config, Path::new("/h/.aws/config")).unwrap(),
            credentials: IniDoc::parse(credentials, Path::new("/h/.aws/credentials")).unwrap(),
            config_file_missing: false,
        }
    }

    const CONFIG: &str = "\
[profile bedrock]\nrole_arn = arn:aws:iam::1:role/Bedrock\nsource_profile = dev\nregion = eu-west-1\n\
[profile dev]\nsso_session = corp\nsso_account_id = 111\nsso_role_name = Dev\n\
[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-central-1\n\
[profile deep]\nrole_arn = arn:aws:iam::1:role/Deep\nsource_profile = bedrock\nrole_session_name = me\nduration_seconds = 900\n\
[profile envsrc]\nrole_arn = arn:aws:iam::1:role/E\ncredential_source = Environment\n\
[profile ec2]\nrole_arn = arn:aws:iam::1:role/E\ncredential_source = Ec2InstanceMetadata\n\
[profile both]\nrole_arn = arn:aws:iam::1:role/E\ncredential_source = Environment\nsource_profile = dev\n\
[profile nosrc]\nrole_arn = arn:aws:iam::1:role/E\n\
[profile loop1]\nrole_arn = arn:aws:iam::1:role/L1\nsource_profile = loop2\n\
[profile loop2]\nrole_arn = arn:aws:iam::1:role/L2\nsource_profile = loop1\n\
[profile selfkeys]\nrole_arn = arn:aws:iam::1:role/S\nsource_profile = selfkeys\n\
[profile selfnokeys]\nrole_arn = arn:aws:iam::1:role/S\nsource_profile = selfnokeys\n\
[profile srckeys]\nrole_arn = arn:aws:iam::1:role/K\nsource_profile = keyed\n\
[profile keyed]\nrole_arn = arn:aws:iam::1:role/Ignored\nsource_profile = dev\n\
[profile login]\nlogin_session = arn:aws:iam::1:user/me\nregion = us-west-2\n\
[profile proc]\ncredential_process = /bin/helper\n\
[profile wi]\nrole_arn = arn:aws:iam::1:role/W\nweb_identity_token_file = /tok\n\
[profile cfgkeys]\naws_access_key_id = AKIACFG\naws_secret_access_key = s\n\
[profile ssoonly]\nsso_session = corp\n\
[profile missing-src]\nrole_arn = arn:aws:iam::1:role/E\nsource_profile = ghost\n\
[profile roleandkeys]\nrole_arn = arn:aws:iam::1:role/RK\nsource_profile = cfgkeys\n";

    const CREDS: &str = "\
[selfkeys]\naws_access_key_id = AKIASELF\naws_secret_access_key = s\n\
[keyed]\naws_access_key_id = AKIAKEYED\naws_secret_access_key = s\n\
[proc]\naws_access_key_id = AKIAPROCFILE\naws_secret_access_key = s\n\
[half]\naws_access_key_id = AKIAHALF\n\
[plain]\naws_access_key_id = AKIAPLAIN\naws_secret_access_key = s\nx_security_token_expires = 2026-11-27T12:00:00Z\n";

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    fn run(name: &str, choice: Choice, env: &Env) -> Result<Chain, ResolveError> {
        resolve_in(env, &Config::default(), &files(CONFIG, CREDS), name, choice)
    }

    fn explicit(name: &str) -> Result<Chain, ResolveError> {
        run(name, Choice::Explicit("test"), &env(&[]))
    }

    #[test]
    fn chains_are_described_outermost_first() {
        let table: &[(&str, &str)] = &[
            ("bedrock", "bedrock ← role ← dev (sso-session corp)"),
            ("deep", "deep ← role ← bedrock ← role ← dev (sso-session corp)"),
            ("selfkeys", "selfkeys ← role ← selfkeys (keys in credentials)"),
            // A source with static keys supplies them even though it has role_arn too.
            ("srckeys", "srckeys ← role ← keyed (keys in credentials)"),
            ("roleandkeys", "roleandkeys ← role ← cfgkeys (keys in config)"),
            ("login", "login (aws login)"),
            // Keys in the credentials file come before credential_process.
            ("proc", "proc (keys in credentials)"),
            ("wi", "wi (web identity)"),
            ("cfgkeys", "cfgkeys (keys in config)"),
            ("plain", "plain (keys in credentials)"),
            ("dev", "dev (sso-session corp)"),
        ];
        for (name, want) in table {
            let chain = explicit(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(describe(&chain), *want, "{name}");
        }
    }

    #[test]
    fn role_steps_carry_their_settings_and_the_session_region() {
        let chain = explicit("deep").unwrap();
        assert_eq!(chain.roles.len(), 2);
        assert_eq!(chain.roles[0].profile, "bedrock", "innermost first");
        assert_eq!(chain.roles[1].session_name.as_deref(), Some("me"));
        assert_eq!(chain.roles[1].duration_seconds, Some(900));
        // botocore's session region is the chosen profile's: deep has none.
        assert_eq!(chain.roles[0].region, None);
        assert_eq!(explicit("bedrock").unwrap().roles[0].region.as_deref(), Some("eu-west-1"));
        let e = env(&[("AWS_DEFAULT_REGION", "ap-south-1")]);
        assert_eq!(run("bedrock", Choice::Explicit("t"), &e).unwrap().roles[0].region.as_deref(), Some("ap-south-1"));
        let login = explicit("login").unwrap();
        assert!(matches!(login.base, Base::Login(ref l) if l.region.as_deref() == Some("us-west-2")));
    }

    #[test]
    fn broken_chains_name_the_problem() {
        let table: &[(&str, &[&str])] = &[
            ("loop1", &["cycle", "loop1 → loop2 → loop1"]),
            ("selfnokeys", &["cycle", "selfnokeys → selfnokeys"]),
            ("both", &["both source_profile and credential_source"]),
            ("nosrc", &["neither source_profile nor credential_source"]),
            ("ec2", &["EC2 instance", "source_profile"]),
            ("missing-src", &["no profile \"ghost\""]),
            ("ssoonly", &["sso_account_id/sso_role_name"]),
            ("half", &["no aws_secret_access_key", "/h/.aws/credentials"]),
            ("envsrc", &["credential_source = Environment", "AWS_ACCESS_KEY_ID"]),
            ("nope", &["\"nope\"", "neither"]),
        ];
        for (name, needles) in table {
            let e = explicit(name).map(|c| describe(&c)).unwrap_err().to_string();
            for n in *needles {
                assert!(e.contains(n), "{name}: {e}");
            }
        }
    }

    #[test]
    fn environment_keys_follow_botocore_precedence() {
        let keys = [("AWS_ACCESS_KEY_ID", "AKIAENV"), ("AWS_SECRET_ACCESS_KEY", "secret")];
        let e = env(&keys);
        // No profile chosen, or AWS_PROFILE: environment keys win.
        assert!(matches!(run("default", Choice::Default, &e).unwrap().base, Base::Env(_)));
        assert!(matches!(run("dev", Choice::EnvVar("AWS_PROFILE"), &e).unwrap().base, Base::Env(_)));
        // An explicit profile drops them.
        assert!(matches!(run("dev", Choice::Explicit("t"), &e).unwrap().base, Base::Sso(_)));
        // AWS_PROFILE naming a missing profile fails even with keys set.
        let err = run("ghost", Choice::EnvVar("AWS_PROFILE"), &e).unwrap_err().to_string();
        assert!(err.contains("AWS_PROFILE") && err.contains("ghost"), "{err}");
        // credential_source = Environment reads them even under an explicit profile.
        let chain = run("envsrc", Choice::Explicit("t"), &e).unwrap();
        assert!(matches!(chain.base, Base::Env(_)) && chain.roles.len() == 1);
        // Only the key id: the chain fails.
        let half = env(&[("AWS_ACCESS_KEY_ID", "AKIAENV")]);
        assert!(matches!(run("dev", Choice::Default, &half), Err(ResolveError::PartialEnvKeys)));
        let Base::Env(k) = run("default", Choice::Default, &e).unwrap().base else { panic!() };
        assert_eq!(k.creds.unwrap().access_key_id, "AKIAENV");
    }

    #[test]
    fn an_explicit_profile_ignores_a_key_id_without_its_secret() {
        // botocore drops its EnvProvider under an explicit profile, so a stray
        // AWS_ACCESS_KEY_ID breaks nothing there (found by tests/it/differential.rs).
        let half = env(&[("AWS_ACCESS_KEY_ID", "AKIAENV")]);
        assert!(matches!(run("dev", Choice::Explicit("t"), &half).unwrap().base, Base::Sso(_)));
        let chain = run("bedrock", Choice::Explicit("t"), &half).unwrap();
        assert_eq!(describe(&chain), "bedrock ← role ← dev (sso-session corp)");
        // Without one, the chain fails as botocore's does.
        assert!(matches!(run("dev", Choice::EnvVar("AWS_PROFILE"), &half), Err(ResolveError::PartialEnvKeys)));
        assert!(matches!(run("dev", Choice::Default, &half), Err(ResolveError::PartialEnvKeys)));
        // credential_source = Environment reads the pair itself: still an error.
        assert!(matches!(run("envsrc", Choice::Explicit("t"), &half), Err(ResolveError::PartialEnvKeys)));
    }

    #[test]
    fn empty_values_decide_by_presence_where_botocore_does() {
        // Both checked against botocore 1.43 (found by tests/it/differential.rs).
        let f = files(
            "[profile wiempty]\nrole_arn = arn:aws:iam::1:role/W\nsource_profile = dev\nweb_identity_token_file =\n\
             aws_access_key_id = AKIAWI\naws_secret_access_key = s\n\
             [profile dev]\naws_access_key_id = AKIADEV\naws_secret_access_key = s\n\
             [profile top]\nrole_arn = arn:aws:iam::1:role/X\nsource_profile = emptykey\n\
             [profile emptykey]\naws_access_key_id =\nrole_arn = arn:aws:iam::1:role/Y\nsource_profile = dev\n\
             credential_process = /bin/helper\n",
            "",
        );
        let describe_of = |name: &str| {
            let chain = resolve_in(&env(&[]), &Config::default(), &f, name, Choice::Explicit("t")).unwrap();
            describe(&chain)
        };
        // An empty web_identity_token_file keeps AssumeRoleProvider away; the keys serve.
        assert_eq!(describe_of("wiempty"), "wiempty (keys in config)");
        // An empty aws_access_key_id makes a source supply its own credentials.
        assert_eq!(describe_of("top"), "top ← role ← emptykey (credential_process)");
    }

    #[test]
    fn profile_choice_order() {
        use crate::config::choose_profile;
        let c = Config::default();
        let both = env(&[("AWS_PROFILE", "a"), ("AWS_DEFAULT_PROFILE", "b")]);
        assert_eq!(choose_profile(&both, &c).unwrap(), ("b".into(), Choice::EnvVar("AWS_DEFAULT_PROFILE")));
        let ours = env(&[("AWS_PROFILE", "a"), ("CC_KEEPALIVE_PROFILE", "x")]);
        assert_eq!(choose_profile(&ours, &c).unwrap().0, "x");
        let cfg = Config { profile: "y".into(), ..Config::default() };
        assert!(matches!(choose_profile(&both, &cfg).unwrap().1, Choice::Explicit(_)));
        assert_eq!(choose_profile(&env(&[]), &c).unwrap(), ("default".into(), Choice::Default));
        assert!(choose_profile(&env(&[("AWS_PROFILE", "-x")]), &c).is_err());
    }

    #[test]
    fn a_key_id_set_twice_is_refused_rather_than_paired_with_the_other_secret() {
        let f = files(
            "",
            "[k]\naws_access_key_id = AKIAOLD\naws_secret_access_key = OLDSECRET\naws_access_key_id = AKIANEW\n",
        );
        let e = resolve_in(&env(&[]), &Config::default(), &f, "k", Choice::Explicit("t")).unwrap_err().to_string();
        assert!(e.contains("aws_secret_access_key") && e.contains("/h/.aws/credentials"), "{e}");
        assert!(!e.contains("OLDSECRET"), "{e}");
        // A whole second pair wins, as in configparser without strict; the same value twice is no conflict.
        let f = files(
            "",
            "[k]\naws_access_key_id = A\naws_secret_access_key = S\naws_access_key_id = B\naws_secret_access_key = T\n",
        );
        let c = resolve_in(&env(&[]), &Config::default(), &f, "k", Choice::Explicit("t")).unwrap();
        assert!(matches!(&c.base, Base::Keys(k) if k.keys.creds.as_ref().unwrap().access_key_id == "B"));
        let f = files("", "[k]\naws_access_key_id = A\naws_secret_access_key = S\n[k]\naws_access_key_id = A\n");
        assert!(resolve_in(&env(&[]), &Config::default(), &f, "k", Choice::Explicit("t")).is_ok());
    }

    #[test]
    fn credentials_file_values_override_config_values_key_by_key() {
        let f = files(
            "[profile m]\nregion = eu-west-1\nrole_arn = arn:aws:iam::1:role/A\nsource_profile = k\n",
            "[m]\nrole_arn = arn:aws:iam::1:role/B\n[k]\naws_access_key_id=AKIAK\naws_secret_access_key=s\n",
        );
        let chain = resolve_in(&env(&[]), &Config::default(), &f, "m", Choice::Explicit("t")).unwrap();
        assert_eq!(chain.roles[0].role_arn, "arn:aws:iam::1:role/B");
        assert_eq!(chain.roles[0].region.as_deref(), Some("eu-west-1"));
    }
}
