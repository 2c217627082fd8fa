//! MSNP error codes: what they mean and what to do about them (msnp.md §1.8, §7.2).

use ipc::FailureKind;

pub fn describe(code: u16) -> &'static str {
    match code {
        200 => "syntax error",
        201 => "invalid parameter",
        205 | 208 => "no such account",
        206 => "domain name missing",
        207 => "already logged in",
        209 => "nickname change not allowed",
        210 => "list full",
        215 => "already in the list",
        216 => "not in the list (or the contact blocks us)",
        217 => "contact is offline",
        218 => "already in that mode",
        219 => "contact is in the opposite list",
        223 => "too many groups",
        224 | 231 => "invalid group",
        280 => "switchboard failed",
        281 => "transfer to switchboard failed",
        282 => "bad P2P data",
        300 => "required field missing",
        302 => "not logged in",
        500 => "internal server error",
        501 => "database server error",
        502 => "command disabled",
        540 => "challenge response failed",
        600 => "server is busy",
        601 | 605 => "server is unavailable",
        602 => "peer notification server down",
        603 => "database connection failed",
        604 => "server going down",
        707 => "could not create connection",
        710 => "bad CVR parameters",
        711 => "write is blocking",
        712 => "session overloaded",
        713 => "calling too rapidly",
        714 => "too many sessions",
        715 | 731 => "not expected",
        717 => "bad friend file",
        800 => "changing too rapidly",
        910 | 912 | 918 | 919 | 921 | 922 => "server too busy",
        911 => "authentication failed",
        913 => "not allowed while offline or hidden",
        914..=916 => "server unavailable",
        917 => "authentication failed",
        920 => "not accepting new principals",
        923 => "kids' Passport without consent",
        924 => "Passport account not verified",
        928 => "bad ticket",
        _ => "unknown error",
    }
}

/// How a failed command is reported to the bouncer.
pub fn failure_kind(code: u16) -> FailureKind {
    match code {
        217 => FailureKind::ContactOffline,
        205 | 208 | 216 => FailureKind::NotOnList,
        201 | 206 | 209 | 213 | 219 | 224 | 229 | 231 => FailureKind::InvalidArgument,
        713 | 800 | 210 | 223 | 714 => FailureKind::Rejected,
        _ => FailureKind::ServerError,
    }
}

/// Errors that mean "nothing to do" for list edits.
pub fn is_harmless(code: u16) -> bool {
    matches!(code, 215 | 216 | 218)
}

/// Errors during login that retrying cannot fix.
pub fn login_fatal(code: u16) -> bool {
    matches!(code, 710 | 715 | 200 | 207 | 302 | 502 | 540 | 917 | 923 | 924)
}
