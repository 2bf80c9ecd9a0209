//! One client connection: read a size-prefixed frame, hand it to the protocol layer, write the
//! response, repeat. Any framing or protocol error closes this connection only, with a log line.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::broker::Broker;
use crate::protocol;

pub async fn run(
    broker: Arc<Broker>,
    mut stream: TcpStream,
    peer: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
) {
    let max_frame = broker.limits.socket_request_max_bytes;
    let idle = Duration::from_millis(broker.limits.connections_max_idle_ms);
    loop {
        let mut size = [0u8; 4];
        let read = tokio::select! {
            read = tokio::time::timeout(idle, stream.read_exact(&mut size)) => read,
            _ = shutdown.changed() => return,
        };
        match read {
            Err(_) => {
                tracing::debug!(%peer, "closing idle connection");
                return;
            }
            Ok(Err(_)) => return, // peer closed
            Ok(Ok(_)) => {}
        }
        let size = i32::from_be_bytes(size);
        if size < 0 || size as usize > max_frame {
            tracing::warn!(%peer, size, max_frame, "closing connection: request size outside 0..=socket.request.max.bytes");
            return;
        }
        let mut frame = BytesMut::zeroed(size as usize);
        // A peer that stalls mid-frame holds its buffer; the idle limit bounds how long.
        match tokio::time::timeout(idle, stream.read_exact(&mut frame)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) | Err(_) => {
                tracing::debug!(%peer, "connection closed mid-frame");
                return;
            }
        }
        let header = protocol::FrameHeader::peek(&frame).ok();
        match protocol::handle_frame(&broker, peer, frame.freeze()).await {
            Ok(Some(response)) => {
                if stream.write_all(&response).await.is_err() {
                    return;
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(%peer, ?header, error = %e, "closing connection");
                return;
            }
        }
    }
}
