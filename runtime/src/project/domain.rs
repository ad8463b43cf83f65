//! Which domain a command works on, and what a valid domain name is.

use super::{Project, SpecError, SpecFile};
use anyhow::Context as _;

/// Used when nothing else names a domain.
pub const DEFAULT_DOMAIN: &str = "lok8s.dev";

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error(
        "invalid domain name {0:?}: use letters, digits, '.', '_' and '-', starting with a letter \
         or digit (such as dev.example.com)"
    )]
    Invalid(String),
    #[error("no active domain — set one with 'lo use <domain>' or pass --domain <domain>")]
    Empty,
    #[error(
        "domain not found: clusters/{0}/ has no cluster.lok8s.yaml or deploy.lok8s.yaml (available: {1})"
    )]
    NotFound(String, String),
}

/// Where the active domain came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainSource {
    Argument,
    ActiveFile,
    Environment,
    Default,
}

#[derive(Debug, Clone)]
pub struct ActiveDomain {
    pub name: String,
    pub source: DomainSource,
}

/// A domain is a folder name under `clusters/`: no separators, no leading dot.
pub fn validate_domain(domain: &str) -> Result<(), DomainError> {
    let mut chars = domain.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if domain.is_empty() {
        return Err(DomainError::Empty);
    }
    if !first_ok || !rest_ok || domain.len() > 253 {
        return Err(DomainError::Invalid(domain.to_string()));
    }
    Ok(())
}

impl ActiveDomain {
    /// `--domain` (or the positional) > `clusters/.active` if valid > `DOMAIN_NAME` > `lok8s.dev`.
    /// Returns the domain and, when `.active` held garbage, a warning to print.
    pub fn resolve(
        project: &Project,
        argument: Option<&str>,
        env_domain: Option<&str>,
    ) -> Result<(ActiveDomain, Option<String>), DomainError> {
        if let Some(name) = argument {
            validate_domain(name)?;
            return Ok((
                ActiveDomain {
                    name: name.to_string(),
                    source: DomainSource::Argument,
                },
                None,
            ));
        }
        let mut warning = None;
        if let Some(active) = read_active(project) {
            match validate_domain(&active) {
                Ok(()) => {
                    return Ok((
                        ActiveDomain {
                            name: active,
                            source: DomainSource::ActiveFile,
                        },
                        None,
                    ));
                }
                Err(_) => {
                    warning = Some(format!(
                        "ignoring clusters/.active: {active:?} is not a valid domain"
                    ))
                }
            }
        }
        if let Some(name) = env_domain.filter(|d| !d.is_empty()) {
            validate_domain(name)?;
            return Ok((
                ActiveDomain {
                    name: name.to_string(),
                    source: DomainSource::Environment,
                },
                warning,
            ));
        }
        Ok((
            ActiveDomain {
                name: DEFAULT_DOMAIN.to_string(),
                source: DomainSource::Default,
            },
            warning,
        ))
    }

    /// `lo use <domain>`: checks the domain has a spec file, then writes `clusters/.active`.
    /// A spec still being written is fine; the answer is a note saying what it lacks.
    pub fn set(project: &Project, domain: &str) -> Result<Option<String>, anyhow::Error> {
        validate_domain(domain)?;
        let loaded = SpecFile::load(project, domain);
        if let Err(SpecError::Missing(_)) = loaded {
            let available: Vec<String> = project.domains().into_iter().map(|(d, _)| d).collect();
            let list = if available.is_empty() {
                "none".to_string()
            } else {
                available.join(", ")
            };
            return Err(DomainError::NotFound(domain.to_string(), list).into());
        }
        let path = project.clusters_dir().join(".active");
        std::fs::write(&path, format!("{domain}\n"))
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(loaded
            .err()
            .map(|e| format!("the spec is not ready for 'lo provision' yet: {e}")))
    }
}

/// The content of `clusters/.active`, trailing whitespace removed.
pub fn read_active(project: &Project) -> Option<String> {
    let text = std::fs::read_to_string(project.clusters_dir().join(".active")).ok()?;
    let trimmed = text.trim_end().to_string();
    (!trimmed.is_empty()).then_some(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_rules() {
        for ok in ["lok8s.dev", "dev.example.com", "a", "x_y-z.1", "a..b"] {
            assert!(validate_domain(ok).is_ok(), "{ok}");
        }
        for bad in ["../x", ".hidden", "-x", "a/b", "a b", "ü.dev"] {
            assert!(
                matches!(validate_domain(bad), Err(DomainError::Invalid(_))),
                "{bad}"
            );
        }
        assert!(matches!(validate_domain(""), Err(DomainError::Empty)));
    }

    #[test]
    fn precedence_argument_active_env_default() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("clusters")).unwrap();
        let project = Project::at(dir.path()).unwrap();
        let pick = |arg, env| ActiveDomain::resolve(&project, arg, env).unwrap().0;
        assert_eq!(pick(None, None).name, DEFAULT_DOMAIN);
        assert_eq!(
            pick(None, Some("env.dev")).source,
            DomainSource::Environment
        );
        std::fs::write(dir.path().join("clusters/.active"), "active.dev\n").unwrap();
        assert_eq!(pick(None, Some("env.dev")).name, "active.dev");
        assert_eq!(pick(Some("arg.dev"), Some("env.dev")).name, "arg.dev");
        std::fs::write(dir.path().join("clusters/.active"), "../bad\n").unwrap();
        let (domain, warning) = ActiveDomain::resolve(&project, None, Some("env.dev")).unwrap();
        assert_eq!(domain.name, "env.dev");
        assert!(warning.unwrap().contains("clusters/.active"));
    }
}
