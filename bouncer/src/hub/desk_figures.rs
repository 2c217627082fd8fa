//! The desk's figures for a period (`*msn stats`): conversations, how fast
//! staff first answered (median and 90th percentile), how long until
//! resolved, lines per conversation — for the team and per staff member.
//! Percentiles are nearest-rank: the value at rank ⌈p·n⌉ of the sorted
//! times, so every figure is a time that really happened.

use std::collections::BTreeMap;

use super::desk_state::duration_words;
use crate::store::stats_rows::{ConversationFacts, StaffFacts};

/// The value at nearest rank `p` (0 < p ≤ 1) of `sorted`.
pub fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// `median 1 min, 90th percentile 6 min (5)`, or `none yet`.
fn spread(mut times: Vec<i64>) -> String {
    times.sort_unstable();
    match (percentile(&times, 0.5), percentile(&times, 0.9)) {
        (Some(m), Some(p)) => format!(
            "median {}, 90th percentile {} ({})",
            duration_words(m),
            duration_words(p),
            times.len()
        ),
        _ => "none yet".into(),
    }
}

/// The figures as lines for staff.
pub fn figures(title: &str, conversations: &[ConversationFacts], staff: &[StaffFacts]) -> Vec<String> {
    let n = conversations.len();
    let resolved = conversations.iter().filter(|c| c.resolved_ms.is_some()).count();
    let mut out = vec![format!("{title}: {n} conversation(s), {resolved} resolved")];
    let responses: Vec<i64> = conversations
        .iter()
        .filter_map(|c| Some(c.first_answer.as_ref()?.0 - c.first_customer_ms?))
        .collect();
    out.push(format!("first response: {}", spread(responses)));
    let resolutions: Vec<i64> = conversations
        .iter()
        .filter_map(|c| Some(c.resolved_ms? - c.first_customer_ms?))
        .collect();
    out.push(format!("resolution: {}", spread(resolutions)));
    if n > 0 {
        let customer: i64 = conversations.iter().map(|c| c.customer_lines).sum();
        let staff_lines: i64 = conversations.iter().map(|c| c.staff_lines).sum();
        let per = |x: i64| x as f64 / n as f64;
        out.push(format!(
            "lines per conversation: {:.1} ({:.1} from customers, {:.1} from staff)",
            per(customer + staff_lines),
            per(customer),
            per(staff_lines)
        ));
    }
    // Per staff member: a first response is credited to who gave it, a
    // resolution to who resolved.
    let mut firsts: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    let mut resolved: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for c in conversations {
        if let (Some((at, who)), Some(asked)) = (&c.first_answer, c.first_customer_ms) {
            firsts.entry(who.as_str()).or_default().push(at - asked);
        }
        if let (Some(at), Some(who), Some(asked)) = (c.resolved_ms, &c.resolved_by, c.first_customer_ms) {
            resolved.entry(who.as_str()).or_default().push(at - asked);
        }
    }
    for s in staff {
        let per = s.lines as f64 / s.conversations.max(1) as f64;
        out.push(format!(
            "{}: {} line(s) in {} conversation(s), {per:.1} each; first response {}; resolution {}",
            s.nick,
            s.lines,
            s.conversations,
            spread(firsts.remove(s.nick.as_str()).unwrap_or_default()),
            spread(resolved.remove(s.nick.as_str()).unwrap_or_default())
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let t = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
        assert_eq!(percentile(&t, 0.5), Some(50));
        assert_eq!(percentile(&t, 0.9), Some(90));
        assert_eq!(percentile(&[7], 0.9), Some(7));
        assert_eq!(percentile(&[1, 2, 3], 0.5), Some(2));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
