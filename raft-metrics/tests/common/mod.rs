//! Helpers shared by the integration tests.

use std::io::Write;
use std::process::{Command, Stdio};

/// Pipes `text` through `promtool check metrics` and fails unless it exits 0 printing nothing.
/// Where promtool is missing this says so and returns; in CI (`CI` set) a missing promtool fails.
pub(crate) fn assert_promtool_silent(text: &str) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("promtool not found ({e}); install it with `apt-get install prometheus` to run this check");
            return;
        }
        Err(e) => panic!("promtool is required in CI: {e}"),
    };
    child.stdin.take().expect("piped stdin").write_all(text.as_bytes()).expect("write to promtool");
    let output = child.wait_with_output().expect("promtool runs");
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && said.trim().is_empty(), "promtool complained:\n{said}\n{text}");
}
