//! What registered clients send, dispatched from [`COMMANDS`] (see
//! [`crate::irc::dispatch`]): one row per command, with the parameters
//! it needs and its handler; a module per family of commands. A command
//! with a `label` tag gets its whole reply labelled (labeled-response),
//! including a reply that comes later from the store.

pub(super) mod backlog;
mod channels;
mod lookups;
mod messages;
pub(super) mod monitor;
mod server_queries;
mod session;

use irc_proto::Message;

use super::output::Item;
use super::Hub;
use crate::irc::cap::Cap;
use crate::irc::conn::ClientId;
use crate::irc::dispatch::{route, Missing, Route, Row};
use crate::irc::reply_batch::Labeled;
use crate::irc::wire::{params, tag};

/// One command from one client.
pub(super) struct Ctx<'a> {
    pub id: ClientId,
    /// The client's nick (its user name).
    pub nick: String,
    /// The command, upper-cased.
    pub cmd: String,
    pub params: Vec<String>,
    pub message: &'a Message,
}

impl Ctx<'_> {
    /// Parameter `i` (the table made sure the needed ones are there).
    pub fn param(&self, i: usize) -> &str {
        self.params.get(i).map_or("", String::as_str)
    }
}

type Handler = fn(&mut Hub, &Ctx<'_>);

const NO_RECIPIENT: Missing = Missing::Reply("411", "No recipient given ({cmd})");
const NO_NICK: Missing = Missing::Reply("431", "No nickname given");
const NOT_ENOUGH: Missing = Missing::NotEnough;
const NO_ORIGIN: Missing = Missing::Reply("409", "No origin specified");

/// What a registered client may send.
#[rustfmt::skip]
pub(super) const COMMANDS: &[Row<Handler>] = &[
    Row { name: "PING",        params: 1, missing: NO_ORIGIN,    handler: session::ping },
    Row { name: "PONG",        params: 0, missing: NOT_ENOUGH,   handler: |_, _| {} },
    Row { name: "QUIT",        params: 0, missing: NOT_ENOUGH,   handler: session::quit },
    Row { name: "CAP",         params: 0, missing: NOT_ENOUGH,   handler: session::cap },
    Row { name: "NICK",        params: 1, missing: NO_NICK,      handler: session::nick },
    Row { name: "AWAY",        params: 0, missing: NOT_ENOUGH,   handler: session::away },
    Row { name: "SETNAME",     params: 1, missing: NOT_ENOUGH,   handler: session::setname },
    Row { name: "PASS",        params: 0, missing: NOT_ENOUGH,   handler: session::reregister },
    Row { name: "USER",        params: 0, missing: NOT_ENOUGH,   handler: session::reregister },
    Row { name: "PRIVMSG",     params: 1, missing: NO_RECIPIENT, handler: messages::privmsg },
    Row { name: "NOTICE",      params: 1, missing: NO_RECIPIENT, handler: messages::privmsg },
    Row { name: "TAGMSG",      params: 1, missing: NOT_ENOUGH,   handler: messages::tagmsg },
    Row { name: "JOIN",        params: 1, missing: NOT_ENOUGH,   handler: channels::join },
    Row { name: "PART",        params: 1, missing: NOT_ENOUGH,   handler: channels::part },
    Row { name: "NAMES",       params: 0, missing: NOT_ENOUGH,   handler: channels::names },
    Row { name: "TOPIC",       params: 1, missing: NOT_ENOUGH,   handler: channels::topic },
    Row { name: "MODE",        params: 1, missing: NOT_ENOUGH,   handler: channels::mode },
    Row { name: "WHO",         params: 0, missing: NOT_ENOUGH,   handler: lookups::who },
    Row { name: "WHOIS",       params: 1, missing: NO_NICK,      handler: lookups::whois },
    Row { name: "MONITOR",     params: 1, missing: NOT_ENOUGH,   handler: monitor::monitor },
    Row { name: "LIST",        params: 0, missing: NOT_ENOUGH,   handler: server_queries::list },
    Row { name: "USERHOST",    params: 1, missing: NOT_ENOUGH,   handler: server_queries::userhost },
    Row { name: "LUSERS",      params: 0, missing: NOT_ENOUGH,   handler: server_queries::lusers },
    Row { name: "TIME",        params: 0, missing: NOT_ENOUGH,   handler: server_queries::time },
    Row { name: "WHOWAS",      params: 1, missing: NO_NICK,      handler: server_queries::whowas },
    Row { name: "ZNC",         params: 1, missing: NOT_ENOUGH,   handler: backlog::znc },
    Row { name: "CHATHISTORY", params: 0, missing: NOT_ENOUGH,   handler: backlog::chathistory },
    Row { name: "MARKREAD",    params: 0, missing: NOT_ENOUGH,   handler: backlog::markread },
];

/// A line from a registered client.
pub(super) fn on_line(hub: &mut Hub, id: ClientId, message: &Message) {
    let (cmd, params) = params(message);
    let Some(c) = hub.clients.get(id) else { return };
    let _span = tracing::debug_span!("client", client = id, user = %c.login.user).entered();
    // labeled-response: collect the reply, then send it as one.
    let label = tag(message, "label")
        .filter(|l| !l.is_empty() && l.len() <= 64)
        .filter(|_| c.has(Cap::LabeledResponse));
    if let Some(label) = label {
        hub.out.collect_for(Labeled {
            client: id,
            label: label.to_owned(),
            lines: Vec::new(),
        });
    }
    let ctx = Ctx {
        id,
        nick: c.nick.clone(),
        cmd,
        params,
        message,
    };
    match route(COMMANDS, &ctx.cmd, ctx.params.len()) {
        Route::Run(handler) => handler(hub, &ctx),
        Route::Missing(code, params) => {
            let params: Vec<&str> = params.iter().map(String::as_str).collect();
            hub.numeric(id, code, &params);
        }
        Route::Unknown if ctx.cmd.is_empty() => {}
        Route::Unknown => hub.numeric(id, "421", &[&ctx.cmd, "Unknown command"]),
    }
    finish_label(hub);
}

/// `PRIVMSG` or `NOTICE`, as history keeps it.
pub(super) fn command_of(cmd: &str) -> &'static str {
    if cmd == "NOTICE" {
        "NOTICE"
    } else {
        "PRIVMSG"
    }
}

/// Sends the labelled reply collected so far, if any.
pub(super) fn finish_label(hub: &mut Hub) {
    let Some(reply) = hub.out.take_label() else { return };
    let id = reply.client;
    let has_batch = hub.clients.get(id).is_some_and(|c| c.has(Cap::Batch));
    let server = hub.server().to_owned();
    for line in reply.finish(&server, has_batch, hub.out.batch_ids()) {
        hub.emit(Item::Line(id, line.into()));
    }
}

/// For a reply that comes later (from the store): the label it belongs
/// to, taken now so that this command's own reply is not an `ACK`.
pub(super) fn later_reply(hub: &mut Hub) -> Option<Labeled> {
    hub.out.take_label()
}

/// The reply that came later is being sent: its label applies again.
pub(super) fn resume_reply(hub: &mut Hub, label: Option<Labeled>) {
    if let Some(l) = label {
        hub.out.collect_for(l);
    }
}
