//! Where a profile's credentials come from: IAM Identity Center (SSO), a
//! `credential_process`, or the shared credentials file written by saml2aws
//! and friends.

use std::path::PathBuf;

use time::OffsetDateTime;

use crate::aws_files::{AwsFileError, IniDoc};
use crate::config::Config;
use crate::creds::{Credentials, FileProfile, from_section};
use crate::ctx::Ctx;
use crate::env::vars;
use crate::paths::{self, PathError};

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Path(#[from] PathError),
    #[error(transparent)]
    File(#[from] AwsFileError),
    #[error("{path} does not exist")]
    NoFile { path: PathBuf },
    #[error("profile \"{profile}\" is not in {path}")]
    NoProfile { profile: String, path: PathBuf },
    #[error("profile \"{profile}\" in {path} has no aws_access_key_id/aws_secret_access_key")]
    NoKeys { profile: String, path: PathBuf },
    #[error(transparent)]
    Sso(#[from] crate::providers::sso::SsoError),
    #[error("AWS_CONFIG_FILE names {path}, which does not exist ({source}); fix or unset AWS_CONFIG_FILE")]
    ConfigFileMissing { path: PathBuf, source: Box<SourceError> },
}

/// Where a profile's credentials come from.
#[derive(Debug, Clone)]
pub enum Resolved {
    Sso(crate::providers::sso::SsoProfile),
    Process { command: String },
    File(FileState),
}

/// Classifies `profile` the way botocore orders its providers: SSO settings in
/// the config file first, then keys in the credentials file, then
/// `credential_process`. An SSO profile that is broken is reported as such
/// unless the credentials file has keys for it.
pub fn resolve(ctx: &Ctx, config: &Config, profile: &str) -> Result<Resolved, SourceError> {
    match crate::providers::sso::profile_kind(ctx, profile) {
        Ok(crate::providers::sso::ProfileKind::Sso(p)) => Ok(Resolved::Sso(p)),
        Ok(crate::providers::sso::ProfileKind::CredentialProcess { command }) => Ok(Resolved::Process { command }),
        Ok(crate::providers::sso::ProfileKind::Other) => {
            read_file(ctx, config, profile).map(Resolved::File).map_err(|e| config_file_missing(ctx, e))
        }
        Err(e) => match read_file(ctx, config, profile) {
            Ok(f) => Ok(Resolved::File(f)),
            Err(_) => Err(e.into()),
        },
    }
}

/// A profile found nowhere while `AWS_CONFIG_FILE` names a file that does not
/// exist: that typo is the likelier cause than a missing login.
fn config_file_missing(ctx: &Ctx, e: SourceError) -> SourceError {
    match (ctx.env.is_set(vars::AWS_CONFIG_FILE), paths::aws_config_file(&ctx.env)) {
        (true, Ok(path)) if !path.exists() => SourceError::ConfigFileMissing { path, source: Box::new(e) },
        _ => e,
    }
}

/// A credentials-file profile as read right now.
#[derive(Debug, Clone)]
pub struct FileState {
    pub path: PathBuf,
    pub profile: FileProfile,
}

impl FileState {
    pub fn creds(&self) -> Option<&Credentials> {
        self.profile.creds.as_ref()
    }

    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        self.creds().and_then(|c| c.expiration)
    }
}

/// Reads the profile fresh from the credentials file. Errors when the file,
/// the profile or its keys are missing.
pub fn read_file(ctx: &Ctx, config: &Config, profile: &str) -> Result<FileState, SourceError> {
    let path = paths::aws_credentials_file(&ctx.env)?;
    let doc = IniDoc::read(&path)?.ok_or_else(|| SourceError::NoFile { path: path.clone() })?;
    let section = doc
        .section(profile)
        .ok_or_else(|| SourceError::NoProfile { profile: profile.to_string(), path: path.clone() })?;
    let fp = from_section(section, &config.expiration_field);
    if fp.creds.is_none() {
        return Err(SourceError::NoKeys { profile: profile.to_string(), path });
    }
    Ok(FileState { path, profile: fp })
}
