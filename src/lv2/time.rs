//! The host's positions (`time:Position` objects in the `control` port's atom sequence),
//! read in `run()` into the engine's [`TimeEvent`]s: no allocation, no copy beyond a
//! fixed array on the stack.
//!
//! Here the rust-lv2 crates are sound and used: `lv2-urid`'s `LV2Map` and the typed URID
//! collections of `lv2-atom`, `lv2-units` and `lv2-time` (mapped once at instantiation),
//! and `lv2-atom`'s readers, which walk the host's buffer through bounds-checked
//! `Space`s and return `None` on anything malformed, never allocating or panicking.
//! What they are not used for is the plugin and port traits (see `plugin.rs`).

use lv2::lv2_atom::prelude::*;
use lv2::lv2_atom::space::Space;
use lv2::lv2_sys as sys;
use lv2::lv2_time::prelude::*;
use lv2::lv2_units::prelude::*;
use lv2::lv2_urid::LV2Map;
use lv2::urid::*;

use crate::engine::sync::{Position, TimeEvent};

/// Positions kept from one block; beyond it the last replaces the one before.
pub const MAX_EVENTS: usize = 8;

/// The URIDs the reader needs.
#[derive(URIDCollection)]
pub struct TimeUrids {
    pub atom: AtomURIDCollection,
    pub units: UnitURIDCollection,
    pub time: TimeURIDCollection,
}

impl TimeUrids {
    /// [instantiation] Maps them through the host's `urid:map`.
    pub fn new(map: &sys::LV2_URID_Map) -> Option<TimeUrids> {
        TimeUrids::from_map(&LV2Map::new(map))
    }
}

/// [audio] A number in any of the atom types hosts use for time values.
fn number(a: UnidentifiedAtom, u: &TimeUrids) -> Option<f64> {
    a.read(u.atom.double, ())
        .or_else(|| a.read(u.atom.float, ()).map(f64::from))
        .or_else(|| a.read(u.atom.long, ()).map(|v| v as f64))
        .or_else(|| a.read(u.atom.int, ()).map(f64::from))
}

/// [audio] Reads the positions in `seq` (a block of `n` frames) into `out`, in order of
/// their frame (clamped to the block); returns how many.
///
/// # Safety
/// `seq` points to the host's atom sequence for this block: an `LV2_Atom_Sequence`
/// whose `atom.size` bytes of body follow it (the atom port contract), 8-byte aligned.
pub unsafe fn read_positions(
    seq: *const sys::LV2_Atom_Sequence,
    u: &TimeUrids,
    n: usize,
    out: &mut [TimeEvent; MAX_EVENTS],
) -> usize {
    // SAFETY: the caller's contract: the atom and its body are readable for this call.
    let space = unsafe { Space::from_atom(&(*seq).atom) };
    let Some(events) = UnidentifiedAtom::new(space).read(u.atom.sequence, u.units.beat) else {
        return 0;
    };
    let mut count = 0;
    for (stamp, atom) in events {
        let Some(frames) = stamp.as_frames() else {
            continue; // a sequence timed in beats: not what a host sends here
        };
        let object = atom
            .read(u.atom.object, ())
            .or_else(|| atom.read(u.atom.blank, ()));
        let Some((header, props)) = object else {
            continue;
        };
        if header.otype != u.time.position_class {
            continue;
        }
        let mut pos = Position::default();
        for (key, value) in props {
            let v = number(value, u);
            let k = key.key;
            if k == u.time.frame {
                pos.frame = v.map(|f| f as i64);
            } else if k == u.time.bar {
                pos.bar = v.map(|b| b as i64);
            } else if k == u.time.bar_beat {
                pos.bar_beat = v;
            } else if k == u.time.beats_per_bar {
                pos.beats_per_bar = v;
            } else if k == u.time.beats_per_minute {
                pos.bpm = v;
            } else if k == u.time.speed {
                pos.speed = v;
            }
        }
        let mut offset = (frames.max(0) as usize).min(n);
        if count > 0 {
            offset = offset.max(out[count - 1].offset); // out of order: no earlier than the last
        }
        let at = count.min(MAX_EVENTS - 1);
        out[at] = TimeEvent { offset, pos };
        count = at + 1;
    }
    count
}
