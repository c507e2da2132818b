//! Length-prefixed frames: a little-endian `u32` length, then the bytes. Raft messages (raft-rs
//! protobuf), client proposals and WAL records all use it.

use std::io::{self, Read, Write};

/// Largest frame accepted: a raft-rs message carries at most `max_size_per_msg` (1 MiB) of
/// entries plus its header.
const MAX_FRAME: usize = 16 << 20;

/// Writes one frame.
pub fn write(w: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(bytes)
}

/// Reads one frame into `buf`; `false` at a clean end of stream.
pub fn read(r: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "frame too large"));
    }
    buf.resize(len, 0);
    r.read_exact(buf)?;
    Ok(true)
}
