//! The hub: the one owner of shared state, as in soju. It is made of
//! parts that each own their state — attached clients, the roster, the
//! conversations, staff channels, the outbox, the worker link, history —
//! and it is changed only by its entry points, called one at a time by
//! the daemon's loop: a client event, a worker update, a store event, a
//! tick. Each call is a turn; [`Hub::end_turn`] hands what the turn wrote
//! to the store writer and holds what it shows until that is committed.
//! The hub never touches SQLite itself.

mod canned;
mod clients;
mod conversation;
mod conversations;
mod customer_cards;
mod desk_figures;
mod desk_state;
mod file_sending;
mod file_transfers;
mod history;
pub mod irc_commands;
mod msn_events;
mod offline_messages;
mod outbox;
mod output;
mod places;
mod preload;
mod replay_plan;
mod roster;
mod sending;
pub mod service;
mod shown;
mod staff_channels;
mod welcome;
mod worker_link;

#[cfg(test)]
mod client_view_tests;
#[cfg(test)]
mod crash_tests;
#[cfg(test)]
mod desk_tests;
#[cfg(any(test, feature = "harness"))]
pub mod harness;
#[cfg(test)]
mod hub_tests;

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;

use crate::config::{IrcSettings, StoreSettings};
use crate::irc::cap::Cap;
use crate::irc::conn::{ClientEvent, ClientId, OutLine};
use crate::irc::wire::reply;
use crate::store::lines::{Kind, LineRow};
use crate::store::threads::StoreThreads;
use crate::store::writer::StoreEvent;
use crate::store::Store;
use crate::supervisor::{Control, Update};
use crate::untrusted::short;

use clients::Clients;
use conversations::Conversations;
use history::History;
use outbox::Outbox;
use output::{Item, Output};
pub use preload::Preload;
use roster::{Roster, ROSTER};
pub(crate) use shown::{line_tags, Shown};
use staff_channels::StaffChannels;
use worker_link::WorkerLink;

/// What the store threads hand back: work for the hub to finish, on its
/// own thread, with their answer.
pub type Continuation = Box<dyn FnOnce(&mut Hub) + Send>;

/// The settings the hub works with; all of them may change on SIGHUP.
#[derive(Debug, Clone)]
pub struct Settings {
    pub irc: IrcSettings,
    pub store: StoreSettings,
    pub desk: crate::config::DeskSettings,
    pub files: crate::config::FilesSettings,
}

/// What staff are told while history is not being recorded.
pub(crate) fn recording_off(error: &str) -> String {
    format!(
        "history is NOT being recorded (the store failed: {error}); lines are still shown live, and recording resumes by itself when the store works again"
    )
}

/// How often [`Hub::every_second`] runs. Attached devices' positions are
/// saved this often: after a crash, a device is re-sent at most the lines
/// delivered in this long before it (and what was still on its way).
pub const SECOND: std::time::Duration = std::time::Duration::from_secs(1);

pub struct Hub {
    settings: Settings,
    clients: Clients,
    out: Output,
    roster: Roster,
    conversations: Conversations,
    staff_channels: StaffChannels,
    outbox: Outbox,
    worker: WorkerLink,
    files: file_transfers::FileTransfers,
    history: History,
    store: StoreThreads<Continuation>,
    /// The hub's own client-event queue, for work it starts beside itself
    /// that reports back (a replay).
    events: mpsc::Sender<ClientEvent>,
    /// Added to the system clock for the desk's times (tests move it).
    clock_offset_ms: i64,
    /// A stopped desk clock (tests that work figures out by hand).
    #[cfg(any(test, feature = "harness"))]
    stopped_clock_ms: Option<i64>,
    canned: canned::Canned,
    cards: customer_cards::Cards,
    /// What Prometheus scrapes (atomics; `[metrics] listen` serves them).
    metrics: std::sync::Arc<crate::metrics::Metrics>,
}

impl Hub {
    pub fn new(
        settings: Settings,
        preload: Preload,
        store: StoreThreads<Continuation>,
        worker: mpsc::Sender<Control>,
        events: mpsc::Sender<ClientEvent>,
    ) -> Hub {
        let settings_store_path = settings.store.path.clone();
        let mut hub = Hub {
            roster: Roster::new(preload.contacts, &preload.staff),
            conversations: Conversations::new(preload.next_conversation),
            history: History::new(preload.next_line),
            outbox: Outbox::new(preload.outbox),
            settings,
            clients: {
                let mut c = Clients::default();
                c.set_team(preload.staff.iter().cloned());
                c
            },
            out: Output::default(),
            staff_channels: StaffChannels::default(),
            worker: WorkerLink::new(worker),
            files: file_transfers::FileTransfers::default(),
            store,
            events,
            clock_offset_ms: 0,
            #[cfg(any(test, feature = "harness"))]
            stopped_clock_ms: None,
            canned: canned::Canned::new(preload.canned),
            cards: customer_cards::Cards::new(preload.customer_notes, preload.customer_tags),
            metrics: std::sync::Arc::new(crate::metrics::Metrics::new(settings_store_path)),
        };
        desk_state::restore(&mut hub, preload.unresolved);
        hub
    }

    // ---- entry points ------------------------------------------------------

    /// Something an IRC connection reported.
    pub fn on_client(&mut self, event: ClientEvent) {
        match event {
            ClientEvent::Attached(a) => welcome::attach(self, a),
            ClientEvent::Line(id, m) => irc_commands::on_line(self, id, &m),
            ClientEvent::TooLong(id) => self.numeric(id, "417", &["Input line was too long"]),
            ClientEvent::Detached(id, reason) => self.detach(id, &reason),
            ClientEvent::Replayed(id, outcome) => replay_plan::finished(self, id, outcome),
        }
    }

    /// Something the supervisor reported.
    pub fn on_worker(&mut self, update: &Update) {
        match update {
            Update::State(s) => msn_events::worker_state(self, s),
            Update::Event(e) => msn_events::event(self, e),
            Update::CommandResult { id, result } => msn_events::command_result(self, *id, result),
        }
    }

    /// Something the store threads reported.
    pub fn on_store(&mut self, event: StoreEvent<Continuation>) {
        match event {
            StoreEvent::Committed { seq } => {
                self.history.settled(seq, true);
                if self.history.stored() {
                    tracing::info!("the history store works again; lines are recorded");
                    crate::systemd::status("history is recorded again");
                    self.roster_notice("history is being recorded again");
                }
                self.release(seq);
            }
            StoreEvent::Failed { seq, error } => {
                self.history.settled(seq, false);
                self.history_failed(&error);
                self.release(seq);
            }
            StoreEvent::Done(then) => then(self),
        }
    }

    /// Periodic housekeeping: held messages expire; retention; idle
    /// conversations close.
    pub fn tick(&mut self, now: Instant) {
        outbox::expire(self);
        replay_plan::prune_now_and_then(self, now);
        let limit = self.settings.irc.idle_close;
        if !limit.is_zero() {
            for conversation in self.conversations.idle(now, limit) {
                self.command(ipc::Command::CloseConversation(conversation), None);
            }
        }
    }

    /// SIGHUP's new settings (the daemon says which need a restart).
    pub fn reconfigure(&mut self, settings: Settings) {
        self.settings = settings;
    }

    /// Before exiting: every attached device's position is saved, the
    /// writer finishes, and what waited for it is sent.
    pub fn shut_down(&mut self, budget: std::time::Duration) {
        self.save_positions();
        self.end_turn();
        self.store.stop(budget);
        let held = self.out.release_all();
        self.dispatch(held);
        // Every client hears why before its socket closes: dropping its
        // queue ends its writer once the line is written.
        for id in self.clients.ids() {
            self.clients
                .deliver(id, "ERROR :Closing link (msnbnc is shutting down)".into());
        }
        self.clients.drop_all();
    }

    /// The end of a turn: clients found gone leave, and what the turn
    /// wrote goes to the writer; what it showed waits for the commit.
    pub fn end_turn(&mut self) {
        for (id, why) in self.clients.take_gone() {
            self.detach(id, why);
        }
        let (batch, lines) = self.history.take_batch();
        if batch.is_empty() {
            return;
        }
        let holds = batch.holds_output();
        match self.store.commit(batch) {
            Some(seq) => {
                self.history.committing(seq, lines);
                if holds {
                    self.out.seal(seq);
                }
            }
            None => {
                self.history_failed("the store writer stopped");
                let held = self.out.release_all();
                self.dispatch(held);
            }
        }
    }

    // ---- output ----------------------------------------------------------

    fn server(&self) -> &str {
        &self.settings.irc.server_name
    }

    fn user_prefix(&self, nick: &str) -> String {
        format!("{nick}!{nick}@{}", self.server())
    }

    /// Sends what waited for batches up to `seq`.
    fn release(&mut self, seq: u64) {
        let items = self.out.release(seq);
        self.dispatch(items);
    }

    fn dispatch(&mut self, items: Vec<Item>) {
        for item in items {
            match item {
                Item::Line(id, line) => self.clients.deliver(id, line),
                Item::Command(id, command) => {
                    if !self.worker.send(id, command) {
                        let busy = ipc::CommandResult::Failed(ipc::Failure {
                            kind: ipc::FailureKind::ServerError,
                            detail: "the MSN worker is busy; try again".into(),
                        });
                        msn_events::command_result(self, id, &busy);
                    }
                }
            }
        }
    }

    fn emit(&mut self, item: Item) {
        if let Some(item) = self.out.pass(item) {
            self.dispatch(vec![item]);
        }
    }

    /// A finished line for a client (part of a labelled reply, if one is
    /// being collected for it).
    fn push(&mut self, id: ClientId, line: OutLine) {
        if let Some(line) = self.out.collect(id, line) {
            self.emit(Item::Line(id, line));
        }
    }

    fn send(&mut self, id: ClientId, line: String) {
        self.send_tagged(id, &[], line);
    }

    /// A line with the tags this client negotiated.
    fn send_tagged(&mut self, id: ClientId, tags: &[(&str, &str)], line: String) {
        let Some(c) = self.clients.get(id) else { return };
        let prefix = crate::irc::tags::prefix(c.caps, SystemTime::now(), tags);
        self.push(id, format!("{prefix}{line}").into());
    }

    fn numeric(&mut self, id: ClientId, code: &str, params: &[&str]) {
        let Some(nick) = self.clients.get(id).map(|c| c.nick.clone()) else {
            return;
        };
        let line = reply(self.server(), code, &nick, params);
        self.send(id, line);
    }

    fn broadcast(&mut self, line: &str, except: Option<ClientId>) {
        self.broadcast_at(SystemTime::now(), &[], line, except);
    }

    /// One line to every client (but `except`) with `tags`, stamped `now`.
    fn broadcast_at(&mut self, now: SystemTime, tags: &[(&str, &str)], line: &str, except: Option<ClientId>) {
        for (id, line) in output::broadcast(&self.clients, now, tags, line, except) {
            self.push(id, line);
        }
    }

    /// To the clients that negotiated `cap`.
    fn broadcast_to_cap(&mut self, cap: Cap, tags: &[(&str, &str)], line: &str) {
        for id in self.clients.with(cap) {
            self.send_tagged(id, tags, line.to_owned());
        }
    }

    fn roster_notice(&mut self, text: &str) {
        let line = format!(":{} NOTICE {ROSTER} :{}", self.server(), short(text));
        self.broadcast(&line, None);
    }

    /// A worker command; `waiting` says who waits for its result. It goes
    /// out in order with the output (after the commit of a held batch).
    fn command(&mut self, command: ipc::Command, waiting: Option<Waiting>) -> u64 {
        let id = self.worker.next_id();
        self.command_as(id, command, waiting);
        id
    }

    /// [`Hub::command`] with an id taken beforehand (from
    /// `self.worker.next_id()`), for a caller that must note the id
    /// before a refusal can come back.
    fn command_as(&mut self, id: u64, command: ipc::Command, waiting: Option<Waiting>) {
        match waiting {
            Some(Waiting::Message(m)) => self.outbox.in_flight(id, m),
            Some(Waiting::Service { client, what }) => self.worker.await_for_service(id, client, what),
            None => {}
        }
        self.emit(Item::Command(id, command));
    }

    // ---- history ---------------------------------------------------------

    /// Records a line (in a conversation channel) and shows it; returns its
    /// line id if it was recorded.
    fn show(&mut self, line: Shown<'_>, except: Option<ClientId>) -> Option<i64> {
        // One time for the store and the live line: history repeats it
        // exactly. The desk's clock (the system's, unless a test moved it).
        let ms = self.now_ms();
        self.show_at(line, except, ms)
    }

    /// [`Hub::show`] of a line written at `ms` (an offline message).
    fn show_at(&mut self, line: Shown<'_>, except: Option<ClientId>, ms: i64) -> Option<i64> {
        let msgid = self.history.msgid();
        let now = UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0));
        if line.command == "PRIVMSG" {
            match line.kind {
                Kind::Customer => self.metrics.customer_lines.inc(),
                Kind::Staff => self.metrics.staff_lines.inc(),
                Kind::Note | Kind::Notice => 0,
            };
        }
        let conversation = self.conversations.by_channel(line.target.trim_start_matches('@'));
        let row = conversation.map(|conversation| {
            self.out.hold();
            self.history.record(LineRow {
                id: 0,
                conversation,
                time_ms: ms,
                msgid: msgid.clone(),
                kind: line.kind,
                sender: line.sender.to_owned(),
                source: line.source.to_owned(),
                command: line.command,
                text: line.text.to_owned(),
                plain: crate::irc::format::from_irc(line.text).text,
            })
        });
        let mut text = String::with_capacity(line.source.len() + line.target.len() + line.text.len() + 16);
        for part in [
            ":",
            line.source,
            " ",
            line.command,
            " ",
            line.target,
            " :",
            line.text,
        ] {
            text.push_str(part);
        }
        tracing::debug!(
            record = conversation,
            line = row,
            msgid,
            clients = ?self.clients.iter().map(|(c, _)| *c).filter(|c| Some(*c) != except).collect::<Vec<_>>(),
            "shown"
        );
        let tags = line_tags(line.account, &msgid, line.client_tags);
        self.broadcast_at(now, &tags, &text, except);
        row
    }

    /// The store refused a batch: said loudly, once; lines are still shown.
    fn history_failed(&mut self, error: &str) {
        if !self.history.failed(error) {
            return;
        }
        tracing::error!("the history store failed; new lines are NOT being recorded: {error}");
        crate::systemd::status(&format!("history not recorded: {error}"));
        self.roster_notice(&recording_off(error));
    }

    /// Every attached device has seen every delivered line (those it is
    /// still being replayed, or failed to be, aside): saved every second,
    /// so that a crash re-sends at most what was in flight.
    /// Every [`SECOND`]: positions are saved; a slow login is mentioned;
    /// topics show how long customers have waited; gauges are brought up
    /// to date.
    pub fn every_second(&mut self, now: Instant) {
        self.save_positions();
        msn_events::login_watch(self, now);
        desk_state::show_waits(self);
        desk_state::alerts(self, now);
        desk_state::gauges(self);
    }

    /// The figures `[metrics] listen` serves.
    pub fn metrics(&self) -> std::sync::Arc<crate::metrics::Metrics> {
        std::sync::Arc::clone(&self.metrics)
    }

    /// Sets the desk's clock to `now_ms` (tests of business hours and
    /// waits, through `MSNBNC_DESK_NOW`); the system clock keeps running
    /// under it.
    pub fn set_desk_clock(&mut self, now_ms: i64) {
        self.clock_offset_ms = now_ms.saturating_sub(crate::store::now_ms());
    }

    /// Stops the desk's clock at `now_ms` (tests).
    #[cfg(any(test, feature = "harness"))]
    pub fn stop_desk_clock(&mut self, now_ms: i64) {
        self.stopped_clock_ms = Some(now_ms);
    }

    /// Now, for the desk (ms since the epoch).
    fn now_ms(&self) -> i64 {
        #[cfg(any(test, feature = "harness"))]
        if let Some(ms) = self.stopped_clock_ms {
            return ms;
        }
        crate::store::now_ms().saturating_add(self.clock_offset_ms)
    }

    pub fn save_positions(&mut self) {
        let delivered = self.history.delivered();
        for id in self.clients.ids() {
            if let Some(c) = self.clients.get_mut(id).filter(|c| c.follows_delivery()) {
                let seen = c.seen_up_to;
                if seen >= delivered {
                    continue;
                }
                c.seen_up_to = delivered;
                let (user, device) = (c.login.user.clone(), c.device().to_owned());
                self.history.device_saw(&user, &device, seen);
            }
        }
        let oldest = self.clients.iter().map(|(_, c)| c.seen_up_to).min();
        self.history.forget_moves(oldest);
    }

    /// A client is gone (detached, quit, or too slow).
    fn detach(&mut self, id: ClientId, reason: &str) {
        let Some((c, last_of_user)) = self.clients.detach(id) else {
            return;
        };
        tracing::info!(client = id, user = %c.login.user, device = c.device(), "IRC client detached: {reason}");
        if last_of_user {
            irc_commands::monitor::changed(self, &c.nick);
        }
        if last_of_user && !self.clients.said_away(&c.nick) {
            // Still a member everywhere: colleagues see them away.
            welcome::announce_away(self, &c.nick, None);
        }
        if c.follows_delivery() {
            self.history.device_saw(&c.login.user, c.device(), c.seen_up_to);
        }
        if self.clients.is_empty() {
            welcome::sync_status(self);
        }
    }

    // ---- store work ------------------------------------------------------

    /// A query on a reader thread; `then` gets its answer on the hub.
    fn read<T: Send + 'static>(
        &self,
        query: impl FnOnce(&Store) -> T + Send + 'static,
        then: impl FnOnce(&mut Hub, T) + Send + 'static,
    ) {
        let sent = self.store.read(Box::new(move |s| {
            let answer = query(s);
            Box::new(move |hub: &mut Hub| then(hub, answer)) as Continuation
        }));
        if !sent {
            tracing::error!("the store readers are gone");
        }
    }

    /// A write (or a read that must see every earlier batch) on the
    /// writer, in order; `then` gets its answer on the hub.
    fn write<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Store) -> T + Send + 'static,
        then: impl FnOnce(&mut Hub, T) + Send + 'static,
    ) {
        let sent = self.store.write(Box::new(move |s| {
            let answer = job(s);
            Box::new(move |hub: &mut Hub| then(hub, answer)) as Continuation
        }));
        if !sent {
            tracing::error!("the store writer is gone");
        }
    }

    /// Slow upkeep on the maintenance thread; `then` gets its answer.
    fn maintain<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Store) -> T + Send + 'static,
        then: impl FnOnce(&mut Hub, T) + Send + 'static,
    ) {
        let sent = self.store.maintain(Box::new(move |s| {
            let answer = job(s);
            Box::new(move |hub: &mut Hub| then(hub, answer)) as Continuation
        }));
        if !sent {
            tracing::error!("the store maintenance thread is gone");
        }
    }
}

/// Who waits for a worker command's result.
enum Waiting {
    Message(outbox::StaffMessage),
    Service { client: ClientId, what: String },
}
