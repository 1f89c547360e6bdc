//! The built-in kinds, each a [`crate::kind::Kind`] registered like any other: the tutorial's
//! CPU work (`count_primes`, `factorial`, `word_count`, wrapping the kernels of
//! `faena_kernels`) and I/O work (`sleep`, `fetch_urls`, async code of their own).

pub mod count_primes;
pub mod factorial;
pub mod fetch_urls;
pub mod sleep;
pub mod word_count;

pub use count_primes::CountPrimes;
pub use factorial::Factorial;
pub use fetch_urls::FetchUrls;
pub use sleep::Sleep;
pub use word_count::WordCount;

use crate::kind::{Registry, RegistryError};

/// The built-in kinds, configured.
#[derive(Debug, Clone)]
pub struct Builtins {
    pub count_primes: CountPrimes,
    pub factorial: Factorial,
    pub sleep: Sleep,
    pub fetch_urls: FetchUrls,
    pub word_count: WordCount,
}

impl Builtins {
    /// The built-in kinds with their default bounds, fetching with `fetcher`.
    pub fn new(fetcher: fetch_urls::Fetcher) -> Self {
        Self {
            count_primes: CountPrimes::default(),
            factorial: Factorial::default(),
            sleep: Sleep::default(),
            fetch_urls: FetchUrls {
                limits: fetch_urls::FetchLimits::default(),
                fetcher,
            },
            word_count: WordCount,
        }
    }

    /// A registry of the built-in kinds with their default settings, all enabled (what
    /// `openapi.yaml` describes).
    pub fn default_registry() -> Registry {
        let mut registry = Registry::new();
        let fetcher = fetch_urls::Fetcher::new(&fetch_urls::FetchConfig::default())
            .expect("the default HTTP client builds");
        // Five distinct, valid names.
        let _ = Self::new(fetcher).register(&mut registry);
        registry
    }

    /// Registers them all in `registry`.
    pub fn register(self, registry: &mut Registry) -> Result<(), RegistryError> {
        registry
            .register(self.count_primes)?
            .register(self.factorial)?
            .register(self.sleep)?
            .register(self.fetch_urls)?
            .register(self.word_count)?;
        Ok(())
    }
}
