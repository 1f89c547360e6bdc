//! The job kinds: for each, its parameters, its result and its kernel.
//!
//! Kernels are pure: they take their parameters, a [`Ctl`] (cancellation and progress) and
//! return a typed result. They know nothing of HTTP, SQL or how they are scheduled; the
//! runtime decides that from [`crate::job::JobClass`].

pub mod control;
pub mod count_primes;
pub mod factorial;
pub mod fetch_urls;
pub mod sleep;
pub mod word_count;

pub use control::{Ctl, Progress, Stopped};
