//! Checks staff credentials off the hub's loop: Argon2 is slow on purpose.
//! Failed attempts are answered after a growing delay (per account and
//! source address, with a small share per address: [`super::throttle`]).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use zeroize::Zeroizing;

use super::throttle::LoginThrottle;
use crate::store::users::User;
use crate::store::Store;

/// What a client proves itself with.
#[derive(Clone)]
pub enum Credential {
    Password {
        user: String,
        password: Zeroizing<String>,
    },
    /// The fingerprint of a TLS client certificate (SASL EXTERNAL).
    Certificate(String),
}

pub struct Request {
    pub ip: IpAddr,
    pub credential: Credential,
    pub reply: oneshot::Sender<Option<User>>,
}

#[derive(Clone)]
pub struct Auth {
    tx: mpsc::Sender<Request>,
}

impl Auth {
    /// Starts the checking task for the database at `store`.
    pub fn start(store: PathBuf) -> Auth {
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(run(store, rx));
        Auth { tx }
    }

    /// The user, if the credentials are right. Wrong ones come back late.
    pub async fn verify(&self, ip: IpAddr, user: &str, password: String) -> Option<User> {
        let credential = Credential::Password {
            user: user.to_owned(),
            password: Zeroizing::new(password),
        };
        self.check(ip, credential).await
    }

    /// The user this certificate is registered to, if any.
    pub async fn verify_cert(&self, ip: IpAddr, fingerprint: &str) -> Option<User> {
        self.check(ip, Credential::Certificate(fingerprint.to_owned()))
            .await
    }

    async fn check(&self, ip: IpAddr, credential: Credential) -> Option<User> {
        let (reply, answer) = oneshot::channel();
        let request = Request {
            ip,
            credential,
            reply,
        };
        self.tx.send(request).await.ok()?;
        answer.await.ok().flatten()
    }
}

impl Credential {
    /// Whose login this is, for the throttle and the log.
    fn account(&self) -> String {
        match self {
            Credential::Password { user, .. } => user.to_ascii_lowercase(),
            Credential::Certificate(fp) => format!("certificate {fp}"),
        }
    }
}

/// Checks one credential against the store (on a blocking thread).
async fn check(store: PathBuf, credential: Credential) -> Option<User> {
    tokio::task::spawn_blocking(move || {
        Store::open(&store)
            .and_then(|s| match &credential {
                Credential::Password { user, password } => s.verify(user, password),
                Credential::Certificate(fp) => s.user_by_cert(fp),
            })
            .unwrap_or_else(|e| {
                tracing::error!("cannot check a login: {e}");
                None
            })
    })
    .await
    .unwrap_or(None)
}

/// Each login waits out its back-off (its account from its address, and
/// its address's share), then is checked; a wrong one is answered after
/// the grown delay. Nobody else's login waits for it.
async fn run(store: PathBuf, mut rx: mpsc::Receiver<Request>) {
    let throttle = std::sync::Arc::new(std::sync::Mutex::new(LoginThrottle::default()));
    // Argon2 takes ~37 ms and 19 MiB per check: as many at once as there
    // are cores, no more.
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    let checking = std::sync::Arc::new(tokio::sync::Semaphore::new(cores));
    while let Some(req) = rx.recv().await {
        let (store, throttle, checking) = (store.clone(), throttle.clone(), checking.clone());
        tokio::spawn(async move {
            let account = req.credential.account();
            let wait = throttle
                .lock()
                .map(|t| t.wait(&account, req.ip, Instant::now()))
                .unwrap_or_default();
            tokio::time::sleep(wait).await;
            let Ok(_turn) = checking.acquire().await else {
                return;
            };
            let verdict = check(store, req.credential).await;
            drop(_turn);
            match verdict {
                Some(user) => {
                    if let Ok(mut t) = throttle.lock() {
                        t.succeeded(&account, req.ip);
                    }
                    let _ = req.reply.send(Some(user));
                }
                None => {
                    let delay = throttle
                        .lock()
                        .map(|mut t| t.failed(&account, req.ip, Instant::now()))
                        .unwrap_or_default();
                    tracing::warn!(ip = %req.ip, "failed login for {account}; answering in {} ms", delay.as_millis());
                    tokio::time::sleep(delay).await;
                    let _ = req.reply.send(None);
                }
            }
        });
    }
}
