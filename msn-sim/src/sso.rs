//! Single sign-on as the server side of MSNP13+ sees it
//! (docs/msnp13-18.md §2): the RST service hands out one ticket (for
//! every service, as Escargot does) and, for `messengerclear.live.com`, a
//! proof key; the notification server then checks the `MBI_KEY_OLD` blob
//! the client built from that key and the nonce — decrypting it and
//! comparing the hash, the way a strict server does. Written from the
//! reference on its own, not with msn-worker's code.

use std::time::Instant;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use cbc::cipher::{block_padding::Pkcs7, BlockDecryptMut, KeyIvInit};
use ring::hmac;

use crate::state::{Grant, State};

/// How long a sign-on ticket serves (Escargot: a day).
const GRANT_LIFETIME: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// The texts of every `<name>` element (any prefix, any attributes; not
/// nested in itself).
pub(crate) fn element<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(lt) = rest.find('<') {
        let tag = &rest[lt + 1..];
        let Some(end) = tag.find('>') else { break };
        let tag_name = tag[..end].split([' ', '/']).next().unwrap_or("");
        let local = tag_name.rsplit(':').next().unwrap_or("");
        rest = &tag[end + 1..];
        if local != name || tag[..end].ends_with('/') {
            continue;
        }
        let close = format!("</{tag_name}>");
        let Some(len) = rest.find(&close) else { break };
        out.push(&rest[..len]);
        rest = &rest[len + close.len()..];
    }
    out
}

pub(crate) fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

pub(crate) fn http(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// The RST service: a ticket per requested address, or a fault.
pub fn rst(s: &mut State, body: &str) -> String {
    let user = element(body, "Username")
        .first()
        .map(|u| unescape(u))
        .unwrap_or_default();
    let password = element(body, "Password")
        .first()
        .map(|p| unescape(p))
        .unwrap_or_default();
    let ok = s
        .account(&user)
        .is_some_and(|a| a.email == user && a.password == password && !a.scripted);
    if !ok {
        let fault = "<S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:wsse=\"http://schemas.xmlsoap.org/ws/2003/06/secext\"><S:Body><S:Fault><faultcode>wsse:FailedAuthentication</faultcode><faultstring>Authentication Failure</faultstring></S:Fault></S:Body></S:Envelope>";
        return http("500 Internal Server Error", fault);
    }
    let ticket = format!("t={}&p=", s.token());
    let secret: Vec<u8> = (0..24u8)
        .map(|i| (s.id() as u8).wrapping_mul(31).wrapping_add(i * 7))
        .collect();
    let key = B64.encode(&secret);
    s.grants.insert(
        ticket.clone(),
        Grant {
            email: user,
            secret,
            issued: Instant::now(),
        },
    );
    let escaped = ticket.replace('&', "&amp;");
    let mut responses = String::new();
    for (i, address) in element(body, "Address").into_iter().enumerate() {
        let proof = match address {
            "messengerclear.live.com" => format!(
                "<wst:RequestedProofToken><wst:BinarySecret>{key}</wst:BinarySecret></wst:RequestedProofToken>"
            ),
            _ => String::new(),
        };
        let token = match address {
            "http://Passport.NET/tb" => String::new(),
            _ => format!(
                "<wst:RequestedSecurityToken><wsse:BinarySecurityToken Id=\"Compact{i}\">{escaped}</wsse:BinarySecurityToken></wst:RequestedSecurityToken>"
            ),
        };
        responses.push_str(&format!(
            "<wst:RequestSecurityTokenResponse><wst:TokenType>urn:passport:compact</wst:TokenType><wsp:AppliesTo xmlns:wsa=\"http://schemas.xmlsoap.org/ws/2004/03/addressing\"><wsa:EndpointReference><wsa:Address>{address}</wsa:Address></wsa:EndpointReference></wsp:AppliesTo><wst:LifeTime><wsu:Created>2026-01-01T00:00:00Z</wsu:Created><wsu:Expires>2026-01-02T00:00:00Z</wsu:Expires></wst:LifeTime>{token}{proof}</wst:RequestSecurityTokenResponse>"
        ));
    }
    let envelope = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:wsse=\"http://schemas.xmlsoap.org/ws/2003/06/secext\" xmlns:wst=\"http://schemas.xmlsoap.org/ws/2004/04/trust\" xmlns:wsp=\"http://schemas.xmlsoap.org/ws/2002/12/policy\" xmlns:wsu=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd\"><S:Body><wst:RequestSecurityTokenResponseCollection>{responses}</wst:RequestSecurityTokenResponseCollection></S:Body></S:Envelope>"
    );
    http("200 OK", &envelope)
}

fn mac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let mut c = hmac::Context::with_key(&key);
    parts.iter().for_each(|p| c.update(p));
    c.sign().as_ref().to_vec()
}

/// 24 bytes of key material for `label` (the WS-SecureConversation
/// derivation: two HMAC chains, 20 + 4 bytes).
fn session_key(secret: &[u8], label: &str) -> Vec<u8> {
    let label = label.as_bytes();
    let a1 = mac(secret, &[label]);
    let a2 = mac(secret, &[&a1]);
    let mut key = mac(secret, &[&a1, label]);
    key.extend_from_slice(&mac(secret, &[&a2, label])[..4]);
    key
}

/// Whether `proof` is an `MBI_KEY_OLD` blob of `nonce` under `secret`.
pub fn proof_holds(secret: &[u8], nonce: &str, proof: &str) -> bool {
    let Ok(blob) = B64.decode(proof) else {
        return false;
    };
    let header: Vec<u32> = blob
        .chunks(4)
        .take(7)
        .map(|c| c.try_into().map_or(0, u32::from_le_bytes))
        .collect();
    if blob.len() < 56
        || header[..6] != [28, 1, 0x6603, 0x8004, 8, 20]
        || blob.len() != 56 + header[6] as usize
    {
        return false;
    }
    let (iv, hash, cipher) = (&blob[28..36], &blob[36..56], &blob[56..]);
    let enc = session_key(secret, "WS-SecureConversationSESSION KEY ENCRYPTION");
    let Ok(decryptor) = cbc::Decryptor::<des::TdesEde3>::new_from_slices(&enc, iv) else {
        return false;
    };
    let Ok(plain) = decryptor.decrypt_padded_vec_mut::<Pkcs7>(cipher) else {
        return false;
    };
    let expected = mac(
        &session_key(secret, "WS-SecureConversationSESSION KEY HASH"),
        &[nonce.as_bytes()],
    );
    plain == nonce.as_bytes() && expected == hash
}

/// A nonce for `USR SSO S`: 64 base64 characters.
pub fn nonce(s: &mut State) -> String {
    let raw: Vec<u8> = (0..48u8).map(|i| (s.id() as u8) ^ i.wrapping_mul(37)).collect();
    B64.encode(raw)
}

/// The account a ticket from the RST service stands for, if it is one.
pub fn account_of(s: &State, ticket: &str) -> Option<String> {
    let g = s.grants.get(ticket)?;
    (g.issued.elapsed() < GRANT_LIFETIME).then(|| g.email.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference vector of docs/msnp13-18.md §2.5.
    #[test]
    fn the_reference_proof_holds_and_a_tampered_one_does_not() {
        let secret: Vec<u8> = (0..24).collect();
        let nonce = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v";
        let proof = "HAAAAAEAAAADZgAABIAAAAgAAAAUAAAASAAAABEiM0RVZneI5/b6UPUTyMkbVgyWJivzLXG/cLmeaf3XCn5gLJaNsXgNnFLMXsbKx58BsYDhgSkGAKBtR6g3aJH6ogbQ/xKjZXz4pkoaCpTXDnZGIJvC/0G9vi+H8wuoxq8t55c=";
        assert!(proof_holds(&secret, nonce, proof));
        assert!(!proof_holds(&secret, "another nonce", proof));
        let mut other = secret.clone();
        other[0] = 9;
        assert!(!proof_holds(&other, nonce, proof));
        assert!(!proof_holds(&secret, nonce, "HAAAAA=="));
    }
}
