//! The job kinds: for each, its parameters, their validation, its result and how it runs. The
//! CPU kinds wrap a kernel of `faena_kernels`; the I/O kinds (`sleep`, `fetch_urls`) are
//! async code of their own.
//!
//! Kinds know nothing of HTTP, SQL or how they are scheduled; the runtime decides that from
//! [`crate::job::JobClass`].

pub mod control;
pub mod count_primes;
pub mod factorial;
pub mod fetch_urls;
pub mod sleep;
pub mod word_count;

pub use control::{Ctl, Progress, Stopped};
