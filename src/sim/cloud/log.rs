//! The request log: one [`RequestRecord`] per API request, never holding a token or a secret.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::ops::Operation;

/// How many records the log keeps; older ones are dropped (the counters stay exact).
pub const LOG_CAPACITY: usize = 100_000;

/// One handled request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestRecord {
    /// Sequence number (from 1, over the sim's life).
    pub seq: u64,
    /// When it arrived (sim clock).
    pub time: DateTime<Utc>,
    /// HTTP method.
    pub method: String,
    /// Path (with the base path, without the query).
    pub path: String,
    /// The operation.
    pub operation: Operation,
    /// The HTTP status answered.
    pub status: u16,
    /// The client id the request acted as (from its token, or the login form), if known.
    pub principal: Option<String>,
    /// The `X-Request-ID` answered.
    pub request_id: String,
    /// Labels of the faults that fired on it.
    pub faults: Vec<String>,
    /// The VM a successful CreateVM made (to tie a VPS to the request that asked for it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vm_id: Option<u64>,
}

/// The log and the per-operation counters.
#[derive(Debug, Default)]
pub struct RequestLog {
    records: VecDeque<RequestRecord>,
    counts: BTreeMap<Operation, u64>,
    seq: u64,
}

impl RequestLog {
    /// Appends a record, assigning its sequence number.
    pub fn push(&mut self, mut record: RequestRecord) {
        self.seq += 1;
        record.seq = self.seq;
        *self.counts.entry(record.operation).or_default() += 1;
        if self.records.len() == LOG_CAPACITY {
            self.records.pop_front();
        }
        self.records.push_back(record);
    }

    /// The kept records, oldest first.
    pub fn records(&self) -> Vec<RequestRecord> {
        self.records.iter().cloned().collect()
    }

    /// How many requests of `op` were handled.
    pub fn count(&self, op: Operation) -> u64 {
        self.counts.get(&op).copied().unwrap_or(0)
    }

    /// Counters by operation name.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.counts
            .iter()
            .map(|(op, n)| (op.name().to_owned(), *n))
            .collect()
    }

    /// Total requests handled.
    pub fn total(&self) -> u64 {
        self.seq
    }
}
