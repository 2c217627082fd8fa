//! Arbitrary lines sent to `*msn`, as staff and as an administrator,
//! through the command table's parser and the argument parsers of single
//! commands. A row is only ever chosen with the words it needs and for
//! someone allowed to run it; words never hold whitespace.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msnbnc::config::parse_status;
use msnbnc::hub::service::{help, history_lines, parse, signature_wanted, Args};

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    for admin in [false, true] {
        match parse(line, admin) {
            Ok((spec, args)) => {
                assert!(admin || !spec.admin, "{line:?} ran {} for staff", spec.name);
                assert!(args.count() >= spec.args, "{line:?}: {args:?}");
            }
            Err(answer) => assert!(!answer.contains(['\r', '\n', '\0']), "{answer:?}"),
        }
        for text in help(line, admin) {
            assert!(!text.contains(['\r', '\n', '\0']), "{text:?}");
        }
    }
    let args = Args(line);
    let count = args.count();
    for i in 0..=count {
        let word = args.word(i);
        assert_eq!(word.is_empty(), i == count, "{line:?} word {i}");
        assert!(!word.contains(char::is_whitespace), "{word:?}");
        assert!(line.ends_with(args.from(i)), "{line:?} from {i}");
    }
    if let Some(n) = history_lines(args.word(1)) {
        assert!((1..=500).contains(&n));
    }
    if let Ok(Some(Some(template))) = signature_wanted(line) {
        assert!(template.is_empty() || template.contains("{text}"), "{template:?}");
    }
    let _ = parse_status(args.word(0));
});
