//! Checks staff credentials off the hub's loop: Argon2 is slow on purpose.
//! Failed attempts are answered after a growing delay per source address.

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

async fn run(store: PathBuf, mut rx: mpsc::Receiver<Request>) {
    let mut throttle = LoginThrottle::default();
    while let Some(req) = rx.recv().await {
        // Still backing off: refuse without hashing (and back off further).
        if throttle.waiting(req.ip, Instant::now()).is_some() {
            let delay = throttle.failed(req.ip, Instant::now());
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = req.reply.send(None);
            });
            continue;
        }
        let path = store.clone();
        let credential = req.credential.clone();
        let verdict = tokio::task::spawn_blocking(move || {
            Store::open(&path)
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
        .unwrap_or(None);
        match verdict {
            Some(user) => {
                throttle.succeeded(req.ip);
                let _ = req.reply.send(Some(user));
            }
            None => {
                let delay = throttle.failed(req.ip, Instant::now());
                let who = match &req.credential {
                    Credential::Password { user, .. } => format!("{user:?}"),
                    Credential::Certificate(fp) => format!("the certificate {fp}"),
                };
                tracing::warn!(ip = %req.ip, "failed login for {who}; answering in {} ms", delay.as_millis());
                // Delay the answer, not the next request from someone else.
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = req.reply.send(None);
                });
            }
        }
    }
}
