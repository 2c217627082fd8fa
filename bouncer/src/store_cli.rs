//! `msnbnc store …`: the history store's size, and pruning it by the
//! configured retention policy.

use clap::Subcommand;

use crate::config::Config;
use crate::store::Store;

#[derive(Subcommand)]
pub enum StoreAction {
    /// Size, lines, conversations and the oldest line.
    Stats,
    /// Delete what [store] retention_days / retention_lines no longer keep.
    Prune,
}

/// One line of figures, for the CLI and `*msn store`.
pub fn describe(stats: &crate::store::retention::Stats) -> String {
    let oldest = stats
        .oldest_ms
        .map_or("none".to_owned(), crate::irc::tags::timestamp_ms);
    format!(
        "{:.1} MiB, {} lines in {} conversations, oldest {oldest}",
        stats.bytes as f64 / 1_048_576.0,
        stats.messages,
        stats.conversations
    )
}

/// Prunes everything the policy no longer keeps; returns how many lines.
pub fn prune_all(
    store: &mut Store,
    policy: &crate::store::retention::Retention,
) -> Result<usize, crate::store::StoreError> {
    const BATCH: usize = 5_000;
    let now = crate::store::now_ms();
    let mut total = 0;
    loop {
        let n = store.prune(policy, now, BATCH)?;
        total += n;
        if n < BATCH {
            return Ok(total);
        }
    }
}

pub fn run(config: &Config, action: StoreAction) -> anyhow::Result<()> {
    let mut store = Store::open(&config.store.path)?;
    match action {
        StoreAction::Stats => println!("{}: {}", config.store.path.display(), describe(&store.stats()?)),
        StoreAction::Prune => {
            let policy = config.store.retention;
            if policy.is_forever() {
                println!("retention keeps everything ([store] retention_days and retention_lines are 0): nothing to prune");
                return Ok(());
            }
            let n = prune_all(&mut store, &policy)?;
            println!("pruned {n} lines; now {}", describe(&store.stats()?));
        }
    }
    Ok(())
}
