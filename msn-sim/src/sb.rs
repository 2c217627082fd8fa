//! The switchboard server: rooms with real clients and scripted customers.

use std::sync::{Arc, Mutex};

use tokio::io::BufReader;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::state::{ConnId, Cookie, Member, Received, RoomId, State, AL, BL, FL};
use crate::wire::{payload_line, quote, read_line, split_mime, Line, Read};

/// Longest MSG payload a switchboard accepts; longer closes the connection.
pub const MAX_MSG: usize = 1664;

pub async fn serve(listener: TcpListener, state: Arc<Mutex<State>>) {
    while let Ok((stream, _)) = listener.accept().await {
        let state = state.clone();
        tokio::spawn(async move { connection(stream, state).await });
    }
}

struct Joined {
    email: String,
    room: RoomId,
}

async fn connection(stream: TcpStream, state: Arc<Mutex<State>>) {
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let id = match state.lock() {
        Ok(mut s) => {
            let id = s.id();
            s.sb_conns.insert(id, tx.clone());
            id
        }
        Err(_) => return,
    };
    let writer = tokio::spawn(crate::wire::write_all_until_empty(wr, rx));
    let mut reader = BufReader::new(rd);
    let mut joined: Option<Joined> = None;
    loop {
        let line = match read_line(&mut reader).await {
            Read::Line(l) => l,
            Read::Closed => break,
        };
        if line.raw.starts_with("OUT") {
            let delay = state.lock().map(|s| s.quirks.out_delay).unwrap_or_default();
            tokio::time::sleep(delay).await;
        }
        let close = match state.lock() {
            Ok(mut s) => {
                s.transcript.push(format!("SB< {}", line.raw));
                handle(&mut s, id, &line, &mut joined)
            }
            Err(_) => true,
        };
        if close {
            let _ = tx.send(Vec::new());
            break;
        }
    }
    if let (Some(j), Ok(mut s)) = (joined, state.lock()) {
        leave(&mut s, j.room, &j.email, false);
        s.sb_conns.remove(&id);
    }
    drop(tx);
    let _ = writer.await;
}

fn send(s: &State, conn: ConnId, bytes: Vec<u8>) {
    if let Some(tx) = s.sb_conns.get(&conn) {
        let _ = tx.send(bytes);
    }
}

fn send_line(s: &State, conn: ConnId, line: &str) {
    send(s, conn, format!("{line}\r\n").into_bytes());
}

fn dialect_of(s: &State, email: &str) -> u8 {
    s.account(email)
        .and_then(|a| a.ns)
        .and_then(|c| s.ns.get(&c))
        .map_or(12, |c| c.dialect)
}

fn name_of(s: &State, email: &str) -> String {
    s.account(email)
        .map(|a| a.friendly_name.clone())
        .unwrap_or_else(|| email.to_owned())
}

/// `JOI`/`IRO` carry a client id from MSNP12 on (`caps:capsex` from 16).
fn with_client_id(s: &State, to: &str, line: String) -> String {
    match dialect_of(s, to) {
        16.. => format!("{line} 2789003324:48"),
        12.. => format!("{line} 1342177280"),
        _ => line,
    }
}

/// How `email` is named to a client of `dialect`: once bare, and from
/// MSNP16 once more per place (`email;{guid}`; a scripted customer has one).
fn places_of(s: &State, email: &str, dialect: u8) -> Vec<String> {
    let mut names = vec![email.to_owned()];
    if dialect >= 16 {
        let key = email.to_ascii_lowercase();
        let n = key
            .bytes()
            .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
        let guid = s
            .account(email)
            .and_then(|a| a.ns)
            .and_then(|c| s.ns.get(&c))
            .and_then(|c| c.guid.clone())
            .unwrap_or_else(|| {
                format!(
                    "{{{:08x}-0000-4000-8000-{:012x}}}",
                    n as u32,
                    n & 0xffff_ffff_ffff
                )
            });
        names.push(format!("{email};{guid}"));
    }
    names
}

/// Tells every member of `room` except `email` that `email` joined.
pub fn announce_join(s: &mut State, room: RoomId, email: &str) {
    let name = name_of(s, email);
    let Some(r) = s.rooms.get(&room) else { return };
    let others: Vec<(String, Option<ConnId>)> = r
        .members
        .iter()
        .filter(|m| !m.email.eq_ignore_ascii_case(email))
        .map(|m| (m.email.clone(), m.conn))
        .collect();
    for (other, conn) in others {
        match conn {
            Some(c) => {
                for place in places_of(s, email, dialect_of(s, &other)) {
                    let line = with_client_id(s, &other, format!("JOI {place} {}", quote(&name)));
                    send_line(s, c, &line);
                }
            }
            None => {
                if let Some(a) = s.account_mut(&other) {
                    a.inbox.push(Received::Joined {
                        who: email.to_owned(),
                        room,
                    });
                }
            }
        }
    }
}

/// Removes `email` from `room`, telling the others (`BYE email[ 1]`).
pub fn leave(s: &mut State, room: RoomId, email: &str, idle: bool) {
    let Some(r) = s.rooms.get_mut(&room) else { return };
    r.members.retain(|m| !m.email.eq_ignore_ascii_case(email));
    let others: Vec<(String, Option<ConnId>)> = r.members.iter().map(|m| (m.email.clone(), m.conn)).collect();
    let empty = r.members.is_empty();
    for (other, conn) in others {
        match conn {
            Some(c) => send_line(
                s,
                c,
                &if idle {
                    format!("BYE {email} 1")
                } else {
                    format!("BYE {email}")
                },
            ),
            None => {
                if let Some(a) = s.account_mut(&other) {
                    a.inbox.push(Received::Left {
                        who: email.to_owned(),
                        room,
                    });
                }
            }
        }
    }
    if empty {
        s.rooms.remove(&room);
    }
}

/// Delivers a MSG payload from `from` to everyone else in the room.
pub fn deliver(s: &mut State, room: RoomId, from: &str, payload: &[u8]) {
    let name = name_of(s, from);
    let Some(r) = s.rooms.get(&room) else { return };
    let others: Vec<(String, Option<ConnId>)> = r
        .members
        .iter()
        .filter(|m| !m.email.eq_ignore_ascii_case(from))
        .map(|m| (m.email.clone(), m.conn))
        .collect();
    for (other, conn) in others {
        match conn {
            Some(c) => send(
                s,
                c,
                payload_line(&format!("MSG {from} {}", quote(&name)), payload),
            ),
            None => {
                if let Some(item) = received(from, room, payload) {
                    if let Some(a) = s.account_mut(&other) {
                        a.inbox.push(item);
                    }
                }
            }
        }
    }
}

/// `from`'s other place said `payload` in `room`: everyone gets it, the
/// account's own connection there included (the echo of MSNP16+).
pub fn echo(s: &mut State, room: RoomId, from: &str, payload: &[u8]) {
    deliver(s, room, from, payload);
    let name = name_of(s, from);
    let own: Vec<ConnId> = s
        .rooms
        .get(&room)
        .map(|r| {
            r.members
                .iter()
                .filter(|m| m.email.eq_ignore_ascii_case(from))
                .filter_map(|m| m.conn)
                .collect()
        })
        .unwrap_or_default();
    for c in own {
        send(
            s,
            c,
            payload_line(&format!("MSG {from} {}", quote(&name)), payload),
        );
    }
}

fn received(from: &str, room: RoomId, payload: &[u8]) -> Option<Received> {
    let (headers, body) = split_mime(payload)?;
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let content_type = header("content-type").unwrap_or_default();
    let kind = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let from = from.to_owned();
    let body_text = String::from_utf8_lossy(&body).into_owned();
    if kind == "application/x-msnmsgrp2p" {
        return Some(Received::P2p { from, room, body });
    }
    Some(match kind.as_str() {
        "text/plain" => Received::Text {
            from,
            room,
            text: body_text.replace("\r\n", "\n"),
            format: header("x-mms-im-format"),
        },
        "text/x-msmsgscontrol" => Received::Typing { from, room },
        "text/x-msnmsgr-datacast" if body_text.trim_start().starts_with("ID: 1") => {
            Received::Nudge { from, room }
        }
        _ => Received::Other {
            from,
            room,
            content_type: kind,
            body: body_text,
        },
    })
}

/// Handles one line; returns whether to close the connection.
fn handle(s: &mut State, id: ConnId, line: &Line, joined: &mut Option<Joined>) -> bool {
    let t = line.p(0).to_owned();
    match (line.cmd.as_str(), joined.as_ref()) {
        // Extra parameters make the server drop the USR.
        ("USR", None) if line.params.len() == 3 => {
            // From MSNP16 the place comes along: `email;{guid}`.
            let login = line.p(1).to_owned();
            let email = login.split(';').next().unwrap_or_default().to_owned();
            match s.cookies.remove(line.p(2)) {
                Some(Cookie::Xfr { email: owner, room }) if owner == email && s.rooms.contains_key(&room) => {
                    if let Some(r) = s.rooms.get_mut(&room) {
                        r.members.push(Member {
                            email: email.clone(),
                            conn: Some(id),
                        });
                    }
                    let name = name_of(s, &email);
                    send_line(s, id, &format!("USR {t} OK {login} {}", quote(&name)));
                    *joined = Some(Joined { email, room });
                    false
                }
                _ => {
                    send_line(s, id, &format!("911 {t}"));
                    true
                }
            }
        }
        ("ANS", None) => {
            let email = line.p(1).split(';').next().unwrap_or_default().to_owned();
            match s.cookies.remove(line.p(2)) {
                Some(Cookie::Rng { email: owner, room }) if owner == email && s.rooms.contains_key(&room) => {
                    let present: Vec<String> = s
                        .rooms
                        .get(&room)
                        .map(|r| r.members.iter().map(|m| m.email.clone()).collect())
                        .unwrap_or_default();
                    let dialect = dialect_of(s, &email);
                    let named: Vec<(String, String)> = present
                        .iter()
                        .flat_map(|other| {
                            let name = name_of(s, other);
                            places_of(s, other, dialect)
                                .into_iter()
                                .map(move |p| (p, name.clone()))
                        })
                        .collect();
                    let n = named.len();
                    for (i, (other, name)) in named.iter().enumerate() {
                        let iro = with_client_id(
                            s,
                            &email,
                            format!("IRO {t} {} {n} {other} {}", i + 1, quote(name)),
                        );
                        send_line(s, id, &iro);
                    }
                    send_line(s, id, &format!("ANS {t} OK"));
                    if let Some(r) = s.rooms.get_mut(&room) {
                        r.members.push(Member {
                            email: email.clone(),
                            conn: Some(id),
                        });
                    }
                    announce_join(s, room, &email);
                    *joined = Some(Joined { email, room });
                    false
                }
                _ => {
                    send_line(s, id, &format!("911 {t}"));
                    true
                }
            }
        }
        (_, None) => true,
        ("CAL", Some(j)) => {
            let (me, room) = (j.email.clone(), j.room);
            call(s, id, &t, &me, room, line.p(1));
            false
        }
        ("MSG", Some(j)) => {
            let (me, room) = (j.email.clone(), j.room);
            let ack = line.p(1);
            if !matches!(ack, "U" | "N" | "A" | "D") || line.payload.len() > MAX_MSG {
                return true;
            }
            // LF-only headers: dropped without a word.
            if split_mime(&line.payload).is_none() {
                return false;
            }
            let refused = s
                .rooms
                .get(&room)
                .map(|r| {
                    r.members
                        .iter()
                        .any(|m| m.conn.is_none() && s.account(&m.email).is_some_and(|a| a.refuse))
                })
                .unwrap_or(false);
            if refused {
                if matches!(ack, "A" | "N" | "D") {
                    send_line(s, id, &format!("NAK {t}"));
                }
                return false;
            }
            deliver(s, room, &me, &line.payload);
            if matches!(ack, "A" | "D") {
                let delay = s.quirks.ack_delay;
                if delay.is_zero() {
                    send_line(s, id, &format!("ACK {t}"));
                } else if let Some(tx) = s.sb_conns.get(&id).cloned() {
                    // A slow link: delivered at once, acknowledged later.
                    let ack = format!("ACK {t}\r\n").into_bytes();
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        let _ = tx.send(ack);
                    });
                }
            }
            false
        }
        ("OUT", Some(_)) => true,
        _ => false,
    }
}

fn call(s: &mut State, id: ConnId, t: &str, me: &str, room: RoomId, target: &str) {
    let Some(other) = s.account(target) else {
        // Escargot: 217 for any well-formed unknown address.
        send_line(s, id, &format!("217 {t}"));
        return;
    };
    let (other_email, scripted, visible) = (other.email.clone(), other.scripted, other.visible());
    if !visible {
        send_line(s, id, &format!("217 {t}"));
        return;
    }
    let their_bits = other.bits(me);
    let my_bits = s.account(me).map_or(0, |a| a.bits(&other_email));
    if their_bits & BL != 0 {
        send_line(s, id, &format!("216 {t}"));
        return;
    }
    // The server refuses unless both sides list each other.
    if their_bits & (FL | AL) == 0 || my_bits & (FL | AL) == 0 {
        send_line(s, id, &format!("205 {t}"));
        return;
    }
    let session = s
        .rooms
        .get(&room)
        .map(|r| r.session_id.clone())
        .unwrap_or_default();
    send_line(s, id, &format!("CAL {t} RINGING {session}"));
    if scripted {
        // Scripted customers accept every invitation at once.
        if let Some(r) = s.rooms.get_mut(&room) {
            r.members.push(Member {
                email: other_email.clone(),
                conn: None,
            });
        }
        announce_join(s, room, &other_email);
    } else {
        ring(s, room, me, &other_email);
    }
}

/// Invites a signed-in client into `room` through its notification session.
pub fn ring(s: &mut State, room: RoomId, inviter: &str, invitee: &str) -> bool {
    let Some((conn, _)) = s.live_ns(invitee) else {
        return false;
    };
    let cookie = s.token();
    s.cookies.insert(
        cookie.clone(),
        Cookie::Rng {
            email: s.account(invitee).map(|a| a.email.clone()).unwrap_or_default(),
            room,
        },
    );
    let session = s
        .rooms
        .get(&room)
        .map(|r| r.session_id.clone())
        .unwrap_or_default();
    let name = name_of(s, inviter);
    let addr = s.sb_addr.clone();
    let tail = match s.ns.get(&conn).map_or(0, |c| c.dialect) {
        14.. => " U messenger.hotmail.com 1",
        13 => " U messenger.hotmail.com",
        _ => "",
    };
    s.send_ns_line(
        conn,
        &format!(
            "RNG {session} {addr} CKI {cookie} {inviter} {}{tail}",
            quote(&name)
        ),
    );
    true
}

/// Closes every switchboard as an idle-timeout would: the others are
/// removed (`BYE x 1`) and real clients' sockets closed.
pub fn close_all(s: &mut State) {
    let rooms: Vec<RoomId> = s.rooms.keys().copied().collect();
    for room in rooms {
        let members: Vec<(String, Option<ConnId>)> = s
            .rooms
            .get(&room)
            .map(|r| r.members.iter().map(|m| (m.email.clone(), m.conn)).collect())
            .unwrap_or_default();
        for (email, conn) in &members {
            if let Some(c) = conn {
                for (other, _) in members.iter().filter(|(o, _)| o != email) {
                    send_line(s, *c, &format!("BYE {other} 1"));
                }
                send(s, *c, Vec::new());
            }
        }
        s.rooms.remove(&room);
    }
}

/// Whether `a` may invite `b`: `a` lists `b`, and neither blocks the
/// other. Every simulated account uses `BLP AL`, so `b` need not have
/// accepted `a` yet — as on the real servers, someone who just added an
/// account can write to it at once.
pub fn allowed_to_talk(s: &State, a: &str, b: &str) -> bool {
    let ab = s.account(a).map_or(0, |x| x.bits(b));
    let ba = s.account(b).map_or(0, |x| x.bits(a));
    ab & BL == 0 && ba & BL == 0 && ab & (FL | AL) != 0
}
