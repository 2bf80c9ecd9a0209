//! Which error codes a response carries, for Kafka's ErrorsPerSec (request, error). Each
//! response type says where its codes sit (top level, per topic, per partition); the request
//! path calls [`Counted::each_error`] on whatever it answers, and a type with no entry here
//! falls back to [`Uncounted`] (counts nothing) through auto-ref method resolution, so a new
//! API needs no edit here to compile.
//!
//! Counting walks the response the handler built anyway; it allocates nothing.

use kafka_protocol::messages::*;

/// A response type whose error codes are known.
pub trait ErrorCodes {
    fn error_codes(&self, each: &mut dyn FnMut(i16));
}

/// Wraps a response for the auto-ref dispatch: `(&Probe(&response)).each_error(..)`.
pub struct Probe<'a, T>(pub &'a T);

pub trait Counted {
    fn each_error(&self, each: &mut dyn FnMut(i16));
}

impl<T: ErrorCodes> Counted for Probe<'_, T> {
    fn each_error(&self, each: &mut dyn FnMut(i16)) {
        self.0.error_codes(each)
    }
}

/// The fallback for response types without an [`ErrorCodes`] entry.
pub trait Uncounted {
    fn each_error(&self, _each: &mut dyn FnMut(i16)) {}
}

impl<T> Uncounted for &Probe<'_, T> {}

/// `top_level!(Type, ...)`: the response has one `error_code`.
macro_rules! top_level {
    ($($t:ty),* $(,)?) => {$(
        impl ErrorCodes for $t {
            fn error_codes(&self, each: &mut dyn FnMut(i16)) {
                each(self.error_code)
            }
        }
    )*};
}

top_level!(
    ApiVersionsResponse,
    SaslHandshakeResponse,
    SaslAuthenticateResponse,
    JoinGroupResponse,
    SyncGroupResponse,
    HeartbeatResponse,
    LeaveGroupResponse,
    ListGroupsResponse,
    InitProducerIdResponse,
    AddOffsetsToTxnResponse,
    EndTxnResponse,
    ConsumerGroupHeartbeatResponse,
    DescribeClusterResponse,
    DescribeAclsResponse,
);

impl ErrorCodes for ProduceResponse {
    fn error_codes(&self, each: &mut dyn FnMut(i16)) {
        for t in &self.responses {
            for p in &t.partition_responses {
                each(p.error_code)
            }
        }
    }
}

impl ErrorCodes for FetchResponse {
    fn error_codes(&self, each: &mut dyn FnMut(i16)) {
        each(self.error_code);
        for t in &self.responses {
            for p in &t.partitions {
                each(p.error_code)
            }
        }
    }
}

impl ErrorCodes for ListOffsetsResponse {
    fn error_codes(&self, each: &mut dyn FnMut(i16)) {
        for t in &self.topics {
            for p in &t.partitions {
                each(p.error_code)
            }
        }
    }
}

impl ErrorCodes for OffsetCommitResponse {
    fn error_codes(&self, each: &mut dyn FnMut(i16)) {
        for t in &self.topics {
            for p in &t.partitions {
                each(p.error_code)
            }
        }
    }
}

impl ErrorCodes for TxnOffsetCommitResponse {
    fn error_codes(&self, each: &mut dyn FnMut(i16)) {
        for t in &self.topics {
            for p in &t.partitions {
                each(p.error_code)
            }
        }
    }
}

impl ErrorCodes for OffsetFetchResponse {
    fn error_codes(&self, each: &mut dyn FnMut(i16)) {
        each(self.error_code);
        for t in &self.topics {
            for p in &t.partitions {
                each(p.error_code)
            }
        }
        for g in &self.groups {
            each(g.error_code);
            for t in &g.topics {
                for p in &t.partitions {
                    each(p.error_code)
                }
            }
        }
    }
}

impl ErrorCodes for FindCoordinatorResponse {
    fn error_codes(&self, each: &mut dyn FnMut(i16)) {
        each(self.error_code);
        for c in &self.coordinators {
            each(c.error_code)
        }
    }
}

impl ErrorCodes for MetadataResponse {
    fn error_codes(&self, each: &mut dyn FnMut(i16)) {
        for t in &self.topics {
            each(t.error_code)
        }
    }
}

impl ErrorCodes for CreateTopicsResponse {
    fn error_codes(&self, each: &mut dyn FnMut(i16)) {
        for t in &self.topics {
            each(t.error_code)
        }
    }
}

impl ErrorCodes for DeleteTopicsResponse {
    fn error_codes(&self, each: &mut dyn FnMut(i16)) {
        for t in &self.responses {
            each(t.error_code)
        }
    }
}

impl ErrorCodes for DescribeGroupsResponse {
    fn error_codes(&self, each: &mut dyn FnMut(i16)) {
        for g in &self.groups {
            each(g.error_code)
        }
    }
}

impl ErrorCodes for DeleteGroupsResponse {
    fn error_codes(&self, each: &mut dyn FnMut(i16)) {
        for g in &self.results {
            each(g.error_code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::produce_response::{
        PartitionProduceResponse, TopicProduceResponse,
    };

    fn codes<T>(response: &T) -> Vec<i16>
    where
        for<'a> Probe<'a, T>: Counted,
    {
        let mut seen = Vec::new();
        Probe(response).each_error(&mut |c| seen.push(c));
        seen
    }

    #[test]
    fn nested_codes_are_found_and_unknown_types_count_nothing() {
        let mut produce = ProduceResponse::default();
        produce.responses.push(
            TopicProduceResponse::default().with_partition_responses(vec![
                PartitionProduceResponse::default().with_error_code(6),
                PartitionProduceResponse::default(),
            ]),
        );
        assert_eq!(codes(&produce), vec![6, 0]);
        let mut seen = 0;
        (&Probe(&DescribeConfigsResponse::default())).each_error(&mut |_| seen += 1);
        assert_eq!(seen, 0);
    }
}
