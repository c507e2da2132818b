//! A heap value with a stable address that other threads reach through raw pointers.
//!
//! The family publishes the addresses of its tables and series (in `FamilyInner::table`, the
//! lookup tables, handles and the per-thread cache) and keeps owning them in vectors. A `Box`
//! cannot be that owner: moving a `Box` (into a `Vec`, or when the `Vec` hands it around) asserts
//! unique access to its contents, which under Rust's aliasing rules (Stacked Borrows and Tree
//! Borrows, as Miri checks them) invalidates every pointer taken from it before the move. `Owned`
//! holds the allocation as a raw pointer, which moves without asserting anything, and frees it on
//! drop.

use core::ptr::NonNull;

pub(crate) struct Owned<T> {
    ptr: NonNull<T>,
}

// SAFETY: `Owned<T>` owns a `T` exactly as `Box<T>` does; it is `Send`/`Sync` when `T` is.
unsafe impl<T: Send> Send for Owned<T> {}
// SAFETY: as above; `&Owned<T>` only ever gives out `&T`.
unsafe impl<T: Sync> Sync for Owned<T> {}

impl<T> Owned<T> {
    pub(crate) fn new(value: T) -> Self {
        Self { ptr: NonNull::from(Box::leak(Box::new(value))) }
    }

    /// The value's address, stable until `self` drops.
    pub(crate) fn as_ptr(&self) -> *mut T {
        self.ptr.as_ptr()
    }

    /// The value, for as long as `self` is borrowed. Callers that must outlive that borrow (the
    /// family hands out series for as long as it lives) dereference `as_ptr` themselves.
    pub(crate) fn get(&self) -> &T {
        // SAFETY: the pointer came from `Box::leak` in `new` and is freed only in `Drop`, which
        // cannot run while `self` is borrowed; only shared references are ever made from it.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> core::ops::Deref for Owned<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.get()
    }
}

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `Box::leak` in `new`, is freed only here, and `&mut self`
        // proves no borrow through `get` is left. The family's raw copies of the address (tables,
        // handles, the per-thread cache) are only dereferenced while the family is alive, and the
        // family drops its `Owned`s last.
        drop(unsafe { Box::from_raw(self.ptr.as_ptr()) });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::Owned;

    /// The Miri regression for the family's ownership: a pointer taken before the owner is moved
    /// into a vector (and the vector regrows) stays valid. With `Box` in place of `Owned`, Miri
    /// reports the read below as undefined behaviour under Stacked Borrows.
    #[test]
    fn addresses_survive_moves_of_the_owner() {
        let first = Owned::new(7u64);
        let published = first.as_ptr().cast_const();
        let mut owners = vec![first];
        for i in 0..32 {
            owners.push(Owned::new(i));
        }
        let moved = owners.swap_remove(0);
        // SAFETY: `moved` still owns the value `published` points to.
        assert_eq!(unsafe { *published }, 7);
        assert_eq!(*moved, 7);
    }
}
