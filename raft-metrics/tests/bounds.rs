//! Memory stays bounded under hostile cardinality and steady churn. RSS is read from
//! /proc/self/statm; each test runs its own family, and the bounds leave room for the test
//! harness's other threads.

use raft_metrics::advanced::parse::parse;
use raft_metrics::{
    Counter, FamilySpec, Format, Gauge, MetricInfo, Registry, DEFAULT_MAX_SERIES, OVERFLOW_LABEL_VALUE,
};

/// RSS is process-wide: the tests take turns.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn rss_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let resident: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(resident * 4096)
}

/// 10^6 distinct topic values: the family keeps `max_series` of them, the rest share the
/// overflow series, the dropped counter says how many, memory and scrape size stay bounded.
#[test]
fn a_cardinality_bomb_is_contained() {
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let registry = Registry::new();
    let family = registry.register_with::<Counter, 1>(MetricInfo::new("bomb_total", "Bombed."), ["topic"], ()).unwrap();
    let before = rss_bytes();
    let bombs = 1_000_000u64;
    let mut topic = String::new();
    for i in 0..bombs {
        topic.clear();
        topic.push_str("topic-");
        topic.push_str(itoa_like(i).as_str());
        family.get((topic.as_str(),)).inc();
    }
    let grown = rss_bytes().zip(before).map(|(after, before)| after.saturating_sub(before));
    assert_eq!(family.len(), DEFAULT_MAX_SERIES);
    assert_eq!(family.overflowed(), bombs - DEFAULT_MAX_SERIES as u64);
    let text = registry.encode_to_string(Format::Prometheus);
    let scrape = parse(&text, Format::Prometheus).unwrap();
    assert_eq!(
        scrape.value("bomb_total", &[("topic", OVERFLOW_LABEL_VALUE)]),
        Some((bombs - DEFAULT_MAX_SERIES as u64) as f64)
    );
    assert_eq!(scrape.family("bomb_total").unwrap().lines.len(), DEFAULT_MAX_SERIES + 1);
    assert!(text.len() < 64 * DEFAULT_MAX_SERIES, "scrape of {} bytes", text.len());
    if let Some(grown) = grown {
        // 65 536 series of ~64 bytes, their labels (~48) and the index (~2 MiB): ~10 MiB measured.
        assert!(grown < 32 << 20, "RSS grew {grown} bytes for a bounded family");
        eprintln!("cardinality bomb: {bombs} label sets, RSS +{} KiB, scrape {} KiB", grown >> 10, text.len() >> 10);
    }
}

fn itoa_like(mut n: u64) -> String {
    let mut digits = Vec::new();
    loop {
        digits.push(b'0' + (n % 10) as u8);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits.reverse();
    String::from_utf8(digits).unwrap()
}

/// Partitions created and removed in a loop: slots are reused, so RSS stays flat.
#[test]
fn churn_does_not_leak() {
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let registry = Registry::new();
    let family = registry
        .register(
            FamilySpec::<Gauge, 2>::new(vec![MetricInfo::new("churn", "Churned.")], ["topic", "partition"], ())
                .max_series(4096),
        )
        .unwrap();
    let cycle = |round: u32| {
        for p in 0..2000u32 {
            family.get(("orders", round * 2000 + p)).set(1);
        }
        let _ = registry.encode_to_string(Format::Prometheus);
        for p in 0..2000u32 {
            assert!(family.remove(("orders", round * 2000 + p)));
        }
    };
    for round in 0..5 {
        cycle(round);
    }
    let warm = rss_bytes();
    for round in 5..60 {
        cycle(round);
    }
    let grown = rss_bytes().zip(warm).map(|(after, warm)| after.saturating_sub(warm));
    assert_eq!(family.len(), 0);
    assert_eq!(family.overflowed(), 0);
    if let Some(grown) = grown {
        assert!(grown < 1 << 20, "RSS grew {grown} bytes over 55 churn cycles of 2000 series");
        eprintln!("churn: 110 000 series created and removed after warm-up, RSS +{} KiB", grown >> 10);
    }
}
