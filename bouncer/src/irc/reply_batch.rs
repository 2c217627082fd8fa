//! IRCv3 `batch` and `labeled-response`, sans-IO: grouping lines that
//! belong together, and tagging the reply to a labelled command.

use super::tags::with_tag;

/// Batch reference tags: short, unique per connection lifetime.
#[derive(Debug, Default)]
pub struct BatchIds(u64);

impl BatchIds {
    pub fn fresh(&mut self) -> String {
        self.0 += 1;
        format!("b{}", self.0)
    }
}

/// `lines` as one batch of `kind` (with `params`): the opening line carries
/// `outer` tags (e.g. a label), every inner line the batch tag.
pub fn wrap(
    server: &str,
    reference: &str,
    kind: &str,
    params: &[&str],
    outer: Option<&str>,
    lines: Vec<String>,
) -> Vec<String> {
    let mut open = format!(":{server} BATCH +{reference} {kind}");
    for p in params {
        open.push(' ');
        open.push_str(p);
    }
    let mut out = Vec::with_capacity(lines.len() + 2);
    out.push(match outer {
        Some(tag) => with_tag(&open, tag),
        None => open,
    });
    let inner = format!("batch={reference}");
    out.extend(lines.iter().map(|l| with_tag(l, &inner)));
    out.push(format!(":{server} BATCH -{reference}"));
    out
}

/// The reply to a command that carried `label`, collected while the
/// command ran.
#[derive(Debug)]
pub struct Labeled {
    pub client: u64,
    pub label: String,
    pub lines: Vec<String>,
}

impl Labeled {
    /// What to send: `ACK` for no reply, the one line labelled, or a
    /// `labeled-response` batch (untagged lines if the client lacks `batch`).
    pub fn finish(self, server: &str, has_batch: bool, ids: &mut BatchIds) -> Vec<String> {
        let tag = format!("label={}", super::tags::escape(&self.label));
        match self.lines.len() {
            0 => vec![format!("@{tag} :{server} ACK")],
            1 => self.lines.iter().map(|l| with_tag(l, &tag)).collect(),
            _ if !has_batch => self.lines,
            _ => wrap(
                server,
                &ids.fresh(),
                "labeled-response",
                &[],
                Some(&tag),
                self.lines,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labeled(lines: &[&str]) -> Labeled {
        Labeled {
            client: 1,
            label: "abc".into(),
            lines: lines.iter().map(|l| (*l).to_owned()).collect(),
        }
    }

    #[test]
    fn a_reply_of_no_lines_is_an_ack() {
        let out = labeled(&[]).finish("s", true, &mut BatchIds::default());
        assert_eq!(out, vec!["@label=abc :s ACK"]);
    }

    #[test]
    fn a_reply_of_one_line_carries_the_label_beside_its_tags() {
        let out = labeled(&["@time=x :s PONG s :t"]).finish("s", true, &mut BatchIds::default());
        assert_eq!(out, vec!["@label=abc;time=x :s PONG s :t"]);
    }

    #[test]
    fn a_longer_reply_is_one_labelled_batch() {
        let mut ids = BatchIds::default();
        let out = labeled(&[":s 311 a b", ":s 318 a b :End"]).finish("s", true, &mut ids);
        assert_eq!(
            out,
            vec![
                "@label=abc :s BATCH +b1 labeled-response",
                "@batch=b1 :s 311 a b",
                "@batch=b1 :s 318 a b :End",
                ":s BATCH -b1",
            ]
        );
        // Without the batch capability the lines go out as they are.
        let out = labeled(&[":s 311 a b", ":s 318 a b :End"]).finish("s", false, &mut ids);
        assert_eq!(out, vec![":s 311 a b", ":s 318 a b :End"]);
    }
}
