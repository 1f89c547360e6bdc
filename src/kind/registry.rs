//! The [`Registry`]: the kinds a server knows, by name, and which of them it runs (`--kinds`).
//! Built once at start and shared; everything that lists kinds reads it.

use std::sync::Arc;

use serde_json::Value;

use super::erased::{Erased, RunResult};
use super::{Ctl, DynKind, JobClass, JobKind, Kind, Parsed};
use crate::job::{Limits, SpecError, SpecErrorCode, Submission, SubmitRequest};

/// Why a kind cannot be registered or enabled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    InvalidName(#[from] super::InvalidKindName),
    #[error("two kinds are named `{0}`")]
    Duplicate(String),
    #[error("unknown kind `{name}`; known kinds: {known}")]
    Unknown { name: String, known: String },
}

/// A registered kind.
#[derive(Clone)]
pub struct KindEntry {
    name: JobKind,
    class: JobClass,
    enabled: bool,
    imp: Arc<dyn DynKind>,
}

impl std::fmt::Debug for KindEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KindEntry")
            .field("name", &self.name)
            .field("class", &self.class)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

impl KindEntry {
    pub fn name(&self) -> JobKind {
        self.name
    }

    pub fn class(&self) -> JobClass {
        self.class
    }

    /// Whether this server accepts and runs jobs of the kind (`--kinds`).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn summary(&self) -> &str {
        self.imp.summary()
    }

    /// The bounds its validation applies (a JSON object).
    pub fn limits(&self) -> Value {
        self.imp.limits()
    }

    /// The JSON Schema of its parameters, with the bounds it applies.
    pub fn params_schema(&self) -> Value {
        self.imp.params_schema()
    }

    /// The JSON Schema of its result.
    pub fn output_schema(&self) -> Value {
        self.imp.output_schema()
    }

    /// Parses and checks the parameters of a submission.
    pub(crate) fn parse(&self, params: Value) -> Result<Parsed, SpecError> {
        self.imp.parse(params)
    }

    /// Whether a stored job of this kind with `params` saves files.
    pub(crate) fn saves_files(&self, params: &Value) -> bool {
        self.imp.saves_files(params)
    }

    /// Runs one attempt of a job of this kind with its stored `params`.
    pub(crate) fn run(
        &self,
        params: &Value,
        ctl: Ctl,
    ) -> futures_util::future::BoxFuture<'static, RunResult> {
        Arc::clone(&self.imp).run(params, ctl)
    }
}

/// The kinds a server knows, in the order they were registered.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    kinds: Vec<KindEntry>,
}

impl Registry {
    /// A registry with no kinds.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `kind`, enabled.
    pub fn register<K: Kind>(&mut self, kind: K) -> Result<&mut Self, RegistryError> {
        let name = JobKind::new(kind.name())?;
        if self.get(name.as_str()).is_some() {
            return Err(RegistryError::Duplicate(name.to_string()));
        }
        self.kinds.push(KindEntry {
            name,
            class: kind.class(),
            enabled: true,
            imp: Arc::new(Erased(kind)),
        });
        Ok(self)
    }

    /// Adds the kinds of `other`, after those here.
    pub fn extend(&mut self, other: Registry) -> Result<(), RegistryError> {
        for entry in other.kinds {
            if self.get(entry.name.as_str()).is_some() {
                return Err(RegistryError::Duplicate(entry.name.to_string()));
            }
            self.kinds.push(entry);
        }
        Ok(())
    }

    /// Enables only the kinds named (every kind when `names` is empty; blank names are left
    /// out); an unknown name is an error.
    pub fn enable_only<S: AsRef<str>>(&mut self, names: &[S]) -> Result<(), RegistryError> {
        let names: Vec<&str> = (names.iter().map(|n| n.as_ref().trim()))
            .filter(|n| !n.is_empty())
            .collect();
        if let Some(unknown) = names.iter().find(|n| self.get(n).is_none()) {
            return Err(RegistryError::Unknown {
                name: unknown.chars().take(64).collect(),
                known: self.known().join(", "),
            });
        }
        for entry in &mut self.kinds {
            entry.enabled = names.is_empty() || names.contains(&entry.name.as_str());
        }
        Ok(())
    }

    /// The kind named `name`, enabled or not.
    pub fn get(&self, name: &str) -> Option<&KindEntry> {
        self.kinds.iter().find(|k| k.name == name)
    }

    /// The class of the kind named `kind`, if it is registered.
    pub fn class_of(&self, kind: JobKind) -> Option<JobClass> {
        self.kinds.iter().find(|k| k.name == kind).map(|k| k.class)
    }

    /// Every registered kind.
    pub fn all(&self) -> impl Iterator<Item = &KindEntry> {
        self.kinds.iter()
    }

    /// The kinds this server runs.
    pub fn enabled(&self) -> impl Iterator<Item = &KindEntry> {
        self.kinds.iter().filter(|k| k.enabled)
    }

    /// The names of the kinds this server runs.
    pub fn enabled_names(&self) -> Vec<JobKind> {
        self.enabled().map(KindEntry::name).collect()
    }

    /// The kinds of `class` this server runs, for claiming only what has a free slot.
    pub fn of_class(&self, class: JobClass) -> Vec<JobKind> {
        self.enabled()
            .filter(|k| k.class == class)
            .map(KindEntry::name)
            .collect()
    }

    /// The names of every registered kind.
    pub fn known(&self) -> Vec<&'static str> {
        self.kinds.iter().map(|k| k.name.as_str()).collect()
    }

    /// Checks a submission: its kind (known here and enabled), the options of its runs against
    /// `limits`, its parameters by its kind, its dependencies; fills in defaults.
    pub fn submission(
        &self,
        mut req: SubmitRequest,
        limits: &Limits,
    ) -> Result<Submission, SpecError> {
        let kind = self.enabled_kind(&req.kind)?;
        let options = req.options(limits)?;
        let parsed = kind.parse(req.take_params())?;
        let depends_on = req.dependencies()?;
        Ok(Submission {
            kind: kind.name,
            params: parsed.params,
            sources: parsed.sources,
            options,
            depends_on,
        })
    }

    /// The enabled kind named `name`, or why a submission of it is refused.
    fn enabled_kind(&self, name: &str) -> Result<&KindEntry, SpecError> {
        let field = Some("kind".to_string());
        let Some(kind) = self.get(name) else {
            return Err(SpecError {
                code: SpecErrorCode::UnknownKind,
                field,
                message: format!(
                    "unknown kind `{}`; known kinds: {}",
                    name.chars().take(64).collect::<String>(),
                    self.known().join(", ")
                ),
            });
        };
        if !kind.enabled {
            let enabled: Vec<_> = self.enabled().map(|k| k.name.as_str()).collect();
            return Err(SpecError {
                code: SpecErrorCode::KindDisabled,
                field,
                message: format!(
                    "kind `{}` is disabled on this server; enabled kinds: {}",
                    kind.name,
                    enabled.join(", ")
                ),
            });
        }
        Ok(kind)
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
