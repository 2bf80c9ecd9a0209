//! One client connection: read a size-prefixed frame, hand it to the protocol layer, write the
//! response, repeat. Any framing or protocol error closes this connection only, with a log line.

use std::io::IoSlice;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::broker::Broker;
use crate::protocol::{self, ResponseFrame};

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
                if write_frame(&mut stream, response).await.is_err() {
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

/// Most I/O vector entries handed to one `writev`; Linux accepts 1024.
const MAX_IOVECS: usize = 64;

/// Writes a response's chunks with vectored writes: a Fetch response's log bytes go to the
/// socket from the buffers the log read them into, without being copied into the frame.
async fn write_frame(stream: &mut TcpStream, frame: ResponseFrame) -> std::io::Result<()> {
    let mut chunks: Vec<Bytes> = frame.into_chunks();
    if let [one] = chunks.as_slice() {
        return stream.write_all(one).await;
    }
    let mut first = 0;
    while first < chunks.len() {
        let slices: Vec<IoSlice<'_>> = chunks[first..]
            .iter()
            .take(MAX_IOVECS)
            .map(|c| IoSlice::new(c))
            .collect();
        let mut written = stream.write_vectored(&slices).await?;
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while written > 0 {
            let chunk = &mut chunks[first];
            let step = written.min(chunk.len());
            chunk.advance(step);
            written -= step;
            if chunk.is_empty() {
                first += 1;
            }
        }
    }
    Ok(())
}
