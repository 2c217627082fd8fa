//! Offline messages (MSNP13+), sans-IO (`docs/msnp13-18.md` §6): the
//! mail data that announces waiting messages, the requests of the
//! offline-message services (`GetMessage`, `GetMetadata`,
//! `DeleteMessages`; `Store2` with its lock-key challenge), reading a
//! stored message, and the `UUM` of MSNP18.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use super::xml;

const RSI_NS: &str = "http://www.hotmail.msn.com/ws/2004/09/oim/rsi";
const OIM_NS: &str = "http://messenger.msn.com/ws/2004/09/oim/";

/// The SOAPAction of an `rsi` action.
pub fn rsi_action(action: &str) -> String {
    format!("{RSI_NS}/{action}")
}

/// The SOAPAction of storing one.
pub const STORE_ACTION: &str = "http://messenger.live.com/ws/2006/09/oim/Store2";

/// A waiting offline message, as the mail data names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub id: String,
    pub from: String,
}

/// Whether a `MSG` content type announces offline messages.
pub fn announces(content_type: &str) -> bool {
    let t = content_type.split(';').next().unwrap_or("").trim();
    t.eq_ignore_ascii_case("text/x-msmsgsinitialmdatanotification")
        || t.eq_ignore_ascii_case("text/x-msmsgsoimnotification")
}

/// The waiting messages in a `<MD>` document (the mail data, or
/// `GetMetadata`'s answer).
pub fn parse_md(xml_text: &[u8]) -> Vec<Waiting> {
    let (mut out, mut from, mut id) = (Vec::new(), String::new(), String::new());
    let _ = xml::walk(xml_text, |path, text| {
        if !path.iter().any(|n| n == "M") {
            return;
        }
        match path.last().map(String::as_str) {
            Some("E") => from = text.to_owned(),
            Some("I") => id = text.to_owned(),
            Some("M") => {
                let (f, i) = (std::mem::take(&mut from), std::mem::take(&mut id));
                if !i.is_empty() && super::roster::valid_handle(&f) && out.len() < 500 {
                    out.push(Waiting { id: i, from: f });
                }
            }
            _ => {}
        }
    });
    out
}

/// The `Mail-Data` of an announcement body: `Some(waiting)`, or `None`
/// for `too-large` (then `GetMetadata` tells).
pub fn parse_mail_data(body: &str) -> Option<Vec<Waiting>> {
    let data = body
        .lines()
        .find_map(|l| l.strip_prefix("Mail-Data:"))
        .map(str::trim)
        .unwrap_or("");
    match data {
        "too-large" => None,
        md => Some(parse_md(md.as_bytes())),
    }
}

/// `t` and `p` of a ticket `t=…&p=…`.
fn ticket_parts(ticket: &str) -> (String, String) {
    let part = |name: &str| {
        ticket
            .split('&')
            .find_map(|kv| kv.strip_prefix(name))
            .unwrap_or("")
            .to_owned()
    };
    (part("t="), part("p="))
}

fn rsi_envelope(ticket: &str, body: &str) -> String {
    let (t, p) = ticket_parts(ticket);
    format!(
        concat!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>",
            "<soap:Envelope xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">",
            "<soap:Header><PassportCookie xmlns=\"{ns}\"><t>{t}</t><p>{p}</p></PassportCookie></soap:Header>",
            "<soap:Body>{body}</soap:Body></soap:Envelope>"
        ),
        ns = RSI_NS,
        t = xml::escape(&t),
        p = xml::escape(&p),
        body = body
    )
}

pub fn get_message(ticket: &str, id: &str) -> String {
    let body = format!(
        "<GetMessage xmlns=\"{RSI_NS}\"><messageId>{}</messageId><alsoMarkAsRead>false</alsoMarkAsRead></GetMessage>",
        xml::escape(id)
    );
    rsi_envelope(ticket, &body)
}

pub fn get_metadata(ticket: &str) -> String {
    rsi_envelope(ticket, &format!("<GetMetadata xmlns=\"{RSI_NS}\"/>"))
}

pub fn delete_messages(ticket: &str, ids: &[String]) -> String {
    let ids: String = ids
        .iter()
        .map(|i| format!("<messageId>{}</messageId>", xml::escape(i)))
        .collect();
    rsi_envelope(
        ticket,
        &format!("<DeleteMessages xmlns=\"{RSI_NS}\"><messageIds>{ids}</messageIds></DeleteMessages>"),
    )
}

/// The stored message in a `GetMessage` answer (RFC 822 text).
pub fn message_of_answer(body: &[u8]) -> Option<String> {
    let mut found = None;
    let _ = xml::walk(body, |path, text| {
        if path.last().is_some_and(|n| n == "GetMessageResult") {
            found = Some(text.to_owned());
        }
    });
    found
}

/// A stored offline message read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offline {
    pub from: String,
    /// When it was written (ms since the epoch), if its `Date` says.
    pub sent_ms: Option<i64>,
    pub text: String,
}

/// Reads a stored message: the sender in `From` (`… <bob@example.com>`),
/// `Date`, and the body (base64 when it says so; the `text/plain` part of
/// a multipart one).
pub fn parse_message(raw: &str) -> Option<Offline> {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n")?;
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
            .unwrap_or_default()
    };
    let from_header = header("From");
    let from = match (from_header.rfind('<'), from_header.rfind('>')) {
        (Some(a), Some(b)) if a < b => from_header[a + 1..b].to_owned(),
        _ => from_header.clone(),
    };
    if !super::roster::valid_handle(&from) {
        return None;
    }
    let sent_ms = jiff::fmt::rfc2822::parse(&header("Date"))
        .ok()
        .map(|z| z.timestamp().as_millisecond());
    let content_type = header("Content-Type").to_ascii_lowercase();
    let (encoding, body) = match content_type.split("boundary=").nth(1) {
        Some(boundary) => {
            let boundary = boundary.trim_matches(|c| c == '"' || c == ';' || c == ' ');
            let part = body
                .split(&format!("--{boundary}"))
                .find(|p| p.to_ascii_lowercase().contains("text/plain"))?;
            let (part_head, part_body) = part.trim_start_matches('\n').split_once("\n\n")?;
            let enc = part_head.to_ascii_lowercase().contains("base64");
            (enc, part_body.to_owned())
        }
        None => (
            header("Content-Transfer-Encoding").eq_ignore_ascii_case("base64"),
            body.to_owned(),
        ),
    };
    let text = if encoding {
        let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        String::from_utf8_lossy(&B64.decode(compact).ok()?).into_owned()
    } else {
        body.trim_end().to_owned()
    };
    Some(Offline {
        from,
        sent_ms,
        text: text.replace("\r\n", "\n"),
    })
}

/// What storing one needs besides the text.
#[derive(Debug, Clone)]
pub struct StoreFrom<'a> {
    pub account: &'a str,
    pub friendly_name: &'a str,
    pub ticket: &'a str,
    pub lock_key: &'a str,
    pub app_id: &'a str,
    /// One GUID per sign-in.
    pub run_id: &'a str,
    /// 1, 2, … per stored message of the run.
    pub sequence: u32,
}

/// `Store2` of `text` for `to`.
pub fn store(from: &StoreFrom<'_>, to: &str, text: &str) -> String {
    let name = format!("=?utf-8?B?{}?=", B64.encode(from.friendly_name.as_bytes()));
    let encoded = B64.encode(text.as_bytes());
    let wrapped: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect();
    format!(
        concat!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>",
            "<soap:Envelope xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">",
            "<soap:Header><From memberName=\"{account}\" friendlyName=\"{name}\" xml:lang=\"en-US\" proxy=\"MSNMSGR\" xmlns=\"{ns}\" msnpVer=\"MSNP15\" buildVer=\"8.5.1288\"/>",
            "<To memberName=\"{to}\" xmlns=\"{ns}\"/>",
            "<Ticket passport=\"{ticket}\" appid=\"{app}\" lockkey=\"{lock}\" xmlns=\"{ns}\"/>",
            "<Sequence xmlns=\"http://schemas.xmlsoap.org/ws/2003/03/rm\"><Identifier xmlns=\"http://schemas.xmlsoap.org/ws/2002/07/utility\">http://messenger.msn.com</Identifier><MessageNumber>{seq}</MessageNumber></Sequence>",
            "</soap:Header><soap:Body><MessageType xmlns=\"{ns}\">text</MessageType><Content xmlns=\"{ns}\">",
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\nX-OIM-Message-Type: OfflineMessage\r\nX-OIM-Run-Id: {run}\r\nX-OIM-Sequence-Num: {seq}\r\n\r\n{body}",
            "</Content></soap:Body></soap:Envelope>"
        ),
        account = xml::escape(from.account),
        name = xml::escape(&name),
        ns = OIM_NS,
        to = xml::escape(to),
        ticket = xml::escape(from.ticket),
        app = xml::escape(from.app_id),
        lock = xml::escape(from.lock_key),
        seq = from.sequence,
        run = xml::escape(from.run_id),
        body = wrapped.join("\r\n")
    )
}

/// The lock-key challenge in a `Store2` fault, if it is one.
pub fn lock_challenge(fault: &[u8]) -> Option<String> {
    let mut found = None;
    let _ = xml::walk(fault, |path, text| {
        if path.last().is_some_and(|n| n == "LockKeyChallenge") && !text.is_empty() {
            found = Some(text.to_owned());
        }
    });
    found
}

/// The `UUM` payload of MSNP18 (text for an offline contact).
pub fn uum_payload(text: &str) -> Vec<u8> {
    format!(
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Segoe%20UI; EF=; CO=0; CS=1; PF=0\r\nDest-Agent: client\r\n\r\n{text}"
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_data_names_the_waiting_messages_or_says_too_large() {
        let body = "Mail-Data: <MD><E><I>0</I></E><Q><QTM>409600</QTM></Q><M><T>11</T><S>6</S><RT>2009-11-15T20:41:02Z</RT><SZ>530</SZ><E>bob@example.com</E><I>6b34e5b2-0000</I><F>00000000-0000-0000-0000-000000000009</F><N>=?utf-8?B?Qm9i?=</N></M></MD>\r\nInbox-URL: /cgi-bin/HoTMaiL\r\n";
        assert_eq!(
            parse_mail_data(body),
            Some(vec![Waiting {
                id: "6b34e5b2-0000".into(),
                from: "bob@example.com".into()
            }])
        );
        assert_eq!(parse_mail_data("Mail-Data: too-large\r\n"), None);
        assert_eq!(parse_mail_data("Mail-Data: <MD></MD>"), Some(vec![]));
        assert!(announces("text/x-msmsgsinitialmdatanotification; charset=UTF-8"));
        assert!(!announces("text/x-msmsgsprofile"));
    }

    #[test]
    fn a_stored_message_is_read_with_its_sender_time_and_text() {
        let raw = "From: =?utf-8?B?Qm9i?= <bob@example.com>\r\nTo: relay@example.com\r\nDate: 15 Nov 2009 12:41:02 -0800\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\nX-OIM-Sequence-Num: 1\r\n\r\naGVsbG8g\r\nd29ybGQ=\r\n";
        let m = parse_message(raw).unwrap();
        assert_eq!(m.from, "bob@example.com");
        assert_eq!(m.text, "hello world");
        assert_eq!(m.sent_ms, Some(1_258_317_662_000));
        let multipart = "From: <bob@example.com>\nContent-Type: multipart/alternative; boundary=\"xyz\"\n\n--xyz\nContent-Type: text/plain\n\nplain part\n--xyz--\n";
        assert_eq!(parse_message(multipart).unwrap().text, "plain part");
        assert_eq!(parse_message("From: nobody\n\nx"), None);
        assert_eq!(parse_message("no head at all"), None);
    }

    #[test]
    fn requests_carry_the_ticket_parts_and_the_wrapped_body() {
        let r = get_message("t=abc&p=def", "id-1");
        assert!(r.contains("<t>abc</t><p>def</p>") && r.contains("<messageId>id-1</messageId>"));
        let d = delete_messages("t=a&p=", &["1".into(), "2".into()]);
        assert!(d.contains("<messageIds><messageId>1</messageId><messageId>2</messageId></messageIds>"));
        let from = StoreFrom {
            account: "relay@example.com",
            friendly_name: "Relay",
            ticket: "t=x&p=y",
            lock_key: "",
            app_id: "PROD0120PW!CCV9@",
            run_id: "{r}",
            sequence: 3,
        };
        let s = store(&from, "bob@example.com", &"long ".repeat(40));
        assert!(s.contains("passport=\"t=x&amp;p=y\"") && s.contains("<MessageNumber>3</MessageNumber>"));
        assert!(s.contains("X-OIM-Sequence-Num: 3"));
        let body = s.split("\r\n\r\n").nth(1).unwrap();
        assert!(body
            .split("\r\n")
            .all(|l| l.len() <= 76 || l.contains("</Content>")));
        let fault = b"<E><Body><Fault><faultcode>q0:AuthenticationFailed</faultcode><detail><TweenerChallenge>x</TweenerChallenge><LockKeyChallenge>1850937852</LockKeyChallenge></detail></Fault></Body></E>";
        assert_eq!(lock_challenge(fault).as_deref(), Some("1850937852"));
    }
}
