//! `[account]`: the MSN account msnbnc signs in as, and where its password
//! comes from.

use std::path::{Path, PathBuf};

use ipc::Secret;
use serde::Deserialize;

use super::Errors;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAccount {
    handle: String,
    password: Option<String>,
    password_file: Option<PathBuf>,
    password_credential: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    Inline(Secret),
    File(PathBuf),
    /// A file named this in `$CREDENTIALS_DIRECTORY` (systemd `LoadCredential=`).
    Credential(String),
}

impl PasswordSource {
    /// Reads the password now (files are re-read for every login, so a
    /// rotated password is picked up without a restart).
    pub fn load(&self) -> Result<Secret, String> {
        let path = match self {
            PasswordSource::Inline(s) => return Ok(s.clone()),
            PasswordSource::File(p) => p.clone(),
            PasswordSource::Credential(name) => {
                let dir = std::env::var_os("CREDENTIALS_DIRECTORY").ok_or_else(|| {
                    format!("password_credential = {name:?} but $CREDENTIALS_DIRECTORY is not set (is LoadCredential= in the unit?)")
                })?;
                Path::new(&dir).join(name)
            }
        };
        let mut text =
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        // One trailing newline is an artefact of editors and `echo`.
        let trimmed_len = text.trim_end_matches(['\n', '\r']).len();
        let secret = Secret::new(text[..trimmed_len].to_owned());
        zeroize::Zeroize::zeroize(&mut text);
        if secret.is_empty() {
            return Err(format!("{} is empty", path.display()));
        }
        Ok(secret)
    }
}

/// The sign-in name and password source; `None` when the password is
/// missing or ambiguous (reported in `errors`).
pub(super) fn validate(raw: RawAccount, errors: &mut Errors) -> (String, Option<PasswordSource>) {
    let account = raw.handle.trim().to_owned();
    if account != raw.handle {
        errors.add(
            "account.handle",
            "must not have leading or trailing spaces".into(),
        );
    }
    match account.split_once('@') {
        Some((user, domain))
            if !user.is_empty() && domain.contains('.') && !account.contains(char::is_whitespace) => {}
        _ => errors.add(
            "account.handle",
            format!("{account:?} is not an MSN sign-in name like support@example.com"),
        ),
    }
    (account, password(raw, errors))
}

fn password(raw: RawAccount, errors: &mut Errors) -> Option<PasswordSource> {
    let sources = [
        raw.password.is_some(),
        raw.password_file.is_some(),
        raw.password_credential.is_some(),
    ];
    match sources.iter().filter(|s| **s).count() {
        0 => {
            errors.add(
                "account.password",
                "no password: set one of password, password_file or password_credential".into(),
            );
            None
        }
        1 => {
            if let Some(p) = raw.password {
                if p.is_empty() {
                    errors.add("account.password", "is empty".into());
                }
                Some(PasswordSource::Inline(Secret::new(p)))
            } else if let Some(f) = raw.password_file {
                Some(PasswordSource::File(f))
            } else {
                raw.password_credential.map(|name| {
                    if name.is_empty() || name.contains('/') {
                        errors.add(
                            "account.password_credential",
                            format!("{name:?} is not a credential name"),
                        );
                    }
                    PasswordSource::Credential(name)
                })
            }
        }
        _ => {
            errors.add(
                "account.password",
                "set only one of password, password_file and password_credential".into(),
            );
            None
        }
    }
}
