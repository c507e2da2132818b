//! CPU time of this process.

/// User plus system CPU time of every thread of this process, in microseconds
/// (`getrusage(RUSAGE_SELF)`).
pub fn micros() -> u64 {
    // SAFETY: `getrusage` writes one `rusage` through the valid pointer it is given and reads
    // nothing else; an all-zero `rusage` is a valid value of the plain C struct.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &raw mut usage);
        usage
    };
    let micros =
        |t: libc::timeval| u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000 + u64::try_from(t.tv_usec).unwrap_or(0);
    micros(usage.ru_utime) + micros(usage.ru_stime)
}
