//! The hub's side of IRC: attached clients, the welcome burst, MSN events
//! shown as channel traffic, and what staff send turned into worker
//! commands. Owned by the hub; never locked.

use std::collections::{BTreeSet, HashMap};

use ipc::{Command, CommandResult, ConversationTarget, Delivery, Event, Status, TextFormat};
use irc_proto::Message;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use super::conn::{Attached, ClientEvent, ClientId};
use super::registration::Login;
use super::view::{key, Channel, Contact, View, ROSTER};
use super::wire::{params, reply};
use crate::config::IrcSettings;
use crate::store::Store;
use crate::supervisor::worker::untrusted;
use crate::supervisor::{Control, WorkerState};

pub struct Client {
    pub login: Login,
    pub nick: String,
    pub role: crate::store::users::Role,
    pub caps: BTreeSet<String>,
    tx: mpsc::Sender<String>,
}

/// A staff message on its way to MSN, to name it if delivery fails.
struct Outgoing {
    conversation_hint: Option<String>,
    from: String,
    text: String,
}

/// Who is waiting for a worker command's result.
enum Pending {
    Message(Outgoing),
    Service { client: ClientId, what: String },
}

pub struct Staff {
    settings: IrcSettings,
    clients: HashMap<ClientId, Client>,
    store: Store,
    view: View,
    worker: mpsc::Sender<Control>,
    next_command: u64,
    pending: HashMap<u64, Pending>,
    worker_state: String,
    /// Who answers which conversation (channel name, lower-cased → staff nick).
    claims: HashMap<String, String>,
    /// Last customer or staff activity per conversation (for idle closing).
    activity: HashMap<ipc::ConversationId, std::time::Instant>,
    /// Conversations that got the unattended auto-reply since staff left.
    auto_replied: BTreeSet<ipc::ConversationId>,
}

const MOTD: &[&str] = &[
    "msnbnc: one MSN Messenger account, shared by the whole team.",
    "&msn is the contact list; each customer conversation is a channel.",
    "Talk in a conversation channel (or /msg a contact) to answer the customer;",
    "prefix the channel with @ (/msg @#bob …) for a note only staff see.",
];

/// A line of customer text for IRC: no control characters that could end
/// or forge a line, but IRC formatting codes (bold, colour …) kept.
fn untrusted_line(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\x02' | '\x03' | '\x0f' | '\x16' | '\x1d' | '\x1e' | '\x1f' => c,
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

impl Staff {
    pub fn new(settings: IrcSettings, store: Store, worker: mpsc::Sender<Control>) -> Staff {
        Staff {
            settings,
            clients: HashMap::new(),
            store,
            view: View::default(),
            worker,
            next_command: 1,
            pending: HashMap::new(),
            worker_state: "starting".into(),
            claims: HashMap::new(),
            activity: HashMap::new(),
            auto_replied: BTreeSet::new(),
        }
    }

    fn server(&self) -> &str {
        &self.settings.server_name
    }

    fn user_prefix(&self, nick: &str) -> String {
        format!("{nick}!{nick}@{}", self.server())
    }

    /// Queues a line for a client; a client whose queue is full is too slow
    /// and is dropped (it gets its backlog when it reconnects).
    fn send(&mut self, id: ClientId, line: String) {
        self.send_tagged(id, &[], line);
    }

    /// Like [`Staff::send`], with the tags this client negotiated.
    fn send_tagged(&mut self, id: ClientId, tags: &[(&str, &str)], line: String) {
        let Some(c) = self.clients.get(&id) else { return };
        let line = format!(
            "{}{line}",
            super::tags::prefix(&c.caps, std::time::SystemTime::now(), tags)
        );
        match c.tx.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.gone(id, "too slow: its queue is full"),
            Err(TrySendError::Closed(_)) => self.gone(id, "connection closed"),
        }
    }

    fn broadcast(&mut self, line: &str, except: Option<ClientId>) {
        self.broadcast_tagged(&[], line, except);
    }

    fn broadcast_tagged(&mut self, tags: &[(&str, &str)], line: &str, except: Option<ClientId>) {
        let ids: Vec<ClientId> = self
            .clients
            .keys()
            .copied()
            .filter(|id| Some(*id) != except)
            .collect();
        for id in ids {
            self.send_tagged(id, tags, line.to_owned());
        }
    }

    /// Sends to clients that negotiated `cap`.
    fn broadcast_to_cap(&mut self, cap: &str, tags: &[(&str, &str)], line: &str) {
        let ids: Vec<ClientId> = self
            .clients
            .iter()
            .filter(|(_, c)| c.caps.contains(cap))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.send_tagged(id, tags, line.to_owned());
        }
    }

    fn numeric(&mut self, id: ClientId, code: &str, params: &[&str]) {
        let Some(nick) = self.clients.get(&id).map(|c| c.nick.clone()) else {
            return;
        };
        let line = reply(self.server(), code, &nick, params);
        self.send(id, line);
    }

    fn roster_notice(&mut self, text: &str) {
        let line = format!(":{} NOTICE {ROSTER} :{}", self.server(), untrusted(text));
        self.broadcast(&line, None);
    }

    /// Staff users currently attached (for NAMES of every channel).
    fn staff_nicks(&self) -> BTreeSet<String> {
        self.clients.values().map(|c| c.nick.clone()).collect()
    }

    pub fn on_event(&mut self, event: ClientEvent) {
        match event {
            ClientEvent::Attached(a) => self.attach(a),
            ClientEvent::Line(id, m) => self.on_line(id, &m),
            ClientEvent::TooLong(id) => self.numeric(id, "417", &["Input line was too long"]),
            ClientEvent::Detached(id, reason) => self.gone(id, &reason),
        }
    }

    // ---- joining and the welcome -------------------------------------------------

    /// The MSN status the account should show: online while anyone is
    /// attached, the configured unattended status otherwise.
    fn sync_status(&mut self) {
        let status = if self.clients.is_empty() {
            self.settings.unattended_status
        } else {
            Status::Online
        };
        self.command(Command::SetStatus(status), None);
    }

    fn attach(&mut self, a: Attached) {
        let nick = a.login.user.clone();
        let id = a.id;
        let requested = a.requested_nick.clone();
        let first_of_user = !self.clients.values().any(|c| c.nick == nick);
        let first_of_all = self.clients.is_empty();
        self.clients.insert(
            id,
            Client {
                login: a.login,
                nick: nick.clone(),
                role: a.role,
                caps: a.caps,
                tx: a.tx,
            },
        );
        let s = self.settings.clone();
        let version = env!("CARGO_PKG_VERSION");
        self.numeric(
            id,
            "001",
            &[&format!("Welcome to the {} IRC network, {nick}", s.network)],
        );
        self.numeric(
            id,
            "002",
            &[&format!(
                "Your host is {}, running msnbnc {version}",
                s.server_name
            )],
        );
        self.numeric(id, "003", &["This server shares one MSN Messenger account"]);
        self.numeric(
            id,
            "004",
            &[&s.server_name, &format!("msnbnc-{version}"), "io", "ntov"],
        );
        let isupport = [
            format!("NETWORK={}", s.network),
            "CASEMAPPING=ascii".to_owned(),
            "CHANTYPES=#&".to_owned(),
            "PREFIX=(ov)@+".to_owned(),
            "CHANMODES=,,,nt".to_owned(),
            "STATUSMSG=@".to_owned(),
            "TARGMAX=PRIVMSG:1,NOTICE:1,TAGMSG:1".to_owned(),
            "NICKLEN=30".to_owned(),
            "CHANNELLEN=64".to_owned(),
        ];
        let mut params: Vec<&str> = isupport.iter().map(String::as_str).collect();
        params.push("are supported by this server");
        self.numeric(id, "005", &params);
        self.numeric(id, "375", &[&format!("- {} Message of the day -", s.server_name)]);
        for line in MOTD {
            self.numeric(id, "372", &[&format!("- {line}")]);
        }
        self.numeric(id, "376", &["End of /MOTD command"]);
        if !requested.eq_ignore_ascii_case(&nick) {
            // Every device of a user shares the user's nick.
            self.send(id, format!(":{requested}!{nick}@{} NICK :{nick}", s.server_name));
        }
        if first_of_user {
            // The other staff see a colleague arrive.
            let join = format!(":{} JOIN {ROSTER}", self.user_prefix(&nick));
            self.broadcast(&join, Some(id));
        }
        self.join_burst(id, ROSTER);
        let channels: Vec<String> = self.view.conversations.values().map(|c| c.name.clone()).collect();
        for c in channels {
            self.join_burst(id, &c);
        }
        if first_of_all {
            self.auto_replied.clear();
            self.sync_status();
        }
    }

    /// Periodic housekeeping: close conversations nobody has touched for
    /// `irc.idle_close` (the worker reports them closed; a new message from
    /// the customer opens a fresh one).
    pub fn tick(&mut self, now: std::time::Instant) {
        let limit = self.settings.idle_close;
        if limit.is_zero() {
            return;
        }
        let idle: Vec<ipc::ConversationId> = self
            .view
            .conversations
            .keys()
            .copied()
            .filter(|c| {
                let last = *self.activity.entry(*c).or_insert(now);
                now.saturating_duration_since(last) >= limit
            })
            .collect();
        for conversation in idle {
            self.activity.remove(&conversation);
            self.command(Command::CloseConversation(conversation), None);
        }
    }

    /// A client is gone (detached, quit, or too slow).
    fn gone(&mut self, id: ClientId, reason: &str) {
        if let Some(c) = self.clients.remove(&id) {
            tracing::info!(client = id, user = %c.login.user, "IRC client detached: {reason}");
            if self.clients.is_empty() {
                self.sync_status();
            }
        }
    }

    /// JOIN, topic and names of `channel` for one client.
    fn join_burst(&mut self, id: ClientId, channel: &str) {
        let Some(nick) = self.clients.get(&id).map(|c| c.nick.clone()) else {
            return;
        };
        self.send(id, format!(":{} JOIN {channel}", self.user_prefix(&nick)));
        let topic = self.topic(channel);
        self.numeric(id, "332", &[channel, &topic]);
        self.names(id, channel);
    }

    fn topic(&self, channel: &str) -> String {
        if channel.eq_ignore_ascii_case(ROSTER) {
            return format!("MSN account: {}", self.worker_state);
        }
        let Some(conv) = self.view.conversation_by_channel(channel) else {
            return String::new();
        };
        let members: Vec<String> = self.view.conversations[&conv]
            .members
            .iter()
            .filter_map(|h| self.view.contacts.get(h))
            .map(|c| format!("{} ({}, {:?})", c.handle, untrusted(&c.friendly_name), c.status))
            .collect();
        let claimed = match self.claims.get(&channel.to_ascii_lowercase()) {
            Some(who) => format!(" | claimed by {who}"),
            None => " | unclaimed".to_owned(),
        };
        format!("Conversation with {}{claimed}", members.join(", "))
    }

    /// The contacts in a channel: the online ones in `&msn`, the customers
    /// of a conversation in its channel. (Every staff member is in every one.)
    fn channel_contacts(&self, channel: &str) -> Vec<Contact> {
        if channel.eq_ignore_ascii_case(ROSTER) {
            return self
                .view
                .contacts
                .values()
                .filter(|c| c.online())
                .cloned()
                .collect();
        }
        let Some(conv) = self.view.conversation_by_channel(channel) else {
            return Vec::new();
        };
        self.view.conversations[&conv]
            .members
            .iter()
            .filter_map(|h| self.view.contacts.get(h))
            .cloned()
            .collect()
    }

    fn names(&mut self, id: ClientId, channel: &str) {
        // userhost-in-names: full nick!user@host entries.
        let full = self
            .clients
            .get(&id)
            .is_some_and(|c| c.caps.contains("userhost-in-names"));
        let mut names: Vec<String> = self
            .staff_nicks()
            .iter()
            .map(|n| {
                if full {
                    format!("@{}", self.user_prefix(n))
                } else {
                    format!("@{n}")
                }
            })
            .collect();
        let voice = if channel.eq_ignore_ascii_case(ROSTER) {
            "+"
        } else {
            ""
        };
        names.extend(self.channel_contacts(channel).iter().map(|c| {
            let name = if full { c.prefix() } else { c.nick.clone() };
            format!("{voice}{name}")
        }));
        // Keep each 353 well under 512 bytes, however long the entries are.
        let mut line = String::new();
        for name in names {
            if !line.is_empty() && line.len() + name.len() > 380 {
                let full = std::mem::take(&mut line);
                self.numeric(id, "353", &["=", channel, &full]);
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(&name);
        }
        if !line.is_empty() {
            self.numeric(id, "353", &["=", channel, &line]);
        }
        self.numeric(id, "366", &[channel, "End of /NAMES list"]);
    }

    // ---- MSN events ---------------------------------------------------------------

    /// Everything the supervisor reports, as staff should see it.
    pub fn on_update(&mut self, update: &crate::supervisor::Update) {
        use crate::supervisor::Update;
        match update {
            Update::State(s) => self.on_worker_state(s),
            Update::Event(e) => self.on_worker_event(e),
            Update::CommandResult { id, result } => self.on_command_result(*id, result),
        }
    }

    pub fn on_worker_state(&mut self, state: &WorkerState) {
        // A worker that is gone will not confirm deliveries it accepted.
        if matches!(
            state,
            WorkerState::Restarting { .. } | WorkerState::Held { .. } | WorkerState::Stopped
        ) {
            let unconfirmed: Vec<u64> = self
                .pending
                .iter()
                .filter(|(_, p)| matches!(p, Pending::Message(_)))
                .map(|(id, _)| *id)
                .collect();
            for id in unconfirmed {
                if let Some(Pending::Message(sent)) = self.pending.remove(&id) {
                    self.announce_failure(
                        sent,
                        "delivery unknown",
                        "the MSN worker stopped before confirming it",
                    );
                }
            }
        }
        self.worker_state = untrusted(&state.to_string());
        let text = format!("MSN worker: {}", self.worker_state);
        self.roster_notice(&text);
    }

    fn learn_contact(&mut self, handle: &str, friendly_name: &str, status: Status) -> Contact {
        let nick = self.store.contact_name(handle).unwrap_or_else(|e| {
            tracing::error!("cannot name contact {handle}: {e}");
            super::super::store::contacts::base_name(handle)
        });
        let contact = Contact {
            handle: handle.to_owned(),
            nick,
            friendly_name: friendly_name.to_owned(),
            status,
        };
        self.view.contacts.insert(key(handle), contact.clone());
        contact
    }

    /// Shows a contact coming online (JOIN +v) or going offline (PART) in &msn.
    fn presence_changed(&mut self, before: Option<&Contact>, after: &Contact) {
        let (was, is) = (before.is_some_and(Contact::online), after.online());
        // away-notify: busy, away, lunch … are IRC away states.
        let away = |s: Status| !matches!(s, Status::Online | Status::Offline | Status::Hidden);
        if is && (before.map(|b| b.status) != Some(after.status)) {
            let line = if away(after.status) {
                format!(":{} AWAY :{:?}", after.prefix(), after.status)
            } else {
                format!(":{} AWAY", after.prefix())
            };
            if was || away(after.status) {
                self.broadcast_to_cap("away-notify", &[], &line);
            }
        }
        if was == is {
            return;
        }
        if is {
            let join = format!(":{} JOIN {ROSTER}", after.prefix());
            self.broadcast(&join, None);
            let mode = format!(":{} MODE {ROSTER} +v {}", self.server(), after.nick);
            self.broadcast(&mode, None);
        } else {
            let part = format!(":{} PART {ROSTER} :offline", after.prefix());
            self.broadcast(&part, None);
        }
    }

    /// The conversation's channel, created (and joined by all staff) if new.
    fn ensure_channel(&mut self, conversation: ipc::ConversationId, handle: &str) -> String {
        if let Some(c) = self.view.conversations.get(&conversation) {
            return c.name.clone();
        }
        let contact = match self.view.contact(handle) {
            Some(c) => c.clone(),
            None => self.learn_contact(handle, handle, Status::Online),
        };
        let name = self.view.free_channel_name(&contact.nick);
        // The customer is in it from the start: the topic and NAMES show them.
        self.view.conversations.insert(
            conversation,
            Channel {
                name: name.clone(),
                members: [key(handle)].into(),
            },
        );
        let ids: Vec<ClientId> = self.clients.keys().copied().collect();
        for id in ids {
            self.join_burst(id, &name);
        }
        name
    }

    fn customer_joined(&mut self, conversation: ipc::ConversationId, handle: &str) -> String {
        let channel = self.ensure_channel(conversation, handle);
        let fresh = self
            .view
            .conversations
            .get_mut(&conversation)
            .is_some_and(|c| c.members.insert(key(handle)));
        if fresh {
            if let Some(c) = self.view.contact(handle).cloned() {
                let join = format!(":{} JOIN {channel}", c.prefix());
                self.broadcast(&join, None);
            }
        }
        channel
    }

    pub fn on_worker_event(&mut self, event: &Event) {
        // Handles end up in IRC prefixes: a malformed one (a compromised
        // worker) could forge lines, so such events are dropped.
        let handle = match event {
            Event::Presence { handle, .. }
            | Event::ConversationJoined { handle, .. }
            | Event::ConversationLeft { handle, .. }
            | Event::AddRequest { handle, .. } => Some(handle),
            Event::Message { from, .. } | Event::Typing { from, .. } | Event::Nudge { from, .. } => {
                Some(from)
            }
            _ => None,
        };
        if handle.is_some_and(|h| !super::view::valid_handle(h)) {
            tracing::warn!(
                "dropped a worker event with a malformed contact address: {:?}",
                untrusted(&format!("{event:?}"))
            );
            return;
        }
        if let Event::Roster { contacts, .. } = event {
            if contacts.iter().any(|c| !super::view::valid_handle(&c.handle)) {
                tracing::warn!("dropped a roster with malformed contact addresses");
                return;
            }
        }
        match event {
            Event::Roster { contacts, .. } => {
                for c in contacts {
                    let before = self.view.contact(&c.handle).cloned();
                    let after = self.learn_contact(
                        &c.handle,
                        &untrusted(&c.friendly_name),
                        before.as_ref().map_or(c.status, |b| b.status),
                    );
                    self.presence_changed(before.as_ref(), &after);
                }
            }
            Event::Presence {
                handle,
                status,
                friendly_name,
                ..
            } => {
                let before = self.view.contact(handle).cloned();
                let name = friendly_name
                    .as_deref()
                    .map(untrusted)
                    .or_else(|| before.as_ref().map(|b| b.friendly_name.clone()))
                    .unwrap_or_else(|| handle.clone());
                let after = self.learn_contact(handle, &name, *status);
                self.presence_changed(before.as_ref(), &after);
            }
            Event::ConversationJoined {
                conversation, handle, ..
            } => {
                self.customer_joined(*conversation, handle);
            }
            Event::ConversationLeft { conversation, handle } => {
                if let (Some(ch), Some(c)) = (
                    self.view.conversations.get(conversation),
                    self.view.contact(handle),
                ) {
                    let line = format!(
                        ":{} NOTICE {} :{} closed the conversation window",
                        self.server(),
                        ch.name,
                        c.nick
                    );
                    self.broadcast(&line, None);
                }
            }
            Event::ConversationClosed(conversation) => {
                self.activity.remove(conversation);
                self.auto_replied.remove(conversation);
                if let Some(ch) = self.view.conversations.remove(conversation) {
                    self.claims.remove(&ch.name.to_ascii_lowercase());
                    let ids: Vec<ClientId> = self.clients.keys().copied().collect();
                    for id in ids {
                        let Some(nick) = self.clients.get(&id).map(|c| c.nick.clone()) else {
                            continue;
                        };
                        let line = format!(
                            ":{} PART {} :conversation closed (idle)",
                            self.user_prefix(&nick),
                            ch.name
                        );
                        self.send(id, line);
                    }
                }
            }
            Event::Message {
                conversation,
                from,
                text,
                format,
            } => {
                self.activity.insert(*conversation, std::time::Instant::now());
                let reply = self.settings.unattended_reply.clone();
                if self.clients.is_empty() && !reply.is_empty() && self.auto_replied.insert(*conversation) {
                    self.command(
                        Command::SendMessage {
                            to: ConversationTarget::Existing(*conversation),
                            text: reply,
                            format: TextFormat::default(),
                        },
                        None,
                    );
                }
                let channel = self.customer_joined(*conversation, from);
                let prefix = self
                    .view
                    .contact(from)
                    .map(Contact::prefix)
                    .unwrap_or_else(|| from.clone());
                // Long messages (MSN allows ~1.5 kB) become several IRC lines.
                let room = super::split::room(&prefix, "PRIVMSG", &channel).saturating_sub(8);
                let mut pieces = super::split::split(text, room);
                // A pasted wall of lines must not flood every staff client.
                const MAX_LINES: usize = 25;
                if pieces.len() > MAX_LINES {
                    let dropped = pieces.len() - MAX_LINES;
                    pieces.truncate(MAX_LINES);
                    pieces.push(format!("[… {dropped} more lines not shown]"));
                }
                for piece in pieces {
                    let styled = super::format::to_irc(&untrusted_line(&piece), format);
                    let line = format!(":{prefix} PRIVMSG {channel} :{styled}");
                    self.broadcast(&line, None);
                }
            }
            Event::Nudge { conversation, from } => {
                let channel = self.customer_joined(*conversation, from);
                let prefix = self
                    .view
                    .contact(from)
                    .map(Contact::prefix)
                    .unwrap_or_else(|| from.clone());
                let line = format!(":{prefix} NOTICE {channel} :*sent a nudge*");
                self.broadcast(&line, None);
            }
            Event::Delivery { command_id, outcome } => {
                let sent = match self.pending.remove(command_id) {
                    Some(Pending::Message(o)) => Some(o),
                    _ => None,
                };
                if let (Delivery::Failed(f), Some(sent)) = (outcome, sent) {
                    self.announce_failure(sent, "not delivered", &f.detail);
                }
            }
            Event::AddRequest { handle, .. } => {
                self.roster_notice(&format!(
                    "{handle} wants to add the account; accept with /msg *msn accept {handle}"
                ));
            }
            Event::Notice(text) => self.roster_notice(text),
            Event::SignedOut { reason, .. } => self.roster_notice(&format!("signed out: {reason}")),
            // A new login starts online; show the right status at once.
            Event::SignedIn { .. } => {
                if self.clients.is_empty() {
                    self.sync_status();
                }
            }
            Event::Typing { conversation, from } => {
                if let Some(ch) = self.view.conversations.get(conversation).map(|c| c.name.clone()) {
                    let prefix = self
                        .view
                        .contact(from)
                        .map(Contact::prefix)
                        .unwrap_or_else(|| from.clone());
                    self.broadcast_to_cap(
                        "message-tags",
                        &[("+typing", "active")],
                        &format!(":{prefix} TAGMSG {ch}"),
                    );
                }
            }
            Event::LoginProgress(_) => {}
        }
    }

    /// The result of a command this side sent.
    pub fn on_command_result(&mut self, id: u64, result: &CommandResult) {
        if let Some(Pending::Service { client, what }) = self.pending.get(&id) {
            let (client, what) = (*client, what.clone());
            self.pending.remove(&id);
            let text = match result {
                CommandResult::Ok => format!("done: {what}"),
                CommandResult::Failed(f) => format!("failed: {what}: {}", untrusted(&f.detail)),
            };
            self.service_notice(client, &text);
            return;
        }
        if let CommandResult::Failed(f) = result {
            if let Some(Pending::Message(sent)) = self.pending.remove(&id) {
                self.announce_failure(sent, "not sent", &f.detail);
            }
        }
    }

    fn command(&mut self, command: Command, pending: Option<Pending>) {
        let id = self.next_command;
        self.next_command += 1;
        if let Some(p) = pending {
            self.pending.insert(id, p);
        }
        if self.worker.try_send(Control::Command { id, command }).is_err() {
            let result = CommandResult::Failed(ipc::Failure {
                kind: ipc::FailureKind::ServerError,
                detail: "the MSN worker is busy; try again".into(),
            });
            self.on_command_result(id, &result);
        }
    }

    // ---- what staff send ------------------------------------------------------------

    fn on_line(&mut self, id: ClientId, m: &Message) {
        let (cmd, p) = params(m);
        let Some(nick) = self.clients.get(&id).map(|c| c.nick.clone()) else {
            return;
        };
        match cmd.as_str() {
            "PING" => {
                let token = p.first().cloned().unwrap_or_default();
                let server = self.server().to_owned();
                self.send(id, format!(":{server} PONG {server} :{token}"));
            }
            "PONG" => {}
            "QUIT" => {
                self.send(id, "ERROR :Closing link (Quit)".into());
                // Dropping the sender ends the writer, which closes the socket.
                self.gone(id, "quit");
            }
            "PRIVMSG" | "NOTICE" => match (p.first(), p.get(1)) {
                (Some(target), Some(text)) if !text.is_empty() => {
                    let (target, text) = (target.clone(), text.clone());
                    self.privmsg(id, &nick, &cmd, &target, &text);
                }
                (Some(_), _) => self.numeric(id, "412", &["No text to send"]),
                (None, _) => self.numeric(id, "411", &[&format!("No recipient given ({cmd})")]),
            },
            "TAGMSG" => {
                let typing = super::wire::tag(m, "+typing").map(str::to_owned);
                if let (Some(target), Some(state)) = (p.first().cloned(), typing) {
                    if let Some(conversation) = self.view.conversation_by_channel(&target) {
                        let line = format!(":{} TAGMSG {target}", self.user_prefix(&nick));
                        let tags = [("+typing", state.as_str()), ("account", nick.as_str())];
                        let others: Vec<ClientId> = self
                            .clients
                            .iter()
                            .filter(|(cid, c)| **cid != id && c.caps.contains("message-tags"))
                            .map(|(cid, _)| *cid)
                            .collect();
                        for cid in others {
                            self.send_tagged(cid, &tags, line.clone());
                        }
                        if state == "active" {
                            self.command(
                                Command::SendTyping {
                                    to: ConversationTarget::Existing(conversation),
                                },
                                None,
                            );
                        }
                    }
                }
            }
            "JOIN" => match p.first() {
                Some(channels) => {
                    for ch in channels.split(',') {
                        if ch.eq_ignore_ascii_case(ROSTER) || self.view.conversation_by_channel(ch).is_some()
                        {
                            let name = if ch.eq_ignore_ascii_case(ROSTER) {
                                ROSTER.to_owned()
                            } else {
                                ch.to_owned()
                            };
                            self.join_burst(id, &name);
                        } else {
                            self.numeric(id, "403", &[ch, "No such channel (conversations open when a customer writes, or /msg them)"]);
                        }
                    }
                }
                None => self.numeric(id, "461", &["JOIN", "Not enough parameters"]),
            },
            "PART" => match p.first() {
                Some(ch) => self.send(id, format!(":{} PART {ch} :left", self.user_prefix(&nick))),
                None => self.numeric(id, "461", &["PART", "Not enough parameters"]),
            },
            "NAMES" => {
                if let Some(ch) = p.first().cloned() {
                    self.names(id, &ch);
                }
            }
            "TOPIC" => match p.first().cloned() {
                Some(ch) if p.len() == 1 => {
                    let topic = self.topic(&ch);
                    self.numeric(id, "332", &[&ch, &topic]);
                }
                Some(ch) => self.numeric(id, "482", &[&ch, "Topics show the customer and cannot be set"]),
                None => self.numeric(id, "461", &["TOPIC", "Not enough parameters"]),
            },
            "MODE" => match p.first().cloned() {
                Some(t) if t.starts_with(['#', '&']) => self.numeric(id, "324", &[&t, "+nt"]),
                Some(t) if t.eq_ignore_ascii_case(&nick) => self.numeric(id, "221", &["+i"]),
                Some(t) => self.numeric(id, "502", &[&t, "Can't change mode for other users"]),
                None => self.numeric(id, "461", &["MODE", "Not enough parameters"]),
            },
            "WHO" => {
                let mask = p.first().cloned().unwrap_or_default();
                self.who(id, &mask);
            }
            "WHOIS" => match p.last().cloned() {
                Some(target) => self.whois(id, &target),
                None => self.numeric(id, "431", &["No nickname given"]),
            },
            "CAP" => {
                let server = self.server().to_owned();
                let offered = super::registration::CAPABILITIES.join(" ");
                match p.first().map(|s| s.to_ascii_uppercase()).as_deref() {
                    Some("LS") => self.send(id, format!(":{server} CAP {nick} LS :{offered}")),
                    Some("LIST") => {
                        let caps = self
                            .clients
                            .get(&id)
                            .map(|c| c.caps.iter().cloned().collect::<Vec<_>>().join(" "))
                            .unwrap_or_default();
                        self.send(id, format!(":{server} CAP {nick} LIST :{caps}"));
                    }
                    Some("REQ") => {
                        let wanted = p.get(1).cloned().unwrap_or_default();
                        let known = wanted
                            .split_whitespace()
                            .all(|c| super::registration::CAPABILITIES.contains(&c.trim_start_matches('-')));
                        // sasl cannot be used after registration.
                        if known && !wanted.contains("sasl") && !wanted.trim().is_empty() {
                            if let Some(client) = self.clients.get_mut(&id) {
                                for c in wanted.split_whitespace() {
                                    match c.strip_prefix('-') {
                                        Some(off) => client.caps.remove(off),
                                        None => client.caps.insert(c.to_owned()),
                                    };
                                }
                            }
                            self.send(id, format!(":{server} CAP {nick} ACK :{wanted}"));
                        } else {
                            self.send(id, format!(":{server} CAP {nick} NAK :{wanted}"));
                        }
                    }
                    _ => {}
                }
            }
            "PASS" | "USER" => self.numeric(id, "462", &["You may not reregister"]),
            "" => {}
            other => self.numeric(id, "421", &[other, "Unknown command"]),
        }
    }

    /// The away flag and text of a contact (`G` and why, or `H`).
    fn away_of(c: &Contact) -> Option<String> {
        match c.status {
            Status::Online | Status::Offline | Status::Hidden => None,
            other => Some(format!("{other:?}")),
        }
    }

    /// WHO for a channel or a nick: one 352 per person, with H/G (here or
    /// away) so clients show contacts' away states.
    fn who(&mut self, id: ClientId, mask: &str) {
        let server = self.server().to_owned();
        let mut rows: Vec<(String, String, String, String, String)> = Vec::new();
        let staff_row = |n: &str| {
            (
                n.to_owned(),
                n.to_owned(),
                server.clone(),
                "H@".to_owned(),
                n.to_owned(),
            )
        };
        let contact_row = |c: &Contact, prefix: &str| {
            let (user, host) = c.handle.split_once('@').unwrap_or((&c.handle, "msn"));
            let flag = if Self::away_of(c).is_some() { "G" } else { "H" };
            (
                c.nick.clone(),
                user.to_owned(),
                host.to_owned(),
                format!("{flag}{prefix}"),
                untrusted(&c.friendly_name),
            )
        };
        if mask.starts_with(['#', '&']) {
            rows.extend(self.staff_nicks().iter().map(|n| staff_row(n)));
            let voice = if mask.eq_ignore_ascii_case(ROSTER) {
                "+"
            } else {
                ""
            };
            rows.extend(self.channel_contacts(mask).iter().map(|c| contact_row(c, voice)));
        } else if let Some(c) = self.view.contact_by_nick(mask) {
            rows.push(contact_row(c, ""));
        } else if self.clients.values().any(|c| c.nick.eq_ignore_ascii_case(mask)) {
            rows.push(staff_row(mask));
        }
        let channel = if mask.starts_with(['#', '&']) {
            mask.to_owned()
        } else {
            "*".to_owned()
        };
        for (nick, user, host, flags, real) in rows {
            let hop_real = format!("0 {real}");
            self.numeric(
                id,
                "352",
                &[&channel, &user, &host, &server, &nick, &flags, &hop_real],
            );
        }
        self.numeric(id, "315", &[mask, "End of /WHO list"]);
    }

    fn whois(&mut self, id: ClientId, target: &str) {
        let server = self.server().to_owned();
        if let Some(c) = self.view.contact_by_nick(target).cloned() {
            let (user, host) = c.handle.split_once('@').unwrap_or((&c.handle, "msn"));
            let real = format!("{} <{}>", untrusted(&c.friendly_name), c.handle);
            self.numeric(id, "311", &[&c.nick, user, host, "*", &real]);
            self.numeric(
                id,
                "312",
                &[&c.nick, &server, &format!("MSN contact, {:?}", c.status)],
            );
            if let Some(away) = Self::away_of(&c) {
                self.numeric(id, "301", &[&c.nick, &away]);
            }
        } else if let Some(n) = self
            .clients
            .values()
            .find(|c| c.nick.eq_ignore_ascii_case(target))
            .map(|c| c.nick.clone())
        {
            let devices = self.clients.values().filter(|c| c.nick == n).count();
            self.numeric(
                id,
                "311",
                &[
                    &n,
                    &n,
                    &server,
                    "*",
                    &format!("staff ({devices} devices attached)"),
                ],
            );
            self.numeric(id, "312", &[&n, &server, "msnbnc staff"]);
        } else {
            self.numeric(id, "401", &[target, "No such nick/channel"]);
        }
        self.numeric(id, "318", &[target, "End of /WHOIS list"]);
    }

    /// Staff accounts from IRC (admins only; the parser checked). Argon2
    /// is slow on purpose: run it without stalling the other runtime threads.
    fn users(&mut self, action: super::service::UsersAction) -> Vec<String> {
        use super::service::UsersAction as A;
        use crate::store::users::Role;
        let store = &mut self.store;
        let result = tokio::task::block_in_place(|| match action {
            A::List => store.users().map(|us| {
                us.into_iter()
                    .map(|u| format!("{} ({})", u.name, u.role.as_str()))
                    .collect()
            }),
            A::Add(name, pw) => store
                .add_user(&name, &pw, Role::Staff)
                .map(|_| vec![format!("added {name} (staff)")]),
            A::Del(name) => store.delete_user(&name).map(|()| vec![format!("deleted {name}")]),
            A::Passwd(name, pw) => store
                .set_password(&name, &pw)
                .map(|()| vec![format!("password of {name} changed")]),
            A::Role(name, role) => match Role::parse(&role) {
                Some(r) => store
                    .set_role(&name, r)
                    .map(|()| vec![format!("{name} is now {role}")]),
                None => Ok(vec![format!("{role:?} is not a role (admin or staff)")]),
            },
        });
        result.unwrap_or_else(|e| vec![format!("failed: {e}")])
    }

    /// Every staff member learns that a message did not reach the customer,
    /// in the conversation's channel, naming the message.
    fn announce_failure(&mut self, sent: Outgoing, what: &str, detail: &str) {
        let target = sent.conversation_hint.unwrap_or_else(|| ROSTER.to_owned());
        let line = format!(
            ":{} NOTICE {target} :{what} ({}): <{}> {}",
            self.server(),
            untrusted(detail),
            sent.from,
            sent.text
        );
        self.broadcast(&line, None);
    }

    /// Everyone sees the channel's new topic.
    fn topic_changed(&mut self, channel: &str) {
        let Some(conv) = self.view.conversation_by_channel(channel) else {
            return;
        };
        let name = self.view.conversations[&conv].name.clone();
        let line = format!(":{} TOPIC {name} :{}", self.server(), self.topic(&name));
        self.broadcast(&line, None);
    }

    fn service_notice(&mut self, id: ClientId, text: &str) {
        let Some(nick) = self.clients.get(&id).map(|c| c.nick.clone()) else {
            return;
        };
        let line = format!(
            ":{}!service@{} NOTICE {nick} :{text}",
            super::service::NICK,
            self.server()
        );
        self.send(id, line);
    }

    /// A line sent to `*msn`.
    fn service(&mut self, id: ClientId, text: &str) {
        use super::service::{self, Request};
        let is_admin = self
            .clients
            .get(&id)
            .is_some_and(|c| c.role == crate::store::users::Role::Admin);
        match service::parse(text, is_admin) {
            Err(answer) => self.service_notice(id, &answer),
            Ok(Request::Help(topic)) => {
                for line in service::help(topic.as_deref(), is_admin) {
                    self.service_notice(id, &line);
                }
            }
            Ok(Request::Contacts) => {
                let lines: Vec<String> = self
                    .view
                    .contacts
                    .values()
                    .map(|c| {
                        format!(
                            "{:<16} {:<32} {:?}  {}",
                            c.nick, c.handle, c.status, c.friendly_name
                        )
                    })
                    .collect();
                if lines.is_empty() {
                    self.service_notice(id, "no contacts (yet)");
                }
                for l in lines {
                    self.service_notice(id, &l);
                }
            }
            Ok(Request::Who) => {
                let mut devices: std::collections::BTreeMap<String, usize> = Default::default();
                for c in self.clients.values() {
                    *devices.entry(c.nick.clone()).or_default() += 1;
                }
                let who: Vec<String> = devices
                    .iter()
                    .map(|(n, d)| format!("{n} ({d} device{})", if *d == 1 { "" } else { "s" }))
                    .collect();
                self.service_notice(id, &format!("attached: {}", who.join(", ")));
            }
            Ok(Request::Worker) => {
                let state = self.worker_state.clone();
                self.service_notice(id, &format!("MSN worker: {state}"));
            }
            Ok(Request::Claim(channel)) | Ok(Request::Unclaim(channel))
                if self.view.conversation_by_channel(&channel).is_none() =>
            {
                self.service_notice(id, &format!("no conversation {channel}"));
            }
            Ok(Request::Claim(channel)) => {
                let nick = self.clients.get(&id).map(|c| c.nick.clone()).unwrap_or_default();
                let previous = self.claims.insert(channel.to_ascii_lowercase(), nick.clone());
                if let Some(p) = previous.filter(|p| *p != nick) {
                    self.service_notice(id, &format!("{channel} was claimed by {p}; it is yours now"));
                }
                self.topic_changed(&channel);
            }
            Ok(Request::Unclaim(channel)) => {
                let nick = self.clients.get(&id).map(|c| c.nick.clone()).unwrap_or_default();
                match self.claims.get(&channel.to_ascii_lowercase()) {
                    Some(owner) if *owner == nick => {
                        self.claims.remove(&channel.to_ascii_lowercase());
                        self.topic_changed(&channel);
                    }
                    Some(owner) => {
                        let owner = owner.clone();
                        self.service_notice(id, &format!("{channel} is claimed by {owner}, not you"));
                    }
                    None => self.service_notice(id, &format!("{channel} is not claimed")),
                }
            }
            Ok(Request::WorkerRestart) | Ok(Request::WorkerResume) => {
                let (control, what) = match service::parse(text, is_admin) {
                    Ok(Request::WorkerRestart) => (Control::Restart, "restarting the MSN worker"),
                    _ => (Control::Resume, "resuming the MSN worker"),
                };
                let answer = match self.worker.try_send(control) {
                    Ok(()) => what.to_owned(),
                    Err(_) => "the supervisor is busy; try again".to_owned(),
                };
                self.service_notice(id, &answer);
            }
            Ok(Request::Users(action)) => {
                let answer = self.users(action);
                for line in answer {
                    self.service_notice(id, &line);
                }
            }
            Ok(Request::Version) => self.service_notice(id, &format!("msnbnc {}", env!("CARGO_PKG_VERSION"))),
            Ok(Request::Msn(command, what)) => {
                self.command(command, Some(Pending::Service { client: id, what }))
            }
        }
    }

    /// A message from staff member `nick` on client `id`.
    fn privmsg(&mut self, id: ClientId, nick: &str, cmd: &str, target: &str, text: &str) {
        if target.eq_ignore_ascii_case(super::service::NICK) {
            if cmd == "PRIVMSG" {
                self.service(id, text);
            }
            return;
        }
        let echo = format!(":{} {cmd} {target} :{text}", self.user_prefix(nick));
        // Staff-only note: `@#bob` (STATUSMSG) never reaches the customer.
        if let Some(channel) = target.strip_prefix('@') {
            if self.view.conversation_by_channel(channel).is_some() || channel.eq_ignore_ascii_case(ROSTER) {
                let echo_to_self = self
                    .clients
                    .get(&id)
                    .is_some_and(|c| c.caps.contains("echo-message"));
                let except = if echo_to_self { None } else { Some(id) };
                self.broadcast_tagged(&[("account", nick)], &echo, except);
            } else {
                self.numeric(id, "403", &[channel, "No such channel"]);
            }
            return;
        }
        if target.eq_ignore_ascii_case(ROSTER) {
            self.numeric(
                id,
                "404",
                &[
                    ROSTER,
                    "The contact list is read-only; talk in a conversation channel",
                ],
            );
            return;
        }
        // CTCP other than ACTION (DCC, VERSION …) is for IRC clients, never
        // for a customer: a DCC request would leak the staff member's address.
        if text.starts_with('\x01') && super::format::action(text).is_none() {
            return;
        }
        // What the customer gets: IRC codes become MSN formatting, and
        // /me becomes *action*.
        let (mut msn_text, msn_format) = match super::format::action(text) {
            Some(act) => (
                format!("*{}*", super::format::from_irc(act).0),
                TextFormat::default(),
            ),
            None => super::format::from_irc(text),
        };
        // The customer sees who answered, when a signature is configured.
        if !self.settings.signature.is_empty() && !msn_text.trim().is_empty() {
            msn_text = self
                .settings
                .signature
                .replace("{nick}", nick)
                .replace("{text}", &msn_text);
        }
        if msn_text.trim().is_empty()
            && cmd == "PRIVMSG"
            && self.view.conversation_by_channel(target).is_some()
        {
            self.numeric(id, "412", &["No text to send"]);
            return;
        }
        let account = [("account", nick)];
        // echo-message: the sender's own connection sees its line too.
        let echo_to_self = self
            .clients
            .get(&id)
            .is_some_and(|c| c.caps.contains("echo-message"));
        if let Some(conversation) = self.view.conversation_by_channel(target) {
            self.activity.insert(conversation, std::time::Instant::now());
            let except = if echo_to_self { None } else { Some(id) };
            self.broadcast_tagged(&account, &echo, except);
            if cmd == "PRIVMSG" {
                self.command(
                    Command::SendMessage {
                        to: ConversationTarget::Existing(conversation),
                        text: msn_text.clone(),
                        format: msn_format.clone(),
                    },
                    Some(Pending::Message(Outgoing {
                        conversation_hint: Some(target.to_owned()),
                        from: nick.to_owned(),
                        text: text.to_owned(),
                    })),
                );
            }
            return;
        }
        // A colleague's nick wins over a contact's: a private word between
        // staff must never reach a customer.
        let to_staff = self.clients.values().any(|c| c.nick.eq_ignore_ascii_case(target));
        if to_staff {
            let staff: Vec<ClientId> = self
                .clients
                .iter()
                .filter(|(cid, c)| c.nick.eq_ignore_ascii_case(target) || (c.nick == nick && **cid != id))
                .map(|(cid, _)| *cid)
                .collect();
            for cid in staff {
                self.send_tagged(cid, &account, echo.clone());
            }
            if echo_to_self {
                self.send_tagged(id, &account, echo);
            }
            return;
        }
        if let Some(contact) = self.view.contact_by_nick(target).cloned() {
            if cmd != "PRIVMSG" {
                self.numeric(id, "404", &[target, "Customers only get PRIVMSG"]);
                return;
            }
            // `/msg bob …` lands in bob's conversation, for everyone.
            let hint = self
                .view
                .conversation_with(&contact.handle)
                .and_then(|c| self.view.conversations.get(&c))
                .map(|c| c.name.clone());
            if let Some(channel) = &hint {
                let line = format!(":{} PRIVMSG {channel} :{text}", self.user_prefix(nick));
                self.broadcast(&line, None);
            }
            if cmd == "PRIVMSG" {
                let to = match self.view.conversation_with(&contact.handle) {
                    Some(c) => ConversationTarget::Existing(c),
                    None => ConversationTarget::Contact(contact.handle.clone()),
                };
                self.command(
                    Command::SendMessage {
                        to,
                        text: msn_text.clone(),
                        format: msn_format.clone(),
                    },
                    Some(Pending::Message(Outgoing {
                        conversation_hint: hint,
                        from: nick.to_owned(),
                        text: text.to_owned(),
                    })),
                );
            }
            return;
        }
        self.numeric(id, "401", &[target, "No such nick/channel"]);
    }
}
