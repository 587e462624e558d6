//! The LV2 glue: ports, features and the worker interface around the engine. Thin on
//! purpose: everything it does besides moving values is in [`crate::looper`] and
//! [`crate::worker`].

use lv2::lv2_core::extension::ExtensionDescriptor;
use lv2::lv2_core::feature::{Feature, ThreadingClass};
use lv2::lv2_core::port::PortType;
use lv2::lv2_worker::{
    RespondError, ResponseHandler, Schedule, Worker, WorkerDescriptor, WorkerError,
};
use lv2::prelude::*;
use std::any::Any;
use std::ffi::{c_void, CString};
use std::ptr::NonNull;
use std::sync::Arc;

use crate::chunk::MemStats;
use crate::looper::{Controls, Delivery, Looper, Request};
use crate::rt;
use crate::worker::{Level, Reporter, Silent, WorkerCore};

/// The plugin's URI (also in `looper.lv2/looper.ttl`).
pub const URI: &str = "urn:looper-lv2:mono";

/// An audio port type that stays sound when the host passes the same buffer for input
/// and output (Ardour processes in place): it hands out a raw pointer, never a slice,
/// so no `&[f32]` and `&mut [f32]` ever alias.
pub struct InPlaceAudio;

// SAFETY: the URI is the nul-terminated LV2 AudioPort class.
unsafe impl UriBound for InPlaceAudio {
    const URI: &'static [u8] = lv2::lv2_sys::LV2_CORE__AudioPort;
}

/// A connected audio buffer of one block.
#[derive(Clone, Copy)]
pub struct AudioBuf {
    ptr: NonNull<f32>,
    len: usize,
}

impl PortType for InPlaceAudio {
    type InputPortType = AudioBuf;
    type OutputPortType = AudioBuf;

    unsafe fn input_from_raw(pointer: NonNull<c_void>, sample_count: u32) -> AudioBuf {
        AudioBuf {
            ptr: pointer.cast(),
            len: sample_count as usize,
        }
    }

    unsafe fn output_from_raw(pointer: NonNull<c_void>, sample_count: u32) -> AudioBuf {
        AudioBuf {
            ptr: pointer.cast(),
            len: sample_count as usize,
        }
    }
}

/// The ports, in `lv2:index` order (the field order is the index).
#[derive(PortCollection)]
pub struct Ports {
    input: InputPort<InPlaceAudio>,
    output: OutputPort<InPlaceAudio>,
    record: InputPort<Control>,
    play: InputPort<Control>,
    state: OutputPort<Control>,
    length: OutputPort<Control>,
    position: OutputPort<Control>,
    memory: OutputPort<Control>,
    dropouts: OutputPort<Control>,
}

/// The host's `log:log`, usable from the worker.
pub struct Log<'a> {
    raw: &'a lv2::lv2_sys::LV2_Log_Log,
}

// SAFETY: the URI is the nul-terminated LV2 log feature.
unsafe impl UriBound for Log<'_> {
    const URI: &'static [u8] = lv2::lv2_sys::LV2_LOG__log;
}

// SAFETY: the host passes an LV2_Log_Log for this URI; a null pointer yields None.
unsafe impl Feature for Log<'_> {
    unsafe fn from_feature_ptr(feature: *const c_void, _class: ThreadingClass) -> Option<Self> {
        // SAFETY: for this URI the data is an LV2_Log_Log that outlives the instance.
        unsafe { (feature as *const lv2::lv2_sys::LV2_Log_Log).as_ref() }.map(|raw| Log { raw })
    }
}

/// Features needed at instantiation.
#[derive(FeatureCollection)]
pub struct InitFeatures<'a> {
    map: LV2Map<'a>,
    log: Option<Log<'a>>,
}

/// Features used on the audio thread.
#[derive(FeatureCollection)]
pub struct AudioFeatures<'a> {
    schedule: Schedule<'a, MonoLooper>,
}

/// Reports through the host's log, from the worker only.
struct LogReporter {
    log: *const lv2::lv2_sys::LV2_Log_Log,
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

/// The message the audio thread schedules: the request and where the worker's state is.
pub struct WorkMsg {
    core: *const WorkerCore,
    req: Request,
}

// SAFETY: WorkerCore is Sync and lives as long as the instance; the host runs work()
// only between instantiate and cleanup.
unsafe impl Send for WorkMsg {}

/// The mono looper plugin.
#[uri("urn:looper-lv2:mono")]
pub struct MonoLooper {
    // Field order is drop order: the engine hands its chunks to the collector first,
    // then the worker core frees them.
    engine: Looper,
    core: Box<WorkerCore>,
}

impl MonoLooper {
    /// [instantiation] The instance's memory counters.
    pub fn stats(&self) -> &Arc<MemStats> {
        self.engine.stats()
    }
}

impl Plugin for MonoLooper {
    type Ports = Ports;
    type InitFeatures = InitFeatures<'static>;
    type AudioFeatures = AudioFeatures<'static>;

    /// [instantiation]
    fn new(info: &PluginInfo, features: &mut InitFeatures<'static>) -> Option<Self> {
        let stats = Arc::new(MemStats::default());
        let reporter: Box<dyn Reporter> = match &features.log {
            Some(log) => {
                let map = |uri: &'static [u8]| {
                    Uri::from_bytes_with_nul(uri)
                        .ok()
                        .and_then(|u| features.map.map_uri(u))
                        .map_or(0, |u| u.get())
                };
                Box::new(LogReporter {
                    log: log.raw,
                    urids: [
                        map(lv2::lv2_sys::LV2_LOG__Error),
                        map(lv2::lv2_sys::LV2_LOG__Warning),
                        map(lv2::lv2_sys::LV2_LOG__Note),
                    ],
                })
            }
            None => Box::new(Silent),
        };
        let mut engine = Looper::new(info.sample_rate(), Arc::clone(&stats));
        let core = Box::new(WorkerCore::new(stats, reporter));
        // The pool is full before the first run(): a take that starts at the session's
        // first sample (an export from zero) loses nothing.
        core.prefill(&mut engine);
        Some(MonoLooper { engine, core })
    }

    /// [audio] Never allocates, frees, locks or calls the system; a panic is stopped here.
    fn run(&mut self, ports: &mut Ports, features: &mut AudioFeatures<'static>, _n: u32) {
        let (input, output) = (*ports.input, *ports.output);
        let n = input.len.min(output.len);
        let controls = Controls {
            record: *ports.record,
            play: *ports.play,
        };
        let engine = &mut self.engine;
        let core: *const WorkerCore = &*self.core;
        let ok = rt::audio_scope(|| {
            // SAFETY: both buffers hold `n` samples for this call (LV2 connect_port
            // contract). ptr::copy is a memmove, sound when they are the same buffer;
            // after it only `io` refers to the output buffer.
            let io = unsafe {
                std::ptr::copy(input.ptr.as_ptr(), output.ptr.as_ptr(), n);
                std::slice::from_raw_parts_mut(output.ptr.as_ptr(), n)
            };
            engine.process(controls, io);
            if let Some(req) = engine.poll_request() {
                if features
                    .schedule
                    .schedule_work(WorkMsg { core, req })
                    .is_ok()
                {
                    engine.request_sent(&req);
                }
            }
        });
        if ok.is_none() {
            self.engine.count_panic();
            // SAFETY: as above; zeroing the output buffer of `n` samples.
            unsafe { std::ptr::write_bytes(output.ptr.as_ptr(), 0, n) };
        }
        **ports.state = self.engine.state() as u8 as f32;
        **ports.length = self.engine.length_seconds() as f32;
        **ports.position = self.engine.position() as f32;
        **ports.memory = (self.engine.memory_bytes() as f64 / (1024.0 * 1024.0)) as f32;
        **ports.dropouts = self.engine.dropouts() as f32;
    }

    /// [discovery] The worker interface.
    fn extension_data(uri: &Uri) -> Option<&'static dyn Any> {
        match_extensions![uri, WorkerDescriptor<Self>]
    }
}

impl Worker for MonoLooper {
    type WorkData = WorkMsg;
    type ResponseData = Delivery;

    /// [worker] Makes chunks and nodes, frees retired ones, reports. May allocate.
    fn work(handler: &ResponseHandler<Self>, data: WorkMsg) -> Result<(), WorkerError> {
        // SAFETY: see WorkMsg's Send: the core outlives every work() call.
        let core = unsafe { &*data.core };
        let served = rt::worker_scope(|| {
            core.work(data.req, &mut |d| {
                handler.respond(d).map_err(|e| match e {
                    RespondError::Unknown(d)
                    | RespondError::NoSpace(d)
                    | RespondError::NoCallback(d) => d,
                })
            })
        });
        served.ok_or(WorkerError::Unknown)
    }

    /// [audio] Takes one delivery into the ready pool. Never allocates or frees.
    fn work_response(
        &mut self,
        data: Delivery,
        _features: &mut AudioFeatures<'static>,
    ) -> Result<(), WorkerError> {
        let engine = &mut self.engine;
        match rt::audio_scope(move || engine.accept(data)) {
            Some(()) => Ok(()),
            None => {
                self.engine.count_panic();
                Err(WorkerError::Unknown)
            }
        }
    }
}

lv2_descriptors!(MonoLooper);
