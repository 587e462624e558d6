//! The saved loop as a file: 32-bit float WAV, every channel interleaved, the loop and
//! then the tail its seam's crossfade reads. Written from a [`Snapshot`], read back into
//! a new [`Tree`] of locked chunks with its peak summary. Free of plugin-API types; the
//! LV2 state glue (`crate::lv2::state`) names the file and stores the loop's length.
//!
//! `hound` writes the file and parses and checks every header. Reading the samples goes
//! around hound's per-sample iterator: it reads about 0.6 GB/s here, a quarter of a
//! plain file read, so after hound has parsed the header the data is read in blocks from
//! the reader hound hands back (`into_inner`), exactly the byte count its header gives.
//!
//! Bad files fail with a [`LoadError`] that says what was wrong; memory grows only with
//! the samples actually read, whatever a header claims.
//!
//! ```
//! use looper::engine::loopfile::{read_wav, write_wav, Expect, Supply};
//! # use looper::engine::chunk::{Chunk, MemStats};
//! # use looper::engine::tree::{Node, Tree};
//! # use looper::engine::snapshot::Snapshot;
//! # use looper::engine::pool::ReadyPool;
//! # use basedrop::{Collector, Shared};
//! # use std::sync::Arc;
//! # struct Maker(basedrop::Handle, Arc<MemStats>);
//! # impl Supply for Maker {
//! #     fn chunk(&self) -> Option<Shared<Chunk>> { Some(Shared::new(&self.0, Chunk::new(&self.1)?)) }
//! #     fn node(&self) -> Option<Shared<Node>> { Some(Shared::new(&self.0, Node::new(&self.1)?)) }
//! # }
//! # let collector = Collector::new();
//! # let maker = Maker(collector.handle(), Arc::new(MemStats::default()));
//! # let mut pool = ReadyPool::with_capacity(2, 8);
//! # for _ in 0..2 { pool.put_chunk(maker.chunk().unwrap()); }
//! # for _ in 0..8 { pool.put_node(maker.node().unwrap()); }
//! let mut tree = Tree::new(1);
//! tree.push(&[&[0.25, -0.5, 1.0]], &mut pool);
//! let snap = Snapshot { tree, loop_len: 2, playing: true, grid: None }; // 2 + 1 of tail
//! let mut file = std::io::Cursor::new(Vec::new());
//! write_wav(&mut file, &snap, 48_000).unwrap();
//! // 12 bytes of samples after 68 of header (RIFF, hound's 40-byte extensible fmt, data).
//! assert_eq!(file.get_ref().len(), 3 * 4 + 68);
//! file.set_position(0);
//! let want = Expect { channels: 1, rate: 48_000, loop_len: 2, max_tail: 100, bytes: None };
//! let back = read_wav(&mut file, &want, &maker).unwrap();
//! assert_eq!((back.tree.len(), back.tree.get(0, 2)), (3, Some(1.0)));
//! ```

use std::io::{Read, Seek, Write};

use basedrop::Shared;

use crate::engine::chunk::Chunk;
use crate::engine::peaks::Peaks;
use crate::engine::pool::ReadyPool;
use crate::engine::snapshot::Snapshot;
use crate::engine::tree::{Node, Tree};

/// Frames handled at a time while writing and reading.
const BLOCK: usize = 8192;
/// The most sample bytes a WAV file can hold (its size fields are 32-bit).
pub const MAX_DATA_BYTES: u64 = u32::MAX as u64 - 4096;

/// [worker] Where a loop being read gets its memory: locked chunks and index nodes,
/// made off the audio thread (from a second thread too: chunks are made ahead while
/// the file is read).
pub trait Supply: Sync {
    fn chunk(&self) -> Option<Shared<Chunk>>;
    fn node(&self) -> Option<Shared<Node>>;
}

/// Why a loop could not be written.
#[derive(Debug)]
pub enum SaveError {
    /// More samples than a WAV file holds.
    TooLong {
        bytes: u64,
    },
    Io(std::io::Error),
}

impl std::fmt::Display for SaveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SaveError::TooLong { bytes } => write!(
                f,
                "the loop has {bytes} bytes of samples, more than a WAV file holds ({MAX_DATA_BYTES})"
            ),
            SaveError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<hound::Error> for SaveError {
    fn from(e: hound::Error) -> SaveError {
        match e {
            hound::Error::IoError(e) => SaveError::Io(e),
            other => SaveError::Io(std::io::Error::other(other.to_string())),
        }
    }
}

/// [any but audio] Writes the snapshot's loop and tail to `w` as 32-bit float WAV at
/// `rate` Hz. Reads the snapshot's chunks, which nothing writes while it lives.
///
/// hound writes the header; the samples go out in blocks of 1 MiB, interleaved here,
/// and the header's two sizes are set after them (a WAV file's RIFF size at byte 4 and
/// its data size in the last four bytes of the header hound wrote for no samples).
/// hound's own `write_sample`, a call per sample, writes 1.35 GB/s here, against 3.5 to
/// 4 GB/s for a plain file write (`make bench`).
pub fn write_wav<W: Write + Seek>(mut w: W, snap: &Snapshot, rate: u32) -> Result<(), SaveError> {
    let tree = &snap.tree;
    let channels = tree.channels();
    let bytes = (tree.len() * channels * 4) as u64;
    if bytes > MAX_DATA_BYTES {
        return Err(SaveError::TooLong { bytes });
    }
    let spec = hound::WavSpec {
        channels: channels as u16,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let start = w.stream_position().map_err(SaveError::Io)?;
    hound::WavWriter::new(&mut w, spec)?.finalize()?;
    let header_end = w.stream_position().map_err(SaveError::Io)?;
    let mut buf: Vec<f32> = Vec::with_capacity(WRITE_FRAMES * channels);
    let mut pos = 0;
    while pos < tree.len() {
        let n = WRITE_FRAMES.min(tree.len() - pos);
        buf.clear();
        tree.read(pos, n, |_, ch| {
            if channels == 1 {
                buf.extend_from_slice(ch[0]);
            } else {
                buf.extend(ch[0].iter().zip(ch[1]).flat_map(|(l, r)| [*l, *r]));
            }
        });
        w.write_all(&le_bytes(&mut buf)).map_err(SaveError::Io)?;
        pos += n;
    }
    let end = w.stream_position().map_err(SaveError::Io)?;
    let patch = |w: &mut W, at: u64, v: u64| -> std::io::Result<()> {
        w.seek(std::io::SeekFrom::Start(at))?;
        w.write_all(&(v as u32).to_le_bytes())
    };
    patch(&mut w, start + 4, end - start - 8).map_err(SaveError::Io)?;
    patch(&mut w, header_end - 4, end - header_end).map_err(SaveError::Io)?;
    w.seek(std::io::SeekFrom::Start(end))
        .map_err(SaveError::Io)?;
    w.flush().map_err(SaveError::Io)?;
    Ok(())
}

/// [any] The samples' bytes, to read little-endian samples into (see [`from_le`]).
fn le_bytes_mut(v: &mut [f32]) -> &mut [u8] {
    // SAFETY: as in `le_bytes`; and every bit pattern is a valid f32, so any bytes
    // written through the slice leave valid samples.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
}

/// [any] Samples read as little-endian bytes, in this machine's order.
fn from_le(v: &mut [f32]) {
    if cfg!(target_endian = "big") {
        for x in v.iter_mut() {
            *x = f32::from_bits(x.to_bits().swap_bytes());
        }
    }
}

/// Frames written at a time (1 MiB of stereo).
const WRITE_FRAMES: usize = 1 << 17;

/// [any] The samples as little-endian bytes: the memory itself on a little-endian
/// machine, converted in place elsewhere.
fn le_bytes(v: &mut [f32]) -> std::borrow::Cow<'_, [u8]> {
    if cfg!(target_endian = "big") {
        for x in v.iter_mut() {
            *x = f32::from_bits(x.to_bits().swap_bytes());
        }
    }
    // SAFETY: an f32 is 4 initialised bytes with no padding, u8 has alignment 1, and the
    // byte slice borrows `v` for its whole length.
    std::borrow::Cow::Borrowed(unsafe {
        std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v))
    })
}

/// What a saved loop must be to be taken.
#[derive(Clone, Copy, Debug)]
pub struct Expect {
    /// The plugin's channels: a file of as many is taken, and a mono file into stereo
    /// (both channels get it). Anything else is refused.
    pub channels: usize,
    /// The host's sample rate, rounded: a file at another rate is refused.
    pub rate: u32,
    /// Frames of loop the state says the file holds.
    pub loop_len: usize,
    /// The most frames of tail it may hold past the loop.
    pub max_tail: usize,
    /// Bytes the file (or the state's chunk) holds, if known: no more memory is made
    /// ahead than they can fill, whatever the header says.
    pub bytes: Option<u64>,
}

/// A loop read back.
pub struct Loaded {
    pub tree: Tree,
    pub loop_len: usize,
    pub peaks: Peaks,
    /// Samples that were not finite numbers and were read as 0.
    pub repaired: u64,
}

/// Why a saved loop could not be read. Each says what the user needs to know.
#[derive(Debug)]
pub enum LoadError {
    /// Not a WAV file hound can parse (missing header, corrupt chunk sizes, ...).
    NotWav(String),
    /// A WAV file of another sample format.
    Format {
        bits: u16,
        float: bool,
    },
    Channels {
        file: usize,
        plugin: usize,
    },
    Rate {
        file: u32,
        host: u32,
    },
    /// The file's length disagrees with the state's.
    Length {
        file: usize,
        loop_len: usize,
    },
    /// The file ends before its header says.
    Truncated {
        frames: usize,
        header: usize,
    },
    /// The system refused memory for the loop.
    Memory {
        frames: usize,
    },
    Io(std::io::Error),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::NotWav(e) => write!(f, "not a readable WAV file ({e})"),
            LoadError::Format { bits, float } => write!(
                f,
                "a {bits}-bit {} WAV file; the looper saves and reads 32-bit float only",
                if *float { "float" } else { "integer" }
            ),
            LoadError::Channels { file, plugin } => write!(
                f,
                "{file} channel(s) in the file, {plugin} in this looper (mono into stereo is taken, nothing else)"
            ),
            LoadError::Rate { file, host } => write!(
                f,
                "recorded at {file} Hz, the host runs at {host} Hz (loops are not resampled)"
            ),
            LoadError::Length { file, loop_len } => write!(
                f,
                "the file holds {file} frames, the session says the loop has {loop_len}"
            ),
            LoadError::Truncated { frames, header } => write!(
                f,
                "the file is cut short: {frames} of the {header} frames its header gives"
            ),
            LoadError::Memory { frames } => write!(
                f,
                "the system refused memory after {frames} frames"
            ),
            LoadError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// [worker] (in LV2: restore, which no other call of the instance overlaps) Reads a
/// loop written by [`write_wav`] from `r`, checking it against `want`; its chunks come
/// from `supply`. Memory grows with the frames read, never with what a header claims.
pub fn read_wav<R: Read>(r: R, want: &Expect, supply: &dyn Supply) -> Result<Loaded, LoadError> {
    let reader = hound::WavReader::new(r).map_err(|e| match e {
        hound::Error::IoError(e) if e.kind() != std::io::ErrorKind::UnexpectedEof => {
            LoadError::Io(e)
        }
        other => LoadError::NotWav(other.to_string()),
    })?;
    let spec = reader.spec();
    if spec.sample_format != hound::SampleFormat::Float || spec.bits_per_sample != 32 {
        return Err(LoadError::Format {
            bits: spec.bits_per_sample,
            float: spec.sample_format == hound::SampleFormat::Float,
        });
    }
    let file_ch = spec.channels as usize;
    if !(file_ch == want.channels || (file_ch == 1 && want.channels == 2)) {
        return Err(LoadError::Channels {
            file: file_ch,
            plugin: want.channels,
        });
    }
    if spec.sample_rate != want.rate {
        return Err(LoadError::Rate {
            file: spec.sample_rate,
            host: want.rate,
        });
    }
    let frames = reader.duration() as usize;
    if frames < want.loop_len || frames - want.loop_len > want.max_tail || want.loop_len == 0 {
        return Err(LoadError::Length {
            file: frames,
            loop_len: want.loop_len,
        });
    }
    // hound's own reader takes the first sample: it checks that a sample takes four
    // bytes (a wider block would otherwise be read as more samples). The rest is read in
    // blocks after it.
    let mut reader = reader;
    let first = match reader.samples::<f32>().next() {
        Some(Ok(v)) => v,
        Some(Err(hound::Error::IoError(e))) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(LoadError::Truncated {
                frames: 0,
                header: frames,
            })
        }
        Some(Err(hound::Error::IoError(e))) => return Err(LoadError::Io(e)),
        Some(Err(_)) | None => {
            return Err(LoadError::NotWav(
                "its 32-bit float samples sit in blocks wider than four bytes".into(),
            ))
        }
    };
    let data = std::io::Cursor::new(first.to_le_bytes()).chain(reader.into_inner());
    // Chunks are made (mapped, locked, faulted in: a third of the time) on a second
    // thread while this one reads; no more than the file's bytes can fill.
    let fpc = Tree::new(want.channels).frames_per_chunk();
    let readable = want
        .bytes
        .map_or(frames, |b| frames.min((b / (4 * file_ch as u64)) as usize));
    let chunks = readable.div_ceil(fpc);
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel(AHEAD);
        scope.spawn(move || {
            for _ in 0..chunks {
                let c = supply.chunk();
                let refused = c.is_none();
                if tx.send(c).is_err() || refused {
                    return;
                }
            }
        });
        fill(data, want, file_ch, frames, supply, &rx)
    })
}

/// Chunks made ahead of the reader.
const AHEAD: usize = 8;

/// [worker] Reads `frames` frames of `file_ch` interleaved channels from `data` into a
/// new tree, taking its chunks from `chunks` (None: the system refused one).
fn fill(
    mut data: impl Read,
    want: &Expect,
    file_ch: usize,
    frames: usize,
    supply: &dyn Supply,
    chunks: &std::sync::mpsc::Receiver<Option<Shared<Chunk>>>,
) -> Result<Loaded, LoadError> {
    let mut tree = Tree::new(want.channels);
    let mut pool = ReadyPool::with_capacity(1, 8);
    let mut peaks = Peaks::new();
    peaks.grow_to(want.loop_len);
    let mut buf = vec![0f32; BLOCK * file_ch];
    let mut planes = vec![vec![0f32; BLOCK]; want.channels];
    let mut repaired = 0;
    let fpc = tree.frames_per_chunk();
    while tree.len() < frames {
        let at = tree.len();
        let n = BLOCK.min(frames - at).min(fpc - at % fpc);
        let raw = &mut buf[..n * file_ch];
        data.read_exact(le_bytes_mut(raw))
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => LoadError::Truncated {
                    frames: at,
                    header: frames,
                },
                _ => LoadError::Io(e),
            })?;
        from_le(raw);
        for v in raw.iter_mut() {
            if !v.is_finite() {
                *v = 0.0;
                repaired += 1;
            }
        }
        if file_ch == 2 {
            let (l, r) = planes.split_at_mut(1);
            for ((s, l), r) in raw.chunks_exact(2).zip(&mut l[0][..n]).zip(&mut r[0][..n]) {
                (*l, *r) = (s[0], s[1]);
            }
        } else {
            for p in planes.iter_mut() {
                p[..n].copy_from_slice(raw);
            }
        }
        if pool.chunks() == 0 && at.is_multiple_of(fpc) {
            let c = chunks.recv().ok().flatten();
            pool.put_chunk(c.ok_or(LoadError::Memory { frames: at })?);
        }
        while pool.nodes() < 6 {
            let node = supply.node().ok_or(LoadError::Memory { frames: at })?;
            pool.put_node(node);
        }
        let src: [&[f32]; 2] = [&planes[0][..n], &planes[planes.len() - 1][..n]];
        if tree.push(&src[..want.channels], &mut pool) != n {
            return Err(LoadError::Memory { frames: at });
        }
        let in_loop = want.loop_len.saturating_sub(at).min(n);
        for (c, p) in src.iter().take(want.channels).enumerate() {
            peaks.record(c, at, &p[..in_loop]);
        }
    }
    tree.settle();
    Ok(Loaded {
        tree,
        loop_len: want.loop_len,
        peaks,
        repaired,
    })
}
