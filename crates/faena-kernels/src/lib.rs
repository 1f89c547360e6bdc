//! faena's compute kernels, usable and benchmarkable without the service: no HTTP, no SQL, no
//! async runtime. Each takes its inputs and a [`Ctl`] (a stop flag it polls, a progress
//! counter it advances) and returns an exact result, or [`Stopped`] soon after the flag trips.
//! They run on the current rayon pool and fork inside it.
//!
//! - [`count_primes`]: how many primes lie in a range, by a segmented sieve or by π(x) (LMO),
//!   whichever is cheaper for the range.
//! - [`factorial`]: the number of digits, trailing zeros and leading digits of n!, exactly.
//! - [`word_count`]: words, lines and bytes of texts and their most frequent words, as Python's
//!   `str.split()` counts them.
//!
//! The service (the `faena` crate) wraps each as a job kind: its parameters and their
//! validation, where it runs, what its result looks like on the wire.

pub mod control;
pub mod count_primes;
pub mod factorial;
pub mod word_count;

pub use control::{Ctl, Progress, Stopped};
