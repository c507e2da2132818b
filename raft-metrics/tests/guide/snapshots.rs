//! The guide's "5. Snapshot Metrics": its code verbatim, the scaffolding it needs,
//! and checks of the scrape.

use raft_metrics::RaftMetrics;

use crate::{scrape, value};

#[derive(Debug)]
pub enum Error {
    Unreachable,
}

pub type Result<T> = std::result::Result<T, Error>;

pub struct Snapshot {
    pub data: Vec<u8>,
    pub last_included_index: u64,
}

pub struct StateMachine {
    applied: u64,
}

impl StateMachine {
    async fn create_snapshot(&mut self) -> Result<Snapshot> {
        Ok(Snapshot { data: vec![7; 4096], last_included_index: self.applied })
    }

    async fn apply_snapshot(&mut self, snapshot: Snapshot) -> Result<()> {
        self.applied = snapshot.last_included_index;
        Ok(())
    }
}

pub struct RpcClient;

impl RpcClient {
    async fn install_snapshot(&self, target_node: &str, _snapshot: Snapshot) -> Result<()> {
        if target_node == "down" {
            Err(Error::Unreachable)
        } else {
            Ok(())
        }
    }
}

pub struct RaftSnapshot {
    topic: String,
    partition: i32,
    state_machine: StateMachine,
    rpc_client: RpcClient,
}

// The guide's block, verbatim from here.
#[rustfmt::skip]
impl RaftSnapshot {
    async fn create_snapshot(&mut self) -> Result<()> {
        let metrics = RaftMetrics::new();
        let start = std::time::Instant::now();

        let snapshot = self.state_machine.create_snapshot().await?;
        let size_bytes = snapshot.data.len() as u64;
        let last_index = snapshot.last_included_index;

        let latency_ms = start.elapsed().as_millis() as f64;

        metrics.record_snapshot_create(
            &self.topic,
            self.partition,
            "size", // trigger: size/time/manual
            size_bytes,
            latency_ms,
            last_index
        );

        Ok(())
    }

    async fn apply_snapshot(&mut self, snapshot: Snapshot) -> Result<()> {
        let metrics = RaftMetrics::new();
        let start = std::time::Instant::now();

        self.state_machine.apply_snapshot(snapshot).await?;

        let latency_ms = start.elapsed().as_millis() as f64;
        metrics.record_snapshot_apply(&self.topic, self.partition, latency_ms);

        Ok(())
    }

    async fn send_snapshot(&mut self, target_node: &str, snapshot: Snapshot) -> Result<()> {
        let metrics = RaftMetrics::new();

        let result = self.rpc_client.install_snapshot(target_node, snapshot).await;
        let success = result.is_ok();

        metrics.record_snapshot_transfer(&self.topic, self.partition, "send", success);

        result
    }

    async fn receive_snapshot(&mut self, snapshot: Snapshot) -> Result<()> {
        let metrics = RaftMetrics::new();

        let result = self.apply_snapshot(snapshot).await;
        let success = result.is_ok();

        metrics.record_snapshot_transfer(&self.topic, self.partition, "receive", success);

        result
    }
}
// The guide's block ends here.

#[tokio::test]
async fn every_call_lands() {
    let mut node = RaftSnapshot {
        topic: "snapshots".to_owned(),
        partition: 1,
        state_machine: StateMachine { applied: 640 },
        rpc_client: RpcClient,
    };
    node.create_snapshot().await.expect("create");
    let snapshot = || Snapshot { data: vec![1; 10], last_included_index: 700 };
    node.send_snapshot("broker-2", snapshot()).await.expect("send");
    assert!(node.send_snapshot("down", snapshot()).await.is_err());
    node.receive_snapshot(snapshot()).await.expect("receive");

    let s = scrape();
    let p = [("topic", "snapshots"), ("partition", "1")];
    assert_eq!(value(&s, "chronik_raft_snapshot_creations_total", &[p[0], p[1], ("trigger", "size")]), 1.0);
    assert_eq!(value(&s, "chronik_raft_snapshot_size_bytes_sum", &p), 4096.0);
    assert_eq!(value(&s, "chronik_raft_snapshot_create_duration_seconds_count", &p), 1.0);
    assert_eq!(value(&s, "chronik_raft_snapshot_last_index", &p), 640.0);
    assert_eq!(value(&s, "chronik_raft_snapshot_apply_duration_seconds_count", &p), 1.0);
    let transfers = |direction, result| {
        value(&s, "chronik_raft_snapshot_transfers_total", &[p[0], p[1], ("direction", direction), ("result", result)])
    };
    assert_eq!(transfers("send", "success"), 1.0);
    assert_eq!(transfers("send", "failure"), 1.0);
    assert_eq!(transfers("receive", "success"), 1.0);
    assert_eq!(transfers("receive", "failure"), 0.0);
    assert_eq!(node.state_machine.applied, 700);
}
