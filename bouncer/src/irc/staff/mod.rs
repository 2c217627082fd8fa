//! The hub's side of IRC: attached clients, the welcome burst, MSN events
//! shown as channel traffic, and what staff send turned into worker
//! commands. Owned by the hub; never locked.

use std::collections::{BTreeSet, HashMap};

use ipc::{Command, CommandResult, ConversationTarget, Delivery, Event, Status, TextFormat};

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

mod chathistory;
mod commands;
mod history;
mod locals;
mod msn;
mod outbox;
mod privmsg;
mod service;

use super::batch::{BatchIds, Labeled};
use super::conn::{Attached, ClientEvent, ClientId, OutLine};
use super::tags::{prefix_for, MsgIds, Variant};
use super::view::{key, Channel, Contact, View, ROSTER};
use crate::config::IrcSettings;
use crate::irc::registration::Login;
use crate::irc::wire::reply;
use crate::store::Store;
use crate::supervisor::worker::untrusted;
use crate::supervisor::{Control, WorkerState};

pub struct Client {
    pub login: Login,
    pub nick: String,
    pub role: crate::store::users::Role,
    pub caps: BTreeSet<String>,
    /// The fingerprint of the TLS client certificate, if one was sent.
    cert: Option<String>,
    /// Every line up to this row was shown to this client (live or replayed).
    seen_up_to: i64,
    tx: mpsc::Sender<OutLine>,
}

/// A staff message on its way to MSN, to name it if delivery fails.
struct Outgoing {
    conversation_hint: Option<String>,
    /// The contact whose conversation is opening for it (lower-cased).
    opening_for: Option<String>,
    /// Its row in the outbox (its line in history).
    outbox: Option<i64>,
    /// The worker wrote it to a switchboard: never send it again.
    sent: bool,
    /// Sent again after an outage: its success is announced too.
    retried: bool,
    from: String,
    text: String,
}

/// A staff line shown once its conversation's channel exists: who wrote
/// it, and what.
type AwaitingLine = (String, String);

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
    /// Each attached user's own signature (`None`: the global one).
    signatures: HashMap<String, Option<String>>,
    /// Staff lines to contacts whose conversation is still opening, by
    /// lower-cased handle: (tags, line with `{channel}` to fill in).
    awaiting: HashMap<String, Vec<AwaitingLine>>,
    /// Channels that went dormant in the last outage (told when it ends).
    suspended: Vec<String>,
    /// Each attached user's real name (USER, SETNAME).
    realnames: HashMap<String, String>,
    /// The reply being collected for a labelled command (labeled-response).
    label: Option<Labeled>,
    batch_ids: BatchIds,
    msgids: MsgIds,
    /// History: conversation rows by lower-cased channel name.
    conversation_ids: HashMap<String, i64>,
    /// The newest line of each conversation, and of all.
    last_line: HashMap<i64, i64>,
    newest_line: i64,
    /// A store transaction is open for this batch; client output waits in
    /// `deferred` until it commits.
    in_transaction: bool,
    deferred: Option<Vec<(ClientId, OutLine)>>,
    /// The database, for replays that read it on their own connection.
    store_path: std::path::PathBuf,
    /// Worker commands that wait for the batch's commit (outbox first).
    deferred_commands: Vec<(Command, Option<Pending>)>,
    /// When the next retention pass may run.
    next_prune: std::time::Instant,
    /// The worker is signed in (the outbox is sent, not held).
    signed_in: bool,
    /// Set when the store failed: lines are shown but no longer recorded.
    history_broken: Option<String>,
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
    let kept = |c: char| matches!(c, '\x02' | '\x03' | '\x0f' | '\x16' | '\x1d' | '\x1e' | '\x1f');
    // Most lines have nothing to replace: one copy, no per-char pushes.
    if !s.chars().any(|c| c.is_control() && !kept(c)) {
        return s.to_owned();
    }
    s.chars()
        .map(|c| if c.is_control() && !kept(c) { ' ' } else { c })
        .collect()
}

impl Staff {
    pub fn new(
        settings: IrcSettings,
        store: Store,
        store_path: std::path::PathBuf,
        worker: mpsc::Sender<Control>,
    ) -> Staff {
        let newest_line = store.newest_line().unwrap_or_else(|e| {
            tracing::error!("cannot read the history: {e}");
            0
        });
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
            signatures: HashMap::new(),
            realnames: HashMap::new(),
            awaiting: HashMap::new(),
            suspended: Vec::new(),
            label: None,
            batch_ids: BatchIds::default(),
            msgids: MsgIds::default(),
            conversation_ids: HashMap::new(),
            last_line: HashMap::new(),
            newest_line,
            in_transaction: false,
            deferred: None,
            deferred_commands: Vec::new(),
            store_path,
            signed_in: false,
            next_prune: std::time::Instant::now(),
            history_broken: None,
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
        self.push(id, line.into());
    }

    /// Queues a finished line.
    fn push(&mut self, id: ClientId, line: OutLine) {
        // Part of the reply to a labelled command: sent when it is complete.
        if let Some(l) = self.label.as_mut().filter(|l| l.client == id) {
            l.lines.push(line.to_string());
            return;
        }
        self.deliver(id, line);
    }

    /// Queues a line for the client's writer, now.
    fn deliver(&mut self, id: ClientId, line: OutLine) {
        // Inside a batch: after the commit.
        if let Some(waiting) = self.deferred.as_mut() {
            waiting.push((id, line));
            return;
        }
        let Some(c) = self.clients.get(&id) else { return };
        match c.tx.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.gone(id, "too slow: its queue is full"),
            Err(TrySendError::Closed(_)) => self.gone(id, "connection closed"),
        }
    }

    fn broadcast(&mut self, line: &str, except: Option<ClientId>) {
        self.broadcast_tagged(&[], line, except);
    }

    /// One line to every client (but `except`): each tag variant is
    /// formatted once and shared.
    fn broadcast_tagged(&mut self, tags: &[(&str, &str)], line: &str, except: Option<ClientId>) {
        self.broadcast_at(std::time::SystemTime::now(), tags, line, except);
    }

    /// [`Staff::broadcast_tagged`] with the line's time (its server-time).
    fn broadcast_at(
        &mut self,
        now: std::time::SystemTime,
        tags: &[(&str, &str)],
        line: &str,
        except: Option<ClientId>,
    ) {
        // The server-time stamp is made only if some client wants it.
        let mut stamp: Option<String> = None;
        let mut formatted: [Option<OutLine>; Variant::COUNT] = Default::default();
        let targets: Vec<(ClientId, Variant)> = self
            .clients
            .iter()
            .filter(|(id, _)| Some(**id) != except)
            .map(|(id, c)| (*id, Variant::of(&c.caps)))
            .collect();
        for (id, variant) in targets {
            let slot = &mut formatted[variant.index()];
            if slot.is_none() {
                let stamp = match variant.has_time() {
                    true => stamp.get_or_insert_with(|| super::tags::timestamp(now)).as_str(),
                    false => "",
                };
                *slot = Some(format!("{}{line}", prefix_for(variant, stamp, tags)).into());
            }
            let Some(full) = slot.clone() else { continue };
            self.push(id, full);
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

    /// The staff in a channel: a staff channel's members, otherwise
    /// everyone attached.
    fn channel_staff(&self, channel: &str) -> BTreeSet<String> {
        match self.view.locals.get(&channel.to_ascii_lowercase()) {
            Some(local) => local.members.clone(),
            None => self.staff_nicks(),
        }
    }

    pub fn on_event(&mut self, event: ClientEvent) {
        match event {
            ClientEvent::Attached(a) => self.attach(a),
            ClientEvent::Line(id, m) => {
                // labeled-response: collect the reply, then send it as one.
                let label = crate::irc::wire::tag(&m, "label")
                    .filter(|l| !l.is_empty() && l.len() <= 64)
                    .filter(|_| {
                        self.clients
                            .get(&id)
                            .is_some_and(|c| c.caps.contains("labeled-response"))
                    });
                self.label = label.map(|label| Labeled {
                    client: id,
                    label: label.to_owned(),
                    lines: Vec::new(),
                });
                self.on_line(id, &m);
                if let Some(reply) = self.label.take() {
                    let has_batch = self.clients.get(&id).is_some_and(|c| c.caps.contains("batch"));
                    let server = self.server().to_owned();
                    for line in reply.finish(&server, has_batch, &mut self.batch_ids) {
                        self.deliver(id, line.into());
                    }
                }
            }
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
                cert: a.cert,
                seen_up_to: self.newest_line,
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
            format!("NAMELEN={}", commands::MAX_REALNAME),
            format!("CHATHISTORY={}", super::chathistory::MAX_LIMIT),
            "MSGREFTYPES=msgid,timestamp".to_owned(),
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
            let signature = self.store.signature(&nick).unwrap_or_else(|e| {
                tracing::warn!("cannot read the signature of {nick}: {e}");
                None
            });
            self.signatures.insert(nick.clone(), signature);
            let realname = if a.realname.trim().is_empty() {
                nick.clone()
            } else {
                untrusted(&a.realname)
            };
            self.realnames.insert(nick.clone(), realname.clone());
            // The other staff see a colleague arrive.
            let prefix = self.user_prefix(&nick);
            self.broadcast_join(&prefix, ROSTER, &nick, &realname, Some(id));
        }
        self.join_burst(id, ROSTER);
        let channels: Vec<String> = self
            .view
            .conversations
            .values()
            .chain(self.view.dormant.values())
            .map(|c| c.name.clone())
            .collect();
        for c in channels.into_iter().chain(self.locals_of(&nick)) {
            self.join_burst(id, &c);
        }
        self.replay(id);
        if first_of_all {
            self.auto_replied.clear();
            self.sync_status();
        }
    }

    /// Periodic housekeeping: close conversations nobody has touched for
    /// `irc.idle_close` (the worker reports them closed; a new message from
    /// the customer opens a fresh one).
    pub fn tick(&mut self, now: std::time::Instant) {
        // Positions reach the store even if msnbnc is killed later.
        let ids: Vec<ClientId> = self.clients.keys().copied().collect();
        self.save_positions(&ids);
        self.expire_outbox();
        self.prune_some(now);
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
        self.save_positions(&[id]);
        if let Some(c) = self.clients.remove(&id) {
            tracing::info!(client = id, user = %c.login.user, "IRC client detached: {reason}");
            if !self.clients.values().any(|o| o.nick == c.nick) {
                self.realnames.remove(&c.nick);
                self.signatures.remove(&c.nick);
            }
            if self.clients.is_empty() {
                self.sync_status();
            }
        }
    }

    /// A staff member's real name (their nick until they give one).
    fn realname(&self, nick: &str) -> String {
        self.realnames
            .get(nick)
            .cloned()
            .unwrap_or_else(|| nick.to_owned())
    }

    /// A JOIN as client `id` wants it: extended-join adds the account
    /// (`*` for none) and the real name.
    fn join_line(&self, id: ClientId, prefix: &str, channel: &str, account: &str, realname: &str) -> String {
        let extended = self
            .clients
            .get(&id)
            .is_some_and(|c| c.caps.contains("extended-join"));
        if extended {
            format!(":{prefix} JOIN {channel} {account} :{realname}")
        } else {
            format!(":{prefix} JOIN {channel}")
        }
    }

    fn broadcast_join(
        &mut self,
        prefix: &str,
        channel: &str,
        account: &str,
        realname: &str,
        except: Option<ClientId>,
    ) {
        let ids: Vec<ClientId> = self
            .clients
            .keys()
            .copied()
            .filter(|c| Some(*c) != except)
            .collect();
        for id in ids {
            let line = self.join_line(id, prefix, channel, account, realname);
            self.send(id, line);
        }
    }

    /// JOIN, topic and names of `channel` for one client.
    fn join_burst(&mut self, id: ClientId, channel: &str) {
        let Some(nick) = self.clients.get(&id).map(|c| c.nick.clone()) else {
            return;
        };
        let (prefix, realname) = (self.user_prefix(&nick), self.realname(&nick));
        let join = self.join_line(id, &prefix, channel, &nick, &realname);
        self.send(id, join);
        let topic = self.topic(channel);
        self.numeric(id, "332", &[channel, &topic]);
        self.names(id, channel);
        self.markread_after_join(id, channel);
    }

    fn topic(&self, channel: &str) -> String {
        if channel.eq_ignore_ascii_case(ROSTER) {
            return format!("MSN account: {}", self.worker_state);
        }
        if let Some(local) = self.view.locals.get(&channel.to_ascii_lowercase()) {
            return local.topic.clone();
        }
        let Some(ch) = self.view.channel(channel) else {
            return String::new();
        };
        let members: Vec<String> = ch
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
        let Some(ch) = self.view.channel(channel) else {
            return Vec::new();
        };
        ch.members
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
            .channel_staff(channel)
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

    /// Everyone sees the channel's new topic.
    fn topic_changed(&mut self, channel: &str) {
        let Some(name) = self.view.channel(channel).map(|c| c.name.clone()) else {
            return;
        };
        let line = format!(":{} TOPIC {name} :{}", self.server(), self.topic(&name));
        self.broadcast(&line, None);
    }
}
