//! LV2 state: the loop saved with the host's session and restored from it.
//!
//! `save` writes the loop that plays (every channel, the loop and then the tail its
//! seam's crossfade reads) as a 32-bit float WAV file named `loop.wav` in the folder the
//! host gives through `state:makePath`, and stores the file's abstract path
//! (`state:mapPath`) with the loop's length, sample rate, channel count and whether it
//! played. Without `makePath`, loops of up to [`INLINE_MAX_BYTES`] of WAV are stored in
//! the state itself (an `atom:Chunk`); a longer one is not saved, and the host's log
//! says so once. The undo history and the control ports (the host's to save) are not
//! saved.
//!
//! Threads: `save` runs on a host thread of its own (GUI, session save), possibly while
//! `run()` records or overdubs. It takes its loop from the audio thread through the
//! [`SaveGate`]: an O(1) snapshot of the persistent tree, whose chunks no thread writes
//! or frees while the snapshot holds them (see `engine::snapshot`). `restore` is in the
//! instantiation class; it reads the whole file into new locked chunks without touching
//! the engine, and installs the loop under a brief exclusive claim of the gate (so even a
//! host that restored while `run()` runs would lose one block, never corrupt one).
//!
//! Bad state never panics across the C boundary and never allocates more than the file
//! holds: every failure is one message in the host's log, and the looper keeps what it
//! had (a new instance: empty) and stays fully usable.

use lv2::lv2_sys as sys;
use std::ffi::{c_char, c_void, CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::engine::history::{LoopGrid, Version};
use crate::engine::loopfile::{read_wav, write_wav, Expect, LoadError, MAX_DATA_BYTES};
use crate::engine::snapshot::{SaveGate, Snapshot};
use crate::engine::sync::Unit;
use crate::engine::worker::{Level, WorkerCore};

/// The most WAV bytes kept inside the state when the host offers no `makePath` (about
/// 87 s of mono or 43 s of stereo at 48 kHz); the host writes them into its session
/// file (lilv: as base64 in Turtle).
pub const INLINE_MAX_BYTES: usize = 16 << 20;
/// The file `save` asks `makePath` for.
pub const FILE_NAME: &str = "loop.wav";
/// Version of the properties below.
const FORMAT: i32 = 1;

/// Property keys, under this prefix.
pub mod key {
    use std::ffi::CStr;
    pub const AUDIO: &CStr = c"urn:looper-lv2:state#audio";
    pub const INLINE: &CStr = c"urn:looper-lv2:state#inline";
    pub const LENGTH: &CStr = c"urn:looper-lv2:state#length";
    pub const RATE: &CStr = c"urn:looper-lv2:state#rate";
    pub const CHANNELS: &CStr = c"urn:looper-lv2:state#channels";
    pub const PLAYING: &CStr = c"urn:looper-lv2:state#playing";
    pub const FORMAT: &CStr = c"urn:looper-lv2:state#format";
    /// A synced loop's grid: 1 beat or 2 bar, the unit it began on, its length in units.
    pub const UNIT: &CStr = c"urn:looper-lv2:state#unit";
    pub const ORIGIN: &CStr = c"urn:looper-lv2:state#origin";
    pub const UNITS: &CStr = c"urn:looper-lv2:state#units";
}

/// URIDs mapped at instantiation.
#[derive(Clone, Copy, Default)]
pub(super) struct Urids {
    audio: u32,
    inline: u32,
    length: u32,
    rate: u32,
    channels: u32,
    playing: u32,
    format: u32,
    unit: u32,
    origin: u32,
    units: u32,
    path: u32,
    string: u32,
    chunk: u32,
    long: u32,
    int: u32,
    double: u32,
    boolean: u32,
}

/// The state features a host may pass (to instantiate, or to each save and restore).
#[derive(Clone, Copy, Default)]
pub(super) struct PathFeatures {
    pub make: Option<NonNull<sys::LV2_State_Make_Path>>,
    pub map: Option<NonNull<sys::LV2_State_Map_Path>>,
    pub free: Option<NonNull<sys::LV2_State_Free_Path>>,
}

impl PathFeatures {
    /// [any] Remembers `uri`'s data if it is one of the path features.
    pub fn take(&mut self, uri: &[u8], data: *mut c_void) {
        if uri == sys::LV2_STATE__makePath {
            self.make = NonNull::new(data.cast());
        } else if uri == sys::LV2_STATE__mapPath {
            self.map = NonNull::new(data.cast());
        } else if uri == sys::LV2_STATE__freePath {
            self.free = NonNull::new(data.cast());
        }
    }

    /// [any] These, with any missing one taken from `fallback`.
    fn or(self, fallback: PathFeatures) -> PathFeatures {
        PathFeatures {
            make: self.make.or(fallback.make),
            map: self.map.or(fallback.map),
            free: self.free.or(fallback.free),
        }
    }
}

/// What save and restore need of an instance, written once at instantiation and only
/// read after: they read it while `run()` may hold the audio side.
pub(super) struct StateSide {
    /// The instance's worker core (owned by the audio side, freed at cleanup): for the
    /// log and for fresh chunks. WorkerCore is Sync.
    pub core: NonNull<WorkerCore>,
    /// The engine's save gate.
    pub gate: Arc<SaveGate>,
    pub urids: Urids,
    /// Path features passed to instantiate (the state spec allows either place).
    pub paths: PathFeatures,
    pub channels: usize,
    pub rate: f64,
    pub max_tail: usize,
    /// The "too long to keep inline" message was given.
    pub told_inline: AtomicBool,
}

// SAFETY: read-only after instantiation but for the atomic; the pointers are the host's
// features and our core, valid until cleanup and usable from any non-audio thread.
unsafe impl Send for StateSide {}
// SAFETY: as for Send.
unsafe impl Sync for StateSide {}

impl StateSide {
    /// [instantiation] Maps the URIDs through the host's `map`.
    ///
    /// # Safety
    /// `map` is the host's valid `urid:map`.
    pub unsafe fn urids(map: &sys::LV2_URID_Map) -> Urids {
        let m = |uri: &[u8]| match map.map {
            // SAFETY: the host's map with its handle and a nul-terminated URI.
            Some(f) => unsafe { f(map.handle, uri.as_ptr().cast()) },
            None => 0,
        };
        let k = |c: &CStr| m(c.to_bytes_with_nul());
        Urids {
            audio: k(key::AUDIO),
            inline: k(key::INLINE),
            length: k(key::LENGTH),
            rate: k(key::RATE),
            channels: k(key::CHANNELS),
            playing: k(key::PLAYING),
            format: k(key::FORMAT),
            unit: k(key::UNIT),
            origin: k(key::ORIGIN),
            units: k(key::UNITS),
            path: m(sys::LV2_ATOM__Path),
            string: m(sys::LV2_ATOM__String),
            chunk: m(sys::LV2_ATOM__Chunk),
            long: m(sys::LV2_ATOM__Long),
            int: m(sys::LV2_ATOM__Int),
            double: m(sys::LV2_ATOM__Double),
            boolean: m(sys::LV2_ATOM__Bool),
        }
    }

    /// [any] The worker core.
    fn core(&self) -> &WorkerCore {
        // SAFETY: the core lives until cleanup, after the host's last save or restore.
        unsafe { self.core.as_ref() }
    }

    /// [any] One message in the host's log.
    fn tell(&self, level: Level, msg: &str) {
        self.core().tell(level, &format!("looper: {msg}\n"));
    }
}

/// [any] Reads the state features in a NULL-terminated feature array.
///
/// # Safety
/// `features` is null or a NULL-terminated array of valid LV2_Feature pointers.
unsafe fn path_features(mut features: *const *const sys::LV2_Feature) -> PathFeatures {
    let mut found = PathFeatures::default();
    if features.is_null() {
        return found;
    }
    loop {
        // SAFETY: NULL-terminated (the contract).
        let Some(f) = (unsafe { (*features).as_ref() }) else {
            return found;
        };
        if !f.URI.is_null() {
            // SAFETY: a feature URI is a nul-terminated string.
            found.take(unsafe { CStr::from_ptr(f.URI) }.to_bytes_with_nul(), f.data);
        }
        // SAFETY: not past the terminator yet.
        features = unsafe { features.add(1) };
    }
}

/// A string the host made (makePath, mapPath), freed with its `freePath` (or `free`).
struct HostString {
    ptr: NonNull<c_char>,
    free: Option<NonNull<sys::LV2_State_Free_Path>>,
}

impl HostString {
    fn bytes(&self) -> &[u8] {
        // SAFETY: the host returned a nul-terminated string, valid until freed.
        unsafe { CStr::from_ptr(self.ptr.as_ptr()) }.to_bytes()
    }
}

impl Drop for HostString {
    fn drop(&mut self) {
        match self.free {
            // SAFETY: the host's freePath for a string its makePath/mapPath returned.
            Some(f) => unsafe {
                let f = f.as_ref();
                if let Some(free_path) = f.free_path {
                    free_path(f.handle, self.ptr.as_ptr());
                }
            },
            // SAFETY: without freePath the state spec says such strings are malloc'ed.
            None => unsafe { libc::free(self.ptr.as_ptr().cast()) },
        }
    }
}

/// [any] The value of one `store` call.
struct Stored<'a> {
    key: u32,
    kind: u32,
    bytes: &'a [u8],
}

/// [any but audio] `save`: see the module's documentation.
///
/// # Safety
/// Called by the host with our instance's side, its store function and handle, and a
/// NULL-terminated feature array (or null).
pub(super) unsafe fn save(
    side: &StateSide,
    own: impl FnOnce() -> Snapshot,
    store: sys::LV2_State_Store_Function,
    handle: sys::LV2_State_Handle,
    features: *const *const sys::LV2_Feature,
) -> sys::LV2_State_Status {
    let Some(store) = store else {
        return sys::LV2_State_Status_LV2_STATE_ERR_UNKNOWN;
    };
    // SAFETY: the caller's contract.
    let paths = unsafe { path_features(features) }.or(side.paths);
    let u = side.urids;
    let put = |s: Stored| {
        // SAFETY: the host's store with its handle; `bytes` lives across the call.
        unsafe {
            store(
                handle,
                s.key,
                s.bytes.as_ptr().cast(),
                s.bytes.len(),
                s.kind,
                (sys::LV2_State_Flags::LV2_STATE_IS_POD
                    | sys::LV2_State_Flags::LV2_STATE_IS_PORTABLE)
                    .0,
            )
        }
    };
    let snap = side.gate.take(own);
    let mut status = sys::LV2_State_Status_LV2_STATE_SUCCESS;
    let mut saved_len = snap.loop_len;
    if snap.loop_len > 0 {
        match save_audio(side, &snap, paths) {
            Ok(Audio::File(path)) => {
                let mut v = path.into_bytes();
                v.push(0);
                status = put(Stored {
                    key: u.audio,
                    kind: u.path,
                    bytes: &v,
                });
            }
            Ok(Audio::Inline(wav)) => {
                status = put(Stored {
                    key: u.inline,
                    kind: u.chunk,
                    bytes: &wav,
                });
            }
            Ok(Audio::Skipped) => saved_len = 0,
            Err(msg) => {
                side.tell(Level::Error, &format!("the loop was not saved: {msg}"));
                saved_len = 0;
                status = sys::LV2_State_Status_LV2_STATE_ERR_UNKNOWN;
            }
        }
    }
    let len = saved_len as i64;
    let channels = snap.tree.channels() as i32;
    let playing = i32::from(snap.playing && saved_len > 0);
    for (key, kind, bytes) in [
        (u.format, u.int, &FORMAT.to_ne_bytes()[..]),
        (u.length, u.long, &len.to_ne_bytes()[..]),
        (u.rate, u.double, &side.rate.to_ne_bytes()[..]),
        (u.channels, u.int, &channels.to_ne_bytes()[..]),
        (u.playing, u.boolean, &playing.to_ne_bytes()[..]),
    ] {
        let s = put(Stored { key, kind, bytes });
        if status == sys::LV2_State_Status_LV2_STATE_SUCCESS {
            status = s;
        }
    }
    if let Some(g) = snap.grid.filter(|_| saved_len > 0) {
        let unit: i32 = match g.unit {
            Unit::Beat => 1,
            Unit::Bar => 2,
        };
        for (key, kind, bytes) in [
            (u.unit, u.int, &unit.to_ne_bytes()[..]),
            (u.origin, u.long, &g.origin.to_ne_bytes()[..]),
            (u.units, u.long, &g.units.to_ne_bytes()[..]),
        ] {
            let s = put(Stored { key, kind, bytes });
            if status == sys::LV2_State_Status_LV2_STATE_SUCCESS {
                status = s;
            }
        }
    }
    status
}

/// Where the audio went.
enum Audio {
    /// The abstract path of the file.
    File(String),
    /// The WAV bytes, to keep in the state.
    Inline(Vec<u8>),
    /// Too long to keep in the state: the session keeps no loop.
    Skipped,
}

/// [any but audio] Writes the snapshot where the host wants it.
fn save_audio(side: &StateSide, snap: &Snapshot, paths: PathFeatures) -> Result<Audio, String> {
    let rate = side.rate.round() as u32;
    let Some(make) = paths.make else {
        let bytes = snap.tree.len() as u64 * snap.tree.channels() as u64 * 4;
        if bytes > INLINE_MAX_BYTES as u64 {
            if !side.told_inline.swap(true, Ordering::Relaxed) {
                side.tell(
                    Level::Warning,
                    &format!(
                        "this host offers no state:makePath, and the loop ({:.1} MiB) is longer than the {} MiB the looper keeps inside the session's state: the loop was not saved",
                        bytes as f64 / 1048576.0,
                        INLINE_MAX_BYTES >> 20
                    ),
                );
            }
            return Ok(Audio::Skipped); // (said once, above)
        }
        let mut cur = std::io::Cursor::new(Vec::with_capacity(bytes as usize + 64));
        write_wav(&mut cur, snap, rate).map_err(|e| e.to_string())?;
        return Ok(Audio::Inline(cur.into_inner()));
    };
    let name = CString::new(FILE_NAME).map_err(|e| e.to_string())?;
    // SAFETY: the host's makePath with its handle and a nul-terminated relative path.
    let made = unsafe {
        let m = make.as_ref();
        m.path
            .and_then(|f| NonNull::new(f(m.handle, name.as_ptr())))
    };
    let Some(ptr) = made else {
        return Err("the host's state:makePath gave no path".into());
    };
    let abs = HostString {
        ptr,
        free: paths.free,
    };
    let abs_path = PathBuf::from(OsStr::from_bytes(abs.bytes()));
    let file = std::fs::File::create(&abs_path)
        .map_err(|e| format!("cannot write {}: {e}", abs_path.display()))?;
    write_wav(file, snap, rate).map_err(|e| format!("{} ({})", e, abs_path.display()))?;
    let abstract_path = match paths.map {
        Some(map) => {
            // SAFETY: the host's mapPath with its handle and a nul-terminated path.
            let p = unsafe {
                let m = map.as_ref();
                m.abstract_path
                    .and_then(|f| NonNull::new(f(m.handle, abs.ptr.as_ptr())))
            };
            match p {
                Some(ptr) => HostString {
                    ptr,
                    free: paths.free,
                }
                .bytes()
                .to_vec(),
                None => abs.bytes().to_vec(),
            }
        }
        None => abs.bytes().to_vec(),
    };
    String::from_utf8(abstract_path)
        .map(Audio::File)
        .map_err(|_| format!("the path {} is not UTF-8", abs_path.display()))
}

/// [instantiation] `restore`: see the module's documentation. `install` makes the loop
/// the engine's (called under the gate's exclusive claim).
///
/// # Safety
/// Called by the host with our instance's side, its retrieve function and handle, and
/// a NULL-terminated feature array (or null).
pub(super) unsafe fn restore(
    side: &StateSide,
    install: impl FnOnce(Version, bool),
    retrieve: sys::LV2_State_Retrieve_Function,
    handle: sys::LV2_State_Handle,
    features: *const *const sys::LV2_Feature,
) -> sys::LV2_State_Status {
    let Some(retrieve) = retrieve else {
        return sys::LV2_State_Status_LV2_STATE_ERR_UNKNOWN;
    };
    // SAFETY: the caller's contract.
    let paths = unsafe { path_features(features) }.or(side.paths);
    let get = |key: u32| -> Option<(u32, &[u8])> {
        let (mut size, mut kind, mut flags) = (0usize, 0u32, 0u32);
        // SAFETY: the host's retrieve with its handle; it returns null or `size` bytes
        // that stay valid until restore returns.
        let v = unsafe { retrieve(handle, key, &mut size, &mut kind, &mut flags) };
        if v.is_null() {
            return None;
        }
        // SAFETY: as above.
        Some((kind, unsafe {
            std::slice::from_raw_parts(v.cast::<u8>(), size)
        }))
    };
    match read_state(side, &get, paths) {
        Ok(None) => sys::LV2_State_Status_LV2_STATE_SUCCESS,
        Ok(Some((v, playing, repaired))) => {
            side.gate.exclusive(|| install(v, playing));
            side.core().collect();
            if repaired > 0 {
                side.tell(
                    Level::Warning,
                    &format!("the saved loop held {repaired} sample(s) that were not numbers; they play as silence"),
                );
            }
            sys::LV2_State_Status_LV2_STATE_SUCCESS
        }
        Err((status, msg)) => {
            side.core().collect();
            side.core().failures_told();
            side.tell(
                Level::Error,
                &format!("the saved loop was not restored: {msg}. The looper keeps the loop it had (a new one is empty)"),
            );
            status
        }
    }
}

type Failure = (sys::LV2_State_Status, String);

fn bad_type(what: &str) -> Failure {
    (
        sys::LV2_State_Status_LV2_STATE_ERR_BAD_TYPE,
        format!("its {what} is of the wrong type or size"),
    )
}

/// [instantiation] Reads and checks the properties and the audio: `None` when the state
/// holds nothing of ours, else the loop (empty when none was saved), whether it
/// played, and how many samples were repaired.
fn read_state<'a>(
    side: &StateSide,
    get: &dyn Fn(u32) -> Option<(u32, &'a [u8])>,
    paths: PathFeatures,
) -> Result<Option<(Version, bool, u64)>, Failure> {
    let u = side.urids;
    let int = |key: u32, what: &str| -> Result<Option<i64>, Failure> {
        match get(key) {
            None => Ok(None),
            Some((k, b)) if k == u.long && b.len() == 8 => Ok(Some(i64::from_ne_bytes(
                b.try_into().map_err(|_| bad_type(what))?,
            ))),
            Some((k, b)) if (k == u.int || k == u.boolean) && b.len() == 4 => Ok(Some(
                i32::from_ne_bytes(b.try_into().map_err(|_| bad_type(what))?) as i64,
            )),
            Some(_) => Err(bad_type(what)),
        }
    };
    let Some(len) = int(u.length, "length")? else {
        if get(u.audio).is_some() || get(u.inline).is_some() {
            return Err((
                sys::LV2_State_Status_LV2_STATE_ERR_NO_PROPERTY,
                "it has audio but no length".into(),
            ));
        }
        return Ok(None); // nothing of ours: a state from before, or another plugin's
    };
    if let Some(f) = int(u.format, "format")? {
        if f != FORMAT as i64 {
            return Err((
                sys::LV2_State_Status_LV2_STATE_ERR_UNKNOWN,
                format!("it is of format {f}, this looper reads {FORMAT}"),
            ));
        }
    }
    let playing = int(u.playing, "play state")?.unwrap_or(1) != 0;
    if len == 0 {
        return Ok(Some((Version::empty(side.channels), false, 0)));
    }
    if len < 0 || len as u64 > MAX_DATA_BYTES / 4 {
        return Err(bad_type("length"));
    }
    if let Some(c) = int(u.channels, "channel count")? {
        if c != 1 && c != 2 {
            return Err(bad_type("channel count"));
        }
    }
    if let Some((k, b)) = get(u.rate) {
        if k != u.double || b.len() != 8 {
            return Err(bad_type("sample rate"));
        }
        let r = f64::from_ne_bytes(b.try_into().map_err(|_| bad_type("sample rate"))?);
        if r.round() != side.rate.round() {
            return Err((
                sys::LV2_State_Status_LV2_STATE_ERR_UNKNOWN,
                format!(
                    "it was recorded at {r} Hz and the host runs at {} Hz (loops are not resampled)",
                    side.rate
                ),
            ));
        }
    }
    let want = Expect {
        channels: side.channels,
        rate: side.rate.round() as u32,
        loop_len: len as usize,
        max_tail: side.max_tail,
        bytes: None,
    };
    let supply = side.core().supply();
    let loaded = if let Some((k, b)) = get(u.audio) {
        if k != u.path && k != u.string {
            return Err(bad_type("audio path"));
        }
        let file = resolve(b, paths)?;
        let shown = file.display().to_string();
        let fail = |e: LoadError| {
            (
                sys::LV2_State_Status_LV2_STATE_ERR_UNKNOWN,
                format!("{e} ({shown})"),
            )
        };
        let meta = std::fs::metadata(&file).map_err(|e| fail(LoadError::Io(e)))?;
        if !meta.is_file() {
            return Err(fail(LoadError::NotWav("not a regular file".into())));
        }
        let f = std::fs::File::open(&file).map_err(|e| fail(LoadError::Io(e)))?;
        // (A small buffer for hound's header: the samples are read in blocks past it.)
        let want = Expect {
            bytes: Some(meta.len()),
            ..want
        };
        read_wav(std::io::BufReader::with_capacity(8192, f), &want, &supply).map_err(fail)?
    } else if let Some((k, b)) = get(u.inline) {
        if k != u.chunk {
            return Err(bad_type("inline audio"));
        }
        let want = Expect {
            bytes: Some(b.len() as u64),
            ..want
        };
        read_wav(std::io::Cursor::new(b), &want, &supply).map_err(|e| {
            (
                sys::LV2_State_Status_LV2_STATE_ERR_UNKNOWN,
                format!("{e} (the audio kept in the state)"),
            )
        })?
    } else {
        return Err((
            sys::LV2_State_Status_LV2_STATE_ERR_NO_PROPERTY,
            "it names no audio".into(),
        ));
    };
    let grid = match (
        int(u.unit, "grid unit")?,
        int(u.origin, "grid origin")?,
        int(u.units, "grid length")?,
    ) {
        (None, None, None) => None,
        (Some(unit @ (1 | 2)), Some(origin), Some(units)) if units > 0 => Some(LoopGrid {
            unit: if unit == 1 { Unit::Beat } else { Unit::Bar },
            origin,
            units,
        }),
        _ => return Err(bad_type("grid")),
    };
    let v = Version {
        tree: loaded.tree,
        loop_len: loaded.loop_len,
        peaks: loaded.peaks,
        grid,
    };
    Ok(Some((v, playing, loaded.repaired)))
}

/// [instantiation] The file a stored path names, checked to be inside the host's state
/// folder. With `mapPath`: the stored path may be abstract (relative; Carla hands it
/// back so) or already absolute (lilv maps it when it reads the state); a relative one
/// is mapped with `absolute_path`. The state folder is where `absolute_path` puts a
/// bare [`FILE_NAME`]; the file must be inside it, with no `..`. (Not `abstract_path`:
/// lilv's crashes during restore, its maps being made only for saving.) Without
/// `mapPath` it must be an absolute path to a file named [`FILE_NAME`], without `..`.
fn resolve(stored: &[u8], paths: PathFeatures) -> Result<PathBuf, Failure> {
    // Carla counts the size without the terminating NUL, lilv with it: take both.
    let end = stored.iter().position(|&b| b == 0).unwrap_or(stored.len());
    if stored[end..].iter().any(|&b| b != 0) || end == 0 {
        return Err(bad_type("audio path"));
    }
    let bytes = &stored[..end];
    let p = Path::new(OsStr::from_bytes(bytes));
    let outside = |p: &Path| {
        (
            sys::LV2_State_Status_LV2_STATE_ERR_UNKNOWN,
            format!(
                "its audio path {} is outside the host's state folder",
                p.display()
            ),
        )
    };
    let clean = |p: &Path| p.components().all(|c| !matches!(c, Component::ParentDir));
    if !clean(p) {
        return Err(outside(p));
    }
    let Some(map) = paths.map else {
        let named_ours = p.file_name() == Some(OsStr::new(FILE_NAME));
        return match p.is_absolute() && named_ours {
            true => Ok(p.to_path_buf()),
            false => Err(outside(p)),
        };
    };
    // SAFETY: the host's feature, valid during restore.
    let m = unsafe { map.as_ref() };
    let absolute = |arg: &[u8]| -> Option<PathBuf> {
        let c = CString::new(arg).ok()?;
        // SAFETY: the host's absolute_path with its handle and a nul-terminated path;
        // it returns null or a string we own, freed by HostString.
        let ptr = unsafe { NonNull::new(m.absolute_path?(m.handle, c.as_ptr()))? };
        let s = HostString {
            ptr,
            free: paths.free,
        };
        Some(PathBuf::from(OsStr::from_bytes(s.bytes())))
    };
    let abs = match p.is_absolute() {
        true => p.to_path_buf(),
        false => absolute(bytes).ok_or_else(|| outside(p))?,
    };
    let folder = absolute(FILE_NAME.as_bytes())
        .and_then(|f| f.parent().map(Path::to_path_buf))
        .filter(|f| f.is_absolute())
        .ok_or_else(|| outside(&abs))?;
    match abs.strip_prefix(&folder) {
        Ok(rest) if clean(&abs) && !rest.as_os_str().is_empty() => Ok(abs),
        _ => Err(outside(&abs)),
    }
}
