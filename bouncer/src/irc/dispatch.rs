//! IRC commands dispatched from tables, as pounce and Sable do. Each phase
//! of a connection has its own table of rows — command, parameters
//! needed, handler — and a command is allowed in a phase exactly when that
//! phase's table has a row for it: [`crate::irc::registration`] holds the
//! table for registering clients, [`crate::hub::irc_commands`] the one
//! for registered clients. A row also says how to answer too few
//! parameters, so no handler checks that itself.

/// One command of a table.
pub struct Row<H> {
    pub name: &'static str,
    /// Parameters the command needs.
    pub params: usize,
    /// The answer when it has fewer.
    pub missing: Missing,
    pub handler: H,
}

/// How a command with too few parameters is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// `461 <command> :Not enough parameters`.
    NotEnough,
    /// This numeric and text (`{cmd}` in the text becomes the command).
    Reply(&'static str, &'static str),
}

/// Where a command goes.
pub enum Route<'a, H> {
    Run(&'a H),
    /// Too few parameters: answer with this numeric and these parameters.
    Missing(&'static str, Vec<String>),
    /// Not in this phase's table.
    Unknown,
}

/// Finds `command` (upper-cased) in `table`.
pub fn route<'a, H>(table: &'a [Row<H>], command: &str, params: usize) -> Route<'a, H> {
    let Some(row) = table.iter().find(|r| r.name == command) else {
        return Route::Unknown;
    };
    if params >= row.params {
        return Route::Run(&row.handler);
    }
    match row.missing {
        Missing::NotEnough => Route::Missing(
            "461",
            vec![command.to_owned(), "Not enough parameters".to_owned()],
        ),
        Missing::Reply(code, text) => Route::Missing(code, vec![text.replace("{cmd}", command)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &[Row<u8>] = &[
        Row {
            name: "JOIN",
            params: 1,
            missing: Missing::NotEnough,
            handler: 1,
        },
        Row {
            name: "PRIVMSG",
            params: 1,
            missing: Missing::Reply("411", "No recipient given ({cmd})"),
            handler: 2,
        },
    ];

    #[test]
    fn rows_route_and_answer_missing_parameters() {
        assert!(matches!(route(TABLE, "JOIN", 1), Route::Run(1)));
        assert!(
            matches!(route(TABLE, "JOIN", 0), Route::Missing("461", p) if p == ["JOIN", "Not enough parameters"])
        );
        assert!(
            matches!(route(TABLE, "PRIVMSG", 0), Route::Missing("411", p) if p == ["No recipient given (PRIVMSG)"])
        );
        assert!(matches!(route(TABLE, "FROB", 3), Route::Unknown));
    }
}
