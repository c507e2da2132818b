//! The guide's "6. Network & RPC Metrics": its code verbatim, the scaffolding it needs,
//! and checks of the scrape.

use raft_metrics::RaftMetrics;

use crate::{scrape, value};

#[derive(Debug)]
pub enum RpcError {
    Timeout,
    ConnectionRefused,
    NetworkError(String),
    Shutdown,
}

pub type Result<T> = std::result::Result<T, RpcError>;

#[derive(Clone, Copy)]
pub struct Entry {
    pub data: &'static [u8],
}

/// `Copy`, as the guide reads `request.term` after handing `request` over.
#[derive(Clone, Copy)]
pub struct AppendEntriesRequest {
    pub topic: &'static str,
    pub partition: i32,
    pub leader_id: &'static str,
    pub term: u64,
    pub entries: &'static [Entry],
}

pub struct AppendEntriesResponse {
    pub term: u64,
    pub success: bool,
}

/// The transport: fails by target name.
pub struct Transport;

impl Transport {
    async fn append_entries(&self, target_node: &str, request: AppendEntriesRequest) -> Result<AppendEntriesResponse> {
        match target_node {
            "slow" => Err(RpcError::Timeout),
            "gone" => Err(RpcError::ConnectionRefused),
            "flaky" => Err(RpcError::NetworkError("reset".to_owned())),
            "stopping" => Err(RpcError::Shutdown),
            _ => Ok(AppendEntriesResponse { term: request.term, success: true }),
        }
    }
}

pub struct RaftRpcClient {
    client: Transport,
    term: u64,
}

impl RaftRpcClient {
    async fn process_append_entries(&self, request: AppendEntriesRequest) -> Result<AppendEntriesResponse> {
        Ok(AppendEntriesResponse { term: self.term, success: request.term >= self.term && request.entries.is_empty() })
    }
}

// The guide's block, verbatim from here.
#[rustfmt::skip]
impl RaftRpcClient {
    async fn append_entries(
        &self,
        target_node: &str,
        request: AppendEntriesRequest
    ) -> Result<AppendEntriesResponse> {
        let metrics = RaftMetrics::new();
        let start = std::time::Instant::now();

        // Track payload size
        let size_bytes = request.entries.iter().map(|e| e.data.len() as u64).sum();
        metrics.record_append_entries_sent(
            &request.topic,
            request.partition,
            target_node,
            size_bytes
        );

        // Make RPC call
        let result = self.client.append_entries(target_node, request).await;
        let latency_ms = start.elapsed().as_millis() as f64;
        let success = result.is_ok();

        // Record RPC metrics
        metrics.record_rpc_call("AppendEntries", target_node, success, latency_ms);

        // Record errors
        if let Err(e) = &result {
            let error_type = match e {
                RpcError::Timeout => "timeout",
                RpcError::ConnectionRefused => "connection_refused",
                RpcError::NetworkError(_) => "network_error",
                _ => "unknown",
            };
            metrics.record_rpc_error("AppendEntries", target_node, error_type);
        }

        result
    }

    async fn handle_append_entries_request(
        &self,
        request: AppendEntriesRequest
    ) -> Result<AppendEntriesResponse> {
        let metrics = RaftMetrics::new();

        // Track received RPCs
        metrics.record_append_entries_received(
            &request.topic,
            request.partition,
            &request.leader_id
        );

        // Process request
        let result = self.process_append_entries(request).await;

        // Track rejections
        if let Ok(response) = &result {
            if !response.success {
                let reason = if response.term > request.term {
                    "stale_term"
                } else {
                    "log_inconsistency"
                };
                metrics.record_append_entries_rejected(&request.topic, request.partition, reason);
            }
        }

        result
    }
}
// The guide's block ends here.

#[tokio::test]
async fn every_call_lands() {
    const ENTRIES: &[Entry] = &[Entry { data: &[0; 300] }, Entry { data: &[0; 212] }];
    let request = AppendEntriesRequest { topic: "rpc", partition: 5, leader_id: "broker-1", term: 4, entries: ENTRIES };
    let client = RaftRpcClient { client: Transport, term: 4 };
    for target in ["broker-2", "broker-2", "slow", "gone", "flaky", "stopping"] {
        let _ = client.append_entries(target, request).await;
    }
    // A request from an old term, and one whose log does not match (non-empty entries).
    let _ = client.handle_append_entries_request(AppendEntriesRequest { term: 3, entries: &[], ..request }).await;
    let _ = client.handle_append_entries_request(request).await;

    let s = scrape();
    let peer = |peer| [("topic", "rpc"), ("partition", "5"), ("peer", peer)];
    assert_eq!(value(&s, "chronik_raft_append_entries_sent_total", &peer("broker-2")), 2.0);
    assert_eq!(value(&s, "chronik_raft_append_entries_sent_bytes_total", &peer("broker-2")), 1024.0);
    assert_eq!(value(&s, "chronik_raft_append_entries_sent_bytes_total", &peer("slow")), 512.0);
    let calls = |target, result| {
        value(
            &s,
            "chronik_raft_rpc_calls_total",
            &[("method", "AppendEntries"), ("target", target), ("result", result)],
        )
    };
    assert_eq!(calls("broker-2", "success"), 2.0);
    assert_eq!(calls("slow", "failure"), 1.0);
    assert_eq!(
        value(&s, "chronik_raft_rpc_duration_seconds_count", &[("method", "AppendEntries"), ("target", "gone")]),
        1.0
    );
    for (target, error_type) in
        [("slow", "timeout"), ("gone", "connection_refused"), ("flaky", "network_error"), ("stopping", "unknown")]
    {
        let labels = [("method", "AppendEntries"), ("target", target), ("error_type", error_type)];
        assert_eq!(value(&s, "chronik_raft_rpc_errors_total", &labels), 1.0, "{target}");
    }
    assert_eq!(value(&s, "chronik_raft_append_entries_received_total", &peer("broker-1")), 2.0);
    let rejected =
        |reason| value(&s, "chronik_raft_append_entries_rejected_total", &[("topic", "rpc"), ("reason", reason)]);
    assert_eq!(rejected("stale_term"), 1.0);
    assert_eq!(rejected("log_inconsistency"), 1.0);
    assert_eq!(rejected("other"), 0.0);
}
