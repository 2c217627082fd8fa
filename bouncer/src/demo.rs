//! `msnbnc demo`: the bouncer against the built-in MSN server simulator,
//! with customers who chat, so a newcomer sees the whole path work before
//! configuring a real server.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use msn_sim::{Customer, FileData, SimConfig, Simulator};

use crate::{config, daemon, supervisor};

const ACCOUNT: &str = "support@example.com";
const PASSWORD: &str = "demo password";
/// The staff login the demo creates.
const DEMO_USER: &str = "demo";
const DEMO_PASSWORD: &str = "demo";

fn demo_config(dir: &Path, sim: &Simulator, worker: &Path) -> String {
    let ports: Vec<String> = sim.ports().iter().map(u16::to_string).collect();
    format!(
        r#"# Written by `msnbnc demo`: the built-in simulator as the MSN server.
[account]
handle = "{ACCOUNT}"
password = "{PASSWORD}"

[msn]
servers = ["{server}"]
passport_nexus = "{nexus}"
ca_file = "{ca}"
# What Windows Live Messenger 2009 speaks: single sign-on, the contact
# list from the web services, several places of one account.
protocol_max = 18
web_services = "https://127.0.0.1:{https}"

[store]
path = "{store}"

[irc]
listen = ["{listen}"]

[worker]
path = "{worker}"
# Used only when the demo runs as root.
user = "nobody"
connect_ports = [{ports}]
# The worker logs as the bouncer does (RUST_LOG, else info).
log_filter = {log_filter:?}

[files]
# Files customers send, as links (bob sends a picture).
listen = "127.0.0.1:0"
"#,
        server = sim.server_addr(),
        nexus = sim.nexus_url(),
        https = sim.https_port(),
        ca = dir.join("ca.pem").display(),
        worker = worker.display(),
        store = dir.join("msnbnc.db").display(),
        listen = demo_listen(),
        ports = ports.join(", "),
        log_filter = worker_log_filter(),
    )
}

/// `RUST_LOG` if the worker can use it (as the bouncer does), else info.
fn worker_log_filter() -> String {
    std::env::var("RUST_LOG")
        .ok()
        .filter(|f| tracing_subscriber::EnvFilter::try_new(f).is_ok())
        .unwrap_or_else(|| "info".into())
}

/// 127.0.0.1:6667 if it is free (what IRC clients expect), else any port.
fn demo_listen() -> String {
    match std::net::TcpListener::bind("127.0.0.1:6667") {
        Ok(_) => "127.0.0.1:6667".into(),
        Err(_) => "127.0.0.1:0".into(),
    }
}

/// A 1×1 PNG, as bob's "screenshot".
const PICTURE: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00,
    0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05,
    0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42,
    0x60, 0x82,
];

/// Customers who come and go and ask things.
async fn chatter(sim: &Simulator, bob: Customer, carol: Customer) {
    if !sim
        .wait_until(Duration::from_secs(60), |s| s.is_online(ACCOUNT))
        .await
    {
        tracing::warn!("demo: the account did not sign in; customers stay quiet");
        return;
    }
    let script: [(&Customer, &str); 4] = [
        (
            &bob,
            "Hi! I ordered a blue lamp last week (order #1234). Where is it?",
        ),
        (&carol, "Hello, do you ship to Norway?"),
        (&bob, "Also, can I change the colour to green?"),
        (&carol, "Thanks, have a nice day!"),
    ];
    bob.sign_in("NLN");
    tokio::time::sleep(Duration::from_secs(2)).await;
    carol.sign_in("AWY");
    for round in 0u64.. {
        for (customer, line) in &script {
            tokio::time::sleep(Duration::from_secs(8)).await;
            if sim.status(customer.email()).as_deref() != Some("NLN") {
                customer.sign_in("NLN");
            }
            let _ = customer.typing(ACCOUNT).await;
            tokio::time::sleep(Duration::from_secs(2)).await;
            if let Err(e) = customer.say(ACCOUNT, &format!("{line} ({round})")).await {
                tracing::info!("demo: {} could not reach support: {e}", customer.email());
            }
            // After his first question, bob shows what he means.
            if round == 0 && customer.email() == bob.email() && line.contains("lamp") {
                let sent = customer
                    .send_file(ACCOUNT, "lamp-order.png", PICTURE, FileData::Honest)
                    .await;
                tracing::info!("demo: bob's picture: {sent:?}");
            }
        }
    }
}

/// Carol accepts every file staff send her (upload one, then write its
/// link in #carol or use `*msn send #carol LINK`).
async fn takes_files(carol: Customer) {
    loop {
        // A look at her inbox each second (not a busy wait for an hour).
        tokio::time::sleep(Duration::from_secs(1)).await;
        let answer = msn_sim::FileAnswer::Accept;
        match carol
            .receive_file(ACCOUNT, answer, Duration::from_millis(1))
            .await
        {
            Ok(f) => tracing::info!(
                "demo: carol received {} ({} bytes)",
                f.name,
                f.bytes.map_or(0, |b| b.len())
            ),
            Err(e) if e.to_string().contains("offered no file") => {}
            Err(e) => tracing::info!("demo: carol's file did not arrive: {e}"),
        }
    }
}

pub async fn run() -> anyhow::Result<()> {
    let sim = Simulator::start(
        SimConfig::default()
            .account(ACCOUNT, PASSWORD, "Example Shop Support")
            .customer("bob@example.com", "Bob")
            .customer("carol@example.com", "Carol")
            .friends(ACCOUNT, "bob@example.com")
            .friends(ACCOUNT, "carol@example.com"),
    )
    .await?;
    let dir = tempfile::Builder::new().prefix("msnbnc-demo-").tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
    std::fs::write(dir.path().join("ca.pem"), sim.ca_pem())?;
    // A copy of the worker where an unprivileged worker user can run it,
    // wherever this checkout lives.
    let worker_src = config::default_worker_path();
    let worker: PathBuf = dir.path().join("msn-worker");
    std::fs::copy(&worker_src, &worker).with_context(|| {
        format!(
            "copying {} (build it with `cargo build --release`)",
            worker_src.display()
        )
    })?;
    let path = dir.path().join("msnbnc.toml");
    std::fs::write(&path, demo_config(dir.path(), &sim, &worker))?;
    let cfg = config::load(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
    supervisor::spawn::preflight(&cfg.worker)?;
    crate::store::Store::open(&cfg.store.path)?.add_user(
        DEMO_USER,
        DEMO_PASSWORD,
        crate::store::users::Role::Admin,
    )?;
    tracing::info!(
        "demo: MSN simulator on {} (Passport on https://127.0.0.1:{}); configuration in {}",
        sim.server_addr(),
        sim.https_port(),
        path.display()
    );
    tracing::info!("demo: customers bob@example.com and carol@example.com will start chatting; Ctrl-C stops");
    tracing::info!(
        "demo: connect an IRC client to the address below ('IRC listening on …') with the server password {DEMO_USER}:{DEMO_PASSWORD}, e.g. irssi: /connect 127.0.0.1 6667 {DEMO_USER}:{DEMO_PASSWORD}"
    );
    let customers = chatter(
        &sim,
        sim.customer("bob@example.com"),
        sim.customer("carol@example.com"),
    );
    tokio::select! {
        result = daemon::run(path.clone(), cfg) => result,
        () = customers => Ok(()),
        () = takes_files(sim.customer("carol@example.com")) => Ok(()),
    }
}
