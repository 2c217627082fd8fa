//! `*msn`, the service nick: a declarative command table, so `help` is
//! generated from the same rows that dispatch and cannot drift.

use ipc::{Command, Status};

pub const NICK: &str = "*msn";

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub name: &'static str,
    pub usage: &'static str,
    pub help: &'static str,
    pub admin: bool,
    /// Arguments required (the last one takes the rest of the line).
    pub args: usize,
    /// A valid use, shown in `help <command>` and checked by the tests.
    pub example: &'static str,
}

#[rustfmt::skip]
pub const COMMANDS: &[Spec] = &[
    Spec { name: "help",     usage: "help [command]",          help: "list commands, or explain one", admin: false, args: 0, example: "help add" },
    Spec { name: "contacts", usage: "contacts",                help: "list the account's contacts and their status", admin: false, args: 0, example: "contacts" },
    Spec { name: "add",      usage: "add <address>",           help: "add a contact (allow and subscribe)", admin: false, args: 1, example: "add bob@example.com" },
    Spec { name: "remove",   usage: "remove <address>",        help: "remove a contact", admin: false, args: 1, example: "remove bob@example.com" },
    Spec { name: "block",    usage: "block <address>",         help: "block a contact: they see us offline and cannot write", admin: false, args: 1, example: "block spam@example.com" },
    Spec { name: "unblock",  usage: "unblock <address>",       help: "unblock a contact", admin: false, args: 1, example: "unblock spam@example.com" },
    Spec { name: "accept",   usage: "accept <address>",        help: "accept someone who added the account", admin: false, args: 1, example: "accept new@example.com" },
    Spec { name: "status",   usage: "status online|busy|away|brb|phone|lunch|hidden", help: "set the account's MSN status", admin: false, args: 1, example: "status busy" },
    Spec { name: "name",     usage: "name <friendly name>",    help: "set the account's friendly name", admin: false, args: 1, example: "name Example Shop Support" },
    Spec { name: "psm",      usage: "psm <text>",              help: "set the account's personal message (MSNP11+)", admin: false, args: 1, example: "psm Open 9-17 CET" },
    Spec { name: "claim",    usage: "claim <#conversation>",   help: "take a conversation: its topic shows you answer it", admin: false, args: 1, example: "claim #bob" },
    Spec { name: "unclaim",  usage: "unclaim <#conversation>", help: "release a conversation you claimed", admin: false, args: 1, example: "unclaim #bob" },
    Spec { name: "who",      usage: "who",                     help: "who of the staff is attached, and from how many devices", admin: false, args: 0, example: "who" },
    Spec { name: "worker",   usage: "worker [restart|resume]", help: "what the MSN worker is doing; restart it, or resume after a fatal error (admins)", admin: false, args: 0, example: "worker resume" },
    Spec { name: "users",    usage: "users list|add <name> <password>|del <name>|passwd <name> <password>|role <name> admin|staff", help: "manage staff accounts", admin: true, args: 1, example: "users add zoe s3cret" },
    Spec { name: "signature", usage: "signature [<template>|none|default]", help: "your signature on messages to customers ({nick}, {text}); none, or the default one", admin: false, args: 0, example: "signature {text} (Alice, Example Shop)" },
    Spec { name: "cert",     usage: "cert [list|add [<sha256>]|del <sha256>]", help: "TLS client certificates that log you in (SASL EXTERNAL); add alone takes this connection's", admin: false, args: 0, example: "cert add" },
    Spec { name: "history",  usage: "history <#conversation> [lines]", help: "the last lines of a conversation (20, at most 500), for clients without chathistory", admin: false, args: 1, example: "history #bob 50" },
    Spec { name: "search",   usage: "search <words>",          help: "find lines with all these words, in every conversation (newest first)", admin: false, args: 1, example: "search order 1234" },
    Spec { name: "store",    usage: "store [prune]",           help: "history store size; prune it now by the retention policy", admin: true, args: 0, example: "store prune" },
    Spec { name: "version",  usage: "version",                 help: "msnbnc's version", admin: false, args: 0, example: "version" },
];

/// What to do with your signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureAction {
    Show,
    /// `Some("")`: none; `None`: back to the global default.
    Set(Option<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertAction {
    List,
    /// `None`: the certificate of the connection asking.
    Add(Option<String>),
    Del(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsersAction {
    List,
    Add(String, String),
    Del(String),
    Passwd(String, String),
    Role(String, String),
}

/// What a service command asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Help(Option<String>),
    Contacts,
    Who,
    Worker,
    WorkerRestart,
    WorkerResume,
    Users(UsersAction),
    Claim(String),
    Unclaim(String),
    Signature(SignatureAction),
    History(String, usize),
    Store {
        prune: bool,
    },
    Search(String),
    Cert(CertAction),
    Version,
    /// A worker command; the text describes it in the answer.
    Msn(Command, String),
}

pub fn parse_status(s: &str) -> Option<Status> {
    Some(match s.to_ascii_lowercase().as_str() {
        "online" | "back" => Status::Online,
        "busy" => Status::Busy,
        "away" => Status::Away,
        "brb" => Status::BeRightBack,
        "phone" => Status::OnThePhone,
        "lunch" => Status::OutToLunch,
        "hidden" | "invisible" => Status::Hidden,
        "idle" => Status::Idle,
        _ => return None,
    })
}

/// Parses a line sent to `*msn`. `Err` is the text to answer.
pub fn parse(line: &str, is_admin: bool) -> Result<Request, String> {
    let line = line.trim();
    let (word, rest) = line.split_once(' ').map_or((line, ""), |(w, r)| (w, r.trim()));
    let word = word.to_ascii_lowercase();
    let Some(spec) = COMMANDS.iter().find(|c| c.name == word) else {
        return Err(format!("unknown command {word:?}; try: help"));
    };
    if spec.admin && !is_admin {
        return Err(format!("{} is for administrators", spec.name));
    }
    if spec.args > 0 && rest.is_empty() {
        return Err(format!("usage: {}", spec.usage));
    }
    let handle = || rest.split_whitespace().next().unwrap_or("").to_owned();
    Ok(match spec.name {
        "help" => Request::Help((!rest.is_empty()).then(|| rest.to_ascii_lowercase())),
        "contacts" => Request::Contacts,
        "who" => Request::Who,
        "claim" => Request::Claim(handle()),
        "unclaim" => Request::Unclaim(handle()),
        "worker" => match rest.to_ascii_lowercase().as_str() {
            "" => Request::Worker,
            "restart" | "resume" if !is_admin => return Err(format!("worker {rest} is for administrators")),
            "restart" => Request::WorkerRestart,
            "resume" => Request::WorkerResume,
            _ => return Err(format!("usage: {}", spec.usage)),
        },
        "users" => {
            let mut words = rest.splitn(3, ' ');
            let (verb, name, more) = (words.next().unwrap_or(""), words.next(), words.next());
            Request::Users(match (verb, name, more) {
                ("list", None, None) => UsersAction::List,
                ("add", Some(n), Some(p)) => UsersAction::Add(n.to_owned(), p.to_owned()),
                ("del", Some(n), None) => UsersAction::Del(n.to_owned()),
                ("passwd", Some(n), Some(p)) => UsersAction::Passwd(n.to_owned(), p.to_owned()),
                ("role", Some(n), Some(r)) => UsersAction::Role(n.to_owned(), r.to_owned()),
                _ => return Err(format!("usage: {}", spec.usage)),
            })
        }
        "version" => Request::Version,
        "history" => {
            let mut words = rest.split_whitespace();
            let channel = words.next().unwrap_or_default().to_owned();
            let lines = match words.next().map(str::parse::<usize>) {
                None => 20,
                Some(Ok(n)) if (1..=500).contains(&n) => n,
                Some(_) => return Err(format!("usage: {} (1 to 500 lines)", spec.usage)),
            };
            Request::History(channel, lines)
        }
        "search" => Request::Search(rest.to_owned()),
        "store" => match rest.to_ascii_lowercase().as_str() {
            "" => Request::Store { prune: false },
            "prune" => Request::Store { prune: true },
            _ => return Err(format!("usage: {}", spec.usage)),
        },
        "signature" => Request::Signature(match rest.to_ascii_lowercase().as_str() {
            "" => SignatureAction::Show,
            "none" | "off" => SignatureAction::Set(Some(String::new())),
            "default" => SignatureAction::Set(None),
            _ if !rest.contains("{text}") => {
                return Err("a signature needs {text} where the message goes, e.g. [{nick}] {text}".into())
            }
            _ => SignatureAction::Set(Some(rest.to_owned())),
        }),
        "cert" => {
            let words: Vec<&str> = rest.split_whitespace().collect();
            Request::Cert(match words.as_slice() {
                [] | ["list"] => CertAction::List,
                ["add"] => CertAction::Add(None),
                ["add", fp] => CertAction::Add(Some((*fp).to_owned())),
                ["del", fp] => CertAction::Del((*fp).to_owned()),
                _ => return Err(format!("usage: {}", spec.usage)),
            })
        }
        "add" => Request::Msn(Command::AddContact(handle()), format!("add {}", handle())),
        "remove" => Request::Msn(Command::RemoveContact(handle()), format!("remove {}", handle())),
        "block" => Request::Msn(Command::BlockContact(handle()), format!("block {}", handle())),
        "unblock" => Request::Msn(Command::UnblockContact(handle()), format!("unblock {}", handle())),
        "accept" => Request::Msn(
            Command::AcceptAddRequest(handle()),
            format!("accept {}", handle()),
        ),
        "status" => match parse_status(rest) {
            Some(s) => Request::Msn(Command::SetStatus(s), format!("status {rest}")),
            None => return Err(format!("usage: {}", spec.usage)),
        },
        "name" => Request::Msn(
            Command::SetFriendlyName(rest.to_owned()),
            format!("name {rest:?}"),
        ),
        "psm" => Request::Msn(
            Command::SetPersonalMessage(rest.to_owned()),
            format!("personal message {rest:?}"),
        ),
        _ => return Err(format!("unknown command {word:?}; try: help")),
    })
}

/// The lines of `help` (or of `help <command>`).
pub fn help(topic: Option<&str>, is_admin: bool) -> Vec<String> {
    let visible = COMMANDS.iter().filter(|c| is_admin || !c.admin);
    match topic {
        None => {
            let mut lines = vec!["commands (help <command> for more):".to_owned()];
            lines.extend(visible.map(|c| format!("  {:<50} {}", c.usage, c.help)));
            lines
        }
        Some(t) => match COMMANDS.iter().find(|c| c.name == t) {
            Some(c) => vec![
                format!("{} — {}", c.usage, c.help),
                format!("example: {}", c.example),
            ],
            None => vec![format!("no command {t:?}")],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_parses_and_is_in_the_help() {
        let help = help(None, true).join("\n");
        for c in COMMANDS {
            assert!(help.contains(c.usage), "{} missing from help", c.name);
            assert!(c.example.starts_with(c.name));
            let parsed = parse(c.example, true);
            assert!(parsed.is_ok(), "{}: {parsed:?}", c.example);
        }
    }

    #[test]
    fn commands_map_to_worker_requests() {
        assert_eq!(
            parse("ADD bob@example.com", false),
            Ok(Request::Msn(
                Command::AddContact("bob@example.com".into()),
                "add bob@example.com".into()
            ))
        );
        assert_eq!(
            parse("status brb", false)
                .map(|r| matches!(r, Request::Msn(Command::SetStatus(Status::BeRightBack), _))),
            Ok(true)
        );
        assert!(
            matches!(parse("name Example Shop (open 9-5)", false), Ok(Request::Msn(Command::SetFriendlyName(n), _)) if n == "Example Shop (open 9-5)")
        );
        assert_eq!(parse("help add", false), Ok(Request::Help(Some("add".into()))));
    }

    #[test]
    fn admin_commands_need_an_admin() {
        assert_eq!(
            parse("users list", false),
            Err("users is for administrators".into())
        );
        assert_eq!(parse("users list", true), Ok(Request::Users(UsersAction::List)));
        assert_eq!(
            parse("users add bob s3cret with spaces", true),
            Ok(Request::Users(UsersAction::Add(
                "bob".into(),
                "s3cret with spaces".into()
            )))
        );
        assert_eq!(
            parse("worker restart", false),
            Err("worker restart is for administrators".into())
        );
        assert_eq!(parse("worker resume", true), Ok(Request::WorkerResume));
        assert_eq!(parse("worker", false), Ok(Request::Worker));
        assert!(parse("users frob", true).is_err());
    }

    #[test]
    fn signatures_and_certificates() {
        assert_eq!(
            parse("signature", false),
            Ok(Request::Signature(SignatureAction::Show))
        );
        assert_eq!(
            parse("signature none", false),
            Ok(Request::Signature(SignatureAction::Set(Some(String::new()))))
        );
        assert_eq!(
            parse("signature default", false),
            Ok(Request::Signature(SignatureAction::Set(None)))
        );
        assert_eq!(
            parse("signature [{nick}] {text}", false),
            Ok(Request::Signature(SignatureAction::Set(Some(
                "[{nick}] {text}".into()
            ))))
        );
        assert!(parse("signature Alice here", false)
            .unwrap_err()
            .contains("{text}"));
        assert_eq!(parse("cert", false), Ok(Request::Cert(CertAction::List)));
        assert_eq!(parse("cert add", false), Ok(Request::Cert(CertAction::Add(None))));
        assert_eq!(
            parse("cert del ab:cd", false),
            Ok(Request::Cert(CertAction::Del("ab:cd".into())))
        );
        assert_eq!(
            parse("cert frob", false),
            Err("usage: cert [list|add [<sha256>]|del <sha256>]".into())
        );
    }

    #[test]
    fn mistakes_get_usage() {
        assert_eq!(parse("add", false), Err("usage: add <address>".into()));
        assert_eq!(
            parse("status sleepy", false),
            Err("usage: status online|busy|away|brb|phone|lunch|hidden".into())
        );
        assert!(parse("frobnicate", false)
            .unwrap_err()
            .contains("unknown command"));
    }
}
