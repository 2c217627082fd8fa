//! What single notification-server lines mean, as pure functions: the
//! version the server chose and the `CVR` we answer with, how an `OUT`
//! ends the session, an invitation (`RNG`), a maintenance warning, a
//! server address, another place asking us to leave (`UBN`).

use std::time::Duration;

use ipc::{Event, ServerAddr, SignOutClass};

use super::super::codec::Frame;
use super::super::{message, roster};
use super::NsOutput;

/// The highest `MSNPn` the server's `VER` names.
pub fn chosen_version(frame: &Frame) -> Option<u8> {
    frame
        .args
        .iter()
        .skip(1)
        .filter_map(|a| a.strip_prefix("MSNP")?.parse::<u8>().ok())
        .max()
}

/// `CVR` for dialect `v`: the client versions each dialect was spoken by.
pub fn cvr_args(v: u8, account: &str) -> [&str; 8] {
    let (client_ver, codebase) = match v {
        8 => ("5.0.0544", "MSMSGS"),
        9 => ("6.0.0602", "MSMSGS"),
        10 => ("6.2.0208", "MSMSGS"),
        11 => ("7.0.0816", "msmsgs"),
        12 => ("7.5.0324", "msmsgs"),
        13 | 14 => ("8.0.0787", "msmsgs"),
        15 => ("8.5.1288", "msmsgs"),
        _ => ("14.0.8117.0416", "msmsgs"),
    };
    [
        "0x0409", "winnt", "5.1", "i386", "MSNMSGR", client_ver, codebase, account,
    ]
}

/// How an `OUT` from the server ends the session: class, reason, and how
/// long the server asked us to stay away.
pub fn sign_out(frame: &Frame) -> (SignOutClass, String, Option<Duration>) {
    match frame.arg(0).unwrap_or("") {
        "OTH" => (
            SignOutClass::SignedInElsewhere,
            "the account signed in somewhere else (OUT OTH); not reconnecting until an operator says so"
                .into(),
            None,
        ),
        "SSD" => (
            SignOutClass::Transient,
            "server shutting down for maintenance (OUT SSD)".into(),
            Some(Duration::from_secs(120)),
        ),
        "RCT" => {
            let minutes = frame
                .arg(1)
                .and_then(|m| m.parse::<u64>().ok())
                .unwrap_or(5)
                .min(24 * 60);
            (
                SignOutClass::Transient,
                format!("server asked us to come back in {minutes} min (OUT RCT)"),
                Some(Duration::from_secs(minutes * 60)),
            )
        }
        "TOU" => (
            SignOutClass::Fatal,
            "the account must accept new terms of use (OUT TOU)".into(),
            None,
        ),
        "" => (
            SignOutClass::Transient,
            "the server ended the session (OUT)".into(),
            None,
        ),
        other => (
            SignOutClass::Transient,
            format!("the server ended the session (OUT {other})"),
            None,
        ),
    }
}

/// `RNG <session> <host:port> CKI <cookie> <inviter> <name>`: a contact
/// invites us into a switchboard.
pub fn invitation(frame: &Frame) -> Option<NsOutput> {
    match (
        frame.arg(0),
        frame.arg(1),
        frame.arg(2),
        frame.arg(3),
        frame.arg(4),
    ) {
        (Some(session), Some(addr), Some("CKI"), Some(cookie), Some(inviter))
            if roster::valid_handle(inviter) =>
        {
            Some(NsOutput::Invited {
                addr: addr.to_owned(),
                session_id: session.to_owned(),
                cookie: cookie.to_owned(),
                inviter: inviter.to_owned(),
            })
        }
        _ => None,
    }
}

/// A maintenance warning (`MSG` from the server), as a notice.
pub fn maintenance(frame: &Frame) -> Option<NsOutput> {
    let mime = message::Mime::parse(frame.payload.as_ref()?);
    let message::Content::Maintenance { minutes } = message::classify(&mime) else {
        return None;
    };
    let when = minutes.map_or("soon".to_owned(), |m| format!("in {m} minutes"));
    Some(NsOutput::Event(Event::Notice(format!(
        "the MSN server goes down for maintenance {when}"
    ))))
}

/// `host:port` as MSN writes it (IPv6 in brackets).
pub fn parse_addr(s: &str) -> Option<ServerAddr> {
    let (host, port) = match s.strip_prefix('[') {
        Some(rest) => {
            let (h, p) = rest.split_once("]:")?;
            (h, p)
        }
        None => s.rsplit_once(':')?,
    };
    let port: u16 = port.parse().ok().filter(|&p| p != 0)?;
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '/') {
        return None;
    }
    Some(ServerAddr {
        host: host.to_owned(),
        port,
    })
}

/// `UBN <account>;{guid} 4|8 <len>` + `goawyplzthxbye` / `gtfo`: another
/// place of the account (MSNP16+, set to sign other places out) asks us
/// to leave. msnbnc stays — leaving would end the desk — and says so.
pub fn asked_to_leave(frame: &Frame, account: &str) -> Option<NsOutput> {
    let from = frame.arg(0)?;
    let ours = from
        .split(';')
        .next()
        .is_some_and(|a| a.eq_ignore_ascii_case(account));
    let payload = String::from_utf8_lossy(frame.payload.as_deref().unwrap_or_default()).into_owned();
    let leave = match frame.arg(1)? {
        "4" => payload.starts_with("goawyplzthxbye"),
        "8" => payload.starts_with("gtfo"),
        _ => false,
    };
    (ours && leave).then(|| {
        NsOutput::Event(Event::Notice(
            "another place signed in to the account asked msnbnc to sign out (its Messenger signs other places out); msnbnc stays signed in — turn that option off there to stop these requests".into(),
        ))
    })
}
