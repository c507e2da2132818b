//! The guide's "Integration Test Example": its code verbatim, the scaffolding it needs,
//! and checks of the scrape.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use raft_metrics::http::Server;
use raft_metrics::RaftMetrics;

/// Where the cluster's `/metrics` endpoint listens. The guide's test fetches
/// `http://localhost:9090/metrics` (Prometheus's own port); the stand-in for `reqwest` below
/// sends that address here, so the test never depends on a fixed port being free.
static ENDPOINT: OnceLock<Server> = OnceLock::new();

/// A stand-in for the parts of `reqwest` the guide calls: one blocking HTTP/1.1 GET.
mod reqwest {
    use std::io::{self, Read, Write};
    use std::net::TcpStream;

    pub struct Response {
        body: String,
    }

    impl Response {
        pub async fn text(self) -> io::Result<String> {
            Ok(self.body)
        }
    }

    pub async fn get(url: &str) -> io::Result<Response> {
        let path = url.strip_prefix("http://localhost:9090").expect("the guide's URL");
        let addr = super::ENDPOINT.get().expect("cluster started").local_addr();
        let mut stream = TcpStream::connect(addr)?;
        write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost:9090\r\nConnection: close\r\n\r\n")?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        let (head, body) = response.split_once("\r\n\r\n").expect("a head");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        Ok(Response { body: body.to_owned() })
    }
}

/// Three replicas of one partition; the first leads. An append is replicated to both
/// followers and committed, through the guide's calls.
pub struct RaftCluster {
    nodes: Mutex<Vec<Node>>,
}

pub struct Node {
    id: String,
    log: Vec<Vec<u8>>,
}

impl RaftCluster {
    pub async fn new(size: usize) -> Self {
        ENDPOINT.get_or_init(|| Server::builder().bind("127.0.0.1:0").start().expect("serve /metrics"));
        let nodes = (1..=size).map(|i| Node { id: format!("e2e-{i}"), log: Vec::new() }).collect();
        Self { nodes: Mutex::new(nodes) }
    }

    pub fn leader(&self) -> Leader<'_> {
        Leader { cluster: self }
    }
}

pub struct Leader<'a> {
    cluster: &'a RaftCluster,
}

impl Leader<'_> {
    pub async fn append(&mut self, data: &[u8]) -> Result<u64, std::io::Error> {
        let (topic, partition) = ("e2e", 0);
        let metrics = RaftMetrics::new();
        let proposed = Instant::now();
        let mut nodes = self.cluster.nodes.lock().expect("not poisoned");
        let (leader, followers) = nodes.split_first_mut().expect("a leader");
        leader.log.push(data.to_vec());
        let index = leader.log.len() as u64;
        for follower in followers.iter_mut() {
            follower.log.push(data.to_vec());
            let lag = index - follower.log.len() as u64;
            metrics.set_follower_lag_entries(topic, partition, &follower.id, lag);
        }
        metrics.set_isr_size(topic, partition, 1 + followers.len());
        metrics.record_commit_latency(topic, partition, proposed.elapsed(), 1);
        metrics.set_commit_index(topic, partition, index);
        Ok(index)
    }
}

// The guide's test, verbatim from here but for the renamed metric (see the file's doc).
#[rustfmt::skip]
#[tokio::test]
async fn test_raft_metrics_end_to_end() {
    // Start 3-node Raft cluster
    let cluster = RaftCluster::new(3).await;

    // Write data to leader
    cluster.leader().append(b"test-data").await.unwrap();

    // Wait for replication
    tokio::time::sleep(Duration::from_millis(100)).await;

    // Verify metrics
    let metrics_endpoint = format!("http://localhost:9090/metrics");
    let response = reqwest::get(&metrics_endpoint).await.unwrap();
    let body = response.text().await.unwrap();

    // Check commit latency
    assert!(body.contains("chronik_raft_commit_latency_seconds"));

    // Check replication lag
    assert!(body.contains("chronik_raft_follower_lag_entries"));

    // Check ISR size
    assert!(body.contains("chronik_raft_isr_size"));
}
// The guide's test ends here.
