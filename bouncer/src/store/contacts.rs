//! The IRC name of each MSN contact: derived from the handle, unique
//! among contacts and staff, and stable across restarts.

use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError};

/// The name a handle would like: its local part, lower-cased, reduced to
/// nick characters, starting with a letter, at most 24 characters.
pub fn base_name(handle: &str) -> String {
    let local = handle.split('@').next().unwrap_or(handle).to_ascii_lowercase();
    let mut name: String = local
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(24)
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name.insert(0, 'c');
        name.truncate(24);
    }
    name
}

impl Store {
    /// The contact's IRC name, assigning one on first sight.
    pub fn contact_name(&mut self, handle: &str) -> Result<String, StoreError> {
        if let Some(name) = self
            .conn
            .query_row(
                "SELECT name FROM contact_names WHERE handle = ?1",
                params![handle],
                |r| r.get(0),
            )
            .optional()?
        {
            return Ok(name);
        }
        let base = base_name(handle);
        for n in 1u32.. {
            let candidate = if n == 1 {
                base.clone()
            } else {
                format!("{base}{n}")
            };
            let taken: bool = self.conn.query_row(
                "SELECT EXISTS(SELECT 1 FROM contact_names WHERE name = ?1)
                     OR EXISTS(SELECT 1 FROM users WHERE name = ?1)",
                params![candidate],
                |r| r.get(0),
            )?;
            if !taken {
                self.conn.execute(
                    "INSERT INTO contact_names (handle, name) VALUES (?1, ?2)",
                    params![handle, candidate],
                )?;
                return Ok(candidate);
            }
        }
        Err(StoreError::Invalid(format!("no free name for {handle}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::users::Role;

    #[test]
    fn names_are_derived_unique_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let mut s = Store::open(&path).unwrap();
        s.add_user("alice", "pw", Role::Staff).unwrap();
        assert_eq!(s.contact_name("bob@example.com").unwrap(), "bob");
        assert_eq!(
            s.contact_name("Bob@Example.com").unwrap(),
            "bob",
            "handles are case-insensitive"
        );
        assert_eq!(s.contact_name("bob@other.org").unwrap(), "bob2");
        assert_eq!(
            s.contact_name("alice@example.com").unwrap(),
            "alice2",
            "staff names are taken"
        );
        assert_eq!(s.contact_name("john.doe+shop@x.y").unwrap(), "john_doe_shop");
        assert_eq!(s.contact_name("123@x.y").unwrap(), "c123");
        drop(s);
        let mut s = Store::open(&path).unwrap();
        assert_eq!(
            s.contact_name("bob@other.org").unwrap(),
            "bob2",
            "stable across restarts"
        );
    }
}
