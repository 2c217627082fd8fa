//! The notification server's MSNP13–18 side (docs/msnp13-18.md §2–5):
//! `USR SSO` with the policy document and a nonce, the proof checked
//! against the RST grant, the machine GUID at MSNP16+ (a second place of
//! the account stays signed in), `ADL`/`RML` instead of the list
//! commands, and the account's own places in a `UBX` about itself.

use crate::ns::login_as;
use crate::sso;
use crate::state::{ConnId, State, AL, BL, FL};
use crate::wire::{payload_line, Line};

/// The policy document sent before the nonce (its content is not read).
const POLICIES: &str = "<Policies><Policy type=\"SHIELDS\"><config><shield><cli maj=\"7\" min=\"0\" minbld=\"0\" maxbld=\"9999\" deny=\" \"/></shield><block></block></config></Policy><Policy type=\"ABCH\"><policy><set id=\"push\" service=\"ABCH\" priority=\"200\"><r id=\"pushstorage\" threshold=\"180000\"/></set></policy></Policy></Policies>";

/// `USR <t> SSO I <email>`: the policies, then the policy name and nonce.
pub fn sso_initial(s: &mut State, id: ConnId, t: &str) {
    let nonce = sso::nonce(s);
    if let Some(c) = s.ns.get_mut(&id) {
        c.nonce = Some(nonce.clone());
    }
    s.send_ns(id, payload_line("GCF 0", POLICIES.as_bytes()));
    s.send_ns_line(id, &format!("USR {t} SSO S MBI_KEY_OLD {nonce}"));
}

/// `USR <t> SSO S <ticket> <proof> [<machine guid>]`: signs in if the
/// ticket is a grant, the proof holds for the nonce and — from MSNP16 —
/// a machine GUID names the place. Returns whether to close.
pub fn sso_subsequent(s: &mut State, id: ConnId, t: &str, line: &Line, dialect: u8) -> bool {
    let (ticket, proof, guid) = (line.p(3), line.p(4), line.p(5));
    let nonce = s.ns.get_mut(&id).and_then(|c| c.nonce.take());
    let grant = s.grants.get(ticket).cloned();
    let holds = match (&nonce, &grant) {
        (Some(n), Some(g)) => sso::proof_holds(&g.secret, n, proof),
        _ => false,
    };
    let guid_ok = dialect < 16 || (guid.starts_with('{') && guid.ends_with('}') && guid.len() == 38);
    match (grant, holds && guid_ok) {
        (Some(g), true) => {
            let guid = (dialect >= 16).then(|| guid.to_ascii_lowercase());
            login_as(s, id, t, &g.email, dialect, guid)
        }
        _ => {
            s.send_ns_line(id, &format!("911 {t}"));
            true
        }
    }
}

/// The `(address, list bits)` entries of an `<ml>` document.
fn ml_entries(payload: &[u8]) -> Vec<(String, u8)> {
    let text = String::from_utf8_lossy(payload);
    let attr = |tag: &str, name: &str| -> Option<String> {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let len = tag[start..].find('"')?;
        Some(tag[start..start + len].to_owned())
    };
    let mut out = Vec::new();
    for d in text.split("<d ").skip(1) {
        let domain = attr(d, "n").unwrap_or_default();
        for c in d.split("<c ").skip(1) {
            let user = attr(c, "n").unwrap_or_default();
            let bits = attr(c, "l").and_then(|l| l.parse().ok()).unwrap_or(0);
            out.push((format!("{user}@{domain}"), bits));
        }
    }
    out
}

/// `ADL`/`RML` from a client. The initial list (`<ml l="1">`) only says
/// the client is ready (the server's own lists are the truth, as with the
/// newer Escargot); later ones change FL/AL/BL, as the web services have.
/// A contact put on FL is told, and their presence follows.
pub fn list_change(s: &mut State, id: ConnId, line: &Line, me: &str, dialect: u8) -> bool {
    let t = line.p(0);
    let text = String::from_utf8_lossy(&line.payload).into_owned();
    if !text.starts_with("<ml") {
        s.send_ns_line(id, &format!("241 {t}"));
        return true;
    }
    let entries = ml_entries(&line.payload);
    if entries.iter().any(|(_, bits)| bits & !(FL | AL | BL) != 0) {
        // RL or PL: Escargot answers 241 and closes.
        s.send_ns_line(id, &format!("241 {t}"));
        return true;
    }
    let initial = text.starts_with("<ml l=\"1\"");
    if !initial {
        let adding = line.cmd == "ADL";
        for (other, bits) in &entries {
            let Some(acc) = s.account_mut(me) else { break };
            let before = acc.bits(other);
            let after = if adding { before | bits } else { before & !bits };
            acc.lists.insert(other.to_ascii_lowercase(), after);
            if adding && bits & FL != 0 {
                let (my_email, my_name) = (acc.email.clone(), acc.friendly_name.clone());
                s.added_by(other, &my_email, &my_name);
                // Their presence, as an ILN would have told.
                let presence = s.account(other).filter(|o| o.visible()).map(|o| {
                    let status = o.status.clone().unwrap_or_else(|| "NLN".into());
                    crate::state::presence_line("ILN", Some(t), &status, &o.email, &o.friendly_name, dialect)
                });
                if let Some(p) = presence {
                    s.send_ns_line(id, &p);
                }
            }
        }
    }
    s.send_ns_line(id, &format!("{} {t} OK", line.cmd));
    false
}

/// The `UBX` about the account itself (MSNP16+): this place and the
/// account's other places, each with its endpoint data.
pub fn self_ubx(s: &State, id: ConnId) {
    let Some(c) = s.ns.get(&id) else { return };
    let (Some(email), Some(mine)) = (c.account.clone(), c.guid.clone()) else {
        return;
    };
    let Some(acc) = s.account(&email) else { return };
    let mut places = vec![(mine.clone(), "msnbnc".to_owned())];
    places.extend(acc.places.iter().cloned());
    let mut data = format!(
        "<Data><PSM>{}</PSM><CurrentMedia></CurrentMedia><MachineGuid>{mine}</MachineGuid>",
        crate::state::xml(&acc.psm)
    );
    for (guid, _) in &places {
        data.push_str(&format!(
            "<EndpointData id=\"{guid}\"><Capabilities>2789003324:48</Capabilities></EndpointData>"
        ));
    }
    for (guid, name) in &places {
        data.push_str(&format!(
            "<PrivateEndpointData id=\"{guid}\"><EpName>{}</EpName><Idle>false</Idle><ClientType>1</ClientType><State>NLN</State></PrivateEndpointData>",
            crate::state::xml(name)
        ));
    }
    data.push_str("</Data>");
    let head = crate::state::ubx_head(&acc.email, c.dialect);
    s.send_ns(id, payload_line(&head, data.as_bytes()));
}
