//! The LV2 glue: the descriptor, the ports, the features and the worker interface, on
//! the C types of `lv2-sys`. Thin on purpose: everything it does besides moving values
//! is in [`crate::engine`]. One glue serves both plugins: the mono and the stereo
//! descriptor differ only in their URI and their channel count.
//!
//! Why not rust-lv2's `Plugin`/`Worker` traits: they hand every callback `&mut self`
//! for the whole call. A host may call `work_response` from inside `schedule_work`,
//! that is from inside `run()` (Ardour does while exporting), and a second `&mut` to
//! the instance while the first is live is undefined behaviour. Here no callback holds
//! a reference to the instance across `schedule_work`: `run()` borrows it to process
//! the block, lets go, schedules, and borrows again only if the host refused.

use lv2::lv2_sys as sys;
use std::ffi::{c_char, c_void, CStr, CString};
use std::mem::{size_of, ManuallyDrop};
use std::ptr::{self, NonNull};
use std::sync::Arc;

use crate::engine::chunk::MemStats;
use crate::engine::looper::{Controls, Delivery, Looper, Request};
use crate::engine::sync::TimeEvent;
use crate::engine::worker::{Level, Reporter, Silent, WorkerCore};
use crate::lv2::inline_display::{self as idisp, QueueDraw, Surface, View};
use crate::lv2::state::{self, PathFeatures, StateSide};
use crate::lv2::time::{read_positions, TimeUrids, MAX_EVENTS};
use crate::rt;

/// The mono plugin's URI (also in `looper.lv2/looper.ttl`).
pub const URI: &CStr = c"urn:looper-lv2:mono";
/// The stereo plugin's URI.
pub const STEREO_URI: &CStr = c"urn:looper-lv2:stereo";

/// Ports, by their slot here: the stereo plugin's `lv2:index`. Both plugins have ports
/// 0 to 19 (in the stereo one, 0 and 1 are the left channel); the stereo plugin has its
/// right channel at 20 and 21; the time ports follow (mono: 20 to 23, stereo: 22 to
/// 25). [`index`](port::index) and [`slot`](port::slot) convert.
pub mod port {
    pub const IN: u32 = 0;
    pub const OUT: u32 = 1;
    pub const RECORD: u32 = 2;
    pub const PLAY: u32 = 3;
    pub const STATE: u32 = 4;
    pub const LENGTH: u32 = 5;
    pub const POSITION: u32 = 6;
    pub const MEMORY: u32 = 7;
    pub const DROPOUTS: u32 = 8;
    pub const OVERDUB: u32 = 9;
    pub const FEEDBACK: u32 = 10;
    pub const UNDO: u32 = 11;
    pub const REDO: u32 = 12;
    pub const CLEAR: u32 = 13;
    pub const UNDO_MEMORY: u32 = 14;
    pub const FADE: u32 = 15;
    pub const DRY: u32 = 16;
    pub const WET: u32 = 17;
    pub const LAYERS: u32 = 18;
    pub const REDOS: u32 = 19;
    /// Stereo only.
    pub const IN_R: u32 = 20;
    pub const OUT_R: u32 = 21;
    /// The host's positions (atom sequence).
    pub const CONTROL: u32 = 22;
    pub const SYNC: u32 = 23;
    pub const BARS: u32 = 24;
    /// Output: whether the looper follows the host now.
    pub const SYNCED: u32 = 25;
    /// Ports of the mono plugin.
    pub const MONO_COUNT: usize = 24;
    /// Ports of the stereo plugin (the most either has); slots.
    pub const COUNT: usize = 26;

    /// [any] The `lv2:index` of `slot` in the plugin of `channels`.
    pub const fn index(slot: u32, channels: usize) -> u32 {
        if channels == 1 && slot >= CONTROL {
            slot - 2
        } else {
            slot
        }
    }

    /// [any] The slot of `lv2:index` `index` in the plugin of `channels`, if it has it.
    pub const fn slot(index: u32, channels: usize) -> Option<u32> {
        let s = if channels == 1 && index >= IN_R {
            index + 2
        } else {
            index
        };
        if (s as usize) < COUNT {
            Some(s)
        } else {
            None
        }
    }
}

/// What the host's handle points to: the audio side first (so the handle is also a
/// pointer to it), then the view's and the state's sides. `run()` and `work_response()`
/// borrow only `audio`; `render` reads only `view`, and `save` only `state` (and the
/// engine while the save gate says no audio callback is in it): pointers written once
/// at instantiation, so the threads touch disjoint fields.
#[repr(C)]
pub(super) struct Plugin {
    pub(super) audio: Instance,
    /// Owned (made by `Box::leak`), freed at cleanup after the audio side.
    view: NonNull<View>,
    /// Owned (made by `Box::leak`), freed at cleanup.
    state: NonNull<StateSide>,
}

impl Drop for Plugin {
    /// [instantiation] The audio side first, then the view and the state side.
    fn drop(&mut self) {
        // SAFETY: made by Box::leak in instantiate and freed only here; the host calls
        // no render, save or restore after cleanup. (`audio` drops after this body: it
        // owns no reference into them.)
        drop(unsafe { Box::from_raw(self.view.as_ptr()) });
        // SAFETY: as above.
        drop(unsafe { Box::from_raw(self.state.as_ptr()) });
    }
}

/// [any] The state side of the instance behind `handle`, read without a reference to
/// the instance (so it does not overlap a `&mut Instance` on the audio thread).
///
/// # Safety
/// `handle` is a live instance of ours.
unsafe fn state_side<'a>(handle: sys::LV2_Handle) -> &'a StateSide {
    // SAFETY: the field is written once at instantiation; read through a raw place.
    let side = unsafe { ptr::addr_of!((*handle.cast::<Plugin>()).state).read() };
    // SAFETY: lives until cleanup, after the host's last call; StateSide is Sync.
    unsafe { side.as_ref() }
}

/// The audio side of one plugin instance.
pub struct Instance {
    pub(super) engine: ManuallyDrop<Looper>,
    /// Owned (made by `Box::into_raw`), shared with the worker thread through
    /// [`WorkMsg`]; a raw pointer so that `&mut Instance` in `run()` claims nothing
    /// about the core the worker may be reading at the same time.
    core: NonNull<WorkerCore>,
    /// Buffers as the host connected them. Audio buffers are only ever used through
    /// raw pointers, so `in` and `out` may be the same buffer (Ardour processes in
    /// place) without a `&[f32]` and a `&mut [f32]` aliasing.
    ports: [*mut c_void; port::COUNT],
    schedule: NonNull<sys::LV2_Worker_Schedule>,
    /// The host's inline-display `queue_draw`, if it offers one.
    queue_draw: Option<NonNull<QueueDraw>>,
    channels: usize,
    /// For reading the host's positions; None if the host's map failed.
    time_urids: Option<TimeUrids>,
}

impl Drop for Instance {
    /// [instantiation] The engine hands its chunks to the collector first, then the
    /// worker core frees them and is freed.
    fn drop(&mut self) {
        // SAFETY: dropped once, here; not used after.
        unsafe { ManuallyDrop::drop(&mut self.engine) };
        // SAFETY: made by Box::leak in instantiate and freed only here; the host makes
        // no worker call after cleanup.
        drop(unsafe { Box::from_raw(self.core.as_ptr()) });
    }
}

/// Work to schedule: where, and what.
type Job = (NonNull<sys::LV2_Worker_Schedule>, WorkMsg);

/// The message the audio thread schedules: the request and where the worker's state is.
#[derive(Clone, Copy)]
struct WorkMsg {
    core: *const WorkerCore,
    req: Request,
}

/// The host's `log:log`, used from the worker only.
struct LogReporter {
    log: *const sys::LV2_Log_Log,
    urids: [u32; 3],
}

// SAFETY: LV2 allows log:log from any non-realtime thread; the pointer is valid until
// the instance's cleanup, which outlives every worker call.
unsafe impl Send for LogReporter {}
// SAFETY: as for Send; the host's log is thread-safe by the LV2 log spec.
unsafe impl Sync for LogReporter {}

impl Reporter for LogReporter {
    /// [worker]
    fn report(&self, level: Level, msg: &str) {
        let kind = match level {
            Level::Error => self.urids[0],
            Level::Warning => self.urids[1],
            Level::Note => self.urids[2],
        };
        let Ok(text) = CString::new(msg.replace('\0', " ")) else {
            return;
        };
        // SAFETY: `log` is the host's LV2_Log_Log (see Send); the format is "%s" with one
        // nul-terminated string argument that lives across the call.
        unsafe {
            let log = &*self.log;
            if let Some(printf) = log.printf {
                printf(log.handle, kind, c"%s".as_ptr(), text.as_ptr());
            }
        }
    }
}

/// [instantiation] The features this plugin uses, found in the host's array.
struct Features {
    map: Option<NonNull<sys::LV2_URID_Map>>,
    schedule: Option<NonNull<sys::LV2_Worker_Schedule>>,
    log: Option<NonNull<sys::LV2_Log_Log>>,
    queue_draw: Option<NonNull<QueueDraw>>,
    paths: PathFeatures,
}

/// [instantiation] Reads the host's NULL-terminated feature array.
///
/// Not `lv2-core`'s `FeatureCache`: it knows only features that have a crate type
/// (`urid:map`, the worker's `schedule` through `lv2-worker`, whose traits are unsound
/// here, see the module doc). `log:log`, the state path features and the inline
/// display's `queue_draw` have none, so one pass over the array serves them all; the
/// map found here is then wrapped in `lv2-urid`'s `LV2Map` for the typed URID
/// collections (`crate::lv2::time`).
///
/// # Safety
/// `features` is null or a NULL-terminated array of valid LV2_Feature pointers.
unsafe fn read_features(mut features: *const *const sys::LV2_Feature) -> Features {
    let mut found = Features {
        map: None,
        schedule: None,
        log: None,
        queue_draw: None,
        paths: PathFeatures::default(),
    };
    if features.is_null() {
        return found;
    }
    loop {
        // SAFETY: the array is NULL-terminated (the caller's contract).
        let f = unsafe { *features };
        // SAFETY: a non-null entry points to a valid LV2_Feature.
        let Some(f) = (unsafe { f.as_ref() }) else {
            return found;
        };
        if !f.URI.is_null() {
            // SAFETY: a feature's URI is a nul-terminated string.
            let uri = unsafe { CStr::from_ptr(f.URI) }.to_bytes_with_nul();
            let data = f.data;
            if uri == sys::LV2_URID__map {
                found.map = NonNull::new(data.cast());
            } else if uri == sys::LV2_WORKER__schedule {
                found.schedule = NonNull::new(data.cast());
            } else if uri == sys::LV2_LOG__log {
                found.log = NonNull::new(data.cast());
            } else if uri == idisp::QUEUE_DRAW_URI.to_bytes_with_nul() {
                found.queue_draw = NonNull::new(data.cast());
            } else {
                found.paths.take(uri, data);
            }
        }
        // SAFETY: not past the terminating NULL yet.
        features = unsafe { features.add(1) };
    }
}

/// [instantiation] `instantiate`: makes the engine and fills its pool of ready chunks.
/// Null when `urid:map` or `work:schedule` is missing.
unsafe extern "C" fn instantiate(
    descriptor: *const sys::LV2_Descriptor,
    sample_rate: f64,
    _bundle_path: *const c_char,
    features: *const *const sys::LV2_Feature,
) -> sys::LV2_Handle {
    let made = std::panic::catch_unwind(|| {
        // SAFETY: the host passes a NULL-terminated feature array (LV2 core).
        let f = unsafe { read_features(features) };
        let (map, schedule) = (f.map?, f.schedule?);
        let stats = Arc::new(MemStats::default());
        let reporter: Box<dyn Reporter> = match f.log {
            Some(log) => {
                // SAFETY: the host's urid:map, valid for the instance's life.
                let map = unsafe { map.as_ref() };
                let urid = |uri: &[u8]| match map.map {
                    // SAFETY: map takes the host's handle and a nul-terminated URI.
                    Some(m) => unsafe { m(map.handle, uri.as_ptr().cast()) },
                    None => 0,
                };
                Box::new(LogReporter {
                    log: log.as_ptr(),
                    urids: [
                        urid(sys::LV2_LOG__Error),
                        urid(sys::LV2_LOG__Warning),
                        urid(sys::LV2_LOG__Note),
                    ],
                })
            }
            None => Box::new(Silent),
        };
        let channels = if ptr::eq(descriptor, &STEREO.0) { 2 } else { 1 };
        let mut engine = Looper::new(sample_rate, channels, Arc::clone(&stats));
        let core = WorkerCore::new(stats, reporter);
        // The pool is full before the first run(): a take that starts at the session's
        // first sample (an export from zero) loses nothing.
        core.prefill(&mut engine);
        let view = View::new(Arc::clone(engine.display()));
        let core = NonNull::from(Box::leak(Box::new(core)));
        let side = StateSide {
            core,
            gate: Arc::clone(engine.save_gate()),
            // SAFETY: the host's urid:map, valid for the instance's life.
            urids: unsafe { StateSide::urids(map.as_ref()) },
            paths: f.paths,
            channels,
            rate: engine.sample_rate(),
            max_tail: engine.max_tail(),
            told_inline: Default::default(),
        };
        Some(Box::new(Plugin {
            audio: Instance {
                engine: ManuallyDrop::new(engine),
                core,
                ports: [ptr::null_mut(); port::COUNT],
                schedule,
                queue_draw: f.queue_draw,
                channels,
                // SAFETY: the host's urid:map, valid for the instance's life.
                time_urids: TimeUrids::new(unsafe { map.as_ref() }),
            },
            view: NonNull::from(Box::leak(Box::new(view))),
            state: NonNull::from(Box::leak(Box::new(side))),
        }))
    });
    match made {
        Ok(Some(inst)) => Box::into_raw(inst).cast(),
        _ => ptr::null_mut(),
    }
}

/// [audio] `connect_port`: remembers where the host's buffer is.
unsafe extern "C" fn connect_port(handle: sys::LV2_Handle, index: u32, data: *mut c_void) {
    let inst = handle.cast::<Instance>();
    if inst.is_null() {
        return;
    }
    // SAFETY: `handle` is our instance; `channels` is written once at instantiation and
    // read through a raw place, without forming a reference to the instance.
    let channels = unsafe { ptr::addr_of!((*inst).channels).read() };
    if let Some(slot) = port::slot(index, channels) {
        // SAFETY: as above; this writes one array element through the raw pointer.
        unsafe { (*inst).ports[slot as usize] = data };
    }
}

/// [instantiation] `activate` / `deactivate`: nothing to do; the loop survives them.
unsafe extern "C" fn activate(_handle: sys::LV2_Handle) {}

/// [audio] `run`: one block. Never allocates, frees, locks, waits or calls the system;
/// a panic is stopped here (the block is muted and counted).
unsafe extern "C" fn run(handle: sys::LV2_Handle, sample_count: u32) {
    let inst = handle.cast::<Instance>();
    if inst.is_null() {
        return;
    }
    let n = sample_count as usize;
    // SAFETY: our instance.
    let gate = &unsafe { state_side(handle) }.gate;
    let Some(_entry) = gate.enter() else {
        // A save or restore owns the engine for a moment (the host had stopped running
        // us, or restored while running): this block passes the input through.
        // SAFETY: the ports array is written only by connect_port; read through a raw
        // place, without a reference to the instance. Each connected buffer holds `n`.
        unsafe { pass_through(ptr::addr_of!((*inst).ports).read(), n) };
        return;
    };
    let processed = rt::audio_scope(|| {
        // SAFETY: `handle` is our instance and the host calls no other audio-class
        // function of it concurrently; this borrow ends with the closure, before
        // schedule_work is called.
        let this = unsafe { &mut *inst };
        this.process(n)
    });
    let Some(job) = processed else {
        // SAFETY: as above; the panic left no borrow behind.
        let this = unsafe { &mut *inst };
        this.engine.count_panic();
        for p in [port::OUT, port::OUT_R].into_iter().take(this.channels) {
            let out = this.ports[p as usize].cast::<f32>();
            if !out.is_null() {
                // SAFETY: the host connected `out` to `n` samples for this call.
                unsafe { ptr::write_bytes(out, 0, n) };
            }
        }
        return;
    };
    let Some((job, redraw)) = job else { return };
    if redraw {
        // SAFETY: as above; this reads one field written only at instantiation.
        if let Some(q) = unsafe { (*inst).queue_draw } {
            // SAFETY: the host's feature, valid for the instance's life; its queue_draw
            // is realtime-safe (the inline-display extension's contract).
            let q = unsafe { q.as_ref() };
            if let Some(f) = q.queue_draw {
                // SAFETY: the host's own handle.
                unsafe { f(q.handle) };
            }
        }
    }
    let Some((schedule, msg)) = job else { return };
    // No reference to the instance is live here: the host may run the worker and call
    // work_response from inside schedule_work.
    let sent = send(
        |size, data| {
            // SAFETY: the host's schedule feature, valid for the instance's life.
            let s = unsafe { schedule.as_ref() };
            match s.schedule_work {
                // SAFETY: the host's own handle, and `size` readable bytes at `data`.
                Some(f) => unsafe { f(s.handle, size, data) },
                None => sys::LV2_Worker_Status_LV2_WORKER_ERR_UNKNOWN,
            }
        },
        msg,
    );
    if let Err(msg) = sent {
        rt::audio_scope(|| {
            // SAFETY: as above; schedule_work has returned.
            unsafe { &mut *inst }.engine.request_refused(&msg.req)
        });
    }
}

/// [audio] Copies each input to its output (`ptr::copy`: they may be one buffer).
///
/// # Safety
/// Each non-null port in `ports` holds `n` samples for this call.
unsafe fn pass_through(ports: [*mut c_void; port::COUNT], n: usize) {
    for (i, o) in [(port::IN, port::OUT), (port::IN_R, port::OUT_R)] {
        let (i, o) = (
            ports[i as usize].cast::<f32>(),
            ports[o as usize].cast::<f32>(),
        );
        if !i.is_null() && !o.is_null() {
            // SAFETY: the contract.
            unsafe { ptr::copy(i, o, n) };
        }
    }
}

impl Instance {
    /// [audio] Processes one block of `n` samples and writes the control outputs.
    /// Returns the work to schedule, if any, and whether to ask for a picture; `None`
    /// if an audio port is not connected.
    fn process(&mut self, n: usize) -> Option<(Option<Job>, bool)> {
        let p = &self.ports;
        let audio = [(port::IN, port::OUT), (port::IN_R, port::OUT_R)];
        let mut bufs: [*mut f32; 2] = [ptr::null_mut(); 2];
        for (c, (i, o)) in audio.into_iter().enumerate().take(self.channels) {
            let (input, output) = (p[i as usize].cast::<f32>(), p[o as usize].cast::<f32>());
            if input.is_null() || output.is_null() {
                return None;
            }
            // SAFETY: both buffers hold `n` samples for this call (LV2 connect_port
            // contract). ptr::copy is a memmove, sound when they are the same buffer;
            // after it only the output pointer is used.
            unsafe { ptr::copy(input, output, n) };
            bufs[c] = output;
        }
        if n > 0 && bufs[0] == bufs[1] {
            return None; // both outputs on one buffer: no host does this; pass through
        }
        let d = Controls::default();
        let control = |i: u32, default: f32| {
            let c = p[i as usize].cast::<f32>();
            if c.is_null() {
                default
            } else {
                // SAFETY: a connected control input holds one f32 for this call.
                unsafe { *c }
            }
        };
        let controls = Controls {
            record: control(port::RECORD, d.record),
            play: control(port::PLAY, d.play),
            overdub: control(port::OVERDUB, d.overdub),
            feedback: control(port::FEEDBACK, d.feedback),
            undo: control(port::UNDO, d.undo),
            redo: control(port::REDO, d.redo),
            clear: control(port::CLEAR, d.clear),
            undo_memory: control(port::UNDO_MEMORY, d.undo_memory),
            fade: control(port::FADE, d.fade),
            dry: control(port::DRY, d.dry),
            wet: control(port::WET, d.wet),
            sync: control(port::SYNC, d.sync),
            bars: control(port::BARS, d.bars),
        };
        let seq = p[port::CONTROL as usize].cast::<sys::LV2_Atom_Sequence>();
        // SAFETY: a connected atom input holds the host's sequence for this call; its
        // header says how many bytes of events follow the 8-byte sequence body.
        let any = !seq.is_null() && unsafe { (*seq).atom.size } as usize > 8;
        let mut storage;
        let events: &[TimeEvent] = match (&self.time_urids, any) {
            (Some(u), true) => {
                storage = [TimeEvent::default(); MAX_EVENTS];
                // SAFETY: as above.
                let count = unsafe { read_positions(seq, u, n, &mut storage) };
                &storage[..count]
            }
            _ => &[],
        };
        // SAFETY: each output buffer holds `n` samples for this call; the two outputs
        // are distinct buffers (a host may only alias an input with an output, and
        // every input was copied into its output above, the left one first: a host
        // that aliased `in_r` with `out_l` would get the left input in both, never
        // undefined behaviour). No other reference to them exists while `io` lives.
        let (l, r) = unsafe {
            (
                std::slice::from_raw_parts_mut(bufs[0], n),
                match bufs[1].is_null() {
                    true => &mut [][..],
                    false => std::slice::from_raw_parts_mut(bufs[1], n),
                },
            )
        };
        let mut io: [&mut [f32]; 2] = [l, r];
        self.engine
            .process_timed(&controls, events, &mut io[..self.channels]);
        let e = &self.engine;
        let outputs = [
            (port::STATE, e.state() as u8 as f32),
            (port::LENGTH, e.length_seconds() as f32),
            (port::POSITION, e.position() as f32),
            (
                port::MEMORY,
                (e.memory_bytes() as f64 / (1024.0 * 1024.0)) as f32,
            ),
            (port::DROPOUTS, e.dropouts() as f32),
            (port::LAYERS, e.layers() as f32),
            (port::REDOS, e.redos() as f32),
            (port::SYNCED, f32::from(u8::from(e.synced()))),
        ];
        for (i, v) in outputs {
            let c = self.ports[i as usize].cast::<f32>();
            if !c.is_null() {
                // SAFETY: a connected control output holds one f32 for this call.
                unsafe { *c = v };
            }
        }
        let redraw = self.engine.redraw_due();
        let job = self.engine.poll_request().map(|req| {
            (
                self.schedule,
                WorkMsg {
                    core: self.core.as_ptr(),
                    req,
                },
            )
        });
        Some((job, redraw))
    }
}

/// [any] Hands `value` to a host function that copies `size` bytes of it (the worker's
/// rings): on success the copy owns it, and it is not dropped here; on failure it is
/// given back.
fn send<T>(
    f: impl FnOnce(u32, *const c_void) -> sys::LV2_Worker_Status,
    value: T,
) -> Result<(), T> {
    let value = ManuallyDrop::new(value);
    let status = f(size_of::<T>() as u32, (&*value as *const T).cast());
    if status == sys::LV2_Worker_Status_LV2_WORKER_SUCCESS {
        Ok(())
    } else {
        Err(ManuallyDrop::into_inner(value))
    }
}

/// [any] Takes back a value that `send` handed to the host, from the host's copy.
///
/// # Safety
/// `data` holds `size` bytes that `send::<T>` sent, received exactly once.
unsafe fn receive<T>(size: u32, data: *const c_void) -> Option<T> {
    if size as usize != size_of::<T>() || data.is_null() {
        return None;
    }
    // SAFETY: see the function's contract; the host's copy may be unaligned.
    Some(unsafe { ptr::read_unaligned(data.cast::<T>()) })
}

/// [worker] `work`: makes chunks and nodes, frees retired ones, reports. May allocate.
/// Runs on the host's worker thread, or inside `schedule_work` while freewheeling.
unsafe extern "C" fn work(
    _handle: sys::LV2_Handle,
    respond: sys::LV2_Worker_Respond_Function,
    respond_handle: sys::LV2_Worker_Respond_Handle,
    size: u32,
    data: *const c_void,
) -> sys::LV2_Worker_Status {
    // SAFETY: the host hands back what run() scheduled, once.
    let Some(msg) = (unsafe { receive::<WorkMsg>(size, data) }) else {
        return sys::LV2_Worker_Status_LV2_WORKER_ERR_UNKNOWN;
    };
    // SAFETY: the core lives in the instance, which the host keeps until cleanup, after
    // its last work() call; WorkerCore is Sync. The instance itself is not touched here
    // (run() may be using it on another thread).
    let core = unsafe { &*msg.core };
    let served = rt::worker_scope(|| {
        core.work(msg.req, &mut |d: Delivery| {
            send(
                |size, data| match respond {
                    // SAFETY: the host's respond function and handle for this call.
                    Some(r) => unsafe { r(respond_handle, size, data) },
                    None => sys::LV2_Worker_Status_LV2_WORKER_ERR_UNKNOWN,
                },
                d,
            )
        })
    });
    match served {
        Some(()) => sys::LV2_Worker_Status_LV2_WORKER_SUCCESS,
        None => sys::LV2_Worker_Status_LV2_WORKER_ERR_UNKNOWN,
    }
}

/// [audio] `work_response`: takes one delivery into the ready pool. Never allocates or
/// frees. May be called from inside `schedule_work`, when `run()` holds no borrow.
unsafe extern "C" fn work_response(
    handle: sys::LV2_Handle,
    size: u32,
    body: *const c_void,
) -> sys::LV2_Worker_Status {
    let inst = handle.cast::<Instance>();
    // SAFETY: the host hands back what work() responded, once.
    let Some(d) = (unsafe { receive::<Delivery>(size, body) }) else {
        return sys::LV2_Worker_Status_LV2_WORKER_ERR_UNKNOWN;
    };
    if inst.is_null() {
        return sys::LV2_Worker_Status_LV2_WORKER_ERR_UNKNOWN; // (leaks `d`: no host does this)
    }
    // SAFETY: our instance.
    let Some(_entry) = unsafe { state_side(handle) }.gate.enter() else {
        // A save owns the engine: the delivery is dropped, which only queues it for the
        // worker's collector; the engine asks again when its request goes stale.
        drop(d);
        return sys::LV2_Worker_Status_LV2_WORKER_SUCCESS;
    };
    let done = rt::audio_scope(|| {
        // SAFETY: our instance, in the audio context; run() holds no borrow now (see run).
        unsafe { &mut *inst }.engine.accept(d)
    });
    match done {
        Some(()) => sys::LV2_Worker_Status_LV2_WORKER_SUCCESS,
        None => {
            // SAFETY: as above.
            unsafe { &mut *inst }.engine.count_panic();
            sys::LV2_Worker_Status_LV2_WORKER_ERR_UNKNOWN
        }
    }
}

/// [instantiation] `cleanup`: frees the instance and every chunk it holds.
unsafe extern "C" fn cleanup(handle: sys::LV2_Handle) {
    let inst = handle.cast::<Plugin>();
    if !inst.is_null() {
        // SAFETY: made by Box::into_raw in instantiate; the host calls cleanup once,
        // after every other call.
        let inst = unsafe { Box::from_raw(inst) };
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(inst)));
    }
}

/// [any but audio] (the state extension's own class: may run while `run()` runs) `save`:
/// writes the loop where the host says (see [`state`]).
unsafe extern "C" fn save(
    handle: sys::LV2_Handle,
    store: sys::LV2_State_Store_Function,
    state_handle: sys::LV2_State_Handle,
    _flags: u32,
    features: *const *const sys::LV2_Feature,
) -> sys::LV2_State_Status {
    if handle.is_null() {
        return sys::LV2_State_Status_LV2_STATE_ERR_UNKNOWN;
    }
    let p = handle.cast::<Plugin>();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: our instance.
        let side = unsafe { state_side(handle) };
        // Called only while the gate has the engine to itself (no audio callback in it,
        // none can enter): a shared reference to the engine field alone, through a raw
        // place, while nothing else refers to it.
        // SAFETY: as said; the engine lives until cleanup.
        let own = || unsafe { &*ptr::addr_of!((*p).audio.engine) }.snapshot();
        // SAFETY: the host's store, handle and feature array (its contract).
        unsafe { state::save(side, own, store, state_handle, features) }
    }))
    .unwrap_or(sys::LV2_State_Status_LV2_STATE_ERR_UNKNOWN)
}

/// [instantiation] `restore`: reads the saved loop into new chunks and makes it the loop,
/// as one step in the history (see [`state`]).
unsafe extern "C" fn restore(
    handle: sys::LV2_Handle,
    retrieve: sys::LV2_State_Retrieve_Function,
    state_handle: sys::LV2_State_Handle,
    _flags: u32,
    features: *const *const sys::LV2_Feature,
) -> sys::LV2_State_Status {
    if handle.is_null() {
        return sys::LV2_State_Status_LV2_STATE_ERR_UNKNOWN;
    }
    let p = handle.cast::<Plugin>();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: our instance.
        let side = unsafe { state_side(handle) };
        let install = |v, playing| {
            // SAFETY: called under the gate's exclusive claim (no audio callback in the
            // engine), and restore is not concurrent with save (its threading class):
            // this is the only reference to the engine.
            let engine = unsafe { &mut *ptr::addr_of_mut!((*p).audio.engine) };
            engine.restore(v, playing);
        };
        // SAFETY: the host's retrieve, handle and feature array (its contract).
        unsafe { state::restore(side, install, retrieve, state_handle, features) }
    }))
    .unwrap_or(sys::LV2_State_Status_LV2_STATE_ERR_UNKNOWN)
}

static STATE: Static<sys::LV2_State_Interface> = Static(sys::LV2_State_Interface {
    save: Some(save),
    restore: Some(restore),
});

/// [discovery] `extension_data`: the worker, state and inline-display interfaces.
unsafe extern "C" fn extension_data(uri: *const c_char) -> *const c_void {
    if uri.is_null() {
        return ptr::null();
    }
    // SAFETY: the host passes a nul-terminated URI.
    let uri = unsafe { CStr::from_ptr(uri) };
    if uri.to_bytes_with_nul() == sys::LV2_WORKER__interface {
        (&WORKER.0 as *const sys::LV2_Worker_Interface).cast()
    } else if uri.to_bytes_with_nul() == sys::LV2_STATE__interface {
        (&STATE.0 as *const sys::LV2_State_Interface).cast()
    } else if uri == idisp::INTERFACE_URI {
        (&DISPLAY.0 as *const idisp::Interface).cast()
    } else {
        ptr::null()
    }
}

/// [any] (the host's GUI thread, concurrently with `run()`) The inline display's
/// `render`: draws the loop from what the audio thread published.
unsafe extern "C" fn render(handle: sys::LV2_Handle, max_w: u32, max_h: u32) -> *mut Surface {
    let p = handle.cast::<Plugin>();
    if p.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: `handle` is our Plugin; `view` was written once at instantiation and is
    // read here through a raw place, without a reference to the Plugin, so it does not
    // overlap the `&mut Instance` that run() may hold on another thread.
    let view = unsafe { ptr::addr_of!((*p).view).read() };
    // SAFETY: the view lives until cleanup, after the host's last render; View is Sync.
    let view = unsafe { view.as_ref() };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| view.render(max_w, max_h)))
        .unwrap_or(ptr::null_mut())
}

static DISPLAY: Static<idisp::Interface> = Static(idisp::Interface {
    render: Some(render),
});

/// Static C data with pointers in it, shared read-only with the host.
#[repr(transparent)]
struct Static<T>(T);
// SAFETY: the descriptor and the interface are never written; their pointers refer to
// static strings and functions.
unsafe impl<T> Sync for Static<T> {}

static WORKER: Static<sys::LV2_Worker_Interface> = Static(sys::LV2_Worker_Interface {
    work: Some(work),
    work_response: Some(work_response),
    end_run: None,
});

static DESCRIPTOR: Static<sys::LV2_Descriptor> = Static(sys::LV2_Descriptor {
    URI: URI.as_ptr(),
    ..GLUE
});

static STEREO: Static<sys::LV2_Descriptor> = Static(sys::LV2_Descriptor {
    URI: STEREO_URI.as_ptr(),
    ..GLUE
});

/// The callbacks both descriptors share.
const GLUE: sys::LV2_Descriptor = sys::LV2_Descriptor {
    URI: ptr::null(),
    instantiate: Some(instantiate),
    connect_port: Some(connect_port),
    activate: Some(activate),
    run: Some(run),
    deactivate: Some(activate),
    cleanup: Some(cleanup),
    extension_data: Some(extension_data),
};

/// [discovery] The plugin library's entry point: 0 is the mono looper, 1 the stereo one.
#[no_mangle]
pub extern "C" fn lv2_descriptor(index: u32) -> *const sys::LV2_Descriptor {
    match index {
        0 => &DESCRIPTOR.0,
        1 => &STEREO.0,
        _ => ptr::null(),
    }
}
