//! The nodes under callgrind (`--callgrind DIR`): what recording costs in instructions at the
//! node's own traffic, where the in-memory loop's saturated shape can only stand in for it.
//!
//! Each node runs under `valgrind --tool=callgrind --dump-instr=yes --separate-threads=yes` (a file
//! per thread: the loop, where every hook runs, is the main thread, `-01`; the scrapes are served
//! on others). Around every measured phase the orchestrator zeroes each node's counts and dumps
//! them after (`callgrind_control`, which answers within milliseconds), and notes the dump beside
//! the phase's counters in `DIR/<cluster>/phases.tsv`; `benches/real_node_callgrind.py` then
//! attributes each dump's instructions to source lines and divides the library's and the adapter's
//! by the phase's applied proposals. Recording off against on, in the same processes, gives
//! recording's instructions per proposal per node at the message and turn pattern the node itself
//! produced in that phase (which the report prints, as it differs from the native run's: under
//! callgrind a node takes about 15 times the CPU per proposal).

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where the dumps and the phases' record go, and how many dumps each node has written.
#[derive(Debug)]
pub struct Callgrind {
    dir: PathBuf,
    /// Per node (by position): its process id and dumps so far.
    nodes: Vec<(u32, u32)>,
    phases: String,
}

/// One node's counters over a phase, as the record notes them.
#[derive(Debug, Clone, Copy)]
pub struct PhaseCounts {
    /// Proposals the node applied.
    pub applied: u64,
    /// Raft messages stepped and sent.
    pub messages: u64,
    /// Ready-loop turns.
    pub readies: u64,
    /// Whether the node led the group at the phase's end.
    pub leader: bool,
}

impl Callgrind {
    /// A record in `dir` (created).
    pub fn new(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let phases = "rate\tround\trecording\tnode\tdump\tapplied\tmessages\treadies\tleader\n".to_owned();
        Ok(Self { dir: dir.to_path_buf(), nodes: Vec::new(), phases })
    }

    /// The command that starts node `id` (1-based) of `exe` under callgrind.
    pub fn command(&self, exe: &Path, id: usize) -> Command {
        let mut command = Command::new("valgrind");
        command
            .args(["--tool=callgrind", "--dump-instr=yes", "--separate-threads=yes", "-q"])
            .arg(format!("--callgrind-out-file={}", self.out_file(id).display()))
            // The instruction benches' setting: mimalloc purges freed pages on a timer, which
            // under callgrind lands in a phase at random.
            .env("MIMALLOC_PURGE_DELAY", "-1")
            .arg(exe);
        command
    }

    /// Node `id`'s base output file; the dumps are `.1-01`, `.1-02`, ..., `.2-01`, ... beside it
    /// (dump, then thread).
    fn out_file(&self, id: usize) -> PathBuf {
        self.dir.join(format!("node{id}.out"))
    }

    /// Node `id` (1-based, in start order) runs as process `pid`.
    pub fn started(&mut self, pid: u32) {
        self.nodes.push((pid, 0));
    }

    /// Before a phase's first mark: every node's counts from here.
    pub fn zero(&self) -> io::Result<()> {
        for &(pid, _) in &self.nodes {
            control(&["-z", &pid.to_string()])?;
        }
        Ok(())
    }

    /// After a phase's last mark: dumps every node's counts and notes them with `counts`.
    pub fn dump(&mut self, rate: &str, round: u32, recording: bool, counts: &[PhaseCounts]) -> io::Result<()> {
        for (i, ((pid, dumps), c)) in self.nodes.iter_mut().zip(counts).enumerate() {
            control(&["-d", &pid.to_string()])?;
            *dumps += 1;
            let file = format!("node{}.out.{dumps}", i + 1);
            let _ = writeln!(
                self.phases,
                "{rate}\t{round}\t{}\t{}\t{file}\t{}\t{}\t{}\t{}",
                if recording { "on" } else { "off" },
                i + 1,
                c.applied,
                c.messages,
                c.readies,
                u8::from(c.leader),
            );
        }
        std::fs::write(self.dir.join("phases.tsv"), &self.phases)
    }
}

/// `callgrind_control ARGS`, which returns once the process has done it (its progress lines
/// silenced: a failure shows in its status).
fn control(args: &[&str]) -> io::Result<()> {
    let status = Command::new("callgrind_control").args(args).stdout(Stdio::null()).stderr(Stdio::null()).status()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("callgrind_control {args:?}: {status}")))
    }
}
