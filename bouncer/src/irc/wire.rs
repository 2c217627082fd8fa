//! A uniform view of a parsed message — command name and parameters —
//! and the formatting of server replies.

use irc_proto::Message;

/// The command name (upper-cased) and its parameters, whatever variant
/// irc-proto parsed it into.
pub fn params(m: &Message) -> (String, Vec<String>) {
    let line = String::from(&m.command);
    let mut rest = line.as_str();
    let mut out = Vec::new();
    while !rest.is_empty() {
        if let Some(trailing) = rest.strip_prefix(':') {
            out.push(trailing.to_owned());
            break;
        }
        match rest.split_once(' ') {
            Some((p, r)) => {
                if !p.is_empty() {
                    out.push(p.to_owned());
                }
                rest = r;
            }
            None => {
                out.push(rest.to_owned());
                break;
            }
        }
    }
    let name = if out.is_empty() {
        String::new()
    } else {
        out.remove(0).to_ascii_uppercase()
    };
    (name, out)
}

/// The value of a message tag.
pub fn tag<'a>(m: &'a Message, name: &str) -> Option<&'a str> {
    m.tags
        .as_ref()?
        .iter()
        .find(|t| t.0 == name)
        .and_then(|t| t.1.as_deref())
}

/// A client's client-only tags (`+name[=value]`), to relay to other
/// clients as they came.
pub fn client_tags(m: &Message) -> Vec<(String, String)> {
    m.tags
        .iter()
        .flatten()
        .filter(|t| t.0.starts_with('+') && t.0.len() > 1)
        .map(|t| (t.0.clone(), t.1.clone().unwrap_or_default()))
        .collect()
}

/// `p` if it can stand as a middle parameter as it is; `*` otherwise (a
/// client's trailing parameter — `MODE :a b` — echoed back in the middle
/// would become two parameters, or a trailing one).
pub fn middle(p: &str) -> &str {
    let fits = !p.is_empty() && !p.starts_with(':') && !p.contains([' ', '\r', '\n', '\0']);
    if fits {
        p
    } else {
        "*"
    }
}

/// `:server CODE target params… :trailing`. The last parameter always gets
/// a colon, which every client accepts; the others go through [`middle`].
pub fn reply(server: &str, code: &str, target: &str, params: &[&str]) -> String {
    let mut line = format!(":{server} {code} {}", middle(target));
    for (i, p) in params.iter().enumerate() {
        line.push(' ');
        if i + 1 == params.len() {
            line.push(':');
            line.push_str(p);
        } else {
            line.push_str(middle(p));
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_of_typed_and_raw_commands() {
        let m: Message = "CAP LS 302".parse().unwrap();
        assert_eq!(params(&m), ("CAP".into(), vec!["LS".into(), "302".into()]));
        let m: Message = "privmsg #bob :hello there".parse().unwrap();
        assert_eq!(
            params(&m),
            ("PRIVMSG".into(), vec!["#bob".into(), "hello there".into()])
        );
        let m: Message = "PRIVMSG #bob".parse().unwrap();
        assert_eq!(params(&m), ("PRIVMSG".into(), vec!["#bob".into()]));
        let m: Message = "FOO a b :c d".parse().unwrap();
        assert_eq!(
            params(&m),
            ("FOO".into(), vec!["a".into(), "b".into(), "c d".into()])
        );
    }

    #[test]
    fn replies_put_a_colon_before_the_last_parameter() {
        assert_eq!(
            reply("msnbnc", "001", "alice", &["Welcome"]),
            ":msnbnc 001 alice :Welcome"
        );
        assert_eq!(
            reply("s", "433", "*", &["bob", "Nickname is already in use"]),
            ":s 433 * bob :Nickname is already in use"
        );
    }

    #[test]
    fn an_echoed_parameter_with_a_space_cannot_add_parameters() {
        assert_eq!(
            reply("s", "403", "alice", &["#a b", "No such channel"]),
            ":s 403 alice * :No such channel"
        );
        assert_eq!(reply("s", "401", "alice", &[":x", "No"]), ":s 401 alice * :No");
        assert_eq!(reply("s", "401", "", &["bob", "No"]), ":s 401 * bob :No");
    }
}
