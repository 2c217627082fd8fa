//! The Passport exchanges: Passport 1.4 (nexus → login server, following
//! redirects with the same Authorization → ticket) up to MSNP12, and the
//! single sign-on RST request (a ticket per service) from MSNP13.

use ipc::{PassportConfig, SignOutClass};
use tokio_rustls::TlsConnector;

use super::https::{self, HttpError};
use super::net::Net;
use crate::msnp::passport::{self, LoginAnswer, Url};
use crate::msnp::sso;

const MAX_REDIRECTS: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginError {
    pub class: SignOutClass,
    pub reason: String,
}

fn http_error(e: HttpError) -> LoginError {
    let class = match &e {
        HttpError::Connect(_) => SignOutClass::Unreachable,
        HttpError::Tls { .. } | HttpError::Trust(_) => SignOutClass::Tls,
        HttpError::Plain(_) => SignOutClass::Fatal,
        HttpError::Protocol { .. } => SignOutClass::Transient,
    };
    LoginError {
        class,
        reason: format!("Passport: {e}"),
    }
}

fn fail(class: SignOutClass, reason: impl Into<String>) -> LoginError {
    LoginError {
        class,
        reason: reason.into(),
    }
}

pub async fn passport(
    net: &mut Net,
    tls: &TlsConnector,
    config: &PassportConfig,
    account: &str,
    password: &str,
    policy: &str,
) -> Result<String, LoginError> {
    let mut url = match (&config.login_url, &config.nexus_url) {
        (Some(login), _) => Url::parse(login)
            .ok_or_else(|| fail(SignOutClass::Fatal, format!("bad Passport login URL {login:?}")))?,
        (None, Some(nexus)) => {
            let nexus_url = Url::parse(nexus)
                .ok_or_else(|| fail(SignOutClass::Fatal, format!("bad Passport nexus URL {nexus:?}")))?;
            let response = https::get(net, tls, &nexus_url, &[], config.allow_plain_http)
                .await
                .map_err(http_error)?;
            passport::parse_nexus(&response.headers).ok_or_else(|| {
                fail(
                    SignOutClass::ProtocolError,
                    format!(
                        "the nexus answered HTTP {} without a usable PassportURLs DALogin",
                        response.status
                    ),
                )
            })?
        }
        (None, None) => {
            return Err(fail(
                SignOutClass::Fatal,
                "no Passport nexus or login URL configured",
            ))
        }
    };
    let authorization = zeroize::Zeroizing::new(passport::authorization(account, password, policy));
    for _ in 0..=MAX_REDIRECTS {
        let response = https::get(
            net,
            tls,
            &url,
            &[("Authorization", authorization.as_str())],
            config.allow_plain_http,
        )
        .await
        .map_err(http_error)?;
        match passport::parse_login(response.status, &response.headers) {
            LoginAnswer::Ticket(t) => return Ok(t),
            LoginAnswer::Redirect(location) => {
                url = url.join(&location).ok_or_else(|| {
                    fail(
                        SignOutClass::ProtocolError,
                        format!("Passport redirected to {location:?}"),
                    )
                })?;
            }
            LoginAnswer::WrongCredentials(reason) => {
                return Err(fail(
                    SignOutClass::WrongCredentials,
                    match reason {
                        Some(r) => format!("Passport refused the account or password: {r}"),
                        None => "Passport refused the account or password".to_owned(),
                    },
                ))
            }
            LoginAnswer::Transient(why) => return Err(fail(SignOutClass::Transient, why)),
        }
    }
    Err(fail(
        SignOutClass::ProtocolError,
        format!("Passport redirected more than {MAX_REDIRECTS} times"),
    ))
}

/// The services MSNP13+ asks the RST service for: the messenger (with the
/// server's `policy`), the contact list, and both offline-message services.
fn rst_services(policy: &str) -> [(&str, &str); 4] {
    [
        (sso::MESSENGER, policy),
        (sso::CONTACTS, "MBI"),
        (sso::OIM_READ, "?id=507"),
        (sso::OIM_SEND, "MBI_SSL"),
    ]
}

/// Single sign-on (MSNP13+): one RST request, a ticket per service.
pub async fn single_sign_on(
    net: &mut Net,
    tls: &TlsConnector,
    rst_url: &str,
    account: &str,
    password: &str,
    policy: &str,
) -> Result<Vec<sso::Token>, LoginError> {
    let url = Url::parse(rst_url)
        .ok_or_else(|| fail(SignOutClass::Fatal, format!("bad sign-on URL {rst_url:?}")))?;
    let request = zeroize::Zeroizing::new(sso::rst_request(account, password, &rst_services(policy)));
    let response = https::post(net, tls, &url, None, &request, false)
        .await
        .map_err(http_error)?;
    sso::parse_rst_response(&response.body).map_err(|e| match e {
        sso::RstError::WrongCredentials(why) => fail(
            SignOutClass::WrongCredentials,
            format!("the sign-on service refused the account or password: {why}"),
        ),
        sso::RstError::Refused(why) => fail(
            SignOutClass::Transient,
            format!(
                "the sign-on service answered HTTP {} without tickets: {why}",
                response.status
            ),
        ),
    })
}
