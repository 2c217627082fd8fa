//! Canned replies as the hub holds them (the store keeps them), and what
//! a staff line `!name [more text]` in a conversation becomes: the reply,
//! with `{customer}` (the customer's friendly name), `{nick}` and
//! `{agent}` (the staff member's nick and real name) filled in. `!!text`
//! sends `!text` as it is.

use std::collections::BTreeMap;

use crate::store::canned_rows::CannedReply;

/// Longest name and text a reply may have.
const MAX_NAME: usize = 32;
const MAX_TEXT: usize = 1_000;

#[derive(Debug, Default)]
pub struct Canned {
    /// By lower-cased name.
    by_name: BTreeMap<String, CannedReply>,
}

/// What fills a reply's placeholders.
pub struct Values<'a> {
    pub customer: &'a str,
    pub nick: &'a str,
    pub agent: &'a str,
}

/// What a staff line in a conversation is.
#[derive(Debug, PartialEq, Eq)]
pub enum StaffLine {
    /// Sent as it is.
    Plain(String),
    /// A canned reply, expanded.
    Expanded(String),
    /// `!name` with no such reply: nothing is sent.
    Unknown(String),
}

/// Whether `name` may name a reply (letters, digits, `-`, `_`, `.`).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// Why `text` cannot be a reply's text, if it cannot.
pub fn text_problem(text: &str) -> Option<String> {
    match text.trim() {
        "" => Some("a canned reply needs its text".into()),
        t if t.chars().count() > MAX_TEXT => Some(format!("a canned reply is {MAX_TEXT} characters at most")),
        _ => None,
    }
}

impl Canned {
    pub fn new(replies: Vec<CannedReply>) -> Canned {
        Canned {
            by_name: replies
                .into_iter()
                .map(|r| (r.name.to_ascii_lowercase(), r))
                .collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&CannedReply> {
        self.by_name.get(&name.to_ascii_lowercase())
    }

    pub fn set(&mut self, reply: CannedReply) {
        self.by_name.insert(reply.name.to_ascii_lowercase(), reply);
    }

    pub fn remove(&mut self, name: &str) -> bool {
        self.by_name.remove(&name.to_ascii_lowercase()).is_some()
    }

    pub fn iter(&self) -> impl Iterator<Item = &CannedReply> {
        self.by_name.values()
    }

    /// What staff line `text` becomes.
    pub fn expand(&self, text: &str, values: &Values<'_>) -> StaffLine {
        if let Some(literal) = text.strip_prefix("!!") {
            return StaffLine::Plain(format!("!{literal}"));
        }
        let Some(rest) = text.strip_prefix('!') else {
            return StaffLine::Plain(text.to_owned());
        };
        let (name, more) = rest.split_once(' ').unwrap_or((rest, ""));
        if !valid_name(name) {
            return StaffLine::Plain(text.to_owned());
        }
        let Some(reply) = self.get(name) else {
            return StaffLine::Unknown(name.to_owned());
        };
        let mut out = reply
            .text
            .replace("{customer}", values.customer)
            .replace("{nick}", values.nick)
            .replace("{agent}", values.agent);
        if !more.trim().is_empty() {
            out.push(' ');
            out.push_str(more.trim());
        }
        StaffLine::Expanded(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canned() -> Canned {
        Canned::new(vec![CannedReply {
            name: "Hello".into(),
            text: "Hello {customer}, this is {agent} ({nick}).".into(),
            author: "alice".into(),
        }])
    }

    const VALUES: Values<'static> = Values {
        customer: "Bob",
        nick: "alice",
        agent: "Alice Smith",
    };

    #[test]
    fn a_known_name_expands_with_its_placeholders_and_extra_text() {
        assert_eq!(
            canned().expand("!hello", &VALUES),
            StaffLine::Expanded("Hello Bob, this is Alice Smith (alice).".into())
        );
        assert_eq!(
            canned().expand("!HELLO How can I help?", &VALUES),
            StaffLine::Expanded("Hello Bob, this is Alice Smith (alice). How can I help?".into())
        );
    }

    #[test]
    fn unknown_names_are_caught_and_other_lines_pass_as_they_are() {
        assert_eq!(
            canned().expand("!refund", &VALUES),
            StaffLine::Unknown("refund".into())
        );
        assert_eq!(
            canned().expand("!!hello", &VALUES),
            StaffLine::Plain("!hello".into())
        );
        assert_eq!(
            canned().expand("! wow", &VALUES),
            StaffLine::Plain("! wow".into())
        );
        assert_eq!(
            canned().expand("hello", &VALUES),
            StaffLine::Plain("hello".into())
        );
        assert_eq!(canned().expand("!?!", &VALUES), StaffLine::Plain("!?!".into()));
    }

    #[test]
    fn names_and_texts_are_checked() {
        assert!(valid_name("refund-policy_2.1") && !valid_name("no way") && !valid_name(""));
        assert!(text_problem("  ").is_some() && text_problem("ok").is_none());
    }
}
