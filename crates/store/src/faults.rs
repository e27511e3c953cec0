//! Deterministic storage faults, for tests: a redb [`StorageBackend`] and hooks for the
//! store's own file writes (snapshots, the identity file), driven by a seed. A test can
//! fill the disk, make writes come up short, fail reads and fsyncs, and cut the power
//! with pages torn at a chosen offset — without mounting anything, on any machine, as
//! root too (permissions cannot make a directory unwritable for root).
//!
//! A [`FaultPlan`] is shared by every file the store opens while it is set in
//! [`crate::Options::faults`]. It models the page cache: writes go to the real file at
//! once, and the plan remembers what each write replaced until the next successful
//! `fsync` of that file. When the power is cut ([`FaultPlan::cut_power`], or a torn write)
//! or an `fsync` fails (the kernel may drop dirty pages after a failed writeback), each of
//! those unsynced writes is, by a roll of the seeded generator, kept, undone, or torn at a
//! sector boundary — so a test sees every state a real disk could be left in, and nothing
//! a real disk could not (synced data is never touched).
//!
//! Not a stable API: the store's tests and fault-injection harness use it.

use rand_chacha::rand_core::{Rng as _, SeedableRng};
use rand_chacha::ChaCha8Rng;
use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};
use std::fmt;
use std::fs::File;
use std::io;
use std::ops::Bound;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Torn writes tear at this granularity (a disk sector).
pub const SECTOR: u64 = 512;

/// How often each fault happens, in faults per million operations of its kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rates {
    /// A database write fails with ENOSPC, nothing written.
    pub write_enospc: u32,
    /// A database write writes a prefix, then fails with ENOSPC.
    pub short_write: u32,
    /// A database write fails with EIO (a prefix may have been written).
    pub write_eio: u32,
    /// An fsync of the database fails with EIO; unsynced writes may be lost.
    pub sync_eio: u32,
    /// A database read fails with EIO.
    pub read_eio: u32,
    /// A database write is torn at a sector boundary and the power is cut.
    pub torn_write: u32,
    /// A step of a snapshot or identity file write fails with ENOSPC.
    pub file_enospc: u32,
}

/// What was injected so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Injected {
    pub write_enospc: u64,
    pub short_writes: u64,
    pub write_eio: u64,
    pub sync_eio: u64,
    pub read_eio: u64,
    pub torn_writes: u64,
    pub power_cuts: u64,
    pub file_faults: u64,
    /// Unsynced writes undone (wholly or torn) by a power cut or a failed fsync.
    pub writes_lost: u64,
}

impl Injected {
    /// Every fault injected (lost writes are a consequence, not counted).
    pub fn total(&self) -> u64 {
        self.write_enospc
            + self.short_writes
            + self.write_eio
            + self.sync_eio
            + self.read_eio
            + self.torn_writes
            + self.power_cuts
            + self.file_faults
    }
}

/// The faults to inject, shared by every file of a store (see the module docs).
pub struct FaultPlan {
    state: Mutex<PlanState>,
}

struct PlanState {
    rng: ChaCha8Rng,
    rates: Rates,
    disk_full: bool,
    files_fail: bool,
    /// Backends opened before the last power cut: dead for good, as a process would be.
    generation: u64,
    /// Off from a power cut until [`FaultPlan::restore_power`].
    powered: bool,
    injected: Injected,
    next_id: u64,
    open: Vec<Tracked>,
}

/// An open database file: a second handle to write undo records through, and what each
/// unsynced write replaced.
struct Tracked {
    id: u64,
    file: File,
    undo: Vec<Undo>,
}

enum Undo {
    Write { offset: u64, old: Vec<u8> },
    SetLen { old: u64 },
}

impl fmt::Debug for FaultPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.lock();
        f.debug_struct("FaultPlan")
            .field("rates", &s.rates)
            .field("disk_full", &s.disk_full)
            .field("injected", &s.injected)
            .finish_non_exhaustive()
    }
}

fn enospc() -> io::Error {
    io::Error::from_raw_os_error(28)
}

fn eio() -> io::Error {
    io::Error::from_raw_os_error(5)
}

impl PlanState {
    fn next(&mut self) -> u64 {
        self.rng.next_u64()
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }

    fn roll(&mut self, per_million: u32) -> bool {
        per_million > 0 && self.below(1_000_000) < u64::from(per_million)
    }

    /// A prefix length of `len`, at a sector boundary, shorter than `len`.
    fn tear_at(&mut self, len: u64) -> u64 {
        let sectors = len / SECTOR;
        self.below(sectors.max(1)) * SECTOR
    }

    fn tracked(&mut self, id: u64) -> Option<&mut Tracked> {
        self.open.iter_mut().find(|t| t.id == id)
    }

    /// Undoes, keeps or tears each unsynced write of file `id`, newest first.
    fn lose_unsynced(&mut self, id: u64) {
        let Some(pos) = self.open.iter().position(|t| t.id == id) else {
            return;
        };
        let undo = std::mem::take(&mut self.open[pos].undo);
        for entry in undo.into_iter().rev() {
            let choice = self.below(3);
            let file = &self.open[pos].file;
            match (entry, choice) {
                (_, 0) => continue, // reached the disk
                (Undo::SetLen { old }, _) => {
                    let _ = file.set_len(old);
                }
                (Undo::Write { offset, old }, 1) => {
                    let _ = file.write_all_at(&old, offset);
                }
                (Undo::Write { offset, old }, _) => {
                    // Torn: the first sectors reached the disk, the rest did not.
                    let kept = self.tear_at(old.len() as u64) as usize;
                    let file = &self.open[pos].file;
                    let _ = file.write_all_at(&old[kept..], offset + kept as u64);
                }
            }
            self.injected.writes_lost += 1;
        }
    }

    fn cut_power(&mut self) {
        self.injected.power_cuts += 1;
        let ids: Vec<u64> = self.open.iter().map(|t| t.id).collect();
        for id in ids {
            self.lose_unsynced(id);
        }
        self.open.clear();
        self.generation += 1;
        self.powered = false;
    }
}

impl FaultPlan {
    /// A plan that injects nothing until told to; `seed` drives every choice.
    pub fn new(seed: u64) -> Arc<FaultPlan> {
        Arc::new(FaultPlan {
            state: Mutex::new(PlanState {
                rng: ChaCha8Rng::seed_from_u64(seed),
                rates: Rates::default(),
                disk_full: false,
                files_fail: false,
                generation: 0,
                powered: true,
                injected: Injected::default(),
                next_id: 0,
                open: Vec::new(),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, PlanState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Random faults at these rates from now on.
    pub fn set_rates(&self, rates: Rates) {
        self.lock().rates = rates;
    }

    /// While set, every write that needs space (database writes and growth, file
    /// writes) fails with ENOSPC, as on a full disk; clearing it frees the space.
    pub fn set_disk_full(&self, full: bool) {
        self.lock().disk_full = full;
    }

    /// While set, every step of a snapshot or identity file write fails with ENOSPC,
    /// as in a directory that cannot be written; the database is not affected.
    pub fn set_files_fail(&self, fail: bool) {
        self.lock().files_fail = fail;
    }

    /// Cuts the power now: unsynced writes are kept, lost or torn, and every file
    /// opened so far fails every operation from now on, as do file writes until
    /// [`FaultPlan::restore_power`].
    pub fn cut_power(&self) {
        self.lock().cut_power();
    }

    /// Power back on: files opened from now on work (those open at the cut stay dead).
    pub fn restore_power(&self) {
        self.lock().powered = true;
    }

    pub fn injected(&self) -> Injected {
        self.lock().injected
    }

    /// A redb backend over `file` that injects this plan's faults.
    pub fn backend(self: &Arc<Self>, file: File) -> io::Result<FaultyBackend> {
        let mut s = self.lock();
        if !s.powered {
            return Err(eio());
        }
        s.next_id += 1;
        let id = s.next_id;
        s.open.push(Tracked {
            id,
            file: file.try_clone()?,
            undo: Vec::new(),
        });
        let generation = s.generation;
        drop(s);
        let inner = FileBackend::new(file).map_err(|e| io::Error::other(e.to_string()))?;
        Ok(FaultyBackend {
            inner,
            plan: self.clone(),
            id,
            generation,
        })
    }

    /// Called before each step (`what`) of one of the store's own file writes.
    pub fn file_step(&self, path: &Path, what: &str) -> io::Result<()> {
        let mut s = self.lock();
        if !s.powered {
            return Err(eio());
        }
        if s.disk_full || s.files_fail {
            s.injected.file_faults += 1;
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                format!(
                    "{}: {what}: injected: no space left on device",
                    path.display()
                ),
            ));
        }
        let rate = s.rates.file_enospc;
        if s.roll(rate) {
            s.injected.file_faults += 1;
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                format!(
                    "{}: {what}: injected: no space left on device",
                    path.display()
                ),
            ));
        }
        Ok(())
    }
}

/// The [`FileBackend`] with a [`FaultPlan`]'s faults. Every operation runs under the
/// plan's lock, so a power cut falls between two operations, never inside one.
pub struct FaultyBackend {
    inner: FileBackend,
    plan: Arc<FaultPlan>,
    id: u64,
    generation: u64,
}

impl fmt::Debug for FaultyBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultyBackend")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl FaultyBackend {
    /// The plan's state, or EIO if this file was open at a power cut.
    fn live(&self) -> io::Result<MutexGuard<'_, PlanState>> {
        let s = self.plan.lock();
        if s.generation != self.generation {
            return Err(eio());
        }
        Ok(s)
    }

    /// What `[offset, offset + len)` holds now (zeros past the end), to undo a write.
    fn current(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let file_len = self.inner.len()?;
        let mut old = vec![0u8; len];
        let readable = file_len.saturating_sub(offset).min(len as u64) as usize;
        if readable > 0 {
            self.inner.read(offset, &mut old[..readable])?;
        }
        Ok(old)
    }
}

impl StorageBackend for FaultyBackend {
    fn len(&self) -> Result<u64, io::Error> {
        let _s = self.live()?;
        self.inner.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        let mut s = self.live()?;
        let rate = s.rates.read_eio;
        if s.roll(rate) {
            s.injected.read_eio += 1;
            return Err(eio());
        }
        self.inner.read(offset, out)
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        let mut s = self.live()?;
        let old = self.inner.len()?;
        if len > old {
            let rate = s.rates.write_enospc;
            if s.disk_full || s.roll(rate) {
                s.injected.write_enospc += 1;
                return Err(enospc());
            }
        }
        if let Some(t) = s.tracked(self.id) {
            t.undo.push(Undo::SetLen { old });
        }
        self.inner.set_len(len)
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        let mut s = self.live()?;
        let rate = s.rates.sync_eio;
        if s.roll(rate) {
            s.injected.sync_eio += 1;
            s.lose_unsynced(self.id);
            return Err(eio());
        }
        self.inner.sync_data()?;
        if let Some(t) = s.tracked(self.id) {
            t.undo.clear();
        }
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        let mut s = self.live()?;
        let len = data.len() as u64;
        // Which fault, if any; `prefix` is what reaches the file before it fails.
        let rates = s.rates;
        let full = s.disk_full;
        let (prefix, error, cut): (u64, Option<io::Error>, bool) =
            if full || s.roll(rates.write_enospc) {
                s.injected.write_enospc += 1;
                (0, Some(enospc()), false)
            } else if s.roll(rates.short_write) {
                s.injected.short_writes += 1;
                let at = s.tear_at(len);
                (at, Some(enospc()), false)
            } else if s.roll(rates.write_eio) {
                s.injected.write_eio += 1;
                let at = s.tear_at(len);
                (at, Some(eio()), false)
            } else if s.roll(rates.torn_write) {
                s.injected.torn_writes += 1;
                let at = s.tear_at(len);
                (at, Some(eio()), true)
            } else {
                (len, None, false)
            };
        if prefix > 0 {
            let old = self.current(offset, prefix as usize)?;
            if let Some(t) = s.tracked(self.id) {
                t.undo.push(Undo::Write { offset, old });
            }
            self.inner.write(offset, &data[..prefix as usize])?;
        }
        if cut {
            s.cut_power();
        }
        match error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn close(&self) -> Result<(), io::Error> {
        let mut s = self.plan.lock();
        s.open.retain(|t| t.id != self.id);
        drop(s);
        self.inner.close()
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.inner.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.query_lock_range(start, end)
    }
}
