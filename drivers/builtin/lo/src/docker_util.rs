//! Small shapes over the docker import shared by the steps.

pub use lok8s_driver_sdk::container_spec as container;
use lok8s_driver_sdk::{DriverError, Result};

/// kind's cluster label: `kind get clusters` and `kind delete cluster` find Lo nodes by it.
pub const KIND_CLUSTER: &str = "io.x-k8s.kind.cluster";
pub const KIND_ROLE: &str = "io.x-k8s.kind.role";
/// Marks the driver's registry containers, and the configuration they were created from.
pub const REGISTRY_ROLE: &str = "lok8s.dev/role";
pub const CONFIG_HASH: &str = "lok8s.dev/config";
/// Asks lo to let a granted shared network own the object (see the host's docker policy).
pub const SHARED: &str = "dev.lok8s.shared";

/// A label's value.
pub fn label<'a>(labels: &'a [(String, String)], key: &str) -> Option<&'a str> {
    labels
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Adds what was being done to an error's message.
pub fn context<T>(result: Result<T>, doing: &str) -> Result<T> {
    result.map_err(|e| match e {
        DriverError::Failed(m) => DriverError::Failed(format!("{doing}: {m}")),
        DriverError::NotFound(m) => DriverError::NotFound(format!("{doing}: {m}")),
        DriverError::Unavailable(m) => DriverError::Unavailable(format!("{doing}: {m}")),
        DriverError::Timeout(m) => DriverError::Timeout(format!("{doing}: {m}")),
        DriverError::Denied(m) => DriverError::Denied(format!("{doing}: {m}")),
        other => other,
    })
}

/// Makes sure an image is present, pulling it (with progress) when it is not.
pub fn ensure_image(image: &str) -> Result<()> {
    use lok8s_driver_sdk::docker;
    if docker::inspect_image(image)?.is_none() {
        context(
            docker::pull_image(image).map(|_| ()),
            &format!("pulling {image}"),
        )?;
    }
    Ok(())
}

/// An error's message, whatever its variant.
pub use lok8s_driver_sdk::message;
