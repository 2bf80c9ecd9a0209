//! `/topics/{name}/messages`: a bounded read of one partition hosted here, from an offset or a
//! timestamp, oldest or newest first, with a substring filter; and a form that produces one
//! record through the Produce handler.
//!
//! A read returns at most [`MAX_RECORDS`] records and looks at no more than [`SCAN_RECORDS`]
//! records and [`SCAN_BYTES`] bytes of log, on a blocking thread. The partition's log lock is
//! held only inside each `read` call; decoding and rendering happen after it is released.

use axum::http::StatusCode;
use bytes::Bytes;
use indexmap::IndexMap;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::ProduceRequest;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::{self, segment, Nav};
use super::{
    kafka_outcome, parse_number, see_other, Access, ConsoleError, Named, PageResult, Posted,
    Queried, Writable,
};
use crate::handlers::topic_name;
use crate::partition::Partition;
use crate::security::acl::{AclOperation, ResourceType};

/// Records shown at most.
pub const MAX_RECORDS: usize = 100;
/// Records looked at at most (a filter may skip most of them).
const SCAN_RECORDS: i64 = 2_000;
/// Log bytes read at most.
const SCAN_BYTES: usize = 4 * 1024 * 1024;
/// One read of the log.
const READ_BYTES: usize = 512 * 1024;
/// Bytes of a key, value or header shown; the rest is cut.
const SHOWN_BYTES: usize = 4 * 1024;

#[derive(Debug, Default, Deserialize)]
pub(super) struct BrowseQuery {
    #[serde(default)]
    partition: String,
    #[serde(default)]
    offset: String,
    #[serde(default)]
    timestamp: String,
    #[serde(default)]
    order: String,
    #[serde(default)]
    filter: String,
    #[serde(default)]
    limit: String,
}

/// One record as the page shows it.
struct Shown {
    offset: i64,
    timestamp: i64,
    key: Option<Bytes>,
    value: Option<Bytes>,
    headers: Vec<(String, Option<Bytes>)>,
}

/// Where a read starts and how it runs.
struct Plan {
    start: i64,
    /// Exclusive upper bound (newest first reads a window that ends here).
    end: i64,
    newest_first: bool,
    filter: String,
    limit: usize,
}

pub(super) async fn browse(
    access: Access,
    Named(name): Named,
    Queried(query): Queried<BrowseQuery>,
) -> PageResult {
    let b = &access.broker;
    // Reading records is a Fetch: READ on the topic, checked before the topic is looked up.
    access.require(AclOperation::Read, ResourceType::Topic, &name)?;
    let image = b.image();
    let topic = image
        .topic(&name)
        .ok_or_else(|| ConsoleError::not_found(format!("There is no topic named '{name}'.")))?;
    let partition: i32 = parse_number("partition", &query.partition)?.unwrap_or(0);
    if partition < 0 || partition >= topic.partitions {
        return Err(ConsoleError::not_found(format!(
            "Topic '{name}' has no partition {partition} (it has {}).",
            topic.partitions
        )));
    }
    let p = b.replicas.get(&name, partition).ok_or_else(|| {
        ConsoleError::new(
            StatusCode::CONFLICT,
            format!(
                "Partition {partition} of '{name}' is not hosted on this node: open the console of one of its replicas ({}).",
                layout::ids(&b.partition_state(topic, partition).unwrap_or_default().replicas)
            ),
        )
    })?;
    let limit = parse_number::<usize>("limit", &query.limit)?
        .unwrap_or(20)
        .clamp(1, MAX_RECORDS);
    let newest_first = match query.order.as_str() {
        "" | "newest" => true,
        "oldest" => false,
        other => {
            return Err(ConsoleError::bad_request(format!(
                "order: '{other}' is neither newest nor oldest"
            )))
        }
    };
    let offset: Option<i64> = parse_number("offset", &query.offset)?;
    let timestamp: Option<i64> = parse_number("timestamp", &query.timestamp)?;
    let filter = query.filter.chars().take(200).collect::<String>();
    let partition_handle = p.clone();
    let plan_filter = filter.clone();
    let read = tokio::task::spawn_blocking(move || {
        let p = partition_handle;
        let (log_start, high_watermark) = (p.log_start_offset(), p.high_watermark());
        // A timestamp becomes the offset of the first record at or after it.
        let from = match timestamp {
            Some(ts) => Some(
                p.offset_for_timestamp(ts)
                    .map_err(|e| e.to_string())?
                    .map_or(high_watermark, |(o, _)| o),
            ),
            None => offset,
        };
        let window = if plan_filter.is_empty() {
            limit as i64
        } else {
            SCAN_RECORDS
        };
        let plan = if newest_first {
            let end = from
                .map_or(high_watermark, |o| o.saturating_add(1))
                .clamp(log_start, high_watermark);
            Plan {
                start: end.saturating_sub(window).max(log_start),
                end,
                newest_first,
                filter: plan_filter,
                limit,
            }
        } else {
            let start = from.unwrap_or(log_start).clamp(log_start, high_watermark);
            Plan {
                start,
                end: start.saturating_add(SCAN_RECORDS).min(high_watermark),
                newest_first,
                filter: plan_filter,
                limit,
            }
        };
        read_records(&p, &plan).map(|records| (records, log_start, high_watermark))
    })
    .await;
    let (records, log_start, high_watermark) = match read {
        Ok(Ok(read)) => read,
        Ok(Err(e)) => {
            return Err(ConsoleError::new(
                StatusCode::CONFLICT,
                format!("Reading partition {partition} of '{name}' failed: {e}"),
            ))
        }
        Err(_) => {
            return Err(ConsoleError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the read did not finish",
            ))
        }
    };
    let link = segment(&name);
    let may_write = access.allows(AclOperation::Write, ResourceType::Topic, &name);
    let body = html! {
        p.note {
            a href={ "/topics/" (link) } { "Back to the topic" } ". Partition " (partition)
            ": offsets " (log_start) " to " (high_watermark - 1) " (high watermark " (high_watermark) ")."
        }
        form.inline #browse method="get" action={ "/topics/" (link) "/messages" } {
            label { "Partition " input name="partition" type="number" min="0" value=(partition); }
            label { "Offset " input name="offset" type="number" value=[offset]; }
            label { "or timestamp (ms) " input name="timestamp" type="number" value=[timestamp]; }
            label { "Order " select name="order" {
                option value="newest" selected[newest_first] { "newest first" }
                option value="oldest" selected[!newest_first] { "oldest first" }
            } }
            label { "Filter " input name="filter" value=(filter) placeholder="text in key, value or headers"; }
            label { "Limit " input name="limit" type="number" min="1" max=(MAX_RECORDS) value=(limit); }
            button type="submit" { "Read" }
        }
        @if records.is_empty() {
            p.note #no-records { "No records in that range." }
        } @else {
            table #records {
                thead { tr { th.num { "Offset" } th { "Timestamp" } th { "Key" } th { "Value" } th { "Headers" } } }
                tbody {
                    @for r in &records {
                        tr {
                            td.num { (r.offset) }
                            td { (layout::timestamp(r.timestamp)) }
                            td { (payload(r.key.as_ref())) }
                            td { (payload(r.value.as_ref())) }
                            td {
                                @for (k, v) in &r.headers {
                                    div.header { code { (k) } ": " (payload(v.as_ref())) }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if may_write {
            h2 { "Produce a test message" }
            form.stack #produce method="post" action={ "/topics/" (link) "/messages" } {
                label { "Partition " input name="partition" type="number" min="0" value=(partition); }
                label { "Key " input name="key"; }
                label { "Value " textarea name="value" rows="3" {} }
                label { "Headers (one name: value a line) " textarea name="headers" rows="2" {} }
                button type="submit" { "Produce" }
            }
        }
    };
    Ok(layout::render_with(
        &format!("Messages of {name}"),
        Nav::Topics,
        access.login(),
        body,
    ))
}

/// Reads the records `plan` asks for, filtered, in the order to show.
fn read_records(p: &Partition, plan: &Plan) -> Result<Vec<Shown>, String> {
    let mut out = Vec::new();
    let mut next = plan.start;
    let mut read_bytes = 0usize;
    'reading: while next < plan.end && read_bytes < SCAN_BYTES {
        let info = p.read(next, READ_BYTES, true).map_err(|e| e.to_string())?;
        if info.records.is_empty() {
            break;
        }
        read_bytes += info.records.len();
        let before = next;
        for batch in crate::log::BatchIter::new(info.records) {
            let (header, bytes) = batch.map_err(|e| e.to_string())?;
            next = next.max(header.last_offset() + 1);
            if header.is_control() {
                continue;
            }
            let mut buf = bytes;
            let set = RecordBatchDecoder::decode_with_custom_compression(
                &mut buf,
                Some(|data: &mut Bytes, c: Compression| {
                    crate::log::codec::decompress(compression_code(c), data)
                        .map(Bytes::from)
                        .map_err(|e| anyhow::anyhow!(e))
                }),
            )
            .map_err(|e| {
                format!(
                    "a record batch at offset {} does not decode: {e}",
                    header.base_offset
                )
            })?;
            for r in set.records {
                if r.offset < plan.start || r.offset >= plan.end {
                    continue;
                }
                let shown = Shown {
                    offset: r.offset,
                    timestamp: r.timestamp,
                    key: r.key,
                    value: r.value,
                    headers: r
                        .headers
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                };
                if matches(&shown, &plan.filter) {
                    out.push(shown);
                    if !plan.newest_first && out.len() >= plan.limit {
                        break 'reading;
                    }
                }
            }
        }
        if next <= before {
            break;
        }
    }
    if plan.newest_first {
        let skip = out.len().saturating_sub(plan.limit);
        out.drain(..skip);
        out.reverse();
    }
    Ok(out)
}

fn compression_code(c: Compression) -> i16 {
    match c {
        Compression::None => 0,
        Compression::Gzip => 1,
        Compression::Snappy => 2,
        Compression::Lz4 => 3,
        Compression::Zstd => 4,
    }
}

fn matches(r: &Shown, filter: &str) -> bool {
    if filter.is_empty() {
        return true;
    }
    let has = |b: Option<&Bytes>| b.is_some_and(|b| String::from_utf8_lossy(b).contains(filter));
    has(r.key.as_ref())
        || has(r.value.as_ref())
        || r.headers
            .iter()
            .any(|(k, v)| k.contains(filter) || has(v.as_ref()))
}

/// A key, value or header value: JSON pretty-printed, text, or hex for binary.
fn payload(data: Option<&Bytes>) -> Markup {
    let Some(data) = data else {
        return html! { span.null { "null" } };
    };
    let shown = &data[..data.len().min(SHOWN_BYTES)];
    let cut = (data.len() > SHOWN_BYTES).then(|| format!(" … ({} bytes)", data.len()));
    match std::str::from_utf8(shown) {
        Ok(text) => {
            let json = serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .filter(|v| v.is_object() || v.is_array())
                .and_then(|v| serde_json::to_string_pretty(&v).ok());
            match json {
                Some(pretty) => html! { pre.json { (pretty) } },
                None => html! { span.text { (text) } @if let Some(c) = &cut { span.null { (c) } } },
            }
        }
        Err(_) => {
            let hex: String = shown.iter().map(|b| format!("{b:02x}")).collect();
            html! { code.hex title="binary, in hex" { (hex) } @if let Some(c) = &cut { span.null { (c) } } }
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct ProduceForm {
    #[serde(default)]
    partition: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    headers: String,
}

pub(super) async fn produce(
    Writable(access): Writable,
    Named(name): Named,
    Posted(form): Posted<ProduceForm>,
) -> PageResult {
    access.require(AclOperation::Write, ResourceType::Topic, &name)?;
    let partition: i32 = parse_number("partition", &form.partition)?.unwrap_or(0);
    let mut record_headers = IndexMap::new();
    for line in form.headers.lines().filter(|l| !l.trim().is_empty()) {
        let Some((k, v)) = line.split_once(':') else {
            return Err(ConsoleError::bad_request(format!(
                "headers: '{line}' is not name: value"
            )));
        };
        record_headers.insert(
            StrBytes::from_string(k.trim().to_string()),
            Some(Bytes::from(v.trim().to_string())),
        );
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let record = Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: now,
        key: (!form.key.is_empty()).then(|| Bytes::from(form.key.clone())),
        value: Some(Bytes::from(form.value.clone())),
        headers: record_headers,
    };
    let mut batch = bytes::BytesMut::new();
    RecordBatchEncoder::encode(
        &mut batch,
        [&record],
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .map_err(|e| ConsoleError::bad_request(format!("the record does not encode: {e}")))?;
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(topic_name(name.clone()))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(batch.freeze()))])]);
    let ctx = access.context(9);
    let response = crate::handlers::produce::handle(&ctx, request).await;
    kafka_outcome(
        || format!("Producing to partition {partition} of '{name}'"),
        (response.responses.iter())
            .flat_map(|t| &t.partition_responses)
            .map(|p| (p.error_code, p.error_message.as_deref())),
    )?;
    Ok(see_other(&format!(
        "/topics/{}/messages?partition={partition}&order=newest",
        segment(&name)
    )))
}
