//! A hub without sockets, for tests: it feeds worker events and client
//! lines, runs the store threads on a database in a temporary directory
//! until they are quiet, and gives back the lines each client got and the
//! commands the worker was sent.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use irc_proto::Message;
use tokio::sync::mpsc;

use super::{Continuation, Hub, Preload, Settings};
use crate::irc::cap::{Cap, Caps};
use crate::irc::conn::{Attached, ClientEvent, ClientId, OutLine};
use crate::irc::registration::Login;
use crate::store::threads::StoreThreads;
use crate::store::writer::StoreEvent;
use crate::store::Store;
use crate::supervisor::{Control, Update, WorkerState};

pub const EVERY_CAP: &[Cap] = &Cap::ALL;

pub struct Harness {
    pub hub: Hub,
    events: mpsc::UnboundedReceiver<StoreEvent<Continuation>>,
    worker: mpsc::Receiver<Control>,
    /// What work beside the hub (a replay) reports back.
    reports: mpsc::Receiver<ClientEvent>,
    clients: BTreeMap<ClientId, mpsc::Receiver<OutLine>>,
    next_client: ClientId,
    pub dir: tempfile::TempDir,
    irc: String,
    rt: tokio::runtime::Runtime,
}

const MINIMAL: &str = "[account]\nhandle = \"support@example.com\"\npassword = \"x\"\n[msn]\nservers = [\"127.0.0.1:1863\"]\npassport_nexus = \"https://127.0.0.1/\"\n";

impl Harness {
    /// A hub with `irc` lines in its `[irc]` section.
    pub fn new(irc: &str) -> Harness {
        Harness::in_dir(tempfile::tempdir().unwrap(), irc)
    }

    /// As if msnbnc were killed (nothing saved, nothing said) and started
    /// again on the same database.
    pub fn crash_and_restart(self) -> Harness {
        let Harness { hub, dir, irc, .. } = self;
        drop(hub);
        Harness::in_dir(dir, &irc)
    }

    fn in_dir(dir: tempfile::TempDir, irc: &str) -> Harness {
        let path = dir.path().join("msnbnc.db");
        let text = format!("{MINIMAL}[store]\npath = {path:?}\n[irc]\n{irc}\n");
        let config = crate::config::parse(std::path::Path::new("test.toml"), &text).unwrap();
        let preload = Preload::read(&Store::open(&path).unwrap()).unwrap();
        let (threads, events) = StoreThreads::start(&path).unwrap();
        let (control, worker) = mpsc::channel(1024);
        let settings = Settings {
            irc: config.irc,
            store: config.store,
            desk: config.desk,
            files: config.files,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (report, reports) = mpsc::channel(1024);
        let hub = Hub::new(settings, preload, threads, control, report);
        Harness {
            hub,
            events,
            worker,
            reports,
            clients: BTreeMap::new(),
            next_client: 1,
            dir,
            irc: irc.to_owned(),
            rt,
        }
    }

    /// The store, as a command-line tool would open it.
    pub fn store(&self) -> Store {
        Store::open(&self.dir.path().join("msnbnc.db")).unwrap()
    }

    /// The texts of stored conversation `conversation`'s last lines.
    pub fn stored_texts(&self, conversation: i64) -> Vec<String> {
        let lines = self.store().latest(conversation, None, 10).unwrap();
        lines.into_iter().map(|l| l.text).collect()
    }

    /// As if the disk under the writer failed (`true`), or came back.
    pub fn store_fails(&mut self, failing: bool) {
        self.hub.store.write(Box::new(move |s| {
            s.conn.pragma_update(None, "query_only", failing).unwrap();
            Box::new(|_: &mut Hub| {})
        }));
    }

    /// Runs `f` on the hub, ends the turn, and lets the store threads
    /// answer everything they were given.
    fn turn(&mut self, f: impl FnOnce(&mut Hub)) {
        let _rt = self.rt.enter();
        f(&mut self.hub);
        self.hub.end_turn();
        self.settle();
    }

    /// Until the store threads have answered all they were given.
    pub fn settle(&mut self) {
        let _rt = self.rt.enter();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            while let Ok(event) = self.events.try_recv() {
                self.hub.on_store(event);
                self.hub.end_turn();
            }
            while let Ok(event) = self.reports.try_recv() {
                self.hub.on_client(event);
                self.hub.end_turn();
            }
            if !self.hub.store.busy() && self.events.is_empty() {
                return;
            }
            assert!(Instant::now() < deadline, "the store threads never went quiet");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Ends the turn without waiting for the store.
    pub fn end_turn_only(&mut self, f: impl FnOnce(&mut Hub)) {
        let _rt = self.rt.enter();
        f(&mut self.hub);
        self.hub.end_turn();
    }

    /// A client of `user` (on `device`) with these capabilities attaches.
    pub fn attach(&mut self, user: &str, device: Option<&str>, caps: &[Cap]) -> ClientId {
        let id = self.next_client;
        self.next_client += 1;
        let (tx, rx) = mpsc::channel(crate::irc::conn::QUEUE);
        self.clients.insert(id, rx);
        let attached = Attached {
            id,
            login: Login {
                user: user.into(),
                device: device.map(str::to_owned),
            },
            role: crate::store::users::Role::Admin,
            signature: None,
            requested_nick: user.into(),
            realname: user.into(),
            caps: caps.iter().copied().collect::<Caps>(),
            addr: "127.0.0.1:1".parse().unwrap(),
            cert: None,
            tx,
        };
        self.turn(|hub| hub.on_client(ClientEvent::Attached(attached)));
        id
    }

    /// A line from a client.
    pub fn line(&mut self, id: ClientId, line: &str) {
        self.message(id, line.parse().unwrap());
    }

    /// A parsed message from a client.
    pub fn message(&mut self, id: ClientId, message: Message) {
        self.turn(|hub| hub.on_client(ClientEvent::Line(id, Box::new(message))));
    }

    pub fn detach(&mut self, id: ClientId) {
        self.turn(|hub| hub.on_client(ClientEvent::Detached(id, "gone".into())));
    }

    pub fn worker(&mut self, event: ipc::Event) {
        self.turn(|hub| hub.on_worker(&Update::Event(event)));
    }

    pub fn worker_state(&mut self, state: WorkerState) {
        self.turn(|hub| hub.on_worker(&Update::State(state)));
    }

    /// What `id` got since the last call.
    pub fn got(&mut self, id: ClientId) -> Vec<String> {
        let rx = self.clients.get_mut(&id).unwrap();
        let mut out = Vec::new();
        while let Ok(l) = rx.try_recv() {
            out.extend(l.split("\r\n").map(str::to_owned));
        }
        out
    }

    /// Waits up to a few seconds for a line containing `text` (replays
    /// arrive beside the hub); returns every line got meanwhile.
    pub fn wait_for(&mut self, id: ClientId, text: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut all = Vec::new();
        loop {
            self.settle();
            all.extend(self.got(id));
            if all.iter().any(|l| l.contains(text)) {
                return all;
            }
            assert!(Instant::now() < deadline, "{text:?} never came: {all:#?}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// The commands the worker was sent since the last call.
    pub fn commands(&mut self) -> Vec<ipc::Command> {
        self.commands_with_ids().into_iter().map(|(_, c)| c).collect()
    }

    /// The same, with the ids their results answer to.
    pub fn commands_with_ids(&mut self) -> Vec<(u64, ipc::Command)> {
        self.controls()
            .into_iter()
            .filter_map(|c| match c {
                Control::Command { id, command } => Some((id, command)),
                _ => None,
            })
            .collect()
    }

    /// Everything the supervisor was sent since the last call.
    pub fn controls(&mut self) -> Vec<Control> {
        let mut out = Vec::new();
        while let Ok(c) = self.worker.try_recv() {
            out.push(c);
        }
        out
    }

    /// Signed in, with `contacts` online.
    pub fn signed_in(&mut self, contacts: &[&str]) {
        self.worker_state(WorkerState::SignedIn {
            pid: 1,
            account: "support@example.com".into(),
        });
        for c in contacts {
            self.worker(ipc::Event::Presence {
                handle: (*c).into(),
                status: ipc::Status::Online,
                friendly_name: Some(c.split('@').next().unwrap_or(c).to_owned()),
                personal_message: None,
            });
        }
    }

    /// Moves the desk's clock on (waits, and what depends on the time).
    pub fn advance_clock(&mut self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.hub.clock_offset_ms = self.hub.clock_offset_ms.saturating_add(ms);
        self.turn(|hub| hub.every_second(Instant::now()));
    }

    /// A customer writes in worker conversation `conversation`.
    pub fn customer_says(&mut self, conversation: u64, from: &str, text: &str) {
        self.worker(ipc::Event::Message {
            conversation,
            from: from.into(),
            text: text.into(),
            format: ipc::TextFormat::default(),
        });
    }
}
