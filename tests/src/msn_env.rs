//! msnbnc against the in-process MSN simulator: the simulator on its own
//! runtime, and configurations pointing at it.

use msn_sim::{SimConfig, Simulator};

use crate::worker::{ACCOUNT, PASSWORD};
use crate::{binaries, TestDir};

/// The simulator runs on its own runtime's threads while the test thread
/// blocks on processes and logs.
pub struct Sim {
    pub rt: tokio::runtime::Runtime,
    pub sim: Simulator,
}

pub fn sim() -> Sim {
    sim_with(|c| c)
}

/// [`sim`] with settings changed, e.g. a slow switchboard.
pub fn sim_with(adjust: impl FnOnce(SimConfig) -> SimConfig) -> Sim {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let sim = rt
        .block_on(Simulator::start(adjust(
            SimConfig::default()
                .account(ACCOUNT, PASSWORD, "Support Desk")
                .customer("bob@example.com", "Bob")
                .customer("carol@example.com", "Carol")
                // Not on the account's lists: a stranger who may add it.
                .customer("dave@example.com", "Dave")
                .friends(ACCOUNT, "bob@example.com")
                .friends(ACCOUNT, "carol@example.com"),
        )))
        .expect("simulator");
    Sim { rt, sim }
}

/// A configuration for msnbnc pointing at the simulator.
pub fn config(dir: &TestDir, sim: &Simulator, password: &str, trust_ca: bool) -> std::path::PathBuf {
    config_for(dir, sim, password, trust_ca, 12)
}

pub fn config_for(
    dir: &TestDir,
    sim: &Simulator,
    password: &str,
    trust_ca: bool,
    dialect: u8,
) -> std::path::PathBuf {
    let ca = dir.write("ca.pem", sim.ca_pem());
    let trust = if trust_ca {
        format!("ca_file = \"{}\"", ca.display())
    } else {
        String::new()
    };
    let ports: Vec<String> = sim.ports().iter().map(u16::to_string).collect();
    dir.write(
        "msnbnc.toml",
        &format!(
            r#"[account]
handle = "{ACCOUNT}"
password = "{password}"

[msn]
servers = ["{}"]
passport_nexus = "{}"
web_services = "https://127.0.0.1:{}"
protocol_min = {dialect}
protocol_max = {dialect}
{trust}

[store]
path = "{}"

[irc]
listen = ["127.0.0.1:0"]

[worker]
path = "{}"
user = "nobody"
heartbeat_interval_secs = 1
heartbeat_timeout_secs = 5
restart_initial_secs = 1
restart_max_secs = 2
connect_ports = [{}]
"#,
            sim.server_addr(),
            sim.nexus_url(),
            sim.https_port(),
            crate::fresh_store_path().display(),
            binaries().worker.display(),
            ports.join(", ")
        ),
    )
}

/// Adds `lines` to a configuration file just after the line `after`
/// (`[store]`, `listen = ["127.0.0.1:0"]` …).
pub fn add_to_config(config: &std::path::Path, after: &str, lines: &str) {
    let text = std::fs::read_to_string(config).expect("reading the configuration");
    assert!(text.contains(after), "no {after:?} in the configuration");
    let text = text.replacen(&format!("{after}\n"), &format!("{after}\n{lines}\n"), 1);
    std::fs::write(config, text).expect("writing the configuration");
}

/// Waits until msnbnc listens for IRC and its worker has signed in to the
/// simulator; returns the IRC port.
pub fn signed_in_port(bouncer: &crate::Bouncer, s: &Sim) -> u16 {
    const SOON: std::time::Duration = std::time::Duration::from_secs(15);
    let (_, line) = bouncer
        .wait_for("IRC listening on 127.0.0.1:", SOON)
        .expect("msnbnc listens for IRC");
    bouncer
        .wait_for(&format!("worker state: signed in as {ACCOUNT}"), SOON)
        .expect("the worker signs in");
    assert!(s.rt.block_on(s.sim.wait_until(SOON, |x| x.is_online(ACCOUNT))));
    line.rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .expect("a port in the log line")
}
