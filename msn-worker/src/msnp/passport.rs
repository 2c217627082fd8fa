//! Passport 1.4 ("Tweener") login, sans-IO (msnp.md §2.4): what to ask
//! the nexus and the login server, and what their answers mean. The HTTPS
//! transport is in `crate::session::https`.

pub use ipc::passport_url::Url;

use super::escape;

/// What a login-server response means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginAnswer {
    Ticket(String),
    /// Ask again at this URL with the same Authorization header.
    Redirect(String),
    /// Wrong account or password (`cbtxt` reason when the server gave one).
    WrongCredentials(Option<String>),
    /// Anything else: try the whole login again later.
    Transient(String),
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The `DALogin` URL from the nexus's `PassportURLs` header (any case,
/// with or without scheme).
pub fn parse_nexus(headers: &[(String, String)]) -> Option<Url> {
    let value = header(headers, "PassportURLs")?;
    let login = value.split(',').find_map(|field| {
        let (k, v) = field.split_once('=')?;
        k.trim().eq_ignore_ascii_case("DALogin").then(|| v.trim())
    })?;
    Url::parse(login)
}

/// The Authorization header for the login server: the policy string from
/// `USR TWN S` is appended verbatim.
pub fn authorization(account: &str, password: &str, policy: &str) -> String {
    format!(
        "Passport1.4 OrgVerb=GET,OrgURL=http%3A%2F%2Fmessenger%2Emsn%2Ecom,sign-in={},pwd={},{policy}",
        escape::encode(account),
        escape::encode(password)
    )
}

/// Interprets the login server's answer.
pub fn parse_login(status: u16, headers: &[(String, String)]) -> LoginAnswer {
    match status {
        200 => {
            let info = header(headers, "Authentication-Info").unwrap_or("");
            match info
                .split_once("from-PP='")
                .and_then(|(_, rest)| rest.split_once('\''))
            {
                Some((ticket, _)) if !ticket.is_empty() => LoginAnswer::Ticket(ticket.to_owned()),
                _ => LoginAnswer::Transient("login server answered 200 without a ticket".into()),
            }
        }
        301 | 302 | 303 | 307 | 308 => match header(headers, "Location") {
            Some(loc) => LoginAnswer::Redirect(loc.to_owned()),
            None => LoginAnswer::Transient(format!("login server redirect ({status}) without Location")),
        },
        401 => {
            let reason = header(headers, "WWW-Authenticate").and_then(|v| {
                v.split(',').find_map(|f| {
                    let (k, v) = f.trim().split_once('=')?;
                    (k == "cbtxt").then(|| escape::decode(v))
                })
            });
            LoginAnswer::WrongCredentials(reason)
        }
        other => LoginAnswer::Transient(format!("login server answered HTTP {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn nexus_with_and_without_scheme_in_any_header_case() {
        let ms = h(&[(
            "PassportURLs",
            "DARealm=Passport.Net,DALogin=login.passport.com/login2.srf,ConfigVersion=15",
        )]);
        let url = parse_nexus(&ms).unwrap();
        assert_eq!(
            (url.https, url.host.as_str(), url.port, url.path.as_str()),
            (true, "login.passport.com", 443, "/login2.srf")
        );
        let escargot = h(&[("Passporturls", "DALogin=https://127.0.0.1:8443/login")]);
        let url = parse_nexus(&escargot).unwrap();
        assert_eq!(
            (url.host.as_str(), url.port, url.path.as_str(), url.authority()),
            ("127.0.0.1", 8443, "/login", "127.0.0.1:8443".to_owned())
        );
        assert_eq!(parse_nexus(&h(&[("X", "y")])), None);
        assert_eq!(parse_nexus(&h(&[("PassportURLs", "DALogin=ftp://x/y")])), None);
    }

    #[test]
    fn authorization_escapes_handle_and_password_and_keeps_the_policy() {
        let a = authorization(
            "relay@example.com",
            "p@ss, word%+",
            "ct=1,rver=1,wp=FS_40SEC_0_COMPACT,lc=1,id=1",
        );
        assert_eq!(
            a,
            "Passport1.4 OrgVerb=GET,OrgURL=http%3A%2F%2Fmessenger%2Emsn%2Ecom,sign-in=relay%40example.com,pwd=p%40ss%2C%20word%25%2B,ct=1,rver=1,wp=FS_40SEC_0_COMPACT,lc=1,id=1"
        );
    }

    #[test]
    fn login_answers() {
        assert_eq!(
            parse_login(
                200,
                &h(&[(
                    "Authentication-Info",
                    "Passport1.4 da-status=success,tname=MSPAuth,from-PP='Zk3sAqP0aTu8Lw2xYc9R',ru=x"
                )])
            ),
            LoginAnswer::Ticket("Zk3sAqP0aTu8Lw2xYc9R".into())
        );
        assert_eq!(
            parse_login(
                200,
                &h(&[(
                    "Authentication-Info",
                    "Passport1.4 da-status=success,from-PP='t=a&p=b'"
                )])
            ),
            LoginAnswer::Ticket("t=a&p=b".into())
        );
        assert!(matches!(parse_login(200, &[]), LoginAnswer::Transient(_)));
        assert_eq!(
            parse_login(302, &h(&[("location", "https://other/login")])),
            LoginAnswer::Redirect("https://other/login".into())
        );
        assert_eq!(
            parse_login(401, &h(&[("WWW-Authenticate", "Passport1.4 da-status=failed")])),
            LoginAnswer::WrongCredentials(None)
        );
        assert_eq!(
            parse_login(
                401,
                &h(&[(
                    "WWW-Authenticate",
                    "Passport1.4 da-status=failed,srealm=Passport.NET,cbtxt=Bad%20password"
                )])
            ),
            LoginAnswer::WrongCredentials(Some("Bad password".into()))
        );
        assert!(matches!(parse_login(503, &[]), LoginAnswer::Transient(_)));
    }
}
