//! `*msn`, the service nick: carrying out what [`crate::irc::service`]
//! parsed.

use super::{Control, Pending, Staff};
use crate::irc::conn::ClientId;
use crate::irc::service::{CertAction, SignatureAction};

/// A stored line as one notice: `[date time] <nick> text`, with the
/// channel in front for search results; notes and our notices marked.
fn describe(l: &crate::store::history::Line, with_channel: bool) -> String {
    use crate::store::history::Kind;
    let when = crate::irc::tags::timestamp_ms(l.time_ms);
    let when = format!("{} {}", &when[..10], &when[11..16]);
    let who = l.source.split('!').next().unwrap_or_default();
    let place = if with_channel {
        format!("{} ", l.channel)
    } else {
        String::new()
    };
    match l.kind {
        Kind::Note => format!("[{when}] {place}(note) <{who}> {}", l.text),
        Kind::Notice => format!("[{when}] {place}-- {}", l.text),
        _ => format!("[{when}] {place}<{who}> {}", l.text),
    }
}

impl Staff {
    pub(super) fn service_notice(&mut self, id: ClientId, text: &str) {
        let Some(nick) = self.clients.get(&id).map(|c| c.nick.clone()) else {
            return;
        };
        let line = format!(
            ":{}!service@{} NOTICE {nick} :{text}",
            crate::irc::service::NICK,
            self.server()
        );
        self.send(id, line);
    }

    /// A line sent to `*msn`.
    pub(super) fn service(&mut self, id: ClientId, text: &str) {
        use crate::irc::service::{self, Request};
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
                if self.view.channel(&channel).is_none() =>
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
            Ok(Request::Signature(action)) => {
                let answer = self.signature(id, action);
                self.service_notice(id, &answer);
            }
            Ok(Request::Cert(action)) => {
                for line in self.cert(id, action) {
                    self.service_notice(id, &line);
                }
            }
            Ok(Request::History(channel, n)) => {
                let lines = self.history_lines(&channel, n);
                for line in lines {
                    self.service_notice(id, &line);
                }
            }
            Ok(Request::Store { prune }) => {
                let policy = self.settings.retention;
                let store = &mut self.store;
                let answer = tokio::task::block_in_place(|| -> Result<String, crate::store::StoreError> {
                    let pruned = match (prune, policy.is_forever()) {
                        (false, _) => String::new(),
                        (true, true) => "retention keeps everything; nothing pruned. ".to_owned(),
                        (true, false) => {
                            format!("pruned {} lines. ", crate::store_cli::prune_all(store, &policy)?)
                        }
                    };
                    Ok(format!("{pruned}{}", crate::store_cli::describe(&store.stats()?)))
                });
                let answer = answer.unwrap_or_else(|e| format!("failed: {e}"));
                self.service_notice(id, &answer);
            }
            Ok(Request::Search(words)) => {
                let lines = match self.store.search(&words, 20) {
                    Ok(found) if found.is_empty() => vec![format!("nothing found for {words:?}")],
                    Ok(found) => found.iter().map(|l| describe(l, true)).collect(),
                    Err(e) => vec![format!("failed: {e}")],
                };
                for line in lines {
                    self.service_notice(id, &line);
                }
            }
            Ok(Request::Version) => self.service_notice(id, &format!("msnbnc {}", env!("CARGO_PKG_VERSION"))),
            Ok(Request::Msn(command, what)) => {
                self.command(command, Some(Pending::Service { client: id, what }))
            }
        }
    }

    /// `*msn history`: the last lines of a conversation, oldest first.
    fn history_lines(&mut self, channel: &str, n: usize) -> Vec<String> {
        let conversation = match self.store.find_conversation(channel) {
            Ok(Some(c)) => c,
            Ok(None) => return vec![format!("no history for {channel}")],
            Err(e) => return vec![format!("failed: {e}")],
        };
        match self.store.latest(conversation, None, n) {
            Ok(lines) if lines.is_empty() => vec![format!("no history for {channel}")],
            Ok(lines) => lines.iter().map(|l| describe(l, false)).collect(),
            Err(e) => vec![format!("failed: {e}")],
        }
    }

    /// Shows or sets the asking user's own signature.
    pub(super) fn signature(&mut self, id: ClientId, action: SignatureAction) -> String {
        let Some(nick) = self.clients.get(&id).map(|c| c.nick.clone()) else {
            return String::new();
        };
        match action {
            SignatureAction::Show => match self.signatures.get(&nick) {
                Some(Some(own)) if own.is_empty() => "you sign nothing (signature none)".into(),
                Some(Some(own)) => format!("your signature: {own}"),
                _ if self.settings.signature.is_empty() => "no signature (there is no default one)".into(),
                _ => format!("the default signature: {}", self.settings.signature),
            },
            SignatureAction::Set(template) => match self.store.set_signature(&nick, template.as_deref()) {
                Ok(()) => {
                    let answer = match &template {
                        None => "back to the default signature".to_owned(),
                        Some(t) if t.is_empty() => "no signature from now on".to_owned(),
                        Some(t) => format!("signature set: {t}"),
                    };
                    self.signatures.insert(nick, template);
                    answer
                }
                Err(e) => format!("failed: {e}"),
            },
        }
    }

    /// The asking user's client certificates.
    pub(super) fn cert(&mut self, id: ClientId, action: CertAction) -> Vec<String> {
        let Some((nick, own)) = self.clients.get(&id).map(|c| (c.nick.clone(), c.cert.clone())) else {
            return Vec::new();
        };
        let result = match action {
            CertAction::List => self.store.certs(&nick).map(|certs| {
                if certs.is_empty() {
                    vec!["no certificates; connect over TLS with one and send: cert add".to_owned()]
                } else {
                    certs
                        .into_iter()
                        .map(|fp| {
                            let this = if own.as_deref() == Some(fp.as_str()) { " (this connection)" } else { "" };
                            format!("{fp}{this}")
                        })
                        .collect()
                }
            }),
            CertAction::Add(fingerprint) => match fingerprint.or(own) {
                Some(fp) => self
                    .store
                    .add_cert(&nick, &fp)
                    .map(|fp| vec![format!("added {fp}: log in with SASL EXTERNAL")]),
                None => Ok(vec![
                    "this connection sent no client certificate: connect over TLS with one, or give its SHA-256 fingerprint".to_owned(),
                ]),
            },
            CertAction::Del(fp) => self
                .store
                .delete_cert(&nick, &fp)
                .map(|()| vec![format!("deleted {fp}")]),
        };
        result.unwrap_or_else(|e| vec![format!("failed: {e}")])
    }

    /// Staff accounts from IRC (admins only; the parser checked). Argon2
    /// is slow on purpose: run it without stalling the other runtime threads.
    pub(super) fn users(&mut self, action: crate::irc::service::UsersAction) -> Vec<String> {
        use crate::irc::service::UsersAction as A;
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
}
