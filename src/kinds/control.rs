//! The handle a running job holds: the kernels' [`faena_kernels::Ctl`] (a stop flag polled
//! between units of work, a progress counter) and a cancellation token for async kinds to
//! `select!` on. [`Ctl::stop`] trips both: a deadline, a user's cancel and shutdown all stop a
//! run the same way, and its kind never learns which it was.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

pub use faena_kernels::{Progress, Stopped};

/// What a running job sees of the outside world. Cheap to clone; clones share everything.
#[derive(Debug, Clone, Default)]
pub struct Ctl {
    kernel: faena_kernels::Ctl,
    token: CancellationToken,
}

impl Ctl {
    /// Stops the run: [`Ctl::check`] fails and [`Ctl::token`] is cancelled from now on.
    pub fn stop(&self) {
        self.kernel.stop();
        self.token.cancel();
    }

    /// The handle to give a kernel of `faena_kernels`.
    pub fn kernel(&self) -> &faena_kernels::Ctl {
        &self.kernel
    }

    /// Cancelled once the run is stopped, for async kinds that `select!` on it.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// `Err(Stopped)` once the run has been stopped.
    pub fn check(&self) -> Result<(), Stopped> {
        self.kernel.check()
    }

    /// Whether the run has been stopped.
    pub fn is_stopped(&self) -> bool {
        self.kernel.is_stopped()
    }

    /// Declares how many units of work the run has (resets `done` to 0).
    pub fn set_total(&self, total: u64) {
        self.kernel.set_total(total);
    }

    /// Marks `n` more units of work as done.
    pub fn advance(&self, n: u64) {
        self.kernel.advance(n);
    }

    /// The shared progress counter, for whoever reports it.
    pub fn progress(&self) -> &Arc<Progress> {
        self.kernel.progress()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_trips_the_flag_and_the_token_of_every_clone() {
        let ctl = Ctl::default();
        let clone = ctl.clone();
        assert!(!clone.is_stopped() && !clone.token().is_cancelled());
        ctl.stop();
        assert_eq!(clone.check(), Err(Stopped));
        assert!(clone.kernel().is_stopped() && clone.token().is_cancelled());
    }
}
