//! What a broker says to another broker with the Kafka protocol itself, on the peer's
//! inter-broker listener, as Kafka brokers do: replica fetches (`fetcher`) and transaction
//! markers (`WriteTxnMarkers`), on connections `channel` opens (TLS, SASL login). One request
//! at a time per connection; every answer is bounded in size and time, and checked for its
//! correlation id.

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Answers larger than this are refused before allocating (requests ask for far less).
const MAX_FRAME: usize = 64 * 1024 * 1024;

/// Sends `request` (API `key`, `version`) and reads its answer, within `timeout`.
pub async fn call<S, Req, Resp>(
    stream: &mut S,
    key: ApiKey,
    version: i16,
    request: &Req,
    correlation_id: i32,
    timeout: Duration,
) -> std::io::Result<Resp>
where
    S: AsyncRead + AsyncWrite + Unpin + ?Sized,
    Req: Encodable + HeaderVersion,
    Resp: Decodable + HeaderVersion,
{
    let invalid = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidData, m);
    let header = RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str("milena-broker")));
    let mut body = BytesMut::new();
    header
        .encode(&mut body, Req::header_version(version))
        .and_then(|_| request.encode(&mut body, version))
        .map_err(|e| invalid(format!("encoding {key:?}: {e}")))?;
    let mut frame = BytesMut::with_capacity(4 + body.len());
    frame.put_u32(body.len() as u32);
    frame.extend_from_slice(&body);
    tokio::time::timeout(timeout, async {
        stream.write_all(&frame).await?;
        let len = stream.read_u32().await? as usize;
        if len > MAX_FRAME {
            return Err(invalid(format!("{key:?} answer of {len} bytes")));
        }
        let mut buf = vec![0u8; len];
        stream.read_exact(&mut buf).await?;
        let mut buf = Bytes::from(buf);
        let header = ResponseHeader::decode(&mut buf, Resp::header_version(version))
            .map_err(|e| invalid(format!("decoding a {key:?} answer: {e}")))?;
        if header.correlation_id != correlation_id {
            return Err(invalid(format!("{key:?} answer to another request")));
        }
        let response = Resp::decode(&mut buf, version)
            .map_err(|e| invalid(format!("decoding a {key:?} answer: {e}")))?;
        if buf.has_remaining() {
            tracing::debug!(left = buf.remaining(), "bytes after a {key:?} answer");
        }
        Ok(response)
    })
    .await
    .map_err(|_| std::io::Error::other(format!("{key:?} timed out")))?
}
