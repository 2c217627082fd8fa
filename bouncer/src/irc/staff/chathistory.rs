//! History on request: `CHATHISTORY` (draft/chathistory) and read markers
//! (`MARKREAD`, draft/read-marker), answered from the store.

use super::Staff;
use crate::irc::chathistory::{self, Fail, Query, Ref};
use crate::irc::conn::ClientId;
use crate::irc::tags::{parse_timestamp, timestamp_ms as stamp};
use crate::store::history::{Anchor, Line};
use crate::store::StoreError;

impl Staff {
    /// The stored conversation behind a channel name, if any.
    fn conversation_of(&mut self, channel: &str) -> Result<Option<i64>, StoreError> {
        if let Some(c) = self.conversation_ids.get(&channel.to_ascii_lowercase()) {
            return Ok(Some(*c));
        }
        self.store.find_conversation(channel)
    }

    pub(super) fn chathistory(&mut self, id: ClientId, params: &[String]) {
        let server = self.server().to_owned();
        let query = match chathistory::parse(params) {
            Ok(q) => q,
            Err(f) => return self.send(id, f.line(&server)),
        };
        let sub = params.first().map(|s| s.to_ascii_uppercase()).unwrap_or_default();
        match self.answer(&query, &sub) {
            Ok(Answer::Lines(target, lines)) => self.send_batch(id, &target, &lines),
            Ok(Answer::Targets(targets)) => {
                let reference = self.batch_ids.fresh();
                self.push(
                    id,
                    format!(":{server} BATCH +{reference} draft/chathistory-targets").into(),
                );
                for (channel, last) in targets {
                    let line = format!(
                        "@batch={reference} :{server} CHATHISTORY TARGETS {channel} {}",
                        stamp(last)
                    );
                    self.push(id, line.into());
                }
                self.push(id, format!(":{server} BATCH -{reference}").into());
            }
            Err(f) => self.send(id, f.line(&server)),
        }
    }

    fn answer(&mut self, query: &Query, sub: &str) -> Result<Answer, Fail> {
        let target = match query {
            Query::Targets {
                from_ms,
                to_ms,
                limit,
            } => {
                let t = self
                    .store
                    .targets(*from_ms, *to_ms, *limit)
                    .map_err(|e| Fail::message_error(sub, "*", &e.to_string()))?;
                return Ok(Answer::Targets(t));
            }
            Query::Before { target, .. }
            | Query::After { target, .. }
            | Query::Latest { target, .. }
            | Query::Around { target, .. }
            | Query::Between { target, .. } => target.clone(),
        };
        let store_err = |e: StoreError| Fail::message_error(sub, &target, &e.to_string());
        let conversation = self
            .conversation_of(&target)
            .map_err(store_err)?
            .ok_or_else(|| Fail::invalid_target(sub, &target, "no history for that target"))?;
        // A msgid must belong to this conversation.
        let anchor = |s: &Self, r: &Ref| -> Result<Anchor, Fail> {
            match r {
                Ref::Time(t) => Ok(Anchor::Time(*t)),
                Ref::MsgId(m) => match s.store.find_msgid(m).map_err(store_err)? {
                    Some((row, c)) if c == conversation => Ok(Anchor::Message(row)),
                    _ => Err(Fail::invalid_params(
                        sub,
                        &format!("unknown msgid {m} in {target}"),
                    )),
                },
            }
        };
        let lines = match query {
            Query::Before { at, limit, .. } => {
                self.store.before(conversation, Some(anchor(self, at)?), *limit)
            }
            Query::After { at, limit, .. } => self.store.after(conversation, anchor(self, at)?, *limit),
            Query::Latest { since, limit, .. } => {
                let since = since.as_ref().map(|r| anchor(self, r)).transpose()?;
                self.store.latest(conversation, since, *limit)
            }
            Query::Between { from, to, limit, .. } => {
                self.store
                    .between(conversation, anchor(self, from)?, anchor(self, to)?, *limit)
            }
            Query::Around { at, limit, .. } => {
                let a = anchor(self, at)?;
                self.around(conversation, a, *limit)
            }
            Query::Targets { .. } => Ok(Vec::new()),
        }
        .map_err(store_err)?;
        Ok(Answer::Lines(target, lines))
    }

    /// About half before the anchor, the anchor itself (a message), the
    /// rest after.
    fn around(&self, conversation: i64, at: Anchor, limit: usize) -> Result<Vec<Line>, StoreError> {
        let mut out = self.store.before(conversation, Some(at), limit / 2)?;
        if let Anchor::Message(row) = at {
            out.extend(
                self.store
                    .lines_after(conversation, row - 1, 1)?
                    .into_iter()
                    .filter(|l| l.id == row),
            );
        }
        let rest = limit.saturating_sub(out.len());
        if rest > 0 {
            out.extend(self.store.after(conversation, at, rest)?);
        }
        Ok(out)
    }

    /// A `chathistory` batch, even when empty (so the client stops waiting).
    fn send_batch(&mut self, id: ClientId, target: &str, lines: &[Line]) {
        let has_batch = self.clients.get(&id).is_some_and(|c| c.caps.contains("batch"));
        if has_batch && lines.is_empty() {
            let server = self.server().to_owned();
            let reference = self.batch_ids.fresh();
            self.push(
                id,
                format!(":{server} BATCH +{reference} chathistory {target}").into(),
            );
            self.push(id, format!(":{server} BATCH -{reference}").into());
            return;
        }
        self.send_history(id, target, lines);
    }

    /// `MARKREAD <target> [timestamp=…]`: set (forward only) or ask.
    pub(super) fn markread(&mut self, id: ClientId, nick: &str, params: &[String]) {
        let server = self.server().to_owned();
        let fail = |code: &str, text: &str| format!(":{server} FAIL MARKREAD {code} :{text}");
        let Some(target) = params.first().cloned() else {
            return self.send(id, fail("NEED_MORE_PARAMS", "MARKREAD <target> [timestamp=…]"));
        };
        let conversation = match self.conversation_of(&target) {
            Ok(Some(c)) => c,
            Ok(None) => return self.send(id, fail("INVALID_PARAMS", &format!("no history for {target}"))),
            Err(e) => return self.send(id, fail("INTERNAL_ERROR", &e.to_string())),
        };
        match params.get(1) {
            None => {
                let marker = self.store.read_marker(nick, conversation).ok().flatten();
                let line = self.markread_line(&target, marker);
                self.send(id, line);
            }
            Some(t) => {
                let Some(ms) = t.strip_prefix("timestamp=").and_then(parse_timestamp) else {
                    return self.send(
                        id,
                        fail(
                            "INVALID_PARAMS",
                            "MARKREAD <target> timestamp=YYYY-MM-DDThh:mm:ss.sssZ",
                        ),
                    );
                };
                match self.store.set_read_marker(nick, conversation, ms) {
                    Ok(now) => {
                        // Every device of the user learns the marker in force.
                        let line = self.markread_line(&target, Some(now));
                        let devices: Vec<ClientId> = self
                            .clients
                            .iter()
                            .filter(|(_, c)| c.nick == nick && c.caps.contains("draft/read-marker"))
                            .map(|(cid, _)| *cid)
                            .collect();
                        for cid in devices {
                            self.send(cid, line.clone());
                        }
                    }
                    Err(e) => self.send(id, fail("INTERNAL_ERROR", &e.to_string())),
                }
            }
        }
    }

    fn markread_line(&self, target: &str, marker: Option<i64>) -> String {
        let value = marker.map_or("*".to_owned(), |ms| format!("timestamp={}", stamp(ms)));
        format!(":{} MARKREAD {target} {value}", self.server())
    }

    /// After a JOIN: the user's read marker there, for read-marker clients.
    pub(super) fn markread_after_join(&mut self, id: ClientId, channel: &str) {
        let Some(c) = self.clients.get(&id) else { return };
        if !c.caps.contains("draft/read-marker") {
            return;
        }
        let nick = c.nick.clone();
        let Ok(Some(conversation)) = self.conversation_of(channel) else {
            return;
        };
        let marker = self.store.read_marker(&nick, conversation).ok().flatten();
        let line = self.markread_line(channel, marker);
        self.send(id, line);
    }
}

enum Answer {
    Lines(String, Vec<Line>),
    Targets(Vec<(String, i64)>),
}
