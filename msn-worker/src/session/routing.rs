//! Which switchboard carries which conversation, sans-IO. A conversation
//! is a set of people; messages for it go to the switchboard it last
//! spoke in, or wait while one is asked for (one request per
//! conversation at a time); a switchboard that closes with messages it
//! never carried gets them re-sent through a new one; a message that
//! crosses our leaving starts a new conversation rather than being lost.
//! The async driver ([`super`]) owns the connections and asks this table
//! what to do.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ipc::{ConversationId, ConversationTarget, Event, Failure, FailureKind, TextFormat};

use crate::msnp::roster;
use crate::msnp::sb::{Outgoing, SbEvent};

/// A switchboard connection.
pub type SbId = u64;

#[derive(Debug)]
struct Conversation {
    /// Lower-cased handles of the people in it (whom a new switchboard invites).
    participants: BTreeSet<String>,
    /// The switchboard replies go to (the one they last spoke in).
    sb: Option<SbId>,
}

/// What waits for a switchboard that has been asked for (XFR SB).
#[derive(Debug, Default)]
pub struct Request {
    pub conversation: ConversationId,
    pub invite: Vec<String>,
    /// (command id, text, format) of messages to send once it is up.
    pub texts: Vec<(u64, String, TextFormat)>,
    /// Messages a closed switchboard never carried.
    pub requeue: Vec<Outgoing>,
    pub nudge: bool,
    /// Files to offer once it is up.
    pub files: Vec<FileOffer>,
}

/// A file to offer (a [`ipc::Command::SendFile`]).
#[derive(Debug, Clone)]
pub struct FileOffer {
    pub command_id: u64,
    pub to: String,
    pub name: String,
    pub size: u64,
}

impl Request {
    /// The commands whose delivery depends on this request.
    pub fn command_ids(&self) -> BTreeSet<u64> {
        self.texts
            .iter()
            .map(|(id, _, _)| *id)
            .chain(self.requeue.iter().filter_map(|o| o.command_id))
            .chain(self.files.iter().map(|f| f.command_id))
            .collect()
    }
}

#[derive(Debug)]
pub struct Routing {
    conversations: BTreeMap<ConversationId, Conversation>,
    next_conversation: ConversationId,
    /// The conversation each switchboard carries.
    carries: HashMap<SbId, ConversationId>,
    /// Switchboard requests by token.
    requests: HashMap<u64, Request>,
    /// Switchboard ids and request tokens come from one counter.
    next_id: u64,
    /// Files being received: their switchboard and P2P session.
    transfers: HashMap<u64, (SbId, u32)>,
    /// Files we send, by their command's id: switchboard and P2P session.
    sending: HashMap<u64, (SbId, u32)>,
}

fn failure(kind: FailureKind, detail: String) -> Failure {
    Failure { kind, detail }
}

impl Routing {
    /// Conversation ids are given from `first_conversation` on.
    pub fn new(first_conversation: ConversationId) -> Routing {
        Routing {
            conversations: BTreeMap::new(),
            next_conversation: first_conversation.max(1),
            carries: HashMap::new(),
            requests: HashMap::new(),
            next_id: 1,
            transfers: HashMap::new(),
            sending: HashMap::new(),
        }
    }

    /// A file we offer (command `command_id`) is P2P `session` of `sb`.
    pub fn sending_through(&mut self, command_id: u64, sb: SbId, session: u32) {
        self.sending.insert(command_id, (sb, session));
    }

    /// Where the file of command `command_id` is being sent.
    pub fn sent_file(&self, command_id: u64) -> Option<(SbId, u32)> {
        self.sending.get(&command_id).copied()
    }

    fn sending_of(&self, sb: SbId, session: u32) -> Option<u64> {
        self.sending
            .iter()
            .find(|(_, place)| **place == (sb, session))
            .map(|(id, _)| *id)
    }

    /// Where transfer `id` is: its switchboard and P2P session.
    pub fn transfer(&self, id: u64) -> Option<(SbId, u32)> {
        self.transfers.get(&id).copied()
    }

    fn transfer_of(&self, sb: SbId, session: u32) -> Option<u64> {
        self.transfers
            .iter()
            .find(|(_, place)| **place == (sb, session))
            .map(|(id, _)| *id)
    }

    fn fresh_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// The conversation with exactly these people, created if needed.
    pub fn conversation_with(&mut self, handles: &[String]) -> ConversationId {
        let wanted: BTreeSet<String> = handles.iter().map(|h| h.to_ascii_lowercase()).collect();
        if let Some((id, _)) = self.conversations.iter().find(|(_, c)| c.participants == wanted) {
            return *id;
        }
        let id = self.next_conversation;
        self.next_conversation += 1;
        self.conversations.insert(
            id,
            Conversation {
                participants: wanted,
                sb: None,
            },
        );
        id
    }

    /// The conversation a command targets, or why there is none.
    pub fn target(&mut self, to: &ConversationTarget) -> Result<ConversationId, Failure> {
        match to {
            ConversationTarget::Existing(id) if self.conversations.contains_key(id) => Ok(*id),
            ConversationTarget::Existing(id) => Err(failure(
                FailureKind::InvalidArgument,
                format!("no conversation {id}"),
            )),
            ConversationTarget::Contact(h) if roster::valid_handle(h) => {
                Ok(self.conversation_with(std::slice::from_ref(h)))
            }
            ConversationTarget::Contact(h) => Err(failure(
                FailureKind::InvalidArgument,
                format!("{h:?} is not an MSN address"),
            )),
        }
    }

    /// The conversation's switchboard, if it has one `open` says is open
    /// (or still being set up).
    pub fn switchboard(&self, conversation: ConversationId, open: impl Fn(SbId) -> bool) -> Option<SbId> {
        let sb = self.conversations.get(&conversation)?.sb?;
        open(sb).then_some(sb)
    }

    /// Who to invite when (re-)opening a conversation.
    pub fn invitees(&self, conversation: ConversationId) -> Vec<String> {
        self.conversations
            .get(&conversation)
            .map(|c| c.participants.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Asks for a switchboard for `request.conversation`; one already
    /// asked for takes these messages too. Returns the token of a new
    /// request, which the notification server must be sent.
    pub fn request(&mut self, request: Request) -> Option<u64> {
        if let Some(p) = self
            .requests
            .values_mut()
            .find(|p| p.conversation == request.conversation)
        {
            p.texts.extend(request.texts);
            p.requeue.extend(request.requeue);
            p.nudge |= request.nudge;
            p.files.extend(request.files);
            return None;
        }
        let token = self.fresh_id();
        self.requests.insert(token, request);
        Some(token)
    }

    /// The request answered (or refused) by the server.
    pub fn take_request(&mut self, token: u64) -> Option<Request> {
        self.requests.remove(&token)
    }

    /// A request failed: its conversation has no switchboard; the commands
    /// to report failed are returned.
    pub fn request_failed(&mut self, request: &Request) -> BTreeSet<u64> {
        if let Some(c) = self.conversations.get_mut(&request.conversation) {
            c.sb = None;
        }
        request.command_ids()
    }

    /// A new switchboard for `conversation` (ours, or an invitation).
    pub fn open(&mut self, conversation: ConversationId) -> SbId {
        let sb = self.fresh_id();
        self.carries.insert(sb, conversation);
        if let Some(c) = self.conversations.get_mut(&conversation) {
            c.sb = Some(sb);
        }
        sb
    }

    pub fn carried_by(&self, sb: SbId) -> Option<ConversationId> {
        self.carries.get(&sb).copied()
    }

    /// A switchboard closed. If it leaves messages it never carried, the
    /// request that re-sends them (with its token) is returned.
    pub fn closed(&mut self, sb: SbId, unsent: Vec<Outgoing>) -> Option<u64> {
        let conversation = self.carries.remove(&sb)?;
        let c = self.conversations.get_mut(&conversation)?;
        if c.sb == Some(sb) {
            c.sb = None;
        }
        if unsent.is_empty() {
            return None;
        }
        let invite = c.participants.iter().cloned().collect();
        self.request(Request {
            conversation,
            invite,
            requeue: unsent,
            ..Request::default()
        })
    }

    /// The conversation is closed: the switchboards carrying it, to leave.
    pub fn close(&mut self, conversation: ConversationId) -> Option<Vec<SbId>> {
        self.conversations.remove(&conversation)?;
        Some(
            self.carries
                .iter()
                .filter(|(_, c)| **c == conversation)
                .map(|(sb, _)| *sb)
                .collect(),
        )
    }

    /// What switchboard `sb` said, as events for the bouncer.
    pub fn on_event(&mut self, sb: SbId, event: SbEvent) -> Vec<Event> {
        let Some(conversation) = self.carried_by(sb) else {
            return Vec::new();
        };
        // How a transfer goes on or ends is reported even when its
        // conversation was just closed: each is told once, always.
        let ongoing = matches!(
            event,
            SbEvent::FileData { .. }
                | SbEvent::FileEnded { .. }
                | SbEvent::FileAccepted { .. }
                | SbEvent::FileWanted { .. }
                | SbEvent::FileDelivered { .. }
        );
        if ongoing {
            return self.file_event(sb, conversation, event).into_iter().collect();
        }
        if !self.conversations.contains_key(&conversation) {
            return self.after_close(sb, event);
        }
        let Some(c) = self.conversations.get_mut(&conversation) else {
            return Vec::new();
        };
        let event = match event {
            SbEvent::Joined {
                handle,
                friendly_name,
            } => {
                let new = c.participants.insert(handle.to_ascii_lowercase());
                let moved = c.sb != Some(sb);
                c.sb = Some(sb);
                if !new && moved {
                    // Already a member: a new switchboard for the same talk.
                    return Vec::new();
                }
                Event::ConversationJoined {
                    conversation,
                    handle,
                    friendly_name,
                }
            }
            SbEvent::Left { handle } => {
                // Keep the last person: they are whom we re-invite.
                if c.participants.len() > 1 {
                    c.participants.remove(&handle.to_ascii_lowercase());
                }
                Event::ConversationLeft { conversation, handle }
            }
            SbEvent::Message { from, text, format } => {
                // Replies go where the contact last spoke.
                c.sb = Some(sb);
                Event::Message {
                    conversation,
                    from,
                    text,
                    format,
                }
            }
            SbEvent::Typing { from } => Event::Typing { conversation, from },
            SbEvent::Nudge { from } => Event::Nudge { conversation, from },
            SbEvent::Echo { text, format } => Event::SentElsewhere {
                conversation,
                text,
                format,
            },
            file @ (SbEvent::FileOffered { .. }
            | SbEvent::FileData { .. }
            | SbEvent::FileEnded { .. }
            | SbEvent::FileAccepted { .. }
            | SbEvent::FileWanted { .. }
            | SbEvent::FileDelivered { .. }) => {
                return self.file_event(sb, conversation, file).into_iter().collect();
            }
            SbEvent::Notice(text) => Event::Notice(text),
        };
        vec![event]
    }

    /// A file transfer's event on switchboard `sb`, named by a transfer
    /// id unique in this worker.
    fn file_event(&mut self, sb: SbId, conversation: ConversationId, event: SbEvent) -> Option<Event> {
        match event {
            SbEvent::FileOffered {
                session,
                from,
                name,
                size,
            } => {
                let transfer = self.fresh_id();
                self.transfers.insert(transfer, (sb, session));
                Some(Event::FileOffered {
                    conversation,
                    transfer,
                    from,
                    name,
                    size,
                })
            }
            SbEvent::FileData {
                session,
                offset,
                data,
            } => {
                let transfer = self.transfer_of(sb, session)?;
                Some(Event::FileData {
                    transfer,
                    offset,
                    data,
                })
            }
            SbEvent::FileEnded { session, outcome } => {
                let transfer = self.transfer_of(sb, session)?;
                self.transfers.remove(&transfer);
                Some(Event::FileEnded { transfer, outcome })
            }
            SbEvent::FileAccepted { session } => {
                let command_id = self.sending_of(sb, session)?;
                Some(Event::FileAccepted { command_id })
            }
            SbEvent::FileWanted { session, offset } => {
                let command_id = self.sending_of(sb, session)?;
                Some(Event::FileWanted { command_id, offset })
            }
            SbEvent::FileDelivered { session, outcome } => {
                let command_id = self.sending_of(sb, session)?;
                self.sending.remove(&command_id);
                Some(Event::Delivery { command_id, outcome })
            }
            _ => None,
        }
    }

    /// An event on a switchboard whose conversation was closed: a message
    /// that crossed our leaving starts a new conversation rather than
    /// being lost; anything else is over.
    fn after_close(&mut self, sb: SbId, event: SbEvent) -> Vec<Event> {
        let SbEvent::Message { from, .. } = &event else {
            return Vec::new();
        };
        let fresh = self.conversation_with(std::slice::from_ref(from));
        self.carries.insert(sb, fresh);
        let mut out = vec![Event::ConversationJoined {
            conversation: fresh,
            handle: from.clone(),
            friendly_name: from.clone(),
        }];
        out.extend(self.on_event(sb, event));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOB: &str = "bob@example.com";

    fn message(from: &str, text: &str) -> SbEvent {
        SbEvent::Message {
            from: from.into(),
            text: text.into(),
            format: TextFormat::default(),
        }
    }

    fn outgoing(id: u64) -> Outgoing {
        Outgoing {
            command_id: Some(id),
            payload: b"MSG".to_vec(),
            ack: 'A',
        }
    }

    #[test]
    fn conversations_are_their_people_and_ids_start_where_asked() {
        let mut r = Routing::new(1000);
        let bob = r.conversation_with(&[BOB.into()]);
        assert_eq!(bob, 1000);
        assert_eq!(r.conversation_with(&["BOB@example.com".into()]), bob);
        let group = r.conversation_with(&[BOB.into(), "carol@example.com".into()]);
        assert_ne!(group, bob);
        assert_eq!(r.target(&ConversationTarget::Contact(BOB.into())), Ok(bob));
        assert_eq!(r.target(&ConversationTarget::Existing(group)), Ok(group));
        assert_eq!(
            r.target(&ConversationTarget::Existing(7)).unwrap_err().kind,
            FailureKind::InvalidArgument
        );
        assert!(r
            .target(&ConversationTarget::Contact("no handle".into()))
            .is_err());
    }

    #[test]
    fn one_switchboard_request_per_conversation_takes_every_message() {
        let mut r = Routing::new(1);
        let bob = r.conversation_with(&[BOB.into()]);
        let first = Request {
            conversation: bob,
            invite: r.invitees(bob),
            texts: vec![(1, "one".into(), TextFormat::default())],
            ..Request::default()
        };
        let token = r.request(first).unwrap();
        let second = Request {
            conversation: bob,
            texts: vec![(2, "two".into(), TextFormat::default())],
            nudge: true,
            ..Request::default()
        };
        assert_eq!(r.request(second), None, "joins the one asked for");
        let request = r.take_request(token).unwrap();
        assert_eq!((request.texts.len(), request.nudge), (2, true));
        assert_eq!(request.invite, [BOB]);
        assert_eq!(r.request_failed(&request), [1, 2].into());
    }

    #[test]
    fn replies_go_where_the_customer_last_spoke() {
        let mut r = Routing::new(1);
        let bob = r.conversation_with(&[BOB.into()]);
        let ours = r.open(bob);
        assert_eq!(r.switchboard(bob, |_| true), Some(ours));
        assert_eq!(r.switchboard(bob, |_| false), None, "closed");
        let theirs = r.open(bob);
        r.on_event(ours, message(BOB, "on the old one"));
        assert_eq!(r.switchboard(bob, |_| true), Some(ours));
        let events = r.on_event(theirs, message(BOB, "hi"));
        assert!(matches!(&events[..], [Event::Message { conversation, .. }] if *conversation == bob));
        assert_eq!(r.switchboard(bob, |_| true), Some(theirs));
    }

    #[test]
    fn a_closed_switchboard_hands_on_what_it_never_carried() {
        let mut r = Routing::new(1);
        let bob = r.conversation_with(&[BOB.into()]);
        let sb = r.open(bob);
        assert_eq!(r.closed(sb, Vec::new()), None, "nothing left");
        let sb = r.open(bob);
        let token = r.closed(sb, vec![outgoing(5)]).unwrap();
        let request = r.take_request(token).unwrap();
        assert_eq!(
            (request.conversation, request.invite.clone()),
            (bob, vec![BOB.to_owned()])
        );
        assert_eq!(request.command_ids(), [5].into());
        assert_eq!(r.switchboard(bob, |_| true), None);
    }

    #[test]
    fn joins_and_leaves_follow_the_people_in_a_conversation() {
        let mut r = Routing::new(1);
        let bob = r.conversation_with(&[BOB.into()]);
        let sb = r.open(bob);
        let joined = |h: &str| SbEvent::Joined {
            handle: h.into(),
            friendly_name: h.into(),
        };
        assert_eq!(r.on_event(sb, joined(BOB)).len(), 1);
        assert_eq!(r.on_event(sb, joined("carol@example.com")).len(), 1);
        assert_eq!(r.invitees(bob).len(), 2);
        // Someone already in it joins a switchboard that is not the current
        // one: nobody new, but replies go there now.
        let again = r.open(bob);
        assert!(r.on_event(sb, joined(BOB)).is_empty());
        assert_eq!(r.switchboard(bob, |_| true), Some(sb));
        r.on_event(
            again,
            SbEvent::Left {
                handle: "carol@example.com".into(),
            },
        );
        r.on_event(again, SbEvent::Left { handle: BOB.into() });
        assert_eq!(r.invitees(bob), [BOB], "the last one stays, to re-invite");
    }

    #[test]
    fn a_file_s_outcome_is_reported_even_after_its_conversation_closed() {
        let mut r = Routing::new(1);
        let bob = r.conversation_with(&[BOB.into()]);
        let sb = r.open(bob);
        r.sending_through(77, sb, 5);
        assert_eq!(r.close(bob), Some(vec![sb]));
        let outcome = ipc::Delivery::Failed(Failure {
            kind: FailureKind::ServerError,
            detail: "the conversation was closed".into(),
        });
        let events = r.on_event(
            sb,
            SbEvent::FileDelivered {
                session: 5,
                outcome: outcome.clone(),
            },
        );
        assert_eq!(
            events,
            [Event::Delivery {
                command_id: 77,
                outcome
            }]
        );
        assert_eq!(r.sent_file(77), None, "forgotten once reported");
    }

    #[test]
    fn a_message_that_crosses_our_leaving_opens_a_new_conversation() {
        let mut r = Routing::new(1);
        let bob = r.conversation_with(&[BOB.into()]);
        let sb = r.open(bob);
        assert_eq!(r.close(bob), Some(vec![sb]));
        assert!(r.on_event(sb, SbEvent::Typing { from: BOB.into() }).is_empty());
        let events = r.on_event(sb, message(BOB, "wait!"));
        let fresh = match &events[..] {
            [Event::ConversationJoined { conversation, .. }, Event::Message { conversation: m, .. }] => {
                assert_eq!(conversation, m);
                *conversation
            }
            other => panic!("{other:?}"),
        };
        assert_ne!(fresh, bob);
        assert_eq!(r.carried_by(sb), Some(fresh));
        assert_eq!(r.close(99), None);
    }
}
