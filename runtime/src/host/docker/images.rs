//! Which image repositories a driver may pull and tag. A pull is egress: the engine connects to
//! the registry the reference names (a loopback or private address included, where Docker
//! trusts any registry without TLS) and hands the answer back, so pulls are allowed only from
//! repositories the grant names, as http allows only granted origins; a tag moves a name other
//! users and clusters rely on, so only granted repositories may be tagged.

use oci_spec::distribution::Reference;

use crate::host::docker::grant::DockerGrant;

/// A reference's registry and repository, normalised as Docker does (`registry:2` is
/// `docker.io/library/registry`).
pub fn repository(reference: &str) -> Result<String, String> {
    let parsed: Reference = reference
        .parse()
        .map_err(|e| format!("image reference {reference:?}: {e}"))?;
    Ok(format!("{}/{}", parsed.registry(), parsed.repository()))
}

/// A reference or an image ID (`sha256:…`, or its hex): anything else is refused before it
/// reaches the engine's URL.
pub fn check_reference(reference: &str) -> Result<(), String> {
    let hex = reference.strip_prefix("sha256:").unwrap_or(reference);
    if hex.len() >= 12 && hex.len() <= 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Ok(());
    }
    repository(reference).map(|_| ())
}

/// Whether `repository` (normalised) is covered by a grant pattern: the same repository, or
/// anything below a pattern ending in `/*`.
pub fn granted(grant: &DockerGrant, repository: &str) -> bool {
    grant.images.iter().any(|pattern| {
        let pattern = pattern.trim().to_ascii_lowercase();
        match pattern.strip_suffix("/*") {
            Some(prefix) => repository
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/')),
            None => normalise_pattern(&pattern) == repository,
        }
    })
}

/// Patterns may be written as short as references (`kindest/node`).
fn normalise_pattern(pattern: &str) -> String {
    repository(pattern).unwrap_or_else(|_| pattern.to_string())
}

/// The check for a pull or a tag target: the normalised repository, or why not.
pub fn check(grant: &DockerGrant, action: &str, reference: &str) -> Result<String, String> {
    let repo = repository(reference)?;
    if granted(grant, &repo) {
        Ok(repo)
    } else {
        Err(format!(
            "{action} {reference}: {repo} is not among the granted image repositories [{}]; add \"{repo}\" to images in the docker grant",
            grant.images.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_normalised_like_docker() {
        assert_eq!(
            repository("registry:2.8.3").unwrap(),
            "docker.io/library/registry"
        );
        assert_eq!(
            repository("kindest/node:v1.36.1").unwrap(),
            "docker.io/kindest/node"
        );
        assert_eq!(
            repository("127.0.0.1:5000/x/y:1").unwrap(),
            "127.0.0.1:5000/x/y"
        );
        assert!(repository("a b").is_err());
        assert!(repository("x/../../y").is_err());
        assert!(check_reference("sha256:0123456789abcdef").is_ok());
        assert!(check_reference("../../containers/x/json").is_err());
    }

    #[test]
    fn only_granted_repositories() {
        let grant = DockerGrant {
            images: vec!["kindest/node".into(), "ghcr.io/acme/*".into()],
            ..Default::default()
        };
        assert!(check(&grant, "pull", "kindest/node:v1.36.1").is_ok());
        assert!(check(&grant, "pull", "docker.io/kindest/node@sha256:0000000000000000000000000000000000000000000000000000000000000000").is_ok());
        assert!(check(&grant, "pull", "ghcr.io/acme/tools/x:1").is_ok());
        for bad in [
            "kindest/node-evil:1",
            "ghcr.io/acme:1",
            "ghcr.io/acmeevil/x",
            "127.0.0.1:5000/kindest/node",
            "localhost:1/x",
            "busybox",
        ] {
            let err = check(&grant, "pull", bad).unwrap_err();
            assert!(err.contains("add \""), "{bad}: {err}");
        }
        assert!(check(&DockerGrant::default(), "tag", "busybox:latest").is_err());
    }
}
