//! Label and group types each implementation needs for `{topic, partition}` and a partition's
//! peers, `{topic, partition, peer}`.

use std::sync::Arc;

use measured::label::{FixedCardinalitySet, LabelSet, LabelValue, LabelVisitor};
use measured::lasso::{Rodeo, RodeoReader, Spur};
use paracord::ParaCord;
use raft_metrics::advanced::{Group, Metric, MetricKind, SeriesWriter};
use raft_metrics::{Buckets, Counter, Gauge, Histogram, RegistrationError};
use rustc_hash::FxBuildHasher;

use crate::{BUCKETS, COUNTERS, GAUGES, HISTOGRAMS, METRICS};

// ---------------------------------------------------------------------------------------------
// raft-metrics: one group holds a partition's 22 metrics in one allocation per label set.
// (A derive will generate this impl; it is written by hand here.)

/// A partition's 22 metrics as one raft-metrics [`Group`].
#[derive(Debug)]
pub struct RaftPartition {
    /// 10 integer gauges.
    pub gauges: [Gauge; GAUGES],
    /// 10 counters.
    pub counters: [Counter; COUNTERS],
    /// 2 histograms of 12 buckets.
    pub hists: [Histogram<BUCKETS>; HISTOGRAMS],
}

const fn partition_kinds() -> [MetricKind; METRICS] {
    let mut kinds = [MetricKind::Gauge; METRICS];
    let mut i = GAUGES;
    while i < GAUGES + COUNTERS {
        kinds[i] = MetricKind::Counter;
        i += 1;
    }
    while i < METRICS {
        kinds[i] = MetricKind::Histogram;
        i += 1;
    }
    kinds
}

const PARTITION_KINDS: [MetricKind; METRICS] = partition_kinds();

impl Group for RaftPartition {
    type Layout = Arc<Buckets>;
    const KINDS: &'static [MetricKind] = &PARTITION_KINDS;

    fn check(layout: &Arc<Buckets>) -> Result<(), RegistrationError> {
        <Histogram<BUCKETS> as Metric>::check(layout)
    }

    fn new(layout: &Arc<Buckets>) -> Self {
        Self {
            gauges: Default::default(),
            counters: Default::default(),
            hists: core::array::from_fn(|_| <Histogram<BUCKETS> as Metric>::new(layout)),
        }
    }

    fn reset(&self) {
        self.gauges.iter().for_each(Metric::reset);
        self.counters.iter().for_each(Metric::reset);
        self.hists.iter().for_each(Metric::reset);
    }

    fn encode(&self, layout: &Arc<Buckets>, metric: usize, out: &mut SeriesWriter<'_>) {
        match metric {
            m if m < GAUGES => Metric::encode(&self.gauges[m], &(), out),
            m if m < GAUGES + COUNTERS => Metric::encode(&self.counters[m - GAUGES], &(), out),
            m => Metric::encode(&self.hists[m - GAUGES - COUNTERS], layout, out),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// prometheus-client: the family key is a derived `EncodeLabelSet` struct.

/// prometheus-client labels with a `&'static str` topic: the cheapest key (no allocation to
/// build it), usable when topic names are `'static` (literals, or interned/leaked once).
#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct PcLabels {
    /// Topic name.
    pub topic: &'static str,
    /// Partition number, encoded by prometheus-client itself (no string conversion).
    pub partition: u32,
}

/// prometheus-client labels of a partition's peer, as [`PcLabels`].
#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct PcPeerLabels {
    /// Topic name.
    pub topic: &'static str,
    /// Partition number.
    pub partition: u32,
    /// The peer's node id.
    pub peer: u64,
}

/// prometheus-client labels with an owned `String` topic: what a caller holding a borrowed,
/// non-`'static` `&str` must build (one allocation per lookup).
#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct PcOwnedLabels {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: u32,
}

// ---------------------------------------------------------------------------------------------
// measured: label groups. measured has no integer label set, so the partition number goes
// through a small `LabelSet` over `0..n` (the documented extension point: "how this encoding is
// done is up to the application").

/// A partition number as a measured label value (written as an integer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PartitionNo(pub u32);

impl LabelValue for PartitionNo {
    fn visit<V: LabelVisitor>(&self, v: V) -> V::Output {
        v.write_int(i64::from(self.0))
    }
}

/// The partition numbers `0..n`, as a fixed-cardinality measured label set.
#[derive(Clone, Copy, Debug)]
pub struct PartitionRange(pub u32);

impl LabelSet for PartitionRange {
    type Value<'a> = PartitionNo;

    fn dynamic_cardinality(&self) -> Option<usize> {
        Some(self.0 as usize)
    }

    fn encode(&self, value: PartitionNo) -> Option<usize> {
        (value.0 < self.0).then_some(value.0 as usize)
    }

    fn decode(&self, value: usize) -> PartitionNo {
        PartitionNo(value as u32)
    }
}

impl FixedCardinalitySet for PartitionRange {}

/// The fixed topic set of [`DenseLabels`]: a lasso `RodeoReader` (the set measured's docs use
/// for strings known up front), hashed with FxHash as measured's own benchmarks do with a fast
/// hasher.
pub type TopicReader = RodeoReader<Spur, FxBuildHasher>;

/// measured labels over a fixed topic set: the label group has a fixed cardinality, so metric
/// vecs are dense arrays (measured's default up to 1024 label sets).
#[derive(Clone, Copy, Debug, measured::LabelGroup)]
#[label(set = DenseSet)]
pub struct DenseLabels<'a> {
    /// Topic name, looked up in a fixed set.
    #[label(fixed_with = TopicReader)]
    pub topic: &'a str,
    /// Partition number.
    #[label(fixed_with = PartitionRange)]
    pub partition: PartitionNo,
}

/// [`DenseLabels`] of a partition's peer: node ids are small integers too.
#[derive(Clone, Copy, Debug, measured::LabelGroup)]
#[label(set = DensePeerSet)]
pub struct DensePeerLabels<'a> {
    /// Topic name, looked up in a fixed set.
    #[label(fixed_with = TopicReader)]
    pub topic: &'a str,
    /// Partition number.
    #[label(fixed_with = PartitionRange)]
    pub partition: PartitionNo,
    /// The peer's node id.
    #[label(fixed_with = PartitionRange)]
    pub peer: PartitionNo,
}

/// measured labels with a dynamic topic (interned on first use in a `ParaCord`, as measured's
/// own high-cardinality benchmark does): the cardinality is unbounded, so metric vecs are sparse
/// (sharded, `RwLock`ed hash maps).
#[derive(Clone, Copy, Debug, measured::LabelGroup)]
#[label(set = SparseSet)]
pub struct SparseLabels<'a> {
    /// Topic name, interned on first use.
    #[label(dynamic_with = ParaCord)]
    pub topic: &'a str,
    /// Partition number.
    #[label(fixed_with = PartitionRange)]
    pub partition: PartitionNo,
}

/// A dense label set knowing `topics` and the partitions `0..partitions`.
pub fn dense_set(topics: &[&str], partitions: u32) -> Arc<DenseSet> {
    let mut rodeo = Rodeo::with_hasher(FxBuildHasher);
    for topic in topics {
        rodeo.get_or_intern(topic);
    }
    Arc::new(DenseSet::new(rodeo.into_reader(), PartitionRange(partitions)))
}

/// A dense label set of peers knowing `topics`, the partitions `0..partitions` and the node ids
/// `0..peers`.
pub fn dense_peer_set(topics: &[&str], partitions: u32, peers: u32) -> Arc<DensePeerSet> {
    let mut rodeo = Rodeo::with_hasher(FxBuildHasher);
    for topic in topics {
        rodeo.get_or_intern(topic);
    }
    Arc::new(DensePeerSet::new(rodeo.into_reader(), PartitionRange(partitions), PartitionRange(peers)))
}

/// A sparse label set with an empty topic interner and the partitions `0..partitions`.
pub fn sparse_set(partitions: u32) -> Arc<SparseSet> {
    Arc::new(SparseSet::new(ParaCord::default(), PartitionRange(partitions)))
}
