//! Where a profile's credentials come from and how long they last.
//!
//! Today: the shared credentials file, written by saml2aws and friends.

use std::path::PathBuf;

use time::OffsetDateTime;

use crate::aws_files::{AwsFileError, IniDoc};
use crate::config::Config;
use crate::creds::{Credentials, FileProfile, from_section};
use crate::ctx::Ctx;
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
