//! Offline messages as the simulator keeps them (docs/msnp13-18.md §6):
//! left for an account that is signed out, announced in the mail data
//! after its first `CHG` (or one at a time while it is online), fetched
//! and deleted through `/rsi/rsi.asmx`; stored through `/OimWS/oim.asmx`
//! (the lock key only has to be there, as on Escargot) or, at MSNP18,
//! with `UUM` — kept only for someone who is offline.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use crate::sso::{account_of, element, http, unescape};
use crate::state::{xml, ConnId, State};
use crate::wire::payload_line;

/// One offline message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oim {
    pub id: String,
    pub from: String,
    pub to: String,
    pub text: String,
    /// RFC 2822, as the `Date` header says.
    pub date: String,
}

/// More than this many are announced as `too-large`.
const MAIL_DATA_MAX: usize = 25;

fn m_element(o: &Oim, s: &State) -> String {
    let name = s
        .account(&o.from)
        .map(|a| a.friendly_name.clone())
        .unwrap_or_default();
    format!(
        "<M><T>11</T><S>6</S><RT>2026-12-04T12:00:00Z</RT><RS>0</RS><SZ>{}</SZ><E>{}</E><I>{}</I><F>00000000-0000-0000-0000-000000000009</F><N>=?utf-8?B?{}?=</N></M>",
        o.text.len(),
        xml(&o.from),
        xml(&o.id),
        B64.encode(name.as_bytes())
    )
}

/// The `<MD>` document of what waits for `email`.
fn md(s: &State, email: &str) -> String {
    let ms: String = s
        .oims
        .iter()
        .filter(|o| o.to.eq_ignore_ascii_case(email))
        .map(|o| m_element(o, s))
        .collect();
    format!(
        "<MD><E><I>0</I><IU>0</IU><O>0</O><OU>0</OU></E><Q><QTM>409600</QTM><QNM>204800</QNM></Q>{ms}</MD>"
    )
}

fn mail_msg(kind: &str, data: &str) -> Vec<u8> {
    let body = format!(
        "MIME-Version: 1.0\r\nContent-Type: {kind}; charset=UTF-8\r\n\r\nMail-Data: {data}\r\nInbox-URL: /cgi-bin/HoTMaiL\r\nFolders-URL: /cgi-bin/folders\r\nPost-URL: http://www.hotmail.com\r\n"
    );
    payload_line("MSG Hotmail Hotmail", body.as_bytes())
}

/// After the first `CHG` of a session of MSNP13+: what waits for it.
pub fn announce_waiting(s: &State, id: ConnId, email: &str) {
    let waiting = s.oims.iter().filter(|o| o.to.eq_ignore_ascii_case(email)).count();
    let data = match waiting {
        n if n > MAIL_DATA_MAX => "too-large".to_owned(),
        _ => md(s, email),
    };
    s.send_ns(id, mail_msg("text/x-msmsgsinitialmdatanotification", &data));
}

/// Keeps `text` from `from` for `to`; a session of `to` that is signed in
/// (MSNP13+) hears of it at once.
pub fn leave(s: &mut State, from: &str, to: &str, text: &str) -> String {
    let id = format!("{:08x}-1111-4000-8000-{:012x}", s.id(), s.id());
    let o = Oim {
        id: id.clone(),
        from: s
            .account(from)
            .map_or_else(|| from.to_owned(), |a| a.email.clone()),
        to: to.to_owned(),
        text: text.to_owned(),
        date: "4 Dec 2026 12:00:00 +0000".to_owned(),
    };
    let m = m_element(&o, s);
    s.oims.push(o);
    if let Some((conn, dialect)) = s.live_ns(to) {
        if dialect >= 13 {
            let data = format!("<MD>{m}</MD>");
            s.send_ns(conn, mail_msg("text/x-msmsgsoimnotification", &data));
        }
    }
    id
}

/// `/rsi/rsi.asmx`: `GetMessage`, `GetMetadata`, `DeleteMessages`.
pub fn rsi(s: &mut State, body: &str) -> String {
    let t = element(body, "t")
        .first()
        .map(|t| unescape(t))
        .unwrap_or_default();
    let p = element(body, "p")
        .first()
        .map(|p| unescape(p))
        .unwrap_or_default();
    let Some(me) = account_of(s, &format!("t={t}&p={p}")) else {
        return fault("AuthenticationFailed", "");
    };
    if body.contains("<GetMessage") {
        let id = element(body, "messageId")
            .first()
            .map(|i| unescape(i))
            .unwrap_or_default();
        let Some(o) = s
            .oims
            .iter()
            .find(|o| o.id == id && o.to.eq_ignore_ascii_case(&me))
        else {
            return fault("MessageDoesNotExist", "");
        };
        let raw = format!(
            "From: =?utf-8?B?{}?= <{}>\r\nTo: {}\r\nDate: {}\r\nX-OIM-originatingSource: 127.0.0.1\r\nX-OIM-Sequence-Num: 1\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            B64.encode(o.from.as_bytes()),
            o.from,
            o.to,
            o.date,
            B64.encode(o.text.as_bytes())
        );
        return ok(&format!("<GetMessageResponse xmlns=\"http://www.hotmail.msn.com/ws/2004/09/oim/rsi\"><GetMessageResult>{}</GetMessageResult></GetMessageResponse>", xml(&raw)));
    }
    if body.contains("<GetMetadata") {
        return ok(&format!("<GetMetadataResponse xmlns=\"http://www.hotmail.msn.com/ws/2004/09/oim/rsi\">{}</GetMetadataResponse>", md(s, &me)));
    }
    if body.contains("<DeleteMessages") {
        let ids: Vec<String> = element(body, "messageId").into_iter().map(unescape).collect();
        s.oims
            .retain(|o| !(o.to.eq_ignore_ascii_case(&me) && ids.contains(&o.id)));
        return ok("<DeleteMessagesResponse xmlns=\"http://www.hotmail.msn.com/ws/2004/09/oim/rsi\"/>");
    }
    fault("InvalidRequest", "")
}

/// `/OimWS/oim.asmx`: `Store2`, after the lock-key challenge.
pub fn store(s: &mut State, body: &str) -> String {
    let attr = |tag: &str, name: &str| -> String {
        body.split(&format!("<{tag} "))
            .nth(1)
            .and_then(|t| t.split(&format!("{name}=\"")).nth(1))
            .and_then(|v| v.split('"').next())
            .map(unescape)
            .unwrap_or_default()
    };
    let Some(me) = account_of(s, &attr("Ticket", "passport")) else {
        return fault("AuthenticationFailed", "");
    };
    if attr("Ticket", "lockkey").is_empty() {
        return fault(
            "AuthenticationFailed",
            "<TweenerChallenge>ct=1,rver=1,wp=FS_40SEC_0_COMPACT,lc=1,id=1</TweenerChallenge><LockKeyChallenge>7236471</LockKeyChallenge>",
        );
    }
    let to = attr("To", "memberName");
    let content = element(body, "Content")
        .first()
        .map(|c| unescape(c))
        .unwrap_or_default();
    let encoded: String = content
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.chars().filter(|c| !c.is_whitespace()).collect())
        .unwrap_or_default();
    let Ok(text) = B64
        .decode(encoded)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
    else {
        return fault("InvalidContent", "");
    };
    if s.account(&to).is_none_or(|a| a.visible()) {
        return fault("SystemUnavailable", "");
    }
    leave(s, &me, &to, &text);
    ok("<StoreResponse xmlns=\"http://messenger.msn.com/ws/2004/09/oim/\"/>")
}

/// `UUM <t> <email> 1 1 <len>` (MSNP18): kept only for someone offline,
/// and only with `Dest-Agent: client`; nothing is answered.
pub fn uum(s: &mut State, me: &str, to: &str, payload: &[u8]) {
    let text = String::from_utf8_lossy(payload).into_owned();
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return;
    };
    let offline = s.account(to).is_some_and(|a| !a.visible());
    if head.lines().any(|l| l.eq_ignore_ascii_case("Dest-Agent: client")) && offline {
        leave(s, me, to, body);
    }
}

fn ok(inner: &str) -> String {
    http(
        "200 OK",
        &format!("<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>{inner}</soap:Body></soap:Envelope>"),
    )
}

fn fault(code: &str, detail: &str) -> String {
    http(
        "500 Internal Server Error",
        &format!("<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><soap:Fault><faultcode xmlns:q0=\"http://messenger.msn.com/ws/2004/09/oim/\">q0:{code}</faultcode><faultstring>{code}</faultstring><detail>{detail}</detail></soap:Fault></soap:Body></soap:Envelope>"),
    )
}
