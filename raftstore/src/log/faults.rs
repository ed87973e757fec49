//! Disk fault injection for chaos tests. With the `failpoints` feature off, [`Faults`] is
//! a zero-sized type whose hooks are constant no-ops, so release builds carry nothing.

use std::io;

#[cfg(feature = "failpoints")]
pub use on::DiskFaults;

/// The hooks the log calls at each place a disk can fail.
#[cfg(feature = "failpoints")]
pub(crate) type Faults = on::DiskFaults;

/// The hooks the log calls at each place a disk can fail (all no-ops in this build).
#[cfg(not(feature = "failpoints"))]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Faults;

#[cfg(not(feature = "failpoints"))]
impl Faults {
    pub(crate) fn from_options(_opts: &super::LogOptions) -> Faults {
        Faults
    }

    #[inline(always)]
    pub(crate) fn before_sync(&self) -> io::Result<()> {
        Ok(())
    }

    #[inline(always)]
    pub(crate) fn torn_write_len(&self, _len: usize) -> Option<usize> {
        None
    }

    #[inline(always)]
    pub(crate) fn lose_unsynced(&self) -> bool {
        false
    }

    #[inline(always)]
    pub(crate) fn power_epoch(&self) -> u64 {
        0
    }
}

#[cfg(feature = "failpoints")]
mod on {
    use std::io;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    /// A switchboard of disk faults shared between a test and the [`super::super::LogStore`]
    /// it drives. Each one-shot fault fires once, at the next matching operation.
    #[derive(Clone, Debug, Default)]
    pub struct DiskFaults(Arc<Flags>);

    #[derive(Debug, Default)]
    struct Flags {
        fail_next_sync: AtomicBool,
        tear_next_write: AtomicBool,
        lose_unsynced: AtomicBool,
        power_epoch: AtomicU64,
    }

    impl DiskFaults {
        /// The next fsync/fdatasync (log data, directory or meta file) fails with an error.
        pub fn fail_next_fsync(&self) {
            self.0.fail_next_sync.store(true, Ordering::SeqCst);
        }

        /// The next write of log data stores only the first half of its bytes, then fails.
        pub fn tear_next_write(&self) {
            self.0.tear_next_write.store(true, Ordering::SeqCst);
        }

        /// Turn dropping the store into a simulated kill: the flusher stops without a
        /// final sync, and whatever the active segment holds past what was last fsynced
        /// reads as zeros (preallocated segments keep their size; others are cut back),
        /// as if the machine lost power.
        pub fn lose_unsynced_on_drop(&self) {
            self.0.lose_unsynced.store(true, Ordering::SeqCst);
        }

        /// Every log sharing this switchboard loses power now, all at the same instant:
        /// what each had fsynced before stays durable, and nothing after counts. A sync
        /// in flight or started later is treated as never done, and the appends waiting
        /// on it are never acknowledged; a later drop (with
        /// [`DiskFaults::lose_unsynced_on_drop`]) cuts each log back to what it had
        /// synced before this call. Logs opened afterwards (restarted members) are
        /// powered again.
        pub fn cut_power(&self) {
            self.0.power_epoch.fetch_add(1, Ordering::SeqCst);
        }

        /// How many power cuts there were: a log opened at one value has lost power
        /// once it changes.
        pub(crate) fn power_epoch(&self) -> u64 {
            self.0.power_epoch.load(Ordering::SeqCst)
        }

        pub(crate) fn from_options(opts: &crate::log::LogOptions) -> DiskFaults {
            opts.faults.clone()
        }

        pub(crate) fn before_sync(&self) -> io::Result<()> {
            if self.0.fail_next_sync.swap(false, Ordering::SeqCst) {
                return Err(io::Error::other("injected fsync failure"));
            }
            Ok(())
        }

        pub(crate) fn torn_write_len(&self, len: usize) -> Option<usize> {
            self.0
                .tear_next_write
                .swap(false, Ordering::SeqCst)
                .then_some(len / 2)
        }

        pub(crate) fn lose_unsynced(&self) -> bool {
            self.0.lose_unsynced.load(Ordering::SeqCst)
        }
    }
}

/// The error a torn write reports after storing its prefix.
pub(crate) fn torn_write_error() -> io::Error {
    io::Error::other("injected torn write")
}
