//! Single sign-on (MSNP15+), sans-IO: the Passport RST request for the
//! services the worker uses, reading its answer (one ticket per service,
//! and the binary secret of the messenger service), and the `MBI_KEY_OLD`
//! proof of that secret over the server's nonce. `docs/msnp13-18.md` §2.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use cbc::cipher::{block_padding::Pkcs7, BlockEncryptMut, KeyIvInit};
use ring::hmac;

use super::xml;

/// The service the notification server's ticket and secret are for.
pub const MESSENGER: &str = "messengerclear.live.com";
/// The address book and membership services (ABCH).
pub const CONTACTS: &str = "contacts.msn.com";
/// Reading offline messages.
pub const OIM_READ: &str = "messenger.msn.com";
/// Sending offline messages.
pub const OIM_SEND: &str = "messengersecure.live.com";

/// What one RST answer gave for one service.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Token {
    pub address: String,
    /// `t=…&p=…`, unescaped.
    pub ticket: String,
    /// Base64 of the proof key (the messenger service only).
    pub secret: Option<String>,
}

/// Why an RST answer gave no tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RstError {
    /// A SOAP fault saying the account or password is wrong.
    WrongCredentials(String),
    /// Any other fault, or no usable token.
    Refused(String),
}

/// The RST request: the Passport token first, then each `(address,
/// policy)`.
pub fn rst_request(account: &str, password: &str, services: &[(&str, &str)]) -> String {
    let mut tokens = String::from(
        "<wst:RequestSecurityToken Id=\"RST0\"><wst:RequestType>http://schemas.xmlsoap.org/ws/2004/04/security/trust/Issue</wst:RequestType><wsp:AppliesTo><wsa:EndpointReference><wsa:Address>http://Passport.NET/tb</wsa:Address></wsa:EndpointReference></wsp:AppliesTo></wst:RequestSecurityToken>",
    );
    for (i, (address, policy)) in services.iter().enumerate() {
        tokens.push_str(&format!(
            "<wst:RequestSecurityToken Id=\"RST{}\"><wst:RequestType>http://schemas.xmlsoap.org/ws/2004/04/security/trust/Issue</wst:RequestType><wsp:AppliesTo><wsa:EndpointReference><wsa:Address>{}</wsa:Address></wsa:EndpointReference></wsp:AppliesTo><wsse:PolicyReference URI=\"{}\"></wsse:PolicyReference></wst:RequestSecurityToken>",
            i + 1,
            xml::escape(address),
            xml::escape(policy)
        ));
    }
    format!(
        concat!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
            "<Envelope xmlns=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:wsse=\"http://schemas.xmlsoap.org/ws/2003/06/secext\" xmlns:saml=\"urn:oasis:names:tc:SAML:1.0:assertion\" xmlns:wsp=\"http://schemas.xmlsoap.org/ws/2002/12/policy\" xmlns:wsu=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd\" xmlns:wsa=\"http://schemas.xmlsoap.org/ws/2004/03/addressing\" xmlns:wssc=\"http://schemas.xmlsoap.org/ws/2004/04/sc\" xmlns:wst=\"http://schemas.xmlsoap.org/ws/2004/04/trust\">",
            "<Header><ps:AuthInfo xmlns:ps=\"http://schemas.microsoft.com/Passport/SoapServices/PPCRL\" Id=\"PPAuthInfo\">",
            "<ps:HostingApp>{{7108E71A-9926-4FCB-BCC9-9A9D3F32E423}}</ps:HostingApp><ps:BinaryVersion>4</ps:BinaryVersion>",
            "<ps:UIVersion>1</ps:UIVersion><ps:Cookies></ps:Cookies><ps:RequestParams>AQAAAAIAAABsYwQAAAAxMDMz</ps:RequestParams>",
            "</ps:AuthInfo><wsse:Security><wsse:UsernameToken Id=\"user\"><wsse:Username>{}</wsse:Username>",
            "<wsse:Password>{}</wsse:Password></wsse:UsernameToken></wsse:Security></Header>",
            "<Body><ps:RequestMultipleSecurityTokens xmlns:ps=\"http://schemas.microsoft.com/Passport/SoapServices/PPCRL\" Id=\"RSTS\">{}",
            "</ps:RequestMultipleSecurityTokens></Body></Envelope>"
        ),
        xml::escape(account),
        xml::escape(password),
        tokens
    )
}

/// Reads an RST answer: a token per service, or the fault.
pub fn parse_rst_response(body: &[u8]) -> Result<Vec<Token>, RstError> {
    let unreadable = |e: String| RstError::Refused(format!("unreadable RST answer: {e}"));
    let mut tokens = Vec::new();
    let mut current = Token::default();
    let mut fault: Option<String> = None;
    xml::walk(body, |path, text| {
        let name = path.last().map_or("", String::as_str);
        match name {
            "Address" if path.iter().any(|n| n == "AppliesTo") => current.address = text.to_owned(),
            "BinarySecurityToken" => current.ticket = text.to_owned(),
            "BinarySecret" => current.secret = Some(text.to_owned()),
            "RequestSecurityTokenResponse" => tokens.push(std::mem::take(&mut current)),
            _ if path.iter().any(|n| n == "Fault") && !text.is_empty() => {
                let f = fault.get_or_insert_with(String::new);
                if f.len() < 512 {
                    if !f.is_empty() {
                        f.push_str(": ");
                    }
                    f.push_str(text);
                }
            }
            "Fault" => {
                fault.get_or_insert_with(String::new);
            }
            _ => {}
        }
    })
    .map_err(unreadable)?;
    if let Some(f) = fault {
        let wrong = [
            "FailedAuthentication",
            "Invalid Request",
            "Invalid username",
            "password",
        ];
        return Err(match wrong.iter().any(|w| f.contains(w)) {
            true => RstError::WrongCredentials(f),
            false => RstError::Refused(f),
        });
    }
    tokens.retain(|t| !t.address.is_empty() && !t.ticket.is_empty());
    if tokens.is_empty() {
        return Err(RstError::Refused("the RST answer holds no token".into()));
    }
    Ok(tokens)
}

/// HMAC-SHA1 of `parts`, one after another.
fn hmac_sha1(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let mut ctx = hmac::Context::with_key(&key);
    for p in parts {
        ctx.update(p);
    }
    ctx.sign().as_ref().to_vec()
}

/// The WS-SecureConversation key derivation: 24 bytes from `key` and
/// `label`.
fn derive(key: &[u8], label: &[u8]) -> Vec<u8> {
    let h1 = hmac_sha1(key, &[label]);
    let h2 = hmac_sha1(key, &[&h1, label]);
    let h3 = hmac_sha1(key, &[&h1]);
    let h4 = hmac_sha1(key, &[&h3, label]);
    let mut out = h2;
    out.extend_from_slice(&h4[..4]);
    out
}

/// The `MBI_KEY_OLD` answer to `nonce` (as the text the server sent) with
/// the messenger service's `secret` (base64) and an 8-byte `iv`; `None`
/// if the secret is not base64 of 24 bytes.
pub fn mbi_proof(secret: &str, nonce: &str, iv: [u8; 8]) -> Option<String> {
    let key1 = B64.decode(secret.trim()).ok().filter(|k| k.len() == 24)?;
    let key2 = derive(&key1, b"WS-SecureConversationSESSION KEY HASH");
    let key3 = derive(&key1, b"WS-SecureConversationSESSION KEY ENCRYPTION");
    let hash = hmac_sha1(&key2, &[nonce.as_bytes()]);
    let cipher = cbc::Encryptor::<des::TdesEde3>::new_from_slices(&key3, &iv)
        .ok()?
        .encrypt_padded_vec_mut::<Pkcs7>(nonce.as_bytes());
    let mut blob = Vec::with_capacity(28 + 8 + 20 + cipher.len());
    let cipher_len = u32::try_from(cipher.len()).ok()?;
    for word in [28u32, 1, 0x6603, 0x8004, 8, 20, cipher_len] {
        blob.extend_from_slice(&word.to_le_bytes());
    }
    blob.extend_from_slice(&iv);
    blob.extend_from_slice(&hash);
    blob.extend_from_slice(&cipher);
    Some(B64.encode(blob))
}

/// What a proof says, as a server that checks it reads it: the IV and
/// the decrypted nonce. `None`: not a well-formed `MBI_KEY_OLD` blob. For
/// the tests (the simulator checks proofs with code of its own).
#[cfg(test)]
pub fn open_proof(secret: &str, proof: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    use cbc::cipher::BlockDecryptMut;
    let key1 = B64.decode(secret.trim()).ok().filter(|k| k.len() == 24)?;
    let blob = B64.decode(proof.trim()).ok()?;
    let word = |i: usize| {
        blob.get(i * 4..i * 4 + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let header: Vec<u32> = (0..7).map(word).collect::<Option<_>>()?;
    if header[..6] != [28, 1, 0x6603, 0x8004, 8, 20] || blob.len() != 56 + header[6] as usize {
        return None;
    }
    let (iv, rest) = blob[28..].split_at(8);
    let (hash, cipher) = rest.split_at(20);
    let key3 = derive(&key1, b"WS-SecureConversationSESSION KEY ENCRYPTION");
    let nonce = cbc::Decryptor::<des::TdesEde3>::new_from_slices(&key3, iv)
        .ok()?
        .decrypt_padded_vec_mut::<Pkcs7>(cipher)
        .ok()?;
    let key2 = derive(&key1, b"WS-SecureConversationSESSION KEY HASH");
    (hmac_sha1(&key2, &[&nonce]) == hash).then_some((iv.to_vec(), nonce))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYX";
    const NONCE: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v";

    #[test]
    fn the_mbi_key_old_proof_matches_the_reference_vector() {
        let iv = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88];
        let proof = mbi_proof(SECRET, NONCE, iv).unwrap();
        assert_eq!(
            proof,
            "HAAAAAEAAAADZgAABIAAAAgAAAAUAAAASAAAABEiM0RVZneI5/b6UPUTyMkbVgyWJivzLXG/cLmeaf3XCn5gLJaNsXgNnFLMXsbKx58BsYDhgSkGAKBtR6g3aJH6ogbQ/xKjZXz4pkoaCpTXDnZGIJvC/0G9vi+H8wuoxq8t55c="
        );
        assert_eq!(proof.len(), 172);
        assert_eq!(
            open_proof(SECRET, &proof),
            Some((iv.to_vec(), NONCE.as_bytes().to_vec()))
        );
        // Another secret does not open it.
        assert_eq!(open_proof("AQECAwQFBgcICQoLDA0ODxAREhMUFRYX", &proof), None);
        assert_eq!(mbi_proof("c2hvcnQ=", NONCE, iv), None, "a secret of 5 bytes");
    }

    #[test]
    fn an_rst_answer_gives_a_ticket_per_service_and_the_messenger_secret() {
        let body = br#"<?xml version="1.0"?><S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wst="t" xmlns:wsp="p" xmlns:wsa="a" xmlns:wsse="s"><S:Body><wst:RequestSecurityTokenResponseCollection>
<wst:RequestSecurityTokenResponse><wsp:AppliesTo><wsa:EndpointReference><wsa:Address>http://Passport.NET/tb</wsa:Address></wsa:EndpointReference></wsp:AppliesTo></wst:RequestSecurityTokenResponse>
<wst:RequestSecurityTokenResponse><wsp:AppliesTo><wsa:EndpointReference><wsa:Address>messengerclear.live.com</wsa:Address></wsa:EndpointReference></wsp:AppliesTo><wst:RequestedSecurityToken><wsse:BinarySecurityToken Id="Compact1">t=abc&amp;p=</wsse:BinarySecurityToken></wst:RequestedSecurityToken><wst:RequestedProofToken><wst:BinarySecret>AAECAwQFBgcICQoLDA0ODxAREhMUFRYX</wst:BinarySecret></wst:RequestedProofToken></wst:RequestSecurityTokenResponse>
<wst:RequestSecurityTokenResponse><wsp:AppliesTo><wsa:EndpointReference><wsa:Address>contacts.msn.com</wsa:Address></wsa:EndpointReference></wsp:AppliesTo><wst:RequestedSecurityToken><wsse:BinarySecurityToken Id="Compact2">t=xyz&amp;p=</wsse:BinarySecurityToken></wst:RequestedSecurityToken></wst:RequestSecurityTokenResponse>
</wst:RequestSecurityTokenResponseCollection></S:Body></S:Envelope>"#;
        let tokens = parse_rst_response(body).unwrap();
        assert_eq!(
            tokens,
            vec![
                Token {
                    address: MESSENGER.into(),
                    ticket: "t=abc&p=".into(),
                    secret: Some(SECRET.into())
                },
                Token {
                    address: CONTACTS.into(),
                    ticket: "t=xyz&p=".into(),
                    secret: None
                },
            ]
        );
    }

    #[test]
    fn faults_say_whether_the_password_was_wrong() {
        let wrong = br#"<S:Envelope xmlns:S="e" xmlns:psf="f"><S:Body><S:Fault><faultcode>wsse:FailedAuthentication</faultcode><faultstring>Authentication Failure</faultstring></S:Fault></S:Body></S:Envelope>"#;
        assert!(matches!(
            parse_rst_response(wrong),
            Err(RstError::WrongCredentials(_))
        ));
        let other = br#"<S:Envelope xmlns:S="e"><S:Body><S:Fault><faultcode>S:Server</faultcode><faultstring>busy</faultstring></S:Fault></S:Body></S:Envelope>"#;
        assert_eq!(
            parse_rst_response(other),
            Err(RstError::Refused("S:Server: busy".into()))
        );
        assert!(matches!(
            parse_rst_response(b"<a><b></a>"),
            Err(RstError::Refused(_))
        ));
        assert!(matches!(parse_rst_response(b""), Err(RstError::Refused(_))));
    }

    #[test]
    fn the_request_escapes_what_the_user_typed() {
        let r = rst_request("a&b@example.com", "p<w>\"d", &[(MESSENGER, "MBI_KEY_OLD")]);
        assert!(r.contains("<wsse:Username>a&amp;b@example.com</wsse:Username>"));
        assert!(r.contains("<wsse:Password>p&lt;w&gt;&quot;d</wsse:Password>"));
        assert!(r.contains("<wsa:Address>messengerclear.live.com</wsa:Address></wsa:EndpointReference></wsp:AppliesTo><wsse:PolicyReference URI=\"MBI_KEY_OLD\">"));
    }
}
