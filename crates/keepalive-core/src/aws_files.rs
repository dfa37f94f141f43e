//! Reading `~/.aws/credentials` and `~/.aws/config` as the AWS CLI does:
//! comments, CRLF, a BOM, odd spacing, duplicate keys (last wins), indented
//! sub-sections.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ini::{Ini, ParseOption};

use crate::fsutil::{self, FsError};

#[derive(Debug, thiserror::Error)]
pub enum AwsFileError {
    #[error("cannot parse {path} (line {line}, column {col}): fix the INI syntax there")]
    Syntax { path: PathBuf, line: usize, col: usize },
    #[error(transparent)]
    Fs(#[from] FsError),
}

/// One section's keys (lowercased, as botocore's configparser does).
pub type Section = BTreeMap<String, String>;

/// A parsed AWS INI file. Duplicate sections are merged, later keys winning.
#[derive(Debug, Default, Clone)]
pub struct IniDoc {
    sections: Vec<(String, Section)>,
}

impl IniDoc {
    pub fn parse(text: &str, path: &Path) -> Result<IniDoc, AwsFileError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let opt = ParseOption {
            // Secrets may contain quotes or backslashes; the CLI takes values literally.
            enabled_quote: false,
            enabled_escape: false,
            // `s3 =\n  max_concurrent_requests = 10` is one nested value in the CLI.
            enabled_indented_mutiline_value: true,
            enabled_preserve_key_leading_whitespace: false,
        };
        let ini = Ini::load_from_str_opt(text, opt).map_err(|e| AwsFileError::Syntax {
            path: path.to_path_buf(),
            line: e.line,
            col: e.col,
        })?;
        let mut doc = IniDoc::default();
        for (name, props) in ini.iter() {
            let Some(name) = name else { continue };
            let name = name.trim().to_string();
            let idx = match doc.sections.iter().position(|(n, _)| *n == name) {
                Some(i) => i,
                None => {
                    doc.sections.push((name, Section::new()));
                    doc.sections.len() - 1
                }
            };
            if let Some((_, section)) = doc.sections.get_mut(idx) {
                for (k, v) in props.iter() {
                    section.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                }
            }
        }
        Ok(doc)
    }

    /// Reads and parses `path`; `Ok(None)` when the file does not exist.
    pub fn read(path: &Path) -> Result<Option<IniDoc>, AwsFileError> {
        match fsutil::read_optional(path)? {
            None => Ok(None),
            Some(text) => IniDoc::parse(&text, path).map(Some),
        }
    }

    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }

    pub fn section_names(&self) -> impl Iterator<Item = &str> {
        self.sections.iter().map(|(n, _)| n.as_str())
    }

    /// A profile in `~/.aws/config`: `[profile NAME]`, or `[default]` for the
    /// default profile (the CLI also accepts `[profile default]`, which wins).
    pub fn config_profile(&self, name: &str) -> Option<&Section> {
        let prefixed = self.sections.iter().find(|(n, _)| strip_kind(n, "profile") == Some(name));
        match prefixed {
            Some((_, s)) => Some(s),
            None if name == "default" => self.section("default"),
            None => None,
        }
    }

    /// An `[sso-session NAME]` section.
    pub fn sso_session(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|(n, _)| strip_kind(n, "sso-session") == Some(name)).map(|(_, s)| s)
    }

    /// Names of all `[sso-session NAME]` sections.
    pub fn sso_session_names(&self) -> Vec<String> {
        self.sections.iter().filter_map(|(n, _)| strip_kind(n, "sso-session").map(str::to_string)).collect()
    }

    /// Names of all profiles in a config file (`[profile X]` and `[default]`).
    pub fn config_profile_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for (n, _) in &self.sections {
            let name = if n == "default" { Some("default") } else { strip_kind(n, "profile") };
            if let Some(name) = name
                && !names.iter().any(|x| x == name)
            {
                names.push(name.to_string());
            }
        }
        names
    }
}

/// `"profile  work"` → `Some("work")` for kind "profile"; tolerant of extra spaces.
fn strip_kind<'a>(section: &'a str, kind: &str) -> Option<&'a str> {
    let rest = section.strip_prefix(kind)?;
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let name = rest.trim();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> IniDoc {
        IniDoc::parse(text, Path::new("/f")).unwrap()
    }

    #[test]
    fn tolerant_like_the_cli() {
        let text = "\u{feff}# comment\r\n; another\r\n[default]\r\naws_access_key_id = AKIA1\r\n\
                    AWS_SECRET_ACCESS_KEY=se=cr\"et\\x\r\naws_access_key_id   =   AKIA2\r\n\r\n[other]\nx=1\n[default]\nregion=eu-west-1\n";
        let doc = parse(text);
        let d = doc.section("default").unwrap();
        assert_eq!(d.get("aws_access_key_id").unwrap(), "AKIA2");
        assert_eq!(d.get("aws_secret_access_key").unwrap(), "se=cr\"et\\x");
        assert_eq!(d.get("region").unwrap(), "eu-west-1");
        assert_eq!(doc.section("other").unwrap().get("x").unwrap(), "1");
    }

    #[test]
    fn config_profiles_and_sessions() {
        let text = "[default]\nregion=us-east-1\n[profile   work ]\nsso_session = corp\n\
                    [sso-session corp]\nsso_start_url=https://x.awsapps.com/start\n[profile default]\nregion=eu-west-1\n\
                    [profiles bad]\n[services s]\ndynamodb =\n  endpoint_url = http://localhost:8000\n";
        let doc = parse(text);
        assert_eq!(doc.config_profile("work").unwrap().get("sso_session").unwrap(), "corp");
        assert_eq!(doc.config_profile("default").unwrap().get("region").unwrap(), "eu-west-1");
        assert!(doc.sso_session("corp").is_some());
        assert_eq!(doc.sso_session_names(), vec!["corp"]);
        assert_eq!(doc.config_profile_names(), vec!["default", "work"]);
        assert!(doc.config_profile("bad").is_none());
        // The nested value stays nested instead of leaking keys into the section.
        assert!(doc.section("services s").unwrap().get("endpoint_url").is_none());
    }

    #[test]
    fn syntax_errors_name_the_file_not_the_content() {
        for bad in ["[unclosed\nkey=SECRETVALUE", "[a]\n[", "=\n"] {
            match IniDoc::parse(bad, Path::new("/home/u/.aws/credentials")) {
                Ok(_) => {}
                Err(e) => {
                    let m = e.to_string();
                    assert!(m.contains("/home/u/.aws/credentials"), "{m}");
                    assert!(!m.contains("SECRETVALUE"), "{m}");
                }
            }
        }
    }

    #[test]
    fn garbage_never_panics() {
        for text in ["\0\0\0", "[[[]]]", "a=b=c", "[x]\n\tindented=1", "\u{feff}", "[é]\nü=ö", "\r\r\r", "[ ]\n k = v"]
        {
            let _ = IniDoc::parse(text, Path::new("/f"));
        }
    }
}
