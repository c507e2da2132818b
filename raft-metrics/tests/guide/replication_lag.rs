//! The guide's "2. Replication Lag Metrics": its code verbatim, the scaffolding it needs,
//! and checks of the scrape.

use std::collections::HashMap;

use raft_metrics::RaftMetrics;

use crate::{scrape, value};

pub struct AppendEntriesResponse {
    pub match_index: u64,
    pub timestamp_ms: Option<u64>,
}

pub struct Log {
    last: u64,
}

impl Log {
    fn last_index(&self) -> u64 {
        self.last
    }
}

pub struct FollowerState {
    pub match_index: u64,
}

pub struct RaftLeader {
    topic: String,
    partition: i32,
    log: Log,
    follower_states: HashMap<String, FollowerState>,
}

fn current_timestamp_ms() -> u64 {
    crate::now_ms()
}

// The guide's block, verbatim from here.
#[rustfmt::skip]
impl RaftLeader {
    fn on_append_entries_response(&mut self, follower_id: &str, response: AppendEntriesResponse) {
        let metrics = RaftMetrics::new();

        // Calculate lag in entries
        let leader_index = self.log.last_index();
        let follower_index = response.match_index;
        let lag_entries = leader_index.saturating_sub(follower_index);

        metrics.set_follower_lag_entries(
            &self.topic,
            self.partition,
            follower_id,
            lag_entries
        );

        // Calculate lag in milliseconds (if timestamp available)
        if let Some(follower_timestamp) = response.timestamp_ms {
            let now_ms = current_timestamp_ms();
            let lag_ms = now_ms.saturating_sub(follower_timestamp);
            metrics.set_follower_lag_ms(&self.topic, self.partition, follower_id, lag_ms);
        }

        // Update last heartbeat timestamp
        let now_ms = current_timestamp_ms();
        metrics.update_last_heartbeat(&self.topic, self.partition, follower_id, now_ms);

        // Update max lag across all followers
        let max_lag = self.calculate_max_follower_lag();
        metrics.set_max_follower_lag(&self.topic, self.partition, max_lag);
    }

    fn calculate_max_follower_lag(&self) -> u64 {
        let leader_index = self.log.last_index();
        self.follower_states.values()
            .map(|state| leader_index.saturating_sub(state.match_index))
            .max()
            .unwrap_or(0)
    }
}
// The guide's block ends here.

#[test]
fn every_call_lands() {
    let followers = [("broker-2", FollowerState { match_index: 95 }), ("broker-3", FollowerState { match_index: 60 })];
    let mut leader = RaftLeader {
        topic: "lag".to_owned(),
        partition: -1, // Kafka's "no partition": exported as given
        log: Log { last: 100 },
        follower_states: followers.into_iter().map(|(id, s)| (id.to_owned(), s)).collect(),
    };
    let before = crate::now_ms();
    let response = AppendEntriesResponse { match_index: 95, timestamp_ms: Some(before - 45) };
    leader.on_append_entries_response("broker-2", response);
    let after = crate::now_ms();

    let s = scrape();
    let peer = [("topic", "lag"), ("partition", "-1"), ("peer", "broker-2")];
    assert_eq!(value(&s, "chronik_raft_follower_lag_entries", &peer), 5.0);
    let lag = value(&s, "chronik_raft_follower_lag_seconds", &peer);
    assert!((0.045..=(45 + after - before) as f64 / 1000.0).contains(&lag), "{lag}");
    let heartbeat = value(&s, "chronik_raft_last_heartbeat_timestamp_seconds", &peer);
    assert!((before as f64 / 1000.0..=after as f64 / 1000.0).contains(&heartbeat), "{heartbeat}");
    assert_eq!(value(&s, "chronik_raft_max_follower_lag_entries", &[("topic", "lag"), ("partition", "-1")]), 40.0);
}
