//! `*msn canned`: the team's canned replies — list, add (or replace),
//! show, delete. Staff use one in a conversation with `!name`.

use super::{notice, Args, Asker};
use crate::hub::canned::{text_problem, valid_name};
use crate::hub::Hub;
use crate::store::canned_rows::CannedReply;
use crate::untrusted::short;

/// How much of a reply the list shows.
const PREVIEW: usize = 50;

pub(super) fn list(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    if !args.is_empty() {
        return Err(String::new());
    }
    let rows: Vec<String> = hub
        .canned
        .iter()
        .map(|r| {
            let mut preview: String = r.text.chars().take(PREVIEW).collect();
            if r.text.chars().count() > PREVIEW {
                preview.push('…');
            }
            format!("!{} — {preview}", r.name)
        })
        .collect();
    if rows.is_empty() {
        notice(
            hub,
            asker.client,
            "no canned replies yet: /msg *msn canned add <name> <text>",
        );
        return Ok(());
    }
    for row in rows {
        notice(hub, asker.client, &short(&row));
    }
    Ok(())
}

pub(super) fn show(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    let name = args.word(0);
    let answer = match hub.canned.get(name) {
        Some(r) => format!("!{} (by {}): {}", r.name, r.author, r.text),
        None => format!("no canned reply {name:?}"),
    };
    notice(hub, asker.client, &short(&answer));
    Ok(())
}

pub(super) fn add(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    let (name, text) = (args.word(0).trim_start_matches('!'), args.from(1).trim());
    if !valid_name(name) {
        return Err(format!(
            "{name:?} cannot name a reply: letters, digits, '-', '_' and '.', 32 at most"
        ));
    }
    if let Some(problem) = text_problem(text) {
        return Err(problem);
    }
    let reply = CannedReply {
        name: name.to_owned(),
        text: text.to_owned(),
        author: asker.nick.clone(),
    };
    let (client, stored) = (asker.client, reply.clone());
    hub.write(
        move |s| s.put_canned(&stored),
        move |hub, result| match result {
            Ok(()) => {
                let replaced = hub.canned.get(&reply.name).is_some();
                let answer = match replaced {
                    true => format!("!{} replaced", reply.name),
                    false => format!(
                        "!{} added; use it in a conversation as !{}",
                        reply.name, reply.name
                    ),
                };
                hub.canned.set(reply);
                notice(hub, client, &answer);
            }
            Err(e) => notice(hub, client, &format!("failed: {e}")),
        },
    );
    Ok(())
}

pub(super) fn del(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    let name = args.word(0).trim_start_matches('!').to_owned();
    let client = asker.client;
    let stored = name.clone();
    hub.write(
        move |s| s.del_canned(&stored),
        move |hub, result| {
            let answer = match result {
                Ok(true) => {
                    hub.canned.remove(&name);
                    format!("!{name} deleted")
                }
                Ok(false) => format!("no canned reply {name:?}"),
                Err(e) => format!("failed: {e}"),
            };
            notice(hub, client, &answer);
        },
    );
    Ok(())
}
