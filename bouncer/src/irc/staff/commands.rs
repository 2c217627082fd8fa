//! What staff clients send, other than messages: JOIN, PART, NAMES,
//! TOPIC, MODE, WHO, WHOIS, CAP, TAGMSG (typing), PING, QUIT.

use ipc::{Command, ConversationTarget, Status};
use irc_proto::Message;

use super::Staff;
use crate::irc::conn::ClientId;
use crate::irc::view::{Contact, ROSTER};
use crate::irc::wire::params;
use crate::supervisor::worker::untrusted;

/// SETNAME's limit, also in ISUPPORT NAMELEN.
pub(super) const MAX_REALNAME: usize = 200;

impl Staff {
    pub(super) fn on_line(&mut self, id: ClientId, m: &Message) {
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
                let typing = crate::irc::wire::tag(m, "+typing").map(str::to_owned);
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
                        let name = if ch.eq_ignore_ascii_case(ROSTER) {
                            Some(ROSTER.to_owned())
                        } else {
                            self.view.channel(ch).map(|c| c.name.clone())
                        };
                        match name {
                            Some(name) => self.join_burst(id, &name),
                            None => self.join_local(id, &nick, ch),
                        }
                    }
                }
                None => self.numeric(id, "461", &["JOIN", "Not enough parameters"]),
            },
            "PART" => match p.first() {
                Some(channels) => {
                    let reason = p.get(1).cloned().unwrap_or_else(|| "left".to_owned());
                    for ch in channels.split(',') {
                        if self.is_local(ch) {
                            self.part_local(id, &nick, ch, &reason);
                        } else if ch.eq_ignore_ascii_case(ROSTER) || self.view.channel(ch).is_some() {
                            // Staff are in every conversation: this device
                            // leaves until it attaches again.
                            self.send(id, format!(":{} PART {ch} :{reason}", self.user_prefix(&nick)));
                        } else {
                            self.numeric(id, "403", &[ch, "No such channel"]);
                        }
                    }
                }
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
                    if topic.is_empty() {
                        self.numeric(id, "331", &[&ch, "No topic is set"]);
                    } else {
                        self.numeric(id, "332", &[&ch, &topic]);
                    }
                }
                Some(ch) if self.is_local(&ch) => {
                    let topic = p.get(1).cloned().unwrap_or_default();
                    self.topic_local(id, &nick, &ch, &topic);
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
                let offered = crate::irc::registration::CAPABILITIES.join(" ");
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
                        let known = wanted.split_whitespace().all(|c| {
                            crate::irc::registration::CAPABILITIES.contains(&c.trim_start_matches('-'))
                        });
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
            "SETNAME" => match p.first().map(|r| r.trim()) {
                Some(real) if real.is_empty() || real.len() > MAX_REALNAME => {
                    let server = self.server().to_owned();
                    self.send(
                        id,
                        format!(":{server} FAIL SETNAME INVALID_REALNAME :A real name is 1 to {MAX_REALNAME} bytes"),
                    );
                }
                Some(real) => {
                    let real = untrusted(real);
                    self.realnames.insert(nick.clone(), real.clone());
                    let line = format!(":{} SETNAME :{real}", self.user_prefix(&nick));
                    self.broadcast_to_cap("setname", &[], &line);
                }
                None => self.numeric(id, "461", &["SETNAME", "Not enough parameters"]),
            },
            "NICK" => match p.first() {
                Some(n) if *n == nick => {}
                Some(n)
                    if self.view.contact_by_nick(n).is_some()
                        || n.eq_ignore_ascii_case(crate::irc::service::NICK)
                        || self.staff_nicks().iter().any(|s| s.eq_ignore_ascii_case(n)) =>
                {
                    self.numeric(id, "433", &[n, "Nickname is already in use"]);
                }
                Some(n) => self.numeric(
                    id,
                    "447",
                    &[n, "Your nick is your user name here; it cannot be changed"],
                ),
                None => self.numeric(id, "431", &["No nickname given"]),
            },
            "CHATHISTORY" => self.chathistory(id, &p),
            "MARKREAD" => self.markread(id, &nick, &p),
            "PASS" | "USER" => self.numeric(id, "462", &["You may not reregister"]),
            "" => {}
            other => self.numeric(id, "421", &[other, "Unknown command"]),
        }
    }

    /// The away flag and text of a contact (`G` and why, or `H`).
    pub(super) fn away_of(c: &Contact) -> Option<String> {
        match c.status {
            Status::Online | Status::Offline | Status::Hidden => None,
            other => Some(format!("{other:?}")),
        }
    }

    /// WHO for a channel or a nick: one 352 per person, with H/G (here or
    /// away) so clients show contacts' away states.
    pub(super) fn who(&mut self, id: ClientId, mask: &str) {
        let server = self.server().to_owned();
        let mut rows: Vec<(String, String, String, String, String)> = Vec::new();
        let staff_row = |n: &str| {
            (
                n.to_owned(),
                n.to_owned(),
                server.clone(),
                "H@".to_owned(),
                self.realname(n),
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
            rows.extend(self.channel_staff(mask).iter().map(|n| staff_row(n)));
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

    pub(super) fn whois(&mut self, id: ClientId, target: &str) {
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
            let real = self.realname(&n);
            self.numeric(id, "311", &[&n, &n, &server, "*", &real]);
            let what = format!(
                "msnbnc staff, {devices} device{} attached",
                if devices == 1 { "" } else { "s" }
            );
            self.numeric(id, "312", &[&n, &server, &what]);
            self.numeric(id, "330", &[&n, &n, "is logged in as"]);
        } else {
            self.numeric(id, "401", &[target, "No such nick/channel"]);
        }
        self.numeric(id, "318", &[target, "End of /WHOIS list"]);
    }
}
