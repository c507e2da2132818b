//! The guide's "Example: Sampling RPC Metrics": its code verbatim, the scaffolding it needs,
//! and checks of the scrape.

use raft_metrics::RaftMetrics;

use crate::{scrape, value};

/// A stand-in for the `fastrand` crate the guide calls: a xorshift per thread.
mod fastrand {
    use std::cell::Cell;
    use std::ops::RangeTo;

    thread_local!(static STATE: Cell<u64> = const { Cell::new(0x9E37_79B9_7F4A_7C15) });

    pub fn usize(range: RangeTo<usize>) -> usize {
        STATE.with(|s| {
            let mut x = s.get();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            s.set(x);
            (x % range.end as u64) as usize
        })
    }
}

pub type Result<T> = std::result::Result<T, std::io::Error>;
pub struct AppendEntriesRequest;
pub struct Response;

pub struct Client;

impl Client {
    async fn append_entries(&self, _target: &str, _req: AppendEntriesRequest) -> Result<Response> {
        Ok(Response)
    }
}

pub struct RaftRpcClient {
    client: Client,
}

// The guide's block, verbatim from here.
#[rustfmt::skip]
impl RaftRpcClient {
    async fn append_entries(&self, target: &str, req: AppendEntriesRequest) -> Result<Response> {
        let start = std::time::Instant::now();
        let result = self.client.append_entries(target, req).await;
        let latency_ms = start.elapsed().as_millis() as f64;

        // Sample 10% of RPCs (reduces overhead)
        if fastrand::usize(..100) < 10 {
            let metrics = RaftMetrics::new();
            metrics.record_rpc_call("AppendEntries", target, result.is_ok(), latency_ms);
        }

        result
    }
}
// The guide's block ends here.

#[tokio::test]
async fn one_in_ten_is_recorded() {
    let client = RaftRpcClient { client: Client };
    for _ in 0..2000 {
        client.append_entries("sampled-target", AppendEntriesRequest).await.expect("rpc");
    }
    let labels = [("method", "AppendEntries"), ("target", "sampled-target"), ("result", "success")];
    let recorded = value(&scrape(), "chronik_raft_rpc_calls_total", &labels);
    assert!((140.0..=260.0).contains(&recorded), "{recorded} of 2000");
}
