//! Ardour's inline-display extension (Carla implements it too): the loop drawn on the
//! host's mixer strip. The host calls `render` from its GUI thread, concurrently with
//! `run()`; `run()` asks for a picture through the host's `queue_draw`.
//!
//! What `render` reads is the instance's [`Display`]: atomics only, made at
//! instantiation and freed at cleanup, so nothing it reads can be freed under it and
//! `run()` never waits for it. The pixels are the view's own, behind a lock that only
//! `render` takes.

use std::cell::UnsafeCell;
use std::ffi::{c_void, CStr};
use std::sync::{Arc, Mutex, PoisonError};

use lv2::lv2_sys as sys;

use crate::engine::display::{draw, Display};

/// The host's feature: `{ handle, queue_draw(handle) }`.
pub const QUEUE_DRAW_URI: &CStr = c"http://harrisonconsoles.com/lv2/inlinedisplay#queue_draw";
/// The extension data: `{ render(instance, max_width, max_height) -> *Surface }`.
pub const INTERFACE_URI: &CStr = c"http://harrisonconsoles.com/lv2/inlinedisplay#interface";

/// The host's `queue_draw` feature data.
#[repr(C)]
pub struct QueueDraw {
    pub handle: *mut c_void,
    pub queue_draw: Option<unsafe extern "C" fn(handle: *mut c_void)>,
}

/// The picture handed to the host: ARGB32 premultiplied, native endian.
#[repr(C)]
pub struct Surface {
    pub data: *mut u8,
    pub width: i32,
    pub height: i32,
    /// Bytes a row.
    pub stride: i32,
}

/// The extension data's function table.
#[repr(C)]
pub struct Interface {
    pub render: Option<unsafe extern "C" fn(sys::LV2_Handle, u32, u32) -> *mut Surface>,
}

/// Largest picture drawn, whatever the host offers.
const MAX_SIDE: u32 = 2048;

/// The view's side of an instance: what `render` reads and the pixels it fills.
pub struct View {
    display: Arc<Display>,
    /// The pixels and the surface that describes them; only `render` locks it.
    picture: Mutex<(Vec<u32>, UnsafeCell<Surface>)>,
}

// SAFETY: the surface's pointer refers to the pixels beside it, owned by the same lock.
unsafe impl Send for View {}
// SAFETY: as for Send; the surface is only written under the lock.
unsafe impl Sync for View {}

impl View {
    /// [instantiation] A view of `display`; no pixels until the first `render`.
    pub fn new(display: Arc<Display>) -> View {
        View {
            display,
            picture: Mutex::new((
                Vec::new(),
                UnsafeCell::new(Surface {
                    data: std::ptr::null_mut(),
                    width: 0,
                    height: 0,
                    stride: 0,
                }),
            )),
        }
    }

    /// [any] (the host's GUI thread) Draws the loop at most `max_w` x `max_h` pixels:
    /// the whole width, and a height of about a third of it (the strip's shape), with
    /// at least 16 pixels per channel. The surface stays valid until the next call or
    /// the instance's cleanup.
    pub fn render(&self, max_w: u32, max_h: u32) -> *mut Surface {
        let w = max_w.min(MAX_SIDE) as usize;
        let h = max_h.min(MAX_SIDE).min((max_w / 3).max(32)) as usize;
        let mut picture = self.picture.lock().unwrap_or_else(PoisonError::into_inner);
        let (pixels, surface) = &mut *picture;
        if w == 0 || h == 0 {
            return std::ptr::null_mut();
        }
        pixels.resize(w * h, 0);
        draw(&self.display, w, h, w, pixels);
        let s = surface.get_mut();
        s.data = pixels.as_mut_ptr().cast();
        s.width = w as i32;
        s.height = h as i32;
        s.stride = (w * 4) as i32;
        surface.get()
    }
}
