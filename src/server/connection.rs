//! One client connection: read a size-prefixed frame, hand it to the protocol layer, write the
//! response, repeat. Any framing or protocol error closes this connection only, with a log line.
//!
//! The loop runs over any [`Transport`]: a plain `TcpStream`, or a TLS stream (`server::tls`).
//! Each is its own instance of the generic code, so the plaintext path pays nothing for TLS.

use std::future::Future;
use std::io::{self, IoSlice};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::Interest;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::broker::Broker;
use crate::log::FileSlice;
use crate::protocol::{self, Chunk, ResponseFrame};
use crate::security::Session;

/// A byte stream a connection runs over. Buffers go through `AsyncWrite` (vectored); log file
/// regions of Fetch responses through [`Transport::send_file`], which each transport does its
/// own way.
pub trait Transport: AsyncRead + AsyncWrite + Unpin + Send {
    /// Writes the file region `slice` to the stream.
    fn send_file<'a>(
        &'a mut self,
        slice: &'a FileSlice,
    ) -> impl Future<Output = io::Result<()>> + Send + 'a;
}

impl Transport for TcpStream {
    fn send_file<'a>(
        &'a mut self,
        slice: &'a FileSlice,
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        send_file(self, slice)
    }
}

pub async fn run<S: Transport>(
    broker: Arc<Broker>,
    mut stream: S,
    mut session: Session,
    mut shutdown: watch::Receiver<bool>,
) {
    let peer = session.peer;
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
        // Until SASL completes, sasl.server.max.receive.size bounds a frame too.
        let max_frame = session.max_request_size(
            broker.limits.socket_request_max_bytes,
            broker.config.sasl.max_receive_size,
        );
        if size < 0 || size as usize > max_frame {
            tracing::warn!(%peer, size, max_frame, "closing connection: request size outside 0..=socket.request.max.bytes");
            return;
        }
        // A peer that stalls mid-frame holds its buffer; the idle limit bounds how long.
        let frame = match tokio::time::timeout(idle, read_frame(&mut stream, size as usize)).await {
            Ok(Ok(frame)) => frame,
            Ok(Err(_)) | Err(_) => {
                tracing::debug!(%peer, "connection closed mid-frame");
                return;
            }
        };
        let header = protocol::FrameHeader::peek(&frame).ok();
        let received = std::time::Instant::now();
        match protocol::handle_frame(&broker, &mut session, frame.freeze()).await {
            Ok(Some(response)) => {
                // A failed authentication: answer after the delay, then close, as Kafka does.
                let closing = session.close_after_response.take();
                if let Some(delay) = closing {
                    tokio::time::sleep(delay).await;
                }
                if write_frame(&mut stream, response).await.is_err() || closing.is_some() {
                    return;
                }
                if let Some(h) = &header {
                    broker.metrics.response_sent(h.api_key, received.elapsed());
                }
            }
            Ok(None) => {
                if let Some(h) = &header {
                    broker.metrics.response_sent(h.api_key, received.elapsed());
                }
            }
            Err(e) => {
                tracing::warn!(%peer, ?header, error = %e, "closing connection");
                return;
            }
        }
    }
}

/// Reads a frame of `size` bytes into a buffer that is not zeroed first (the socket fills it).
async fn read_frame<S: Transport>(stream: &mut S, size: usize) -> io::Result<BytesMut> {
    let mut frame = BytesMut::with_capacity(size);
    while frame.len() < size {
        let missing = size - frame.len();
        if stream.read_buf(&mut (&mut frame).limit(missing)).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(frame)
}

/// Most I/O vector entries handed to one `writev`; Linux accepts 1024.
const MAX_IOVECS: usize = 64;

/// Writes a response's chunks: runs of buffers with vectored writes, log file regions with
/// the transport's `send_file` (sendfile(2) on plain TCP). A Fetch response's records are never
/// copied into the encoded frame. The flush is free on TCP and pushes out what TLS buffered.
async fn write_frame<S: Transport>(stream: &mut S, frame: ResponseFrame) -> io::Result<()> {
    let mut chunks = frame.into_chunks();
    if let [Chunk::Bytes(one)] = chunks.as_slice() {
        stream.write_all(one).await?;
        return stream.flush().await;
    }
    let mut at = 0;
    while at < chunks.len() {
        if let Chunk::File(slice) = &chunks[at] {
            stream.send_file(slice).await?;
            at += 1;
            continue;
        }
        let run_end = chunks[at..]
            .iter()
            .position(|c| matches!(c, Chunk::File(_)))
            .map_or(chunks.len(), |n| at + n);
        write_buffers(stream, &mut chunks[at..run_end]).await?;
        at = run_end;
    }
    stream.flush().await
}

/// Writes buffer chunks with as few `writev` calls as the socket allows.
async fn write_buffers<S: Transport>(stream: &mut S, chunks: &mut [Chunk]) -> io::Result<()> {
    let mut buffers: Vec<Bytes> = chunks
        .iter_mut()
        .filter_map(|c| match c {
            Chunk::Bytes(b) => Some(std::mem::take(b)),
            Chunk::File(_) => None,
        })
        .collect();
    let mut first = 0;
    while first < buffers.len() {
        let slices: Vec<IoSlice<'_>> = buffers[first..]
            .iter()
            .take(MAX_IOVECS)
            .map(|b| IoSlice::new(b))
            .collect();
        let mut written = stream.write_vectored(&slices).await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        while written > 0 || buffers.get(first).is_some_and(Bytes::is_empty) {
            let buffer = &mut buffers[first];
            let step = written.min(buffer.len());
            buffer.advance(step);
            written -= step;
            if buffer.is_empty() {
                first += 1;
                if first == buffers.len() {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// Sends a region of a log file to the socket with sendfile(2): the page cache feeds the socket
/// directly. A file found shorter than the region (truncated since the read) ends the
/// connection, since the frame's size was already promised; the client reconnects and
/// fetches again, as with Kafka.
async fn send_file(stream: &TcpStream, slice: &FileSlice) -> io::Result<()> {
    let mut offset = slice.position;
    let end = slice.position + slice.len as u64;
    while offset < end {
        stream.writable().await?;
        let remaining = (end - offset).min(1 << 30) as usize;
        let sent = stream.try_io(Interest::WRITABLE, || {
            rustix::fs::sendfile(stream, &*slice.file, Some(&mut offset), remaining)
                .map_err(io::Error::from)
        });
        match sent {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "{} is shorter than the fetched region",
                        slice.path.display()
                    ),
                ))
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
