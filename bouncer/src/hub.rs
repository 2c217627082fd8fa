//! The bouncer's main loop: the single owner of shared state. It drains
//! typed events — signals, the supervisor's updates, the watchdog tick —
//! one at a time; nothing else changes state.

use std::path::PathBuf;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config};
use crate::supervisor::{Control, Supervisor, Update, WorkerState};
use crate::systemd;

/// SIGTERM must end the process within 5 s; the supervisor gets this long
/// to see the worker out before it is aborted (which kills the worker).
const SHUTDOWN_BUDGET: Duration = Duration::from_secs(4);

pub struct Hub {
    config_path: PathBuf,
    worker_state: WorkerState,
    control: mpsc::Sender<Control>,
    /// The current TLS certificate for new IRC connections.
    tls: Option<tokio::sync::watch::Sender<tokio_rustls::TlsAcceptor>>,
}

/// At most this many worker updates share one store transaction.
const GROUP_COMMIT: usize = 256;

pub async fn run(config_path: PathBuf, config: Config) -> anyhow::Result<()> {
    // The store is up before we say READY (a broken database stops us here).
    let store = crate::store::Store::open(&config.store_path)?;
    tracing::info!(
        "store {} (schema version {})",
        config.store_path.display(),
        store.schema_version()?
    );
    // Listeners are up before READY too (a taken port stops us here).
    let listeners = crate::irc::server::listen(&config.irc.listen, "IRC").await?;
    let auth = crate::irc::auth::Auth::start(config.store_path.clone());
    let (irc_tx, mut irc_rx) = mpsc::channel(1024);
    for l in listeners {
        crate::irc::server::spawn_accept(l, config.irc.server_name.clone(), auth.clone(), irc_tx.clone());
    }
    let mut tls = None;
    if let (false, Some(cert), Some(key)) = (
        config.irc.tls_listen.is_empty(),
        &config.irc.tls_cert,
        &config.irc.tls_key,
    ) {
        let acceptor = crate::irc::tls::acceptor(cert, key).map_err(|e| anyhow::anyhow!(e))?;
        let (tx, rx) = tokio::sync::watch::channel(acceptor);
        for l in crate::irc::server::listen(&config.irc.tls_listen, "IRC (TLS)").await? {
            crate::irc::server::spawn_accept_tls(
                l,
                rx.clone(),
                config.irc.server_name.clone(),
                auth.clone(),
                irc_tx.clone(),
            );
        }
        tls = Some(tx);
    }
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sighup = signal(SignalKind::hangup())?;

    let (updates_tx, mut updates) = mpsc::channel(256);
    let (control_tx, control_rx) = mpsc::channel(1024);
    let shutdown = CancellationToken::new();
    let mut staff = crate::irc::staff::Staff::new(
        config.irc.clone(),
        store,
        config.store_path.clone(),
        control_tx.clone(),
    );
    // Often enough to close idle conversations on time.
    let housekeeping_every =
        (config.irc.idle_close / 2).clamp(Duration::from_secs(1), Duration::from_secs(30));
    let mut supervisor =
        tokio::spawn(Supervisor::new(config, updates_tx, control_rx, shutdown.clone()).run());
    let mut hub = Hub {
        config_path,
        worker_state: WorkerState::Starting,
        control: control_tx,
        tls,
    };

    let watchdog_period = systemd::watchdog_period();
    let mut housekeeping = tokio::time::interval(housekeeping_every);
    let mut watchdog = tokio::time::interval(watchdog_period.unwrap_or(Duration::from_secs(3600)));
    tracing::info!("msnbnc {} running", env!("CARGO_PKG_VERSION"));
    systemd::ready();

    loop {
        tokio::select! {
            _ = sigterm.recv() => { tracing::info!("SIGTERM: shutting down"); break; }
            _ = sigint.recv() => { tracing::info!("SIGINT: shutting down"); break; }
            _ = sighup.recv() => hub.reload(),
            Some(update) = updates.recv() => {
                staff.on_update(&update);
                hub.on_update(update);
                // Group commit: whatever else the worker already sent goes
                // into the same transaction, then it is all shown.
                for _ in 0..GROUP_COMMIT {
                    let Ok(update) = updates.try_recv() else { break };
                    staff.on_update(&update);
                    hub.on_update(update);
                }
                staff.finish_batch();
            }
            Some(event) = irc_rx.recv() => {
                staff.on_event(event);
                staff.finish_batch();
            }
            _ = housekeeping.tick() => {
                staff.tick(std::time::Instant::now());
                staff.finish_batch();
            }
            _ = watchdog.tick(), if watchdog_period.is_some() => systemd::watchdog(),
            _ = &mut supervisor => {
                anyhow::bail!("the worker supervisor stopped unexpectedly");
            }
        }
    }

    systemd::stopping();
    staff.shutdown();
    shutdown.cancel();
    let finished = tokio::time::timeout(SHUTDOWN_BUDGET, async {
        // Keep draining so the supervisor never blocks on a full channel.
        loop {
            tokio::select! {
                biased;
                Some(update) = updates.recv() => hub.on_update(update),
                _ = &mut supervisor => break,
            }
        }
    })
    .await;
    if finished.is_err() {
        tracing::warn!("worker supervisor did not stop in time; killing the worker");
        supervisor.abort();
    }
    // Whatever it said last (its final state) is still worth reporting.
    while let Ok(update) = updates.try_recv() {
        hub.on_update(update);
    }
    tracing::info!("stopped");
    Ok(())
}

impl Hub {
    fn on_update(&mut self, update: Update) {
        match update {
            Update::State(state) => {
                if state != self.worker_state {
                    tracing::info!("worker state: {state}");
                    systemd::status(&state.to_string());
                    self.worker_state = state;
                }
            }
            Update::Event(event) => match describe(&event) {
                Some(text) => tracing::info!("msn: {text}"),
                None => tracing::debug!(?event, "worker event"),
            },
            Update::CommandResult { id, result } => tracing::debug!(id, ?result, "command result"),
        }
    }

    /// SIGHUP: re-read the configuration. A broken file keeps the old one.
    fn reload(&mut self) {
        systemd::reloading();
        match config::load(&self.config_path) {
            Ok(new) => {
                tracing::info!("configuration reloaded from {}", self.config_path.display());
                // A renewed certificate applies to new connections at once.
                if let (Some(tx), Some(cert), Some(key)) = (&self.tls, &new.irc.tls_cert, &new.irc.tls_key) {
                    match crate::irc::tls::acceptor(cert, key) {
                        Ok(a) => {
                            let _ = tx.send(a);
                            tracing::info!("TLS certificate reloaded from {}", cert.display());
                        }
                        Err(e) => tracing::error!("keeping the old TLS certificate: {e}"),
                    }
                }
                // Never block the hub on the supervisor.
                if self
                    .control
                    .try_send(Control::Reconfigure(Box::new(new)))
                    .is_err()
                {
                    tracing::error!("the supervisor is busy; reload again in a moment");
                }
            }
            Err(errors) => {
                tracing::error!("configuration reload failed; keeping the running configuration:\n{errors}");
                systemd::status(&format!(
                    "reload failed: {}",
                    errors.0.first().map(ToString::to_string).unwrap_or_default()
                ));
            }
        }
        systemd::ready();
    }
}

/// A one-line account of what happened on MSN, for the log (until staff
/// see it over IRC). Strings come from the worker: sanitised.
fn describe(event: &ipc::Event) -> Option<String> {
    use crate::supervisor::worker::untrusted as u;
    use ipc::Event as E;
    Some(match event {
        E::SignedIn {
            account,
            friendly_name,
            protocol,
        } => {
            format!(
                "signed in as {} ({}) with MSNP{protocol}",
                u(account),
                u(friendly_name)
            )
        }
        E::Roster { contacts, groups } => format!("{} contacts in {} groups", contacts.len(), groups.len()),
        E::Presence {
            handle,
            personal_message: Some(psm),
            ..
        } => format!("{}'s personal message: {:?}", u(handle), u(psm)),
        E::Presence { handle, status, .. } => format!("{} is {status:?}", u(handle)),
        E::ConversationJoined {
            conversation, handle, ..
        } => {
            format!("{} joined conversation {conversation}", u(handle))
        }
        E::ConversationLeft { conversation, handle } => {
            format!("{} left conversation {conversation}", u(handle))
        }
        E::Message {
            conversation,
            from,
            text,
            ..
        } => format!("<{}> in conversation {conversation}: {}", u(from), u(text)),
        E::Nudge { from, .. } => format!("{} sent a nudge", u(from)),
        E::AddRequest { handle, .. } => format!("{} wants to add the account", u(handle)),
        E::Notice(text) => u(text),
        E::Delivery { command_id, outcome } => format!("message {command_id}: {outcome:?}"),
        _ => return None,
    })
}
