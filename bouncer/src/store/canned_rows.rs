//! Canned replies: a name, the text it stands for, who wrote it. Shared
//! by the whole team; the hub keeps them in memory and writes changes
//! here.

use rusqlite::params;

use super::{now_ms, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CannedReply {
    pub name: String,
    pub text: String,
    pub author: String,
}

impl Store {
    /// Adds a reply, or replaces the one of that name.
    pub fn put_canned(&mut self, r: &CannedReply) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO canned (name, text, author, created_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO UPDATE SET text = excluded.text, author = excluded.author,
                     created_ms = excluded.created_ms",
            )?
            .execute(params![r.name, r.text, r.author, now_ms()])?;
        Ok(())
    }

    /// Deletes a reply; whether there was one.
    pub fn del_canned(&mut self, name: &str) -> Result<bool, StoreError> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM canned WHERE name = ?1")?
            .execute(params![name])?;
        Ok(n > 0)
    }

    /// Every reply, by name.
    pub fn canned(&self) -> Result<Vec<CannedReply>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name, text, author FROM canned ORDER BY name")?;
        let rows = stmt.query_map([], |r| {
            Ok(CannedReply {
                name: r.get(0)?,
                text: r.get(1)?,
                author: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_kept_replaced_by_name_whatever_its_case_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("s.db")).unwrap();
        let reply = |name: &str, text: &str| CannedReply {
            name: name.into(),
            text: text.into(),
            author: "alice".into(),
        };
        s.put_canned(&reply("hours", "We are open 9-17.")).unwrap();
        s.put_canned(&reply("Hours", "We are open 9-18.")).unwrap();
        s.put_canned(&reply("thanks", "Thank you, {customer}!")).unwrap();
        let all = s.canned().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].text, "We are open 9-18.");
        assert!(s.del_canned("HOURS").unwrap());
        assert!(!s.del_canned("hours").unwrap());
        assert_eq!(s.canned().unwrap().len(), 1);
    }
}
