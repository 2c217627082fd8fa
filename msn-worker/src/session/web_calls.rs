//! The web-service calls of MSNP13+, off the session's task: the RST
//! request of single sign-on, and the SOAP calls the notification-server
//! core asks for; and the offline message a staff message becomes when
//! its contact turns out to be offline. Each runs in a task of its own and comes back as an
//! input; all go over rustls with the configured roots, through the same
//! connect-port sandbox as the rest.

use ipc::SignOutClass;

use super::connection::Input;
use super::{https, login, net, Session, Step};
use crate::msnp::ns::{Service, SoapCall};
use crate::msnp::passport::Url;

impl Session<'_> {
    /// Asks the RST service for tickets in the background.
    pub(super) fn single_sign_on(&self, policy: String) {
        let (Some(tls), inbox) = (self.tls.clone(), self.inbox_tx.clone()) else {
            return;
        };
        let Some(services) = self.config.web_services.clone() else {
            let reason = "MSNP13+ was negotiated but no web services are configured".to_owned();
            let failed = login::LoginError {
                class: SignOutClass::Fatal,
                reason,
            };
            tokio::spawn(async move { inbox.send(Input::SignedOn(Err(failed))).await });
            return;
        };
        let (account, password) = (self.config.account.clone(), self.password.clone());
        tokio::spawn(async move {
            let mut net = net::Net::default();
            let result = login::single_sign_on(
                &mut net,
                &tls,
                &services.rst,
                &account,
                password.expose(),
                &policy,
            )
            .await;
            drop(password);
            let _ = inbox.send(Input::SignedOn(result)).await;
        });
    }

    /// Performs a SOAP call in the background.
    pub(super) fn soap(&self, call: SoapCall) {
        let (Some(tls), inbox) = (self.tls.clone(), self.inbox_tx.clone()) else {
            return;
        };
        let url = self.config.web_services.as_ref().map(|w| match call.service {
            Service::AddressBook => w.address_book.clone(),
            Service::Sharing => w.sharing.clone(),
            Service::OimRead => w.oim_read.clone(),
            Service::OimStore => w.oim_store.clone(),
        });
        tracing::debug!(token = call.token, action = %call.action, "web service call");
        tokio::spawn(async move {
            let answer = match url.as_deref().and_then(Url::parse) {
                None => Err("no web service configured for this call".to_owned()),
                Some(url) => {
                    let mut net = net::Net::default();
                    match https::post(&mut net, &tls, &url, Some(&call.action), &call.body, false).await {
                        // A fault comes with 500: the body says what it is.
                        Ok(r) if (200..300).contains(&r.status) || r.status == 500 => Ok(r.body),
                        Ok(r) => Err(format!("{} answered HTTP {}", url.authority(), r.status)),
                        Err(e) => Err(e.to_string()),
                    }
                }
            };
            let _ = inbox.send(Input::Soap(call.token, answer)).await;
        });
    }

    /// The RST service answered.
    pub(super) async fn signed_on(
        &mut self,
        result: Result<Vec<crate::msnp::sso::Token>, login::LoginError>,
    ) -> Step {
        let tokens = match result {
            Ok(t) => t,
            Err(e) => return Ok(Some(self.end(e.class, e.reason, None).await?)),
        };
        let mut iv = [0u8; 8];
        if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut iv).is_err() {
            tracing::warn!("no random IV for the sign-on proof; using zeros");
        }
        let out = match self.ns.session.as_mut() {
            Some(ns) => ns.signed_on(tokens, iv),
            None => Vec::new(),
        };
        self.apply_ns(out).await
    }

    /// A web service answered a SOAP call.
    pub(super) async fn soap_answered(&mut self, token: u64, answer: Result<Vec<u8>, String>) -> Step {
        match &answer {
            Ok(body) => tracing::debug!(token, bytes = body.len(), "web service answered"),
            Err(e) => tracing::debug!(token, "web service failed: {e}"),
        }
        let out = match self.ns.session.as_mut() {
            Some(ns) => ns.soap_answer(token, answer, std::time::Instant::now()),
            None => Vec::new(),
        };
        self.apply_ns(out).await
    }

    /// A delivery that failed because the contact is offline, of a staff
    /// message that may be left for them: it is not told; the offline
    /// message goes out instead (its outcome is told). Any other delivery
    /// ends the message's wait.
    pub(super) fn instead_offline(&mut self, event: &ipc::Event) -> bool {
        let ipc::Event::Delivery { command_id, outcome } = event else {
            return false;
        };
        let offline =
            matches!(outcome, ipc::Delivery::Failed(f) if f.kind == ipc::FailureKind::ContactOffline);
        if !offline || !self.offline_fallback.contains_key(command_id) {
            self.offline_fallback.remove(command_id);
            return false;
        }
        self.inbox_tx.try_send(Input::SendOffline(*command_id)).is_ok()
    }

    /// Leaves staff message `command` as an offline message.
    pub(super) async fn send_offline(&mut self, command: u64) -> Step {
        let Some((to, text)) = self.offline_fallback.remove(&command) else {
            return Ok(None);
        };
        tracing::debug!(
            command_id = command,
            "the contact is offline: an offline message instead"
        );
        let out = match self.ns.session.as_mut() {
            Some(ns) => ns.send_offline(command, &to, &text),
            None => vec![crate::msnp::ns::NsOutput::Event(ipc::Event::Delivery {
                command_id: command,
                outcome: ipc::Delivery::Failed(super::failure(
                    ipc::FailureKind::NotSignedIn,
                    "not signed in to MSN",
                )),
            })],
        };
        self.apply_ns(out).await
    }
}
