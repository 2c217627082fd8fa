//! `*msn` for staff accounts: users (administrators; Argon2 hashing runs
//! on the store's maintenance thread, never on the hub), each member's
//! own signature, and the TLS client certificates that log them in.

use super::{notice, Args, Asker};
use crate::hub::Hub;
use crate::store::users::Role;
use crate::store::{Store, StoreError};

/// Runs `job` on the maintenance thread; its lines (or its error) are
/// the answer.
fn answer_with(
    hub: &mut Hub,
    asker: &Asker,
    job: impl FnOnce(&mut Store) -> Result<Vec<String>, StoreError> + Send + 'static,
) {
    let client = asker.client;
    hub.maintain(job, move |hub, result| {
        let lines = result.unwrap_or_else(|e| vec![format!("failed: {e}")]);
        for line in lines {
            notice(hub, client, &line);
        }
    });
}

pub(super) fn users_list(hub: &mut Hub, asker: &Asker, _: &Args<'_>) -> Result<(), String> {
    answer_with(hub, asker, |s| {
        let users = s.users()?;
        Ok(users
            .into_iter()
            .map(|u| format!("{} ({})", u.name, u.role.as_str()))
            .collect())
    });
    Ok(())
}

/// No password travels on an IRC line: clients keep their input
/// history, and some log what they send.
const NO_PASSWORD_HERE: &str = "no passwords on IRC lines (clients keep them in their history): \
     msnbnc makes one and shows it once; or set one on the server with msnbnc user passwd";

/// A new password: 15 random bytes as 20 base64url characters.
fn new_password() -> Result<String, String> {
    use base64::Engine;
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 15];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "the system's random source failed; no password made".to_owned())?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

pub(super) fn users_add(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    if args.count() > 1 {
        return Err(NO_PASSWORD_HERE.into());
    }
    let name = args.word(0).to_owned();
    let password = new_password()?;
    // No contact gets this name from now on.
    hub.roster.staff_added(&name);
    let client = asker.client;
    let job = move |s: &mut Store| {
        s.add_user(&name, &password, Role::Staff)
            .map(|_| (name, password))
    };
    hub.maintain(job, move |hub, result| match result {
        Ok((name, password)) => {
            notice(
                hub,
                client,
                &format!("added {name} (staff); password, shown only now: {password}"),
            );
            // A member of every conversation from now on (away until attached).
            if hub.clients.team_joined(&name) {
                crate::hub::welcome::member_joins(hub, &name, None);
                crate::hub::welcome::announce_away(hub, &name, None);
            }
        }
        Err(e) => notice(hub, client, &format!("failed: {e}")),
    });
    Ok(())
}

pub(super) fn users_del(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    let name = args.word(0).to_owned();
    let client = asker.client;
    let job = move |s: &mut Store| s.delete_user(&name).map(|()| name);
    hub.maintain(job, move |hub, result| match result {
        Ok(name) => {
            notice(hub, client, &format!("deleted {name}"));
            if hub.clients.team_left(&name) {
                let line = format!(":{} QUIT :staff account deleted", hub.user_prefix(&name));
                hub.broadcast(&line, None);
            }
        }
        Err(e) => notice(hub, client, &format!("failed: {e}")),
    });
    Ok(())
}

pub(super) fn users_passwd(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    if args.count() > 1 {
        return Err(NO_PASSWORD_HERE.into());
    }
    let name = args.word(0).to_owned();
    let password = new_password()?;
    answer_with(hub, asker, move |s| {
        s.set_password(&name, &password)?;
        Ok(vec![format!(
            "new password of {name}, shown only now: {password}"
        )])
    });
    Ok(())
}

pub(super) fn users_role(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    let (name, wanted) = (args.word(0).to_owned(), args.word(1).to_owned());
    let Some(role) = Role::parse(&wanted) else {
        notice(
            hub,
            asker.client,
            &format!("{wanted:?} is not a role (admin or staff)"),
        );
        return Ok(());
    };
    answer_with(hub, asker, move |s| {
        s.set_role(&name, role)?;
        Ok(vec![format!("{name} is now {wanted}")])
    });
    Ok(())
}

/// What `signature …` asks for: `None` to show it; `Some(None)` back to
/// the default; `Some(Some(""))` none at all.
pub fn signature_wanted(args: &str) -> Result<Option<Option<String>>, String> {
    let args = args.trim();
    Ok(match args.to_ascii_lowercase().as_str() {
        "" => None,
        "none" | "off" => Some(Some(String::new())),
        "default" => Some(None),
        _ if !args.contains("{text}") => {
            return Err("a signature needs {text} where the message goes, e.g. [{nick}] {text}".into())
        }
        _ => Some(Some(args.to_owned())),
    })
}

/// Shows or sets the asking user's own signature.
pub(super) fn signature(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    let Some(template) = signature_wanted(args.0)? else {
        let own = hub
            .clients
            .users()
            .get(&asker.nick)
            .and_then(|u| u.signature.clone());
        let answer = match own {
            Some(own) if own.is_empty() => "you sign nothing (signature none)".into(),
            Some(own) => format!("your signature: {own}"),
            None if hub.settings.irc.signature.is_empty() => "no signature (there is no default one)".into(),
            None => format!("the default signature: {}", hub.settings.irc.signature),
        };
        notice(hub, asker.client, &answer);
        return Ok(());
    };
    let (nick, client, stored) = (asker.nick.clone(), asker.client, template.clone());
    hub.maintain(
        move |s| s.set_signature(&nick, stored.as_deref()),
        move |hub, result| {
            let answer = match (result, &template) {
                (Err(e), _) => format!("failed: {e}"),
                (Ok(()), None) => "back to the default signature".to_owned(),
                (Ok(()), Some(t)) if t.is_empty() => "no signature from now on".to_owned(),
                (Ok(()), Some(t)) => format!("signature set: {t}"),
            };
            if let Some(nick) = hub.clients.get(client).map(|c| c.nick.clone()) {
                if let Some(u) = hub.clients.user_mut(&nick) {
                    if !answer.starts_with("failed") {
                        u.signature = template;
                    }
                }
            }
            notice(hub, client, &answer);
        },
    );
    Ok(())
}

pub(super) fn cert_list(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    if !matches!(args.0.trim(), "" | "list") {
        return Err(String::new());
    }
    let (nick, own) = (asker.nick.clone(), asker.cert.clone());
    answer_with(hub, asker, move |s| {
        let certs = s.certs(&nick)?;
        if certs.is_empty() {
            return Ok(vec![
                "no certificates; connect over TLS with one and send: cert add".to_owned(),
            ]);
        }
        Ok(certs
            .into_iter()
            .map(|fp| {
                let this = if own.as_deref() == Some(fp.as_str()) {
                    " (this connection)"
                } else {
                    ""
                };
                format!("{fp}{this}")
            })
            .collect())
    });
    Ok(())
}

pub(super) fn cert_add(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    let given = Some(args.word(0)).filter(|w| !w.is_empty()).map(str::to_owned);
    let Some(fp) = given.or_else(|| asker.cert.clone()) else {
        notice(
            hub,
            asker.client,
            "this connection sent no client certificate: connect over TLS with one, or give its SHA-256 fingerprint",
        );
        return Ok(());
    };
    let nick = asker.nick.clone();
    answer_with(hub, asker, move |s| {
        let fp = s.add_cert(&nick, &fp)?;
        Ok(vec![format!("added {fp}: log in with SASL EXTERNAL")])
    });
    Ok(())
}

pub(super) fn cert_del(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    let (nick, fp) = (asker.nick.clone(), args.word(0).to_owned());
    answer_with(hub, asker, move |s| {
        s.delete_cert(&nick, &fp)?;
        Ok(vec![format!("deleted {fp}")])
    });
    Ok(())
}
