//! The hub's side of IRC: attached clients, the welcome burst, and the
//! commands they send after registration. Owned by the hub; never locked.

use std::collections::{BTreeSet, HashMap};

use irc_proto::Message;
use tokio::sync::mpsc::error::TrySendError;

use super::conn::{Attached, ClientEvent, ClientId};
use super::registration::Login;
use super::wire::{params, reply};
use crate::config::IrcSettings;

pub struct Client {
    pub login: Login,
    pub nick: String,
    pub caps: BTreeSet<String>,
    tx: tokio::sync::mpsc::Sender<String>,
}

pub struct Staff {
    settings: IrcSettings,
    clients: HashMap<ClientId, Client>,
}

const MOTD: &[&str] = &[
    "msnbnc: one MSN Messenger account, shared by the whole team.",
    "Customer conversations appear as channels; /msg *msn help lists commands.",
];

impl Staff {
    pub fn new(settings: IrcSettings) -> Staff {
        Staff {
            settings,
            clients: HashMap::new(),
        }
    }

    pub fn attached(&self) -> usize {
        self.clients.len()
    }

    /// Queues a line for a client; a client whose queue is full is too slow
    /// and is dropped (it gets its backlog when it reconnects).
    fn send(&mut self, id: ClientId, line: String) {
        let Some(c) = self.clients.get(&id) else { return };
        match c.tx.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                tracing::warn!(client = id, user = %c.login.user, "client too slow; disconnecting it");
                self.clients.remove(&id);
            }
            Err(TrySendError::Closed(_)) => {
                self.clients.remove(&id);
            }
        }
    }

    fn numeric(&mut self, id: ClientId, code: &str, params: &[&str]) {
        let Some(nick) = self.clients.get(&id).map(|c| c.nick.clone()) else {
            return;
        };
        let line = reply(&self.settings.server_name, code, &nick, params);
        self.send(id, line);
    }

    pub fn on_event(&mut self, event: ClientEvent) {
        match event {
            ClientEvent::Attached(a) => self.attach(a),
            ClientEvent::Line(id, m) => self.on_line(id, &m),
            ClientEvent::TooLong(id) => self.numeric(id, "417", &["Input line was too long"]),
            ClientEvent::Detached(id, reason) => {
                if let Some(c) = self.clients.remove(&id) {
                    tracing::info!(client = id, user = %c.login.user, "IRC client detached: {reason}");
                }
            }
        }
    }

    fn attach(&mut self, a: Attached) {
        let nick = a.login.user.clone();
        let id = a.id;
        let requested = a.requested_nick.clone();
        self.clients.insert(
            id,
            Client {
                login: a.login,
                nick: nick.clone(),
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
    }

    fn on_line(&mut self, id: ClientId, m: &Message) {
        let (cmd, p) = params(m);
        match cmd.as_str() {
            "PING" => {
                let token = p.first().cloned().unwrap_or_default();
                let server = self.settings.server_name.clone();
                self.send(id, format!(":{server} PONG {server} :{token}"));
            }
            "PONG" => {}
            "QUIT" => {
                self.send(id, "ERROR :Closing link (Quit)".into());
                // Dropping the sender ends the writer, which closes the socket.
                self.clients.remove(&id);
            }
            "CAP" => {
                let nick = self.clients.get(&id).map(|c| c.nick.clone()).unwrap_or_default();
                let server = self.settings.server_name.clone();
                match p.first().map(|s| s.to_ascii_uppercase()).as_deref() {
                    Some("LS") => self.send(id, format!(":{server} CAP {nick} LS :sasl")),
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
                        self.send(id, format!(":{server} CAP {nick} NAK :{wanted}"));
                    }
                    _ => {}
                }
            }
            "PASS" | "USER" => self.numeric(id, "462", &["You may not reregister"]),
            "" => {}
            other => self.numeric(id, "421", &[other, "Unknown command"]),
        }
    }
}
