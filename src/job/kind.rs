//! Kinds as the job model knows them: [`JobKind`], the name a job is submitted with and
//! stored under, and [`JobClass`], where its runs go. What a kind does is `crate::kind`'s.
//!
//! Names are interned: each distinct name is allocated once per process and a [`JobKind`]
//! is a copyable pointer to it, cheap to compare, hash and use as a metrics label. Names are
//! made only from registered kinds and from rows of the store (whose kinds were registered
//! somewhere when they were submitted), so the set stays as small as the set of kinds.

use std::collections::HashSet;
use std::fmt;
use std::sync::{LazyLock, RwLock};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a kind's runs go: the CPU pool (as many at once as there are CPU slots), the async
/// runtime (as many as there are I/O slots), or remote workers that claim them over HTTP
/// (`/workers/claim`; none run in the server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobClass {
    Cpu,
    Io,
    Worker,
}

impl JobClass {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Io => "io",
            Self::Worker => "worker",
        }
    }
}

/// The name of a job's kind, e.g. `count_primes`: `[a-z][a-z0-9_]{0,63}`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ToSchema)]
#[schema(value_type = String, pattern = "^[a-z][a-z0-9_]{0,63}$", example = "count_primes")]
pub struct JobKind(&'static str);

/// The text is not a kind name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a kind name: a lower-case letter, then up to 63 lower-case letters, digits or `_`"
)]
pub struct InvalidKindName(pub String);

static NAMES: LazyLock<RwLock<HashSet<&'static str>>> = LazyLock::new(Default::default);

impl JobKind {
    /// The kind named `name`, if it is a valid name.
    pub fn new(name: &str) -> Result<Self, InvalidKindName> {
        if !Self::is_valid(name) {
            return Err(InvalidKindName(name.chars().take(64).collect()));
        }
        Ok(Self::intern(name))
    }

    /// Whether `name` is a valid kind name.
    pub fn is_valid(name: &str) -> bool {
        let mut chars = name.chars();
        chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && name.len() <= 64
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    }

    fn intern(name: &str) -> Self {
        let names = NAMES.read().unwrap_or_else(|e| e.into_inner());
        if let Some(&known) = names.get(name) {
            return Self(known);
        }
        drop(names);
        let mut names = NAMES.write().unwrap_or_else(|e| e.into_inner());
        if let Some(&known) = names.get(name) {
            return Self(known);
        }
        let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
        names.insert(leaked);
        Self(leaked)
    }

    /// The name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Debug for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

impl PartialEq<str> for JobKind {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for JobKind {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl Serialize for JobKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for JobKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::new(&name).map_err(serde::de::Error::custom)
    }
}

/// The kind named `name`, for tests (panics on an invalid name).
#[cfg(test)]
pub(crate) fn test_kind(name: &str) -> JobKind {
    JobKind::new(name).expect("a valid kind name")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_interned() {
        let a = JobKind::new("sha256_chain").unwrap();
        let b = JobKind::new(&String::from("sha256_chain")).unwrap();
        assert!(std::ptr::eq(a.as_str(), b.as_str()));
        assert_eq!(a, "sha256_chain");
        for bad in ["", "Sleep", "1abc", "a-b", "a b", "é", &"a".repeat(65)] {
            assert!(JobKind::new(bad).is_err(), "{bad:?}");
        }
        assert!(JobKind::new(&"a".repeat(64)).is_ok());
        let json: JobKind = serde_json::from_str("\"sleep\"").unwrap();
        assert_eq!(serde_json::to_string(&json).unwrap(), "\"sleep\"");
        assert!(serde_json::from_str::<JobKind>("\"Sleep\"").is_err());
    }
}
