//! Tests of conversations and lines; `store` and `say` serve the other
//! store modules' tests too.

use super::*;

pub fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("msnbnc.db")).unwrap();
    (dir, store)
}

/// Records `texts` in conversation `c` (created as `channel` with bob
/// if new) at times t0, t0 + 1000, …; returns their rows.
pub fn say(s: &mut Store, c: i64, channel: &str, texts: &[&str], t0: i64) -> Vec<i64> {
    s.put_conversation(&ConversationRow {
        id: c,
        channel: channel.into(),
        customers: vec!["bob@example.com".into()],
        created_ms: crate::store::now_ms(),
    })
    .unwrap();
    let (mut next, _) = s.high_water().unwrap();
    let mut ids = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        let time_ms = t0 + 1000 * i as i64;
        s.put_line(&LineRow {
            id: next,
            conversation: c,
            time_ms,
            msgid: format!("{channel}-{t}"),
            kind: Kind::Customer,
            sender: "bob@example.com".into(),
            source: "bob!bob@example.com".into(),
            command: "PRIVMSG",
            text: (*t).into(),
            plain: (*t).into(),
        })
        .unwrap();
        s.put_last_line(c, next, time_ms).unwrap();
        s.index_lines(&[(next, (*t).to_owned())]).unwrap();
        ids.push(next);
        next += 1;
    }
    ids
}

pub fn texts(lines: &[Line]) -> Vec<&str> {
    lines.iter().map(|l| l.text.as_str()).collect()
}

#[test]
fn lines_come_back_in_order_around_any_anchor() {
    let (_d, mut s) = store();
    let ids = say(&mut s, 1, "#bob", &["a", "b", "c", "d", "e"], 1000);
    assert_eq!(texts(&s.before(1, None, 2).unwrap()), ["d", "e"]);
    assert_eq!(
        texts(&s.before(1, Some(Anchor::Message(ids[2])), 10).unwrap()),
        ["a", "b"]
    );
    assert_eq!(texts(&s.after(1, Anchor::Message(ids[2]), 1).unwrap()), ["d"]);
    assert_eq!(
        texts(&s.after(1, Anchor::Time(2500), 10).unwrap()),
        ["c", "d", "e"]
    );
    assert_eq!(
        texts(&s.latest(1, Some(Anchor::Message(ids[1])), 2).unwrap()),
        ["d", "e"]
    );
    assert_eq!(texts(&s.latest(1, None, 10).unwrap()), ["a", "b", "c", "d", "e"]);
    assert_eq!(
        texts(&s.around(1, Anchor::Message(ids[2]), 3).unwrap()),
        ["b", "c", "d"]
    );
    // Between counts from its first anchor, in either direction.
    assert_eq!(
        texts(
            &s.between(1, Anchor::Message(ids[0]), Anchor::Message(ids[4]), 2)
                .unwrap()
        ),
        ["b", "c"]
    );
    assert_eq!(
        texts(
            &s.between(1, Anchor::Message(ids[4]), Anchor::Message(ids[0]), 2)
                .unwrap()
        ),
        ["c", "d"]
    );
    assert_eq!(
        texts(&s.between(1, Anchor::Time(0), Anchor::Time(99_999), 100).unwrap()).len(),
        5
    );
    assert_eq!(s.find_msgid("#bob-c").unwrap(), Some((ids[2], 1)));
    assert_eq!(s.find_msgid("nope").unwrap(), None);
    assert_eq!(s.last_line(1).unwrap(), ids[4]);
}

#[test]
fn two_conversations_shown_under_one_name_keep_their_own_history() {
    let (_d, mut s) = store();
    say(&mut s, 1, "#bob-2", &["first customer"], 1000);
    say(&mut s, 2, "#bob-2", &["second customer"], 5000);
    assert_eq!(texts(&s.latest(1, None, 10).unwrap()), ["first customer"]);
    assert_eq!(texts(&s.latest(2, None, 10).unwrap()), ["second customer"]);
    // The name leads to the newest of them.
    assert_eq!(s.conversation_named("#BOB-2").unwrap().map(|c| c.id), Some(2));
    assert_eq!(
        s.conversation(1).unwrap().map(|c| c.customers),
        Some(vec!["bob@example.com".to_owned()])
    );
}

#[test]
fn ids_keep_growing_after_lines_are_deleted() {
    let (_d, mut s) = store();
    let ids = say(&mut s, 1, "#bob", &["a", "b"], 1000);
    assert_eq!(s.high_water().unwrap(), (ids[1] + 1, 2));
    s.conn.execute("DELETE FROM messages", []).unwrap();
    assert_eq!(s.high_water().unwrap(), (ids[1] + 1, 2));
}

#[test]
fn search_finds_words_newest_first_and_takes_any_text() {
    let (_d, mut s) = store();
    say(&mut s, 1, "#bob", &["my order 1234 is late", "thanks"], 1000);
    say(&mut s, 2, "#carol", &["where is my ORDER?"], 5000);
    assert_eq!(
        texts(&s.search("order", 10).unwrap()),
        ["where is my ORDER?", "my order 1234 is late"]
    );
    assert_eq!(
        texts(&s.search("late order", 10).unwrap()),
        ["my order 1234 is late"]
    );
    assert!(s.search("nothing-like-it", 10).unwrap().is_empty());
    // FTS syntax in the words is not an error.
    assert!(s.search("\"order\" OR NEAR( * ^", 10).is_ok());
    assert!(s.search("   ", 10).unwrap().is_empty());
}

#[test]
fn lines_stored_but_not_indexed_are_found_and_indexed_later() {
    let (_d, mut s) = store();
    say(&mut s, 1, "#bob", &["indexed"], 1000);
    let (id, _) = s.high_water().unwrap();
    s.put_line(&LineRow {
        id,
        conversation: 1,
        time_ms: 2000,
        msgid: "late".into(),
        kind: Kind::Customer,
        sender: "bob@example.com".into(),
        source: "bob!bob@example.com".into(),
        command: "PRIVMSG",
        text: "\x02not yet".into(),
        plain: "not yet".into(),
    })
    .unwrap();
    assert!(s.search("yet", 10).unwrap().is_empty());
    assert_eq!(s.unindexed_lines(100).unwrap(), [(id, "\x02not yet".to_owned())]);
    s.index_lines(&[(id, "not yet".into()), (id + 99, "gone".into())])
        .unwrap();
    assert_eq!(texts(&s.search("yet", 10).unwrap()), ["\x02not yet"]);
    assert!(
        s.search("gone", 10).unwrap().is_empty(),
        "deleted lines are left out"
    );
    assert!(s.unindexed_lines(100).unwrap().is_empty());
}

#[test]
fn targets_name_conversations_active_in_a_span() {
    let (_d, mut s) = store();
    say(&mut s, 1, "#bob", &["a"], 1000);
    say(&mut s, 2, "#carol", &["b"], 3000);
    assert_eq!(
        s.targets(0, 10_000, 10).unwrap(),
        [("#bob".to_owned(), 1000), ("#carol".to_owned(), 3000)]
    );
    assert_eq!(
        s.targets(2000, 10_000, 10).unwrap(),
        [("#carol".to_owned(), 3000)]
    );
    assert_eq!(s.targets(0, 2000, 10).unwrap(), [("#bob".to_owned(), 1000)]);
}
