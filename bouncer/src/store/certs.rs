//! Client certificates registered to staff accounts, for SASL EXTERNAL.
//! A certificate is known by the SHA-256 of its DER encoding, kept as 64
//! lower-case hex digits.

use rusqlite::{params, OptionalExtension};

use super::users::User;
use super::{now_ms, Store, StoreError};

/// The fingerprint of a DER certificate.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Accepts the usual spellings (`AB:CD:…`, `abcd…`) of a SHA-256
/// fingerprint and returns the canonical one.
pub fn normalize(text: &str) -> Result<String, StoreError> {
    let hex: String = text
        .chars()
        .filter(|c| *c != ':')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(hex)
    } else {
        Err(StoreError::Invalid(format!(
            "{text:?} is not a SHA-256 certificate fingerprint (64 hex digits, colons allowed)"
        )))
    }
}

impl Store {
    fn user_id(&self, name: &str) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT id FROM users WHERE name = ?1", params![name], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| StoreError::Invalid(format!("no user {name}")))
    }

    /// Registers a certificate to `name`; returns the canonical fingerprint.
    pub fn add_cert(&mut self, name: &str, fingerprint: &str) -> Result<String, StoreError> {
        let fp = normalize(fingerprint)?;
        let id = self.user_id(name)?;
        let owner: Option<String> = self
            .conn
            .query_row(
                "SELECT u.name FROM user_certs c JOIN users u ON u.id = c.user_id WHERE c.fingerprint = ?1",
                params![fp],
                |r| r.get(0),
            )
            .optional()?;
        match owner {
            Some(o) if o.eq_ignore_ascii_case(name) => Err(StoreError::Invalid(format!(
                "that certificate is already registered to {o}"
            ))),
            Some(_) => Err(StoreError::Invalid(
                "that certificate is registered to another user".into(),
            )),
            None => {
                self.conn.execute(
                    "INSERT INTO user_certs (fingerprint, user_id, added_ms) VALUES (?1, ?2, ?3)",
                    params![fp, id, now_ms()],
                )?;
                Ok(fp)
            }
        }
    }

    pub fn delete_cert(&mut self, name: &str, fingerprint: &str) -> Result<(), StoreError> {
        let fp = normalize(fingerprint)?;
        let id = self.user_id(name)?;
        match self.conn.execute(
            "DELETE FROM user_certs WHERE fingerprint = ?1 AND user_id = ?2",
            params![fp, id],
        )? {
            0 => Err(StoreError::Invalid(format!("{name} has no certificate {fp}"))),
            _ => Ok(()),
        }
    }

    pub fn certs(&self, name: &str) -> Result<Vec<String>, StoreError> {
        let id = self.user_id(name)?;
        let mut stmt = self.conn.prepare(
            "SELECT fingerprint FROM user_certs WHERE user_id = ?1 ORDER BY added_ms, fingerprint",
        )?;
        let rows = stmt.query_map(params![id], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The user a certificate belongs to, if any.
    pub fn user_by_cert(&self, fingerprint: &str) -> Result<Option<User>, StoreError> {
        let row = self
            .conn
            .query_row(
                &format!(
                    "SELECT {} FROM user_certs c JOIN users u ON u.id = c.user_id WHERE c.fingerprint = ?1",
                    super::users::USER_COLUMNS
                ),
                params![fingerprint],
                super::users::row_to_user,
            )
            .optional()?;
        row.transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::users::Role;

    const FP: &str =
        "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("msnbnc.db")).unwrap();
        (dir, store)
    }

    #[test]
    fn a_registered_certificate_identifies_its_user() {
        let (_d, mut s) = store();
        s.add_user("alice", "pw", Role::Staff).unwrap();
        let fp = s.add_cert("alice", FP).unwrap();
        assert_eq!(fp, FP.replace(':', "").to_lowercase());
        assert_eq!(s.certs("alice").unwrap(), vec![fp.clone()]);
        assert_eq!(s.user_by_cert(&fp).unwrap().map(|u| u.name), Some("alice".into()));
        assert_eq!(s.user_by_cert(&"0".repeat(64)).unwrap(), None);
    }

    #[test]
    fn a_certificate_belongs_to_one_user_and_goes_with_them() {
        let (_d, mut s) = store();
        s.add_user("alice", "pw", Role::Staff).unwrap();
        s.add_user("zoe", "pw", Role::Staff).unwrap();
        let fp = s.add_cert("alice", FP).unwrap();
        let taken = s.add_cert("zoe", FP).unwrap_err().to_string();
        assert!(taken.contains("another user"), "{taken}");
        assert!(s.add_cert("alice", FP).is_err());
        s.delete_user("alice").unwrap();
        assert_eq!(s.user_by_cert(&fp).unwrap(), None);
        s.add_cert("zoe", FP).unwrap();
        s.delete_cert("zoe", FP).unwrap();
        assert!(s.certs("zoe").unwrap().is_empty());
        assert!(s.delete_cert("zoe", FP).is_err());
    }

    #[test]
    fn fingerprints_are_checked_and_normalised() {
        assert!(normalize("not hex").is_err());
        assert!(normalize(&"a".repeat(63)).is_err());
        assert_eq!(normalize(&"A".repeat(64)).unwrap(), "a".repeat(64));
        assert_eq!(fingerprint(b"").len(), 64);
        // SHA-256 of the empty string.
        assert!(fingerprint(b"").starts_with("e3b0c442"));
    }
}
