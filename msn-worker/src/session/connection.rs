//! The tasks that move bytes for the session: a connection's reader turns
//! server bytes into frames for the session's inbox, its writer sends what
//! the session queues. Both end when either side closes.

use bytes::BytesMut;
use ipc::{ServerAddr, SignOutClass};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::net::Net;
use super::routing::SbId;
use crate::msnp::codec::{Decoded, Decoder, FatalError, Frame};

/// Bytes queued to one connection's writer before we consider it stuck.
const WRITER_QUEUE: usize = 256;

/// Which connection an input came from. NS connections are numbered so
/// that frames from a replaced connection are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conn {
    Ns(u64),
    Sb(SbId),
}

/// What the session hears from its connections and helpers.
#[derive(Debug)]
pub enum Input {
    Frame(Conn, Frame),
    Skipped(Conn, String),
    Closed(Conn, String),
    Connected(Conn, mpsc::Sender<Vec<u8>>),
    ConnectFailed(Conn, SignOutClass, String),
    Ticket(Result<String, super::login::LoginError>),
    /// The RST service's tickets (MSNP13+).
    SignedOn(Result<Vec<crate::msnp::sso::Token>, super::login::LoginError>),
    /// A web service answered SOAP call `token` (MSNP13+).
    Soap(u64, Result<Vec<u8>, String>),
    /// Staff message `command` met an offline contact: leave it for them.
    SendOffline(u64),
}

/// Connects to `addr` in the background; the session hears
/// [`Input::Connected`] (with the writer) or [`Input::ConnectFailed`].
/// `alive` is held by the connection's writer until it has written all
/// that was queued (a sign-out's `OUT` included) and closed its side.
pub fn connect(conn: Conn, addr: ServerAddr, inbox: mpsc::Sender<Input>, alive: mpsc::Sender<()>) {
    tokio::spawn(async move {
        let mut net = Net::default();
        match net.connect(&addr.host, addr.port).await {
            Ok(stream) => {
                let writer = spawn_connection(stream, conn, inbox.clone(), alive);
                let _ = inbox.send(Input::Connected(conn, writer)).await;
            }
            Err(e) => {
                let failed = Input::ConnectFailed(conn, SignOutClass::Unreachable, e.to_string());
                let _ = inbox.send(failed).await;
            }
        }
    });
}

/// Reads frames from `stream` into the inbox; writes what arrives on the
/// returned sender.
fn spawn_connection(
    stream: TcpStream,
    conn: Conn,
    inbox: mpsc::Sender<Input>,
    alive: mpsc::Sender<()>,
) -> mpsc::Sender<Vec<u8>> {
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(WRITER_QUEUE);
    tokio::spawn(async move {
        let _alive = alive;
        while let Some(bytes) = rx.recv().await {
            if wr.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    tokio::spawn(async move {
        let mut buf = BytesMut::with_capacity(16 * 1024);
        let reason = loop {
            match Decoder.decode(&mut buf) {
                Ok(Some(Decoded::Frame(f))) => {
                    if inbox.send(Input::Frame(conn, f)).await.is_err() {
                        return;
                    }
                    continue;
                }
                Ok(Some(Decoded::Skipped { reason, line })) => {
                    // What the line said may be a customer's: only its size.
                    let skipped = Input::Skipped(conn, format!("{reason} ({} bytes)", line.len()));
                    let _ = inbox.send(skipped).await;
                    continue;
                }
                Ok(None) => {}
                Err(
                    e @ (FatalError::LineTooLong
                    | FatalError::BadLength { .. }
                    | FatalError::PayloadTooLarge { .. }),
                ) => {
                    break format!("protocol error: {e}");
                }
            }
            match rd.read_buf(&mut buf).await {
                Ok(0) => break "connection closed by the server".to_owned(),
                Ok(_) => {}
                Err(e) => break format!("connection error: {e}"),
            }
        };
        let _ = inbox.send(Input::Closed(conn, reason)).await;
    });
    tx
}
