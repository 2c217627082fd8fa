//! The notification server (and, when configured, a dispatch server that
//! only redirects), behaving like the revival servers msnp.md describes —
//! silences and quirks included.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::BufReader;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::state::{presence_line, ConnId, Cookie, NsConn, Received, State, AL, BL, FL, PL, RL};
use crate::wire::{payload_line, quote, read_line, unquote, Line, Read};

const TICKET_LIFETIME: Duration = Duration::from_secs(30);
const STATUSES: [&str; 8] = ["NLN", "BSY", "IDL", "BRB", "AWY", "PHN", "LUN", "HDN"];

pub async fn serve(listener: TcpListener, state: Arc<Mutex<State>>, redirect_to: Option<String>) {
    while let Ok((stream, _)) = listener.accept().await {
        let state = state.clone();
        let redirect = redirect_to.clone();
        tokio::spawn(async move { connection(stream, state, redirect).await });
    }
}

async fn connection(stream: TcpStream, state: Arc<Mutex<State>>, redirect: Option<String>) {
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let id = {
        let Ok(mut s) = state.lock() else { return };
        let id = s.id();
        s.ns.insert(
            id,
            NsConn {
                tx: tx.clone(),
                dialect: 0,
                account: None,
                chg_done: false,
                nonce: None,
                guid: None,
            },
        );
        id
    };
    let writer = tokio::spawn(crate::wire::write_all_until_empty(wr, rx));
    let mut reader = BufReader::new(rd);
    loop {
        let line = match read_line(&mut reader).await {
            Read::Line(l) => l,
            Read::Closed => break,
        };
        let close = match state.lock() {
            Ok(mut s) => {
                let mut entry = format!("NS< {}", line.raw);
                if line.cmd == "QRY" {
                    entry.push_str(&format!(" [{}]", String::from_utf8_lossy(&line.payload)));
                }
                s.transcript.push(entry);
                handle(&mut s, id, &line, redirect.as_deref())
            }
            Err(_) => true,
        };
        if close {
            let _ = tx.send(Vec::new());
            break;
        }
    }
    drop(tx);
    disconnect(&state, id);
    let _ = writer.await;
}

/// The session is gone: the account goes offline (unless a newer session
/// already replaced it).
fn disconnect(state: &Arc<Mutex<State>>, id: ConnId) {
    let Ok(mut s) = state.lock() else { return };
    let Some(conn) = s.ns.remove(&id) else { return };
    if let Some(email) = conn.account {
        let still_ours = s.account(&email).is_some_and(|a| a.ns == Some(id));
        if still_ours {
            if let Some(acc) = s.account_mut(&email) {
                acc.ns = None;
                acc.status = None;
            }
            s.broadcast_presence(&email);
        }
    }
}

fn reply(s: &State, id: ConnId, line: &str) {
    s.send_ns_line(id, line);
}

/// Handles one line; returns whether to close the connection.
fn handle(s: &mut State, id: ConnId, line: &Line, redirect: Option<&str>) -> bool {
    let (dialect, account, chg_done) = match s.ns.get(&id) {
        Some(c) => (c.dialect, c.account.clone(), c.chg_done),
        None => return true,
    };
    let t = line.p(0).to_owned();
    match line.cmd.as_str() {
        "VER" => {
            if dialect != 0 {
                reply(s, id, &format!("715 {t}"));
                return true;
            }
            if t.parse::<u32>().is_err() {
                return true;
            }
            let chosen = line
                .params
                .iter()
                .skip(1)
                .filter_map(|p| p.strip_prefix("MSNP")?.parse::<u8>().ok())
                .filter(|v| (8..=18).contains(v))
                .max();
            match chosen {
                Some(v) => {
                    if let Some(c) = s.ns.get_mut(&id) {
                        c.dialect = v;
                    }
                    reply(s, id, &format!("VER {t} MSNP{v} CVR0"));
                    false
                }
                None => {
                    reply(s, id, &format!("VER {t} 0"));
                    true
                }
            }
        }
        // Fewer than eight parameters after the TrID: silently dropped.
        "CVR" if line.params.len() >= 9 => {
            reply(
                s,
                id,
                &format!(
                    "CVR {t} 7.5.0324 7.5.0324 7.0.0425 https://example.invalid/dl https://example.invalid/"
                ),
            );
            false
        }
        "CVR" => false,
        "USR" if dialect == 0 => true,
        // MSNP15+ signs on with SSO only, MSNP13–14 and older with TWN.
        "USR" if (line.p(1) == "SSO") != (dialect >= 15) => true,
        "USR" if line.p(1) == "SSO" && line.p(2) == "I" => {
            crate::ns_modern::sso_initial(s, id, &t);
            false
        }
        "USR" if line.p(1) == "SSO" && line.p(2) == "S" => {
            crate::ns_modern::sso_subsequent(s, id, &t, line, dialect)
        }
        "USR" if line.p(1) == "TWN" && line.p(2) == "I" => {
            if let Some(target) = redirect {
                reply(s, id, &format!("XFR {t} NS {target} 0 {target}"));
                return false;
            }
            reply(
                s,
                id,
                &format!("USR {t} TWN S ct=1,rver=1,wp=FS_40SEC_0_COMPACT,lc=1,id=1"),
            );
            false
        }
        "USR" if line.p(1) == "TWN" && line.p(2) == "S" => login(s, id, &t, line.p(3), dialect),
        "PNG" => {
            if account.is_none() {
                return true;
            }
            if s.answer_pings {
                let interval = s.quirks.qng_interval;
                reply(
                    s,
                    id,
                    &if dialect >= 9 {
                        format!("QNG {interval}")
                    } else {
                        "QNG".to_owned()
                    },
                );
            }
            false
        }
        "OUT" => true,
        _ if account.is_none() => true,
        // MSNP13 removed the list commands: using them ends the session.
        "SYN" | "ADC" | "REM" | "GTC" if dialect >= 13 => true,
        "SYN" => {
            sync(s, id, &t, dialect, account.as_deref().unwrap_or_default());
            false
        }
        // MSNP18: a message for someone offline; nothing is answered.
        "UUM" if dialect >= 18 => {
            let me = account.clone().unwrap_or_default();
            crate::oim::uum(s, &me, line.p(1), &line.payload);
            false
        }
        "UUM" => true,
        "ADL" | "RML" if dialect >= 13 => {
            crate::ns_modern::list_change(s, id, line, account.as_deref().unwrap_or_default(), dialect)
        }
        "CHG" => chg(
            s,
            id,
            line,
            dialect,
            account.as_deref().unwrap_or_default(),
            chg_done,
        ),
        "ADD" if dialect >= 10 => true,
        "ADC" if dialect < 10 => true,
        "ADD" | "ADC" => {
            add(s, id, line, dialect, account.as_deref().unwrap_or_default());
            false
        }
        "REM" => {
            remove(s, id, line, dialect, account.as_deref().unwrap_or_default());
            false
        }
        "REA" if dialect >= 10 => {
            reply(s, id, &format!("502 {t}"));
            false
        }
        "REA" => {
            let name = unquote(line.p(2));
            if let Some(acc) = s.account_mut(account.as_deref().unwrap_or_default()) {
                acc.friendly_name = name.clone();
            }
            reply(s, id, &format!("REA {t} 1 {} {}", line.p(1), quote(&name)));
            s.broadcast_presence(account.as_deref().unwrap_or_default());
            false
        }
        "PRP" if dialect < 10 => {
            reply(s, id, &format!("715 {t}"));
            false
        }
        "PRP" => {
            if line.p(1) == "MFN" {
                let name = unquote(line.p(2));
                if let Some(acc) = s.account_mut(account.as_deref().unwrap_or_default()) {
                    acc.friendly_name = name.clone();
                }
                reply(s, id, &format!("PRP {t} MFN {}", quote(&name)));
                s.broadcast_presence(account.as_deref().unwrap_or_default());
            } else {
                reply(s, id, &format!("PRP {t} {} {}", line.p(1), line.p(2)));
            }
            false
        }
        "UUX" if dialect >= 11 => {
            let text = String::from_utf8_lossy(&line.payload).into_owned();
            let psm = text
                .split_once("<PSM>")
                .and_then(|(_, r)| r.split_once("</PSM>"))
                .map(|(p, _)| p.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
                .unwrap_or_default();
            if let Some(acc) = s.account_mut(account.as_deref().unwrap_or_default()) {
                acc.psm = psm;
            }
            reply(s, id, &format!("UUX {t} 0"));
            s.broadcast_presence(account.as_deref().unwrap_or_default());
            false
        }
        "BLP" | "GTC" => {
            if dialect < 10 {
                reply(s, id, &format!("{} {t} 1 {}", line.cmd, line.p(1)));
            } else {
                reply(s, id, &format!("{} {t} {}", line.cmd, line.p(1)));
            }
            false
        }
        "XFR" if line.p(1) == "SB" => {
            let me = account.unwrap_or_default();
            let hidden = s.account(&me).is_some_and(|a| a.status.as_deref() == Some("HDN"));
            if !chg_done || hidden {
                reply(s, id, &format!("913 {t}"));
                return false;
            }
            let room = s.id();
            let cookie = s.token();
            s.rooms.insert(
                room,
                crate::state::Room {
                    session_id: room.to_string(),
                    members: Vec::new(),
                },
            );
            s.cookies.insert(cookie.clone(), Cookie::Xfr { email: me, room });
            let addr = s.sb_addr.clone();
            let tail = match dialect {
                14.. => " U messenger.msn.com 1",
                13 => " U messenger.msn.com",
                _ => "",
            };
            reply(s, id, &format!("XFR {t} SB {addr} CKI {cookie}{tail}"));
            false
        }
        "XFR" => {
            reply(s, id, &format!("201 {t}"));
            false
        }
        "QRY" => {
            let ok = line.payload.len() == 32 && line.payload.iter().all(u8::is_ascii_hexdigit);
            reply(
                s,
                id,
                &if ok {
                    format!("QRY {t}")
                } else {
                    format!("540 {t}")
                },
            );
            !ok
        }
        // Unknown commands get silence, not an error.
        _ => false,
    }
}

fn login(s: &mut State, id: ConnId, t: &str, ticket: &str, dialect: u8) -> bool {
    let valid = match s.tickets.remove(ticket) {
        Some((email, issued)) if issued.elapsed() < TICKET_LIFETIME => Some(email),
        // MSNP13–14 may bring a ticket from the RST service.
        _ if dialect >= 13 => crate::sso::account_of(s, ticket),
        _ => None,
    };
    let Some(email) = valid else {
        reply(s, id, &format!("911 {t}"));
        return true;
    };
    login_as(s, id, t, &email, dialect, None)
}

/// Signs session `id` in as `email` (at MSNP16+ as the place `guid`).
pub fn login_as(s: &mut State, id: ConnId, t: &str, email: &str, dialect: u8, guid: Option<String>) -> bool {
    let email = email.to_owned();
    // A second login kicks the account's other sessions out — except, at
    // MSNP16+, places with another machine GUID (MPOP).
    let key = email.to_ascii_lowercase();
    let kicked: Vec<ConnId> =
        s.ns.iter()
            .filter(|(other, c)| {
                **other != id && c.account.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(&key))
            })
            .filter(|(_, c)| !(c.dialect >= 16 && guid.is_some() && c.guid.is_some() && c.guid != guid))
            .map(|(other, _)| *other)
            .collect();
    for old in kicked {
        s.send_ns_line(old, "OUT OTH");
        if !s.quirks.keep_socket_after_oth {
            s.send_ns(old, Vec::new());
        }
        if let Some(c) = s.ns.get_mut(&old) {
            c.account = None;
        }
    }
    s.logins += 1;
    let Some(acc) = s.account_mut(&email) else {
        return true;
    };
    acc.ns = Some(id);
    let name = acc.friendly_name.clone();
    if let Some(c) = s.ns.get_mut(&id) {
        c.account = Some(email.clone());
        c.guid = guid;
    }
    if dialect >= 10 {
        reply(s, id, &format!("USR {t} OK {email} 1 0"));
    } else {
        reply(s, id, &format!("USR {t} OK {email} {} 1 0", quote(&name)));
    }
    if dialect >= 11 {
        reply(s, id, "SBS 0 null");
    }
    let mpop = if dialect >= 16 { "MPOPEnabled: 1\r\n" } else { "" };
    let profile = format!("MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsprofile; charset=UTF-8\r\nLoginTime: 1700000000\r\nClientIP: 127.0.0.1\r\nClientPort: 0\r\n{mpop}\r\n");
    s.send_ns(id, payload_line("MSG Hotmail Hotmail", profile.as_bytes()));
    if dialect >= 16 {
        crate::ns_modern::self_ubx(s, id);
    }
    false
}

fn sync(s: &mut State, id: ConnId, t: &str, dialect: u8, me: &str) {
    let Some(acc) = s.account(me) else { return };
    let group = "0f6cbd0b-0e1e-4e3b-9c5c-5a2b9f0b7e11";
    let contacts: Vec<(String, String, u8, Option<String>)> = acc
        .lists
        .iter()
        .filter(|(_, bits)| **bits != 0)
        .filter_map(|(k, bits)| {
            let other = s.account(k)?;
            let mut bits = *bits;
            // Escargot reports an unanswered request as PL without RL.
            if dialect >= 10 && bits & RL != 0 && bits & (AL | BL) == 0 {
                bits = (bits & !RL) | PL;
            }
            Some((
                other.email.clone(),
                other.friendly_name.clone(),
                bits,
                acc.guids.get(k).cloned(),
            ))
        })
        .collect();
    let name = acc.friendly_name.clone();
    let mut lines = Vec::new();
    if dialect >= 10 {
        lines.push(format!(
            "SYN {t} 2024-01-01T00:00:00.0-00:00 2024-01-01T00:00:00.0-00:00 {} 1",
            contacts.len()
        ));
        lines.push("GTC A".into());
        lines.push("BLP AL".into());
        lines.push(format!("PRP MFN {}", quote(&name)));
        lines.push(format!("LSG Other%20Contacts {group}"));
        for (email, nick, bits, guid) in &contacts {
            let mut l = format!("LST N={email} F={}", quote(nick));
            if bits & FL != 0 {
                if let Some(g) = guid {
                    l.push_str(&format!(" C={g}"));
                }
            }
            l.push_str(&format!(" {bits}"));
            if dialect >= 12 {
                l.push_str(" 1");
            }
            // A contact in no group ends the line with a space.
            l.push(' ');
            if bits & FL != 0 {
                l.push_str(group);
            }
            lines.push(l);
        }
    } else {
        lines.push(format!("SYN {t} 1 {} 1", contacts.len()));
        lines.push("GTC A".into());
        lines.push("BLP AL".into());
        lines.push("LSG 0 Other%20Contacts 0".into());
        for (email, nick, bits, _) in &contacts {
            let mut l = format!("LST {email} {} {bits}", quote(nick));
            if bits & FL != 0 {
                l.push_str(" 0");
            }
            lines.push(l);
        }
    }
    for l in lines {
        reply(s, id, &l);
    }
}

fn chg(s: &mut State, id: ConnId, line: &Line, dialect: u8, me: &str, chg_done: bool) -> bool {
    let t = line.p(0);
    let status = line.p(1);
    // Without a client id the command is ignored, silently.
    if line.params.len() < 3 {
        return false;
    }
    if status == "FLN" {
        reply(s, id, &format!("201 {t}"));
        return false;
    }
    if !STATUSES.contains(&status) {
        return true;
    }
    if let Some(acc) = s.account_mut(me) {
        acc.status = Some(status.to_owned());
    }
    if let Some(c) = s.ns.get_mut(&id) {
        c.chg_done = true;
    }
    let rest = line.params[2..].join(" ");
    reply(s, id, &format!("CHG {t} {status} {rest}"));
    if !chg_done {
        // Initial presence of every visible forward-list contact.
        let ilns: Vec<String> = s
            .account(me)
            .map(|acc| {
                acc.lists
                    .iter()
                    .filter(|(_, b)| **b & FL != 0)
                    .filter_map(|(k, _)| s.account(k))
                    .filter(|c| c.visible() && c.bits(me) & BL == 0)
                    .map(|c| {
                        presence_line(
                            "ILN",
                            Some(t),
                            c.status.as_deref().unwrap_or("NLN"),
                            &c.email,
                            &c.friendly_name,
                            dialect,
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        for l in ilns {
            reply(s, id, &l);
        }
    }
    if !chg_done && dialect >= 13 {
        // The newer Escargot announces offline messages after the first CHG.
        crate::oim::announce_waiting(s, id, me);
    }
    s.broadcast_presence(me);
    false
}

fn contact_arg(p: &str) -> &str {
    p.strip_prefix("N=").unwrap_or(p)
}

/// The bit of a list a client may edit (PL only to remove from it).
fn list_bit(name: &str, removing: bool) -> Option<u8> {
    match name {
        "FL" => Some(FL),
        "AL" => Some(AL),
        "BL" => Some(BL),
        "PL" if removing => Some(PL),
        _ => None,
    }
}

fn add(s: &mut State, id: ConnId, line: &Line, dialect: u8, me: &str) {
    let t = line.p(0);
    let list = line.p(1);
    let Some(bit) = list_bit(list, false) else {
        reply(s, id, &format!("201 {t}"));
        return;
    };
    let target = contact_arg(line.p(2)).to_owned();
    if !target.contains('@') {
        reply(s, id, &format!("201 {t}"));
        return;
    }
    let Some(other) = s.account(&target) else {
        reply(s, id, &format!("{} {t}", if dialect >= 10 { 208 } else { 205 }));
        return;
    };
    let (other_email, other_name, other_visible, other_status) = (
        other.email.clone(),
        other.friendly_name.clone(),
        other.visible(),
        other.status.clone(),
    );
    let Some(acc) = s.account_mut(me) else { return };
    let bits = acc.bits(&target);
    if bits & bit != 0 {
        reply(s, id, &format!("215 {t}"));
        return;
    }
    if (bit == AL && bits & BL != 0) || (bit == BL && bits & AL != 0) {
        reply(s, id, &format!("219 {t}"));
        return;
    }
    let key = target.to_ascii_lowercase();
    acc.lists.insert(key.clone(), bits | bit);
    let guid = if bit == FL {
        let g = format!(
            "{:08x}-0000-4000-8000-{:012x}",
            (key.len() as u32).wrapping_mul(2654435761),
            key.bytes().map(u64::from).sum::<u64>()
        );
        acc.guids.insert(key.clone(), g.clone());
        Some(g)
    } else {
        None
    };
    let my_email = acc.email.clone();
    let my_name = acc.friendly_name.clone();
    if dialect >= 10 {
        match (bit, &guid) {
            (FL, Some(g)) => reply(
                s,
                id,
                &format!("ADC {t} FL N={other_email} F={} C={g}", quote(&other_name)),
            ),
            _ => reply(s, id, &format!("ADC {t} {list} N={other_email}")),
        }
    } else if bit == FL {
        reply(
            s,
            id,
            &format!("ADD {t} FL 1 {other_email} {} 0", quote(&other_name)),
        );
    } else {
        reply(s, id, &format!("ADD {t} {list} 1 {other_email} {other_email}"));
    }
    if bit == FL {
        // They are told (RL), and we learn their presence with our TrID.
        let newly = s.account_mut(&other_email).map(|o| {
            let b = o.bits(&my_email);
            o.lists.insert(my_email.to_ascii_lowercase(), b | RL);
            if o.scripted {
                o.inbox.push(Received::AddedBy {
                    who: my_email.clone(),
                });
            }
            b & RL == 0
        });
        if newly == Some(true) {
            if let Some((conn, d)) = s.live_ns(&other_email) {
                if d >= 10 {
                    s.send_ns_line(conn, &format!("ADC 0 RL N={my_email} F={}", quote(&my_name)));
                } else {
                    s.send_ns_line(conn, &format!("ADD 0 RL 1 {my_email} {}", quote(&my_name)));
                }
                // Escargot follows with an address-book notice.
                let not = "<NOTIFICATION ver=\"2\" id=\"1\"><TO pid=\"0x0:0x0\" name=\"x\"/></NOTIFICATION>";
                s.send_ns(conn, payload_line("NOT", not.as_bytes()));
            }
        }
        if other_visible {
            let status = other_status.unwrap_or_else(|| "NLN".into());
            reply(
                s,
                id,
                &presence_line("ILN", Some(t), &status, &other_email, &other_name, dialect),
            );
        }
    }
}

fn remove(s: &mut State, id: ConnId, line: &Line, dialect: u8, me: &str) {
    let t = line.p(0);
    let list = line.p(1);
    let Some(bit) = list_bit(list, true) else {
        reply(s, id, &format!("201 {t}"));
        return;
    };
    let arg = contact_arg(line.p(2)).to_owned();
    let Some(acc) = s.account_mut(me) else { return };
    // FL removals name the contact GUID on MSNP10+.
    let key = if bit == FL && dialect >= 10 {
        acc.guids
            .iter()
            .find(|(_, g)| **g == arg)
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| arg.to_ascii_lowercase())
    } else {
        arg.to_ascii_lowercase()
    };
    let bits = acc.bits(&key);
    // PL: Escargot keeps the request as RL-less PL; clearing it is always fine.
    if bits & bit == 0 && bit != PL {
        reply(s, id, &format!("216 {t}"));
        return;
    }
    acc.lists.insert(key.clone(), bits & !bit);
    let my_email = acc.email.clone();
    if dialect >= 10 {
        reply(s, id, &format!("REM {t} {list} {arg}"));
    } else {
        reply(s, id, &format!("REM {t} {list} 1 {arg}"));
    }
    if bit == FL {
        if let Some(o) = s.account_mut(&key) {
            let b = o.bits(&my_email);
            o.lists.insert(my_email.to_ascii_lowercase(), b & !RL);
        }
    }
}

/// A Passport ticket for `email`, if the password is right. The account
/// name must match exactly (servers compare it case-sensitively).
pub fn issue_ticket(s: &mut State, email: &str, password: &str) -> Option<String> {
    let ok = s
        .account(email)
        .is_some_and(|a| a.email == email && a.password == password);
    if !ok {
        return None;
    }
    let ticket = s.token();
    s.tickets
        .insert(ticket.clone(), (email.to_owned(), Instant::now()));
    Some(ticket)
}

/// A maintenance warning to every signed-in session.
pub fn maintenance(s: &State, minutes: u32) {
    let body = format!("MIME-Version: 1.0\r\nContent-Type: application/x-msmsgssystemmessage\r\n\r\nType: 1\r\nArg1: {minutes}\r\n");
    for (id, c) in &s.ns {
        if c.account.is_some() {
            s.send_ns(*id, payload_line("MSG Hotmail Hotmail", body.as_bytes()));
        }
    }
}
