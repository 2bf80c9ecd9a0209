//! Round trips and bad input of the v0/v1 message format conversion.

use super::message;
use super::*;
use crate::log::batch::validate_batch;
use crate::log::codec;
use crate::log::record_set;
use bytes::Bytes;

/// A message set of `magic` with one uncompressed message per (key, value, timestamp).
fn plain_set(magic: i8, records: &[(&[u8], &[u8], i64)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, (k, v, ts)) in records.iter().enumerate() {
        message::write(&mut out, i as i64, magic, 0, false, *ts, Some(k), Some(v));
    }
    out
}

/// A message set of one `codec` wrapper holding `records`, as an old producer writes it
/// (inner offsets 0.., wrapper offset the last inner one for v1, 0 for v0).
fn wrapped_set(magic: i8, codec_id: i16, records: &[(&[u8], &[u8], i64)]) -> Vec<u8> {
    let inner = plain_set(magic, records);
    let mut value = codec::compress(codec_id, &inner).expect("compress");
    if codec_id == 3 && magic == 0 {
        message::set_lz4_header_checksum(&mut value, true);
    }
    let wrapper_offset = if magic == 1 {
        records.len() as i64 - 1
    } else {
        0
    };
    let ts = records.iter().map(|r| r.2).max().unwrap_or(-1);
    let mut out = Vec::new();
    message::write(
        &mut out,
        wrapper_offset,
        magic,
        codec_id,
        false,
        ts,
        None,
        Some(&value),
    );
    out
}

/// (offset, timestamp, key, value) of every record of a v2 batch.
fn records_of(batch: &[u8]) -> Vec<(i64, i64, Vec<u8>, Vec<u8>)> {
    let h = validate_batch(batch).expect("a valid v2 batch");
    let decoded = record_set::decode(batch).expect("decodes");
    decoded
        .records
        .iter()
        .map(|r| {
            (
                h.base_offset + i64::from(r.offset_delta),
                r.timestamp,
                decoded.key(r).unwrap_or_default().to_vec(),
                r.value
                    .clone()
                    .map(|v| decoded.body[v].to_vec())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

/// Every message of a legacy set, wrappers opened: (offset, timestamp, key, value).
fn legacy_of(set: &[u8]) -> Vec<(i64, i64, Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some((m, size)) = message::read(&set[pos..]).expect("valid set") {
        if m.codec() == 0 {
            out.push((
                m.offset,
                m.timestamp,
                m.key.unwrap_or_default().to_vec(),
                m.value.unwrap_or_default().to_vec(),
            ));
        } else {
            let mut value = m.value.expect("wrapper value").to_vec();
            if m.codec() == 3 && m.magic == 0 {
                message::set_lz4_header_checksum(&mut value, false);
            }
            let inner = codec::decompress(m.codec(), &value).expect("decompress");
            let base = if m.magic == 1 {
                let inner_msgs = legacy_of(&inner);
                m.offset - inner_msgs.last().expect("inner").0
            } else {
                0
            };
            for (o, ts, k, v) in legacy_of(&inner) {
                out.push((base + o, ts, k, v));
            }
        }
        pos += size;
    }
    out
}

const RECORDS: &[(&[u8], &[u8], i64)] = &[
    (b"k0", b"v0", 1_700_000_000_000),
    (b"k1", b"value one", 1_700_000_000_005),
    (b"", b"", 1_700_000_000_001),
];

#[test]
fn up_conversion_keeps_keys_values_and_v1_timestamps() {
    for magic in [0, 1] {
        for codec_id in [0, 1, 2, 3] {
            let set = if codec_id == 0 {
                plain_set(magic, RECORDS)
            } else {
                wrapped_set(magic, codec_id, RECORDS)
            };
            let batch = up_convert(&set).expect("converts");
            let h = validate_batch(&batch).expect("valid v2 batch");
            assert_eq!(h.compression(), codec_id, "magic {magic} codec {codec_id}");
            assert_eq!((h.producer_id, h.records_count), (-1, 3));
            let got = records_of(&batch);
            for (i, (o, ts, k, v)) in got.iter().enumerate() {
                assert_eq!(*o, i as i64);
                assert_eq!((k.as_slice(), v.as_slice()), (RECORDS[i].0, RECORDS[i].1));
                let want_ts = if magic == 0 { -1 } else { RECORDS[i].2 };
                assert_eq!(*ts, want_ts, "magic {magic} codec {codec_id}");
            }
        }
    }
}

#[test]
fn down_conversion_round_trips_through_up_conversion() {
    for magic in [0, 1] {
        for codec_id in [0, 1, 2, 3] {
            let set = if codec_id == 0 {
                plain_set(1, RECORDS)
            } else {
                wrapped_set(1, codec_id, RECORDS)
            };
            let mut batch = up_convert(&set).expect("up");
            batch[..8].copy_from_slice(&100i64.to_be_bytes()); // as if appended at 100
            let down = down_convert(Bytes::from(batch), magic, 100, usize::MAX).expect("down");
            let got = legacy_of(&down);
            assert_eq!(got.len(), 3, "magic {magic} codec {codec_id}");
            for (i, (o, ts, k, v)) in got.iter().enumerate() {
                assert_eq!(*o, 100 + i as i64, "magic {magic} codec {codec_id}");
                assert_eq!((k.as_slice(), v.as_slice()), (RECORDS[i].0, RECORDS[i].1));
                let want_ts = if magic == 0 { -1 } else { RECORDS[i].2 };
                assert_eq!(*ts, want_ts);
            }
        }
    }
}

#[test]
fn zstd_batches_are_not_down_converted() {
    let batch = up_convert(&plain_set(1, RECORDS)).expect("up");
    let decoded = record_set::decode(&batch).expect("decode");
    let mut zstd = decoded.header;
    zstd.attributes = 4;
    let rebuilt = record_set::rebuild(
        &record_set::DecodedBatch {
            header: zstd,
            body: decoded.body.clone(),
            records: decoded.records.clone(),
        },
        &decoded.records.iter().collect::<Vec<_>>(),
        None,
    )
    .expect("zstd batch");
    assert_eq!(
        down_convert(Bytes::from(rebuilt), 1, 0, usize::MAX),
        Err(LegacyError::Zstd)
    );
}

#[test]
fn down_conversion_skips_records_before_the_fetch_offset_of_plain_batches() {
    let mut batch = up_convert(&plain_set(1, RECORDS)).expect("up");
    batch[..8].copy_from_slice(&10i64.to_be_bytes());
    // A partial batch after the whole one is dropped.
    let mut log = batch.clone();
    log.extend_from_slice(&batch[..30]);
    let down = down_convert(Bytes::from(log), 1, 11, usize::MAX).expect("down");
    let offsets: Vec<i64> = legacy_of(&down).iter().map(|r| r.0).collect();
    assert_eq!(offsets, vec![11, 12]);
}

#[test]
fn a_wrong_crc_is_corrupt() {
    let mut set = plain_set(1, RECORDS);
    let last = set.len() - 1;
    set[last] ^= 0xff;
    assert!(matches!(up_convert(&set), Err(LegacyError::Corrupt(m)) if m.contains("crc")));
    // Inside a wrapper too.
    let mut inner = plain_set(0, RECORDS);
    let last = inner.len() - 1;
    inner[last] ^= 0xff;
    let value = codec::compress(1, &inner).expect("gzip");
    let mut set = Vec::new();
    message::write(&mut set, 0, 0, 1, false, -1, None, Some(&value));
    assert!(matches!(up_convert(&set), Err(LegacyError::Corrupt(_))));
}

#[test]
fn mixed_magic_is_invalid() {
    let mut set = plain_set(0, &RECORDS[..1]);
    set.extend_from_slice(&plain_set(1, &RECORDS[1..]));
    assert!(matches!(up_convert(&set), Err(LegacyError::Invalid(m)) if m.contains("magic")));
    // A v1 message inside a v0 wrapper.
    let inner = plain_set(1, RECORDS);
    let value = codec::compress(1, &inner).expect("gzip");
    let mut set = Vec::new();
    message::write(&mut set, 0, 0, 1, false, -1, None, Some(&value));
    assert!(
        matches!(up_convert(&set), Err(LegacyError::Invalid(m)) if m.contains("wrapper magic"))
    );
}

#[test]
fn nested_wrappers_and_second_wrappers_are_invalid() {
    let inner_wrapper = wrapped_set(1, 1, RECORDS);
    let value = codec::compress(1, &inner_wrapper).expect("gzip");
    let mut set = Vec::new();
    message::write(&mut set, 0, 1, 1, false, 0, None, Some(&value));
    assert_eq!(
        up_convert(&set),
        Err(LegacyError::Invalid(
            "Inner messages must not be compressed".into()
        ))
    );
    let mut two = wrapped_set(1, 1, RECORDS);
    two.extend_from_slice(&wrapped_set(1, 1, RECORDS));
    assert!(
        matches!(up_convert(&two), Err(LegacyError::Invalid(m)) if m.contains("more than one"))
    );
}

#[test]
fn absurd_wrapper_offsets_null_and_empty_wrappers_are_invalid() {
    // Inner offsets 0..=2 but the wrapper says 1: below the last inner offset, and not zero.
    let inner = plain_set(1, RECORDS);
    let value = codec::compress(1, &inner).expect("gzip");
    let mut set = Vec::new();
    message::write(&mut set, 1, 1, 1, false, 0, None, Some(&value));
    assert!(
        matches!(up_convert(&set), Err(LegacyError::Invalid(m)) if m.contains("wrapper offset"))
    );
    // Absurd inner offsets with a zero or large wrapper offset are reassigned, as Kafka does.
    let mut inner = Vec::new();
    message::write(&mut inner, i64::MAX, 1, 0, false, 5, Some(b"k"), Some(b"v"));
    let value = codec::compress(1, &inner).expect("gzip");
    let mut set = Vec::new();
    message::write(&mut set, 0, 1, 1, false, 5, None, Some(&value));
    assert_eq!(records_of(&up_convert(&set).expect("ok")).len(), 1);
    let mut set = Vec::new();
    message::write(&mut set, 7, 1, 1, false, 5, None, None);
    assert!(matches!(up_convert(&set), Err(LegacyError::Invalid(m)) if m.contains("null value")));
    let empty = codec::compress(1, b"").expect("gzip");
    let mut set = Vec::new();
    message::write(&mut set, 0, 1, 1, false, 5, None, Some(&empty));
    assert!(matches!(up_convert(&set), Err(LegacyError::Invalid(m)) if m.contains("no inner")));
}

#[test]
fn truncated_and_impossible_sizes_never_panic() {
    let set = wrapped_set(1, 2, RECORDS);
    for cut in 0..set.len() {
        let _ = up_convert(&set[..cut]);
    }
    let plain = plain_set(0, RECORDS);
    // Every single-byte corruption is an error or a conversion, never a panic.
    for i in 0..plain.len() {
        let mut bad = plain.clone();
        bad[i] = bad[i].wrapping_add(0x55);
        let _ = up_convert(&bad);
    }
    let mut tiny = vec![0u8; 12];
    tiny[8..12].copy_from_slice(&5i32.to_be_bytes());
    assert!(matches!(up_convert(&tiny), Err(LegacyError::Corrupt(_))));
    let mut huge = plain_set(1, &RECORDS[..1]);
    huge[8..12].copy_from_slice(&i32::MAX.to_be_bytes());
    assert!(
        up_convert(&huge).is_err(),
        "a partial entry only: no records"
    );
    // A key length past the record.
    let mut set = plain_set(1, &RECORDS[..1]);
    set[26..30].copy_from_slice(&1000i32.to_be_bytes()); // the key length
    let crc = crc32fast::hash(&set[16..]);
    set[12..16].copy_from_slice(&crc.to_be_bytes());
    assert!(matches!(up_convert(&set), Err(LegacyError::Corrupt(_))));
}

#[test]
fn a_compression_bomb_is_refused() {
    let zeros = vec![0u8; (codec::MAX_DECOMPRESSED + 1) as usize];
    let bomb = codec::compress(1, &zeros).expect("gzip");
    let mut set = Vec::new();
    message::write(&mut set, 0, 1, 1, false, 0, None, Some(&bomb));
    assert!(matches!(up_convert(&set), Err(LegacyError::Corrupt(m)) if m.contains("expands")));
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Message sets written by a real old client (kafka-python 1.4.7's LegacyRecordBatchBuilder):
/// ours must be byte for byte the same, and theirs must convert.
#[test]
fn encodings_match_a_real_old_client() {
    // magic 1, offset 0, CreateTime 1, key "k", value "v"
    let v1 = unhex("000000000000000000000018cf056e6e01000000000000000001000000016b0000000176");
    let mut ours = Vec::new();
    message::write(&mut ours, 0, 1, 0, false, 1, Some(b"k"), Some(b"v"));
    assert_eq!(ours, v1);
    // magic 0, offset 0, key "k", value "v"
    let v0 = unhex("0000000000000000000000101fecd70a0000000000016b0000000176");
    let mut ours = Vec::new();
    message::write(&mut ours, 0, 0, 0, false, -1, Some(b"k"), Some(b"v"));
    assert_eq!(ours, v0);
    // magic 1, a gzip wrapper (offset 0) of ("k", "v", ts 1) and (null, "w", ts 2)
    let gzip = unhex(concat!(
        "00000000000000000000004b6b01209d01010000000000000000ffffffff000000351f8b0800192915",
        "6b02ff6360800389f3ac79798c301e88c1980d22ca9044c48f4f5ede0a57c3f41f084032e500fec359",
        "3c47000000"
    ));
    let batch = up_convert(&gzip).expect("converts");
    assert_eq!(validate_batch(&batch).expect("v2").compression(), 1);
    let got = records_of(&batch);
    assert_eq!(
        got,
        vec![
            (0, 1, b"k".to_vec(), b"v".to_vec()),
            (1, 2, Vec::new(), b"w".to_vec())
        ]
    );
}
