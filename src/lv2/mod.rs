//! The LV2 glue: descriptors, ports, features and the worker interface. Everything it
//! does besides moving values is in [`crate::engine`].

pub mod inline_display;
pub mod plugin;
