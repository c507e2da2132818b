//! The only module that names atomics and locks, so loom can model every one of them.
//!
//! Under `--cfg loom` the primitives come from loom; otherwise from `core` and `parking_lot`.

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{
    fence, AtomicBool, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    fence, AtomicBool, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};

/// Process-wide statics that loom cannot construct in a `static` and need not model: they hand
/// out identities, they publish no memory.
pub(crate) mod unmodeled {
    pub(crate) use core::sync::atomic::{AtomicU64, AtomicUsize};
}

/// Gives up the time slice while a scraper waits for a rare in-flight histogram drain.
#[cfg(loom)]
pub(crate) fn yield_now() {
    loom::thread::yield_now();
}
#[cfg(not(loom))]
pub(crate) fn yield_now() {
    std::thread::yield_now();
}

/// A mutex that never poisons: a panic while it is held (say, in a user's collector) must not
/// take the registry down with it.
///
/// Under Miri it is `std`'s mutex (poison ignored): parking_lot_core 0.9's Linux parker passes
/// `&AtomicI32` where `syscall(SYS_futex, …)` takes `*mut u32`, which Miri reports as undefined
/// behaviour as soon as a lock is contended, ending the run before it reaches our own code.
#[derive(Debug, Default)]
pub(crate) struct Mutex<T> {
    #[cfg(not(any(loom, miri)))]
    inner: parking_lot::Mutex<T>,
    #[cfg(loom)]
    inner: loom::sync::Mutex<T>,
    #[cfg(all(miri, not(loom)))]
    inner: std::sync::Mutex<T>,
}

#[cfg(not(any(loom, miri)))]
pub(crate) type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;
#[cfg(loom)]
pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;
#[cfg(all(miri, not(loom)))]
pub(crate) type MutexGuard<'a, T> = std::sync::MutexGuard<'a, T>;

impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Self {
            #[cfg(not(any(loom, miri)))]
            inner: parking_lot::Mutex::new(value),
            #[cfg(loom)]
            inner: loom::sync::Mutex::new(value),
            #[cfg(all(miri, not(loom)))]
            inner: std::sync::Mutex::new(value),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        #[cfg(not(any(loom, miri)))]
        {
            self.inner.lock()
        }
        #[cfg(any(loom, miri))]
        {
            self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
        }
    }
}
