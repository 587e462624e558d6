//! A small LV2 host for the tests: loads the real library through `dlopen`, calls its
//! exported descriptor, offers `urid:map`, `work:schedule` and `log:log`, and runs the
//! worker the way the test asks (promptly, late, stalled, or synchronously inside
//! `schedule_work` as hosts do when freewheeling).
#![allow(dead_code)]

use lv2::lv2_sys as sys;
use std::collections::{HashMap, VecDeque};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

pub use looper::engine::sync::Position;

/// Words (8 bytes) in the `control` port's sequence buffer.
const SEQ_WORDS: usize = 1024;

pub const URI: &str = "urn:looper-lv2:mono"; // as in looper.lv2/*.ttl
pub const STEREO_URI: &str = "urn:looper-lv2:stereo";
pub const CHUNK: usize = looper::chunk::CHUNK_SAMPLES;

/// Port indices, as in `looper.lv2/looper.ttl`.
pub use looper::plugin::port;

/// The test signal: a deterministic, non-repeating value for every sample index, exact
/// in f32, never zero.
pub fn sig(i: u64) -> f32 {
    let mut x = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    // 16 bits of value in (-0.5, 0.5), never 0: exact in f32 and after adding another.
    ((x >> 48) as f32 - 32767.5) / 65536.0
}

/// The library the tests load: `liblooper.so` as cargo built it for this test run.
pub fn library_path() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let deps = exe.parent().expect("deps dir");
    for dir in [deps, deps.parent().unwrap_or(deps)] {
        let p = dir.join("liblooper.so");
        if p.exists() {
            return p;
        }
    }
    panic!("liblooper.so not found next to {}", exe.display());
}

/// A bundle made of the repository's Turtle files and the library under test.
pub fn bundle_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("looper-test-{}", std::process::id()))
            .join("looper.lv2");
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["manifest.ttl", "looper.ttl"] {
            std::fs::copy(root.join("looper.lv2").join(f), dir.join(f)).unwrap();
        }
        std::fs::copy(library_path(), dir.join("liblooper.so")).unwrap();
        dir
    })
}

/// The loaded library, shared by every host in the process (as `dlopen` shares it).
pub mod state;

pub struct Lib {
    lib: libloading::Library,
}

impl Lib {
    pub fn get() -> &'static Lib {
        static LIB: OnceLock<Lib> = OnceLock::new();
        LIB.get_or_init(|| {
            let path = bundle_dir().join("liblooper.so");
            // SAFETY: loading our own plugin library; its initialisers are Rust statics.
            let lib = unsafe { libloading::Library::new(&path) }.expect("dlopen liblooper.so");
            Lib { lib }
        })
    }

    fn sym<T: Copy>(&self, name: &[u8]) -> T {
        // SAFETY: the caller names the symbol's real type.
        unsafe {
            *self.lib.get::<T>(name).unwrap_or_else(|_| panic!("symbol {} missing: build the tests with `--features rt-guard` (make test does)", String::from_utf8_lossy(name)))
        }
    }

    /// The mono looper's descriptor.
    pub fn descriptor(&self) -> &'static sys::LV2_Descriptor {
        self.descriptor_of(1)
    }

    /// The descriptor of the looper of `channels` (1 or 2).
    pub fn descriptor_of(&self, channels: usize) -> &'static sys::LV2_Descriptor {
        let f: unsafe extern "C" fn(u32) -> *const sys::LV2_Descriptor =
            self.sym(b"lv2_descriptor\0");
        let index = channels as u32 - 1;
        // SAFETY: indices 0 and 1 are the mono and stereo loopers; static descriptors.
        let d = unsafe { f(index).as_ref() }.expect("descriptor");
        // SAFETY: URI is a static C string.
        let uri = unsafe { CStr::from_ptr(d.URI) }.to_str().unwrap();
        assert_eq!(uri, if channels == 2 { STEREO_URI } else { URI });
        // SAFETY: past the last plugin the library answers null.
        assert!(unsafe { f(2) }.is_null());
        d
    }

    /// Allocations or frees seen inside `run()`/`work_response()` so far, process-wide.
    pub fn rt_violations(&self) -> u64 {
        let f: extern "C" fn() -> u64 = self.sym(b"looper_test_rt_violations\0");
        f()
    }

    /// Audio scopes entered so far, process-wide.
    pub fn rt_scopes(&self) -> u64 {
        let f: extern "C" fn() -> u64 = self.sym(b"looper_test_rt_scopes\0");
        f()
    }

    /// Chunks made and freed so far, process-wide.
    pub fn chunk_totals(&self) -> (u64, u64) {
        let made: extern "C" fn() -> u64 = self.sym(b"looper_test_chunks_made\0");
        let freed: extern "C" fn() -> u64 = self.sym(b"looper_test_chunks_freed\0");
        (made(), freed())
    }
}

/// Asserts that no audio-thread callback allocated or freed, and that the guard ran.
pub fn assert_rt_clean() {
    let lib = Lib::get();
    assert!(lib.rt_scopes() > 0, "the allocation guard never ran");
    assert_eq!(
        lib.rt_violations(),
        0,
        "run() or work_response() allocated or freed"
    );
}

/// How the host runs the plugin's worker.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WorkerMode {
    /// Work is done right after the `run()` that scheduled it; responses delivered
    /// before the next `run()`.
    Prompt,
    /// Work is done once this many frames have passed since it was scheduled.
    Late(u64),
    /// Work waits until `resume()`.
    Stalled,
    /// `work()` runs inside `schedule_work` (hosts do this while freewheeling);
    /// responses are delivered after the `run()`.
    Synchronous,
    /// As Ardour while exporting: `work()` runs inside `schedule_work`, and each
    /// response is delivered at once, `work_response` being called from inside
    /// `respond`, so from inside `run()`.
    Freewheel,
}

struct WorkerState {
    mode: WorkerMode,
    now: u64,
    pending: VecDeque<(u64, Msg)>,
    responses: VecDeque<Msg>,
    ring_limit: usize,
    iface: *const sys::LV2_Worker_Interface,
    instance: sys::LV2_Handle,
    scheduled: u64,
}

/// Bytes of one worker message, kept inline: the host's `schedule_work` runs on the
/// audio thread and must not allocate either (the sanitizer test checks the host too).
const MSG_MAX: usize = 64;
/// Messages the host's queue holds (capacity reserved up front).
const RING: usize = 4096;

#[derive(Clone, Copy)]
struct Msg {
    len: usize,
    bytes: [u8; MSG_MAX],
}

impl Msg {
    /// SAFETY: `data` holds `size` readable bytes.
    unsafe fn copy(size: u32, data: *const c_void) -> Msg {
        let len = size as usize;
        assert!(len <= MSG_MAX, "worker message of {len} bytes");
        let mut bytes = [0u8; MSG_MAX];
        // SAFETY: see the function's contract.
        bytes[..len].copy_from_slice(unsafe { std::slice::from_raw_parts(data as *const u8, len) });
        Msg { len, bytes }
    }
    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Enters the sanitizer's realtime scope (test builds with the `rtsan` feature).
pub fn rt_enter() {
    #[cfg(feature = "rtsan")]
    rtsan_standalone::realtime_enter();
}
/// Leaves the sanitizer's realtime scope.
pub fn rt_exit() {
    #[cfg(feature = "rtsan")]
    rtsan_standalone::realtime_exit();
}
/// Suspends the sanitizer (work done by the host inside run(), as when freewheeling).
fn rt_disable() {
    #[cfg(feature = "rtsan")]
    rtsan_standalone::disable();
}
fn rt_enable() {
    #[cfg(feature = "rtsan")]
    rtsan_standalone::enable();
}

struct LogState {
    messages: Mutex<Vec<(u32, String)>>,
}

/// The host's inline-display `queue_draw`: counts the calls (realtime-safe: one atomic).
unsafe extern "C" fn queue_draw(handle: *mut c_void) {
    // SAFETY: handle is this host's counter, which outlives the instance.
    unsafe { &*(handle as *const std::sync::atomic::AtomicU64) }
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// The inline display's `render`, callable from any thread.
#[derive(Clone, Copy)]
pub struct Renderer {
    render: unsafe extern "C" fn(
        sys::LV2_Handle,
        u32,
        u32,
    ) -> *mut looper::lv2::inline_display::Surface,
    instance: usize,
}

// SAFETY: the plugin's render may be called from any one thread while run() runs on
// another (the extension's contract); the instance outlives every call a test makes.
unsafe impl Send for Renderer {}

impl Renderer {
    /// Renders at most `w` x `h`; returns (width, height, pixels row by row).
    pub fn render(&self, w: u32, h: u32) -> (usize, usize, Vec<u32>) {
        // SAFETY: the instance is live (the test keeps its Host until the thread ends).
        let s = unsafe { (self.render)(self.instance as sys::LV2_Handle, w, h).as_ref() }
            .expect("a surface");
        let (w, h, stride) = (s.width as usize, s.height as usize, s.stride as usize / 4);
        assert!(s.stride as usize >= w * 4);
        // SAFETY: the surface holds h rows of `stride` bytes until the next render.
        let px = unsafe { std::slice::from_raw_parts(s.data as *const u32, stride * h) };
        let rows = (0..h).flat_map(|y| px[y * stride..y * stride + w].iter().copied());
        (w, h, rows.collect())
    }
}

struct UridMap {
    map: Mutex<HashMap<String, u32>>,
}

unsafe extern "C" fn map_uri(handle: sys::LV2_URID_Map_Handle, uri: *const c_char) -> u32 {
    // SAFETY: handle is the UridMap this host made; uri is a C string from the plugin.
    let (m, uri) = unsafe { (&*(handle as *const UridMap), CStr::from_ptr(uri)) };
    let mut map = m.map.lock().unwrap();
    let next = map.len() as u32 + 1;
    *map.entry(uri.to_string_lossy().into_owned())
        .or_insert(next)
}

/// The host's printf, taking the one `%s` argument the plugin passes. Declared with a
/// fixed argument list and called through the variadic type: on x86-64 System V and
/// AArch64 Linux a pointer argument is passed alike either way.
unsafe extern "C" fn log_printf(
    handle: *mut c_void,
    kind: u32,
    fmt: *const c_char,
    arg: *const c_char,
) -> c_int {
    // SAFETY: handle is this host's LogState; fmt and arg are C strings from the plugin.
    let (log, fmt, arg) = unsafe {
        (
            &*(handle as *const LogState),
            CStr::from_ptr(fmt),
            CStr::from_ptr(arg),
        )
    };
    assert_eq!(
        fmt.to_bytes(),
        b"%s",
        "the plugin logs with a plain %s format"
    );
    log.messages
        .lock()
        .unwrap()
        .push((kind, arg.to_string_lossy().into_owned()));
    0
}

unsafe extern "C" fn schedule_work(
    handle: *mut c_void,
    size: u32,
    data: *const c_void,
) -> sys::LV2_Worker_Status {
    // SAFETY: handle is this host's WorkerState, data holds `size` bytes.
    let (w, msg) = unsafe { (&mut *(handle as *mut WorkerState), Msg::copy(size, data)) };
    if w.pending.len() >= w.ring_limit {
        return sys::LV2_Worker_Status_LV2_WORKER_ERR_NO_SPACE;
    }
    w.scheduled += 1;
    if matches!(w.mode, WorkerMode::Synchronous | WorkerMode::Freewheel) {
        // The host is freewheeling: the worker runs here, outside realtime rules.
        rt_disable();
        // SAFETY: as in do_work.
        unsafe { do_work(w, msg.as_slice()) };
        rt_enable();
    } else {
        w.pending.push_back((w.now, msg));
    }
    sys::LV2_Worker_Status_LV2_WORKER_SUCCESS
}

unsafe extern "C" fn respond(
    handle: *mut c_void,
    size: u32,
    data: *const c_void,
) -> sys::LV2_Worker_Status {
    // SAFETY: handle is this host's WorkerState, data holds `size` bytes.
    let (w, msg) = unsafe { (&mut *(handle as *mut WorkerState), Msg::copy(size, data)) };
    if w.mode == WorkerMode::Freewheel {
        // SAFETY: the live instance; re-entrant, as Ardour does.
        let st = unsafe {
            (*w.iface).work_response.unwrap()(
                w.instance,
                msg.len as u32,
                msg.bytes.as_ptr() as *const c_void,
            )
        };
        assert_eq!(st, sys::LV2_Worker_Status_LV2_WORKER_SUCCESS);
        return st;
    }
    w.responses.push_back(msg);
    sys::LV2_Worker_Status_LV2_WORKER_SUCCESS
}

/// SAFETY: `w.iface` and `w.instance` are the live plugin's.
unsafe fn do_work(w: &mut WorkerState, bytes: &[u8]) {
    // SAFETY: see the function's contract.
    unsafe {
        let work = (*w.iface).work.expect("work()");
        let st = work(
            w.instance,
            Some(respond),
            w as *mut WorkerState as *mut c_void,
            bytes.len() as u32,
            bytes.as_ptr() as *const c_void,
        );
        assert_eq!(
            st,
            sys::LV2_Worker_Status_LV2_WORKER_SUCCESS,
            "work() failed"
        );
    }
}

/// One plugin instance in the test host.
pub struct Host {
    desc: &'static sys::LV2_Descriptor,
    instance: sys::LV2_Handle,
    worker: Box<WorkerState>,
    log: Box<LogState>,
    _map: Box<UridMap>,
    _map_feature: Box<sys::LV2_URID_Map>,
    _schedule: Box<sys::LV2_Worker_Schedule>,
    _log_feature: Box<sys::LV2_Log_Log>,
    _features: Vec<sys::LV2_Feature>,
    _feature_ptrs: Vec<*const sys::LV2_Feature>,
    _uris: Vec<CString>,
    controls: Box<[f32; port::COUNT]>,
    /// The `control` port's atom sequence, rewritten before every block.
    seq: Box<[u64; SEQ_WORDS]>,
    /// Positions to send in the next block: (frame offset, position).
    positions: Vec<(i64, Position)>,
    draws: Box<std::sync::atomic::AtomicU64>,
    _queue_draw: Box<looper::lv2::inline_display::QueueDraw>,
    pub channels: usize,
    out_r: Vec<f32>,
    out: Vec<f32>,
    pub rate: f64,
    pub frames: u64,
}

impl Host {
    /// Instantiates the plugin at `rate`, with `log:log` offered.
    pub fn new(rate: f64, mode: WorkerMode) -> Host {
        Host::with_log(rate, mode, true)
    }

    /// The stereo looper at `rate`, with `log:log` offered.
    pub fn stereo(rate: f64, mode: WorkerMode) -> Host {
        Host::make(rate, mode, true, 2)
    }

    pub fn with_log(rate: f64, mode: WorkerMode, offer_log: bool) -> Host {
        Host::make(rate, mode, offer_log, 1)
    }

    /// Instantiates the looper of `channels`. Every control port is connected, at its
    /// default except `fade`, which is 0 (exact output) unless a test sets it.
    pub fn make(rate: f64, mode: WorkerMode, offer_log: bool, channels: usize) -> Host {
        let desc = Lib::get().descriptor_of(channels);
        let map = Box::new(UridMap {
            map: Mutex::new(HashMap::new()),
        });
        let map_feature = Box::new(sys::LV2_URID_Map {
            handle: &*map as *const UridMap as *mut c_void,
            map: Some(map_uri),
        });
        let mut worker = Box::new(WorkerState {
            mode,
            now: 0,
            pending: VecDeque::with_capacity(RING),
            responses: VecDeque::with_capacity(RING),
            ring_limit: RING,
            iface: std::ptr::null(),
            instance: std::ptr::null_mut(),
            scheduled: 0,
        });
        let schedule = Box::new(sys::LV2_Worker_Schedule {
            handle: &mut *worker as *mut WorkerState as *mut c_void,
            schedule_work: Some(schedule_work),
        });
        let log = Box::new(LogState {
            messages: Mutex::new(Vec::new()),
        });
        type Printf = unsafe extern "C" fn(*mut c_void, u32, *const c_char, ...) -> c_int;
        // SAFETY: see log_printf: the fixed and variadic conventions agree for its arguments.
        let printf: Printf = unsafe {
            std::mem::transmute(
                log_printf
                    as unsafe extern "C" fn(
                        *mut c_void,
                        u32,
                        *const c_char,
                        *const c_char,
                    ) -> c_int,
            )
        };
        let log_feature = Box::new(sys::LV2_Log_Log {
            handle: &*log as *const LogState as *mut c_void,
            printf: Some(printf),
            vprintf: None,
        });
        let uris = vec![
            CString::new(&sys::LV2_URID__map[..sys::LV2_URID__map.len() - 1]).unwrap(),
            CString::new(&sys::LV2_WORKER__schedule[..sys::LV2_WORKER__schedule.len() - 1])
                .unwrap(),
            CString::new(&sys::LV2_LOG__log[..sys::LV2_LOG__log.len() - 1]).unwrap(),
        ];
        let mut features = vec![
            sys::LV2_Feature {
                URI: uris[0].as_ptr(),
                data: &*map_feature as *const _ as *mut c_void,
            },
            sys::LV2_Feature {
                URI: uris[1].as_ptr(),
                data: &*schedule as *const _ as *mut c_void,
            },
        ];
        if offer_log {
            features.push(sys::LV2_Feature {
                URI: uris[2].as_ptr(),
                data: &*log_feature as *const _ as *mut c_void,
            });
        }
        let draws = Box::new(std::sync::atomic::AtomicU64::new(0));
        let queue = Box::new(looper::lv2::inline_display::QueueDraw {
            handle: &*draws as *const _ as *mut c_void,
            queue_draw: Some(queue_draw),
        });
        features.push(sys::LV2_Feature {
            URI: looper::lv2::inline_display::QUEUE_DRAW_URI.as_ptr(),
            data: &*queue as *const _ as *mut c_void,
        });
        let mut feature_ptrs: Vec<*const sys::LV2_Feature> =
            features.iter().map(|f| f as *const _).collect();
        feature_ptrs.push(std::ptr::null());
        let bundle = CString::new(format!("{}/", bundle_dir().display())).unwrap();
        // SAFETY: a valid descriptor, a NULL-terminated feature array that outlives the
        // instance (owned by Host), a C-string bundle path.
        let instance = unsafe {
            desc.instantiate.unwrap()(desc, rate, bundle.as_ptr(), feature_ptrs.as_ptr())
        };
        assert!(!instance.is_null(), "instantiate failed");
        // SAFETY: extension_data takes a C string; the worker URI.
        let iface = unsafe {
            desc.extension_data.unwrap()(sys::LV2_WORKER__interface.as_ptr() as *const c_char)
        } as *const sys::LV2_Worker_Interface;
        assert!(!iface.is_null(), "no worker interface");
        worker.iface = iface;
        worker.instance = instance;
        let mut h = Host {
            desc,
            instance,
            worker,
            log,
            _map: map,
            _map_feature: map_feature,
            _schedule: schedule,
            _log_feature: log_feature,
            _features: features,
            _feature_ptrs: feature_ptrs,
            _uris: uris,
            controls: Box::new([0.0; port::COUNT]),
            seq: Box::new([0; SEQ_WORDS]),
            positions: Vec::new(),
            draws,
            _queue_draw: queue,
            channels,
            out_r: Vec::new(),
            out: Vec::new(),
            rate,
            frames: 0,
        };
        for (p, v) in [
            (port::PLAY, 1.0),
            (port::FEEDBACK, 1.0),
            (port::UNDO_MEMORY, 1024.0),
        ] {
            h.controls[p as usize] = v;
        }
        for p in (port::RECORD..=port::REDOS).chain([port::SYNC, port::BARS, port::SYNCED]) {
            // SAFETY: control ports take a pointer to one f32 that outlives the instance.
            unsafe {
                desc.connect_port.unwrap()(
                    instance,
                    port::index(p, channels),
                    &mut h.controls[p as usize] as *mut f32 as *mut c_void,
                )
            };
        }
        // SAFETY: the atom port takes the sequence buffer, which outlives the instance.
        unsafe {
            desc.connect_port.unwrap()(
                instance,
                port::index(port::CONTROL, channels),
                h.seq.as_mut_ptr() as *mut c_void,
            )
        };
        h.write_sequence();
        // SAFETY: activate after connecting.
        unsafe { desc.activate.unwrap()(instance) };
        h
    }

    /// Times the plugin called the host's `queue_draw`.
    pub fn queue_draws(&self) -> u64 {
        self.draws.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The inline display's render, to call from another thread.
    pub fn renderer(&self) -> Renderer {
        // SAFETY: extension_data takes a C string.
        let iface = unsafe {
            self.desc.extension_data.unwrap()(looper::lv2::inline_display::INTERFACE_URI.as_ptr())
        } as *const looper::lv2::inline_display::Interface;
        // SAFETY: the plugin's static interface.
        let iface = unsafe { iface.as_ref() }.expect("inline display interface");
        Renderer {
            render: iface.render.expect("render"),
            instance: self.instance as usize,
        }
    }

    pub fn worker_mode(&self) -> WorkerMode {
        self.worker.mode
    }

    pub fn set_mode(&mut self, mode: WorkerMode) {
        self.worker.mode = mode;
    }

    /// Lets a stalled worker go: it works off everything pending now.
    pub fn resume(&mut self) {
        self.worker.mode = WorkerMode::Prompt;
        self.service_worker();
    }

    /// Makes the host's worker queue hold at most `n` messages: `schedule_work` answers
    /// "no space" past that, as a host's full ring does.
    pub fn set_ring_limit(&mut self, n: usize) {
        self.worker.ring_limit = n.min(RING);
    }

    /// Negative control for the sanitizer: does the pending work (which allocates)
    /// inside a realtime scope.
    pub fn work_inside_realtime_scope(&mut self) {
        let (_, msg) = self.worker.pending.pop_front().expect("pending work");
        rt_enter();
        // SAFETY: the instance is live.
        unsafe { do_work(&mut self.worker, msg.as_slice()) };
        rt_exit();
    }

    pub fn scheduled(&self) -> u64 {
        self.worker.scheduled
    }

    /// Runs one block with separate input and output buffers; returns the output.
    pub fn run(&mut self, input: &[f32], record: f32, play: f32) -> &[f32] {
        let n = input.len();
        let mut inb = input.to_vec();
        self.out.clear();
        self.out.resize(n, f32::NAN);
        let (ip, op) = (inb.as_mut_ptr(), self.out.as_mut_ptr());
        self.run_ptrs(ip, op, n, record, play);
        &self.out
    }

    /// Runs one block in place (one buffer for `in` and `out`, as Ardour does).
    pub fn run_in_place(&mut self, io: &mut [f32], record: f32, play: f32) {
        let p = io.as_mut_ptr();
        self.run_ptrs(p, p, io.len(), record, play);
    }

    /// Sets a control input (it stays until set again).
    pub fn set(&mut self, p: u32, value: f32) {
        assert!(
            (port::RECORD..port::STATE).contains(&p)
                || (port::OVERDUB..=port::WET).contains(&p)
                || p == port::SYNC
                || p == port::BARS
        );
        self.controls[p as usize] = value;
    }

    /// Runs one stereo block with separate buffers; returns (left, right) out.
    pub fn run_stereo(
        &mut self,
        l: &[f32],
        r: &[f32],
        record: f32,
        play: f32,
    ) -> (Vec<f32>, Vec<f32>) {
        assert_eq!(self.channels, 2);
        let n = l.len();
        let (mut il, mut ir) = (l.to_vec(), r.to_vec());
        let (mut ol, mut or) = (vec![f32::NAN; n], vec![f32::NAN; n]);
        self.run_ptrs2(
            [
                (il.as_mut_ptr(), ol.as_mut_ptr()),
                (ir.as_mut_ptr(), or.as_mut_ptr()),
            ],
            n,
            record,
            play,
        );
        (ol, or)
    }

    /// Runs one stereo block in place (as Ardour does): `l` and `r` are in and out.
    pub fn run_stereo_in_place(&mut self, l: &mut [f32], r: &mut [f32], record: f32, play: f32) {
        assert_eq!(self.channels, 2);
        let (pl, pr) = (l.as_mut_ptr(), r.as_mut_ptr());
        self.run_ptrs2([(pl, pl), (pr, pr)], l.len(), record, play);
    }

    /// The right channel's output of the last `run` of a stereo host (its input was
    /// the left input negated).
    pub fn out_right(&self) -> &[f32] {
        &self.out_r
    }

    fn run_ptrs(&mut self, ip: *mut f32, op: *mut f32, n: usize, record: f32, play: f32) {
        if self.channels == 2 {
            // A mono test on the stereo plugin: the right input is the left negated.
            // SAFETY: ip holds n samples.
            let mut ir: Vec<f32> = unsafe { std::slice::from_raw_parts(ip, n) }
                .iter()
                .map(|v| -v)
                .collect();
            let mut or = std::mem::take(&mut self.out_r);
            or.clear();
            or.resize(n, f32::NAN);
            self.run_ptrs2(
                [(ip, op), (ir.as_mut_ptr(), or.as_mut_ptr())],
                n,
                record,
                play,
            );
            self.out_r = or;
            return;
        }
        self.run_ptrs2(
            [(ip, op), (std::ptr::null_mut(), std::ptr::null_mut())],
            n,
            record,
            play,
        );
    }

    /// Sends `pos` at `offset` frames into the next block (several may be queued).
    pub fn send(&mut self, offset: i64, pos: Position) {
        self.positions.push((offset, pos));
    }

    /// Writes the queued positions into the `control` port's sequence, as Ardour does
    /// (`time:Position` objects with Long frame and bar, Float barBeat, beatsPerBar,
    /// beatsPerMinute and speed), and empties the queue.
    fn write_sequence(&mut self) {
        let m = |u: &[u8]| {
            let c = CString::new(&u[..u.len() - 1]).unwrap();
            // SAFETY: our own map with a C string.
            unsafe { map_uri(&*self._map as *const UridMap as *mut c_void, c.as_ptr()) }
        };
        let (long, float, object, seq) = (
            m(sys::LV2_ATOM__Long),
            m(sys::LV2_ATOM__Float),
            m(sys::LV2_ATOM__Object),
            m(sys::LV2_ATOM__Sequence),
        );
        let keys = [
            m(sys::LV2_TIME__frame),
            m(sys::LV2_TIME__bar),
            m(sys::LV2_TIME__barBeat),
            m(sys::LV2_TIME__beatsPerBar),
            m(sys::LV2_TIME__beatsPerMinute),
            m(sys::LV2_TIME__speed),
        ];
        let position = m(sys::LV2_TIME__Position);
        let mut bytes: Vec<u8> = Vec::new();
        let u32s = |b: &mut Vec<u8>, v: &[u32]| v.iter().for_each(|x| b.extend(x.to_ne_bytes()));
        u32s(&mut bytes, &[0, 0]); // sequence body: unit 0 (frames), pad
        for (offset, p) in std::mem::take(&mut self.positions) {
            let mut body: Vec<u8> = Vec::new();
            u32s(&mut body, &[0, position]); // object body: id, otype
            let vals = [
                p.frame.map(|v| (long, v.to_ne_bytes().to_vec())),
                p.bar.map(|v| (long, v.to_ne_bytes().to_vec())),
                p.bar_beat
                    .map(|v| (float, (v as f32).to_ne_bytes().to_vec())),
                p.beats_per_bar
                    .map(|v| (float, (v as f32).to_ne_bytes().to_vec())),
                p.bpm.map(|v| (float, (v as f32).to_ne_bytes().to_vec())),
                p.speed.map(|v| (float, (v as f32).to_ne_bytes().to_vec())),
            ];
            for (key, v) in keys.iter().zip(vals) {
                if let Some((kind, v)) = v {
                    u32s(&mut body, &[*key, 0, v.len() as u32, kind]);
                    body.extend(&v);
                    while !body.len().is_multiple_of(8) {
                        body.push(0);
                    }
                }
            }
            bytes.extend(offset.to_ne_bytes());
            u32s(&mut bytes, &[body.len() as u32, object]);
            bytes.extend(&body);
            while !bytes.len().is_multiple_of(8) {
                bytes.push(0);
            }
        }
        assert!(
            bytes.len() + 8 <= SEQ_WORDS * 8,
            "too many positions for the buffer"
        );
        self.seq.fill(0);
        // SAFETY: the buffer holds SEQ_WORDS u64s; we write the atom header then the body.
        let out = unsafe {
            std::slice::from_raw_parts_mut(self.seq.as_mut_ptr() as *mut u8, SEQ_WORDS * 8)
        };
        out[..4].copy_from_slice(&(bytes.len() as u32).to_ne_bytes());
        out[4..8].copy_from_slice(&seq.to_ne_bytes());
        out[8..8 + bytes.len()].copy_from_slice(&bytes);
    }

    fn run_ptrs2(&mut self, bufs: [(*mut f32, *mut f32); 2], n: usize, record: f32, play: f32) {
        self.write_sequence();
        self.controls[port::RECORD as usize] = record;
        self.controls[port::PLAY as usize] = play;
        let (c, i, d) = (self.desc.connect_port.unwrap(), self.instance, self.desc);
        // SAFETY: the buffers hold n samples and live across run().
        unsafe {
            c(i, port::IN, bufs[0].0 as *mut c_void);
            c(i, port::OUT, bufs[0].1 as *mut c_void);
            if self.channels == 2 {
                c(i, port::IN_R, bufs[1].0 as *mut c_void);
                c(i, port::OUT_R, bufs[1].1 as *mut c_void);
            }
            rt_enter();
            d.run.unwrap()(i, n as u32);
            rt_exit();
        }
        self.frames += n as u64;
        self.worker.now = self.frames;
        self.service_worker();
    }

    /// Does the work that is due, then delivers every response.
    fn service_worker(&mut self) {
        let now = self.worker.now;
        loop {
            let due = match (self.worker.mode, self.worker.pending.front()) {
                (WorkerMode::Prompt | WorkerMode::Synchronous | WorkerMode::Freewheel, Some(_)) => {
                    true
                }
                (WorkerMode::Late(d), Some(&(at, _))) => now >= at + d,
                _ => false,
            };
            if !due {
                break;
            }
            let (_, msg) = self.worker.pending.pop_front().unwrap();
            // SAFETY: the instance is live.
            unsafe { do_work(&mut self.worker, msg.as_slice()) };
        }
        while let Some(msg) = self.worker.responses.pop_front() {
            rt_enter();
            // SAFETY: the instance is live; msg is what work() responded.
            let st = unsafe {
                (*self.worker.iface).work_response.unwrap()(
                    self.instance,
                    msg.len as u32,
                    msg.bytes.as_ptr() as *const c_void,
                )
            };
            rt_exit();
            assert_eq!(st, sys::LV2_Worker_Status_LV2_WORKER_SUCCESS);
        }
    }

    /// Runs `frames` of silence in blocks of `block` (lets the pool fill).
    pub fn idle(&mut self, frames: usize, block: usize) {
        let zeros = vec![0.0; block];
        let mut left = frames;
        while left > 0 {
            let n = left.min(block);
            let (r, p) = (0.0, self.controls[port::PLAY as usize]);
            self.run(&zeros[..n], r, p);
            left -= n;
        }
    }

    pub fn control(&self, p: u32) -> f32 {
        self.controls[p as usize]
    }
    pub fn state(&self) -> u32 {
        self.control(port::STATE) as u32
    }
    pub fn dropouts(&self) -> u64 {
        self.control(port::DROPOUTS) as u64
    }
    /// Bytes held, from the `memory` port (MiB).
    pub fn memory_bytes(&self) -> f64 {
        self.control(port::MEMORY) as f64 * 1024.0 * 1024.0
    }
    /// Messages the plugin logged: (type URID, text).
    pub fn log(&self) -> Vec<(u32, String)> {
        self.log.messages.lock().unwrap().clone()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        // SAFETY: deactivate then cleanup, once; no worker call follows.
        unsafe {
            self.desc.deactivate.unwrap()(self.instance);
            self.desc.cleanup.unwrap()(self.instance);
        }
    }
}

// SAFETY: a Host is used by one thread at a time; the raw pointers it holds point into
// its own boxes and the plugin instance it owns.
unsafe impl Send for Host {}

/// The kB of locked memory this process holds (VmLck).
pub fn vm_locked_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmLck:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Test-wide serialisation for tests that read process-wide counters.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static M: Mutex<()> = Mutex::new(());
    M.lock().unwrap_or_else(|e| e.into_inner())
}

/// Records `len` samples of the test signal in blocks of `block` (the last one split at
/// exactly `len`, as hosts split cycles at automation points), checking the output is
/// the input at unity meanwhile.
pub fn record_take(h: &mut Host, len: usize, block: usize, in_place: bool) {
    let mut i = 0;
    let mut io = vec![0.0f32; block];
    while i < len {
        let n = block.min(len - i);
        let input: Vec<f32> = (i..i + n).map(|k| sig(k as u64)).collect();
        if in_place {
            io[..n].copy_from_slice(&input);
            h.run_in_place(&mut io[..n], 1.0, 1.0);
            assert_eq!(&io[..n], &input[..], "monitoring at unity while recording");
        } else {
            let out = h.run(&input, 1.0, 1.0);
            assert_eq!(out, &input[..], "monitoring at unity while recording");
        }
        i += n;
    }
    assert_eq!(h.state(), 1, "recording");
}

/// Plays `frames` with silence in; asserts the output is the loop of `len` samples of
/// the test signal from its start, sample for sample.
pub fn assert_loops(h: &mut Host, len: usize, frames: usize, block: usize, in_place: bool) {
    let mut t = 0;
    let mut io = vec![0.0f32; block];
    while t < frames {
        let n = block.min(frames - t);
        let out: Vec<f32> = if in_place {
            io[..n].fill(0.0);
            h.run_in_place(&mut io[..n], 0.0, 1.0);
            io[..n].to_vec()
        } else {
            h.run(&vec![0.0; n], 0.0, 1.0).to_vec()
        };
        for (j, &o) in out.iter().enumerate() {
            let want = sig(((t + j) % len) as u64);
            assert_eq!(
                o,
                want,
                "output sample {} (loop sample {}), block {block}",
                t + j,
                (t + j) % len
            );
        }
        t += n;
    }
}

/// Plays the closed loop of `len` samples once, with silence in; returns it.
pub fn play_once(h: &mut Host, len: usize) -> Vec<f32> {
    let mut played = Vec::with_capacity(len);
    while played.len() < len {
        let n = 4096.min(len - played.len());
        played.extend_from_slice(h.run(&vec![0.0; n], 0.0, 1.0));
    }
    played
}

/// Splits a loop into its chunks and finds each in the input (the test signal's first
/// `input_len` samples): the loop must be the input with whole runs left out at chunk
/// boundaries only. Returns how many samples were left out.
pub fn lost_samples(loop_: &[f32], input_len: usize) -> u64 {
    let mut at = 0usize; // input index of the next loop sample
    for (c, chunk) in loop_.chunks(CHUNK).enumerate() {
        let start = (at..input_len - chunk.len() + 1)
            .find(|&k| (0..chunk.len()).all(|j| sig((k + j) as u64) == chunk[j]))
            .unwrap_or_else(|| {
                panic!("loop chunk {c} is not a run of the input after sample {at}")
            });
        at = start + chunk.len();
    }
    (input_len - loop_.len()) as u64
}

impl Lib {
    /// The next block's processing panics inside the plugin.
    pub fn inject_panic(&self) {
        let f: extern "C" fn() = self.sym(b"looper_test_inject_panic\0");
        f()
    }

    /// The next `n` chunk allocations fail as if the system refused the memory.
    pub fn inject_alloc_failures(&self, n: u64) {
        let f: extern "C" fn(u64) = self.sym(b"looper_test_inject_alloc_failures\0");
        f(n)
    }
}
