//! A user's hand-written `Group` whose encoding panics: the counter's value 13 is "unlucky".
//! Shared by the tests that check a panicking scrape leaves the registry and the server usable.

use raft_metrics::advanced::{Group, MetricKind, SeriesWriter};
use raft_metrics::{Counter, RegistrationError};

/// One counter; encoding it while it holds 13 panics.
pub(crate) struct Faulty(pub(crate) Counter);

/// The value whose encoding panics.
pub(crate) const UNLUCKY: u64 = 13;

impl Group for Faulty {
    type Layout = ();
    const KINDS: &'static [MetricKind] = &[MetricKind::Counter];

    fn check((): &()) -> Result<(), RegistrationError> {
        Ok(())
    }

    fn new((): &()) -> Self {
        Self(Counter::default())
    }

    fn reset(&self) {}

    fn encode(&self, (): &(), _metric: usize, out: &mut SeriesWriter<'_>) {
        assert_ne!(self.0.get(), UNLUCKY, "unlucky");
        out.counter(self.0.get());
    }
}
