//! Contact-list edits, spelled per dialect: `ADD`/`REM` by address up to
//! MSNP9, `ADC`/`REM` from MSNP10 (the forward list by GUID). An edit is a
//! sequence of steps; putting a contact on lists it is not on and taking
//! it off lists it is on, in an order that respects AL and BL excluding
//! each other.

use super::super::escape;
use super::super::roster::{Roster, AL, BL, FL, PL};
use super::transactions::Pending;

/// One command of an edit: name and arguments.
pub type Step = (&'static str, Vec<String>);

pub fn bit(list: &str) -> u8 {
    match list {
        "FL" => FL,
        "AL" => AL,
        _ => BL,
    }
}

/// Puts `handle` on `list`.
pub fn add(dialect: u8, list: &str, handle: &str) -> Step {
    if dialect >= 10 {
        let mut args = vec![list.to_owned(), format!("N={handle}")];
        if list == "FL" {
            args.push(format!("F={}", escape::encode(handle)));
        }
        ("ADC", args)
    } else {
        // ADD <t> FL <email> <nick>, but ADD <t> AL <email> <email>.
        let second = match list {
            "FL" => escape::encode(handle),
            _ => handle.to_owned(),
        };
        ("ADD", vec![list.to_owned(), handle.to_owned(), second])
    }
}

/// Takes `handle` off `list`.
pub fn remove(dialect: u8, roster: &Roster, list: &str, handle: &str) -> Step {
    let target = match list == "FL" && dialect >= 10 {
        true => roster
            .guids
            .get(&Roster::key(handle))
            .cloned()
            .unwrap_or_else(|| handle.to_owned()),
        false => handle.to_owned(),
    };
    ("REM", vec![list.to_owned(), target])
}

/// Takes `handle` off the `off` lists it is on, then puts it on the `on`
/// lists it is not on; the roster is updated as if the server agreed.
pub fn move_lists(dialect: u8, roster: &mut Roster, handle: &str, off: &[&str], on: &[&str]) -> Vec<Step> {
    let lists = roster.lists(handle);
    let mut steps = Vec::new();
    let (mut added, mut removed) = (0, 0);
    for list in off {
        removed |= bit(list);
        if lists & bit(list) != 0 {
            steps.push(remove(dialect, roster, list, handle));
        }
    }
    for list in on {
        added |= bit(list);
        if lists & bit(list) == 0 {
            steps.push(add(dialect, list, handle));
        }
    }
    roster.set_lists(handle, added, removed);
    steps
}

/// Accepts someone who added us: allow (AL), subscribe (FL), and clear
/// the pending bit.
pub fn accept(dialect: u8, roster: &mut Roster, handle: &str) -> Vec<Step> {
    let lists = roster.lists(handle);
    let mut steps = Vec::new();
    if lists & AL == 0 {
        steps.push(add(dialect, "AL", handle));
    }
    if lists & FL == 0 {
        steps.push(add(dialect, "FL", handle));
    }
    if lists & PL != 0 && dialect >= 10 {
        steps.push(("REM", vec!["PL".into(), handle.to_owned()]));
    }
    roster.set_lists(handle, AL | FL, PL);
    steps
}

/// The steps of an edit with what each transaction is for: the last step
/// of bouncer command `id` answers it; without one, they are our own.
pub fn numbered(
    steps: Vec<Step>,
    id: Option<u64>,
    what: &'static str,
) -> Vec<(&'static str, Vec<String>, Pending)> {
    let n = steps.len();
    steps
        .into_iter()
        .enumerate()
        .map(|(i, (cmd, args))| {
            let pending = match id {
                Some(id) => Pending::Command { id, last: i + 1 == n },
                None => Pending::Internal(what),
            };
            (cmd, args, pending)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_are_spelled_per_dialect_and_only_what_is_needed() {
        assert_eq!(
            add(8, "AL", "bob@x.y"),
            ("ADD", vec!["AL".into(), "bob@x.y".into(), "bob@x.y".into()])
        );
        assert_eq!(add(12, "FL", "bob@x.y").0, "ADC");
        let mut roster = Roster::default();
        let block = move_lists(12, &mut roster, "bob@x.y", &["AL"], &["BL"]);
        assert_eq!(block.len(), 1, "not on AL: only the BL step");
        assert_eq!(roster.lists("bob@x.y") & BL, BL);
        let unblock = move_lists(12, &mut roster, "bob@x.y", &["BL"], &["AL"]);
        assert_eq!(unblock.iter().map(|s| s.0).collect::<Vec<_>>(), ["REM", "ADC"]);
        assert_eq!(
            accept(12, &mut roster, "bob@x.y").len(),
            1,
            "already allowed: subscribe only"
        );
    }
}
