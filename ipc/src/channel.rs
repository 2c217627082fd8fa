//! The async side: a [`Channel`] owns one end of the socketpair, frames
//! messages with [`FrameCodec`] and checks every message against the
//! [`PhaseTracker`] in both directions.

use futures_util::{SinkExt, StreamExt};
use tokio::net::UnixStream;
use tokio_util::codec::Framed;

use tokio::io::AsyncWriteExt;

use crate::codec::{encode_frame, FrameCodec};
use crate::message::{FromWorker, Hello, ToWorker};
use crate::phase::{Phase, PhaseTracker};
use crate::{ProtocolError, PROTOCOL_VERSION};

/// One end of the connection: which messages it sends and receives.
pub trait Role {
    type In: serde::de::DeserializeOwned + std::fmt::Debug;
    type Out: serde::Serialize + std::fmt::Debug;
    fn check_in(phases: &mut PhaseTracker, msg: &Self::In) -> Result<(), ProtocolError>;
    fn check_out(phases: &mut PhaseTracker, msg: &Self::Out) -> Result<(), ProtocolError>;
    fn hello_out(hello: Hello) -> Self::Out;
    /// Whether the message carries a secret that must not linger in buffers.
    fn is_secret(_msg: &Self::Out) -> bool {
        false
    }
    fn hello_in(msg: &Self::In) -> Option<&Hello>;
}

#[derive(Debug)]
pub enum Bouncer {}
#[derive(Debug)]
pub enum Worker {}

impl Role for Bouncer {
    type In = FromWorker;
    type Out = ToWorker;
    fn check_in(p: &mut PhaseTracker, msg: &FromWorker) -> Result<(), ProtocolError> {
        p.from_worker(msg)
    }
    fn check_out(p: &mut PhaseTracker, msg: &ToWorker) -> Result<(), ProtocolError> {
        p.to_worker(msg)
    }
    fn hello_out(hello: Hello) -> ToWorker {
        ToWorker::Hello(hello)
    }
    fn is_secret(msg: &ToWorker) -> bool {
        matches!(msg, ToWorker::Credentials(_))
    }
    fn hello_in(msg: &FromWorker) -> Option<&Hello> {
        match msg {
            FromWorker::Hello(h) => Some(h),
            _ => None,
        }
    }
}

impl Role for Worker {
    type In = ToWorker;
    type Out = FromWorker;
    fn check_in(p: &mut PhaseTracker, msg: &ToWorker) -> Result<(), ProtocolError> {
        p.to_worker(msg)
    }
    fn check_out(p: &mut PhaseTracker, msg: &FromWorker) -> Result<(), ProtocolError> {
        p.from_worker(msg)
    }
    fn hello_out(hello: Hello) -> FromWorker {
        FromWorker::Hello(hello)
    }
    fn hello_in(msg: &ToWorker) -> Option<&Hello> {
        match msg {
            ToWorker::Hello(h) => Some(h),
            _ => None,
        }
    }
}

pub type BouncerChannel = Channel<Bouncer>;
pub type WorkerChannel = Channel<Worker>;

pub struct Channel<R: Role> {
    framed: Framed<UnixStream, FrameCodec<R::In, R::Out>>,
    phases: PhaseTracker,
}

impl<R: Role> Channel<R> {
    pub fn new(stream: UnixStream) -> Self {
        Channel {
            framed: Framed::new(stream, FrameCodec::default()),
            phases: PhaseTracker::default(),
        }
    }

    pub fn phase(&self) -> Phase {
        self.phases.phase()
    }

    /// Sends a message after checking that the phase allows it. Not
    /// cancel-safe: do not race it in `select!`.
    pub async fn send(&mut self, msg: R::Out) -> Result<(), ProtocolError> {
        R::check_out(&mut self.phases, &msg)?;
        if R::is_secret(&msg) {
            // Bypass the framed write buffer, whose spare capacity would keep
            // a copy of the secret: encode into a buffer that is wiped on drop
            // and write it straight to the socket.
            self.framed.flush().await?;
            let frame = zeroize::Zeroizing::new(encode_frame(&msg)?);
            drop(msg);
            self.framed.get_mut().write_all(&frame).await?;
            return Ok(());
        }
        self.framed.send(msg).await
    }

    /// Queues a message without writing it yet: it goes out with the next
    /// [`Channel::send`] or [`Channel::flush`], or when the buffer fills —
    /// so a burst of events costs one write, not one per event. Secrets are
    /// never queued; they are sent at once. Not cancel-safe.
    pub async fn feed(&mut self, msg: R::Out) -> Result<(), ProtocolError> {
        if R::is_secret(&msg) {
            return self.send(msg).await;
        }
        R::check_out(&mut self.phases, &msg)?;
        self.framed.feed(msg).await
    }

    /// Writes whatever [`Channel::feed`] queued. Not cancel-safe.
    pub async fn flush(&mut self) -> Result<(), ProtocolError> {
        self.framed.flush().await
    }

    /// Receives the next message; `Ok(None)` is a clean end of stream.
    /// Cancel-safe.
    pub async fn recv(&mut self) -> Result<Option<R::In>, ProtocolError> {
        match self.framed.next().await {
            None => Ok(None),
            Some(Err(e)) => Err(e),
            Some(Ok(msg)) => {
                R::check_in(&mut self.phases, &msg)?;
                Ok(Some(msg))
            }
        }
    }

    /// Sends our `Hello`, reads the peer's and checks the protocol version.
    pub async fn handshake(&mut self, build: &str) -> Result<Hello, ProtocolError> {
        self.send(R::hello_out(Hello {
            protocol_version: PROTOCOL_VERSION,
            build: build.to_owned(),
        }))
        .await?;
        let msg = self
            .recv()
            .await?
            .ok_or(ProtocolError::Truncated { have: 0, need: 4 })?;
        // The phase tracker only lets a Hello through here.
        let hello = R::hello_in(&msg).ok_or(ProtocolError::WrongPhase {
            message: "non-Hello message",
            phase: "exchanging hellos",
        })?;
        if hello.protocol_version != PROTOCOL_VERSION {
            return Err(ProtocolError::VersionMismatch {
                ours: PROTOCOL_VERSION,
                theirs: hello.protocol_version,
                their_build: hello.build.clone(),
            });
        }
        Ok(hello.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::encode_frame;

    #[tokio::test]
    async fn both_ends_complete_the_handshake() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut bouncer = BouncerChannel::new(a);
        let mut worker = WorkerChannel::new(b);
        let (hb, hw) = tokio::join!(bouncer.handshake("bouncer-1"), worker.handshake("worker-1"));
        assert_eq!(hb.unwrap().build, "worker-1");
        assert_eq!(hw.unwrap().build, "bouncer-1");
        assert_eq!(bouncer.phase(), Phase::Configure);
    }

    #[tokio::test]
    async fn version_mismatch_names_both_versions() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut bouncer = BouncerChannel::new(a);
        let frame = encode_frame(&FromWorker::Hello(Hello {
            protocol_version: PROTOCOL_VERSION + 1,
            build: "future".into(),
        }))
        .unwrap();
        b.write_all(&frame).await.unwrap();
        let err = bouncer.handshake("now").await.unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ProtocolError::VersionMismatch { .. }));
        assert!(text.contains(&format!("we speak {PROTOCOL_VERSION}")), "{text}");
        assert!(
            text.contains(&format!("peer speaks {}", PROTOCOL_VERSION + 1)),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_message_in_the_wrong_phase_is_an_error_on_receipt() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut bouncer = BouncerChannel::new(a);
        b.write_all(&encode_frame(&FromWorker::Ready).unwrap())
            .await
            .unwrap();
        assert!(matches!(
            bouncer.handshake("x").await,
            Err(ProtocolError::WrongPhase { message: "Ready", .. })
        ));
    }

    #[tokio::test]
    async fn eof_mid_frame_is_truncated() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut bouncer = BouncerChannel::new(a);
        let frame = encode_frame(&FromWorker::Ready).unwrap();
        b.write_all(&frame[..frame.len() - 1]).await.unwrap();
        drop(b);
        assert!(matches!(
            bouncer.recv().await,
            Err(ProtocolError::Truncated { .. })
        ));
    }

    #[tokio::test]
    async fn peer_closing_during_the_handshake_is_reported_as_closed() {
        let (a, b) = UnixStream::pair().unwrap();
        drop(b);
        let mut bouncer = BouncerChannel::new(a);
        assert!(matches!(
            bouncer.handshake("x").await,
            Err(ProtocolError::PeerClosed | ProtocolError::Io(_))
        ));
    }

    #[tokio::test]
    async fn the_sender_refuses_a_wrong_phase_message() {
        let (a, _b) = UnixStream::pair().unwrap();
        let mut bouncer = BouncerChannel::new(a);
        assert!(matches!(
            bouncer.send(ToWorker::Shutdown).await,
            Err(ProtocolError::WrongPhase { .. })
        ));
    }
}
