//! One customer conversation: the record every part of the hub refers to
//! by its stable id. Its channel is how staff see it now; its history,
//! device positions and read markers are keyed by the id, so a channel
//! name can change (or be reused by another customer later) without
//! mixing two histories.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use ipc::ConversationId;

use super::roster::Roster;
use crate::store::desk_rows::{DeskRow, DeskState};
use crate::store::lines::ConversationRow;
use crate::untrusted::short;

/// How the record stands with MSN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// An MSN conversation of the running worker is shown here.
    Live(ConversationId),
    /// No MSN conversation (the worker stopped, msnbnc restarted, or staff
    /// wrote to a customer who has none yet): staff are still in the
    /// channel, and writing there — or the customer writing — brings it
    /// back to life under the same name. `suspended`: it went dormant in
    /// the current outage (staff are told when MSN is back).
    Dormant { suspended: bool },
}

#[derive(Debug, Clone)]
pub struct Conversation {
    pub id: i64,
    pub channel: String,
    /// Lower-cased handles of its customers (several: a group conversation).
    pub customers: BTreeSet<String>,
    pub link: Link,
    /// Who answers it (a staff nick).
    pub claim: Option<String>,
    /// Last customer or staff activity (idle conversations are closed).
    pub last_activity: Instant,
    /// Got the unattended auto-reply since staff were last attached.
    pub auto_replied: bool,
    /// Got the closed reply (outside business hours).
    pub closed_replied: bool,
    /// Staff were told its customer is not an accepted contact yet.
    pub pending_told: bool,
    pub created_ms: i64,
    pub desk: Desk,
    /// The topic last sent to clients as a change.
    pub shown_topic: String,
}

/// Where the conversation stands for the desk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desk {
    pub state: DeskState,
    /// The customer's oldest unanswered line (ms), while there is one.
    pub waiting_since_ms: Option<i64>,
    /// When the state last changed (ms; 0: never set, a fresh record).
    pub state_ms: i64,
    /// The wait last shown in the topic (whole minutes, at its step).
    pub shown_wait: Option<u64>,
    /// Alerts given for the current wait (0, 1 or 2).
    pub alerted: u8,
    /// A staff member is typing here, until then (no alert meanwhile).
    pub staff_typing_until: Option<Instant>,
    /// Who resolved it, while it is resolved.
    pub resolved_by: Option<String>,
}

impl Desk {
    /// A record the desk has not spoken of yet.
    pub fn fresh() -> Desk {
        Desk {
            state: DeskState::Resolved,
            waiting_since_ms: None,
            state_ms: 0,
            shown_wait: None,
            alerted: 0,
            staff_typing_until: None,
            resolved_by: None,
        }
    }

    /// How long the customer has waited at `now_ms`, in whole minutes at
    /// the step the topic shows (each minute to 10, then 5 to 60, then
    /// 15): `None` under a minute or with nothing unanswered.
    pub fn wait_step(&self, now_ms: i64) -> Option<u64> {
        let since = self.waiting_since_ms?;
        let minutes = u64::try_from(now_ms.saturating_sub(since) / 60_000).unwrap_or(0);
        match minutes {
            0 => None,
            1..=10 => Some(minutes),
            11..=60 => Some(minutes / 5 * 5),
            _ => Some(minutes / 15 * 15),
        }
    }
}

impl Conversation {
    pub fn new(id: i64, channel: String, customers: BTreeSet<String>, link: Link, now: Instant) -> Self {
        Conversation {
            id,
            channel,
            customers,
            link,
            claim: None,
            last_activity: now,
            auto_replied: false,
            closed_replied: false,
            pending_told: false,
            created_ms: crate::store::now_ms(),
            desk: Desk::fresh(),
            shown_topic: String::new(),
        }
    }

    /// Its desk fields, as stored.
    pub fn desk_row(&self) -> DeskRow {
        DeskRow {
            conversation: self.id,
            state: self.desk.state,
            waiting_since_ms: self.desk.waiting_since_ms,
            claim: self.claim.clone(),
            state_ms: self.desk.state_ms,
            resolved_by: self.desk.resolved_by.clone(),
        }
    }

    /// The running worker's id for it, if it is live.
    pub fn worker_id(&self) -> Option<ConversationId> {
        match self.link {
            Link::Live(w) => Some(w),
            Link::Dormant { .. } => None,
        }
    }

    /// The one customer of a conversation with one (a group has several).
    pub fn only_customer(&self) -> Option<&str> {
        match self.customers.len() {
            1 => self.customers.first().map(String::as_str),
            _ => None,
        }
    }

    /// The MSN conversation ended with the worker: the channel stays,
    /// dormant; what belonged to that MSN conversation goes. Returns
    /// whether it was live.
    pub fn suspend(&mut self) -> bool {
        let was_live = matches!(self.link, Link::Live(_));
        if was_live {
            self.link = Link::Dormant { suspended: true };
        }
        self.auto_replied = false;
        was_live
    }

    /// An MSN conversation is shown here (again).
    pub fn bind(&mut self, worker: ConversationId, now: Instant) {
        self.link = Link::Live(worker);
        self.last_activity = now;
    }

    /// Whether nobody touched it for `limit`.
    pub fn idle(&self, now: Instant, limit: Duration) -> bool {
        now.saturating_duration_since(self.last_activity) >= limit
    }

    /// As stored.
    pub fn row(&self) -> ConversationRow {
        ConversationRow {
            id: self.id,
            channel: self.channel.clone(),
            customers: self.customers.iter().cloned().collect(),
            created_ms: self.created_ms,
        }
    }

    /// The channel topic: who the customers are, where the conversation
    /// stands and for how long its customer has waited (at `now_ms`), and
    /// who answers.
    pub fn topic(&self, roster: &Roster, now_ms: i64) -> String {
        let members: Vec<String> = self
            .customers
            .iter()
            .filter_map(|h| roster.contact(h))
            .map(|c| {
                let status = super::roster::status_words(c.status);
                let mut about = format!("{}, {status}", short(&c.friendly_name));
                if !c.personal_message.is_empty() {
                    about.push_str(&format!(", \"{}\"", short(&c.personal_message)));
                }
                if roster.pending(&c.handle) {
                    about.push_str(", not accepted as a contact yet");
                }
                format!("{} ({about})", c.handle)
            })
            .collect();
        let claimed = match &self.claim {
            Some(who) => format!(" | claimed by {who}"),
            None => " | unclaimed".to_owned(),
        };
        let state = match (self.desk.state_ms, self.desk.wait_step(now_ms)) {
            (0, _) => String::new(),
            (_, Some(m)) => format!(" | {}, waiting {m} min", self.desk.state.as_str()),
            (_, None) => format!(" | {}", self.desk.state.as_str()),
        };
        format!("Conversation with {}{state}{claimed}", members.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_conversation_suspends_once_and_binds_again() {
        let now = Instant::now();
        let customers: BTreeSet<String> = ["bob@example.com".to_owned()].into();
        let mut c = Conversation::new(7, "#bob".into(), customers, Link::Live(3), now);
        c.auto_replied = true;
        assert_eq!(
            (c.worker_id(), c.only_customer()),
            (Some(3), Some("bob@example.com"))
        );
        assert!(c.suspend());
        assert_eq!(c.link, Link::Dormant { suspended: true });
        assert!(!c.auto_replied && c.worker_id().is_none());
        assert!(!c.suspend(), "already dormant");
        c.bind(9, now);
        assert_eq!(c.worker_id(), Some(9));
        assert!(c.idle(now + Duration::from_secs(5), Duration::from_secs(5)));
        assert_eq!(c.row().customers, ["bob@example.com"]);
    }
}
