//! `*msn send #bob LINK`: offer the customer a file uploaded here (for
//! IRC clients without the `soju.im/FILEHOST` upload; pasting the link
//! into the conversation does the same). Everyone in the channel sees who
//! sent what, with the link, kept in history; the transfer's progress
//! follows as notices (`hub/file_sending.rs`).

use super::account::customer_of;
use super::{notice, Args, Asker};
use crate::hub::{file_sending, Hub, Shown};
use crate::store::lines::Kind;

pub(super) fn send(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    let (id, channel, to) = match customer_of(hub, args.word(0), "send a file to") {
        Ok(found) => found,
        Err(why) => {
            notice(hub, asker.client, &why);
            return Ok(());
        }
    };
    let link = args.word(1);
    if let Err(why) = file_sending::offer(hub, id, to, &asker.nick, link) {
        notice(hub, asker.client, &format!("failed: send {channel}: {why}"));
        return Ok(());
    }
    let source = hub.user_prefix(&asker.nick);
    let text = format!("\x01ACTION sends a file: {link}\x01");
    let shown = Shown {
        kind: Kind::Staff,
        sender: &asker.nick,
        source: &source,
        command: "PRIVMSG",
        target: &channel,
        text: &text,
        account: Some(&asker.nick),
        client_tags: &[],
    };
    hub.show(shown, None);
    Ok(())
}
