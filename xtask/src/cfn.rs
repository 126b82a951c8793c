//! The CloudFormation core every stack verb stands on: open a stage ([`Opened`]), read its deploy
//! path ([`deploy_path`]), take a stack through a change set ([`apply`], [`changeset`],
//! [`execute`]), watch its status, outputs and events ([`stack`]), keep the artifacts bucket
//! ([`artifacts`]) and end the verb with one report and exit code ([`finish`], [`report`]).
//!
//! Nothing outside this module creates or executes a change set (`xtask/tests/tidy.rs`), and
//! nothing here imports a verb: the verbs (`crate::verbs`) come to it, never the other way.

pub mod apply;
pub mod artifacts;
pub mod changeset;
pub mod deploy_path;
pub mod execute;
pub mod open;
pub mod protection;
pub mod release;
pub mod report;
pub mod stack;

pub use apply::{Mode, apply, finish};
pub use changeset::{StackSpec, Template};
pub use open::Opened;
pub use report::Report;
