//! `*msn`, the service nick. Every command is a row of [`COMMANDS`] that
//! owns its usage, help, admin flag, the arguments it needs and its
//! handler; a subcommand (`users add`) is a row of its own. `help` is
//! generated from the same rows that dispatch, so it cannot drift. The
//! parser is pure (and fuzzed); handlers live by family below.

mod account;
mod backlog_queries;
mod canned_admin;
mod card_commands;
mod desk;
mod file_commands;
mod staff_admin;

use super::Hub;
use crate::irc::conn::ClientId;
// The argument parsers of single commands, for the fuzz target.
use crate::store::users::Role;
pub use backlog_queries::history_lines;
pub use staff_admin::signature_wanted;

pub const NICK: &str = "*msn";

/// Who asked.
pub struct Asker {
    pub client: ClientId,
    pub nick: String,
    pub admin: bool,
    /// The fingerprint of their connection's TLS client certificate.
    pub cert: Option<String>,
}

/// A handler: `Err` is a mistake in the arguments, answered with it.
type Handler = fn(&mut Hub, &Asker, &Args<'_>) -> Result<(), String>;

/// One row of the table.
#[derive(Debug)]
pub struct Spec {
    /// One word, or two for a subcommand.
    pub name: &'static str,
    pub usage: &'static str,
    pub help: &'static str,
    pub admin: bool,
    /// Words the command needs after its name (the last one takes the
    /// rest of the line).
    pub args: usize,
    /// A valid use, shown in `help <command>` and checked by the tests.
    pub example: &'static str,
    pub run: Handler,
}

/// The arguments after a command's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Args<'a>(pub &'a str);

impl<'a> Args<'a> {
    /// Word `i` (empty if there are fewer).
    pub fn word(&self, i: usize) -> &'a str {
        self.0.split_whitespace().nth(i).unwrap_or("")
    }

    /// Everything from word `i` on, as typed.
    pub fn from(&self, i: usize) -> &'a str {
        let mut rest = self.0.trim_start();
        for _ in 0..i {
            rest = rest
                .split_once(char::is_whitespace)
                .map_or("", |(_, r)| r.trim_start());
        }
        rest
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }

    pub fn count(&self) -> usize {
        self.0.split_whitespace().count()
    }
}

#[rustfmt::skip]
pub const COMMANDS: &[Spec] = &[
    Spec { name: "help",           usage: "help [command]",          help: "the commands, or one explained", admin: false, args: 0, example: "help add", run: help_command },
    Spec { name: "contacts",       usage: "contacts",                help: "the account's contacts and their status", admin: false, args: 0, example: "contacts", run: account::contacts },
    Spec { name: "add",            usage: "add <address>",           help: "add a contact", admin: false, args: 1, example: "add bob@example.com", run: account::add },
    Spec { name: "remove",         usage: "remove <address>",        help: "remove a contact", admin: false, args: 1, example: "remove bob@example.com", run: account::remove },
    Spec { name: "block",          usage: "block <address>",         help: "block a contact (they see us offline)", admin: false, args: 1, example: "block spam@example.com", run: account::block },
    Spec { name: "unblock",        usage: "unblock <address>",       help: "unblock a contact", admin: false, args: 1, example: "unblock spam@example.com", run: account::unblock },
    Spec { name: "accept",         usage: "accept <address>",        help: "accept someone who added the account", admin: false, args: 1, example: "accept new@example.com", run: account::accept },
    Spec { name: "status",         usage: "status <status>",         help: "online, busy, away, brb, phone, lunch, hidden", admin: false, args: 1, example: "status busy", run: account::status },
    Spec { name: "name",           usage: "name <friendly name>",    help: "the account's friendly name", admin: false, args: 1, example: "name Example Shop Support", run: account::name },
    Spec { name: "psm",            usage: "psm <text>",              help: "the account's personal message", admin: false, args: 1, example: "psm Open 9-17 CET", run: account::psm },
    Spec { name: "nudge",          usage: "nudge <#conversation>",   help: "shake the customer's window", admin: false, args: 1, example: "nudge #bob", run: account::nudge },
    Spec { name: "send",           usage: "send <#conversation> <link>", help: "send the customer a file uploaded here", admin: false, args: 2, example: "send #bob https://desk.example.com/f/…/invoice.pdf", run: file_commands::send },
    Spec { name: "claim",          usage: "claim <#conversation>",   help: "take a conversation (its topic names you)", admin: false, args: 1, example: "claim #bob", run: desk::claim },
    Spec { name: "unclaim",        usage: "unclaim <#conversation>", help: "release a conversation you claimed", admin: false, args: 1, example: "unclaim #bob", run: desk::unclaim },
    Spec { name: "queue",          usage: "queue",                   help: "conversations not resolved, longest wait first", admin: false, args: 0, example: "queue", run: desk::queue },
    Spec { name: "wait",           usage: "wait <#conversation>",    help: "you asked the customer something; wait for them", admin: false, args: 1, example: "wait #bob", run: desk::wait },
    Spec { name: "resolve",        usage: "resolve <#conversation> [note]", help: "close it (re-opened if they write)", admin: false, args: 1, example: "resolve #bob refund sent", run: desk::resolve },
    Spec { name: "canned",         usage: "canned",                  help: "the team's canned replies (!name in a conversation)", admin: false, args: 0, example: "canned", run: canned_admin::list },
    Spec { name: "canned add",     usage: "canned add <name> <text>", help: "add or replace ({customer} {nick} {agent})", admin: false, args: 2, example: "canned add hours We are open 9-17, {customer}.", run: canned_admin::add },
    Spec { name: "canned show",    usage: "canned show <name>",      help: "one reply, whole", admin: false, args: 1, example: "canned show hours", run: canned_admin::show },
    Spec { name: "canned del",     usage: "canned del <name>",       help: "delete one", admin: false, args: 1, example: "canned del hours", run: canned_admin::del },
    Spec { name: "card",           usage: "card <customer>",         help: "what we know: contact, history, tags, notes", admin: false, args: 1, example: "card bob", run: card_commands::card },
    Spec { name: "note",           usage: "note <customer> <text>",  help: "a dated, signed note on their card", admin: false, args: 2, example: "note bob prefers email", run: card_commands::note },
    Spec { name: "tag",            usage: "tag <customer> <tag>",    help: "tag a customer (shown when they write)", admin: false, args: 2, example: "tag bob vip", run: card_commands::tag },
    Spec { name: "untag",          usage: "untag <customer> <tag>",  help: "remove a tag", admin: false, args: 2, example: "untag bob vip", run: card_commands::untag },
    Spec { name: "stats",          usage: "stats [today|week|month]", help: "conversations, response and resolution times", admin: false, args: 0, example: "stats week", run: desk::stats },
    Spec { name: "hours",          usage: "hours",                   help: "business hours, and whether the desk is open now", admin: false, args: 0, example: "hours", run: desk::hours },
    Spec { name: "endpoints",      usage: "endpoints",               help: "the places signed in to the account (MSNP16+)", admin: false, args: 0, example: "endpoints", run: account::endpoints },
    Spec { name: "who",            usage: "who",                     help: "which staff are attached, on how many devices", admin: false, args: 0, example: "who", run: account::who },
    Spec { name: "worker",         usage: "worker",                  help: "what the MSN worker is doing", admin: false, args: 0, example: "worker", run: account::worker },
    Spec { name: "worker restart", usage: "worker restart",          help: "a new MSN worker, now", admin: true, args: 0, example: "worker restart", run: account::worker_restart },
    Spec { name: "worker resume",  usage: "worker resume",           help: "start the worker again after a fatal error", admin: true, args: 0, example: "worker resume", run: account::worker_resume },
    Spec { name: "users list",     usage: "users list",              help: "staff accounts and their roles", admin: true, args: 0, example: "users list", run: staff_admin::users_list },
    Spec { name: "users add",      usage: "users add <name>",        help: "a staff account, with a new password", admin: true, args: 1, example: "users add zoe", run: staff_admin::users_add },
    Spec { name: "users del",      usage: "users del <name>",        help: "delete a staff account", admin: true, args: 1, example: "users del zoe", run: staff_admin::users_del },
    Spec { name: "users passwd",   usage: "users passwd <name>",     help: "a new password for a staff account", admin: true, args: 1, example: "users passwd zoe", run: staff_admin::users_passwd },
    Spec { name: "users role",     usage: "users role <name> <role>", help: "admin or staff", admin: true, args: 2, example: "users role zoe admin", run: staff_admin::users_role },
    Spec { name: "signature",      usage: "signature [<template>]",  help: "yours, with {nick} and {text}; none; default", admin: false, args: 0, example: "signature {text} (Alice, Example Shop)", run: staff_admin::signature },
    Spec { name: "cert",           usage: "cert [list]",             help: "the TLS certificates that log you in", admin: false, args: 0, example: "cert list", run: staff_admin::cert_list },
    Spec { name: "cert add",       usage: "cert add [<sha256>]",     help: "register one; alone, this connection's", admin: false, args: 0, example: "cert add", run: staff_admin::cert_add },
    Spec { name: "cert del",       usage: "cert del <sha256>",       help: "forget a certificate", admin: false, args: 1, example: "cert del ab:cd", run: staff_admin::cert_del },
    Spec { name: "history",        usage: "history <#chan> [lines]", help: "a conversation's last lines (20; 500 at most)", admin: false, args: 1, example: "history #bob 50", run: backlog_queries::history },
    Spec { name: "search",         usage: "search <words>",          help: "lines with all these words, newest first", admin: false, args: 1, example: "search order 1234", run: backlog_queries::search },
    Spec { name: "store",          usage: "store",                   help: "the history store's size", admin: true, args: 0, example: "store", run: backlog_queries::store },
    Spec { name: "store prune",    usage: "store prune",             help: "apply the retention policy now", admin: true, args: 0, example: "store prune", run: backlog_queries::store_prune },
    Spec { name: "version",        usage: "version",                 help: "msnbnc's version", admin: false, args: 0, example: "version", run: account::version },
];

/// The rows of a command word (`users`: every `users …` row).
fn family(word: &str) -> impl Iterator<Item = &'static Spec> + '_ {
    COMMANDS
        .iter()
        .filter(move |c| c.name.split(' ').next() == Some(word))
}

/// What an admin-only command is called in the refusal: the family's
/// word when all of it is for administrators.
fn admin_name(spec: &Spec) -> &'static str {
    let word = spec.name.split(' ').next().unwrap_or(spec.name);
    match family(word).all(|c| c.admin) {
        true => word,
        false => spec.name,
    }
}

/// Finds the row for a line sent to `*msn`. `Err` is the text to answer.
pub fn parse(line: &str, is_admin: bool) -> Result<(&'static Spec, Args<'_>), String> {
    let args = Args(line.trim());
    let word = args.word(0).to_ascii_lowercase();
    let sub = format!("{word} {}", args.word(1).to_ascii_lowercase());
    let (spec, rest) = match COMMANDS.iter().find(|c| c.name == sub) {
        Some(spec) => (spec, Args(args.from(2))),
        None => match COMMANDS.iter().find(|c| c.name == word) {
            Some(spec) => (spec, Args(args.from(1))),
            None if family(&word).next().is_some() => {
                let usages: Vec<&str> = family(&word).map(|c| c.usage).collect();
                return Err(format!("usage: {}", usages.join(" | ")));
            }
            None => return Err(format!("unknown command {word:?}; try: help")),
        },
    };
    if spec.admin && !is_admin {
        return Err(format!("{} is for administrators", admin_name(spec)));
    }
    if rest.count() < spec.args {
        return Err(format!("usage: {}", spec.usage));
    }
    Ok((spec, rest))
}

/// The lines of `help` (or of `help <command>`).
pub fn help(topic: &str, is_admin: bool) -> Vec<String> {
    let visible = |c: &&Spec| is_admin || !c.admin;
    if topic.is_empty() {
        let mut lines = vec!["commands (help <command> for more):".to_owned()];
        lines.extend(
            COMMANDS
                .iter()
                .filter(visible)
                .map(|c| format!("{} — {}", c.usage, c.help)),
        );
        return lines;
    }
    let topic = topic.to_ascii_lowercase();
    let rows: Vec<&Spec> = match COMMANDS.iter().find(|c| c.name == topic) {
        Some(c) => vec![c],
        None => family(&topic).collect(),
    };
    if rows.is_empty() {
        return vec![format!("no command {topic:?}")];
    }
    rows.iter()
        .flat_map(|c| {
            [
                format!("{} — {}", c.usage, c.help),
                format!("example: {}", c.example),
            ]
        })
        .collect()
}

fn help_command(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    for line in help(args.0.trim(), asker.admin) {
        notice(hub, asker.client, &line);
    }
    Ok(())
}

/// A notice from `*msn` to one client.
pub(crate) fn notice(hub: &mut Hub, client: ClientId, text: &str) {
    let Some(nick) = hub.clients.get(client).map(|c| c.nick.clone()) else {
        return;
    };
    let line = format!(":{NICK}!service@{} NOTICE {nick} :{text}", hub.server());
    hub.send(client, line);
}

/// A line a client sent to `*msn`.
pub(super) fn run(hub: &mut Hub, client: ClientId, line: &str) {
    let Some(c) = hub.clients.get(client) else { return };
    let asker = Asker {
        client,
        nick: c.nick.clone(),
        admin: c.role == Role::Admin,
        cert: c.cert.clone(),
    };
    let outcome = parse(line, asker.admin).and_then(|(spec, args)| {
        (spec.run)(hub, &asker, &args).map_err(|e| match e.is_empty() {
            true => format!("usage: {}", spec.usage),
            false => e,
        })
    });
    if let Err(answer) = outcome {
        notice(hub, client, &answer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_parses_its_example_and_is_in_the_help() {
        let help = help("", true).join("\n");
        for c in COMMANDS {
            assert!(help.contains(c.usage), "{} missing from help", c.name);
            assert!(c.example.starts_with(c.name), "{}", c.name);
            let (spec, _) = parse(c.example, true).unwrap_or_else(|e| panic!("{}: {e}", c.example));
            assert_eq!(spec.name, c.name);
        }
    }

    #[test]
    fn subcommands_are_rows_and_a_family_answers_with_its_usages() {
        let (spec, args) = parse("USERS role bob admin", true).unwrap();
        assert_eq!(
            (spec.name, args.word(0), args.from(1)),
            ("users role", "bob", "admin")
        );
        let (spec, args) = parse("worker", false).unwrap();
        assert_eq!((spec.name, args.is_empty()), ("worker", true));
        let (spec, args) = parse("cert list", false).unwrap();
        assert_eq!((spec.name, args.0), ("cert", "list"));
        assert!(parse("users frob", true)
            .unwrap_err()
            .starts_with("usage: users list | users add"));
        assert_eq!(help("users", true).len(), 10, "five rows, two lines each");
    }

    #[test]
    fn help_is_one_short_line_per_command_without_padding() {
        for line in help("", true) {
            // 80 columns, less what a client puts in front ("-*msn- ").
            assert!(
                line.chars().count() <= 72,
                "{} chars: {line}",
                line.chars().count()
            );
            assert!(!line.contains("  "), "padded: {line:?}");
        }
    }

    #[test]
    fn admin_commands_need_an_admin() {
        assert_eq!(
            parse("users list", false).err(),
            Some("users is for administrators".into())
        );
        assert_eq!(
            parse("worker restart", false).err(),
            Some("worker restart is for administrators".into())
        );
        assert!(parse("worker resume", true).is_ok());
        assert!(!help("", false).join("\n").contains("users add"));
    }

    #[test]
    fn mistakes_get_usage() {
        assert_eq!(parse("add", false).err(), Some("usage: add <address>".into()));
        assert_eq!(
            parse("users role bob", true).err(),
            Some("usage: users role <name> <role>".into())
        );
        assert!(parse("frobnicate", false)
            .unwrap_err()
            .contains("unknown command \"frobnicate\""));
        assert!(parse("", false).unwrap_err().contains("unknown command"));
    }

    #[test]
    fn arguments_are_words_and_rests() {
        let a = Args("  one two   three four ");
        assert_eq!((a.word(0), a.word(2), a.word(9)), ("one", "three", ""));
        assert_eq!(a.from(1), "two   three four ");
        assert_eq!(a.from(9), "");
        assert_eq!(a.count(), 4);
    }
}
