//! Arbitrary CHATHISTORY parameters (split on newlines) through the
//! parser. A query keeps its limit within 1..=MAX_LIMIT; a refusal is one
//! well-formed FAIL line whose parameters are exactly the ones it means,
//! whatever the client sent.
#![no_main]

use irc_proto::Message;
use libfuzzer_sys::fuzz_target;
use msnbnc::irc::chathistory::{parse, Query, MAX_LIMIT};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let params: Vec<String> = text.split('\n').map(str::to_owned).collect();
    match parse(&params) {
        Ok(q) => {
            let limit = match &q {
                Query::Before { limit, .. }
                | Query::After { limit, .. }
                | Query::Latest { limit, .. }
                | Query::Around { limit, .. }
                | Query::Between { limit, .. }
                | Query::Targets { limit, .. } => *limit,
            };
            assert!((1..=MAX_LIMIT).contains(&limit), "{q:?}");
            let _ = q.target();
        }
        Err(fail) => {
            let line = fail.line("msnbnc");
            let m: Message = line.parse().unwrap_or_else(|e| panic!("{line:?}: {e}"));
            let (cmd, got) = msnbnc::irc::wire::params(&m);
            assert_eq!(cmd, "FAIL");
            let wanted = 4 + usize::from(fail.target.is_some());
            assert_eq!(got.len(), wanted, "{line:?}");
            assert_eq!(got.last(), Some(&fail.text), "{line:?}");
        }
    }
});
