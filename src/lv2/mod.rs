//! The LV2 glue: descriptors, ports, features, the worker and state interfaces and the inline display. Everything it
//! does besides moving values is in [`crate::engine`].

pub mod inline_display;
pub mod plugin;
pub mod state;
pub mod time;
