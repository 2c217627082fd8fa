//! Passport URLs, parsed the same way where they are configured (msnbnc
//! checks them when it reads its configuration) and where they are used
//! (the worker logs in with them), so the two can never disagree.

/// A parsed `https://host[:port]/path` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub https: bool,
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl Url {
    /// Parses an absolute URL; a URL without scheme is taken as HTTPS
    /// (Microsoft's DALogin had none).
    pub fn parse(s: &str) -> Option<Url> {
        let s = s.trim();
        let (https, rest) = if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else if s.contains("://") {
            return None;
        } else {
            (true, s)
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let default_port = if https { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']')?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().ok()?,
                None if after.is_empty() => default_port,
                None => return None,
            };
            (h.to_owned(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), p.parse().ok()?),
                None => (authority.to_owned(), default_port),
            }
        };
        if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '@') || port == 0 {
            return None;
        }
        Some(Url {
            https,
            host,
            port,
            path: path.to_owned(),
        })
    }

    /// The `Host:` header value.
    pub fn authority(&self) -> String {
        let default = if self.https { 443 } else { 80 };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// Resolves a `Location` header against this URL.
    pub fn join(&self, location: &str) -> Option<Url> {
        if location.starts_with('/') {
            Some(Url {
                path: location.to_owned(),
                ..self.clone()
            })
        } else {
            Url::parse(location)
        }
    }
}

/// Whether a configured Passport URL will be usable by the worker: it
/// parses, and it is HTTPS unless plain HTTP was explicitly allowed (the
/// password travels in it).
pub fn check(url: &str, allow_plain_http: bool) -> Result<Url, String> {
    match Url::parse(url) {
        None => Err(format!("{url:?} is not an https:// URL")),
        Some(u) if !u.https && !allow_plain_http => Err(
            "sends the password over plain HTTP; use https:// (or set msn.allow_plain_http_login for a test server)"
                .into(),
        ),
        Some(u) => Ok(u),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = Url::parse("https://[::1]:8443/x?y").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.authority()),
            ("::1", 8443, "[::1]:8443".to_owned())
        );
        assert_eq!(u.join("/other").unwrap().path, "/other");
        assert_eq!(u.join("https://h/p").unwrap().host, "h");
        assert!(Url::parse("https://:5/").is_none());
        assert!(Url::parse("https://h:0/").is_none());
        assert!(!Url::parse("http://h/").unwrap().https);
    }

    #[test]
    fn configured_urls_are_checked_as_the_worker_reads_them() {
        assert!(check("https://login.example.com/rdr", false).is_ok());
        assert!(
            check("login.example.com/rdr", false).unwrap().https,
            "no scheme: HTTPS"
        );
        assert!(check("http://127.0.0.1:8080/", false)
            .unwrap_err()
            .contains("plain HTTP"));
        assert!(check("http://127.0.0.1:8080/", true).is_ok());
        for bad in ["ftp://x", "https://", "https://h:99999/", "https://user@h/"] {
            assert!(check(bad, true).is_err(), "{bad}");
        }
    }
}
