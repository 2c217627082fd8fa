//! `CHATHISTORY` (IRCv3 draft/chathistory), sans-IO: the command parsed
//! into a query, or the `FAIL` line it deserves.

use super::tags::parse_timestamp;
use super::wire::middle;

/// The most lines one request may ask for (ISUPPORT `CHATHISTORY=`).
pub const MAX_LIMIT: usize = 1000;

/// A message reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ref {
    MsgId(String),
    /// Milliseconds since the epoch.
    Time(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    Before {
        target: String,
        at: Ref,
        limit: usize,
    },
    After {
        target: String,
        at: Ref,
        limit: usize,
    },
    /// `since`: `None` for `*` (the newest lines).
    Latest {
        target: String,
        since: Option<Ref>,
        limit: usize,
    },
    Around {
        target: String,
        at: Ref,
        limit: usize,
    },
    Between {
        target: String,
        from: Ref,
        to: Ref,
        limit: usize,
    },
    Targets {
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    },
}

impl Query {
    /// The conversation a query is about (`*` for TARGETS).
    pub fn target(&self) -> &str {
        match self {
            Query::Before { target, .. }
            | Query::After { target, .. }
            | Query::Latest { target, .. }
            | Query::Around { target, .. }
            | Query::Between { target, .. } => target,
            Query::Targets { .. } => "*",
        }
    }
}

/// A refusal, as `FAIL CHATHISTORY <code> <subcommand> [<target>] :<text>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fail {
    pub code: &'static str,
    pub subcommand: String,
    pub target: Option<String>,
    pub text: String,
}

impl Fail {
    /// The subcommand and target are the client's own words, echoed as
    /// middle parameters: see [`middle`].
    pub fn line(&self, server: &str) -> String {
        let target = self
            .target
            .as_ref()
            .map(|t| format!(" {}", middle(t)))
            .unwrap_or_default();
        format!(
            ":{server} FAIL CHATHISTORY {} {}{target} :{}",
            self.code,
            middle(&self.subcommand),
            self.text
        )
    }

    pub fn invalid_params(subcommand: &str, text: &str) -> Fail {
        Fail {
            code: "INVALID_PARAMS",
            subcommand: subcommand.to_owned(),
            target: None,
            text: text.to_owned(),
        }
    }

    pub fn invalid_target(subcommand: &str, target: &str, text: &str) -> Fail {
        Fail {
            code: "INVALID_TARGET",
            subcommand: subcommand.to_owned(),
            target: Some(target.to_owned()),
            text: text.to_owned(),
        }
    }

    pub fn message_error(subcommand: &str, target: &str, text: &str) -> Fail {
        Fail {
            code: "MESSAGE_ERROR",
            subcommand: subcommand.to_owned(),
            target: Some(target.to_owned()),
            text: text.to_owned(),
        }
    }
}

/// `msgid=…` or `timestamp=…`.
pub fn parse_ref(s: &str) -> Option<Ref> {
    if let Some(id) = s.strip_prefix("msgid=") {
        return (!id.is_empty()).then(|| Ref::MsgId(id.to_owned()));
    }
    parse_timestamp(s.strip_prefix("timestamp=")?).map(Ref::Time)
}

/// Parses the parameters after `CHATHISTORY`.
pub fn parse(params: &[String]) -> Result<Query, Fail> {
    let sub = params.first().map(|s| s.to_ascii_uppercase()).unwrap_or_default();
    let fail = |text: &str| Fail::invalid_params(if sub.is_empty() { "*" } else { &sub }, text);
    let limit = |i: usize| -> Result<usize, Fail> {
        match params.get(i).map(|l| l.parse::<usize>()) {
            Some(Ok(n)) if n > 0 => Ok(n.min(MAX_LIMIT)),
            _ => Err(fail("the limit must be a positive number")),
        }
    };
    let reference = |i: usize| -> Result<Ref, Fail> {
        params
            .get(i)
            .and_then(|r| parse_ref(r))
            .ok_or_else(|| fail("a reference is msgid=<id> or timestamp=<YYYY-MM-DDThh:mm:ss.sssZ>"))
    };
    let target = || -> Result<String, Fail> { params.get(1).cloned().ok_or_else(|| fail("no target")) };
    let expect = |n: usize| -> Result<(), Fail> {
        if params.len() == n {
            Ok(())
        } else {
            Err(fail(&format!("{sub} takes {} parameters", n - 1)))
        }
    };
    match sub.as_str() {
        "BEFORE" | "AFTER" | "AROUND" => {
            expect(4)?;
            let (target, at, limit) = (target()?, reference(2)?, limit(3)?);
            Ok(match sub.as_str() {
                "BEFORE" => Query::Before { target, at, limit },
                "AFTER" => Query::After { target, at, limit },
                _ => Query::Around { target, at, limit },
            })
        }
        "LATEST" => {
            expect(4)?;
            let since = match params.get(2).map(String::as_str) {
                Some("*") => None,
                _ => Some(reference(2)?),
            };
            Ok(Query::Latest {
                target: target()?,
                since,
                limit: limit(3)?,
            })
        }
        "BETWEEN" => {
            expect(5)?;
            Ok(Query::Between {
                target: target()?,
                from: reference(2)?,
                to: reference(3)?,
                limit: limit(4)?,
            })
        }
        "TARGETS" => {
            expect(4)?;
            let time = |i: usize| match reference(i)? {
                Ref::Time(t) => Ok(t),
                Ref::MsgId(_) => Err(fail("TARGETS takes timestamps")),
            };
            Ok(Query::Targets {
                from_ms: time(1)?,
                to_ms: time(2)?,
                limit: limit(3)?,
            })
        }
        "" => Err(Fail::invalid_params("*", "no subcommand")),
        other => Err(Fail::invalid_params(
            other,
            "unknown subcommand (BEFORE, AFTER, LATEST, AROUND, BETWEEN, TARGETS)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Result<Query, Fail> {
        parse(&line.split(' ').map(str::to_owned).collect::<Vec<_>>())
    }

    #[test]
    fn every_subcommand_parses() {
        assert_eq!(
            p("BEFORE #bob msgid=abc 50"),
            Ok(Query::Before {
                target: "#bob".into(),
                at: Ref::MsgId("abc".into()),
                limit: 50
            })
        );
        assert_eq!(
            p("latest #bob * 10"),
            Ok(Query::Latest {
                target: "#bob".into(),
                since: None,
                limit: 10
            })
        );
        assert!(matches!(
            p("AFTER #bob timestamp=2026-11-22T01:14:56.789Z 5"),
            Ok(Query::After {
                at: Ref::Time(1_795_310_096_789),
                ..
            })
        ));
        assert!(matches!(
            p("AROUND #bob msgid=x 9"),
            Ok(Query::Around { limit: 9, .. })
        ));
        assert!(matches!(
            p("BETWEEN #bob msgid=a timestamp=2026-11-22T01:14:56.789Z 3"),
            Ok(Query::Between { .. })
        ));
        assert_eq!(
            p("TARGETS timestamp=2026-11-22T00:00:00.000Z timestamp=2026-11-23T00:00:00.000Z 20"),
            Ok(Query::Targets {
                from_ms: 1_795_305_600_000,
                to_ms: 1_795_392_000_000,
                limit: 20
            })
        );
        // Limits above the maximum are clamped.
        assert!(matches!(
            p("LATEST #bob * 99999"),
            Ok(Query::Latest { limit: MAX_LIMIT, .. })
        ));
    }

    #[test]
    fn mistakes_are_invalid_params() {
        for (line, sub) in [
            ("FROB #bob * 10", "FROB"),
            ("BEFORE #bob msgid=x", "BEFORE"),
            ("BEFORE #bob yesterday 10", "BEFORE"),
            ("LATEST #bob * 0", "LATEST"),
            ("LATEST #bob * many", "LATEST"),
            ("BETWEEN #bob msgid=a 10", "BETWEEN"),
            ("TARGETS msgid=a timestamp=2026-11-22T00:00:00.000Z 1", "TARGETS"),
            ("AFTER #bob msgid= 1", "AFTER"),
        ] {
            let f = p(line).unwrap_err();
            assert_eq!((f.code, f.subcommand.as_str()), ("INVALID_PARAMS", sub), "{line}");
        }
        assert_eq!(
            Fail::invalid_target("LATEST", "#nope", "no such conversation").line("s"),
            ":s FAIL CHATHISTORY INVALID_TARGET LATEST #nope :no such conversation"
        );
        assert_eq!(parse(&[]).unwrap_err().subcommand, "*");
    }

    #[test]
    fn a_refusal_never_echoes_a_parameter_that_would_split() {
        let f = parse(&["frob :x y".to_owned()]).unwrap_err();
        assert_eq!(
            f.line("s"),
            ":s FAIL CHATHISTORY INVALID_PARAMS * :unknown subcommand (BEFORE, AFTER, LATEST, AROUND, BETWEEN, TARGETS)"
        );
        assert_eq!(
            Fail::invalid_target("LATEST", "#a b", "no such conversation").line("s"),
            ":s FAIL CHATHISTORY INVALID_TARGET LATEST * :no such conversation"
        );
    }
}
