//! msnbnc under test: the simulator as the MSN server, the real release
//! msnbnc and msn-worker, K devices of one staff user attached.

use std::time::Duration;

use msn_sim::{Customer, SimConfig, Simulator};
use msnbnc_tests::worker::{ACCOUNT, PASSWORD};
use msnbnc_tests::{add_staff, msn_env, Bouncer, TestDir};

use super::fleet::{Fleet, Upstream};

const SOON: Duration = Duration::from_secs(30);
pub const CUSTOMER: &str = "bob@example.com";

pub struct Msnbnc {
    pub sim: Simulator,
    pub bouncer: Bouncer,
    pub worker_pid: u32,
    pub port: u16,
    _dir: TestDir,
}

impl Msnbnc {
    pub async fn start() -> anyhow::Result<Msnbnc> {
        Msnbnc::start_with("").await
    }

    /// With extra `[irc]` settings (e.g. `replay_max = 100000`), and a
    /// second staff user, `zoe`.
    pub async fn start_with(irc: &str) -> anyhow::Result<Msnbnc> {
        Msnbnc::start_on(irc, None).await
    }

    /// [`Msnbnc::start_with`] on an existing database.
    pub async fn start_on(irc: &str, store: Option<&std::path::Path>) -> anyhow::Result<Msnbnc> {
        let sim = Simulator::start(
            SimConfig::default()
                .account(ACCOUNT, PASSWORD, "Support Desk")
                .customer(CUSTOMER, "Bob")
                .friends(ACCOUNT, CUSTOMER),
        )
        .await?;
        let dir = TestDir::new();
        let config = msn_env::config(&dir, &sim, PASSWORD, true);
        let text = std::fs::read_to_string(&config)?.replace(
            "listen = [\"127.0.0.1:0\"]",
            &format!("listen = [\"127.0.0.1:0\"]\n{irc}"),
        );
        let text = match store {
            Some(path) => {
                let fresh = text
                    .lines()
                    .find(|l| l.starts_with("path = ") && l.contains(".db"))
                    .unwrap_or_default()
                    .to_owned();
                text.replace(&fresh, &format!("path = \"{}\"", path.display()))
            }
            None => text,
        };
        std::fs::write(&config, text)?;
        if store.is_none() {
            add_staff(&config, "staff", "pw", false);
            add_staff(&config, "zoe", "pw", false);
        }
        let bouncer = tokio::task::block_in_place(|| Bouncer::run(&config));
        let (port, worker_pid) = tokio::task::block_in_place(|| -> anyhow::Result<(u16, u32)> {
            let (_, line) = bouncer.wait_for("IRC listening on 127.0.0.1:", SOON)?;
            let port = line
                .rsplit(':')
                .next()
                .and_then(|p| p.trim().parse().ok())
                .ok_or_else(|| anyhow::anyhow!("no port in {line:?}"))?;
            let (_, pid) = bouncer.wait_worker_ready(0, SOON)?;
            bouncer.wait_for(&format!("worker state: signed in as {ACCOUNT}"), SOON)?;
            Ok((port, pid))
        })?;
        anyhow::ensure!(
            sim.wait_until(SOON, |s| s.is_online(ACCOUNT)).await,
            "never signed in"
        );
        sim.customer(CUSTOMER).sign_in("NLN");
        Ok(Msnbnc {
            sim,
            bouncer,
            worker_pid,
            port,
            _dir: dir,
        })
    }

    /// K devices of the staff user, registered and in `&msn`.
    pub async fn fleet(&self, k: usize) -> anyhow::Result<Fleet> {
        Fleet::attach(
            self.port,
            k,
            |i| {
                vec![
                    format!("PASS staff@dev{i}:pw"),
                    "NICK staff".to_owned(),
                    "USER staff 0 * :Staff".to_owned(),
                ]
            },
            " 366 staff &msn ",
        )
        .await
    }

    pub fn customer(&self) -> MsnCustomer {
        MsnCustomer(self.sim.customer(CUSTOMER))
    }
}

pub struct MsnCustomer(Customer);

impl Upstream for MsnCustomer {
    async fn send(&mut self, text: &str) -> anyhow::Result<()> {
        self.0.say(ACCOUNT, text).await.map(|_| ())
    }
}
