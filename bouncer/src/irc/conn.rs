//! One IRC client connection: a reader that registers the client and then
//! forwards its lines to the hub, and a writer draining a bounded queue.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use irc_proto::Message;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::admission::Ticket;
use super::auth::Auth;
use super::line::{Line, LineReader};
use super::registration::{Login, Output, Registered, Registration};
use super::server::Doors;
use super::wire::reply;

/// Lines queued to one client before it counts as too slow and is dropped
/// (it gets what it missed on reconnect).
pub const QUEUE: usize = 8192;
/// Registration must finish within this.
const REGISTRATION_TIMEOUT: Duration = Duration::from_secs(60);
/// One write to a client may take this long before it counts as gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Writes all of `buf`. The usual case — the socket takes it at once —
/// costs no timer; otherwise each wait is bounded, so a client that stops
/// reading cannot pin the writer.
async fn write_out<W: AsyncWrite + Unpin>(wr: &mut W, buf: &[u8]) -> std::io::Result<()> {
    use futures_util::FutureExt;
    let timed_out = || std::io::Error::new(std::io::ErrorKind::TimedOut, "the client stopped reading");
    let mut off = 0;
    while off < buf.len() {
        // `write` is cancel-safe: a poll that is not ready wrote nothing.
        let n = match wr.write(&buf[off..]).now_or_never() {
            Some(r) => r?,
            None => tokio::time::timeout(WRITE_TIMEOUT, wr.write(&buf[off..]))
                .await
                .map_err(|_| timed_out())??,
        };
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        off += n;
    }
    // TLS keeps records buffered until flushed; TCP flushes for free. The
    // flush future holds no state of its own, so it too may be retried.
    match wr.flush().now_or_never() {
        Some(r) => r,
        None => tokio::time::timeout(WRITE_TIMEOUT, wr.flush())
            .await
            .map_err(|_| timed_out())?,
    }
}

pub type ClientId = u64;

/// A line for a client, without its CRLF. Shared: a broadcast formats each
/// variant of a line once, however many clients get it.
pub type OutLine = std::sync::Arc<str>;

/// The writer sends what is queued in writes of up to this many bytes.
const MAX_BATCH: usize = 64 * 1024;

/// What connections tell the hub.
#[derive(Debug)]
pub enum ClientEvent {
    Attached(Attached),
    Line(ClientId, Box<Message>),
    /// A line over the length limits (answered with 417).
    TooLong(ClientId),
    Detached(ClientId, String),
    /// The replay of what a device missed ended (`Err`: why it failed).
    Replayed(ClientId, Result<(), String>),
}

#[derive(Debug)]
pub struct Attached {
    pub id: ClientId,
    pub login: Login,
    pub role: crate::store::users::Role,
    /// The user's own signature, as stored (`None`: the global one).
    pub signature: Option<String>,
    /// The nick the client asked for (it gets the user's name).
    pub requested_nick: String,
    pub realname: String,
    pub caps: super::cap::Caps,
    pub addr: SocketAddr,
    /// The fingerprint of the client's TLS certificate, if it sent one.
    pub cert: Option<String>,
    pub tx: mpsc::Sender<OutLine>,
}

fn next_id() -> ClientId {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Sends what the hub queues for this client, a burst per write, until
/// the hub drops the queue or the client stops reading; then says so.
async fn write_loop<W: AsyncWrite + Unpin>(
    mut wr: W,
    mut rx: mpsc::Receiver<OutLine>,
    done: tokio_util::sync::CancellationToken,
) {
    // Nothing follows an ERROR: it is the connection's last line.
    let is_error = |l: &OutLine| l.starts_with("ERROR ");
    let mut batch = Vec::with_capacity(16 * 1024);
    while let Some(line) = rx.recv().await {
        batch.clear();
        batch.extend_from_slice(line.as_bytes());
        batch.extend_from_slice(b"\r\n");
        let mut ended = is_error(&line);
        // Whatever else is queued already goes out in the same write: one
        // system call per burst, not per line.
        while !ended && batch.len() < MAX_BATCH {
            let Ok(more) = rx.try_recv() else { break };
            ended = is_error(&more);
            batch.extend_from_slice(more.as_bytes());
            batch.extend_from_slice(b"\r\n");
        }
        if write_out(&mut wr, &batch).await.is_err() || ended {
            break;
        }
    }
    let _ = tokio::time::timeout(WRITE_TIMEOUT, wr.shutdown()).await;
    done.cancel();
}

/// The bytes read from a client and not yet made into lines.
#[derive(Default)]
struct Input {
    buf: BytesMut,
    lines: LineReader,
}

/// Serves one connection: registration (holding `ticket`, its place among
/// those logging in), then its lines to the hub until it leaves.
pub async fn serve<S>(stream: S, addr: SocketAddr, cert: Option<String>, ticket: Ticket, doors: Doors)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut rd, wr) = tokio::io::split(stream);
    let (tx, rx) = mpsc::channel::<OutLine>(QUEUE);
    // When the writer ends (the hub dropped the client, or the client stopped
    // reading), the reader ends too: nothing lingers for a dead id.
    let writer_done = tokio_util::sync::CancellationToken::new();
    let mut writer = tokio::spawn(write_loop(wr, rx, writer_done.clone()));
    let id = next_id();
    let mut input = Input::default();
    let Doors {
        server, auth, hub, ..
    } = doors;
    let peer = (server.as_str(), addr, cert.clone());
    let registration = register(&mut rd, &mut input, peer, &auth, &tx);
    let registered = tokio::time::timeout(REGISTRATION_TIMEOUT, registration).await;
    // Logged in or not, it no longer waits to.
    drop(ticket);
    let attached = match registered {
        Ok(Some((r, user))) => Attached {
            id,
            login: r.login,
            role: user.role,
            signature: user.signature,
            requested_nick: r.nick,
            realname: r.realname,
            caps: r.caps,
            addr,
            cert,
            tx: tx.clone(),
        },
        Ok(None) => return finish(tx, &mut writer).await,
        Err(_) => {
            let _ = tx.try_send(OutLine::from("ERROR :Registration timed out"));
            return finish(tx, &mut writer).await;
        }
    };
    let span = tracing::info_span!("client", client = id, user = %attached.login.user, device = attached.login.device.as_deref().unwrap_or(""));
    if hub.send(ClientEvent::Attached(attached)).await.is_err() {
        return;
    }
    // Only the hub keeps the writer alive (dropping its sender closes the
    // socket); we keep a weak handle for the flood error.
    let weak = tx.downgrade();
    drop(tx);
    let session = read_loop(rd, input, id, &hub, weak, writer_done);
    if let Some(reason) = tracing::Instrument::instrument(session, span).await {
        let _ = hub.send(ClientEvent::Detached(id, reason)).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut writer).await;
        writer.abort();
    }
}

/// Lets the writer flush a last line briefly, then stops it regardless.
async fn finish(tx: mpsc::Sender<OutLine>, writer: &mut tokio::task::JoinHandle<()>) {
    drop(tx);
    if tokio::time::timeout(Duration::from_secs(5), &mut *writer)
        .await
        .is_err()
    {
        writer.abort();
    }
}

/// Flood control for one line, before login and after: what is over the
/// burst waits its turn; a client over the limit for too long is told
/// `ERROR :Excess Flood` (on `tx`, while it is there) and `false` says to
/// drop it.
async fn paced(bucket: &mut super::flood::Bucket, tx: Option<&mpsc::Sender<OutLine>>) -> bool {
    match bucket.take(std::time::Instant::now()) {
        super::flood::Verdict::Go => true,
        super::flood::Verdict::Wait(d) => {
            tokio::time::sleep(d).await;
            true
        }
        super::flood::Verdict::Flood => {
            if let Some(tx) = tx {
                let _ = tx.send(OutLine::from("ERROR :Excess Flood")).await;
            }
            false
        }
    }
}

/// A registered client's lines, paced, to the hub, until it leaves (the
/// reason) or the hub is gone (`None`).
async fn read_loop<R: AsyncRead + Unpin>(
    mut rd: R,
    mut input: Input,
    id: ClientId,
    hub: &mpsc::Sender<ClientEvent>,
    weak: mpsc::WeakSender<OutLine>,
    writer_done: tokio_util::sync::CancellationToken,
) -> Option<String> {
    let mut bucket = super::flood::Bucket::new(std::time::Instant::now());
    loop {
        while let Some(line) = input.lines.next(&mut input.buf) {
            if !paced(&mut bucket, weak.upgrade().as_ref()).await {
                return Some("excess flood".to_owned());
            }
            let event = match line {
                Line::Message(m) => ClientEvent::Line(id, m),
                Line::TooLong => ClientEvent::TooLong(id),
                Line::Invalid(why) => {
                    tracing::debug!("unparsable line: {why}");
                    continue;
                }
            };
            hub.send(event).await.ok()?;
        }
        tokio::select! {
            r = rd.read_buf(&mut input.buf) => match r {
                Ok(0) => return Some("Connection closed".to_owned()),
                Ok(_) => {}
                Err(e) => return Some(format!("Read error: {e}")),
            },
            _ = writer_done.cancelled() => return Some("Closed by the server".to_owned()),
        }
    }
}

async fn register<R: AsyncRead + Unpin>(
    rd: &mut R,
    input: &mut Input,
    (server, addr, cert): (&str, SocketAddr, Option<String>),
    auth: &Auth,
    tx: &mpsc::Sender<OutLine>,
) -> Option<(Registered, crate::store::users::User)> {
    let mut reg = Registration::new(server).with_cert(cert);
    // The user the credentials proved, once they have.
    let mut proved = None;
    // Before login too, lines beyond the burst are paced, and a flood is
    // cut off: nobody unauthenticated gets answers at wire speed.
    let mut bucket = super::flood::Bucket::new(std::time::Instant::now());
    loop {
        while let Some(line) = input.lines.next(&mut input.buf) {
            if !paced(&mut bucket, Some(tx)).await {
                return None;
            }
            let mut pending = match line {
                Line::Message(m) => reg.on_message(&m),
                Line::TooLong => {
                    let _ = tx
                        .send(reply(server, "417", "*", &["Input line was too long"]).into())
                        .await;
                    continue;
                }
                Line::Invalid(_) => continue,
            };
            while !pending.is_empty() {
                let mut next = Vec::new();
                for o in pending {
                    match o {
                        Output::Send(l) => {
                            let _ = tx.send(l.into()).await;
                        }
                        Output::Verify { login, password, via } => {
                            let user = auth.verify(addr.ip(), &login.user, password).await;
                            let ok = user.is_some();
                            // The stored spelling of the name, whatever case was typed.
                            let login = Login {
                                user: user.as_ref().map_or(login.user, |u| u.name.clone()),
                                device: login.device,
                            };
                            proved = user.or(proved);
                            next.extend(reg.verified(login, via, ok));
                        }
                        Output::VerifyCert { fingerprint, wanted } => {
                            let owner = auth.verify_cert(addr.ip(), &fingerprint).await;
                            // A named user must be the certificate's owner.
                            let owner = owner.filter(|u| {
                                wanted
                                    .as_ref()
                                    .is_none_or(|w| w.user.eq_ignore_ascii_case(&u.name))
                            });
                            let ok = owner.is_some();
                            let login = Login {
                                user: owner.as_ref().map(|u| u.name.clone()).unwrap_or_default(),
                                device: wanted.and_then(|w| w.device),
                            };
                            proved = owner.or(proved);
                            next.extend(reg.verified(login, super::registration::Via::Sasl, ok));
                        }
                        Output::Registered(r) => return proved.map(|u| (r, u)),
                        Output::Close(why) => {
                            let _ = tx.send(format!("ERROR :{why}").into()).await;
                            return None;
                        }
                    }
                }
                pending = next;
            }
        }
        match rd.read_buf(&mut input.buf).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[test]
    fn nothing_is_written_after_an_error_line() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (ours, mut theirs) = tokio::io::duplex(4096);
            let (tx, rx) = mpsc::channel::<OutLine>(8);
            for l in ["PONG :a", "ERROR :Excess Flood", "PRIVMSG #bob :late"] {
                tx.send(l.into()).await.unwrap();
            }
            drop(tx);
            let done = tokio_util::sync::CancellationToken::new();
            write_loop(ours, rx, done.clone()).await;
            assert!(done.is_cancelled());
            let mut got = String::new();
            theirs.read_to_string(&mut got).await.unwrap();
            assert_eq!(got, "PONG :a\r\nERROR :Excess Flood\r\n");
        });
    }
}
