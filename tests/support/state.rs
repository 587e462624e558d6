//! The test host's side of LV2 state: `save` and `restore` through the plugin's
//! `state:interface`, with `state:makePath`, `state:mapPath` and `state:freePath` offered
//! as a host would (each optional), and the properties kept by URI as a session file
//! keeps them.

#![allow(dead_code)]

use lv2::lv2_sys as sys;
use std::ffi::{c_char, c_void, CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::{map_uri, Host, UridMap};

/// One stored property: key and type by URI, flags, value bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Prop {
    pub key: String,
    pub kind: String,
    pub flags: u32,
    pub value: Vec<u8>,
}

/// What a save stored.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Saved {
    pub props: Vec<Prop>,
}

impl Saved {
    /// The property `key` (its URI's part after `#`), if stored.
    pub fn get(&self, key: &str) -> Option<&Prop> {
        self.props
            .iter()
            .find(|p| p.key == format!("urn:looper-lv2:state#{key}"))
    }
    /// The property `key` as an i64 (Long or Int).
    pub fn int(&self, key: &str) -> Option<i64> {
        let p = self.get(key)?;
        match p.value.len() {
            8 => Some(i64::from_ne_bytes(p.value[..].try_into().ok()?)),
            4 => Some(i32::from_ne_bytes(p.value[..].try_into().ok()?) as i64),
            _ => None,
        }
    }
    /// Sets (or adds) property `key` of type `kind` (an atom type's name, e.g. "Long").
    pub fn set(&mut self, key: &str, kind: &str, value: Vec<u8>) {
        let key = format!("urn:looper-lv2:state#{key}");
        let kind = format!("http://lv2plug.in/ns/ext/atom#{kind}");
        self.props.retain(|p| p.key != key);
        self.props.push(Prop {
            key,
            kind,
            flags: 3,
            value,
        });
    }
    pub fn remove(&mut self, key: &str) {
        let key = format!("urn:looper-lv2:state#{key}");
        self.props.retain(|p| p.key != key);
    }
}

/// Which state features the host offers, and how.
#[derive(Clone, Debug, Default)]
pub struct Offer {
    /// `makePath` into this folder (the session's state folder).
    pub make_path: Option<PathBuf>,
    /// `mapPath` relative to `make_path`'s folder (or to `map_dir`).
    pub map_path: bool,
    /// The folder `mapPath` maps against, if not `make_path`'s.
    pub map_dir: Option<PathBuf>,
    /// `freePath` (otherwise the plugin must use `free`).
    pub free_path: bool,
    /// `retrieve` reports a path's or string's size without its NUL (Carla).
    pub carla_sizes: bool,
    /// `retrieve` hands back an `atom:Path` already made absolute against the state
    /// folder, as lilv does when it reads a `state.ttl` (Ardour, jalv).
    pub absolute_paths: bool,
}

impl Offer {
    /// What lilv-based hosts (Ardour, jalv) offer: all three, into `dir`.
    pub fn lilv(dir: &Path) -> Offer {
        Offer {
            make_path: Some(dir.to_path_buf()),
            map_path: true,
            map_dir: None,
            free_path: true,
            carla_sizes: false,
            absolute_paths: true,
        }
    }
    /// As Carla: all three, sizes without the NUL, paths handed back abstract.
    pub fn carla(dir: &Path) -> Offer {
        Offer {
            carla_sizes: true,
            absolute_paths: false,
            ..Offer::lilv(dir)
        }
    }
    /// A host with no path features at all.
    pub fn none() -> Offer {
        Offer::default()
    }
}

/// Strings the host made for the plugin and those the plugin freed.
pub static PATHS_MADE: AtomicU64 = AtomicU64::new(0);
pub static PATHS_FREED: AtomicU64 = AtomicU64::new(0);

struct Features {
    /// Made for a restore (lilv's abstract_path then crashes).
    restoring: bool,
    dir: Option<PathBuf>,
    map_dir: Option<PathBuf>,
    make: sys::LV2_State_Make_Path,
    map: sys::LV2_State_Map_Path,
    free: sys::LV2_State_Free_Path,
    uris: Vec<CString>,
    list: Vec<sys::LV2_Feature>,
    ptrs: Vec<*const sys::LV2_Feature>,
}

/// [host] malloc'ed copy of `s`, as the state spec requires of these strings.
fn host_string(s: &[u8]) -> *mut c_char {
    let c = CString::new(s).unwrap();
    PATHS_MADE.fetch_add(1, Ordering::Relaxed);
    // SAFETY: strdup of a valid C string.
    unsafe { libc::strdup(c.as_ptr()) }
}

unsafe extern "C" fn make_path(handle: *mut c_void, path: *const c_char) -> *mut c_char {
    // SAFETY: handle is our Features; path a C string from the plugin.
    let (f, path) = unsafe { (&*(handle as *const Features), CStr::from_ptr(path)) };
    let full = f.dir.as_ref().unwrap().join(path.to_str().unwrap());
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    host_string(full.as_os_str().as_encoded_bytes())
}

unsafe extern "C" fn abstract_path(handle: *mut c_void, abs: *const c_char) -> *mut c_char {
    // SAFETY: as in make_path.
    let (f, abs) = unsafe { (&*(handle as *const Features), CStr::from_ptr(abs)) };
    if f.restoring {
        // lilv 0.24's abstract_path dereferences a null map during restore: a plugin
        // that calls it there crashes Ardour. Fail as loudly.
        eprintln!("abstract_path called during restore (crashes lilv hosts)");
        std::process::abort();
    }
    let abs = Path::new(abs.to_str().unwrap());
    let rel = f
        .map_dir
        .as_ref()
        .and_then(|d| abs.strip_prefix(d).ok())
        .unwrap_or(abs);
    host_string(rel.as_os_str().as_encoded_bytes())
}

unsafe extern "C" fn absolute_path(handle: *mut c_void, abs: *const c_char) -> *mut c_char {
    // SAFETY: as in make_path.
    let (f, p) = unsafe { (&*(handle as *const Features), CStr::from_ptr(abs)) };
    let p = Path::new(p.to_str().unwrap());
    let full = match &f.map_dir {
        Some(d) if p.is_relative() => d.join(p),
        _ => p.to_path_buf(),
    };
    host_string(full.as_os_str().as_encoded_bytes())
}

unsafe extern "C" fn free_path(_handle: *mut c_void, path: *mut c_char) {
    PATHS_FREED.fetch_add(1, Ordering::Relaxed);
    // SAFETY: made by strdup in host_string.
    unsafe { libc::free(path.cast()) };
}

impl Features {
    fn new(offer: &Offer, restoring: bool) -> Box<Features> {
        let mut f = Box::new(Features {
            restoring,
            dir: offer.make_path.clone(),
            map_dir: offer.map_dir.clone().or(offer.make_path.clone()),
            make: sys::LV2_State_Make_Path {
                handle: std::ptr::null_mut(),
                path: Some(make_path),
            },
            map: sys::LV2_State_Map_Path {
                handle: std::ptr::null_mut(),
                abstract_path: Some(abstract_path),
                absolute_path: Some(absolute_path),
            },
            free: sys::LV2_State_Free_Path {
                handle: std::ptr::null_mut(),
                free_path: Some(free_path),
            },
            uris: Vec::new(),
            list: Vec::new(),
            ptrs: Vec::new(),
        });
        let me = &*f as *const Features as *mut c_void;
        f.make.handle = me;
        f.map.handle = me;
        f.free.handle = me;
        let uri = |u: &[u8]| CString::new(&u[..u.len() - 1]).unwrap();
        let mut list = Vec::new();
        if offer.make_path.is_some() {
            f.uris.push(uri(sys::LV2_STATE__makePath));
            list.push(&f.make as *const _ as *mut c_void);
        }
        if offer.map_path {
            f.uris.push(uri(sys::LV2_STATE__mapPath));
            list.push(&f.map as *const _ as *mut c_void);
        }
        if offer.free_path {
            f.uris.push(uri(sys::LV2_STATE__freePath));
            list.push(&f.free as *const _ as *mut c_void);
        }
        f.list = f
            .uris
            .iter()
            .zip(list)
            .map(|(u, data)| sys::LV2_Feature {
                URI: u.as_ptr(),
                data,
            })
            .collect();
        f.ptrs = f.list.iter().map(|x| x as *const _).collect();
        f.ptrs.push(std::ptr::null());
        f
    }
}

struct Store<'a> {
    map: &'a UridMap,
    props: Mutex<Vec<Prop>>,
    carla_sizes: bool,
    /// Make relative paths absolute against this folder on retrieve (lilv).
    absolute_in: Option<PathBuf>,
    /// Retrieve's copies of a value, kept until restore returns.
    keep: Mutex<Vec<Vec<u8>>>,
}

fn unmap(map: &UridMap, urid: u32) -> String {
    let m = map.map.lock().unwrap();
    m.iter()
        .find(|(_, &v)| v == urid)
        .map(|(k, _)| k.clone())
        .unwrap_or_else(|| format!("urid:{urid}"))
}

fn urid(map: &UridMap, uri: &str) -> u32 {
    let c = CString::new(uri).unwrap();
    // SAFETY: our own map with a C string.
    unsafe { map_uri(map as *const UridMap as *mut c_void, c.as_ptr()) }
}

unsafe extern "C" fn store(
    handle: sys::LV2_State_Handle,
    key: u32,
    value: *const c_void,
    size: usize,
    kind: u32,
    flags: u32,
) -> sys::LV2_State_Status {
    // SAFETY: handle is our Store; value holds `size` bytes.
    let (s, v) = unsafe {
        (
            &*(handle as *const Store),
            std::slice::from_raw_parts(value.cast::<u8>(), size),
        )
    };
    let (key, kind) = (unmap(s.map, key), unmap(s.map, kind));
    let mut props = s.props.lock().unwrap();
    assert!(
        !props.iter().any(|p| p.key == key),
        "{key} stored twice in one save"
    );
    props.push(Prop {
        key,
        kind,
        flags,
        value: v.to_vec(),
    });
    sys::LV2_State_Status_LV2_STATE_SUCCESS
}

unsafe extern "C" fn retrieve(
    handle: sys::LV2_State_Handle,
    key: u32,
    size: *mut usize,
    kind: *mut u32,
    flags: *mut u32,
) -> *const c_void {
    // SAFETY: handle is our Store; the out-pointers are the plugin's.
    let s = unsafe { &*(handle as *const Store) };
    let key = unmap(s.map, key);
    let props = s.props.lock().unwrap();
    let Some(p) = props.iter().find(|p| p.key == key) else {
        return std::ptr::null();
    };
    let textual = p.kind.ends_with("#Path") || p.kind.ends_with("#String");
    let mut value = p.value.clone();
    if let (Some(dir), true) = (&s.absolute_in, p.kind.ends_with("#Path")) {
        let rel = value.strip_suffix(&[0]).unwrap_or(&value);
        let rel = Path::new(std::ffi::OsStr::from_bytes(rel));
        if rel.is_relative() && !rel.as_os_str().is_empty() {
            value = dir.join(rel).into_os_string().into_encoded_bytes();
            value.push(0);
        }
    }
    let n = if s.carla_sizes && textual && value.last() == Some(&0) {
        value.len() - 1
    } else {
        value.len()
    };
    // SAFETY: the plugin's out-pointers.
    unsafe {
        *size = n;
        *kind = urid(s.map, &p.kind);
        *flags = p.flags;
    }
    let mut keep = s.keep.lock().unwrap();
    keep.push(value);
    keep.last().unwrap().as_ptr().cast()
}

/// A handle to call `save` from another thread while the test's thread runs blocks.
#[derive(Clone, Copy)]
pub struct Saver {
    iface: &'static sys::LV2_State_Interface,
    instance: usize,
    map: usize,
}

// SAFETY: the state interface allows save from another thread while run() runs; the
// instance and the map outlive the thread (the test joins it before dropping the Host).
unsafe impl Send for Saver {}

impl Saver {
    /// Saves with `offer`; returns the status and what was stored.
    pub fn save(&self, offer: &Offer) -> (u32, Saved) {
        let f = Features::new(offer, false);
        // SAFETY: the map lives in the Host (see Send).
        let map = unsafe { &*(self.map as *const UridMap) };
        let st = Store {
            map,
            props: Mutex::new(Vec::new()),
            carla_sizes: offer.carla_sizes,
            absolute_in: None,
            keep: Mutex::new(Vec::new()),
        };
        // SAFETY: the plugin's save with our store, its handle and a NULL-terminated
        // feature array, all living across the call.
        let status = unsafe {
            self.iface.save.unwrap()(
                self.instance as sys::LV2_Handle,
                Some(store),
                &st as *const Store as *mut c_void,
                0,
                f.ptrs.as_ptr(),
            )
        };
        let props = st.props.into_inner().unwrap();
        (status, Saved { props })
    }
}

impl Host {
    fn state_iface(&self) -> &'static sys::LV2_State_Interface {
        // SAFETY: extension_data takes a C string.
        let i =
            unsafe { self.desc.extension_data.unwrap()(sys::LV2_STATE__interface.as_ptr().cast()) }
                as *const sys::LV2_State_Interface;
        // SAFETY: the plugin's static interface.
        unsafe { i.as_ref() }.expect("state interface")
    }

    /// Something that saves this instance, from any thread.
    pub fn saver(&self) -> Saver {
        Saver {
            iface: self.state_iface(),
            instance: self.instance as usize,
            map: &*self._map as *const UridMap as usize,
        }
    }

    /// Saves with `offer` (from the test's thread: no block runs meanwhile).
    pub fn save_state(&self, offer: &Offer) -> (u32, Saved) {
        self.saver().save(offer)
    }

    /// Restores `saved` with `offer`; the status.
    pub fn restore_state(&mut self, saved: &Saved, offer: &Offer) -> u32 {
        let f = Features::new(offer, true);
        let st = Store {
            map: &self._map,
            props: Mutex::new(saved.props.clone()),
            carla_sizes: offer.carla_sizes,
            absolute_in: offer
                .absolute_paths
                .then(|| offer.map_dir.clone().or(offer.make_path.clone()))
                .flatten(),
            keep: Mutex::new(Vec::new()),
        };
        // SAFETY: the plugin's restore with our retrieve, its handle and a
        // NULL-terminated feature array, all living across the call; no other call of
        // the instance runs meanwhile (this thread runs its blocks).
        unsafe {
            self.state_iface().restore.unwrap()(
                self.instance,
                Some(retrieve),
                &st as *const Store as *mut c_void,
                0,
                f.ptrs.as_ptr(),
            )
        }
    }
}
