//! Staff accounts: names, Argon2id password hashes, roles.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rusqlite::{params, OptionalExtension};

use super::{now_ms, Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Staff,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Staff => "staff",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "staff" => Some(Role::Staff),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub role: Role,
    /// Their own signature template: `None` means the global one, an empty
    /// one means none at all.
    pub signature: Option<String>,
}

/// Staff names double as IRC nicks: a letter, then letters, digits, `-`,
/// `_`; at most 30 characters.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && name.len() <= 30
}

fn hash(password: &str) -> Result<String, StoreError> {
    if password.is_empty() {
        return Err(StoreError::Invalid("the password is empty".into()));
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Invalid(format!("hashing the password: {e}")))
}

/// A hash to verify against when the user does not exist, so that a wrong
/// name costs as much time as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("decoy password, never matches").unwrap_or_default())
}

/// The columns [`row_to_user`] reads, in order.
pub(super) const USER_COLUMNS: &str = "u.id, u.name, u.role, u.signature";

pub(super) fn row_to_user(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<User, StoreError>> {
    let (id, name, role, signature): (i64, String, String, Option<String>) =
        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
    Ok(match Role::parse(&role) {
        Some(role) => Ok(User {
            id,
            name,
            role,
            signature,
        }),
        None => Err(StoreError::Invalid(format!(
            "user {name} has unknown role {role:?}"
        ))),
    })
}

impl Store {
    pub fn add_user(&mut self, name: &str, password: &str, role: Role) -> Result<User, StoreError> {
        if !valid_name(name) {
            return Err(StoreError::Invalid(format!(
                "{name:?} is not a valid user name (a letter, then letters, digits, '-' or '_'; at most 30)"
            )));
        }
        // Staff names and contact nicks share one namespace.
        let is_contact: bool = self.conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM contact_names WHERE name = ?1)",
            params![name],
            |r| r.get(0),
        )?;
        if is_contact {
            return Err(StoreError::Invalid(format!(
                "{name} is already the IRC name of an MSN contact"
            )));
        }
        let hash = hash(password)?;
        let inserted = self.conn.execute(
            "INSERT INTO users (name, password_hash, role, created_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(name) DO NOTHING",
            params![name, hash, role.as_str(), now_ms()],
        )?;
        if inserted == 0 {
            return Err(StoreError::Invalid(format!("user {name} already exists")));
        }
        Ok(User {
            id: self.conn.last_insert_rowid(),
            name: name.to_owned(),
            role,
            signature: None,
        })
    }

    pub fn delete_user(&mut self, name: &str) -> Result<(), StoreError> {
        match self
            .conn
            .execute("DELETE FROM users WHERE name = ?1", params![name])?
        {
            0 => Err(StoreError::Invalid(format!("no user {name}"))),
            _ => Ok(()),
        }
    }

    pub fn set_password(&mut self, name: &str, password: &str) -> Result<(), StoreError> {
        let hash = hash(password)?;
        match self.conn.execute(
            "UPDATE users SET password_hash = ?2 WHERE name = ?1",
            params![name, hash],
        )? {
            0 => Err(StoreError::Invalid(format!("no user {name}"))),
            _ => Ok(()),
        }
    }

    pub fn set_role(&mut self, name: &str, role: Role) -> Result<(), StoreError> {
        match self.conn.execute(
            "UPDATE users SET role = ?2 WHERE name = ?1",
            params![name, role.as_str()],
        )? {
            0 => Err(StoreError::Invalid(format!("no user {name}"))),
            _ => Ok(()),
        }
    }

    /// A user's own signature template: `None` means the global one, an
    /// empty one means none at all.
    pub fn signature(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT signature FROM users WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| StoreError::Invalid(format!("no user {name}")))
    }

    pub fn set_signature(&mut self, name: &str, template: Option<&str>) -> Result<(), StoreError> {
        if let Some(t) = template.filter(|t| !t.is_empty() && !t.contains("{text}")) {
            return Err(StoreError::Invalid(format!(
                "the signature {t:?} has no {{text}}: it would replace the message"
            )));
        }
        match self.conn.execute(
            "UPDATE users SET signature = ?2 WHERE name = ?1",
            params![name, template],
        )? {
            0 => Err(StoreError::Invalid(format!("no user {name}"))),
            _ => Ok(()),
        }
    }

    pub fn users(&self) -> Result<Vec<User>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.name"))?;
        let rows = stmt.query_map([], row_to_user)?;
        rows.map(|r| r?).collect()
    }

    /// The user if `name` and `password` match. Never says which was wrong.
    pub fn verify(&self, name: &str, password: &str) -> Result<Option<User>, StoreError> {
        let row: Option<(Result<User, StoreError>, String)> = self
            .conn
            .query_row(
                &format!("SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.name = ?1"),
                params![name],
                |r| Ok((row_to_user(r)?, r.get(4)?)),
            )
            .optional()?;
        let stored = row.as_ref().map_or(decoy_hash(), |r| r.1.as_str());
        let matches = PasswordHash::new(stored)
            .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false);
        match row {
            Some((user, _)) if matches => Ok(Some(user?)),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        (dir, store)
    }

    #[test]
    fn users_are_added_verified_and_listed() {
        let (_d, mut s) = store();
        s.add_user("alice", "correct horse", Role::Admin).unwrap();
        s.add_user("bob_2", "hunter2", Role::Staff).unwrap();
        assert_eq!(
            s.verify("alice", "correct horse").unwrap().map(|u| u.role),
            Some(Role::Admin)
        );
        assert_eq!(
            s.verify("ALICE", "correct horse").unwrap().map(|u| u.name),
            Some("alice".into())
        );
        assert_eq!(s.verify("alice", "wrong").unwrap(), None);
        assert_eq!(s.verify("nobody", "correct horse").unwrap(), None);
        let names: Vec<String> = s.users().unwrap().into_iter().map(|u| u.name).collect();
        assert_eq!(names, vec!["alice", "bob_2"]);
    }

    #[test]
    fn passwords_are_stored_as_argon2id_hashes() {
        let (_d, mut s) = store();
        s.add_user("alice", "correct horse", Role::Staff).unwrap();
        let stored: String = s
            .conn
            .query_row("SELECT password_hash FROM users", [], |r| r.get(0))
            .unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(!stored.contains("correct horse"));
    }

    #[test]
    fn a_user_signature_overrides_the_global_one_until_reset() {
        let (_d, mut s) = store();
        s.add_user("alice", "pw", Role::Staff).unwrap();
        assert_eq!(s.signature("alice").unwrap(), None);
        s.set_signature("alice", Some("{text} -- Alice")).unwrap();
        assert_eq!(s.signature("alice").unwrap().as_deref(), Some("{text} -- Alice"));
        s.set_signature("alice", Some("")).unwrap();
        assert_eq!(s.signature("alice").unwrap().as_deref(), Some(""));
        s.set_signature("alice", None).unwrap();
        assert_eq!(s.signature("alice").unwrap(), None);
        assert!(s.set_signature("alice", Some("no placeholder")).is_err());
        assert!(s.signature("nobody").is_err());
    }

    #[test]
    fn changes_and_mistakes() {
        let (_d, mut s) = store();
        s.add_user("alice", "one", Role::Staff).unwrap();
        assert!(s
            .add_user("Alice", "two", Role::Staff)
            .unwrap_err()
            .to_string()
            .contains("already exists"));
        assert!(s.add_user("1bad", "x", Role::Staff).is_err());
        assert!(s.add_user("has space", "x", Role::Staff).is_err());
        assert!(s
            .add_user("carol", "", Role::Staff)
            .unwrap_err()
            .to_string()
            .contains("empty"));
        s.set_password("alice", "two").unwrap();
        assert!(s.verify("alice", "one").unwrap().is_none());
        assert!(s.verify("alice", "two").unwrap().is_some());
        s.set_role("alice", Role::Admin).unwrap();
        assert_eq!(s.users().unwrap()[0].role, Role::Admin);
        assert!(s.set_role("nobody", Role::Admin).is_err());
        s.delete_user("alice").unwrap();
        assert!(s
            .delete_user("alice")
            .unwrap_err()
            .to_string()
            .contains("no user alice"));
        assert!(s.users().unwrap().is_empty());
    }
}
