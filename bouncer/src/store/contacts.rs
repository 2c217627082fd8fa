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

/// A contact msnbnc has named, and its latest conversation with them alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownContact {
    pub handle: String,
    pub name: String,
    /// The id and channel of that conversation.
    pub conversation: Option<(i64, String)>,
}

impl Store {
    /// Every contact ever named (read once, at start).
    pub fn known_contacts(&self) -> Result<Vec<KnownContact>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT n.handle, n.name, c.id, c.channel FROM contact_names n
             LEFT JOIN conversations c ON c.id = (SELECT l.id FROM conversations l
                                                  WHERE l.customers = lower(n.handle) ORDER BY l.id DESC LIMIT 1)",
        )?;
        let rows = stmt.query_map([], |r| {
            let id: Option<i64> = r.get(2)?;
            let channel: Option<String> = r.get(3)?;
            Ok(KnownContact {
                handle: r.get(0)?,
                name: r.get(1)?,
                conversation: id.zip(channel),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Keeps the name the hub gave a contact (a name taken meanwhile, by
    /// `msnbnc user add` say, keeps the older owner).
    pub fn put_contact_name(&mut self, handle: &str, name: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("INSERT OR IGNORE INTO contact_names (handle, name) VALUES (?1, ?2)")?
            .execute(params![handle, name])?;
        Ok(())
    }

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
        s.put_contact_name("carol@example.com", "carol").unwrap();
        s.put_contact_name("carol@other.org", "carol").unwrap();
        let mut known = s.known_contacts().unwrap();
        known.sort_by(|a, b| a.name.cmp(&b.name));
        let names: Vec<&str> = known.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["alice2", "bob", "bob2", "c123", "carol", "john_doe_shop"]);
    }
}
