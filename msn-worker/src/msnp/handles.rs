//! The handle forms of MSNP13+ (`docs/msnp13-18.md` §1.2, §4.2):
//! `1:bob@example.com` (a network prefix, MSNP18), `bob@example.com;{guid}`
//! (one endpoint, MSNP16+), and presence lines with a network token
//! (MSNP14–17) — brought back to the MSNP8–12 shapes the parsers read.

/// A handle taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handle {
    /// The network (1: Windows Live / Passport), when the form names it.
    pub network: Option<u32>,
    pub email: String,
    /// `{guid}` of one endpoint.
    pub endpoint: Option<String>,
}

/// `[N:]email[;{guid}|;epid={guid}]`.
pub fn split(s: &str) -> Handle {
    let (network, rest) = match s.split_once(':') {
        Some((n, rest)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => (n.parse().ok(), rest),
        _ => (None, s),
    };
    let (email, endpoint) = match rest.split_once(';') {
        Some((email, ep)) => {
            let ep = ep.strip_prefix("epid=").unwrap_or(ep);
            (email, (!ep.is_empty()).then(|| ep.to_ascii_lowercase()))
        }
        None => (rest, None),
    };
    Handle {
        network,
        email: email.to_owned(),
        endpoint,
    }
}

/// The bare address of a handle in any form.
pub fn email(s: &str) -> String {
    split(s).email
}

/// A presence line's arguments (`ILN`, `NLN`, `FLN`, `UBX`) in `dialect`,
/// rewritten to the MSNP12 shape: the handle bare, no network token.
pub fn presence_args(dialect: u8, cmd: &str, args: &[String]) -> Vec<String> {
    let mut args = args.to_vec();
    if dialect < 13 {
        return args;
    }
    let at = match cmd {
        "ILN" => 2,
        "NLN" => 1,
        _ => 0,
    };
    if let Some(h) = args.get_mut(at) {
        *h = email(h);
    }
    // MSNP14–17 put the network between the handle and the rest; UBX has
    // it before the length, which is always the last argument.
    let network_at = at + 1;
    let has_network = (14..=17).contains(&dialect)
        && args
            .get(network_at)
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        && match cmd {
            "UBX" => args.len() >= 3,
            "FLN" => true,
            _ => args.len() > network_at + 1,
        };
    if has_network {
        args.remove(network_at);
    }
    args
}

/// The places signed in to an account, from a `UBX` about it (MSNP16+):
/// each `EndpointData`'s GUID, with the name its `PrivateEndpointData`
/// gives (empty if none), in the order given.
pub fn places(payload: &[u8]) -> Vec<(String, String)> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(payload);
    let (mut out, mut buf): (Vec<(String, String)>, Vec<u8>) = (Vec::new(), Vec::new());
    let mut private: Option<String> = None;
    let mut in_name = false;
    while let Ok(event) = reader.read_event_into(&mut buf) {
        match event {
            Event::Start(e) | Event::Empty(e) => {
                let id = e
                    .attributes()
                    .flatten()
                    .find(|a| a.key.as_ref() == b"id")
                    .and_then(|a| a.unescape_value().ok())
                    .map(|v| v.to_ascii_lowercase());
                match (e.local_name().as_ref(), id) {
                    (b"EndpointData", Some(id)) if out.len() < 64 && !out.iter().any(|(g, _)| *g == id) => {
                        out.push((id, String::new()));
                    }
                    (b"PrivateEndpointData", Some(id)) => private = Some(id),
                    (b"EpName", _) => in_name = true,
                    _ => {}
                }
            }
            Event::Text(t) if in_name => {
                let name = t.decode().map(|n| n.trim().to_owned()).unwrap_or_default();
                if let Some(place) = private
                    .as_ref()
                    .and_then(|p| out.iter_mut().find(|(g, _)| g == p))
                {
                    place.1 = name.chars().take(64).collect();
                }
            }
            Event::End(e) if e.local_name().as_ref() == b"EpName" => in_name = false,
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn every_handle_form_comes_apart() {
        assert_eq!(
            split("1:Bob@Example.com;{4059A9BE-0000-4000-8000-000000000001}"),
            Handle {
                network: Some(1),
                email: "Bob@Example.com".into(),
                endpoint: Some("{4059a9be-0000-4000-8000-000000000001}".into())
            }
        );
        assert_eq!(split("bob@example.com").endpoint, None);
        assert_eq!(
            split("1:bob@example.com;epid={x}").endpoint.as_deref(),
            Some("{x}")
        );
        assert_eq!(email("bob@example.com;{x}"), "bob@example.com");
    }

    #[test]
    fn the_places_of_an_account_come_with_their_names() {
        let ubx = b"<Data><PSM></PSM><MachineGuid>{A}</MachineGuid><EndpointData id=\"{A}\"><Capabilities>0:0</Capabilities></EndpointData><EndpointData id=\"{B}\"><Capabilities>1:48</Capabilities></EndpointData><PrivateEndpointData id=\"{B}\"><EpName>LAPTOP</EpName><ClientType>1</ClientType></PrivateEndpointData></Data>";
        assert_eq!(
            places(ubx),
            [
                ("{a}".to_owned(), String::new()),
                ("{b}".to_owned(), "LAPTOP".to_owned())
            ]
        );
        assert!(places(b"<Data><PSM>x</PSM></Data>").is_empty());
        assert!(places(b"<Data><EndpointData id=").is_empty());
    }

    #[test]
    fn presence_lines_of_every_version_take_the_msnp12_shape() {
        let twelve = v("NLN bob@example.com Bob 1342177280 0");
        assert_eq!(presence_args(12, "NLN", &twelve), twelve);
        assert_eq!(presence_args(13, "NLN", &twelve), twelve);
        assert_eq!(
            presence_args(15, "NLN", &v("NLN bob@example.com 1 Bob 1342177280 0")),
            twelve
        );
        assert_eq!(
            presence_args(18, "NLN", &v("NLN 1:bob@example.com Bob 2789003324:48 0")),
            v("NLN bob@example.com Bob 2789003324:48 0")
        );
        assert_eq!(
            presence_args(16, "ILN", &v("7 NLN bob@example.com 1 Bob 1:2 0")),
            v("7 NLN bob@example.com Bob 1:2 0")
        );
        assert_eq!(
            presence_args(16, "FLN", &v("bob@example.com 1 0:0")),
            v("bob@example.com 0:0")
        );
        assert_eq!(
            presence_args(18, "FLN", &v("1:bob@example.com 0:0")),
            v("bob@example.com 0:0")
        );
        assert_eq!(
            presence_args(14, "UBX", &v("bob@example.com 1 42")),
            v("bob@example.com 42")
        );
        assert_eq!(
            presence_args(18, "UBX", &v("1:bob@example.com 42")),
            v("bob@example.com 42")
        );
        // A friendly name that is a number, at MSNP12: left alone.
        assert_eq!(
            presence_args(12, "NLN", &v("NLN bob@example.com 42 0")),
            v("NLN bob@example.com 42 0")
        );
    }
}
