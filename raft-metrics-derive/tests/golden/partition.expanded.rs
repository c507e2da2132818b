///The registered family of [`PartitionMetrics`]: binds label values (`topic`, `partition`) to series.
#[derive(Clone, Debug)]
pub struct PartitionMetricsFamily {
    family: ::raft_metrics::__private::Family<PartitionMetrics, 2usize>,
}
///Single-writer view of one [`PartitionMetrics`] series: every field records without locked instructions.
#[allow(missing_debug_implementations)]
pub struct PartitionMetricsLocal<'a> {
    #[allow(missing_docs)]
    pub current_term: ::raft_metrics::__private::Local<'a, Gauge>,
    #[allow(missing_docs)]
    pub commit_latency: ::raft_metrics::__private::Local<'a, Histogram<14>>,
    #[allow(missing_docs)]
    pub append_entries_rejected: ::raft_metrics::__private::Local<
        'a,
        ByLabel<RejectReason, Counter, 2>,
    >,
    #[allow(missing_docs)]
    pub rpc_round_trip: ::raft_metrics::__private::Local<'a, Sampled<Histogram<3>>>,
    #[allow(missing_docs)]
    pub append_batch: ::raft_metrics::__private::Local<'a, Histogram<8>>,
}
#[allow(unused_qualifications, clippy::all, clippy::pedantic)]
const _: () = {
    const _: () = ::raft_metrics::__private::assert_label_value::<&str>();
    const _: () = ::raft_metrics::__private::assert_label_value::<u32>();
    const _: () = ::raft_metrics::__private::assert_metric_name("chronik_raft");
    const _: () = ::raft_metrics::__private::assert_label_name("topic");
    const _: () = ::raft_metrics::__private::assert_label_name("partition");
    const _: () = ::raft_metrics::__private::assert_label_name("reason");
    const _: () = ::raft_metrics::__private::assert_metric_name("current_term");
    const _: () = ::raft_metrics::__private::assert_metric_name(
        "commit_latency_seconds",
    );
    const _: () = ::raft_metrics::__private::assert_metric_name(
        "append_entries_rejected",
    );
    const _: () = ::raft_metrics::__private::assert_metric_name(
        "rpc_round_trip_seconds",
    );
    const _: () = ::raft_metrics::__private::assert_metric_name("append_batch_bytes");
    const _: () = ::core::assert!(
        < Histogram < 14 > as ::raft_metrics::__private::Shape > ::BUCKETS == 14usize,
        "the field type's bucket count must equal the 14 bounds in `buckets`"
    );
    const _: () = ::raft_metrics::__private::assert_enum_label::<RejectReason>();
    const _: () = ::core::assert!(
        < ByLabel < RejectReason, Counter, 2 > as ::raft_metrics::__private::Shape >
        ::LABEL_VALUES == < RejectReason as ::raft_metrics::__private::EnumLabel >
        ::VALUES.len(),
        "the `ByLabel` size N must equal the number of values of the label type"
    );
    const _: () = ::core::assert!(
        < Sampled < Histogram < 3 > > as ::raft_metrics::__private::Shape > ::BUCKETS ==
        3usize, "the field type's bucket count must equal the 3 bounds in `buckets`"
    );
    const _: () = ::raft_metrics::__private::assert_bucket_bounds(
        &BATCH_BYTES_BUCKETS,
        <Histogram<8> as ::raft_metrics::__private::Shape>::BUCKETS,
    );
    #[automatically_derived]
    impl ::raft_metrics::__private::Group for PartitionMetrics {
        type Layout = (
            <Gauge as ::raft_metrics::__private::Metric>::Layout,
            <Histogram<14> as ::raft_metrics::__private::Metric>::Layout,
            <ByLabel<
                RejectReason,
                Counter,
                2,
            > as ::raft_metrics::__private::Metric>::Layout,
            <Sampled<Histogram<3>> as ::raft_metrics::__private::Metric>::Layout,
            <Histogram<8> as ::raft_metrics::__private::Metric>::Layout,
        );
        const KINDS: &'static [::raft_metrics::__private::MetricKind] = &[
            <Gauge as ::raft_metrics::__private::Metric>::KIND,
            <Histogram<14> as ::raft_metrics::__private::Metric>::KIND,
            <ByLabel<
                RejectReason,
                Counter,
                2,
            > as ::raft_metrics::__private::Metric>::KIND,
            <Sampled<Histogram<3>> as ::raft_metrics::__private::Metric>::KIND,
            <Histogram<8> as ::raft_metrics::__private::Metric>::KIND,
        ];
        fn check(
            layout: &Self::Layout,
        ) -> ::raft_metrics::__private::Result<
            (),
            ::raft_metrics::__private::RegistrationError,
        > {
            <Gauge as ::raft_metrics::__private::Metric>::check(&layout.0)?;
            <Histogram<14> as ::raft_metrics::__private::Metric>::check(&layout.1)?;
            <ByLabel<
                RejectReason,
                Counter,
                2,
            > as ::raft_metrics::__private::Metric>::check(&layout.2)?;
            <Sampled<
                Histogram<3>,
            > as ::raft_metrics::__private::Metric>::check(&layout.3)?;
            <Histogram<8> as ::raft_metrics::__private::Metric>::check(&layout.4)?;
            ::raft_metrics::__private::Ok(())
        }
        fn new(layout: &Self::Layout) -> Self {
            Self {
                current_term: <Gauge as ::raft_metrics::__private::Metric>::new(
                    &layout.0,
                ),
                commit_latency: <Histogram<
                    14,
                > as ::raft_metrics::__private::Metric>::new(&layout.1),
                append_entries_rejected: <ByLabel<
                    RejectReason,
                    Counter,
                    2,
                > as ::raft_metrics::__private::Metric>::new(&layout.2),
                rpc_round_trip: <Sampled<
                    Histogram<3>,
                > as ::raft_metrics::__private::Metric>::new(&layout.3),
                append_batch: <Histogram<
                    8,
                > as ::raft_metrics::__private::Metric>::new(&layout.4),
            }
        }
        fn reset(&self) {
            ::raft_metrics::__private::Metric::reset(&self.current_term);
            ::raft_metrics::__private::Metric::reset(&self.commit_latency);
            ::raft_metrics::__private::Metric::reset(&self.append_entries_rejected);
            ::raft_metrics::__private::Metric::reset(&self.rpc_round_trip);
            ::raft_metrics::__private::Metric::reset(&self.append_batch);
        }
        fn encode(
            &self,
            layout: &Self::Layout,
            metric: usize,
            out: &mut ::raft_metrics::__private::SeriesWriter<'_>,
        ) {
            match metric {
                0 => {
                    ::raft_metrics::__private::Metric::encode(
                        &self.current_term,
                        &layout.0,
                        out,
                    )
                }
                1 => {
                    ::raft_metrics::__private::Metric::encode(
                        &self.commit_latency,
                        &layout.1,
                        out,
                    )
                }
                2 => {
                    ::raft_metrics::__private::Metric::encode(
                        &self.append_entries_rejected,
                        &layout.2,
                        out,
                    )
                }
                3 => {
                    ::raft_metrics::__private::Metric::encode(
                        &self.rpc_round_trip,
                        &layout.3,
                        out,
                    )
                }
                4 => {
                    ::raft_metrics::__private::Metric::encode(
                        &self.append_batch,
                        &layout.4,
                        out,
                    )
                }
                _ => {}
            }
        }
        fn sample_control(
            layout: &Self::Layout,
            metric: usize,
        ) -> ::raft_metrics::__private::Option<
            &::raft_metrics::__private::Arc<::raft_metrics::__private::SampleControl>,
        > {
            match metric {
                0 => {
                    <Gauge as ::raft_metrics::__private::Metric>::sample_control(
                        &layout.0,
                    )
                }
                1 => {
                    <Histogram<
                        14,
                    > as ::raft_metrics::__private::Metric>::sample_control(&layout.1)
                }
                2 => {
                    <ByLabel<
                        RejectReason,
                        Counter,
                        2,
                    > as ::raft_metrics::__private::Metric>::sample_control(&layout.2)
                }
                3 => {
                    <Sampled<
                        Histogram<3>,
                    > as ::raft_metrics::__private::Metric>::sample_control(&layout.3)
                }
                4 => {
                    <Histogram<
                        8,
                    > as ::raft_metrics::__private::Metric>::sample_control(&layout.4)
                }
                _ => ::raft_metrics::__private::None,
            }
        }
    }
    #[automatically_derived]
    impl ::raft_metrics::__private::LocalFields for PartitionMetrics {
        type Fields<'a> = PartitionMetricsLocal<'a>;
        #[inline]
        fn fields(
            local: ::raft_metrics::__private::Local<'_, Self>,
        ) -> PartitionMetricsLocal<'_> {
            PartitionMetricsLocal {
                current_term: local.project(|group| &group.current_term),
                commit_latency: local.project(|group| &group.commit_latency),
                append_entries_rejected: local
                    .project(|group| &group.append_entries_rejected),
                rpc_round_trip: local.project(|group| &group.rpc_round_trip),
                append_batch: local.project(|group| &group.append_batch),
            }
        }
    }
    #[automatically_derived]
    impl PartitionMetrics {
        /// The declared schema: names, kinds, HELP, units, labels, buckets, sampling.
        pub const SCHEMA: ::raft_metrics::__private::Schema = ::raft_metrics::__private::Schema {
            type_name: "PartitionMetrics",
            namespace: "chronik_raft",
            labels: &["topic", "partition"],
            metrics: &[
                ::raft_metrics::__private::MetricSchema {
                    name: "current_term",
                    kind: ::raft_metrics::__private::MetricKind::Gauge,
                    help: "Current Raft term.",
                    unit: ::raft_metrics::__private::None,
                    enum_label: ::raft_metrics::__private::None,
                    buckets: &[],
                    sample: ::raft_metrics::__private::None,
                },
                ::raft_metrics::__private::MetricSchema {
                    name: "commit_latency_seconds",
                    kind: ::raft_metrics::__private::MetricKind::Histogram,
                    help: "Time from proposal to commit.",
                    unit: ::raft_metrics::__private::Some("seconds"),
                    enum_label: ::raft_metrics::__private::None,
                    buckets: &[
                        f64::from_bits(4557750909289998844u64),
                        f64::from_bits(4562254508917369340u64),
                        f64::from_bits(4566758108544739836u64),
                        f64::from_bits(4571261708172110332u64),
                        f64::from_bits(4575765307799480828u64),
                        f64::from_bits(4580268907426851324u64),
                        f64::from_bits(4584772507054221820u64),
                        f64::from_bits(4589276106681592316u64),
                        f64::from_bits(4593779706308962812u64),
                        f64::from_bits(4598283305936333308u64),
                        f64::from_bits(4602786905563703804u64),
                        f64::from_bits(4607290505191074300u64),
                        f64::from_bits(4611794104818444796u64),
                        f64::from_bits(4616297704445815292u64),
                    ],
                    sample: ::raft_metrics::__private::None,
                },
                ::raft_metrics::__private::MetricSchema {
                    name: "append_entries_rejected",
                    kind: ::raft_metrics::__private::MetricKind::Counter,
                    help: "AppendEntries requests this follower rejected.",
                    unit: ::raft_metrics::__private::None,
                    enum_label: ::raft_metrics::__private::Some(::raft_metrics::__private::EnumLabelSchema {
                        name: "reason",
                        values: <RejectReason as ::raft_metrics::__private::EnumLabel>::VALUES,
                    }),
                    buckets: &[],
                    sample: ::raft_metrics::__private::None,
                },
                ::raft_metrics::__private::MetricSchema {
                    name: "rpc_round_trip_seconds",
                    kind: ::raft_metrics::__private::MetricKind::Histogram,
                    help: "Round trip of outgoing RPCs.",
                    unit: ::raft_metrics::__private::Some("seconds"),
                    enum_label: ::raft_metrics::__private::None,
                    buckets: &[
                        f64::from_bits(4562254508917369340u64),
                        f64::from_bits(4576918229304087675u64),
                        f64::from_bits(4591870180066957722u64),
                    ],
                    sample: ::raft_metrics::__private::Some(16u32),
                },
                ::raft_metrics::__private::MetricSchema {
                    name: "append_batch_bytes",
                    kind: ::raft_metrics::__private::MetricKind::Histogram,
                    help: "Size of appended batches.",
                    unit: ::raft_metrics::__private::Some("bytes"),
                    enum_label: ::raft_metrics::__private::None,
                    buckets: &BATCH_BYTES_BUCKETS,
                    sample: ::raft_metrics::__private::None,
                },
            ],
        };
        /// Registers every metric of this struct on `registry` under the default namespace.
        ///
        /// # Errors
        ///
        /// When a name is already registered there.
        pub fn register(
            registry: &::raft_metrics::__private::Registry,
        ) -> ::raft_metrics::__private::Result<
            PartitionMetricsFamily,
            ::raft_metrics::__private::RegistrationError,
        > {
            Self::register_with_namespace(registry, "chronik_raft")
        }
        /// Registers every metric on the process-wide default registry.
        ///
        /// # Errors
        ///
        /// When a name is already registered there.
        pub fn register_global() -> ::raft_metrics::__private::Result<
            PartitionMetricsFamily,
            ::raft_metrics::__private::RegistrationError,
        > {
            Self::register(::raft_metrics::__private::Registry::global())
        }
        /// Registers every metric on `registry`, prefixed with `namespace` (empty: no prefix).
        ///
        /// # Errors
        ///
        /// When `namespace` makes an invalid name, or a name is already registered.
        pub fn register_with_namespace(
            registry: &::raft_metrics::__private::Registry,
            namespace: &str,
        ) -> ::raft_metrics::__private::Result<
            PartitionMetricsFamily,
            ::raft_metrics::__private::RegistrationError,
        > {
            let layout: <Self as ::raft_metrics::__private::Group>::Layout = (
                (),
                ::raft_metrics::__private::buckets(
                    &[
                        f64::from_bits(4557750909289998844u64),
                        f64::from_bits(4562254508917369340u64),
                        f64::from_bits(4566758108544739836u64),
                        f64::from_bits(4571261708172110332u64),
                        f64::from_bits(4575765307799480828u64),
                        f64::from_bits(4580268907426851324u64),
                        f64::from_bits(4584772507054221820u64),
                        f64::from_bits(4589276106681592316u64),
                        f64::from_bits(4593779706308962812u64),
                        f64::from_bits(4598283305936333308u64),
                        f64::from_bits(4602786905563703804u64),
                        f64::from_bits(4607290505191074300u64),
                        f64::from_bits(4611794104818444796u64),
                        f64::from_bits(4616297704445815292u64),
                    ],
                    ::raft_metrics::__private::None,
                )?,
                ::raft_metrics::__private::ByLabelLayout::<
                    RejectReason,
                    _,
                >::new("reason", ())?,
                ::raft_metrics::__private::SampledLayout::new(
                    ::raft_metrics::__private::buckets(
                        &[
                            f64::from_bits(4562254508917369340u64),
                            f64::from_bits(4576918229304087675u64),
                            f64::from_bits(4591870180066957722u64),
                        ],
                        ::raft_metrics::__private::None,
                    )?,
                    ::raft_metrics::__private::NonZeroU32::new(16u32)
                        .map_or(
                            ::raft_metrics::__private::Sampling::All,
                            ::raft_metrics::__private::Sampling::OneIn,
                        ),
                ),
                ::raft_metrics::__private::buckets(
                    &BATCH_BYTES_BUCKETS,
                    ::raft_metrics::__private::None,
                )?,
            );
            let mut infos = ::raft_metrics::__private::Vec::with_capacity(5usize);
            infos
                .push(
                    ::raft_metrics::__private::MetricInfo::new(
                        ::raft_metrics::__private::metric_name(
                            namespace,
                            "current_term",
                        ),
                        "Current Raft term.",
                    ),
                );
            infos
                .push(
                    ::raft_metrics::__private::MetricInfo::new(
                            ::raft_metrics::__private::metric_name(
                                namespace,
                                "commit_latency_seconds",
                            ),
                            "Time from proposal to commit.",
                        )
                        .with_unit(::raft_metrics::__private::Unit::Seconds),
                );
            infos
                .push(
                    ::raft_metrics::__private::MetricInfo::new(
                        ::raft_metrics::__private::metric_name(
                            namespace,
                            "append_entries_rejected",
                        ),
                        "AppendEntries requests this follower rejected.",
                    ),
                );
            infos
                .push(
                    ::raft_metrics::__private::MetricInfo::new(
                            ::raft_metrics::__private::metric_name(
                                namespace,
                                "rpc_round_trip_seconds",
                            ),
                            "Round trip of outgoing RPCs.",
                        )
                        .with_unit(::raft_metrics::__private::Unit::Seconds),
                );
            infos
                .push(
                    ::raft_metrics::__private::MetricInfo::new(
                            ::raft_metrics::__private::metric_name(
                                namespace,
                                "append_batch_bytes",
                            ),
                            "Size of appended batches.",
                        )
                        .with_unit(::raft_metrics::__private::Unit::Bytes),
                );
            let spec = ::raft_metrics::__private::FamilySpec::<
                Self,
                2usize,
            >::new(infos, ["topic", "partition"], layout);
            ::raft_metrics::__private::Ok(PartitionMetricsFamily {
                family: registry.register(spec)?,
            })
        }
    }
    #[automatically_derived]
    impl PartitionMetricsFamily {
        ///A handle on the series for the label values `(topic: &str, partition: u32)`, taken as `Family::bind` takes them: records with no lookup.
        #[inline]
        pub fn bind(
            &self,
            labels: impl ::raft_metrics::__private::LabelValues<2usize>,
        ) -> ::raft_metrics::__private::Handle<PartitionMetrics> {
            self.family.bind(labels)
        }
        ///The series for the label values `(topic: &str, partition: u32)`, resolved on every call (no lock when it exists), pinned to its label set while the guard lives.
        #[inline]
        pub fn get(
            &self,
            labels: impl ::raft_metrics::__private::LabelValues<2usize>,
        ) -> ::raft_metrics::Pinned<'_, PartitionMetrics> {
            self.family.get(labels)
        }
        ///The single-writer handle on the series for the label values `(topic: &str, partition: u32)`; its `fields()` record without locked instructions.
        ///
        /// # Errors
        ///
        /// When another single-writer handle owns the series, or the family is full.
        pub fn claim(
            &self,
            labels: impl ::raft_metrics::__private::LabelValues<2usize>,
        ) -> ::raft_metrics::__private::Result<
            ::raft_metrics::__private::Exclusive<PartitionMetrics>,
            ::raft_metrics::__private::ClaimError,
        > {
            self.family.claim(labels)
        }
        ///Removes the series for the label values `(topic: &str, partition: u32)` (say, a partition moved away); its handles stay valid.
        pub fn remove(
            &self,
            labels: impl ::raft_metrics::__private::LabelValues<2usize>,
        ) -> bool {
            self.family.remove(labels)
        }
        /// The underlying family.
        pub fn family(
            &self,
        ) -> &::raft_metrics::__private::Family<PartitionMetrics, 2usize> {
            &self.family
        }
    }
};
