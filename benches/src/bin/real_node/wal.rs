//! The node's write-ahead log: each `Ready`'s entries and hard state appended to a segment file
//! and made durable with one `fdatasync` (group commit: every entry the loop collected since the
//! last turn shares it). Segments roll over at [`SEGMENT_BYTES`] and the previous one is
//! deleted: the benchmark never replays, and a bounded disk footprint keeps long runs possible.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use raft::eraftpb::{Entry, HardState};

use super::wire;

/// Size at which a segment rolls over.
const SEGMENT_BYTES: u64 = 64 << 20;

/// An append-only log in `dir`.
pub struct Wal {
    dir: PathBuf,
    file: BufWriter<File>,
    segment: u32,
    written: u64,
    scratch: Vec<u8>,
}

impl Wal {
    /// A new log in `dir` (created if missing).
    pub fn create(dir: &Path) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        Ok(Self { file: open(dir, 0)?, dir: dir.to_path_buf(), segment: 0, written: 0, scratch: Vec::new() })
    }

    /// Appends `entries` and `hs`, then `fdatasync`s: returns once they are durable.
    pub fn append(&mut self, entries: &[Entry], hs: Option<&HardState>) -> io::Result<()> {
        if entries.is_empty() && hs.is_none() {
            return Ok(());
        }
        for entry in entries {
            self.record(entry)?;
        }
        if let Some(hs) = hs {
            self.record(hs)?;
        }
        self.file.flush()?;
        self.file.get_ref().sync_data()?;
        if self.written >= SEGMENT_BYTES {
            self.roll()?;
        }
        Ok(())
    }

    fn record(&mut self, msg: &impl protobuf::Message) -> io::Result<()> {
        self.scratch.clear();
        msg.write_to_vec(&mut self.scratch).map_err(io::Error::other)?;
        wire::write(&mut self.file, &self.scratch)?;
        self.written += 4 + self.scratch.len() as u64;
        Ok(())
    }

    fn roll(&mut self) -> io::Result<()> {
        let next = self.segment + 1;
        self.file = open(&self.dir, next)?;
        fs::remove_file(path(&self.dir, self.segment))?;
        self.segment = next;
        self.written = 0;
        Ok(())
    }
}

fn path(dir: &Path, segment: u32) -> PathBuf {
    dir.join(format!("{segment:08}.wal"))
}

fn open(dir: &Path, segment: u32) -> io::Result<BufWriter<File>> {
    let file = OpenOptions::new().create(true).write(true).truncate(true).open(path(dir, segment))?;
    Ok(BufWriter::with_capacity(1 << 20, file))
}
