//! One module per `cargo xtask` verb. A verb reads its flags, opens what it needs through the
//! shared rooms (`crate::cfn` for stacks, `crate::stage`, `crate::template`, `crate::build`,
//! `crate::iam`, `crate::cdn`, `crate::site`) and ends with an `Exit`. The rooms never import a
//! verb; `ci` and `bench` drive other verbs as a person would.

pub mod bench;
pub mod bootstrap;
pub mod catalog;
pub mod ci;
pub mod deploy;
pub mod failures;
pub mod invalidate;
pub mod lint;
pub mod local;
pub mod logs;
pub mod outputs;
pub mod package;
pub mod pipeline;
pub mod policy;
pub mod releases;
pub mod render;
pub mod runtime;
pub mod teardown;
